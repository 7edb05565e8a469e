package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// Loading on demand (Options.OnDemand). A model that searches a large
// catalog sees, of each operation, its name, title, description, method,
// path and price; it needs the arguments of the few it describes or calls.
// So a JSON OpenAPI 3 document is listed from a light read: the scanner
// decodes, of each operation, only the members those fields come from (no
// parameters, request bodies, responses or components), and the ordinary
// build makes the listing from that, so that names,
// titles, descriptions and prices are those a full build gives. The
// document is not kept: when Operation.Complete asks for an operation, the
// document is read again and narrowed to that one operation and what it
// refers to, and that narrowed document is built as any other. The work of
// resolving $refs (refwork.go) is then bounded per operation built, not per
// document.

// Deferred is what an operation listed with Options.OnDemand needs to be
// built whole (see Operation.Complete).
type Deferred struct {
	doc    *deferredDoc
	method string // as in Operation.Method
	path   string

	mu   sync.Mutex
	full *Operation // built, once
}

// deferredDoc is the document of operations listed on demand.
type deferredDoc struct {
	mu   sync.Mutex // one operation of the document built at a time: each reads it whole
	read func(ctx context.Context) ([]byte, error)
	o    origin
	opts Options // with the namespace the API was given
}

// Complete returns the operation with its parameters, request body and
// input schema. An operation loaded whole is returned as it is; one listed
// with Options.OnDemand is built from its document the first time, and that
// build is kept. The operation built is the one a load without OnDemand
// gives, with the name and price of the listing (LoadAll may have suffixed
// the name, and an entry's pay_to pins the price). An error says why the
// operation cannot be a tool (a full load leaves it out with that warning),
// or that its document can no longer be read.
func (o *Operation) Complete(ctx context.Context) (*Operation, error) {
	d := o.Deferred
	if d == nil {
		return o, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full != nil {
		return d.full, nil
	}
	full, err := d.build(ctx)
	if err != nil {
		return nil, fmt.Errorf("build %s (%s %s): %w", o.Name, o.Method, pathLabel(o.Path), err)
	}
	full.Name, full.Price = o.Name, o.Price
	d.full = full
	return full, nil
}

// build reads the document again and builds the operation from the
// document narrowed to it.
func (d *Deferred) build(ctx context.Context) (*Operation, error) {
	doc := d.doc
	doc.mu.Lock()
	defer doc.mu.Unlock()
	data, err := doc.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s again: %w", sanitizeLine(doc.o.source), err)
	}
	_, top := sniff(data)
	if top == nil {
		return nil, fmt.Errorf("%s is no longer a JSON document: restart toll to load it again", sanitizeLine(doc.o.source))
	}
	narrowed, found := narrow(top, d.path, d.method)
	if !found {
		return nil, fmt.Errorf("%s no longer has this operation: restart toll to load it again", sanitizeLine(doc.o.source))
	}
	opts := doc.opts
	opts.OnDemand = false
	o := doc.o
	o.one = true
	if bytes.Contains(data, []byte(`"#/paths/`)) {
		// Its $refs reach into other paths, which narrowing drops: the
		// whole document is built, and the operation taken from it.
		narrowed, o.one = top, false
	}
	p, err := prepare(ctx, writeObject(narrowComponents(narrowed)), o, opts)
	if err != nil {
		return nil, err
	}
	api, err := p.build(ctx, opts.Namespace)
	if err != nil {
		return nil, err
	}
	for _, op := range api.Operations {
		if op.Method == d.method && op.Path == d.path {
			return op, nil
		}
	}
	label := d.method + " " + pathLabel(d.path) + ": "
	for _, w := range api.Warnings {
		if why, ok := strings.CutPrefix(w, label); ok {
			return nil, errors.New(why)
		}
	}
	return nil, errors.New("the build left it out")
}

// writeObject writes members as a JSON object.
func writeObject(ms []member) []byte {
	var buf bytes.Buffer
	w := objectWriter{buf: &buf}
	w.open()
	for _, m := range ms {
		w.member(m.name, m.value)
	}
	w.close()
	return buf.Bytes()
}

// operationKeys are the members of a path item that are operations
// (OpenAPI 3.2 adds query; additionalOperations holds others).
var operationKeys = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true, "options": true,
	"head": true, "patch": true, "trace": true, "connect": true, "query": true,
}

