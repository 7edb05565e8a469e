package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compile compiles an input schema as JSON Schema 2020-12, independently of
// the package's own check.
func compile(t testing.TB, raw json.RawMessage) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("schema is not JSON: %v\n%s", err, raw)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("test.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("test.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v\n%s", err, raw)
	}
	return s
}

// checkArgs validates argument JSON against an operation's input schema.
func checkArgs(t *testing.T, op *Operation, args string, valid bool) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(args))
	if err != nil {
		t.Fatalf("bad test arguments %s: %v", args, err)
	}
	err = compile(t, op.InputSchema).Validate(v)
	if valid && err != nil {
		t.Errorf("%s %s rejected: %v", op.Name, args, err)
	}
	if !valid && err == nil {
		t.Errorf("%s %s accepted, want rejected\nschema: %s", op.Name, args, op.InputSchema)
	}
}

// keys collects every object key of a decoded JSON value.
func keys(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			into[k] = true
			keys(e, into)
		}
	case []any:
		for _, e := range x {
			keys(e, into)
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// forEachSchema calls fn on v and on each of its subschemas, by keyword (so a
// property named "$ref" or a default value is not taken for a schema).
func forEachSchema(v any, fn func(map[string]any)) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	fn(m)
	for _, k := range []string{"items", "not", "if", "then", "else", "contains", "propertyNames", "additionalProperties", "unevaluatedItems", "unevaluatedProperties"} {
		forEachSchema(m[k], fn)
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf", "prefixItems"} {
		list, _ := m[k].([]any)
		for _, e := range list {
			forEachSchema(e, fn)
		}
	}
	for _, k := range []string{"properties", "patternProperties", "dependentSchemas", "$defs"} {
		sub, _ := m[k].(map[string]any)
		for _, e := range sub {
			forEachSchema(e, fn)
		}
	}
}

// openAPIOnly are keywords of OpenAPI or of references that must not reach
// an input schema.
var openAPIOnly = []string{"$ref", "$dynamicRef", "$id", "$defs", "$schema", "nullable", "example", "examples", "xml", "discriminator", "externalDocs", "readOnly", "writeOnly"}

// schemaProblem returns the first OpenAPI-only or reference keyword in a
// decoded input schema, or "".
func schemaProblem(root any) string {
	found := ""
	forEachSchema(root, func(m map[string]any) {
		for _, k := range openAPIOnly {
			if _, ok := m[k]; ok && found == "" {
				found = k
			}
		}
	})
	return found
}

