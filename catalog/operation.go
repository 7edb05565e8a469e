package catalog

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// operation describes one operation; an error says why it cannot be a tool.
// It only reads the builder: what it would say about the whole API goes in
// pending.apiNotes.
func (b *builder) operation(namespace string, e entry, st *opState) (*pending, error) {
	path, item, method, op := e.path, e.item, e.method, e.op
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if !methodPattern.MatchString(method) {
		return nil, fmt.Errorf("method %q is not an HTTP method token", clip(method))
	}
	p := &pending{
		key: e.key,
		op: &Operation{
			API:         namespace,
			OperationID: sanitizeLine(op.OperationID),
			Method:      method,
			Path:        path,
		},
		notes: e.pnotes,
	}
	o := p.op
	op = b.bazaarOperation(p, item, op, st)
	o.Title, o.Description = b.describe(p, op)
	o.ServerURL = b.serverURL(p, item, op)
	for _, t := range op.Tags {
		if t, _ = capRunes(sanitizeLine(t), 64); t != "" && !slices.Contains(o.Tags, t) {
			o.Tags = append(o.Tags, t)
		}
	}

	o.Credentials = slices.Clone(b.opts.Credentials)
	if !b.light {
		if err := b.arguments(p, item, op, st); err != nil {
			return nil, err
		}
	}

	b.price(p, e)
	o.AllowInsecureHTTP = b.opts.AllowInsecureHTTP
	noteClearText(p)
	b.checkSecurity(p, op)
	return p, nil
}

// arguments writes the operation's parameters, body and input schema; an
// error says why it cannot be a tool.
func (b *builder) arguments(p *pending, item *openapi3.PathItem, op *openapi3.Operation, st *opState) error {
	if ref, ok := unresolvedPart(item, op); ok {
		return fmt.Errorf("its $ref %q cannot be followed", clip(ref))
	}
	conv := b.newConverter(st)
	args := arguments{props: make(map[string]any)}
	b.bodyArgument(p, op, conv, &args)
	if err := b.paramArguments(p, item, op, conv, &args); err != nil {
		return err
	}
	p.notes = append(p.notes, encodingNotes(p.op)...)
	if len(conv.unresolved) > 0 {
		return fmt.Errorf("its input schema reaches the $ref %q, which cannot be followed", clip(conv.unresolved[0]))
	}
	raw, err := args.schema(p, conv, st.checker)
	if err != nil {
		return err
	}
	p.op.InputSchema = raw
	return nil
}

// unresolvedPart returns the $ref of a parameter or request body of the
// operation that stands in for one that cannot be followed (see fixRefs).
func unresolvedPart(item *openapi3.PathItem, op *openapi3.Operation) (string, bool) {
	for _, refs := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, r := range refs {
			if r != nil && r.Value != nil {
				if ref, ok := r.Value.Extensions[unresolvedKey]; ok {
					return fmt.Sprint(ref), true
				}
			}
		}
	}
	if rb := op.RequestBody; rb != nil && rb.Value != nil {
		if ref, ok := rb.Value.Extensions[unresolvedKey]; ok {
			return fmt.Sprint(ref), true
		}
	}
	return "", false
}

// noteClearText warns about a priced operation sent over plain http to
// another machine: its payment header would travel in clear text, and
// whoever reads it on the way can settle the authorization and withhold the
// response. toll refuses to pay it unless the API's entry allows it.
func noteClearText(p *pending) {
	o := p.op
	if o.Price == nil || !InsecureHTTP(o.ServerURL) {
		return
	}
	if o.AllowInsecureHTTP {
		p.notes = append(p.notes, fmt.Sprintf("paid over plain http to another machine (%s), as allow_insecure_http says: its payment header travels in clear text", clip(o.ServerURL)))
		return
	}
	p.notes = append(p.notes, fmt.Sprintf("toll refuses to pay it: %s is plain http to another machine, where a payment header travels in clear text and whoever reads it can settle it; "+
		"use an https base_url, or set allow_insecure_http: true on the API if the network path is trusted", clip(o.ServerURL)))
}

// arguments are the properties of an input schema in the making, and
// those required.
type arguments struct {
	props    map[string]any
	required []any
}

// bodyArgument adds the request body, if the operation has one toll can
// send, as the argument "body". It comes first: it owns that name.
func (b *builder) bodyArgument(p *pending, op *openapi3.Operation, conv *schemaConverter, args *arguments) {
	o := p.op
	if rb := op.RequestBody; rb != nil && rb.Value != nil {
		if mt, media := pickMediaType(rb.Value.Content); media != nil {
			o.Body = &Body{Arg: "body", MediaType: mt, Required: rb.Value.Required, Encoding: bodyEncoding(p, mt, media)}
			args.props[o.Body.Arg] = describeProperty(conv, conv.convert(media.Schema, 1), rb.Value.Description, false)
			if o.Body.Required {
				args.required = append(args.required, o.Body.Arg)
			}
		}
	}
}

