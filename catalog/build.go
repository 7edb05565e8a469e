package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tollhq/toll/tools/money"
)

// builder turns one validated document into an API.
type builder struct {
	doc       *openapi3.T
	opts      Options
	openapi30 bool
	base      *url.URL                // the spec's URL: relative server URLs resolve against it; nil for a file
	baseURL   string                  // Options.BaseURL without a trailing slash
	apiNotes  []string                // warnings about the whole document, in order
	noted     map[string]bool         // apiNotes already given
	prices    map[string]money.Amount // Options.Prices by operationKey
	probes    map[string]*ProbedPrice // Options.Probes by operationKey
	credUsed  map[string]int          // credential parameters left out of the arguments, by "in name"
}

// opState is what the operations built by one goroutine share: caches, and
// the schemas to compile.
type opState struct {
	texts   map[string]sanitized
	checker *schemaChecker
}

// sanitized is a schema text after sanitizeText and stripPriceLines.
type sanitized struct {
	text    string
	removed int
}

// entry is an operation of the document on its way to be a tool.
type entry struct {
	path   string
	method string // upper case
	item   *openapi3.PathItem
	op     *openapi3.Operation
	key    string // unique in the API: "METHOD /path" (with the server for discovery)
	price  *Price // a price known from elsewhere than x-payment-info (discovery), or nil
	pnotes []string
}

// pending is an operation on its way into the API, with what was changed.
type pending struct {
	op    *Operation
	key   string   // "METHOD /path": unique in the document
	notes []string // warnings about this operation
	// Said about the whole API while building it, merged in order.
	apiNotes []string
	credUsed []string
}

func newBuilder(doc *openapi3.T, base *url.URL, opts Options) *builder {
	b := &builder{
		doc:       doc,
		opts:      opts,
		openapi30: doc.IsOpenAPI30(),
		base:      base,
		noted:     make(map[string]bool),
		prices:    make(map[string]money.Amount),
		probes:    make(map[string]*ProbedPrice),
		credUsed:  make(map[string]int),
	}
	if opts.MaxDescription == 0 {
		b.opts.MaxDescription = defaultMaxDescription
	}
	if opts.BaseURL != "" {
		b.baseURL, _ = absoluteHTTPURL(opts.BaseURL) // checked by Options.check
	}
	for k, v := range opts.Prices {
		key, _ := operationKey(k) // checked by Options.check
		b.prices[key] = v
	}
	for i := range opts.Probes {
		key, _ := operationKey(opts.Probes[i].Operation)
		b.probes[key] = &opts.Probes[i]
	}
	return b
}

// build turns a parsed document into an API.
func build(ctx context.Context, d *document, o origin, opts Options) (*API, error) {
	doc := d.doc
	b := newBuilder(doc, o.base, opts)
	api := &API{Source: o.source, Format: d.format}
	if doc.Info != nil {
		api.Title, _ = capRunes(sanitizeLine(doc.Info.Title), maxTitle)
		api.Version, _ = capRunes(sanitizeLine(doc.Info.Version), maxTitle)
	}
	api.Name = opts.Namespace
	if api.Name == "" {
		api.Name = deriveNamespace(api.Title)
	}
	for _, n := range d.notes {
		b.noteAPI(n)
	}
	if !b.openapi30 && !strings.HasPrefix(doc.OpenAPI, "3.1") {
		b.noteAPI(fmt.Sprintf("OpenAPI %s is read as OpenAPI 3.1", clip(doc.OpenAPI)))
	}

	var entries []entry
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
			if op := byMethod[method]; op != nil {
				m := strings.ToUpper(method)
				entries = append(entries, entry{path: path, method: m, item: item, op: op, key: m + " " + path})
			}
		}
	}
	if err := b.run(ctx, api, entries); err != nil {
		return nil, err
	}
	return api, nil
}

