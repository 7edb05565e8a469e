package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// An x402 discovery response (GET {facilitator}/discovery/resources, in the
// bazaar extension: https://github.com/x402-foundation/x402/blob/main/specs/extensions/bazaar.md)
// lists paid HTTP resources: for each, its URL, its payment requirements
// ("accepts"), and how to call it: in x402 v2 the bazaar extension
// (extensions.bazaar.info.input, with a JSON Schema of it in
// extensions.bazaar.schema), in v1 the requirements' outputSchema.input.
// FromDiscovery makes each resource an operation, with the same sanitizing,
// names and schemas as a spec's.

// discoveryTitle is the title of an API read from a discovery response; its
// namespace, unless the options name one, is derived from it.
const discoveryTitle = "x402 discovery"

// maxDiscoveryAccepts bounds the payment requirements read per resource.
const maxDiscoveryAccepts = 32

// FromDiscovery reads an x402 discovery response (JSON) into an API: one
// operation per HTTP resource, with query parameters, headers and body
// from the discovery metadata (an open object body when it gives none), and
// the price of the smallest EVM "exact" payment requirement (amount in
// atomic units, network, asset and payTo as the requirement names them; the
// other requirements are listed in a warning). Operations are sorted by
// URL, then method; their operationId is made up of the host, method and
// path ("weather_get_forecast"). source names the response in errors and
// in API.Source. A resource that cannot be a tool is left out with a
// warning.
func FromDiscovery(data []byte, source string, opts Options) (*API, error) {
	api, err := fromDiscovery(context.Background(), data, origin{source: source}, opts)
	if err != nil {
		return nil, loadError(source, err)
	}
	return api, nil
}

func fromDiscovery(ctx context.Context, data []byte, o origin, opts Options) (*API, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if limit := opts.maxSpecBytes(); int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes (max_spec_bytes)", ErrTooLarge, limit)
	}
	d, err := parseDiscovery(data)
	if err != nil {
		return nil, err
	}
	return buildDiscovery(ctx, d, o, opts)
}

// discovery is a decoded discovery response.
type discovery struct {
	items []map[string]any
	notes []string
}

