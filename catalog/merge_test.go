package catalog

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// mergeSpec is a document whose one operation takes components.schemas.Body
// as its request body; schemas is the YAML of components.schemas.
func mergeSpec(version, schemas string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "openapi: %s\ninfo: {title: Merge, version: '1'}\nservers: [{url: 'https://merge.example.com'}]\n", version)
	b.WriteString("paths:\n  /x:\n    post:\n      operationId: op\n")
	b.WriteString("      requestBody: {required: true, content: {application/json: {schema: {$ref: '#/components/schemas/Body'}}}}\n")
	b.WriteString("      responses: {'200': {description: OK}}\ncomponents:\n  schemas:\n")
	for line := range strings.SplitSeq(strings.Trim(schemas, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return []byte(b.String())
}

// TestMergeAllOf loads specs whose request body composes schemas with
// allOf, and checks the body schema the converter writes, its warnings, and
// what it accepts.
func TestMergeAllOf(t *testing.T) {
	tests := []struct {
		name    string
		version string // default 3.1.0
		schemas string
		want    string   // the body's schema, as JSON with sorted keys
		notes   []string // in the API's warnings
		valid   []string // bodies accepted
		invalid []string // bodies refused
	}{
		{
			name: "union of properties and required",
			schemas: `
Body:
  allOf:
    - {$ref: '#/components/schemas/Named'}
    - type: object
      required: [age, name]
      properties: {age: {type: integer}}
Named: {type: object, required: [name, id], properties: {name: {type: string}, id: {type: integer}}}`,
			want:    `{"properties":{"age":{"type":"integer"},"id":{"type":"integer"},"name":{"type":"string"}},"required":["name","id","age"],"type":"object"}`,
			valid:   []string{`{"name":"a","id":1,"age":2}`, `{"name":"a","id":1,"age":2,"other":true}`},
			invalid: []string{`{"name":"a","id":1}`, `{"id":1,"age":2}`, `{"name":1,"id":1,"age":2}`, `[]`},
		},
		{
			name: "nested allOf",
			schemas: `
Body:
  description: The body.
  allOf:
    - {$ref: '#/components/schemas/AB'}
    - allOf:
        - {properties: {c: {type: string}}, required: [c]}
        - allOf: [{properties: {d: {type: boolean}}}]
AB:
  description: A and B.
  title: AB
  allOf:
    - {type: object, properties: {a: {type: string}}, required: [a]}
    - {properties: {b: {type: number}}}`,
			want:    `{"description":"The body.","properties":{"a":{"type":"string"},"b":{"type":"number"},"c":{"type":"string"},"d":{"type":"boolean"}},"required":["a","c"],"title":"AB","type":"object"}`,
			valid:   []string{`{"a":"x","c":"y","b":1.5,"d":true}`},
			invalid: []string{`{"a":"x"}`, `{"a":"x","c":"y","d":1}`, `{"c":"y"}`},
		},
		{
			name: "a property in several branches is merged",
			schemas: `
Body:
  allOf:
    - properties:
        n: {type: number, minimum: 1, maximum: 10, description: first}
        s: {type: string, enum: [a, b, c], maxLength: 5}
        o: {type: object, properties: {x: {type: string}}, required: [x]}
    - properties:
        n: {type: integer, minimum: 0, maximum: 5, exclusiveMaximum: true, description: second}
        s: {enum: [b, c, d], minLength: 1}
        o: {properties: {y: {type: integer}}, required: [y]}`,
			version: "3.0.3",
			want:    `{"properties":{"n":{"description":"first","exclusiveMaximum":5,"maximum":10,"minimum":1,"type":"integer"},"o":{"properties":{"x":{"type":"string"},"y":{"type":"integer"}},"required":["x","y"],"type":"object"},"s":{"enum":["b","c"],"maxLength":5,"minLength":1,"type":"string"}}}`,
			valid:   []string{`{"n":4,"s":"b","o":{"x":"1","y":2}}`, `{}`},
			invalid: []string{`{"n":5}`, `{"n":0}`, `{"n":1.5}`, `{"s":"a"}`, `{"s":"d"}`, `{"o":{"x":"1"}}`},
		},
		{
			name: "allOf and a recursive $ref",
			schemas: `
Body: {$ref: '#/components/schemas/Tree'}
Tree:
  allOf:
    - {$ref: '#/components/schemas/Base'}
    - type: object
      properties:
        children: {type: array, items: {$ref: '#/components/schemas/Tree'}}
Base: {type: object, required: [id], properties: {id: {type: integer}}}`,
			want:    `{"properties":{"children":{"items":{"description":"Nested value (schema Tree) not described here because it is recursive; any value of this type is accepted."},"type":"array"},"id":{"type":"integer"}},"required":["id"],"type":"object"}`,
			notes:   []string{"schema Tree is recursive"},
			valid:   []string{`{"id":1,"children":[{"id":2},{"anything":true}]}`},
			invalid: []string{`{"children":[]}`, `{"id":1,"children":{}}`},
		},
		{
			name: "a branch that refers to the schema itself",
			schemas: `
Body:
  allOf:
    - {$ref: '#/components/schemas/Body'}
    - {type: object, properties: {x: {type: string}}}`,
			want:    `{"description":"Nested value (schema Body) not described here because it is recursive; any value of this type is accepted.","properties":{"x":{"type":"string"}},"type":"object"}`,
			notes:   []string{"schema Body is recursive"},
			valid:   []string{`{"x":"a"}`},
			invalid: []string{`{"x":1}`},
		},
		{
			name: "conflicting types keep the allOf",
			schemas: `
Body:
  allOf:
    - {type: object, properties: {a: {type: string}}}
    - {type: string}`,
			want:    `{"allOf":[{"properties":{"a":{"type":"string"}},"type":"object"},{"type":"string"}]}`,
			notes:   []string{`schema Body: allOf parts have no type in common (object; string): kept as an allOf`},
			invalid: []string{`{}`, `"a"`},
		},
		{
			name: "a property with conflicting types keeps an allOf of its schemas",
			schemas: `
Body:
  allOf:
    - {type: object, properties: {a: {type: string}, b: {type: string}}}
    - {type: object, properties: {a: {type: integer}}}`,
			want:    `{"properties":{"a":{"allOf":[{"type":"string"},{"type":"integer"}]},"b":{"type":"string"}},"type":"object"}`,
			notes:   []string{`schema Body: property "a" of several allOf parts has no type in common (string; integer)`},
			valid:   []string{`{"b":"x"}`},
			invalid: []string{`{"a":"x"}`, `{"a":1}`},
		},
		{
			name: "additionalProperties false in one branch forbids the other's properties",
			schemas: `
Body:
  allOf:
    - {type: object, properties: {a: {type: string}}, additionalProperties: false}
    - {type: object, properties: {b: {type: string}}}`,
			want:    `{"additionalProperties":false,"properties":{"a":{"type":"string"}},"type":"object"}`,
			notes:   []string{`schema Body: property "b" of an allOf part is forbidden by another part's additionalProperties: false`},
			valid:   []string{`{"a":"x"}`, `{}`},
			invalid: []string{`{"b":"x"}`, `{"a":"x","c":1}`},
		},
		{
			name: "additionalProperties false kept where every branch lists every property",
			schemas: `
Body:
  allOf:
    - {type: object, properties: {a: {type: string}, b: {}}, additionalProperties: false}
    - {type: object, properties: {a: {minLength: 2}, b: {type: integer}}, additionalProperties: false}`,
			want:    `{"additionalProperties":false,"properties":{"a":{"minLength":2,"type":"string"},"b":{"type":"integer"}},"type":"object"}`,
			valid:   []string{`{"a":"xy","b":1}`},
			invalid: []string{`{"a":"x"}`, `{"c":1}`, `{"b":"x"}`},
		},
		{
			name: "an additionalProperties schema stays in the allOf",
			schemas: `
Body:
  allOf:
    - {type: object, properties: {a: {type: string}}, additionalProperties: {type: integer}}
    - {type: object, required: [b], properties: {b: {type: integer, minimum: 1}}}`,
			want:    `{"additionalProperties":{"type":"integer"},"allOf":[{"properties":{"b":{"minimum":1,"type":"integer"}}}],"properties":{"a":{"type":"string"}},"required":["b"],"type":"object"}`,
			valid:   []string{`{"a":"x","b":2,"c":3}`},
			invalid: []string{`{"a":"x","b":"2"}`, `{"b":0}`, `{"b":2,"c":"x"}`, `{"a":"x"}`},
		},
		{
			name: "keywords that cannot be combined stay in the allOf",
			schemas: `
Body:
  allOf:
    - properties:
        p: {type: string, pattern: '^a', format: uuid}
        q: {anyOf: [{type: string}, {type: integer}]}
    - properties:
        p: {type: string, pattern: 'b$', format: uuid}
        q: {oneOf: [{type: integer}, {type: boolean}]}`,
			want:    `{"properties":{"p":{"allOf":[{"pattern":"b$"}],"format":"uuid","pattern":"^a","type":"string"},"q":{"allOf":[{"anyOf":[{"type":"integer"},{"type":"boolean"}]}],"anyOf":[{"type":"string"},{"type":"integer"}]}}}`,
			valid:   []string{`{"p":"ab","q":1}`},
			invalid: []string{`{"p":"a"}`, `{"p":"b"}`, `{"q":"x"}`, `{"q":true}`},
		},
		{
			name:    "nullable allOf of a reference, OpenAPI 3.0",
			version: "3.0.3",
			schemas: `
Body:
  type: object
  properties:
    owner:
      nullable: true
      description: The owner.
      allOf: [{$ref: '#/components/schemas/Named'}]
    size:
      nullable: true
      allOf: [{$ref: '#/components/schemas/Size'}]
Named: {type: object, required: [name], properties: {name: {type: string}}, description: A name.}
Size: {type: string, enum: [S, L]}`,
			want:    `{"properties":{"owner":{"description":"The owner.","properties":{"name":{"type":"string"}},"required":["name"],"type":["object","null"]},"size":{"enum":["S","L",null],"type":["string","null"]}},"type":"object"}`,
			valid:   []string{`{"owner":null,"size":null}`, `{"owner":{"name":"a"},"size":"S"}`},
			invalid: []string{`{"owner":{}}`, `{"size":"M"}`},
		},
		{
			name: "boolean schemas and unevaluatedProperties",
			schemas: `
Body:
  unevaluatedProperties: false
  allOf:
    - true
    - {$ref: '#/components/schemas/Open'}
    - {type: object, properties: {b: {type: string}}}
Open:
  type: object
  properties: {a: {type: string}}
  unevaluatedProperties: {type: integer}`,
			want: `{"allOf":[{"properties":{"a":{"type":"string"}},"type":"object","unevaluatedProperties":{"type":"integer"}}],"properties":{"b":{"type":"string"}},"type":"object","unevaluatedProperties":false}`,
			// Open's unevaluatedProperties applies to b (unevaluated in
			// Open), and evaluates c for Body's.
			valid:   []string{`{"a":"x"}`, `{}`, `{"c":1}`},
			invalid: []string{`{"b":"y"}`, `{"b":1}`, `{"a":1}`, `{"c":"s"}`},
		},
		{
			name: "a false branch",
			schemas: `
Body:
  allOf: [{type: object}, false]`,
			want:    `{"allOf":[false],"type":"object"}`,
			invalid: []string{`{}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version := tt.version
			if version == "" {
				version = "3.1.0"
			}
			api, err := Load(t.Context(), mergeSpec(version, tt.schemas), "merge.yaml", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(api.Operations) != 1 {
				t.Fatalf("%d operations; warnings %q", len(api.Operations), api.Warnings)
			}
			op := api.Operations[0]
			var root struct {
				Properties struct{ Body json.RawMessage }
			}
			if err := json.Unmarshal(op.InputSchema, &root); err != nil {
				t.Fatal(err)
			}
			if string(root.Properties.Body) != tt.want {
				t.Errorf("body schema\n got %s\nwant %s", root.Properties.Body, tt.want)
			}
			for _, n := range tt.notes {
				if !hasWarning(api, n) {
					t.Errorf("no warning %q in %q", n, api.Warnings)
				}
			}
			if len(tt.notes) == 0 && len(api.Warnings) > 0 {
				t.Errorf("warnings %q, want none", api.Warnings)
			}
			compile(t, op.InputSchema)
			for _, b := range tt.valid {
				checkArgs(t, op, `{"body":`+b+`}`, true)
			}
			for _, b := range tt.invalid {
				checkArgs(t, op, `{"body":`+b+`}`, false)
			}
		})
	}
}

// TestMergeAllOfExact merges random allOf compositions of small schemas and
// checks that the merged schema accepts exactly the values the allOf does,
// on a set of values chosen to tell the schemas apart.
func TestMergeAllOfExact(t *testing.T) {
	pool := []string{
		`true`, `false`, `{}`,
		`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
		`{"type":"object","properties":{"b":{"type":"integer","minimum":0}}}`,
		`{"type":"object","properties":{"a":{"type":"string","maxLength":3}},"additionalProperties":false}`,
		`{"type":"object","properties":{"a":{},"b":{}},"additionalProperties":false}`,
		`{"properties":{"a":{"enum":["x","yy",1]}}}`,
		`{"properties":{"a":{"type":"integer"}}}`,
		`{"properties":{"a":{"additionalProperties":false,"properties":{"x":{}}}}}`,
		`{"properties":{"a":{"properties":{"y":{"type":"integer"}},"required":["y"]}}}`,
		`{"type":"object","additionalProperties":{"type":"integer"}}`,
		`{"patternProperties":{"^c":{"type":"boolean"}}}`,
		`{"patternProperties":{"^c":{"const":true}},"additionalProperties":false}`,
		`{"type":["object","null"]}`,
		`{"type":["number","string"],"maximum":5}`,
		`{"type":"integer","minimum":2}`,
		`{"exclusiveMinimum":2.5,"multipleOf":0.5}`,
		`{"type":"string","pattern":"^x"}`,
		`{"pattern":"y$","minLength":2}`,
		`{"enum":["x","xy","y",3,null]}`,
		`{"const":"xy"}`,
		`{"anyOf":[{"required":["a"]},{"required":["b"]}]}`,
		`{"not":{"required":["c"]}}`,
		`{"required":["b"],"minProperties":2}`,
		`{"maxProperties":2,"propertyNames":{"maxLength":1}}`,
		`{"unevaluatedProperties":false,"properties":{"a":{}}}`,
		`{"allOf":[{"required":["a"]},{"properties":{"b":{"maximum":1}}}]}`,
		`{"type":"array","items":{"type":"integer"},"maxItems":3}`,
		`{"items":{"minimum":1},"uniqueItems":true}`,
		`{"prefixItems":[{"type":"string"}],"minItems":1}`,
		`{"contains":{"type":"string"},"maxContains":1}`,
		`{"dependentRequired":{"a":["b"]}}`,
		`{"dependentSchemas":{"b":{"required":["c"]}}}`,
		`{"if":{"required":["a"]},"then":{"required":["b"]}}`,
		`{"description":"d1","title":"t1","default":1,"deprecated":true}`,
	}
	values := []string{
		`null`, `true`, `3`, `2.5`, `7`, `1`, `"x"`, `"xy"`, `"y"`, `"xyz"`, `"xyzw"`,
		`[]`, `[1,2]`, `[0]`, `["s",1]`, `[1,2,3,4]`, `[1,1]`, `["s","t"]`,
		`{}`, `{"a":"x"}`, `{"a":"xyzw"}`, `{"a":1}`, `{"a":"yy"}`, `{"b":1}`, `{"b":-1}`, `{"b":2}`,
		`{"a":"x","b":2}`, `{"a":"x","b":0}`, `{"c":true}`, `{"c":1}`, `{"a":"x","b":2,"c":true}`, `{"a":"x","c":true}`,
		`{"a":{"x":1}}`, `{"a":{"y":1}}`, `{"a":{"x":1,"y":2}}`, `{"a":{"y":"s"}}`, `{"b":1,"c":true}`, `{"d":1}`, `{"a":1,"b":1}`,
	}
	decode := func(s string) any {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var instances []any
	for _, v := range values {
		instances = append(instances, decode(v))
	}
	// The converter's numbers are float64 and its counts uint64.
	schema := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return counts(v)
	}
	validator := func(v any) *jsonschema.Schema {
		raw, err := marshalSchema(v)
		if err != nil {
			t.Fatal(err)
		}
		return compile(t, raw)
	}

	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1500 {
		host := schema(pool[3+r.IntN(len(pool)-3)])
		if r.IntN(4) == 0 {
			host = map[string]any{}
		}
		hostMap, ok := host.(map[string]any)
		if !ok {
			continue
		}
		var srcs []string
		var branches []any
		// What the converter wrote before: the host holding the allOf,
		// built of copies (the merge must not change its input).
		ref := schema(mustJSON(t, hostMap)).(map[string]any)
		if ref["allOf"] != nil {
			continue // the converter's host has no allOf of its own
		}
		for range 1 + r.IntN(3) {
			s := pool[r.IntN(len(pool))]
			srcs = append(srcs, s)
			branches = append(branches, schema(s))
			list, _ := ref["allOf"].([]any)
			ref["allOf"] = append(list, schema(s))
		}
		nullable := r.IntN(5) == 0
		var want any = ref
		if nullable {
			want = map[string]any{"anyOf": []any{ref, map[string]any{"type": "null"}}}
		}

		c := newSchemaConverter(false, true)
		got := c.mergeAllOf(hostMap, branches, "", false)
		var gotSchema any = got
		if nullable && !nullableInPlace(got) {
			gotSchema = map[string]any{"anyOf": []any{got, map[string]any{"type": "null"}}}
		}
		ws, gs := validator(want), validator(gotSchema)
		for j, v := range instances {
			we, ge := ws.Validate(v), gs.Validate(v)
			if (we == nil) != (ge == nil) {
				t.Fatalf("case %d: host %s, branches %s, nullable %v: %s: allOf says %v, merged says %v\nmerged: %s",
					i, mustJSON(t, hostMap), srcs, nullable, values[j], we == nil, ge == nil, mustJSON(t, gotSchema))
			}
		}
	}
}

// counts makes the non-negative integers of a decoded schema uint64, as the
// converter writes counts, and leaves other numbers float64.
func counts(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if f, ok := e.(float64); ok && strings.HasPrefix(k, "m") && k != "maximum" && k != "minimum" && k != "multipleOf" && f >= 0 {
				x[k] = uint64(f)
			} else {
				x[k] = counts(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = counts(e)
		}
	}
	return v
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := marshalSchema(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
