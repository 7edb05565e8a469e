package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path"
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
	top    []member
	exists map[string]bool     // "kind/name" of every component
	added  map[string][]member // components to add, by kind
	notes  []string
	more   int // notes not kept past maxRefNotes
}

// fixRefs returns the top-level members of the document with every $ref
// resolvable, and what was changed; when nothing needs a change it returns
// top itself. A $ref that takes a parameter, a request body, a response, a
// header, an example, a link, a callback or a path item where it is gets
// a component of that kind; anywhere else it takes a schema.
func fixRefs(top []member) ([]member, []string) {
	f := &refFixer{top: top, exists: make(map[string]bool), added: make(map[string][]member)}
	f.indexComponents()
	counts := make(map[string]int)
	for _, m := range top {
		refValues(m.value, func(ref string) { counts[ref]++ })
	}
	if bytesContain(top, mappingKey) {
		top = f.fixMappings(top)
		f.top = top
	}
	if !f.needsFixing(counts) {
		return top, f.notes
	}
	// Where each $ref is: in places of other kinds than schemas (slots),
	// and, if it occurs more often than there, in schemas.
	inSlots := make(map[string]map[string]int)
	walkSlots(top, func(kind, ref string) ([]byte, bool) {
		if inSlots[ref] == nil {
			inSlots[ref] = make(map[string]int)
		}
		inSlots[ref][kind]++
		return nil, false
	})
	replace := make(map[refUse][]byte) // the new value of a slot's $ref, or of a path item
	schemaRefs := make(map[string]string)
	for _, ref := range slices.Sorted(maps.Keys(counts)) {
		n := 0
		for kind, c := range inSlots[ref] {
			n += c
			if v, change := f.fixSlot(ref, kind); change {
				replace[refUse{ref, kind}] = v
			}
		}
		if counts[ref] > n {
			if to, change := f.fix(ref, "schemas"); change {
				schemaRefs[ref] = to
			}
		}
	}
	top = walkSlots(top, func(kind, ref string) ([]byte, bool) {
		v, ok := replace[refUse{ref, kind}]
		return v, ok
	})
	return f.rewrite(top, schemaRefs), f.notes
}

// bytesContain reports whether any member's value holds b.
func bytesContain(top []member, b []byte) bool {
	for _, m := range top {
		if bytes.Contains(m.value, b) {
			return true
		}
	}
	return false
}

// refUse is a $ref in a place that takes a kind of component.
type refUse struct{ ref, kind string }

// needsFixing reports whether any $ref is other than one to an existing
// component, written plainly.
func (f *refFixer) needsFixing(counts map[string]int) bool {
	for ref := range counts {
		tokens, ok := pointerTokens(strings.TrimPrefix(ref, "#"))
		if !strings.HasPrefix(ref, "#") || !ok || len(tokens) != 3 || tokens[0] != "components" ||
			!f.exists[tokens[1]+"/"+tokens[2]] || "#/components/"+tokens[1]+"/"+escapeToken(tokens[2]) != ref {
			return true
		}
	}
	return false
}

// fixSlot says what a slot of kind holding ref becomes: for a path item,
// the JSON of the path item (nil: it is left out); for the others, the
// JSON string of its new $ref.
func (f *refFixer) fixSlot(ref, kind string) ([]byte, bool) {
	if kind != "pathItems" {
		to, change := f.fix(ref, kind)
		q, _ := json.Marshal(to)
		return q, change
	}
	tokens, ok := pointerTokens(strings.TrimPrefix(ref, "#"))
	if strings.HasPrefix(ref, "#") && ok {
		if value, found := lookupPointer(f.top, tokens); found && isObject(value) {
			return value, true
		}
	}
	f.note("path item $ref %q cannot be followed: its operations are skipped", clip(ref))
	return nil, true
}

