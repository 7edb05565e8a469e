package catalog

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// builder turns one validated document into an API.
type builder struct {
	doc       *openapi3.T
	opts      Options
	openapi30 bool
	baseURL   string          // Options.BaseURL without a trailing slash
	apiNotes  []string        // warnings about the whole document, in order
	noted     map[string]bool // apiNotes already given
}

// pending is an operation on its way into the API, with what was changed.
type pending struct {
	op    *Operation
	key   string   // "METHOD /path": unique in the document
	notes []string // warnings about this operation
}

func build(ctx context.Context, doc *openapi3.T, source string, opts Options) (*API, error) {
	b := &builder{
		doc:       doc,
		opts:      opts,
		openapi30: doc.IsOpenAPI30(),
		noted:     make(map[string]bool),
	}
	if opts.MaxDescription == 0 {
		b.opts.MaxDescription = defaultMaxDescription
	}
	if opts.BaseURL != "" {
		b.baseURL, _ = absoluteHTTPURL(opts.BaseURL) // checked by Options.check
	}
	api := &API{Source: source}
	if doc.Info != nil {
		api.Title, _ = capRunes(sanitizeLine(doc.Info.Title), maxTitle)
		api.Version, _ = capRunes(sanitizeLine(doc.Info.Version), maxTitle)
	}
	api.Name = opts.Namespace
	if api.Name == "" {
		api.Name = deriveNamespace(api.Title)
	}
	if !b.openapi30 {
		b.noteAPI(fmt.Sprintf("OpenAPI %s is read on a best effort: toll is tested with OpenAPI 3.0", clip(doc.OpenAPI)))
	}

	var ops []*pending
	var skipped []string
	var paths []string
	if doc.Paths != nil {
		paths = slices.Sorted(maps.Keys(doc.Paths.Map()))
	}
	for _, path := range paths {
		item := doc.Paths.Value(path)
		if item == nil {
			continue
		}
		byMethod := item.Operations()
		for _, method := range slices.Sorted(maps.Keys(byMethod)) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			op := byMethod[method]
			if op == nil {
				continue
			}
			p, err := b.operation(api.Name, path, item, method, op)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s %s: skipped: %v", strings.ToUpper(method), pathLabel(path), err))
				continue
			}
			ops = append(ops, p)
		}
	}

	b.name(api.Name, ops)

	api.Warnings = append(api.Warnings, b.apiNotes...)
	api.Warnings = append(api.Warnings, skipped...)
	for _, p := range ops {
		api.Operations = append(api.Operations, p.op)
		for _, n := range p.notes {
			api.Warnings = append(api.Warnings, fmt.Sprintf("%s (%s %s): %s", p.op.Name, p.op.Method, pathLabel(p.op.Path), n))
		}
	}
	return api, nil
}

// noteAPI adds a warning about the whole document, once.
func (b *builder) noteAPI(msg string) {
	if !b.noted[msg] {
		b.noted[msg] = true
		b.apiNotes = append(b.apiNotes, msg)
	}
}

// pathLabel is a path template fit to quote in a warning.
func pathLabel(path string) string {
	s, _ := capRunes(sanitizeLine(path), 120)
	return s
}