// narrow returns the top-level members of a document with its paths
// reduced to one path item, and that item to one operation (its other
// members, such as the parameters of every operation, stay). found is false
// when the document has no such operation.
func narrow(top []member, path, method string) (out []member, found bool) {
	out = make([]member, 0, len(top))
	for _, m := range top {
		if m.name != "paths" || !isObject(m.value) {
			out = append(out, m)
			continue
		}
		var item []byte
		_ = members(m.value, func(name string, value []byte) error {
			if name == path {
				item = value
			}
			return nil
		})
		if item == nil || !isObject(item) {
			return nil, false
		}
		var buf bytes.Buffer
		w := objectWriter{buf: &buf}
		w.open()
		_ = members(item, func(name string, value []byte) error {
			switch {
			case operationKeys[name] && !strings.EqualFold(name, method):
			case name == "additionalOperations" && isObject(value):
				var ab bytes.Buffer
				aw := objectWriter{buf: &ab}
				aw.open()
				_ = members(value, func(name string, op []byte) error {
					if strings.EqualFold(name, method) {
						aw.member(name, op)
						found = true
					}
					return nil
				})
				aw.close()
				w.member(name, ab.Bytes())
			default:
				found = found || operationKeys[name]
				w.member(name, value)
			}
			return nil
		})
		w.close()
		var pb bytes.Buffer
		pw := objectWriter{buf: &pb}
		pw.open()
		pw.member(path, buf.Bytes())
		pw.close()
		out = append(out, member{m.name, pb.Bytes()})
	}
	return out, found
}

// narrowedKinds are the kinds of component a document narrowed to one
// operation keeps only where that operation refers to them (prune keeps
// the schemas they reach; the others kinds are kept whole).
var narrowedKinds = map[string]bool{
	"parameters": true, "requestBodies": true, "responses": true, "headers": true,
	"examples": true, "links": true, "callbacks": true, "pathItems": true,
}

// narrowComponents drops the components of narrowedKinds that the paths
// (narrowed to one operation) do not refer to, directly or through other
// such components: a component request body of another operation would
// otherwise keep every schema it reaches.
func narrowComponents(top []member) []member {
	byKind := make(map[string]map[string][]byte)
	var comps []member
	var queue [][]byte
	for _, m := range top {
		switch {
		case m.name == "components" && isObject(m.value):
			_ = members(m.value, func(kind string, value []byte) error {
				comps = append(comps, member{kind, value})
				if !narrowedKinds[kind] {
					queue = append(queue, value) // schemas may refer to the others
				}
				if narrowedKinds[kind] && isObject(value) {
					byKind[kind] = make(map[string][]byte)
					_ = members(value, func(name string, v []byte) error {
						byKind[kind][name] = v
						return nil
					})
				}
				return nil
			})
		case m.name != "components":
			queue = append(queue, m.value)
		}
	}
	if comps == nil {
		return top
	}
	keep := make(map[string]map[string]bool)
	for len(queue) > 0 {
		data := queue[0]
		queue = queue[1:]
		localRefs(data, func(ref string) {
			rest, ok := strings.CutPrefix(ref, "#/components/")
			if !ok {
				return
			}
			kind, name, _ := strings.Cut(rest, "/")
			name = refTarget("#/"+name, "#/")
			v, known := byKind[kind][name]
			if !known || keep[kind][name] {
				return
			}
			if keep[kind] == nil {
				keep[kind] = make(map[string]bool)
			}
			keep[kind][name] = true
			queue = append(queue, v)
		})
	}
	var cb bytes.Buffer
	cw := objectWriter{buf: &cb}
	cw.open()
	for _, c := range comps {
		if byKind[c.name] == nil {
			cw.member(c.name, c.value)
			continue
		}
		var kb bytes.Buffer
		kw := objectWriter{buf: &kb}
		kw.open()
		_ = members(c.value, func(name string, v []byte) error {
			if keep[c.name][name] {
				kw.member(name, v)
			}
			return nil
		})
		kw.close()
		cw.member(c.name, kb.Bytes())
	}
	cw.close()
	out := make([]member, 0, len(top))
	for _, m := range top {
		if m.name == "components" && isObject(m.value) {
			m = member{m.name, cb.Bytes()}
		}
		out = append(out, m)
	}
	return out
}

