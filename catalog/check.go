package catalog

import (
	"bytes"
	"encoding/json"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every input schema must compile with the JSON Schema library the MCP layer
// uses (santhosh-tekuri/jsonschema, draft 2020-12): a schema it cannot
// compile would be skipped there silently, leaving a tool's arguments
// unchecked. Compiling each operation's schema costs as much as the
// schemas are large, and a large spec inlines the same components into
// hundreds of operations; the library takes some 100 µs per schema object.
//
// Whether a schema compiles depends on each of its schema objects alone:
// the converter writes no $ref, $id, $anchor or $schema, so a schema object
// compiles when each keyword's value has the form 2020-12 requires and its
// regular expressions compile. So the checker compiles the skeleton of each
// object once: the object with its subschemas replaced by true and every
// value that may be anything of its type (texts, examples, bounds, property
// names) replaced by one such value. Skeletons repeat a great deal (a
// GitHub-sized spec has about 8,000 schema objects and a few dozen
// skeletons); the distinct ones are compiled together, as the allOf of one
// schema. Should that fail, the caller compiles each operation's schema to
// find the ones at fault.

// schemaChecker collects the skeletons of an API's input schemas.
type schemaChecker struct {
	on     bool
	seen   map[*openapi3.Schema]bool
	shapes map[string]bool
	batch  []any
}

func newSchemaChecker(on bool) *schemaChecker {
	return &schemaChecker{on: on, seen: make(map[*openapi3.Schema]bool), shapes: make(map[string]bool)}
}

// add records the schema object out that the converter wrote for s, unless
// one written for s was recorded already: the converter writes the same
// object for the same schema every time (the description a parameter adds
// on top of it aside, which is a string).
func (k *schemaChecker) add(s *openapi3.Schema, out map[string]any) {
	if !k.on || k.seen[s] {
		return
	}
	k.seen[s] = true
	k.record(out)
}

// fresh reports whether add would record the schema object written for s:
// the checker is on and has not seen s.
func (k *schemaChecker) fresh(s *openapi3.Schema) bool {
	return k != nil && k.on && !k.seen[s]
}

// addRoot records an operation's root object.
func (k *schemaChecker) addRoot(root map[string]any) {
	if k.on {
		k.record(root)
	}
}

func (k *schemaChecker) record(m map[string]any) {
	sk := skeleton(m)
	raw, err := marshalSchema(sk)
	if err != nil {
		k.batch = append(k.batch, m) // let check report it
		return
	}
	if !k.shapes[string(raw)] {
		k.shapes[string(raw)] = true
		k.batch = append(k.batch, sk)
	}
}

// merge adds the skeletons another checker recorded.
func (k *schemaChecker) merge(other *schemaChecker) {
	for _, sk := range other.batch {
		raw, err := marshalSchema(sk)
		if err != nil || !k.shapes[string(raw)] {
			k.shapes[string(raw)] = true
			k.batch = append(k.batch, sk)
		}
	}
}

// Keywords whose value is a schema, a list of schemas, or an object of
// schemas.
var (
	schemaKeywords     = []string{"items", "contains", "not", "if", "then", "else", "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties"}
	schemaListKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
)

// skeleton returns what decides whether schema object m compiles (see
// above): the keywords it has, the form of their values, and the values
// that must be right (types, patterns, multipleOf, repeats in a list of
// names).
func skeleton(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case "title", "description", "default", "const", "deprecated":
			// Any value of the right type: strings, or a boolean the
			// converter only ever writes as true.
		case "enum":
			if list, ok := v.([]any); ok && len(list) > 0 {
				out[k] = []any{nil} // any list of values; an empty one is not a valid enum
			} else {
				out[k] = v
			}
		case "format", "contentMediaType", "contentEncoding":
			out[k] = "" // any string
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			out[k] = 0 // any number; the converter writes only finite ones
		case "minLength", "maxLength", "minItems", "maxItems", "minContains", "maxContains", "minProperties", "maxProperties":
			out[k] = nonNegative(v)
		case "properties", "dependentSchemas":
			out[k] = map[string]any{} // any names; the values are subschemas
		case "required":
			out[k] = names(v)
		default:
			out[k] = v
		}
	}
	for _, k := range schemaKeywords {
		if _, ok := out[k].(map[string]any); ok {
			out[k] = true
		}
	}
	for _, k := range schemaListKeywords {
		if list, ok := out[k].([]any); ok {
			t := make([]any, len(list))
			for i := range t {
				t[i] = true
			}
			out[k] = t
		}
	}
	if sub, ok := out["patternProperties"].(map[string]any); ok {
		t := make(map[string]any, len(sub))
		for pattern := range sub {
			t[pattern] = true // the patterns must compile: kept
		}
		out["patternProperties"] = t
	}
	return out
}

// nonNegative stands in for a count: 0 when it is a non-negative integer
// (what the converter writes), else itself.
func nonNegative(v any) any {
	switch x := v.(type) {
	case uint64:
		return 0
	case int:
		if x >= 0 {
			return 0
		}
	}
	return v
}

// names stands in for a list of property names: an empty list when it is
// strings without repeats (what 2020-12 asks), else itself.
func names(v any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok || seen[s] {
			return v
		}
		seen[s] = true
	}
	return []any{}
}

// check compiles what was recorded, as the allOf of one schema.
func (k *schemaChecker) check() error {
	if len(k.batch) == 0 {
		return nil
	}
	raw, err := marshalSchema(map[string]any{"allOf": k.batch})
	k.batch = nil
	if err != nil {
		return err
	}
	return compileSchema(raw)
}

// compileSchema checks that raw compiles as a JSON Schema 2020-12 with the
// validator the MCP layer uses.
func compileSchema(raw json.RawMessage) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{}) // never read a file or URL
	const loc = "toll:input.json"
	if err := c.AddResource(loc, doc); err != nil {
		return err
	}
	_, err = c.Compile(loc)
	return err
}
