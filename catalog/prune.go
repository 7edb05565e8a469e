package catalog

import (
	"bytes"
	"encoding/json"
	"strings"
)

// prune drops from an OpenAPI 3 JSON document (given as its top-level
// members) the parts toll never reads, so that kin-openapi decodes and
// validates only the rest: responses (each operation keeps one empty
// default response, which OpenAPI 3.0 requires, and an empty 402 response
// if it declares one), callbacks, webhooks, examples, external docs,
// extensions other than x-payment-info and x-bazaar, and the
// component schemas no parameter or request body reaches. On a large spec
// such as GitHub's this is most of the document.
//
// It returns the top-level members of the pruned document. ok is false when
// pruning would change what toll makes of the document: a local $ref points
// into a part that would be dropped (a path, a response). The caller then
// decodes the document whole.
func prune(top []member) (out []member, ok bool) {
	p := &pruner{keepCategory: make(map[string]bool), keptComps: make(map[string][]byte)}
	kept, err := p.topLevel(top)
	if err != nil {
		return nil, false
	}
	if err := p.indexComponents(); err != nil {
		return nil, false
	}
	// The references of what is kept decide which components stay.
	for _, m := range kept {
		if m.name != "components" {
			p.scan(m.value)
		}
	}
	for _, c := range p.comps {
		switch c.name {
		case "schemas", "parameters", "requestBodies":
			p.scan(p.keptComps[c.name])
		case "headers", "securitySchemes", "pathItems":
			p.scan(c.value)
		}
	}
	p.keepReferredCategories()
	if !p.reachSchemas() || p.giveUp {
		return nil, false
	}
	out = make([]member, 0, len(kept))
	for _, m := range kept {
		if m.name == "components" && isObject(m.value) {
			m = member{m.name, p.components()}
		}
		out = append(out, m)
	}
	return out, true
}

// topLevel prunes the paths and drops the top-level members toll never
// reads. It returns what is kept, and holds the members of components in
// p.comps for indexComponents: the components member is rewritten last,
// by components.
func (p *pruner) topLevel(top []member) ([]member, error) {
	kept := make([]member, 0, len(top))
	for _, m := range top {
		switch {
		case m.name == "paths":
			v, err := p.paths(m.value)
			if err != nil {
				return nil, err
			}
			kept = append(kept, member{m.name, v})
		case m.name == "components":
			if isObject(m.value) {
				err := members(m.value, func(name string, value []byte) error {
					p.comps = append(p.comps, member{name, value})
					return nil
				})
				if err != nil {
					return nil, err
				}
			}
			kept = append(kept, m)
		case m.name == "webhooks", m.name == "externalDocs", strings.HasPrefix(m.name, "x-"):
		default:
			kept = append(kept, m)
		}
	}
	return kept, nil
}

// indexComponents reads the component schemas by name, in order, and
// prunes the component parameters and request bodies.
func (p *pruner) indexComponents() error {
	p.schemas = make(map[string][]byte)
	for _, c := range p.comps {
		switch c.name {
		case "schemas":
			if !isObject(c.value) {
				p.keptComps[c.name] = c.value
				continue
			}
			err := members(c.value, func(name string, value []byte) error {
				if _, dup := p.schemas[name]; !dup {
					p.schemaOrder = append(p.schemaOrder, name)
				}
				p.schemas[name] = value
				return nil
			})
			if err != nil {
				return err
			}
		case "parameters", "requestBodies":
			v, err := p.mapOf(c.value, c.name)
			if err != nil {
				return err
			}
			p.keptComps[c.name] = v
		}
	}
	return nil
}

// keepReferredCategories keeps the droppable kinds of component something
// kept refers to, and what they refer to, until nothing more is added.
func (p *pruner) keepReferredCategories() {
	for changed := true; changed && !p.giveUp; {
		changed = false
		for _, c := range p.comps {
			if droppableComponent(c.name) && p.keepCategory[c.name] {
				if _, done := p.keptComps[c.name]; !done {
					p.keptComps[c.name] = c.value
					p.scan(c.value)
					changed = true
				}
			}
		}
	}
}