// operation describes one operation; an error says why it cannot be a tool.
func (b *builder) operation(namespace, path string, item *openapi3.PathItem, method string, op *openapi3.Operation) (*pending, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	method = strings.ToUpper(method)
	if !methodPattern.MatchString(method) {
		return nil, fmt.Errorf("method %q is not an HTTP method token", clip(method))
	}
	p := &pending{
		key: method + " " + path,
		op: &Operation{
			API:         namespace,
			OperationID: sanitizeLine(op.OperationID),
			Method:      method,
			Path:        path,
		},
	}
	o := p.op
	o.Title, o.Description = b.describe(p, op)
	o.ServerURL = b.serverURL(item, op)

	conv := newSchemaConverter(b.openapi30, true)
	props := make(map[string]any)
	var required []any

	// The request body first: it owns the argument "body".
	if rb := op.RequestBody; rb != nil && rb.Value != nil {
		if mt, media := pickMediaType(rb.Value.Content); media != nil {
			o.Body = &Body{Arg: "body", MediaType: mt, Required: rb.Value.Required}
			props[o.Body.Arg] = describeProperty(conv.convert(media.Schema, 1), rb.Value.Description, false)
			if o.Body.Required {
				required = append(required, o.Body.Arg)
			}
		}
	}

	for _, prm := range b.params(p, item, op) {
		param := Param{Name: prm.Name, In: prm.In, Required: prm.Required || prm.In == openapi3.ParameterInPath}
		param.Style, param.Explode = serialization(prm)
		param.Arg = argFor(p, param, props)
		schema := prm.Schema
		if schema == nil {
			if mt, media := pickMediaType(prm.Content); media != nil {
				param.MediaType, schema = mt, media.Schema
			}
		}
		props[param.Arg] = describeProperty(conv.convert(schema, 1), prm.Description, prm.Deprecated)
		if param.Required {
			required = append(required, param.Arg)
		}
		o.Params = append(o.Params, param)
	}

	root := map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		root["required"] = required
	}
	for _, n := range conv.notes {
		p.notes = append(p.notes, "input schema: "+n)
	}
	if conv.dropped > 0 {
		p.notes = append(p.notes, fmt.Sprintf("input schema: %d more changes not listed", conv.dropped))
	}
	raw, err := marshalSchema(root)
	if err != nil {
		return nil, fmt.Errorf("input schema: %s", oneLine(err.Error()))
	}
	if err := compileSchema(raw); err != nil {
		return nil, fmt.Errorf("input schema does not compile as JSON Schema 2020-12: %s", oneLine(err.Error()))
	}
	o.InputSchema = raw

	if v, ok := op.Extensions["x-payment-info"]; ok {
		price, notes, err := parsePaymentInfo(v)
		if err != nil {
			p.notes = append(p.notes, fmt.Sprintf("x-payment-info: %v; no price is advertised, so toll will not pay for this operation", err))
		} else {
			o.Price = price
			for _, n := range notes {
				p.notes = append(p.notes, "x-payment-info: "+n)
			}
		}
	}
	b.checkSecurity(p, op)
	return p, nil
}