// schema writes the input schema: an object of the arguments, closed to
// others. It notes on p what the converter changed, and records the root
// with the checker.
func (args arguments) schema(p *pending, conv *schemaConverter, checker *schemaChecker) (json.RawMessage, error) {
	root := map[string]any{
		"type":                 "object",
		"properties":           args.props,
		"additionalProperties": false,
	}
	if len(args.required) > 0 {
		root["required"] = args.required
	}
	for _, n := range conv.notes {
		p.notes = append(p.notes, "input schema: "+n)
	}
	if conv.dropped > 0 {
		p.notes = append(p.notes, fmt.Sprintf("input schema: %d more changes not listed", conv.dropped))
	}
	if len(conv.flags) > 0 {
		p.notes = append(p.notes, flagNote("input schema: a description", conv.flags))
	}
	raw, err := marshalSchema(root)
	if err != nil {
		return nil, fmt.Errorf("input schema: %s", oneLine(err.Error()))
	}
	checker.addRoot(root)
	return raw, nil
}

// methodPattern matches the methods toll sends: the fixed ones and the
// additional operations of OpenAPI 3.2, as upper-case letters, digits, '_' and '-'.
var methodPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_-]{0,31}$`)

// describe writes the title and description of a tool from the summary and
// description of its operation.
func (b *builder) describe(p *pending, op *openapi3.Operation) (title, desc string) {
	summary := sanitizeText(op.Summary)
	if !isPriceLine(summary) {
		title, _ = capRunes(sanitizeLine(summary), maxTitle)
	}
	var parts []string
	if op.Deprecated {
		parts = append(parts, "Deprecated operation.")
	}
	d := sanitizeText(op.Description)
	if summary != "" && !strings.HasPrefix(d, summary) {
		parts = append(parts, summary)
	}
	if d != "" {
		parts = append(parts, d)
	}
	desc, removed := stripPriceLines(strings.Join(parts, "\n\n"))
	if len(removed) > 0 {
		p.notes = append(p.notes, removedNote("the description", removed))
	}
	if short, cut := capRunes(desc, b.opts.MaxDescription); cut {
		p.notes = append(p.notes, fmt.Sprintf("description shortened from %d to %d characters", len([]rune(desc)), b.opts.MaxDescription))
		desc = short
	}
	if b.light {
		return title, desc
	}
	if found := flagText(title + "\n" + desc); len(found) > 0 {
		p.notes = append(p.notes, flagNote("the description", found))
	}
	return title, desc
}

// serverURL is where the operation is sent: Options.BaseURL, or a server
// of the operation, its path item or the document (the first of them that
// lists any), with its variables set to their defaults: the first https
// one, else the first usable one.
func (b *builder) serverURL(p *pending, item *openapi3.PathItem, op *openapi3.Operation) string {
	if b.baseURL != "" {
		return b.baseURL
	}
	servers := b.doc.Servers
	switch {
	case op.Servers != nil && len(*op.Servers) > 0:
		servers = *op.Servers
	case len(item.Servers) > 0:
		servers = item.Servers
	}
	var first string
	var firstErr error
	for _, s := range servers {
		if s == nil {
			continue
		}
		u, err := b.serverOf(s)
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = err
			}
		case strings.HasPrefix(u, "https://"):
			return u
		case first == "":
			first = u
		}
	}
	switch {
	case first != "":
		return first
	case firstErr != nil:
		p.apiNotes = append(p.apiNotes, fmt.Sprintf("server URL not usable: %v; operations using it have no server URL (set a base URL)", firstErr))
	default:
		p.apiNotes = append(p.apiNotes, "the document names no server: operations have no server URL (set a base URL)")
	}
	return ""
}

// serverOf is the absolute URL of one server, its variables set to their
// defaults and a relative URL resolved against the spec's URL.
func (b *builder) serverOf(s *openapi3.Server) (string, error) {
	raw := s.URL
	for _, name := range slices.Sorted(maps.Keys(s.Variables)) {
		if v := s.Variables[name]; v != nil {
			raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
		}
	}
	if b.base != nil {
		if ref, err := url.Parse(raw); err == nil && ref.Scheme == "" && ref.Host == "" {
			raw = b.base.ResolveReference(ref).String()
		}
	}
	return absoluteHTTPURL(raw)
}

// describeProperty puts a parameter's or body's description (and
// deprecation) on its converted schema, as conv writes the texts of schemas.
func describeProperty(conv *schemaConverter, schema any, description string, deprecated bool) any {
	d := conv.text(description)
	if d == "" && !deprecated {
		return schema
	}
	m, ok := schema.(map[string]any)
	if !ok {
		if schema == false {
			return schema
		}
		m = make(map[string]any)
	}
	if d != "" {
		m["description"] = d
	}
	if deprecated {
		m["deprecated"] = true
	}
	return m
}

// pickMediaType chooses which of a body's media types toll sends: JSON
// first, then forms, then text, then the first in sorted order. It returns
// nil when content has no media type.
func pickMediaType(content openapi3.Content) (string, *openapi3.MediaType) {
	var keys []string
	for k, v := range content {
		if v != nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", nil
	}
	slices.Sort(keys)
	rank := func(k string) int {
		base, _, _ := strings.Cut(strings.ToLower(k), ";")
		base = strings.TrimSpace(base)
		switch {
		case base == "application/json":
			return 0
		case strings.HasSuffix(base, "+json") || strings.HasSuffix(base, "/json"):
			return 1
		case base == "application/x-www-form-urlencoded":
			return 2
		case base == "multipart/form-data":
			return 3
		case strings.HasPrefix(base, "text/"):
			return 4
		}
		return 5
	}
	slices.SortStableFunc(keys, func(a, b string) int { return rank(a) - rank(b) })
	return keys[0], content[keys[0]]
}