// reachSchemas finds the component schemas reached from what is kept,
// through schemas. It returns false when a reference names no schema
// (kin-openapi will say it does not resolve).
func (p *pruner) reachSchemas() bool {
	p.reached = make(map[string]bool)
	queue := p.schemaRefs
	for len(queue) > 0 && !p.giveUp {
		name := queue[0]
		queue = queue[1:]
		if p.reached[name] {
			continue
		}
		raw, found := p.schemas[name]
		if !found {
			return false
		}
		p.reached[name] = true
		p.schemaRefs = nil
		p.scan(raw)
		queue = append(queue, p.schemaRefs...)
	}
	return true
}

// components writes the pruned components object: the schemas reached, the
// pruned parameters and request bodies, the droppable kinds kept, and the
// other kinds as they were; no extensions.
func (p *pruner) components() []byte {
	var cb bytes.Buffer
	cw := objectWriter{buf: &cb}
	cw.open()
	for _, c := range p.comps {
		switch {
		case c.name == "schemas" && isObject(c.value):
			var sb bytes.Buffer
			sw := objectWriter{buf: &sb}
			sw.open()
			for _, name := range p.schemaOrder {
				if p.reached[name] {
					sw.member(name, p.schemas[name])
				}
			}
			sw.close()
			cw.member(c.name, sb.Bytes())
		case p.keptComps[c.name] != nil:
			cw.member(c.name, p.keptComps[c.name])
		case droppableComponent(c.name), strings.HasPrefix(c.name, "x-"):
		default:
			cw.member(c.name, c.value)
		}
	}
	cw.close()
	return cb.Bytes()
}

// droppableComponent reports the component kinds only responses, callbacks
// and examples use.
func droppableComponent(name string) bool {
	switch name {
	case "examples", "responses", "links", "callbacks":
		return true
	}
	return false
}

// httpMethodKeys are the path item keys that hold an operation.
var httpMethodKeys = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true, "options": true,
	"head": true, "patch": true, "trace": true, "query": true,
}

type pruner struct {
	schemaRefs   []string        // component schemas referred to, by name
	keepCategory map[string]bool // droppable component kinds referred to
	giveUp       bool            // a reference into a dropped part

	comps       []member          // the members of components, in order
	schemas     map[string][]byte // the component schemas by name
	schemaOrder []string          // their names in order
	keptComps   map[string][]byte // the components kept other than schemas, pruned, by kind
	reached     map[string]bool   // the component schemas reached from what is kept
}

// scan records the local references in kept JSON.
func (p *pruner) scan(data []byte) {
	localRefs(data, func(ref string) {
		rest, ok := strings.CutPrefix(ref, "#/components/")
		if !ok {
			p.giveUp = true // into paths or elsewhere: do not prune
			return
		}
		kind, _, _ := strings.Cut(rest, "/")
		switch {
		case kind == "schemas":
			p.schemaRefs = append(p.schemaRefs, refTarget(ref, "#/components/schemas/"))
		case droppableComponent(kind):
			p.keepCategory[kind] = true
		}
	})
}

// paths prunes the operations of every path item.
func (p *pruner) paths(data []byte) ([]byte, error) {
	if !isObject(data) {
		return data, nil
	}
	return rewriteObject(data, func(name string, value []byte) ([]byte, error) {
		if !isObject(value) {
			return value, nil
		}
		return rewriteObject(value, func(key string, v []byte) ([]byte, error) {
			switch {
			case httpMethodKeys[key]:
				return p.operation(v)
			case key == "additionalOperations":
				if !isObject(v) {
					return v, nil
				}
				return rewriteObject(v, func(_ string, op []byte) ([]byte, error) { return p.operation(op) })
			case key == "parameters":
				return p.parameters(v)
			case strings.HasPrefix(key, "x-"):
				return nil, nil
			}
			return v, nil
		})
	})
}

// emptyResponses stands in for an operation's responses; paymentResponses
// for those of an operation that declares a 402 response, which marks it as
// paid (see declares402).
var (
	emptyResponses   = []byte(`{"default":{"description":""}}`)
	paymentResponses = []byte(`{"default":{"description":""},"402":{"description":""}}`)
)

// prunedResponses is what stands in for an operation's responses: whether
// they declare a 402 response is all toll reads of them.
func prunedResponses(data []byte) []byte {
	if declares402Raw(data) {
		return paymentResponses
	}
	return emptyResponses
}