// run makes the entries tools, in order, and writes the API's operations and
// warnings.
func (b *builder) run(ctx context.Context, api *API, entries []entry) error {
	left := make([]string, len(entries)) // why the filters leave an entry out
	for i, e := range entries {
		if why, out := b.excluded(e); out {
			left[i] = why
		}
	}
	results, checker, err := b.buildAll(ctx, api.Name, entries, left)
	if err != nil {
		return err
	}
	var ops []*pending
	var skipped []string
	for i, r := range results {
		label := entries[i].method + " " + pathLabel(entries[i].path)
		switch {
		case left[i] != "":
			skipped = append(skipped, fmt.Sprintf("%s: left out: %s", label, left[i]))
			continue
		case r.err != nil:
			skipped = append(skipped, fmt.Sprintf("%s: skipped: %v", label, r.err))
			continue
		}
		for _, n := range r.p.apiNotes {
			b.noteAPI(n)
		}
		for _, c := range r.p.credUsed {
			b.credUsed[c]++
		}
		ops = append(ops, r.p)
	}
	ops, skipped = compiled(checker, ops, skipped)
	b.name(api.Name, ops)
	b.noteConfig(entries)

	api.Warnings = append(api.Warnings, b.apiNotes...)
	api.Warnings = append(api.Warnings, skipped...)
	for _, p := range ops {
		api.Operations = append(api.Operations, p.op)
		for _, n := range p.notes {
			api.Warnings = append(api.Warnings, fmt.Sprintf("%s (%s %s): %s", p.op.Name, p.op.Method, pathLabel(p.op.Path), n))
		}
	}
	return nil
}

// built is an operation on its way into the API, or why it cannot be a
// tool.
type built struct {
	p   *pending
	err error
}

// buildAll builds the operations of the entries the filters keep (left[i]
// is ""). They are independent: they are built on every CPU, each
// goroutine with its own caches, and returned in order, with a checker of
// all their input schemas.
func (b *builder) buildAll(ctx context.Context, namespace string, entries []entry, left []string) ([]built, *schemaChecker, error) {
	n := workers(len(entries), 16)
	states := make([]*opState, n)
	for w := range states {
		states[w] = &opState{texts: make(map[string]sanitized), checker: newSchemaChecker(!b.opts.SkipSchemaCompile)}
	}
	results, err := parallelMap(ctx, len(entries), n, func(w, i int) built {
		if left[i] != "" {
			return built{}
		}
		p, err := b.operation(namespace, entries[i], states[w])
		return built{p, err}
	})
	if err != nil {
		return nil, nil, err
	}
	checker := states[0].checker
	for _, st := range states[1:] {
		checker.merge(st.checker)
	}
	return results, checker, nil
}

// compiled returns the operations whose input schemas compile. The checker
// compiles the schemas' distinct shapes at once; only when that fails is
// each operation's schema compiled, to find those at fault, which are
// skipped with a warning.
func compiled(checker *schemaChecker, ops []*pending, skipped []string) ([]*pending, []string) {
	if checker.check() == nil {
		return ops, skipped
	}
	kept := ops[:0]
	for _, p := range ops {
		if err := compileSchema(p.op.InputSchema); err != nil {
			skipped = append(skipped, fmt.Sprintf("%s %s: skipped: input schema does not compile as JSON Schema 2020-12: %s", p.op.Method, pathLabel(p.op.Path), oneLine(err.Error())))
			continue
		}
		kept = append(kept, p)
	}
	return kept, skipped
}

