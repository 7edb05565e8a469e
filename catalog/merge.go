package catalog

import (
	"maps"
	"reflect"
	"slices"
	"strings"
)

// allOf merging. OpenAPI documents compose objects with allOf (a base
// schema and the fields an operation adds to it); a model reads one object
// schema far better than a list of parts, and some hosts handle nested
// combinators poorly. So the converter folds an allOf into the schema that
// holds it wherever the result accepts exactly the values the allOf does,
// and keeps an allOf (of what it could not fold) elsewhere. The schema's
// own keywords and its branches, in order, are the parts merged:
//
//   - properties: the union. A property in several parts gets their
//     subschemas merged the same way, recursively, or an allOf of them
//     where a plain merge would change what is accepted. patternProperties
//     and dependentSchemas likewise, by pattern and by name.
//   - required, dependentRequired: the union.
//   - type: the intersection ("integer" within "number"). When the parts
//     have no type in common no value matches: the allOf is kept as it is,
//     and a warning says so.
//   - enum: the intersection. Bounds: the largest minimum and the smallest
//     maximum, for numbers, lengths, items and properties. uniqueItems and
//     deprecated: true when a part says so.
//   - const, format, pattern, multipleOf, anyOf, not, if/then/else,
//     contains, prefixItems and the like: taken from the one part that has
//     them, or once when the parts agree exactly; otherwise the later parts'
//     stay in the allOf.
//   - title, description, default (annotations): the schema's own, else the
//     first branch's that has one.
//   - additionalProperties: in JSON Schema, additionalProperties in one part
//     of an allOf applies to every property of the instance that part does
//     not list, including those another part lists. The merge keeps that
//     meaning: the merged additionalProperties is the conjunction of the
//     parts', and a property one part lists but another closes with
//     additionalProperties: false is forbidden, so it is left out of the
//     merged properties (additionalProperties: false then refuses it) and
//     a warning names it. So additionalProperties: false survives as such
//     only where the closed part lists every merged property. Where a
//     part's additionalProperties is a schema that would have to be copied
//     onto another part's properties, or patternProperties meet
//     additionalProperties, those keywords stay in the allOf instead.
//   - A branch with unevaluatedProperties or unevaluatedItems stays in the
//     allOf whole: merging keywords beside it would change what it sees as
//     evaluated. On the schema that holds the allOf they are kept: what its
//     branches evaluate is the same merged or not.
//
// An input schema's root is always the object toll writes around the
// parameters and the body, so no allOf can reach it; only subschemas keep
// one.

// maxMergeDepth bounds the recursion of merges into properties.
const maxMergeDepth = 2 * maxSchemaDepth

// merger merges the allOf of one schema.
type merger struct {
	c     *schemaConverter
	label string           // the schema whose allOf this is, for notes
	at    []string         // the properties being merged, for notes
	made  []map[string]any // schema objects the merge wrote below the top
}

// mergeAllOf folds the allOf branches into out, the converter's output for
// the schema that holds them (without its allOf). record says whether the
// schema objects the merge writes should go to the checker.
func (c *schemaConverter) mergeAllOf(out map[string]any, branches []any, name string, record bool) map[string]any {
	m := &merger{c: c, label: schemaLabel(name)}
	parts := make([]any, 0, len(branches)+1)
	parts = append(parts, out)
	parts = append(parts, branches...)
	merged, ok := m.mergeParts(parts, true, 0)
	if !ok {
		out["allOf"] = branches
		return out
	}
	if record && c.checker != nil {
		for _, x := range m.made {
			c.checker.record(x)
		}
	}
	return merged
}

// mergeParts merges parts, schemas that must all hold, into one schema
// object, with an allOf of what it could not merge. host says parts[0] is
// the schema that held the allOf. ok is false when the parts have no type
// in common.
func (m *merger) mergeParts(parts []any, host bool, depth int) (map[string]any, bool) {
	if !m.typesMeet(parts, host) {
		return nil, false
	}
	out := make(map[string]any)
	var rest []any
	for i, p := range parts {
		s, ok := merged(p, i, host)
		if !ok {
			if p != true {
				rest = append(rest, p)
			}
			continue
		}
		left := m.into(out, s, depth)
		if sub, ok := s["allOf"].([]any); ok {
			rest = append(rest, sub...)
		}
		if len(left) > 0 {
			m.made = append(m.made, left)
			rest = append(rest, left)
		}
	}
	if len(rest) > 0 {
		out["allOf"] = rest
	}
	return out, true
}