// TestInputSchemasAreValid loads every spec in testdata that loads and checks
// the invariants of every operation.
func TestInputSchemasAreValid(t *testing.T) {
	files, err := filepath.Glob("../testdata/catalog/*.*")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, weatherFile)
	loaded, ops := 0, 0
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		api, err := LoadFile(t.Context(), f, Options{})
		if err != nil {
			continue // the error cases are TestLoadErrors'
		}
		loaded++
		names := make(map[string]bool)
		for _, op := range api.Operations {
			ops++
			t.Run(filepath.Base(f)+"/"+op.Name, func(t *testing.T) {
				if !nameRE.MatchString(op.Name) || len(op.Name) > 48 {
					t.Errorf("tool name %q is not ^[a-zA-Z0-9_-]+$ of at most 48", op.Name)
				}
				if names[op.Name] {
					t.Errorf("tool name %q is not unique", op.Name)
				}
				names[op.Name] = true
				if op.API != api.Name || !strings.HasPrefix(op.Name, api.Name+"_") {
					t.Errorf("operation API %q, name %q; API name %q", op.API, op.Name, api.Name)
				}
				if op.Method != strings.ToUpper(op.Method) || strings.HasSuffix(op.ServerURL, "/") {
					t.Errorf("method %q or server URL %q not normalized", op.Method, op.ServerURL)
				}

				compile(t, op.InputSchema)
				var root map[string]any
				if err := json.Unmarshal(op.InputSchema, &root); err != nil {
					t.Fatal(err)
				}
				if root["type"] != "object" {
					t.Errorf("root type = %v, want object", root["type"])
				}
				for _, k := range []string{"oneOf", "anyOf", "allOf", "not", "$ref"} {
					if _, ok := root[k]; ok {
						t.Errorf("root has %q", k)
					}
				}
				if k := schemaProblem(root); k != "" {
					t.Errorf("schema has the keyword %q: %s", k, op.InputSchema)
				}
				// No key of that name anywhere, not even as a property name
				// (none of the testdata specs has such a property).
				all := make(map[string]bool)
				keys(root, all)
				for _, k := range openAPIOnly {
					if all[k] {
						t.Errorf("schema has the key %q: %s", k, op.InputSchema)
					}
				}
				props, _ := root["properties"].(map[string]any)
				required, _ := root["required"].([]any)
				for _, p := range op.Params {
					if _, ok := props[p.Arg]; !ok {
						t.Errorf("parameter %s (%s) has no property %q", p.Name, p.In, p.Arg)
					}
					if p.Required != slices.Contains(required, any(p.Arg)) {
						t.Errorf("parameter %s required = %v, schema required %v", p.Name, p.Required, required)
					}
				}
				if op.Body != nil {
					if _, ok := props[op.Body.Arg]; !ok || op.Body.Arg != "body" {
						t.Errorf("body argument %q missing", op.Body.Arg)
					}
				}
				want := len(op.Params)
				if op.Body != nil {
					want++
				}
				if len(props) != want {
					t.Errorf("%d properties for %d parameters and body", len(props), want)
				}
			})
		}
	}
	if loaded < 10 || ops < 40 {
		t.Fatalf("only %d specs and %d operations loaded", loaded, ops)
	}
}