// methodPattern matches the methods toll sends: the fixed ones and the
// additional operations of OpenAPI 3.2, as upper-case letters, digits, '_' and '-'.
var methodPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_-]{0,31}$`)

// checkPath refuses a path template that cannot be part of a URL as written.
func checkPath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path does not start with '/'")
	}
	for _, r := range path {
		if r <= ' ' || r == 0x7f || r == '?' || r == '#' || (r >= 0x80 && sanitizeText(string(r)) == "") {
			return fmt.Errorf("path has the character %q", r)
		}
	}
	return nil
}

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
	if removed > 0 {
		p.notes = append(p.notes, fmt.Sprintf("removed %d line(s) stating a price from the description: the price shown is the one x-payment-info advertises", removed))
	}
	if short, cut := capRunes(desc, b.opts.MaxDescription); cut {
		p.notes = append(p.notes, fmt.Sprintf("description shortened from %d to %d characters", len([]rune(desc)), b.opts.MaxDescription))
		desc = short
	}
	return title, desc
}

// serverURL is where the operation is sent: Options.BaseURL, or the first
// server of the operation, its path item or the document, with its
// variables set to their defaults.
func (b *builder) serverURL(item *openapi3.PathItem, op *openapi3.Operation) string {
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
	if len(servers) == 0 || servers[0] == nil {
		b.noteAPI("the document names no server: operations have no server URL (set a base URL)")
		return ""
	}
	s := servers[0]
	raw := s.URL
	for _, name := range slices.Sorted(maps.Keys(s.Variables)) {
		if v := s.Variables[name]; v != nil {
			raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
		}
	}
	u, err := absoluteHTTPURL(raw)
	if err != nil {
		b.noteAPI(fmt.Sprintf("server URL not usable: %v; operations using it have no server URL (set a base URL)", err))
		return ""
	}
	return u
}

// httpToken matches an HTTP token (RFC 9110), which header and cookie names
// must be.
var httpToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// ignoredHeaders are header parameters OpenAPI says to ignore: the client
// sets them itself.
var ignoredHeaders = []string{"accept", "content-type", "authorization"}

// params merges the path item's parameters with the operation's (which
// override those with the same name and location) and orders them by
// location: path, query, header, cookie, each in declaration order.
func (b *builder) params(p *pending, item *openapi3.PathItem, op *openapi3.Operation) []*openapi3.Parameter {
	var merged []*openapi3.Parameter
	index := make(map[string]int)
	add := func(refs openapi3.Parameters) {
		for _, ref := range refs {
			if ref == nil || ref.Value == nil {
				continue
			}
			prm := ref.Value
			key := prm.In + "\x00" + prm.Name
			if prm.In == openapi3.ParameterInHeader {
				key = prm.In + "\x00" + strings.ToLower(prm.Name)
			}
			if i, ok := index[key]; ok {
				merged[i] = prm
				continue
			}
			index[key] = len(merged)
			merged = append(merged, prm)
		}
	}
	add(item.Parameters)
	add(op.Parameters)

	kept := merged[:0]
	for _, prm := range merged {
		switch {
		case locationRank(prm.In) < 0:
			p.notes = append(p.notes, fmt.Sprintf("parameter %q in %q left out: toll sends path, query, header and cookie parameters", clip(prm.Name), clip(prm.In)))
		case prm.In == openapi3.ParameterInHeader && slices.Contains(ignoredHeaders, strings.ToLower(prm.Name)):
			p.notes = append(p.notes, fmt.Sprintf("header parameter %q left out: OpenAPI says to ignore it", clip(prm.Name)))
		case (prm.In == openapi3.ParameterInHeader || prm.In == openapi3.ParameterInCookie) && !httpToken.MatchString(prm.Name):
			p.notes = append(p.notes, fmt.Sprintf("%s parameter %q left out: not a valid %s name", prm.In, clip(prm.Name), prm.In))
		default:
			kept = append(kept, prm)
		}
	}
	slices.SortStableFunc(kept, func(a, b *openapi3.Parameter) int {
		return locationRank(a.In) - locationRank(b.In)
	})
	return kept
}

func locationRank(in string) int {
	switch in {
	case openapi3.ParameterInPath:
		return 0
	case openapi3.ParameterInQuery:
		return 1
	case openapi3.ParameterInHeader:
		return 2
	case openapi3.ParameterInCookie:
		return 3
	}
	return -1
}

// argFor chooses the argument name of a parameter: its own name when that is
// a valid property name not yet taken, else a cleaned name, else the
// location and the name ("header_X-Id"), numbered if need be.
func argFor(p *pending, param Param, taken map[string]any) string {
	arg := argName(param.Name)
	if _, ok := taken[arg]; !ok {
		if arg != param.Name {
			p.notes = append(p.notes, fmt.Sprintf("%s parameter %q is the argument %q", param.In, clip(param.Name), arg))
		}
		return arg
	}
	base := argName(param.In + "_" + param.Name)
	arg = base
	for k := 2; ; k++ {
		if _, ok := taken[arg]; !ok {
			break
		}
		suffix := "_" + strconv.Itoa(k)
		arg = base[:min(len(base), maxArg-len(suffix))] + suffix
	}
	p.notes = append(p.notes, fmt.Sprintf("%s parameter %q is the argument %q: its name is taken by another argument", param.In, clip(param.Name), arg))
	return arg
}

// serialization fills in OpenAPI's defaults for style and explode.
func serialization(prm *openapi3.Parameter) (string, bool) {
	style := prm.Style
	if style == "" {
		style = openapi3.SerializationSimple
		if prm.In == openapi3.ParameterInQuery || prm.In == openapi3.ParameterInCookie {
			style = openapi3.SerializationForm
		}
	}
	explode := style == openapi3.SerializationForm
	if prm.Explode != nil {
		explode = *prm.Explode
	}
	return style, explode
}

// describeProperty puts a parameter's or body's description (and
// deprecation) on its converted schema.
func describeProperty(schema any, description string, deprecated bool) any {
	d, _ := stripPriceLines(sanitizeText(description))
	d, _ = capRunes(d, maxSchemaText)
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

// checkSecurity warns when the operation needs credentials toll does not
// send (x402 needs none).
func (b *builder) checkSecurity(p *pending, op *openapi3.Operation) {
	reqs := b.doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return
	}
	var names []string
	for _, r := range reqs {
		if len(r) == 0 {
			return // one alternative needs nothing
		}
		for name := range r {
			if !slices.Contains(names, clip(name)) {
				names = append(names, clip(name))
			}
		}
	}
	slices.Sort(names)
	p.notes = append(p.notes, fmt.Sprintf("needs credentials (%s) that toll does not send; calls may be refused", strings.Join(names, ", ")))
}

// name gives every operation its tool name: namespace_operationId, or
// namespace_method_path without one; shortened with a hash when longer than
// 48 characters; suffixed with a hash of method and path when several
// operations would share it.
func (b *builder) name(namespace string, ops []*pending) {
	names := make([]string, len(ops))
	keys := make([]string, len(ops))
	for i, p := range ops {
		base := baseToolName(namespace, p.op.OperationID, p.op.Method, p.op.Path)
		names[i] = fitToolName(base)
		keys[i] = p.key
		if names[i] != base {
			p.notes = append(p.notes, fmt.Sprintf("tool name shortened from %s", base))
		}
	}
	renamed := uniqueToolNames(names, keys)
	for i, p := range ops {
		p.op.Name = names[i]
		if renamed[i] {
			p.notes = append(p.notes, "tool name suffixed: another operation has the same name")
		}
	}
}
