package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Limits of the conversion from OpenAPI schemas to JSON Schema. Every $ref
// is inlined, so a schema that refers to itself, or a wide tree of small
// schemas referring to each other, could grow without bound: the converter
// cuts a schema met again among its own ancestors, one nested deeper than
// maxSchemaDepth, and every schema after the first maxSchemaNodes of an
// operation, writing in its place an open schema whose description says so.
const (
	maxSchemaDepth = 32
	maxSchemaNodes = 2000
	maxSchemaText  = 512 // runes of a title or description inside a schema
	maxSchemaNotes = 8   // distinct notes kept per operation
)

// schemaConverter turns kin-openapi's resolved *openapi3.Schema values into
// JSON Schema 2020-12 maps with every $ref inlined. One converter serves one
// operation.
type schemaConverter struct {
	openapi30 bool                      // nullable and boolean exclusive bounds are 3.0 keywords
	input     bool                      // request direction: readOnly properties are left out
	texts     map[string]sanitized      // sanitized texts, shared by the converters of a document
	checker   *schemaChecker            // what to compile; nil: nothing
	nodes     int                       // schema objects written so far
	onPath    map[*openapi3.Schema]bool // the schemas being converted: the current one's ancestors
	notes     []string                  // what was changed, without duplicates
	dropped   int                       // notes not kept past maxSchemaNotes
	flags     []string                  // what flagText found in the texts, one of each kind; never dropped
	// unresolved are the $refs met that could not be followed (see
	// fixRefs): an operation whose schema has one is skipped.
	unresolved []string
}

func newSchemaConverter(openapi30, input bool) *schemaConverter {
	return &schemaConverter{openapi30: openapi30, input: input, onPath: make(map[*openapi3.Schema]bool), texts: make(map[string]sanitized)}
}

// newConverter returns a converter for one operation of the document.
func (b *builder) newConverter(st *opState) *schemaConverter {
	c := newSchemaConverter(b.openapi30, true)
	c.texts, c.checker = st.texts, st.checker
	return c
}

func (c *schemaConverter) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if slices.Contains(c.notes, n) {
		return
	}
	if len(c.notes) >= maxSchemaNotes {
		c.dropped++
		return
	}
	c.notes = append(c.notes, n)
}

// convert returns the JSON Schema for ref: a map, or a bool for a JSON
// Schema boolean schema (OpenAPI 3.1). The keywords are written by family:
// annotations and types, numbers, strings, arrays, objects, then the
// combinators, whose allOf is merged into the rest where that is exact.
func (c *schemaConverter) convert(ref *openapi3.SchemaRef, depth int) any {
	if ref == nil {
		return map[string]any{}
	}
	s := ref.Value
	name := refName(ref.Ref)
	if s == nil {
		c.note("$ref %q did not resolve; any value is accepted there", clip(ref.Ref))
		return map[string]any{"description": "Schema not available; any value is accepted."}
	}
	if s.Always != nil {
		return *s.Always
	}
	if ref, ok := s.Extensions[unresolvedKey]; ok {
		c.unresolved = append(c.unresolved, fmt.Sprint(ref))
		return map[string]any{}
	}
	switch {
	case c.onPath[s]:
		c.note("%s is recursive: cut where it repeats", schemaLabel(name))
		return c.cut(s, name, "it is recursive")
	case depth >= maxSchemaDepth:
		c.note("schema nested deeper than %d levels cut", maxSchemaDepth)
		return c.cut(s, name, "it is nested too deeply")
	case c.nodes >= maxSchemaNodes:
		c.note("schema larger than %d parts cut", maxSchemaNodes)
		return c.cut(s, name, "the schema is too large")
	}
	c.nodes++
	c.onPath[s] = true
	defer delete(c.onPath, s)

	out := make(map[string]any)
	nullable := c.openapi30 && s.Nullable
	c.annotations(out, s, nullable)
	numberKeywords(out, s)
	c.stringKeywords(out, s)
	c.arrayKeywords(out, s, depth)
	c.objectKeywords(out, s, depth)
	allOf := c.combinators(out, s, depth)

	// allOf is folded into the schema where that is exact (merge.go).
	if len(allOf) > 0 {
		out = c.mergeAllOf(out, allOf, name, c.checker.fresh(s))
	}

	// A 3.0 nullable schema without a type but with subschemas: the
	// subschemas would refuse null, so allow it beside them, or in the
	// schema itself when its allOf was merged and nothing else in it would
	// refuse null.
	nullableAnyOf := nullable && s.Type.Slice() == nil && (len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0 || s.Not != nil)
	if nullableAnyOf && nullableInPlace(out) {
		nullableAnyOf = false
	}
	if c.checker != nil {
		c.checker.add(s, out)
	}
	if nullableAnyOf {
		return map[string]any{"anyOf": []any{out, map[string]any{"type": "null"}}}
	}
	return out
}