// listable reports whether a document can be listed from a light read:
// JSON OpenAPI 3 whose operations sit in its paths (no path item is a
// $ref) and whose $refs are all local. (A document whose $refs reach into
// its paths is listed too, and built whole when an operation is asked for.)
func listable(data []byte, kind specKind, top []member, opts Options) bool {
	return kind == kindOpenAPI && top != nil && !opts.AllowExternalRefs
}

// prepareListed reads a document for a listing on demand (see above): the
// returned build lists its operations, each with a Deferred that builds it
// from what read returns. ok is false when the document cannot be listed
// that way (see listable); it is then prepared whole.
func prepareListed(ctx context.Context, top []member, o origin, opts Options, read func(context.Context) ([]byte, error)) (p *prepared, ok bool, err error) {
	light := make([]member, 0, len(top))
	var paths []byte
	for _, m := range top {
		switch m.name {
		case "paths":
			paths = m.value
		case "components", "webhooks", "tags", "externalDocs":
		default:
			light = append(light, m)
		}
	}
	doc, notes, err := decodeJSON(ctx, light)
	if err != nil || len(notes) > 0 || !openAPI3.MatchString(doc.OpenAPI) {
		return nil, false, nil // the full read says what is wrong
	}
	if paths != nil {
		if doc.Paths, ok = lightPaths(paths); !ok {
			return nil, false, nil
		}
	}
	d := &document{doc: doc, format: "OpenAPI " + clip(doc.OpenAPI)}
	title := ""
	if doc.Info != nil {
		title, _ = capRunes(sanitizeLine(doc.Info.Title), maxTitle)
	}
	return &prepared{source: o.source, title: title, build: func(ctx context.Context, ns string) (*API, error) {
		opts.Namespace = ns
		return buildListed(ctx, d, o, opts, read)
	}}, true, nil
}

// buildListed builds the listing of a light document: each operation
// without its parameters, body and input schema, and with a Deferred.
func buildListed(ctx context.Context, d *document, o origin, opts Options, read func(context.Context) ([]byte, error)) (*API, error) {
	lopts := opts
	lopts.SkipSchemaCompile = true
	api, err := buildAs(ctx, d, o, lopts, true)
	if err != nil {
		return nil, err
	}
	dd := &deferredDoc{read: read, o: o, opts: opts}
	for _, op := range api.Operations {
		op.Params, op.Body, op.InputSchema = nil, nil, nil
		op.Deferred = &Deferred{doc: dd, method: op.Method, path: op.Path}
	}
	return api, nil
}

// lightPaths decodes, of a paths object, what a listing reads: of each
// path item its operations, servers, summary and description; of each
// operation the members lightOperation reads. It walks the object once,
// skipping the rest (parameters, bodies, responses) where it meets them.
// ok is false when a path item is a $ref or something is not of the form
// kin-openapi would decode: the document is then loaded whole, which says
// what is wrong.
func lightPaths(paths []byte) (out *openapi3.Paths, ok bool) {
	out = openapi3.NewPaths()
	end, err := walkObject(paths, skipSpace(paths, 0), func(path string, i int) (int, error) {
		if strings.HasPrefix(path, "x-") {
			return skipValue(paths, i) // extensions of the paths object: toll reads none
		}
		pi, end, err := lightPathItem(paths, i)
		if err == nil {
			out.Set(path, pi)
		}
		return end, err
	})
	return out, err == nil && trailing(paths, end) == nil
}

// errNotLight says that a document cannot be listed from a light read.
var errNotLight = errors.New("not for a light read")

// walkObject calls fn with the name of each member of the JSON object at
// data[i] and the index of its value; fn returns the index after the
// value. walkObject returns the index after the object.
func walkObject(data []byte, i int, fn func(name string, i int) (int, error)) (int, error) {
	if i >= len(data) || data[i] != '{' {
		return 0, errNotLight
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return 0, fmt.Errorf("%w: expected a member name at byte %d", errScan, i)
		}
		end, err := skipString(data, i)
		if err != nil {
			return 0, err
		}
		name, err := jsonString(data[i:end])
		if err != nil {
			return 0, fmt.Errorf("%w: %v", errScan, err)
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return 0, fmt.Errorf("%w: expected ':' at byte %d", errScan, i)
		}
		if i, err = fn(name, skipSpace(data, i+1)); err != nil {
			return 0, err
		}
		i = skipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' {
			return i + 1, nil
		}
		return 0, fmt.Errorf("%w: expected ',' or '}' at byte %d", errScan, i)
	}
}