// noteConfig warns about configured prices and probes that name no
// operation of the entries, and says how many operations a credential
// stands for an argument of.
func (b *builder) noteConfig(entries []entry) {
	keys := make(map[string]bool) // every way the config can name an operation of this API
	for _, e := range entries {
		keys[e.method+" "+e.path] = true
		if e.op.OperationID != "" {
			keys[e.op.OperationID] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.prices)) {
		if !keys[k] {
			b.noteAPI(fmt.Sprintf("prices: no operation is %q; check the operationId, or write \"METHOD /path\"", clip(k)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.probes)) {
		if !keys[k] {
			b.noteAPI(fmt.Sprintf("probed price for %q matches no operation; probe the catalog again", clip(k)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.credUsed)) {
		b.noteAPI(fmt.Sprintf("credentials: %s parameter left out of the arguments of %d operation(s); toll sends it from the environment", k, b.credUsed[k]))
	}
}

// excluded applies the include and exclude filters of the options.
func (b *builder) excluded(e entry) (string, bool) {
	id := e.op.OperationID
	if !b.opts.Include.empty() && !b.opts.Include.selects(e.op.Tags, id, e.method, e.path) {
		return "include does not select it", true
	}
	if why, ok := b.opts.Exclude.matches(e.op.Tags, id, e.method, e.path); ok {
		return "exclude " + clip(why), true
	}
	return "", false
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
	o.Title, o.Description = b.describe(p, op)
	o.ServerURL = b.serverURL(p, item, op)
	for _, t := range op.Tags {
		if t, _ = capRunes(sanitizeLine(t), 64); t != "" && !slices.Contains(o.Tags, t) {
			o.Tags = append(o.Tags, t)
		}
	}

	conv := b.newConverter(st)
	args := arguments{props: make(map[string]any)}
	b.bodyArgument(p, op, conv, &args)
	b.paramArguments(p, item, op, conv, &args)
	o.Credentials = slices.Clone(b.opts.Credentials)
	p.notes = append(p.notes, encodingNotes(o)...)
	raw, err := args.schema(p, conv, st.checker)
	if err != nil {
		return nil, err
	}
	o.InputSchema = raw

	b.price(p, e)
	b.checkSecurity(p, op)
	return p, nil
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
			args.props[o.Body.Arg] = describeProperty(conv.convert(media.Schema, 1), rb.Value.Description, false)
			if o.Body.Required {
				args.required = append(args.required, o.Body.Arg)
			}
		}
	}
}

// paramArguments adds the parameters as arguments, in order, but for those
// a configured credential stands for.
func (b *builder) paramArguments(p *pending, item *openapi3.PathItem, op *openapi3.Operation, conv *schemaConverter, args *arguments) {
	o := p.op
	for _, prm := range b.params(p, item, op) {
		if c, ok := b.credential(prm); ok {
			p.credUsed = append(p.credUsed, fmt.Sprintf("%s %q (%s)", c.In, clip(c.Name), c.Env))
			continue
		}
		param := Param{Name: prm.Name, In: prm.In, Required: prm.Required || prm.In == openapi3.ParameterInPath, AllowReserved: prm.AllowReserved && prm.In == openapi3.ParameterInQuery}
		param.Style, param.Explode = serialization(prm)
		param.Arg = argFor(p, param, args.props)
		schema := prm.Schema
		if schema == nil {
			if mt, media := pickMediaType(prm.Content); media != nil {
				param.MediaType, schema = mt, media.Schema
			}
		}
		args.props[param.Arg] = describeProperty(conv.convert(schema, 1), prm.Description, prm.Deprecated)
		if param.Required {
			args.required = append(args.required, param.Arg)
		}
		o.Params = append(o.Params, param)
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
	raw, err := marshalSchema(root)
	if err != nil {
		return nil, fmt.Errorf("input schema: %s", oneLine(err.Error()))
	}
	checker.addRoot(root)
	return raw, nil
}

// price sets the operation's price: from the config's prices, else from a
// probe, else the spec's (x-payment-info, or the discovery entry).
func (b *builder) price(p *pending, e entry) {
	spec, specErr := specPrice(p, e)
	probed, configured := b.probedPrice(e), b.configuredPrice(e)
	if specErr != nil {
		if configured == nil && probed == nil {
			p.notes = append(p.notes, fmt.Sprintf("x-payment-info: %v; no price is advertised, so toll will not pay for this operation", specErr))
		} else {
			p.notes = append(p.notes, fmt.Sprintf("x-payment-info: %v; the price from the config or a probe is used", specErr))
		}
	}
	replaced := spec
	if probed != nil {
		replaced = probed
	}
	switch {
	case configured != nil:
		if replaced != nil {
			// The config sets the amount; where to pay stays as the
			// probe or the spec pinned it.
			configured.Network, configured.PayTo, configured.AssetAddress = replaced.Network, replaced.PayTo, replaced.AssetAddress
			configured.Scheme = replaced.Scheme
			if replaced.Amount.Cmp(configured.Amount) != 0 || replaced.Mode != PriceFixed {
				p.notes = append(p.notes, fmt.Sprintf("price %s from the config in place of %s from %s", configured.Display(), replaced.Display(), replaced.Source))
			}
		}
		p.op.Price = configured
	case probed != nil:
		if spec != nil && (spec.Amount.Cmp(probed.Amount) != 0 || spec.Mode != PriceFixed) {
			p.notes = append(p.notes, fmt.Sprintf("price %s from a probe in place of %s from %s", probed.Display(), spec.Display(), spec.Source))
		}
		p.op.Price = probed
	default:
		p.op.Price = spec
	}
}

// specPrice is the price the document gives: the discovery entry's, else
// the operation's x-payment-info (its notes go on p), else nil. An error
// says why x-payment-info gives none.
func specPrice(p *pending, e entry) (*Price, error) {
	if e.price != nil {
		return e.price, nil
	}
	v, ok := e.op.Extensions["x-payment-info"]
	if !ok {
		return nil, nil
	}
	price, notes, err := parsePaymentInfo(v)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		p.notes = append(p.notes, "x-payment-info: "+n)
	}
	return price, nil
}

// configKey returns how m names the operation: "METHOD /path", else its
// operationId; ok is false when m names it neither way.
func configKey[V any](m map[string]V, e entry) (string, bool) {
	k := e.method + " " + e.path
	if _, ok := m[k]; ok {
		return k, true
	}
	if id := e.op.OperationID; id != "" {
		if _, ok := m[id]; ok {
			return id, true
		}
	}
	return "", false
}

// probedPrice is the price a probe read for the operation, or nil.
func (b *builder) probedPrice(e entry) *Price {
	if k, ok := configKey(b.probes, e); ok {
		return b.probes[k].price()
	}
	return nil
}

// configuredPrice is the price the config sets for the operation, or nil.
func (b *builder) configuredPrice(e entry) *Price {
	k, ok := configKey(b.prices, e)
	if !ok {
		return nil
	}
	return &Price{
		Amount: b.prices[k],
		Asset:  assetUSDC,
		Scheme: "exact",
		Mode:   PriceFixed,
		Source: PriceFromConfig,
	}
}

// credential returns the configured credential a parameter stands for.
func (b *builder) credential(prm *openapi3.Parameter) (Credential, bool) {
	for _, c := range b.opts.Credentials {
		if c.In != prm.In {
			continue
		}
		if c.Name == prm.Name || (c.In == openapi3.ParameterInHeader && strings.EqualFold(c.Name, prm.Name)) {
			return c, true
		}
	}
	return Credential{}, false
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
		p.notes = append(p.notes, fmt.Sprintf("removed %d line(s) stating a price from the description: the price shown is the one toll advertises", removed))
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
	if len(servers) == 0 || servers[0] == nil {
		p.apiNotes = append(p.apiNotes, "the document names no server: operations have no server URL (set a base URL)")
		return ""
	}
	s := servers[0]
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
	u, err := absoluteHTTPURL(raw)
	if err != nil {
		p.apiNotes = append(p.apiNotes, fmt.Sprintf("server URL not usable: %v; operations using it have no server URL (set a base URL)", err))
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
// send (x402 needs none): no alternative of its security requirements is
// met by the configured credentials.
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
		met := true
		for name := range r {
			if !b.schemeMet(name) {
				met = false
				if !slices.Contains(names, clip(name)) {
					names = append(names, clip(name))
				}
			}
		}
		if met {
			return // one alternative needs nothing more
		}
	}
	slices.Sort(names)
	p.notes = append(p.notes, fmt.Sprintf("needs credentials (%s) that toll does not send; calls may be refused (add them under credentials in the config)", strings.Join(names, ", ")))
}

// schemeMet reports whether a configured credential supplies the named
// security scheme: an API key in the same place, or an Authorization header
// for HTTP, OAuth 2 and OpenID Connect schemes.
func (b *builder) schemeMet(name string) bool {
	if len(b.opts.Credentials) == 0 || b.doc.Components == nil {
		return false
	}
	ref := b.doc.Components.SecuritySchemes[name]
	if ref == nil || ref.Value == nil {
		return false
	}
	s := ref.Value
	for _, c := range b.opts.Credentials {
		switch s.Type {
		case "apiKey":
			if c.In == s.In && (c.Name == s.Name || (c.In == "header" && strings.EqualFold(c.Name, s.Name))) {
				return true
			}
		case "http", "oauth2", "openIdConnect":
			if c.In == "header" && strings.EqualFold(c.Name, "Authorization") {
				return true
			}
		}
	}
	return false
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