// annotations writes the keywords of any type: the type itself (with null
// for a 3.0 nullable schema), title, description, format, enum, const,
// default and deprecated.
func (c *schemaConverter) annotations(out map[string]any, s *openapi3.Schema, nullable bool) {
	if types := s.Type.Slice(); len(types) > 0 {
		if nullable && !slices.Contains(types, "null") {
			types = append(slices.Clip(types), "null")
		}
		out["type"] = typeValue(types)
	}
	if t := c.text(s.Title); t != "" {
		out["title"] = sanitizeLine(t)
	}
	if t := c.text(s.Description); t != "" {
		out["description"] = t
	}
	if s.Format != "" {
		out["format"] = clip(s.Format)
	}
	if s.Enum != nil {
		enum := cleanList(s.Enum)
		if nullable && len(enum) > 0 && !slices.Contains(enum, nil) {
			enum = append(enum, nil)
		}
		if len(enum) > 0 {
			out["enum"] = enum
		} else {
			c.note("an enum with no values dropped (JSON Schema wants at least one)")
		}
	}
	if s.Const != nil {
		if v, ok := cleanValue(s.Const, 0); ok {
			out["const"] = v
		}
	}
	if s.Default != nil {
		if v, ok := cleanValue(s.Default, 0); ok {
			if why := misfit(v, s, nullable); why != "" {
				c.note("default %s dropped: %s", clip(compactJSON(v)), why)
			} else {
				out["default"] = v
			}
		}
	}
	if s.Deprecated {
		out["deprecated"] = true
	}
}

// misfit says why a default does not fit its schema's type or enum, or "".
// A default is an annotation a model reads as a value to send: one of the
// wrong type ("100" for an integer) would have it send a value the schema
// refuses.
func misfit(v any, s *openapi3.Schema, nullable bool) string {
	if v == nil {
		if nullable || s.Type.Includes("null") || len(s.Type.Slice()) == 0 {
			return ""
		}
		return "null is not of the type " + strings.Join(s.Type.Slice(), " or ")
	}
	if types := s.Type.Slice(); len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return hasType(v, t) }) {
		return "not of the type " + strings.Join(types, " or ")
	}
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return sameJSON(e, v) }) {
		return "not one of the enum's values"
	}
	return ""
}

// hasType reports whether a JSON value is of a JSON Schema type.
func hasType(v any, t string) bool {
	switch x := v.(type) {
	case string:
		return t == "string"
	case bool:
		return t == "boolean"
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	case float64:
		return t == "number" || t == "integer" && x == math.Trunc(x)
	case json.Number:
		_, err := x.Int64()
		return t == "number" || t == "integer" && err == nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return t == "number" || t == "integer"
	case float32:
		return t == "number" || t == "integer" && float64(x) == math.Trunc(float64(x))
	}
	return false
}

// sameJSON reports whether two values are the same JSON.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// compactJSON writes a value as JSON for a note.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// numberKeywords writes the bounds of a number. A 3.0 boolean
// exclusiveMinimum turns its minimum exclusive; infinite and NaN bounds are
// left out.
func numberKeywords(out map[string]any, s *openapi3.Schema) {
	if s.Min != nil && finite(*s.Min) {
		if s.ExclusiveMin.Bool != nil && *s.ExclusiveMin.Bool {
			out["exclusiveMinimum"] = *s.Min
		} else {
			out["minimum"] = *s.Min
		}
	}
	if s.Max != nil && finite(*s.Max) {
		if s.ExclusiveMax.Bool != nil && *s.ExclusiveMax.Bool {
			out["exclusiveMaximum"] = *s.Max
		} else {
			out["maximum"] = *s.Max
		}
	}
	if v := s.ExclusiveMin.Value; v != nil && finite(*v) {
		out["exclusiveMinimum"] = *v
	}
	if v := s.ExclusiveMax.Value; v != nil && finite(*v) {
		out["exclusiveMaximum"] = *v
	}
	if v := s.MultipleOf; v != nil && finite(*v) && *v > 0 {
		out["multipleOf"] = *v
	}
}

// stringKeywords writes the lengths, pattern and content keywords of a
// string.
func (c *schemaConverter) stringKeywords(out map[string]any, s *openapi3.Schema) {
	if s.MinLength > 0 {
		out["minLength"] = s.MinLength
	}
	if s.MaxLength != nil {
		out["maxLength"] = *s.MaxLength
	}
	if s.Pattern != "" {
		if p, ok := c.pattern(s.Pattern); ok {
			out["pattern"] = p
		}
	}
	if s.ContentMediaType != "" {
		out["contentMediaType"] = clip(s.ContentMediaType)
	}
	if s.ContentEncoding != "" {
		out["contentEncoding"] = clip(s.ContentEncoding)
	}
}