// declares402Raw reports whether the JSON responses object data has a
// "402" member.
func declares402Raw(data []byte) bool {
	found := false
	if isObject(data) {
		members(data, func(name string, _ []byte) error {
			found = found || name == "402"
			return nil
		})
	}
	return found
}

func (p *pruner) operation(data []byte) ([]byte, error) {
	if !isObject(data) {
		return data, nil
	}
	return rewriteObject(data, func(key string, v []byte) ([]byte, error) {
		switch {
		case key == "responses":
			return prunedResponses(v), nil
		case key == "callbacks", key == "externalDocs":
			return nil, nil
		case readExtension(key):
			return v, nil
		case strings.HasPrefix(key, "x-"):
			return nil, nil
		case key == "parameters":
			return p.parameters(v)
		case key == "requestBody":
			return p.requestBody(v)
		}
		return v, nil
	})
}

// mapOf prunes components.parameters or components.requestBodies.
func (p *pruner) mapOf(data []byte, kind string) ([]byte, error) {
	if !isObject(data) {
		return data, nil
	}
	return rewriteObject(data, func(_ string, v []byte) ([]byte, error) {
		if kind == "parameters" {
			return p.parameter(v)
		}
		return p.requestBody(v)
	})
}

func (p *pruner) parameters(data []byte) ([]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return data, nil
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	n := 0
	err := elements(data, func(v []byte) error {
		pv, err := p.parameter(v)
		if err != nil {
			return err
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		buf.Write(pv)
		return nil
	})
	buf.WriteByte(']')
	return buf.Bytes(), err
}

// parameter drops a parameter's examples.
func (p *pruner) parameter(data []byte) ([]byte, error) {
	if !isObject(data) {
		return data, nil
	}
	return rewriteObject(data, func(key string, v []byte) ([]byte, error) {
		switch key {
		case "example", "examples":
			return nil, nil
		case "content":
			return p.content(v)
		}
		return v, nil
	})
}

// requestBody drops the examples of a request body's media types.
func (p *pruner) requestBody(data []byte) ([]byte, error) {
	if !isObject(data) {
		return data, nil
	}
	return rewriteObject(data, func(key string, v []byte) ([]byte, error) {
		if key == "content" {
			return p.content(v)
		}
		return v, nil
	})
}

func (p *pruner) content(data []byte) ([]byte, error) {
	if !isObject(data) {
		return data, nil
	}
	return rewriteObject(data, func(_ string, media []byte) ([]byte, error) {
		if !isObject(media) {
			return media, nil
		}
		return rewriteObject(media, func(key string, v []byte) ([]byte, error) {
			if key == "example" || key == "examples" {
				return nil, nil
			}
			return v, nil
		})
	})
}

// rewriteObject copies the JSON object data with each member's value
// replaced by what fn returns for it; nil drops the member.
func rewriteObject(data []byte, fn func(name string, value []byte) ([]byte, error)) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data))
	w := objectWriter{buf: &buf}
	w.open()
	err := members(data, func(name string, value []byte) error {
		v, err := fn(name, value)
		if err != nil {
			return err
		}
		if v != nil {
			w.member(name, v)
		}
		return nil
	})
	w.close()
	return buf.Bytes(), err
}

// objectWriter writes a JSON object member by member.
type objectWriter struct {
	buf *bytes.Buffer
	n   int
}

func (w *objectWriter) open()  { w.buf.WriteByte('{') }
func (w *objectWriter) close() { w.buf.WriteByte('}') }

func (w *objectWriter) member(name string, value []byte) {
	if w.n > 0 {
		w.buf.WriteByte(',')
	}
	w.n++
	plain := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain {
		w.buf.WriteByte('"')
		w.buf.WriteString(name)
		w.buf.WriteByte('"')
	} else {
		q, _ := json.Marshal(name)
		w.buf.Write(q)
	}
	w.buf.WriteByte(':')
	w.buf.Write(value)
}

// readExtension reports whether toll reads an operation's extension: the
// fast path keeps those, and a listing on demand (lazy.go) decodes them.
func readExtension(name string) bool {
	return name == "x-payment-info" || name == "x-bazaar"
}