func parseDiscovery(data []byte) (*discovery, error) {
	var resp struct {
		X402Version json.RawMessage   `json:"x402Version"`
		Items       []json.RawMessage `json:"items"`
		Resources   []json.RawMessage `json:"resources"` // a /discovery/search response
		Discovered  json.RawMessage   `json:"discovered"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidDiscovery, oneLine(strings.TrimPrefix(err.Error(), "json: ")))
	}
	raw := append(resp.Items, resp.Resources...)
	if resp.Items == nil && resp.Resources == nil {
		return nil, fmt.Errorf("%w: no items", ErrInvalidDiscovery)
	}
	d := &discovery{notes: discoveredNotes(resp.Discovered)}
	for i, r := range raw {
		var item map[string]any
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		if err := dec.Decode(&item); err != nil || item == nil {
			d.notes = append(d.notes, fmt.Sprintf("item %d: skipped: not a JSON object", i))
			item = nil
		}
		d.items = append(d.items, item)
	}
	return d, nil
}

func buildDiscovery(ctx context.Context, d *discovery, o origin, opts Options) (*API, error) {
	b := newBuilder(&openapi3.T{OpenAPI: "3.1.0"}, nil, opts)
	api := &API{Source: o.source, Format: discoveryTitle, Title: discoveryTitle, Name: opts.Namespace}
	if api.Name == "" {
		api.Name = deriveNamespace(discoveryTitle)
	}
	for _, n := range d.notes {
		b.noteAPI(n)
	}
	var entries []entry
	seen := make(map[string]int)
	for i, item := range d.items {
		if item == nil {
			continue
		}
		e, err := discoveryEntry(item)
		if err != nil {
			b.noteAPI(fmt.Sprintf("item %d (%s): skipped: %v", i, clip(discoveryURL(item)), err))
			continue
		}
		if j, dup := seen[e.key]; dup {
			b.noteAPI(fmt.Sprintf("item %d (%s): skipped: item %d is the same resource", i, clip(e.key), j))
			continue
		}
		seen[e.key] = i
		entries = append(entries, e)
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		return strings.Compare(a.key[strings.IndexByte(a.key, ' ')+1:]+" "+a.method, b.key[strings.IndexByte(b.key, ' ')+1:]+" "+b.method)
	})
	if err := b.run(ctx, api, entries); err != nil {
		return nil, err
	}
	return api, nil
}

// discoveryURL is an item's resource URL, for messages.
func discoveryURL(item map[string]any) string {
	switch r := item["resource"].(type) {
	case string:
		return r
	case map[string]any:
		s, _ := r["url"].(string)
		return s
	}
	return "?"
}

// routeTemplate matches a bazaar routeTemplate ("/users/:userId"), as the
// x402 facilitator checks it.
var routeTemplate = regexp.MustCompile(`^/[a-zA-Z0-9_/:.\-~%]+$`)

var colonParam = regexp.MustCompile(`:([a-zA-Z_][a-zA-Z0-9_]*)`)

// discoveryEntry turns one discovery item into an operation.
func discoveryEntry(item map[string]any) (entry, error) {
	if t, ok := item["type"].(string); ok && t != "" && t != "http" {
		return entry{}, fmt.Errorf("type %q: toll calls HTTP resources", clip(t))
	}
	u, notes, err := resourceURL(item)
	if err != nil {
		return entry{}, err
	}
	server := u.Scheme + "://" + u.Host
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	accepts, _ := item["accepts"].([]any)
	input, schema := discoveryInput(item, accepts)
	if t, ok := input["type"].(string); ok && t != "" && t != "http" {
		return entry{}, fmt.Errorf("input type %q: toll calls HTTP resources", clip(t))
	}
	if tpl := bazaarString(item, "routeTemplate"); tpl != "" {
		if dec, err := url.PathUnescape(tpl); err == nil && routeTemplate.MatchString(tpl) && !strings.Contains(dec, "..") && !strings.Contains(dec, "://") {
			path = colonParam.ReplaceAllString(tpl, "{$1}")
		} else {
			notes = append(notes, fmt.Sprintf("routeTemplate %q ignored: not a path template", clip(tpl)))
		}
	}
	method := "GET"
	if m, ok := input["method"].(string); ok && m != "" {
		method = strings.ToUpper(m)
	} else if input == nil {
		notes = append(notes, "the discovery entry does not say how to call it: sent as GET without arguments")
	}

	op := &openapi3.Operation{Servers: &openapi3.Servers{{URL: server}}, OperationID: discoveryOperationID(u, method, path)}
	describeDiscovery(op, item, accepts)
	discoveryArgs(op, method, path, input, schema)
	notes = append(notes, unreadableSchemas(op)...)
	price, pnotes := discoveryPrice(accepts)
	notes = append(notes, pnotes...)
	if price != nil {
		if t, ok := discoveryTime(item["lastUpdated"]); ok {
			price.ObservedAt = t
		} else if item["lastUpdated"] != nil {
			notes = append(notes, fmt.Sprintf("lastUpdated %q is not a time", clip(fmt.Sprint(item["lastUpdated"]))))
		}
	}
	return entry{
		path:   path,
		method: method,
		item:   &openapi3.PathItem{},
		op:     op,
		key:    method + " " + server + path,
		price:  price,
		pnotes: notes,
	}, nil
}

// resourceURL reads an item's resource URL: http or https, with a host and
// no user; a note says its query is not sent.
func resourceURL(item map[string]any) (*url.URL, []string, error) {
	raw := discoveryURL(item)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, nil, fmt.Errorf("resource %q is not an http or https URL", clip(raw))
	}
	var notes []string
	if u.RawQuery != "" || u.Fragment != "" {
		notes = append(notes, fmt.Sprintf("the query of the resource URL (%q) is not sent", clip(u.RawQuery)))
	}
	return u, notes, nil
}

// describeDiscovery sets the description, summary and tags of a discovery
// entry's operation.
func describeDiscovery(op *openapi3.Operation, item map[string]any, accepts []any) {
	op.Description = firstString(item["description"], resourceField(item, "description"), acceptField(accepts, "description"))
	if s := sanitizeLine(op.Description); s != "" && !strings.Contains(strings.TrimSpace(op.Description), "\n") && len([]rune(s)) <= maxTitle {
		op.Summary = s
	}
	if tags, ok := item["tags"].([]any); ok {
		for _, t := range tags {
			if s, ok := t.(string); ok {
				op.Tags = append(op.Tags, s)
			}
		}
	}
}

// discoveryOperationID makes up an operationId of the host (without www.
// or api., up to its first dot; an IP address whole), the method and the
// path: "weather_get_forecast".
func discoveryOperationID(u *url.URL, method, path string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(u.Hostname(), "www."), "api.")
	if ip := strings.Trim(host, "[]"); strings.ContainsAny(ip, ":") || strings.Count(ip, ".") == 3 && strings.Trim(ip, "0123456789.") == "" {
		host = "h" + ip
	} else if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	id := identifier(host, "-") + "_" + strings.ToLower(method)
	if p := identifier(withoutBraces(path), "-"); p != "" {
		id += "_" + p
	}
	return id
}

// discoveryArgs sets the parameters of a discovery entry's operation (path,
// query, headers) and its body.
func discoveryArgs(op *openapi3.Operation, method, path string, input, schema map[string]any) {
	for _, name := range pathParams(path) {
		s, _, desc := propertySchema(schema, "pathParams", name, mapField(input, "pathParams")[name])
		op.Parameters = append(op.Parameters, discoveryParam(name, openapi3.ParameterInPath, true, s, desc))
	}
	for _, loc := range []struct{ in, schemaKey string }{{openapi3.ParameterInQuery, "queryParams"}, {openapi3.ParameterInHeader, "headers"}} {
		fields := fieldsOf(input, schema, loc.schemaKey)
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			s, req, desc := propertySchema(schema, loc.schemaKey, name, fields[name])
			op.Parameters = append(op.Parameters, discoveryParam(name, loc.in, req, s, desc))
		}
	}
	bodyType, _ := input["bodyType"].(string)
	if bodyType == "" {
		bodyType, _ = input["body_type"].(string)
	}
	if bodyType != "" || method == "POST" || method == "PUT" || method == "PATCH" {
		op.RequestBody = &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{
			Required: true,
			Content:  openapi3.Content{bodyMediaType(bodyType): &openapi3.MediaType{Schema: bodySchema(input, schema)}},
		}}
	}
}

// discoveryInput returns how to call a resource: the v2 bazaar info.input
// (and the JSON Schema of info.input, from the extension's schema), else
// the v1 outputSchema.input of the first requirement that has one.
func discoveryInput(item map[string]any, accepts []any) (input, schema map[string]any) {
	bazaar := mapField(mapField(item, "extensions"), "bazaar")
	if in := mapField(mapField(bazaar, "info"), "input"); in != nil {
		s := mapField(mapField(mapField(bazaar, "schema"), "properties"), "input")
		return in, s
	}
	for _, a := range accepts {
		if in := mapField(mapField(asMap(a), "outputSchema"), "input"); in != nil {
			return in, nil
		}
	}
	return nil, nil
}

func bazaarString(item map[string]any, key string) string {
	s, _ := mapField(mapField(item, "extensions"), "bazaar")[key].(string)
	return s
}

// fieldsOf returns the described fields of one location of the input:
// from the JSON Schema, else from the input itself (v2 example values, or v1
// field descriptions, under camelCase or snake_case names).
func fieldsOf(input, schema map[string]any, key string) map[string]any {
	fields := make(map[string]any)
	if props := mapField(mapField(mapField(schema, "properties"), key), "properties"); props != nil {
		for k := range props {
			fields[k] = nil
		}
	}
	var alts []string
	switch key {
	case "queryParams":
		alts = []string{"queryParams", "query_params", "query", "params"}
	case "headers":
		alts = []string{"headerFields", "header_fields", "headers"}
	}
	for _, a := range alts {
		if m := mapField(input, a); m != nil {
			for k, v := range m {
				fields[k] = v
			}
			break
		}
	}
	return fields
}

// propertySchema returns the schema of field name of a location: from the
// JSON Schema of the input when it has one, else from the field's value in
// the input, read as a field description ({"type": "string", "required":
// true, "description": …}), a type name, or an example value.
func propertySchema(schema map[string]any, key, name string, value any) (map[string]any, bool, string) {
	loc := mapField(mapField(schema, "properties"), key)
	if s := mapField(mapField(loc, "properties"), name); s != nil {
		req := false
		if list, ok := loc["required"].([]any); ok {
			req = slices.Contains(list, any(name))
		}
		desc, _ := s["description"].(string)
		return s, req, desc
	}
	return fieldSchema(value)
}

// fieldSchemaKeys are keys that make an object a schema rather than an
// example value.
var fieldSchemaKeys = []string{"type", "enum", "const", "properties", "items", "$ref", "anyOf", "oneOf", "allOf", "format", "pattern"}

func fieldSchema(v any) (map[string]any, bool, string) {
	switch x := v.(type) {
	case map[string]any:
		isSchema := false
		for _, k := range fieldSchemaKeys {
			if _, ok := x[k]; ok {
				isSchema = true
			}
		}
		if !isSchema {
			return map[string]any{"type": "object"}, false, ""
		}
		s := make(map[string]any, len(x))
		for k, v := range x {
			s[k] = v
		}
		req, _ := s["required"].(bool)
		if _, ok := s["required"].(bool); ok {
			delete(s, "required")
		}
		desc, _ := s["description"].(string)
		return s, req, desc
	case string:
		switch x {
		case "string", "number", "integer", "boolean", "object", "array":
			return map[string]any{"type": x}, false, ""
		}
		return map[string]any{"type": "string"}, false, ""
	case json.Number:
		return map[string]any{"type": "number"}, false, ""
	case bool:
		return map[string]any{"type": "boolean"}, false, ""
	case []any:
		return map[string]any{"type": "array"}, false, ""
	}
	return map[string]any{}, false, ""
}

// bodySchema returns the schema of the request body: from the JSON Schema
// of the input, else v1 field descriptions, else the properties of an
// example body, else any JSON object.
func bodySchema(input, schema map[string]any) *openapi3.SchemaRef {
	if s := mapField(mapField(schema, "properties"), "body"); s != nil {
		return toSchemaRef(s)
	}
	for _, k := range []string{"bodyFields", "body_fields", "bodyParams"} {
		if fields := mapField(input, k); fields != nil {
			props := make(map[string]any, len(fields))
			var required []any
			for _, name := range slices.Sorted(maps.Keys(fields)) {
				s, req, _ := fieldSchema(fields[name])
				props[name] = s
				if req {
					required = append(required, name)
				}
			}
			s := map[string]any{"type": "object", "properties": props}
			if len(required) > 0 {
				s["required"] = required
			}
			return toSchemaRef(s)
		}
	}
	if example := mapField(input, "body"); example != nil {
		props := make(map[string]any, len(example))
		for name, v := range example {
			s, _, _ := fieldSchema(v)
			props[name] = s
		}
		return toSchemaRef(map[string]any{"type": "object", "properties": props, "description": "Described from an example: other properties may be accepted."})
	}
	return toSchemaRef(map[string]any{"type": "object", "description": "The resource does not describe its body: any JSON object."})
}

func bodyMediaType(bodyType string) string {
	switch t := strings.ToLower(bodyType); {
	case strings.Contains(t, "form"), strings.Contains(t, "multipart"):
		return "multipart/form-data"
	case strings.Contains(t, "text"):
		return "text/plain"
	}
	return "application/json"
}

func discoveryParam(name, in string, required bool, s map[string]any, desc string) *openapi3.ParameterRef {
	return &openapi3.ParameterRef{Value: &openapi3.Parameter{
		Name: name, In: in, Required: required, Description: desc, Schema: toSchemaRef(s),
	}}
}

// toSchemaRef reads a JSON Schema written as a map into kin-openapi's
// type; a $ref in it stays unresolved, and the converter says so.
func toSchemaRef(m map[string]any) *openapi3.SchemaRef {
	data, err := json.Marshal(m)
	if err != nil {
		return &openapi3.SchemaRef{Value: &openapi3.Schema{}}
	}
	var s openapi3.SchemaRef
	if err := json.Unmarshal(data, &s); err != nil {
		return &openapi3.SchemaRef{Value: &openapi3.Schema{Description: unreadableSchema}}
	}
	return &s
}

// unreadableSchema describes a schema toSchemaRef could not read.
const unreadableSchema = "Schema not readable; any value is accepted."

// unreadableSchemas notes the parameters and body of op whose schema in the
// discovery entry could not be read.
func unreadableSchemas(op *openapi3.Operation) []string {
	var notes []string
	for _, p := range op.Parameters {
		if s := p.Value.Schema; s != nil && s.Value != nil && s.Value.Description == unreadableSchema {
			notes = append(notes, fmt.Sprintf("the schema of %s parameter %q is not a JSON Schema toll reads: any value is accepted", p.Value.In, clip(p.Value.Name)))
		}
	}
	if op.RequestBody != nil {
		for _, mt := range op.RequestBody.Value.Content {
			if s := mt.Schema; s != nil && s.Value != nil && s.Value.Description == unreadableSchema {
				notes = append(notes, "the schema of the body is not a JSON Schema toll reads: any value is accepted")
			}
		}
	}
	return notes
}

// pathParams returns the {name}s of a path template.
func pathParams(path string) []string {
	var out []string
	for rest := path; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return out
		}
		if name := rest[i+1 : i+j]; name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
		rest = rest[i+j+1:]
	}
}

// discoveryPrice chooses the price of a resource: its smallest EVM exact
// payment requirement. The others are listed in a note.
func discoveryPrice(accepts []any) (*Price, []string) {
	var ok []discoveryOption
	var others []string
	for i, a := range accepts {
		if i == maxDiscoveryAccepts {
			others = append(others, fmt.Sprintf("%d more not read", len(accepts)-i))
			break
		}
		o, why := readDiscoveryOption(i, a)
		if why != "" {
			others = append(others, o.label+" ("+why+")")
			continue
		}
		ok = append(ok, o)
	}
	if len(ok) == 0 {
		note := "no EVM exact payment requirement: no price is advertised, so toll will not pay for this operation"
		if len(others) > 0 {
			note += "; requirements: " + strings.Join(others, ", ")
		}
		return nil, []string{note}
	}
	slices.SortStableFunc(ok, func(a, b discoveryOption) int {
		if c := a.amount.Cmp(b.amount); c != 0 {
			return c
		}
		return strings.Compare(a.Network+a.Asset+a.PayTo, b.Network+b.Asset+b.PayTo)
	})
	best := ok[0]
	for _, o := range ok[1:] {
		others = append(others, o.label+" (a smaller one was chosen)")
	}
	var notes []string
	if len(others) > 0 {
		s := fmt.Sprintf("pays %s; other payment requirements not used: %s", best.label, strings.Join(others, ", "))
		s, _ = capRunes(s, 600)
		notes = append(notes, s)
	}
	if name := best.Option(0).Domain.Name; name != "" && !strings.Contains(strings.ToUpper(name), "USD") {
		notes = append(notes, fmt.Sprintf("asset %s is %q, not USDC: its amount is shown with USDC's 6 decimals", best.Asset, clip(name)))
	}
	return &Price{
		Amount:       best.amount,
		Asset:        assetUSDC,
		Network:      best.Network,
		Scheme:       x402.SchemeExact,
		PayTo:        best.PayTo,
		Mode:         PriceFixed,
		Source:       PriceFromDiscovery,
		AssetAddress: best.Asset,
	}, notes
}

// discoveryOption is a payment requirement of a discovery entry, weighed.
type discoveryOption struct {
	x402.RequirementV2
	amount money.Amount // Amount, read in USDC's decimals
	label  string       // "1000 exact on eip155:84532", for notes
}

// readDiscoveryOption reads one entry of a resource's accepts (x402 v1 or
// v2). why says why toll would not pay it: not an EVM exact requirement
// for a positive amount between two addresses. A discovery price needs no
// EIP-712 domain or timeout: the live 402 gives those.
func readDiscoveryOption(i int, a any) (o discoveryOption, why string) {
	raw, err := json.Marshal(a)
	if err == nil {
		o.RequirementV2, err = x402.ParseRequirement(raw)
	}
	if err != nil {
		o.label = fmt.Sprintf("requirement %d", i+1)
		return o, "not a payment requirement: " + oneLine(strings.TrimPrefix(err.Error(), "parse payment requirement: "))
	}
	o.label = fmt.Sprintf("%s %s on %s", clip(o.Amount), clip(o.Scheme), clip(o.Network))
	o.amount, err = money.ParseAtomic(o.Amount, money.USDCDecimals)
	_, notEVM := x402.ChainID(o.Network)
	switch {
	case o.Scheme != x402.SchemeExact:
		return o, "not the exact scheme"
	case notEVM != nil:
		return o, "not an EVM network"
	case err != nil:
		return o, "amount is not a whole number of atomic units"
	case o.amount.Sign() == 0:
		return o, "asks for zero"
	case !x402.IsAddress(o.Asset):
		return o, "asset is not an address"
	case !x402.IsAddress(o.PayTo):
		return o, "payTo is not an address"
	}
	return o, ""
}

// discoveryTime reads lastUpdated: Unix seconds (or milliseconds), as a
// number, or an RFC 3339 string.
func discoveryTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || f <= 0 || f > 1e15 {
			return time.Time{}, false
		}
		if f > 1e11 {
			return time.UnixMilli(int64(f)).UTC(), true
		}
		return time.Unix(int64(f), 0).UTC(), true
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		return t.UTC(), err == nil
	}
	return time.Time{}, false
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func mapField(m map[string]any, key string) map[string]any {
	if m == nil {
		return nil
	}
	return asMap(m[key])
}

func resourceField(item map[string]any, key string) any {
	return mapField(item, "resource")[key]
}

func acceptField(accepts []any, key string) any {
	for _, a := range accepts {
		if v, ok := asMap(a)[key].(string); ok && v != "" {
			return v
		}
	}
	return nil
}

// firstString returns the first of vs that is a non-empty string.
func firstString(vs ...any) string {
	for _, v := range vs {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	return ""
}