// merged reports whether part i of mergeParts's parts is merged (a schema
// object without unevaluated keywords, or the host) rather than kept whole.
func merged(p any, i int, host bool) (map[string]any, bool) {
	s, ok := p.(map[string]any)
	if !ok || (!(host && i == 0) && (s["unevaluatedProperties"] != nil || s["unevaluatedItems"] != nil)) {
		return nil, false
	}
	return s, true
}

// typesMeet reports whether the types of the parts mergeParts merges have
// one in common, and notes it when they do not.
func (m *merger) typesMeet(parts []any, host bool) bool {
	var t any
	var seen []string
	for i, p := range parts {
		s, ok := merged(p, i, host)
		if !ok || s["type"] == nil {
			continue
		}
		seen = append(seen, typeString(s["type"]))
		if t, ok = intersectTypes(t, s["type"]); !ok {
			if len(m.at) == 0 {
				m.c.note("%s: allOf parts have no type in common (%s): kept as an allOf, which no value matches", m.label, strings.Join(seen, "; "))
			} else {
				m.c.note("%s: property %q of several allOf parts has no type in common (%s): kept as an allOf, which no value matches", m.label, m.property(""), strings.Join(seen, "; "))
			}
			return false
		}
	}
	return true
}

// property names property n of the one being merged ("a.b.n"), or that
// one (n is ""), for a note.
func (m *merger) property(n string) string {
	path := m.at
	if n != "" {
		path = append(slices.Clip(path), n)
	}
	return clip(strings.Join(path, "."))
}

func typeString(t any) string { return strings.Join(typeList(t), ", ") }

// mergePair merges two schemas that must both hold.
func (m *merger) mergePair(a, b any, depth int) any {
	switch {
	case isTrue(a):
		return b
	case isTrue(b):
		return a
	case a == false || b == false:
		return false
	}
	if depth <= maxMergeDepth {
		if out, ok := m.mergeParts([]any{a, b}, false, depth+1); ok {
			m.made = append(m.made, out)
			return out
		}
	}
	out := map[string]any{"allOf": []any{a, b}}
	m.made = append(m.made, out)
	return out
}

// isTrue reports whether a schema accepts everything: true, or {}.
func isTrue(s any) bool {
	if s == true {
		return true
	}
	m, ok := s.(map[string]any)
	return ok && len(m) == 0
}

// Keywords merged as one: they depend on each other within a schema.
var mergeGroups = [][]string{
	{"properties", "patternProperties", "additionalProperties"},
	{"prefixItems", "items"},
	{"contains", "minContains", "maxContains"},
	{"if", "then", "else"},
}

// into merges schema object s into out and returns the keywords of s it
// could not merge (out is left without them).
func (m *merger) into(out, s map[string]any, depth int) (left map[string]any) {
	keep := func(k string, v any) {
		if left == nil {
			left = make(map[string]any)
		}
		left[k] = v
	}
	handled := make([]bool, len(mergeGroups)) // groups of s merged already
	for _, k := range slices.Sorted(maps.Keys(s)) {
		v := s[k]
		switch k {
		case "allOf":
			// Merged already where it could be: what is left joins the
			// caller's allOf.
		case "type":
			out[k], _ = intersectTypes(out[k], v) // mergeParts checked they meet
		case "title", "description", "default":
			if _, has := out[k]; !has {
				out[k] = v
			}
		case "deprecated", "uniqueItems":
			if v == true {
				out[k] = true
			}
		case "required":
			out[k] = unionNames(out[k], v)
		case "enum":
			if e, ok := intersectEnums(out[k], v); ok {
				out[k] = e
			} else {
				keep(k, v)
			}
		case "minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties":
			if !bound(out, k, v, true) {
				keep(k, v)
			}
		case "maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties":
			if !bound(out, k, v, false) {
				keep(k, v)
			}
		case "propertyNames":
			if o, has := out[k]; has {
				out[k] = m.mergePair(o, v, depth)
			} else {
				out[k] = v
			}
		case "dependentRequired":
			out[k] = unionMap(out[k], v, func(a, b any) any { return unionNames(a, b) })
		case "dependentSchemas":
			out[k] = unionMap(out[k], v, func(a, b any) any { return m.mergePair(a, b, depth) })
		default:
			for _, k := range m.intoGroup(out, s, k, handled, depth) {
				keep(k, s[k])
			}
		}
	}
	return left
}

