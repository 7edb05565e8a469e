package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Before kin-openapi resolves a JSON document's $refs, toll makes every one
// of them resolvable, so that a bad $ref costs the operations that use it,
// never the document (kin-openapi refuses a whole document for one $ref it
// cannot follow):
//   - a $ref to a component ("#/components/schemas/Pet") that exists is
//     left as it is, written in its plain form if it was percent-encoded;
//   - a $ref to anything else that exists (a schema nested in another's
//     "definitions" or "$defs", a schema inside a path) gets a copy of its
//     target as a new component, and points there: kin-openapi follows only
//     $refs to the fields it knows, and reads no percent-encoding;
//   - a $ref that cannot be followed (its target is missing, or it names
//     another file, which toll does not read unless allow_external_refs
//     says so) points to a stand-in component marked unresolvedKey: an
//     operation that reaches one is skipped with a warning naming the $ref.

// unresolvedKey marks a stand-in component; its value is the $ref that
// could not be followed.
const unresolvedKey = "x-toll-unresolved"

// maxRefNotes bounds the warnings about $refs of one document.
const maxRefNotes = 20

// componentKinds are the categories of components.
var componentKinds = []string{"schemas", "parameters", "requestBodies", "responses", "headers", "examples", "links", "callbacks", "securitySchemes"}

// refFixer rewrites the $refs of a document given as its top-level members.
type refFixer struct {
	top     []member
	exists  map[string]bool    // "kind/name" of every component
	replace map[string]string  // a $ref as written → the $ref to write
	added   map[string][]member // components to add, by kind
	slots   map[string]string // a $ref → the kind of component its place takes, where that is not a schema
	notes   []string
	more    int // notes not kept past maxRefNotes
}

// fixRefs returns the top-level members of the document with every $ref
// resolvable, and what was changed; when nothing needs a change it returns
// top itself.
func fixRefs(top []member) ([]member, []string) {
	f := &refFixer{top: top, exists: make(map[string]bool), replace: make(map[string]string), added: make(map[string][]member)}
	f.indexComponents()
	refs := make(map[string]bool)
	for _, m := range top {
		refValues(m.value, func(ref string) { refs[ref] = true })
	}
	f.slots = slotKinds(top)
	for _, ref := range slices.Sorted(func(yield func(string) bool) {
		for r := range refs {
			if !yield(r) {
				return
			}
		}
	}) {
		if to, change := f.fix(ref); change {
			f.replace[ref] = to
		}
	}
	if len(f.replace) == 0 {
		return top, nil
	}
	out := make([]member, 0, len(top)+1)
	hasComponents := false
	for _, m := range top {
		v := rewriteRefs(m.value, f.replace)
		if m.name == "components" {
			hasComponents = true
			v = f.addComponents(v)
		}
		out = append(out, member{m.name, v})
	}
	if !hasComponents {
		out = append(out, member{"components", f.addComponents([]byte(`{}`))})
	}
	if f.more > 0 {
		f.notes = append(f.notes, fmt.Sprintf("%d more $refs changed", f.more))
	}
	return out, f.notes
}

