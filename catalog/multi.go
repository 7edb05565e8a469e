package catalog

import (
	"context"
	"fmt"
	"strconv"
)

// Catalog is every API toll serves.
type Catalog struct {
	// APIs in the order of their sources; a folder's in name order.
	// Namespaces are distinct, and so are tool names across APIs.
	APIs []*API
}

// Operations returns the operations of every API: the APIs in order, each
// API's operations in order (by path, then method).
func (c *Catalog) Operations() []*Operation {
	if c == nil {
		return nil
	}
	var ops []*Operation
	for _, api := range c.APIs {
		ops = append(ops, api.Operations...)
	}
	return ops
}

// LoadAll loads the APIs of several sources, each with its own options (see
// SourceConfig and LoadSource). A source that cannot be loaded does not stop
// the others: LoadAll returns the APIs that loaded and one error per spec
// that did not, on one line naming it and the reason.
//
// Namespaces are distinct: two sources given the same namespace is an
// error for the second (ErrNamespaceTaken), as is a namespace given to a
// folder of several specs; a namespace derived from info.title that is
// taken gets "_" and four hex digits of a hash of its source, and a
// warning. Tool names are then unique across the catalog: should two APIs
// still make the same name (namespace "a" with operation "b_x", namespace
// "a_b" with operation "x"), the later API's tool gets a hash suffix and a
// warning.
//
// Each API keeps the entry it was loaded from as API.Config, with its
// pay_to pinned on the operations' prices (see applyEntries).
func LoadAll(ctx context.Context, sources []SourceConfig) (*Catalog, []error) {
	cat := &Catalog{}
	errsBy := make([][]error, len(sources))  // in the order of the sources
	bySource := make([][]*API, len(sources)) // the APIs each source loaded
	docs := prepareAll(ctx, sources, errsBy)
	names, renamed := namespaces(docs, sources, errsBy)
	type builtAPI struct {
		api *API
		err error
	}
	// The documents are independent: they are built on every CPU, in order.
	builds, _ := parallelMap(ctx, len(docs), workers(len(docs), 1), func(_, k int) builtAPI {
		if docs[k].p == nil {
			return builtAPI{}
		}
		api, err := docs[k].p.build(ctx, names[k])
		return builtAPI{api, err}
	})
	for k, d := range docs {
		if d.p == nil {
			continue
		}
		api, err := builds[k].api, builds[k].err
		if api == nil && err == nil { // not started: ctx ended
			err = ctx.Err()
		}
		if err != nil {
			errsBy[d.cfg] = append(errsBy[d.cfg], loadError(d.p.source, err))
			continue
		}
		if note, ok := renamed[k]; ok {
			api.Warnings = append([]string{note}, api.Warnings...)
		}
		cat.APIs = append(cat.APIs, api)
		bySource[d.cfg] = append(bySource[d.cfg], api)
	}
	cat.uniqueNames()
	applyEntries(sources, bySource, errsBy)
	var errs []error
	for _, e := range errsBy {
		errs = append(errs, e...)
	}
	return cat, errs
}

// sourceDoc is a document of a source, read and parsed.
type sourceDoc struct {
	p   *prepared // nil: left out (its namespace is taken)
	cfg int       // index in the sources
}

// prepareAll reads the documents of every source, in order, adding each
// source's errors to errsBy.
func prepareAll(ctx context.Context, sources []SourceConfig, errsBy [][]error) []sourceDoc {
	var docs []sourceDoc
	for i, sc := range sources {
		if err := sc.Check(); err != nil {
			errsBy[i] = append(errsBy[i], loadError(sc.Spec, err))
			continue
		}
		ps, perrs := prepareSource(ctx, sc.Spec, sc.Options)
		errsBy[i] = append(errsBy[i], perrs...)
		if sc.Namespace != "" && len(ps)+len(perrs) > 1 {
			errsBy[i] = append(errsBy[i], fmt.Errorf("load %s: %w: namespace: %q names one API, and the folder holds %d specs; give each spec its own entry, or leave namespace out", sanitizeLine(sc.Spec), ErrInvalidOptions, sc.Namespace, len(ps)+len(perrs)))
			continue
		}
		for _, p := range ps {
			docs = append(docs, sourceDoc{p, i})
		}
	}
	return docs
}

// namespaces names the documents: those given a namespace first (a
// namespace taken already is an error, and the document is left out), then
// the others, from their titles, in order. renamed holds a warning for
// each document whose derived namespace was taken, and so got a suffix.
func namespaces(docs []sourceDoc, sources []SourceConfig, errsBy [][]error) (names []string, renamed map[int]string) {
	names = make([]string, len(docs))
	owner := make(map[string]string) // namespace → the source that has it
	for k, d := range docs {
		if ns := sources[d.cfg].Namespace; ns != "" {
			if prev, taken := owner[ns]; taken {
				errsBy[d.cfg] = append(errsBy[d.cfg], fmt.Errorf("load %s: %w: namespace: %q is also the namespace of %s; choose another", sanitizeLine(d.p.source), ErrNamespaceTaken, ns, sanitizeLine(prev)))
				docs[k].p = nil
				continue
			}
			owner[ns] = d.p.source
			names[k] = ns
		}
	}
	renamed = make(map[int]string)
	for k, d := range docs {
		if d.p == nil || names[k] != "" {
			continue
		}
		ns := deriveNamespace(d.p.title)
		if prev, taken := owner[ns]; taken {
			base := ns + "_" + shortHash(d.p.source)[:4]
			ns = base
			for n := 2; owner[ns] != ""; n++ {
				ns = base + strconv.Itoa(n)
			}
			renamed[k] = fmt.Sprintf("namespace %s: %s derives the same namespace from its title as %s", ns, sanitizeLine(d.p.source), sanitizeLine(prev))
		}
		owner[ns] = d.p.source
		names[k] = ns
	}
	return names, renamed
}

// uniqueNames renames the tools of later APIs that have the name of a tool
// of an earlier one.
func (c *Catalog) uniqueNames() {
	used := make(map[string]bool)
	for _, api := range c.APIs {
		for _, op := range api.Operations {
			if !used[op.Name] {
				used[op.Name] = true
				continue
			}
			old := op.Name
			name := withSuffix(old, shortHash(api.Name+" "+op.Method+" "+op.ServerURL+op.Path))
			for n := 2; used[name]; n++ {
				name = withSuffix(old, strconv.Itoa(n))
			}
			op.Name = name
			used[name] = true
			api.Warnings = append(api.Warnings, fmt.Sprintf("%s (%s %s): tool name suffixed: another API has a tool named %s", name, op.Method, pathLabel(op.Path), old))
		}
	}
}