func TestWeatherArguments(t *testing.T) {
	api := loadWeather(t)
	tests := []struct {
		op    string
		args  string
		valid bool
	}{
		{"getWeather", `{"city":"Oslo"}`, true},
		{"getWeather", `{"city":"Oslo","units":"imperial"}`, true},
		{"getWeather", `{}`, false},
		{"getWeather", `{"city":""}`, false},
		{"getWeather", `{"city":"` + strings.Repeat("x", 65) + `"}`, false},
		{"getWeather", `{"city":"Oslo","units":"kelvin"}`, false},
		{"getWeather", `{"city":"Oslo","extra":1}`, false},
		{"getWeather", `{"city":7}`, false},
		{"createReport", `{"body":{"city":"Oslo","days":3}}`, true},
		{"createReport", `{"body":{"city":"Oslo","days":14}}`, true},
		{"createReport", `{"body":{"city":"Oslo","days":20}}`, false},
		{"createReport", `{"body":{"city":"Oslo","days":0}}`, false},
		{"createReport", `{"body":{"city":"Oslo","days":2.5}}`, false},
		{"createReport", `{"body":{"city":"Oslo","days":"3"}}`, false},
		{"createReport", `{"body":{"city":"Oslo"}}`, false},
		{"createReport", `{}`, false},
		{"createReport", `{"city":"Oslo","days":3}`, false},
		{"health", `{}`, true},
		{"health", `{"verbose":true}`, false},
		{"getClimateHistory", `{"city":"Bergen"}`, true},
		{"getClimateHistory", `{"city":null}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.op+tt.args, func(t *testing.T) {
			checkArgs(t, operation(t, api, "weather_demo_"+tt.op), tt.args, tt.valid)
		})
	}
}

func TestRecursiveSchemaIsCut(t *testing.T) {
	api := loadTestdata(t, "recursive.yaml", Options{})
	place := operation(t, api, "recursive_places_createPlace")
	var root struct {
		Properties struct {
			Body struct {
				Properties map[string]map[string]any
			}
		}
	}
	if err := json.Unmarshal(place.InputSchema, &root); err != nil {
		t.Fatal(err)
	}
	parent := root.Properties.Body.Properties["parent"]
	if parent["type"] != "object" || !strings.Contains(fmt.Sprint(parent["description"]), "recursive") {
		t.Errorf("parent = %v, want an open object whose description says it is recursive", parent)
	}
	if !hasWarning(api, "recursive_places_createPlace", "schema Location is recursive") {
		t.Errorf("no warning about the cut: %q", api.Warnings)
	}
	checkArgs(t, place, `{"body":{"name":"Oslo","parent":{"name":"Norway","parent":{"anything":1}}}}`, true)
	checkArgs(t, place, `{"body":{"parent":{"name":"Norway"}}}`, false)
	checkArgs(t, place, `{"body":{"name":"Oslo","parent":"Norway"}}`, false)

	tree := operation(t, api, "recursive_places_plantTree")
	checkArgs(t, tree, `{"body":{"root":{"value":1,"children":[{"value":2,"children":[{}]}]}}}`, true)
	checkArgs(t, tree, `{"body":{"root":{"value":"one"}}}`, false)
	checkArgs(t, tree, `{"body":{"root":{"value":1,"children":[5]}}}`, false)
	checkArgs(t, tree, `{"body":{"root":{"value":1},"ping":{"pong":{"ping":{}}}}}`, true)
	checkArgs(t, tree, `{"body":{"root":{"value":1},"ping":{"pong":5}}}`, false)
	for _, name := range []string{"Node", "Ping"} {
		if !hasWarning(api, "recursive_places_plantTree", "schema "+name+" is recursive") {
			t.Errorf("no warning about %s: %q", name, api.Warnings)
		}
	}
}

func TestComposition(t *testing.T) {
	api := loadTestdata(t, "composition.yaml", Options{})
	add := operation(t, api, "pet_shop_with_addPet")
	if add.Body == nil || add.Body.MediaType != "application/json" {
		t.Errorf("body = %+v, want application/json chosen over application/xml", add.Body)
	}
	s := string(add.InputSchema)
	for _, want := range []string{
		`"name":{"minLength":1,"type":"string"}`, // from the first allOf member, merged
		`"weight":{"exclusiveMaximum":100,"exclusiveMinimum":0,"type":"number"}`,
		`"tag":{"pattern":"^[a-z]+$","type":"string"}`,
		`"code":{"type":"string"}`,
		`"password":{"type":"string"}`,
		`"required":["name","kind"]`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("schema lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, `"id"`) {
		t.Errorf("readOnly id is in the input schema: %s", s)
	}
	if strings.Contains(s, `"allOf"`) {
		t.Errorf("allOf not merged: %s", s)
	}
	if !hasWarning(api, "pet_shop_with_addPet", `pattern "^(?!x)[a-z]+$" dropped`) {
		t.Errorf("no warning about the dropped pattern: %q", api.Warnings)
	}
	for _, tt := range []struct {
		args  string
		valid bool
	}{
		{`{"body":{"name":"Rex","kind":"dog"}}`, true},
		{`{"body":{"name":"Rex","kind":"dog","weight":50,"tag":"good","detail":{"petType":"Dog","good":true}}}`, true},
		{`{"body":{"name":"Rex","kind":"cow"}}`, false},
		{`{"body":{"kind":"dog"}}`, false},                           // name from the first allOf member
		{`{"body":{"name":"","kind":"dog"}}`, false},                 // minLength
		{`{"body":{"name":"Rex","kind":"dog","weight":100}}`, false}, // exclusive maximum
		{`{"body":{"name":"Rex","kind":"dog","weight":0}}`, false},   // exclusive minimum
		{`{"body":{"name":"Rex","kind":"dog","tag":"Good"}}`, false},
		{`{"body":{"name":"Rex","kind":"dog","detail":{"indoor":true}}}`, false},                            // petType required by each variant
		{`{"body":{"name":"Rex","kind":"dog","detail":{"petType":"Cat","indoor":true,"good":true}}}`, true}, // matches both: accepted (oneOf → anyOf)
	} {
		checkArgs(t, add, tt.args, tt.valid)
	}

	upd := operation(t, api, "pet_shop_with_updatePet")
	if len(upd.Params) != 2 || upd.Params[1].Name != "filter" || upd.Params[1].MediaType != "application/json" {
		t.Errorf("params = %+v, want filter described by application/json content", upd.Params)
	}
	for _, tt := range []struct {
		args  string
		valid bool
	}{
		{`{"id":1,"body":{"nickname":null,"size":null,"owner":null}}`, true},
		{`{"id":1,"body":{"nickname":"Rexy","size":"small","owner":{"name":"Ann"}}}`, true},
		{`{"id":1,"body":{"size":"medium"}}`, false},
		{`{"id":1,"body":{"owner":{}}}`, false},
		{`{"id":1,"body":{"age":null}}`, false}, // not nullable
		{`{"id":0}`, false},
		{`{"id":1,"filter":{"color":"red"}}`, true},
		{`{"id":1,"filter":"red"}`, false},
	} {
		checkArgs(t, upd, tt.args, tt.valid)
	}
}

func TestParameterCollisions(t *testing.T) {
	api := loadTestdata(t, "collisions.yaml", Options{})
	op := operation(t, api, "colliding_putItem")
	want := []Param{
		{Name: "id", In: "path", Arg: "id", Required: true, Style: "simple"},
		{Name: "id", In: "query", Arg: "query_id", Required: true, Style: "form", Explode: true},
		{Name: "body", In: "query", Arg: "query_body", Style: "form", Explode: true},
		{Name: "filter[name]", In: "query", Arg: "filter_name", Style: "form", Explode: true},
		{Name: "filter_name", In: "query", Arg: "query_filter_name", Style: "form", Explode: true},
		{Name: "trace", In: "header", Arg: "trace", Style: "simple"},
		{Name: "id", In: "header", Arg: "header_id", Style: "simple"},
		{Name: "id", In: "cookie", Arg: "cookie_id", Style: "form", Explode: true},
	}
	if !slices.Equal(op.Params, want) {
		t.Errorf("params:\n got %+v\nwant %+v", op.Params, want)
	}
	if op.Body == nil || op.Body.Arg != "body" {
		t.Errorf("body = %+v, want argument body", op.Body)
	}
	// The operation's own path parameter overrides the path item's.
	if !strings.Contains(string(op.InputSchema), `"id":{"description":"The item id","type":"integer"}`) {
		t.Errorf("path parameter id not overridden: %s", op.InputSchema)
	}
	for _, w := range []string{`header parameter "Bad Header" left out: not a valid header name`, `header parameter "Accept" left out`, `header parameter "Authorization" left out`, `header parameter "id" is the argument "header_id"`, `query parameter "filter[name]" is the argument "filter_name"`} {
		if !hasWarning(api, w) {
			t.Errorf("no warning %q in %q", w, api.Warnings)
		}
	}
	checkArgs(t, op, `{"id":1,"query_id":"a","body":{"id":"b"},"header_id":"c","cookie_id":"d","query_body":"e"}`, true)
	checkArgs(t, op, `{"id":1,"body":{}}`, false) // query_id is required
	checkArgs(t, op, `{"id":"one","query_id":"a","body":{}}`, false)
}

func TestOpenAPI31(t *testing.T) {
	api := loadTestdata(t, "openapi31.yaml", Options{})
	if len(api.Warnings) != 0 || api.Format != "OpenAPI 3.1.0" {
		t.Errorf("format %q, warnings %q; want OpenAPI 3.1.0 without warnings", api.Format, api.Warnings)
	}
	op := operation(t, api, "modern_makeThing")
	checkArgs(t, op, `{"body":{"kind":"thing","note":null,"size":1,"pair":["a",1]}}`, true)
	checkArgs(t, op, `{"body":{"kind":"other"}}`, false)
	checkArgs(t, op, `{"body":{"kind":"thing","size":0}}`, false)
	checkArgs(t, op, `{"body":{"kind":"thing","pair":[1,"a"]}}`, false)
}

// TestSchemaLimits: a schema that would grow exponentially when inlined, and
// one nested deeper than the limit, load quickly, cut, and say so.
func TestSchemaLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: Big, version: '1'}\nservers: [{url: 'https://big.example.com'}]\n")
	b.WriteString("paths:\n  /wide:\n    post:\n      operationId: wide\n      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/W0'}}}}\n      responses: {'200': {description: OK}}\n")
	b.WriteString("  /deep:\n    post:\n      operationId: deep\n      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/D0'}}}}\n      responses: {'200': {description: OK}}\n")
	b.WriteString("components:\n  schemas:\n")
	for i := range 12 { // W0 has 8 properties of W1, each has 8 of W2...: 8^12 when inlined
		fmt.Fprintf(&b, "    W%d:\n      type: object\n      properties:\n", i)
		for j := range 8 {
			if i == 11 {
				fmt.Fprintf(&b, "        p%d: {type: string}\n", j)
			} else {
				fmt.Fprintf(&b, "        p%d: {$ref: '#/components/schemas/W%d'}\n", j, i+1)
			}
		}
	}
	for i := range 50 {
		fmt.Fprintf(&b, "    D%d:\n      type: object\n      properties:\n", i)
		if i == 49 {
			b.WriteString("        leaf: {type: string}\n")
		} else {
			fmt.Fprintf(&b, "        next: {$ref: '#/components/schemas/D%d'}\n", i+1)
		}
	}
	api, err := Load(t.Context(), []byte(b.String()), "big.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	wide := operation(t, api, "big_wide")
	if n := len(wide.InputSchema); n > 2<<20 {
		t.Errorf("wide schema is %d bytes", n)
	}
	if !hasWarning(api, "big_wide", "schema larger than 2000 parts cut") {
		t.Errorf("no warning about the wide schema: %q", api.Warnings)
	}
	if !hasWarning(api, "big_deep", "nested deeper than 32 levels cut") {
		t.Errorf("no warning about the deep schema: %q", api.Warnings)
	}
	checkArgs(t, operation(t, api, "big_deep"), `{"body":{"next":{"next":{"next":"x"}}}}`, false)
	checkArgs(t, operation(t, api, "big_deep"), `{"body":{"next":{"next":{"next":{}}}}}`, true)
}

func TestSchemaConverterValues(t *testing.T) {
	// Values JSON cannot carry are dropped rather than break the encoding.
	got, ok := cleanValue(map[any]any{1: "a", "b": []any{1.5, math.NaN(), map[string]any{"c": math.Inf(1)}}}, 0)
	if !ok {
		t.Fatal("cleanValue refused a map")
	}
	raw, err := marshalSchema(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"1":"a","b":[1.5,{}]}`; string(raw) != want {
		t.Errorf("cleaned = %s, want %s", raw, want)
	}
	if _, ok := cleanValue(math.NaN(), 0); ok {
		t.Error("NaN kept")
	}
	// marshalSchema does not escape HTML characters.
	raw, _ = marshalSchema(map[string]any{"d": "a<b>&c"})
	if want := `{"d":"a<b>&c"}`; string(raw) != want {
		t.Errorf("marshaled = %s, want %s", raw, want)
	}
	if err := compileSchema(json.RawMessage(`{"type":"object","required":["a","a"]}`)); err == nil {
		t.Error("compileSchema accepted a schema with duplicate required names")
	}
	if err := compileSchema(json.RawMessage(`{"type":"object","properties":{"a":{"pattern":"(?!x)"}}}`)); err == nil {
		t.Error("compileSchema accepted a lookahead pattern")
	}
}
