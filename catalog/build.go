package catalog

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
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
	// light builds a listing (lazy.go): no arguments or input schema, and no notes
	// about the texts.
	light bool
}

// opState is what the operations built by one goroutine share: caches, and
// the schemas to compile.
type opState struct {
	texts   map[string]sanitized
	checker *schemaChecker
}

// sanitized is a schema text after sanitizeText and stripPriceLines, with
// what flagText found in it.
type sanitized struct {
	text    string
	removed int
	flags   []string
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
	return buildAs(ctx, d, o, opts, false)
}

// buildAs is build; light builds a listing (see builder.light).
func buildAs(ctx context.Context, d *document, o origin, opts Options, light bool) (*API, error) {
	doc := d.doc
	b := newBuilder(doc, o.base, opts)
	b.light = light
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
		label := func() string { return entries[i].method + " " + pathLabel(entries[i].path) }
		switch {
		case left[i] != "":
			skipped = append(skipped, fmt.Sprintf("%s: left out: %s", label(), left[i]))
			continue
		case r.err != nil:
			skipped = append(skipped, fmt.Sprintf("%s: skipped: %v", label(), r.err))
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
	b.noteEndpoints(entries)
	b.noteBuiltin(api.Name, ops)

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

// noteBuiltin warns about tools named as toll's own are: a tool with the
// name of one of them, which the server refuses to serve, and a namespace
// that starts every tool name as theirs start.
func (b *builder) noteBuiltin(namespace string, ops []*pending) {
	if strings.HasPrefix(strings.ToLower(namespace)+"_", builtinPrefix) {
		b.noteAPI(fmt.Sprintf("namespace %s: tool names start with %s as toll's own tools do (%s), and a model may take them for toll's; choose another namespace",
			namespace, builtinPrefix, strings.Join(BuiltinTools(), ", ")))
	}
	for _, p := range ops {
		if BuiltinTool(p.op.Name) {
			p.notes = append(p.notes, fmt.Sprintf("the tool name %s is that of one of toll's own tools: toll serve and toll catalog tools refuse this catalog; give the API another namespace", p.op.Name))
		}
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