func (f *refFixer) note(format string, args ...any) {
	if len(f.notes) >= maxRefNotes {
		f.more++
		return
	}
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

// indexComponents records the name of every component.
func (f *refFixer) indexComponents() {
	for _, m := range f.top {
		if m.name != "components" || !isObject(m.value) {
			continue
		}
		_ = members(m.value, func(kind string, value []byte) error {
			if isObject(value) {
				_ = members(value, func(name string, _ []byte) error {
					f.exists[kind+"/"+name] = true
					return nil
				})
			}
			return nil
		})
	}
}

// fix says what to write for one $ref: to, and whether that is a change.
func (f *refFixer) fix(ref string) (to string, change bool) {
	frag, local := strings.CutPrefix(ref, "#")
	if !local {
		kind := f.kindOf(ref, nil)
		f.note("$ref %q names another document, which toll does not read (bundle the spec, or set allow_external_refs for files in its folder): what uses it is skipped", clip(ref))
		return f.standIn(kind, ref), true
	}
	tokens, ok := pointerTokens(frag)
	if !ok {
		f.note("$ref %q is not a JSON pointer: what uses it is skipped", clip(ref))
		return f.standIn(f.kindOf(ref, nil), ref), true
	}
	if len(tokens) == 3 && tokens[0] == "components" && f.exists[tokens[1]+"/"+tokens[2]] {
		plain := "#/components/" + tokens[1] + "/" + escapeToken(tokens[2])
		return plain, plain != ref
	}
	kind := f.kindOf(ref, tokens)
	value, found := lookupPointer(f.top, tokens)
	if !found {
		f.note("$ref %q names nothing in the document: what uses it is skipped", clip(ref))
		return f.standIn(kind, ref), true
	}
	return f.copyOf(kind, value), true
}

// copyOf adds a copy of a $ref's target as a component of kind, and returns
// the $ref to it.
func (f *refFixer) copyOf(kind string, value []byte) string {
	name := f.newName(kind, "toll.ref")
	f.added[kind] = append(f.added[kind], member{name, value})
	return "#/components/" + kind + "/" + escapeToken(name)
}

// standIn adds a stand-in component of kind for a $ref that cannot be
// followed, and returns the $ref to it.
func (f *refFixer) standIn(kind, ref string) string {
	q, _ := json.Marshal(ref)
	var v string
	switch kind {
	case "schemas":
		v = `{"` + unresolvedKey + `":` + string(q) + `}`
	case "parameters":
		v = `{"name":"","in":"query","` + unresolvedKey + `":` + string(q) + `}`
	case "requestBodies":
		v = `{"content":{},"` + unresolvedKey + `":` + string(q) + `}`
	case "responses":
		v = `{"description":""}`
	case "headers":
		v = `{"schema":{}}`
	case "securitySchemes":
		v = `{"type":"http","scheme":"unresolved"}`
	default:
		v = `{}`
	}
	return f.copyOf(kind, []byte(v))
}

// newName returns a component name of kind that no component has.
func (f *refFixer) newName(kind, base string) string {
	for i := 1; ; i++ {
		name := base + "." + strconv.Itoa(i)
		if !f.exists[kind+"/"+name] {
			f.exists[kind+"/"+name] = true
			return name
		}
	}
}

// addComponents writes the added components into the components object.
func (f *refFixer) addComponents(data []byte) []byte {
	if !isObject(data) {
		data = []byte(`{}`)
	}
	done := make(map[string]bool)
	out, err := rewriteObject(data, func(kind string, value []byte) ([]byte, error) {
		add := f.added[kind]
		done[kind] = true
		if len(add) == 0 || !isObject(value) {
			return value, nil
		}
		return appendMembers(value, add), nil
	})
	if err != nil {
		return data
	}
	for _, kind := range componentKinds {
		if add := f.added[kind]; len(add) > 0 && !done[kind] {
			out = appendMembers(out, []member{{kind, appendMembers([]byte(`{}`), add)}})
		}
	}
	return out
}

// appendMembers adds members at the end of the JSON object data.
func appendMembers(data []byte, add []member) []byte {
	var buf bytes.Buffer
	w := objectWriter{buf: &buf}
	w.open()
	_ = members(data, func(name string, value []byte) error {
		w.member(name, value)
		return nil
	})
	for _, m := range add {
		w.member(m.name, m.value)
	}
	w.close()
	return buf.Bytes()
}

// pointerTokens splits the fragment of a local $ref into the reference
// tokens of its JSON pointer, percent-decoded (a fragment is part of a URI)
// and unescaped (RFC 6901, https://www.rfc-editor.org/rfc/rfc6901).
func pointerTokens(frag string) ([]string, bool) {
	if frag == "" {
		return nil, true
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, false
	}
	parts := strings.Split(frag[1:], "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		parts[i] = unescapeToken(p)
	}
	return parts, true
}

// escapeToken escapes a reference token for a JSON pointer.
func escapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// lookupPointer returns the value a JSON pointer names in the document.
func lookupPointer(top []member, tokens []string) ([]byte, bool) {
	if len(tokens) == 0 {
		return nil, false // the whole document is no component
	}
	var cur []byte
	for _, m := range top {
		if m.name == tokens[0] {
			cur = m.value
		}
	}
	if cur == nil {
		return nil, false
	}
	for _, tok := range tokens[1:] {
		next, ok := child(cur, tok)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

// child returns the member or element tok of a JSON object or array.
func child(data []byte, tok string) ([]byte, bool) {
	var found []byte
	stop := fmt.Errorf("found")
	if isObject(data) {
		_ = members(data, func(name string, value []byte) error {
			if name == tok {
				found = value
				return stop
			}
			return nil
		})
		return found, found != nil
	}
	n, err := strconv.Atoi(tok)
	if err != nil || n < 0 {
		return nil, false
	}
	i := 0
	_ = elements(data, func(value []byte) error {
		if i == n {
			found = value
			return stop
		}
		i++
		return nil
	})
	return found, found != nil
}

// kindOf says what kind of component a $ref stands for: what its place in
// the document takes (a parameter in a list of parameters), else what its
// target looks like.
func (f *refFixer) kindOf(ref string, tokens []string) string {
	if kind, ok := f.slots[ref]; ok {
		return kind
	}
	if tokens == nil {
		_, frag, _ := strings.Cut(ref, "#")
		tokens, _ = pointerTokens(frag)
	}
	return guessKindTokens(tokens)
}

// slotKinds finds the $refs in the places of a document that take
// parameters, request bodies, responses and headers, and says which.
func slotKinds(top []member) map[string]string {
	kinds := make(map[string]string)
	slot := func(data []byte, kind string) {
		if !isObject(data) {
			return
		}
		_ = members(data, func(name string, value []byte) error {
			if name == "$ref" {
				if ref, err := jsonString(value); err == nil {
					if _, seen := kinds[ref]; !seen {
						kinds[ref] = kind
					}
				}
			}
			return nil
		})
	}
	each := func(data []byte, fn func(name string, value []byte)) {
		if isObject(data) {
			_ = members(data, func(name string, value []byte) error { fn(name, value); return nil })
		}
	}
	params := func(data []byte) { _ = elements(data, func(v []byte) error { slot(v, "parameters"); return nil }) }
	operation := func(data []byte) {
		each(data, func(key string, v []byte) {
			switch key {
			case "parameters":
				params(v)
			case "requestBody":
				slot(v, "requestBodies")
			case "responses":
				each(v, func(_ string, r []byte) { slot(r, "responses") })
			}
		})
	}
	for _, m := range top {
		switch m.name {
		case "paths":
			each(m.value, func(_ string, item []byte) {
				each(item, func(key string, v []byte) {
					switch {
					case key == "parameters":
						params(v)
					case httpMethodKeys[key]:
						operation(v)
					}
				})
			})
		case "components":
			each(m.value, func(kind string, entries []byte) {
				switch kind {
				case "parameters", "requestBodies", "responses", "headers":
					each(entries, func(_ string, e []byte) { slot(e, kind) })
				}
			})
		}
	}
	return kinds
}

// guessKindTokens says what kind of component the target of a JSON
// pointer is: the category it names, else what its last keyword holds
// (".../parameters/0" is a parameter); a schema when nothing says.
func guessKindTokens(tokens []string) string {
	if len(tokens) >= 2 && tokens[0] == "components" && slices.Contains(componentKinds, tokens[1]) {
		if len(tokens) == 3 || tokens[1] != "schemas" {
			return tokens[1]
		}
		return "schemas"
	}
	for i := len(tokens) - 1; i >= 0; i-- {
		switch tokens[i] {
		case "schema", "schemas", "properties", "items", "definitions", "$defs", "allOf", "anyOf", "oneOf", "not", "additionalProperties":
			return "schemas"
		case "parameters":
			if i == len(tokens)-2 {
				return "parameters"
			}
		case "requestBody":
			if i == len(tokens)-1 {
				return "requestBodies"
			}
		case "responses":
			if i == len(tokens)-2 {
				return "responses"
			}
		case "headers":
			if i == len(tokens)-2 {
				return "headers"
			}
		}
	}
	return "schemas"
}

// refValues calls fn with the value of every "$ref" member in the JSON
// data that is a string.
func refValues(data []byte, fn func(ref string)) {
	scanRefs(data, func(_, _ int, ref string) { fn(ref) })
}

// rewriteRefs returns data with the value of every "$ref" member found in
// replace replaced; data itself when none is.
func rewriteRefs(data []byte, replace map[string]string) []byte {
	var out []byte
	last := 0
	scanRefs(data, func(start, end int, ref string) {
		to, ok := replace[ref]
		if !ok {
			return
		}
		if out == nil {
			out = make([]byte, 0, len(data))
		}
		q, _ := json.Marshal(to)
		out = append(out, data[last:start]...)
		out = append(out, q...)
		last = end
	})
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}

var refKey = []byte(`"$ref"`)

// scanRefs finds the "$ref" members of JSON data whose value is a string,
// and calls fn with where that string is and what it says. A "$ref" inside
// a string is escaped there (\"$ref\"), and is not taken for a member.
func scanRefs(data []byte, fn func(start, end int, ref string)) {
	for i := 0; ; {
		j := bytes.Index(data[i:], refKey)
		if j < 0 {
			return
		}
		at := i + j
		i = at + len(refKey)
		if at > 0 && data[at-1] == '\\' {
			continue
		}
		k := skipSpace(data, i)
		if k >= len(data) || data[k] != ':' {
			continue
		}
		start := skipSpace(data, k+1)
		if start >= len(data) || data[start] != '"' {
			continue
		}
		end, err := skipString(data, start)
		if err != nil {
			return
		}
		if s, err := jsonString(data[start:end]); err == nil {
			fn(start, end, s)
		}
		i = end
	}
}
