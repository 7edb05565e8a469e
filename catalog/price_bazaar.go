package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// This file reads x-bazaar, which paid services write on an operation beside
// its x-payment-info for the discovery services that index them: the
// schemas of the operation's input and output, in the words of the x402
// bazaar extension
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/bazaar.md).
// Public specs write it in several shapes; readBazaar reads these:
//
//   - {"schema":{"properties":{"input":S,"output":S}}}: input is the schema
//     of the arguments, or, as in the bazaar extension, the schema of its
//     info.input, whose properties queryParams and body are the schemas;
//   - {"inputSchema":S,"outputSchema":S};
//   - {"input":S or {"queryParams":S,"body":S,"bodyType":..},"output":S}.
//
// Values that are examples rather than schemas (the bazaar extension's
// info.input holds examples) are not used.

// bazaarIO is what an operation's x-bazaar says of its input and output,
// as decoded JSON Schemas.
type bazaarIO struct {
	query    any    // an object schema whose properties are query parameters; nil: none
	body     any    // the schema of the request body; nil: none
	bodyType string // "json", "form-data" or "text"; "" means json
	output   any    // the schema of a successful response; nil: none
}

// readBazaar reads x-bazaar v of an operation sent with method. An input
// schema that is not split into query parameters and a body is the body of
// a method that has one (POST, PUT, PATCH…), else the query parameters.
func readBazaar(v any, method string) (bazaarIO, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return bazaarIO{}, fmt.Errorf("x-bazaar is %s, not an object", kindOf(v))
	}
	var io bazaarIO
	if sch, ok := m["schema"].(map[string]any); ok {
		if props, ok := sch["properties"].(map[string]any); ok {
			io.setInput(props["input"], method)
			io.output = outputSchema(props["output"])
		}
	}
	if io.query == nil && io.body == nil {
		io.setInput(m["inputSchema"], method)
	}
	if io.query == nil && io.body == nil {
		io.setInput(m["input"], method)
	}
	for _, out := range []any{m["outputSchema"], m["output"]} {
		if io.output == nil {
			io.output = outputSchema(out)
		}
		if o, ok := out.(map[string]any); ok && io.output == nil {
			io.output = outputSchema(o["schema"])
		}
	}
	return io, nil
}

// outputSchema reads an output schema: the schema of the response, or, as
// in the bazaar extension, the schema of its info.output ({"type":..,
// "example":..}), whose example property is the response's.
func outputSchema(v any) any {
	s, _ := schemaOrNil(v).(map[string]any)
	if s == nil {
		return nil
	}
	if props, ok := s["properties"].(map[string]any); ok && props["type"] != nil && props["example"] != nil {
		return schemaOrNil(props["example"])
	}
	return s
}

// setInput reads an input: a schema of the arguments, a bazaar
// extension's schema of info.input, or an object of queryParams, body and
// bodyType (and, for an MCP tool, inputSchema).
func (io *bazaarIO) setInput(v any, method string) {
	in, ok := v.(map[string]any)
	if !ok {
		return
	}
	props, _ := in["properties"].(map[string]any)
	switch {
	case props != nil && (props["queryParams"] != nil || props["body"] != nil || props["bodyType"] != nil):
		io.query, io.body = schemaOrNil(props["queryParams"]), schemaOrNil(props["body"])
		if bt, ok := props["bodyType"].(map[string]any); ok {
			io.bodyType, _ = bt["const"].(string)
		}
	case in["queryParams"] != nil || in["body"] != nil || in["inputSchema"] != nil:
		io.query, io.body = schemaOrNil(in["queryParams"]), schemaOrNil(in["body"])
		io.bodyType, _ = in["bodyType"].(string)
		if s := schemaOrNil(in["inputSchema"]); s != nil && io.query == nil && io.body == nil {
			io.direct(s, method)
		}
	case schemaOrNil(in) != nil:
		io.direct(in, method)
	}
}

// direct takes s as the schema of all the arguments: the body of a method
// that sends one, else the query parameters.
func (io *bazaarIO) direct(s any, method string) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions, http.MethodTrace:
		io.query = s
	default:
		io.body = s
	}
}

// schemaOrNil returns v when it reads as a JSON Schema (an object with a
// type, properties, items, a $ref, a combinator, an enum or a const), else
// nil: an example, or nothing.
func schemaOrNil(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	switch t := m["type"].(type) {
	case string:
		if jsonType(t) {
			return m
		}
	case []any:
		if len(t) > 0 {
			if s, ok := t[0].(string); ok && jsonType(s) {
				return m
			}
		}
	}
	for _, k := range []string{"properties", "items", "$ref", "anyOf", "oneOf", "allOf", "enum", "const"} {
		if _, ok := m[k]; ok {
			return m
		}
	}
	return nil
}

// jsonType reports whether t names a JSON Schema type.
func jsonType(t string) bool {
	switch t {
	case "object", "array", "string", "number", "integer", "boolean", "null":
		return true
	}
	return false
}