// arrayKeywords writes the keywords of an array: its items and their
// bounds.
func (c *schemaConverter) arrayKeywords(out map[string]any, s *openapi3.Schema, depth int) {
	if s.Items != nil {
		out["items"] = c.convert(s.Items, depth+1)
	}
	if len(s.PrefixItems) > 0 {
		out["prefixItems"] = c.list(s.PrefixItems, depth)
	}
	if s.MinItems > 0 {
		out["minItems"] = s.MinItems
	}
	if s.MaxItems != nil {
		out["maxItems"] = *s.MaxItems
	}
	if s.UniqueItems {
		out["uniqueItems"] = true
	}
	if s.Contains != nil {
		out["contains"] = c.convert(s.Contains, depth+1)
	}
	if s.MinContains != nil {
		out["minContains"] = *s.MinContains
	}
	if s.MaxContains != nil {
		out["maxContains"] = *s.MaxContains
	}
	if v, ok := c.boolSchema(s.UnevaluatedItems, depth); ok {
		out["unevaluatedItems"] = v
	}
}

// objectKeywords writes the keywords of an object: its properties (without
// the readOnly ones, which a request does not send), what is required of
// them, and the rest.
func (c *schemaConverter) objectKeywords(out map[string]any, s *openapi3.Schema, depth int) {
	var readOnly []string
	if len(s.Properties) > 0 {
		props := make(map[string]any, len(s.Properties))
		for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
			p := s.Properties[k]
			if c.input && p != nil && p.Value != nil && p.Value.ReadOnly {
				readOnly = append(readOnly, k)
				continue
			}
			props[k] = c.convert(p, depth+1)
		}
		out["properties"] = props
	}
	if len(s.Required) > 0 {
		var req []any
		for _, k := range s.Required {
			if !slices.Contains(req, any(k)) && !slices.Contains(readOnly, k) {
				req = append(req, k)
			}
		}
		if len(req) > 0 {
			out["required"] = req
		}
	}
	if s.MinProps > 0 {
		out["minProperties"] = s.MinProps
	}
	if s.MaxProps != nil {
		out["maxProperties"] = *s.MaxProps
	}
	if v, ok := c.boolSchema(s.AdditionalProperties, depth); ok {
		out["additionalProperties"] = v
	}
	c.objectMaps(out, s, depth)
	if v, ok := c.boolSchema(s.UnevaluatedProperties, depth); ok {
		out["unevaluatedProperties"] = v
	}
}

// objectMaps writes the keywords of an object that map names or patterns
// to schemas or lists: patternProperties (without the patterns Go cannot
// compile), propertyNames, dependentSchemas and dependentRequired.
func (c *schemaConverter) objectMaps(out map[string]any, s *openapi3.Schema, depth int) {
	if len(s.PatternProperties) > 0 {
		pp := make(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(s.PatternProperties)) {
			if p, ok := c.pattern(k); ok {
				pp[p] = c.convert(s.PatternProperties[k], depth+1)
			}
		}
		if len(pp) > 0 {
			out["patternProperties"] = pp
		}
	}
	if s.PropertyNames != nil {
		out["propertyNames"] = c.convert(s.PropertyNames, depth+1)
	}
	if len(s.DependentSchemas) > 0 {
		ds := make(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(s.DependentSchemas)) {
			ds[k] = c.convert(s.DependentSchemas[k], depth+1)
		}
		out["dependentSchemas"] = ds
	}
	if len(s.DependentRequired) > 0 {
		dr := make(map[string]any)
		for k, v := range s.DependentRequired {
			dr[k] = toAnyList(slices.Compact(slices.Sorted(slices.Values(v))))
		}
		out["dependentRequired"] = dr
	}
}

// combinators writes anyOf, oneOf, not and if/then/else, and returns the
// allOf branches for the caller to merge. oneOf becomes anyOf: OpenAPI 3.0
// documents often list variants that overlap (a discriminator, dropped
// here, was meant to tell them apart), and as oneOf an argument matching
// two of them would be refused although the API accepts it. The API still
// validates.
func (c *schemaConverter) combinators(out map[string]any, s *openapi3.Schema, depth int) (allOf []any) {
	if len(s.AllOf) > 0 {
		allOf = c.list(s.AllOf, depth)
	}
	if len(s.AnyOf) > 0 {
		out["anyOf"] = c.list(s.AnyOf, depth)
	}
	if len(s.OneOf) > 0 {
		oneOf := c.list(s.OneOf, depth)
		if _, ok := out["anyOf"]; ok {
			allOf = append(allOf, map[string]any{"anyOf": oneOf})
		} else {
			out["anyOf"] = oneOf
		}
	}
	if s.Not != nil {
		out["not"] = c.convert(s.Not, depth+1)
	}
	if s.If != nil {
		out["if"] = c.convert(s.If, depth+1)
		if s.Then != nil {
			out["then"] = c.convert(s.Then, depth+1)
		}
		if s.Else != nil {
			out["else"] = c.convert(s.Else, depth+1)
		}
	}
	if s.DynamicRef != "" {
		c.note("$dynamicRef %q is not followed; any value is accepted there", clip(s.DynamicRef))
	}
	return allOf
}