// intoGroup merges keyword k of s into out, with the keywords of its
// group (mergeGroups) unless handled says the group was merged already,
// and returns the keywords of s it could not merge.
func (m *merger) intoGroup(out, s map[string]any, k string, handled []bool, depth int) (left []string) {
	g := slices.IndexFunc(mergeGroups, func(g []string) bool { return slices.Contains(g, k) })
	group := []string{k}
	if g >= 0 {
		if handled[g] {
			return nil
		}
		handled[g], group = true, mergeGroups[g]
	}
	merge := m.group
	if g == 0 {
		merge = m.objects
	}
	if merge(out, s, group, depth) {
		return nil
	}
	for _, k := range group {
		if _, has := s[k]; has {
			left = append(left, k)
		}
	}
	return left
}

// group merges keywords that go together (or one keyword alone): copied
// when out has none of them, left as they are when out has the same,
// merged when they are items alone; otherwise false.
func (m *merger) group(out, s map[string]any, group []string, depth int) bool {
	has := false
	for _, g := range group {
		if _, ok := out[g]; ok {
			has = true
		}
	}
	if !has {
		for _, g := range group {
			if x, ok := s[g]; ok {
				out[g] = x
			}
		}
		return true
	}
	if group[0] == "prefixItems" && out["prefixItems"] == nil && s["prefixItems"] == nil {
		out["items"] = m.mergePair(out["items"], s["items"], depth)
		return true
	}
	for _, g := range group {
		if !reflect.DeepEqual(out[g], s[g]) {
			return false
		}
	}
	return true
}

// objects merges the properties, patternProperties and
// additionalProperties of s into out, keeping what additionalProperties
// means (see above). It returns false, leaving out as it was, when it
// cannot do so exactly.
func (m *merger) objects(out, s map[string]any, _ []string, depth int) bool {
	op, _ := out["properties"].(map[string]any)
	sp, _ := s["properties"].(map[string]any)
	opp, _ := out["patternProperties"].(map[string]any)
	spp, _ := s["patternProperties"].(map[string]any)
	oa, oHas := out["additionalProperties"]
	sa, sHas := s["additionalProperties"]
	if out["properties"] == nil && out["patternProperties"] == nil && !oHas {
		for _, g := range mergeGroups[0] {
			if x, ok := s[g]; ok {
				out[g] = x
			}
		}
		return true
	}
	closes := func(has bool, a any) bool { return has && !isTrue(a) }
	oCloses, sCloses := closes(oHas, oa), closes(sHas, sa)
	if (oCloses || sCloses) && (len(opp) > 0 || len(spp) > 0) {
		return false
	}
	forbidden, ok := forbiddenProperties(op, sp, oCloses, sCloses, oa, sa)
	if !ok {
		return false
	}
	if out["properties"] != nil || s["properties"] != nil {
		out["properties"] = m.mergeProperties(op, sp, forbidden, depth)
	}
	if len(spp) > 0 {
		pp := maps.Clone(opp)
		if pp == nil {
			pp = make(map[string]any, len(spp))
		}
		for _, p := range slices.Sorted(maps.Keys(spp)) {
			x := spp[p]
			if o, ok := pp[p]; ok {
				pp[p] = m.mergePair(o, x, depth)
			} else {
				pp[p] = x
			}
		}
		out["patternProperties"] = pp
	}
	switch {
	case !sHas:
	case !oHas:
		out["additionalProperties"] = sa
	default:
		out["additionalProperties"] = m.mergePair(oa, sa, depth)
	}
	return true
}

// forbiddenProperties returns the properties that one side of a merge
// lists and the other side closes with additionalProperties: false. A
// property only one side lists must also match the other side's
// additionalProperties: ok is false when that is a schema (or true closed
// otherwise), which the merge cannot express.
func forbiddenProperties(op, sp map[string]any, oCloses, sCloses bool, oa, sa any) (forbidden []string, ok bool) {
	for _, side := range []struct {
		props, other map[string]any
		closes       bool
		add          any
	}{{sp, op, oCloses, oa}, {op, sp, sCloses, sa}} {
		if !side.closes {
			continue
		}
		for n := range side.props {
			if _, listed := side.other[n]; !listed {
				if side.add != false {
					return nil, false
				}
				forbidden = append(forbidden, n)
			}
		}
	}
	slices.Sort(forbidden)
	return forbidden, true
}