// rewrite writes the document with the $refs of schemas replaced and the
// added components added.
func (f *refFixer) rewrite(top []member, schemaRefs map[string]string) []member {
	for kind, add := range f.added {
		for i := range add {
			add[i].value = rewriteRefs(add[i].value, schemaRefs)
		}
		f.added[kind] = add
	}
	out := make([]member, 0, len(top)+1)
	hasComponents := false
	for _, m := range top {
		v := rewriteRefs(m.value, schemaRefs)
		if m.name == "components" {
			hasComponents = true
			v = f.addComponents(v)
		}
		out = append(out, member{m.name, v})
	}
	if !hasComponents && len(f.added) > 0 {
		out = append(out, member{"components", f.addComponents([]byte(`{}`))})
	}
	if f.more > 0 {
		f.notes = append(f.notes, fmt.Sprintf("%d more $refs changed", f.more))
	}
	return out
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

// fix says what to write for one $ref in a place that takes kind: to, and
// whether that is a change.
func (f *refFixer) fix(ref, kind string) (to string, change bool) {
	frag, local := strings.CutPrefix(ref, "#")
	if !local {
		f.note("$ref %q names another document, which toll does not read (bundle the spec, or set allow_external_refs for files in its folder): what uses it is skipped", clip(ref))
		return f.standIn(kind, ref), true
	}
	tokens, ok := pointerTokens(frag)
	if !ok {
		f.note("$ref %q is not a JSON pointer: what uses it is skipped", clip(ref))
		return f.standIn(kind, ref), true
	}
	if len(tokens) == 3 && tokens[0] == "components" && tokens[1] == kind && f.exists[tokens[1]+"/"+tokens[2]] {
		plain := "#/components/" + tokens[1] + "/" + escapeToken(tokens[2])
		return plain, plain != ref
	}
	value, found := lookupPointer(f.top, tokens)
	if !found {
		f.note("$ref %q names nothing in the document: what uses it is skipped", clip(ref))
		return f.standIn(kind, ref), true
	}
	return f.copyOf(kind, "copy of "+clip(strings.Join(tokens, "/")), value), true
}

// copyOf adds a copy of a $ref's target as a component of kind, named
// after what it is (so that a warning about it says), and returns the
// $ref to it.
func (f *refFixer) copyOf(kind, what string, value []byte) string {
	name := f.newName(kind, what)
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
	return f.copyOf(kind, "stand-in for "+clip(ref), []byte(v))
}

// newName returns a component name of kind that no component has: base,
// or base with a number.
func (f *refFixer) newName(kind, base string) string {
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name += " (" + strconv.Itoa(i) + ")"
		}
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
// and calls fn with where that string is and what it says.
func scanRefs(data []byte, fn func(start, end int, ref string)) {
	scanMembers(data, refKey, func(start, end int) {
		if data[start] == '"' {
			if s, err := jsonString(data[start:end]); err == nil {
				fn(start, end, s)
			}
		}
	})
}

// scanMembers finds the members named key (a JSON string, quoted) anywhere
// in JSON data, and calls fn with where each one's value is. A key inside
// a string is escaped there (\"$ref\"), and is not taken for a member.
func scanMembers(data, key []byte, fn func(start, end int)) {
	for i := 0; ; {
		j := bytes.Index(data[i:], key)
		if j < 0 {
			return
		}
		at := i + j
		i = at + len(key)
		if at > 0 && data[at-1] == '\\' {
			continue
		}
		k := skipSpace(data, i)
		if k >= len(data) || data[k] != ':' {
			continue
		}
		start := skipSpace(data, k+1)
		end, err := skipValue(data, start)
		if err != nil {
			return
		}
		fn(start, end)
		if data[start] == '"' {
			i = end // a string holds no member
		}
	}
}

var mappingKey = []byte(`"mapping"`)

// fixMappings drops the entries of discriminator mappings that name
// another document or nothing (kin-openapi would try to follow them; toll
// reads no discriminator): a mapping value is a $ref or a schema name.
func (f *refFixer) fixMappings(top []member) []member {
	out := top
	for i, m := range top {
		var buf []byte
		last := 0
		scanMembers(m.value, mappingKey, func(start, end int) {
			obj := m.value[start:end]
			if !isObject(obj) {
				return
			}
			kept, dropped := f.keptMapping(obj)
			if dropped == 0 {
				return
			}
			buf = append(buf, m.value[last:start]...)
			buf = append(buf, kept...)
			last = end
		})
		if buf != nil {
			if len(out) > 0 && &out[0] == &top[0] {
				out = slices.Clone(top)
			}
			out[i].value = append(buf, m.value[last:]...)
		}
	}
	return out
}

// keptMapping returns a mapping object without its entries that cannot be
// followed, and how many it dropped.
func (f *refFixer) keptMapping(obj []byte) ([]byte, int) {
	dropped := 0
	kept, err := rewriteObject(obj, func(name string, value []byte) ([]byte, error) {
		to, err := jsonString(value)
		if err != nil {
			return value, nil
		}
		if !strings.HasPrefix(to, "#") && (strings.ContainsAny(to, "/#") || slices.Contains([]string{".json", ".yaml", ".yml"}, strings.ToLower(path.Ext(to)))) {
			dropped++
			f.note("discriminator mapping %q → %q dropped: toll does not read another document", clip(name), clip(to))
			return nil, nil
		}
		if tokens, ok := pointerTokens(strings.TrimPrefix(to, "#")); strings.HasPrefix(to, "#") && (!ok || !f.resolves(tokens)) {
			dropped++
			f.note("discriminator mapping %q → %q dropped: it names nothing in the document", clip(name), clip(to))
			return nil, nil
		}
		return value, nil
	})
	if err != nil {
		return obj, 0
	}
	return kept, dropped
}

// resolves reports whether a JSON pointer names something in the document.
func (f *refFixer) resolves(tokens []string) bool {
	if len(tokens) == 3 && tokens[0] == "components" && f.exists[tokens[1]+"/"+tokens[2]] {
		return true
	}
	_, found := lookupPointer(f.top, tokens)
	return found
}