// decodeAt decodes the JSON value at data[i] into v, and returns the index
// after it.
func decodeAt(data []byte, i int, v any) (int, error) {
	end, err := skipValue(data, i)
	if err != nil {
		return 0, err
	}
	return end, json.Unmarshal(data[i:end], v)
}

// textAt decodes the JSON string at data[i] (see jsonText).
func textAt(data []byte, i int, s *string) (int, error) {
	end, err := skipValue(data, i)
	if err != nil {
		return 0, err
	}
	*s, err = jsonText(data[i:end])
	return end, err
}

func lightPathItem(data []byte, i int) (*openapi3.PathItem, int, error) {
	pi := &openapi3.PathItem{}
	end, err := walkObject(data, i, func(name string, i int) (int, error) {
		switch {
		case name == "$ref":
			return 0, errNotLight
		case operationKeys[name]:
			op, end, err := lightOperation(data, i)
			if err == nil {
				pi.SetOperation(strings.ToUpper(name), op)
			}
			return end, err
		case name == "additionalOperations":
			pi.AdditionalOperations = make(map[string]*openapi3.Operation)
			return walkObject(data, i, func(method string, i int) (int, error) {
				op, end, err := lightOperation(data, i)
				pi.AdditionalOperations[method] = op
				return end, err
			})
		case name == "servers":
			return decodeAt(data, i, &pi.Servers)
		case name == "summary":
			return textAt(data, i, &pi.Summary)
		case name == "description":
			return textAt(data, i, &pi.Description)
		}
		return skipValue(data, i)
	})
	return pi, end, err
}

// lightOperation decodes the members of the operation at data[i] a
// listing reads: its identity, texts, tags, servers, security, extensions,
// and whether it declares a 402 response.
func lightOperation(data []byte, i int) (*openapi3.Operation, int, error) {
	op := &openapi3.Operation{}
	end, err := walkObject(data, i, func(name string, i int) (int, error) {
		switch {
		case name == "operationId":
			return textAt(data, i, &op.OperationID)
		case name == "summary":
			return textAt(data, i, &op.Summary)
		case name == "description":
			return textAt(data, i, &op.Description)
		case name == "deprecated":
			return decodeAt(data, i, &op.Deprecated)
		case name == "tags":
			return decodeAt(data, i, &op.Tags)
		case name == "servers":
			op.Servers = &openapi3.Servers{}
			return decodeAt(data, i, op.Servers)
		case name == "security":
			op.Security = &openapi3.SecurityRequirements{}
			return decodeAt(data, i, op.Security)
		case name == "responses":
			// Whether they declare a 402 response is all a listing
			// reads of them (it marks the operation as paid).
			end, err := skipValue(data, i)
			if err == nil && declares402Raw(data[i:end]) {
				op.Responses = openapi3.NewResponses(openapi3.WithStatus(402, &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription("")}))
			}
			return end, err
		case readExtension(name): // the others are skipped
			var v any
			end, err := decodeAt(data, i, &v)
			if op.Extensions == nil {
				op.Extensions = make(map[string]any)
			}
			op.Extensions[name] = v
			return end, err
		}
		return skipValue(data, i)
	})
	return op, end, err
}

// jsonText decodes a JSON string (or null) as encoding/json does, without
// its reflection where the string needs no unescaping.
func jsonText(value []byte) (string, error) {
	if len(value) >= 2 && value[0] == '"' && bytes.IndexByte(value, '\\') < 0 && utf8.Valid(value) && !hasControl(value) {
		return string(value[1 : len(value)-1]), nil
	}
	var s string
	err := json.Unmarshal(value, &s)
	return s, err
}

// hasControl reports whether b holds a control character, which a JSON
// string may not hold unescaped.
func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}