// cut writes the open schema that stands in for s where the converter stops.
func (c *schemaConverter) cut(s *openapi3.Schema, name, why string) map[string]any {
	out := map[string]any{
		"description": fmt.Sprintf("Nested value (%s) not described here because %s; any value of this type is accepted.", schemaLabel(name), why),
	}
	types := s.Type.Slice()
	switch {
	case len(types) > 0:
		if c.openapi30 && s.Nullable && !slices.Contains(types, "null") {
			types = append(slices.Clip(types), "null")
		}
		out["type"] = typeValue(types)
	case len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) == 0:
		out["type"] = "object"
	}
	return out
}

func (c *schemaConverter) list(refs openapi3.SchemaRefs, depth int) []any {
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		out = append(out, c.convert(r, depth+1))
	}
	return out
}

// boolSchema converts additionalProperties and its kind: a boolean or a
// schema. ok is false when the keyword is absent.
func (c *schemaConverter) boolSchema(b openapi3.BoolSchema, depth int) (any, bool) {
	switch {
	case b.Schema != nil:
		return c.convert(b.Schema, depth+1), true
	case b.Has != nil:
		return *b.Has, true
	}
	return nil, false
}

// text sanitizes a title or description inside a schema.
func (c *schemaConverter) text(s string) string {
	if s == "" {
		return ""
	}
	t, ok := c.texts[s]
	if !ok {
		var removed []string
		t.text, removed = stripPriceLines(sanitizeText(s))
		t.text, _ = capRunes(t.text, maxSchemaText)
		t.removed = len(removed)
		t.flags = flagText(t.text)
		c.texts[s] = t
	}
	if t.removed > 0 {
		c.note("price statements removed from schema descriptions")
	}
	c.flags = addFlags(c.flags, t.flags)
	return t.text
}

// pattern returns a pattern as both Go's regexp (the MCP layer's
// validator) and JavaScript hosts compile it (see portablePattern); a
// pattern that cannot be is dropped, rather than make the whole schema
// unusable, with a note.
func (c *schemaConverter) pattern(p string) (string, bool) {
	out, err := portablePattern(p)
	if err != nil {
		c.note("pattern %q dropped: %v", clip(p), err)
		return "", false
	}
	return out, true
}

// refName is the last segment of a local $ref: "#/components/schemas/X" → "X".
func refName(ref string) string {
	if ref == "" {
		return ""
	}
	return clip(ref[strings.LastIndexByte(ref, '/')+1:])
}

func schemaLabel(name string) string {
	if name == "" {
		return "an inline schema"
	}
	return "schema " + name
}

func typeValue(types []string) any {
	if len(types) == 1 {
		return types[0]
	}
	return toAnyList(types)
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func finite(f float64) bool { return !math.IsInf(f, 0) && !math.IsNaN(f) }

// cleanList cleans each value of an enum, dropping those JSON cannot carry.
func cleanList(vs []any) []any {
	out := make([]any, 0, len(vs))
	for _, v := range vs {
		if c, ok := cleanValue(v, 0); ok {
			out = append(out, c)
		}
	}
	return out
}

// cleanValue makes a value decoded from YAML fit for encoding/json: NaN and
// infinities are dropped, map keys become strings. ok is false when nothing
// of v can be kept.
func cleanValue(v any, depth int) (any, bool) {
	if depth > maxSchemaDepth {
		return nil, false
	}
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x, true
	case float64:
		return x, finite(x)
	case float32:
		return float64(x), finite(float64(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x, true
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if c, ok := cleanValue(e, depth+1); ok {
				out = append(out, c)
			}
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if c, ok := cleanValue(e, depth+1); ok {
				out[k] = c
			}
		}
		return out, true
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if c, ok := cleanValue(e, depth+1); ok {
				out[fmt.Sprint(k)] = c
			}
		}
		return out, true
	}
	if _, err := json.Marshal(v); err != nil {
		return nil, false
	}
	return v, true
}

// marshalSchema writes a schema as JSON with sorted keys and without HTML
// escaping.
func marshalSchema(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}