// bazaarOperation applies the operation's x-bazaar: its output schema goes
// to p.op.OutputSchema; when the operation declares no parameters and no
// request body, it returns a copy of op whose query parameters and body are
// made from x-bazaar's input schema, which then goes through the same
// conversion as every schema. Otherwise it returns op.
func (b *builder) bazaarOperation(p *pending, item *openapi3.PathItem, op *openapi3.Operation, st *opState) *openapi3.Operation {
	v, ok := op.Extensions["x-bazaar"]
	if !ok {
		return op
	}
	io, err := readBazaar(v, p.op.Method)
	if err != nil {
		p.notes = append(p.notes, "x-bazaar: "+err.Error()+"; not used")
		return op
	}
	if io.output != nil {
		b.bazaarOutput(p, io.output, st)
	}
	if (io.query == nil && io.body == nil) || len(op.Parameters) > 0 || len(item.Parameters) > 0 || op.RequestBody != nil {
		return op
	}
	cp := *op
	if io.query != nil {
		ref, err := b.bazaarSchema(io.query)
		if err != nil || ref.Value == nil || len(ref.Value.Properties) == 0 {
			p.notes = append(p.notes, "x-bazaar: the input's query parameters are not an object schema with properties; not used")
		} else {
			for _, name := range slices.Sorted(maps.Keys(ref.Value.Properties)) {
				cp.Parameters = append(cp.Parameters, &openapi3.ParameterRef{Value: &openapi3.Parameter{
					Name: name, In: openapi3.ParameterInQuery, Required: slices.Contains(ref.Value.Required, name), Schema: ref.Value.Properties[name],
				}})
			}
		}
	}
	if io.body != nil {
		if ref, err := b.bazaarSchema(io.body); err != nil {
			p.notes = append(p.notes, "x-bazaar: input body: "+err.Error()+"; not used")
		} else {
			mt := map[string]string{"form-data": "multipart/form-data", "text": "text/plain"}[io.bodyType]
			if mt == "" {
				mt = "application/json"
			}
			cp.RequestBody = &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{Required: true, Content: openapi3.Content{mt: &openapi3.MediaType{Schema: ref}}}}
		}
	}
	if len(cp.Parameters) > 0 || cp.RequestBody != nil {
		p.notes = append(p.notes, "x-bazaar: its input schema gives the arguments, as the operation declares no parameters or request body")
	}
	return &cp
}

// bazaarOutput converts x-bazaar's output schema into p.op.OutputSchema, as
// a response's schema (readOnly properties kept), or notes why not.
func (b *builder) bazaarOutput(p *pending, output any, st *opState) {
	ref, err := b.bazaarSchema(output)
	if err == nil {
		conv := newSchemaConverter(b.openapi30, false)
		conv.texts = st.texts
		p.op.OutputSchema, err = marshalSchema(conv.convert(ref, 1))
	}
	if err != nil {
		p.notes = append(p.notes, "x-bazaar: output schema: "+oneLine(err.Error())+"; not kept")
	}
}

// bazaarSchema decodes a JSON Schema of x-bazaar into kin-openapi's type,
// its references to the document's component schemas resolved.
func (b *builder) bazaarSchema(v any) (*openapi3.SchemaRef, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, errors.New("the schema does not encode as JSON")
	}
	ref := &openapi3.SchemaRef{}
	if err := json.Unmarshal(data, ref); err != nil {
		return nil, fmt.Errorf("the schema does not decode: %s", oneLine(err.Error()))
	}
	b.resolveComponents(ref, 0)
	return ref, nil
}

// resolveComponents sets the schema of each reference to a component schema
// in the tree of ref (the component schemas themselves were resolved when
// the document was loaded). A reference elsewhere stays unresolved, and the
// converter says so.
func (b *builder) resolveComponents(ref *openapi3.SchemaRef, depth int) {
	if ref == nil || depth > maxSchemaDepth {
		return
	}
	if ref.Value == nil {
		if name := refTarget(ref.Ref, "#/components/schemas/"); name != "" && b.doc.Components != nil {
			if c := b.doc.Components.Schemas[name]; c != nil {
				ref.Value = c.Value
			}
		}
		return
	}
	s := ref.Value
	var kids []*openapi3.SchemaRef
	kids = append(kids, s.Items, s.AdditionalProperties.Schema, s.Not, s.Contains, s.PropertyNames, s.If, s.Then, s.Else, s.ContentSchema)
	kids = append(kids, s.AllOf...)
	kids = append(kids, s.AnyOf...)
	kids = append(kids, s.OneOf...)
	kids = append(kids, s.PrefixItems...)
	for _, m := range []openapi3.Schemas{s.Properties, s.PatternProperties, s.DependentSchemas, s.Defs} {
		for _, k := range m {
			kids = append(kids, k)
		}
	}
	for _, k := range kids {
		b.resolveComponents(k, depth+1)
	}
}