// mergeProperties returns the union of two parts' properties, those both
// list merged, without the forbidden ones (each noted).
func (m *merger) mergeProperties(op, sp map[string]any, forbidden []string, depth int) map[string]any {
	props := make(map[string]any, len(op)+len(sp))
	for n, x := range op {
		props[n] = x
	}
	for _, n := range slices.Sorted(maps.Keys(sp)) { // notes in a stable order
		x := sp[n]
		if o, ok := props[n]; ok {
			m.at = append(m.at, n)
			props[n] = m.mergePair(o, x, depth)
			m.at = m.at[:len(m.at)-1]
		} else {
			props[n] = x
		}
	}
	for _, n := range forbidden {
		delete(props, n)
		m.c.note("%s: property %q of an allOf part is forbidden by another part's additionalProperties: false (as JSON Schema reads it): left out", m.label, m.property(n))
	}
	return props
}

// unionMap merges two objects keyed by property name, combining the values
// both have with both.
func unionMap(a, b any, both func(a, b any) any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok {
		return b
	}
	if !bok {
		return a
	}
	out := maps.Clone(am)
	for _, k := range slices.Sorted(maps.Keys(bm)) {
		v := bm[k]
		if o, ok := out[k]; ok {
			out[k] = both(o, v)
		} else {
			out[k] = v
		}
	}
	return out
}

// typeList reads a type keyword: a name or a list of names.
func typeList(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// intersectTypes returns the types both a and b allow (a absent: b's); ok
// is false when there is none.
func intersectTypes(a, b any) (any, bool) {
	if a == nil {
		return b, true
	}
	at, bt := typeList(a), typeList(b)
	var out []string
	add := func(t string) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, t := range at {
		switch {
		case slices.Contains(bt, t):
			add(t)
		case t == "number" && slices.Contains(bt, "integer"), t == "integer" && slices.Contains(bt, "number"):
			add("integer")
		}
	}
	if len(out) == 0 {
		return nil, false
	}
	return typeValue(out), true
}

// unionNames returns the names of list a, then those of b it lacks.
func unionNames(a, b any) any {
	al, _ := a.([]any)
	bl, _ := b.([]any)
	if al == nil {
		return b
	}
	out := slices.Clone(al)
	for _, n := range bl {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// intersectEnums returns the values of enum a that enum b has (a absent:
// b). ok is false when none is left, or the lists are too long to compare.
func intersectEnums(a, b any) (any, bool) {
	if a == nil {
		return b, true
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if !aok || !bok || len(al)*len(bl) > 10_000 {
		return nil, false
	}
	var out []any
	for _, x := range al {
		if slices.ContainsFunc(bl, func(y any) bool { return reflect.DeepEqual(x, y) }) {
			out = append(out, x)
		}
	}
	return out, len(out) > 0
}

// bound merges a lower (or upper) bound v into out[k]: the larger (or
// smaller) of the two. It returns false when the values cannot be compared.
func bound(out map[string]any, k string, v any, lower bool) bool {
	o, has := out[k]
	if !has {
		out[k] = v
		return true
	}
	c, ok := compareNumbers(o, v)
	if !ok {
		return reflect.DeepEqual(o, v)
	}
	if (lower && c < 0) || (!lower && c > 0) {
		out[k] = v
	}
	return true
}

// compareNumbers compares two numbers the converter writes (float64 bounds,
// uint64 counts).
func compareNumbers(a, b any) (int, bool) {
	if x, ok := a.(uint64); ok {
		if y, ok := b.(uint64); ok {
			return cmpOrdered(x, y), true
		}
	}
	x, ok1 := toFloat(a)
	y, ok2 := toFloat(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return cmpOrdered(x, y), true
}

func cmpOrdered[T uint64 | float64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// nullableInPlace makes merged schema object out, of a 3.0 nullable
// schema, accept null without wrapping it in an anyOf: possible when
// nothing in it but type and enum would refuse null.
func nullableInPlace(out map[string]any) bool {
	for _, k := range []string{"allOf", "anyOf", "oneOf", "not", "if", "const"} {
		if _, ok := out[k]; ok {
			return false
		}
	}
	if t, ok := out["type"]; ok {
		types := typeList(t)
		if !slices.Contains(types, "null") {
			out["type"] = typeValue(append(types, "null"))
		}
	}
	if e, ok := out["enum"].([]any); ok && !slices.Contains(e, nil) {
		out["enum"] = append(slices.Clip(e), nil)
	}
	return true
}
