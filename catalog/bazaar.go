package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollhq/toll/tools/x402"
)

// A Bazaar is a facilitator's discovery API (the bazaar extension,
// https://github.com/x402-foundation/x402/blob/main/specs/extensions/bazaar.md,
// and section 8 of
// https://github.com/x402-foundation/x402/blob/main/specs/x402-specification-v2.md):
// GET /discovery/resources lists resources a page at a time (limit and
// offset, with pagination.total), GET /discovery/search?query= finds them
// (pagination.cursor leads to the next page). Discover reads every page
// into one catalog file: a discovery response that FromDiscovery, and so
// every command that loads a spec, reads (see doc.go, "Catalog files").

// Bounds of Discover, the defaults of DiscoverOptions.
const (
	DefaultDiscoverPages     = 100
	DefaultDiscoverResources = 10_000
	DefaultDiscoverPageBytes = 8 << 20
	DefaultDiscoverTimeout   = 2 * time.Minute
)

// discoverPageSize is the limit asked of /discovery/resources: the most the
// specification lets a facilitator return.
const discoverPageSize = 100

// discoverMetaReserve is the room a catalog file keeps for what is not
// its items: the "discovered" member, with its notes (see notes).
const discoverMetaReserve = 32 << 10

// maxNotesPerKind bounds the notes Discover writes of one kind of problem;
// the rest are counted in one more note.
const maxNotesPerKind = 5

// DiscoverOptions says which Bazaar Discover reads and how much of it.
// Bounds at zero take their defaults.
type DiscoverOptions struct {
	// Facilitator is the facilitator's base URL ("https://x402.org/facilitator");
	// a URL ending in /discovery/resources or /discovery/search is taken as
	// its base. It must be https, or http to this machine. Required.
	Facilitator string
	// Query, when set, searches (GET /discovery/search?query=) instead of
	// listing every resource.
	Query string
	// Network and Type filter the resources: those that can be paid on the
	// network (a v1 name or CAIP-2 id), and of the type ("http" or "mcp").
	// They are sent to the facilitator and checked again on what it answers.
	// "": no filter.
	Network, Type string
	// MaxPages bounds the pages read. Zero: DefaultDiscoverPages.
	MaxPages int
	// MaxResources bounds the resources kept. Zero: DefaultDiscoverResources.
	MaxResources int
	// MaxPageBytes bounds one page. Zero: DefaultDiscoverPageBytes.
	MaxPageBytes int64
	// MaxBytes bounds the catalog file. Zero: MaxSpecBytes, the most a
	// spec may have.
	MaxBytes int64
	// Timeout bounds the whole discovery, every page. Zero:
	// DefaultDiscoverTimeout.
	Timeout time.Duration
	// HTTPClient reads the pages. nil: a client with a 30 s timeout. Whatever
	// the client, toll follows no redirect to a URL it would not fetch itself.
	HTTPClient *http.Client
	// Now stamps the file. nil: time.Now.
	Now func() time.Time
	// OnPage, when set, is called after each page is read with the pages read
	// and the resources kept so far (for a progress line).
	OnPage func(pages, kept int)
}

// Discovered is what Discover read.
type Discovered struct {
	// Document is the catalog file: the resources kept, as the facilitator
	// gave them, with what was read and the notes (see doc.go).
	Document []byte
	// Source names the Bazaar in messages: "https://x402.org/facilitator/discovery/resources".
	Source string
	// Pages is how many pages were read; Read how many resources they held,
	// Kept how many are in the file, and LeftOut the others (Read = Kept +
	// LeftOut), each with a note.
	Pages, Read, Kept, LeftOut int
	// Notes say what was left out and why, and where reading stopped early.
	Notes []string
}

func (o *DiscoverOptions) defaults() {
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultDiscoverPages
	}
	if o.MaxResources <= 0 {
		o.MaxResources = DefaultDiscoverResources
	}
	if o.MaxPageBytes <= 0 {
		o.MaxPageBytes = DefaultDiscoverPageBytes
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = MaxSpecBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultDiscoverTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Discover reads the resources of a facilitator's Bazaar, every page of
// them within the bounds of o, into a catalog file. Only a first page that
// cannot be read is an error; a later one ends the reading with a note, and
// what was read is kept. A resource is left out, with a note, when it is
// not a JSON object, is one already read, does not pass the filters, or is
// where toll would not call it: plain http to another machine, or this
// machine or its network when the facilitator is elsewhere. Everything
// else is FromDiscovery's to judge when the file is loaded.
func Discover(ctx context.Context, o DiscoverOptions) (*Discovered, error) {
	o.defaults()
	base, err := facilitatorBase(o.Facilitator)
	if err != nil {
		return nil, err
	}
	if o.Type != "" && o.Type != "http" && o.Type != "mcp" {
		return nil, fmt.Errorf("%w: type %q: want http or mcp", ErrInvalidOptions, clip(o.Type))
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	r := &bazaarReader{opts: o, base: base, client: fetchClient(o.HTTPClient), seen: make(map[string]bool)}
	endpoint := "/discovery/resources"
	if o.Query != "" {
		endpoint = "/discovery/search"
	}
	r.source = base.String() + endpoint
	if o.Query != "" {
		err = r.search(ctx)
	} else {
		err = r.list(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", sanitizeLine(r.source), err)
	}
	d := &Discovered{Source: r.source, Pages: r.pages, Read: r.read, Kept: len(r.items), LeftOut: r.read - len(r.items)}
	d.Notes = r.notes.list()
	d.Document, err = r.document(endpoint, d)
	return d, err
}

// facilitatorBase checks a facilitator URL and returns its base.
func facilitatorBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: no facilitator URL", ErrInvalidOptions)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: facilitator %q is not an https URL", ErrURLNotAllowed, clip(raw))
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: facilitator %s has a query, fragment or user: give the base URL, and filters as options", ErrInvalidOptions, clip(u.Redacted()))
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(strings.TrimSuffix(p, "/discovery/resources"), "/discovery/search")
	u.Path, u.RawPath = strings.TrimRight(p, "/"), ""
	return u, nil
}

// bazaarReader reads the pages of one Bazaar.
type bazaarReader struct {
	opts   DiscoverOptions
	base   *url.URL
	source string
	client *http.Client

	pages   int
	read    int               // resources read, kept or not
	items   []json.RawMessage // kept, compact
	bytes   int64             // the size of items
	seen    map[string]bool   // keys of the resources read
	full    bool              // MaxResources or MaxBytes reached
	version json.RawMessage   // the x402Version the facilitator gave
	notes   notes
}

// page is one page of a discovery response. Members of the wrong type are
// read as absent, with a note, except items (or resources): a page without
// a list of them is not a page.
type page struct {
	items       []json.RawMessage
	limit       int    // pagination.limit; 0: not given
	total       int    // pagination.total; -1: not given
	cursor      string // pagination.cursor
	partial     bool   // partialResults
	unapplied   []string
	x402Version json.RawMessage
}

// list reads /discovery/resources, offset after offset, until a page is
// short or empty, pagination.total is reached, or a bound is.
func (r *bazaarReader) list(ctx context.Context) error {
	offset := 0
	for n := 1; ; n++ {
		if n > r.opts.MaxPages {
			r.notes.add("bound", fmt.Sprintf("stopped after %d pages (the most toll reads): the facilitator has more", r.opts.MaxPages))
			return nil
		}
		q := r.filters()
		q.Set("limit", strconv.Itoa(discoverPageSize))
		q.Set("offset", strconv.Itoa(offset))
		p, err := r.get(ctx, "/discovery/resources", q, n)
		if p == nil {
			return err
		}
		fresh := r.take(p, n)
		offset += len(p.items)
		size := discoverPageSize
		if p.limit > 0 && p.limit < size {
			size = p.limit
		}
		switch {
		case len(p.items) == 0, len(p.items) < size, p.total >= 0 && offset >= p.total, r.full:
			return nil
		case fresh == 0:
			r.notes.add("bound", fmt.Sprintf("page %d holds only resources already read (offset %d): the facilitator does not page by offset; stopped", n, offset-len(p.items)))
			return nil
		}
	}
}

// search reads /discovery/search, cursor after cursor, until there is no
// next cursor, a cursor comes again, or a bound is reached.
func (r *bazaarReader) search(ctx context.Context) error {
	cursor := ""
	used := make(map[string]bool)
	for n := 1; ; n++ {
		if n > r.opts.MaxPages {
			r.notes.add("bound", fmt.Sprintf("stopped after %d pages (the most toll reads): the facilitator has more", r.opts.MaxPages))
			return nil
		}
		q := r.filters()
		q.Set("query", r.opts.Query)
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		p, err := r.get(ctx, "/discovery/search", q, n)
		if p == nil {
			return err
		}
		fresh := r.take(p, n)
		if p.partial {
			r.notes.add("partial", fmt.Sprintf("page %d: the facilitator says more matches were cut (partialResults)", n))
		}
		switch {
		case p.cursor == "", r.full:
			return nil
		case used[p.cursor] || p.cursor == cursor:
			r.notes.add("bound", fmt.Sprintf("page %d gives a cursor already used (%q): stopped", n, clip(p.cursor)))
			return nil
		case fresh == 0 && len(p.items) > 0:
			r.notes.add("bound", fmt.Sprintf("page %d holds only resources already read: stopped", n))
			return nil
		}
		used[p.cursor] = true
		cursor = p.cursor
	}
}

// filters are the query parameters every page is asked with.
func (r *bazaarReader) filters() url.Values {
	q := url.Values{}
	if r.opts.Type != "" {
		q.Set("type", r.opts.Type)
	}
	if r.opts.Network != "" {
		q.Set("network", r.opts.Network)
	}
	return q
}

// get reads page n. A page that cannot be read is an error when it is the
// first; a later one ends the reading with a note (a nil page and a nil
// error).
func (r *bazaarReader) get(ctx context.Context, endpoint string, q url.Values, n int) (*page, error) {
	u := *r.base
	u.Path += endpoint
	u.RawQuery = q.Encode()
	p, err := r.fetchPage(ctx, &u)
	if err == nil {
		r.pages++
		return p, nil
	}
	if n == 1 {
		return nil, err
	}
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		err = fmt.Errorf("the discovery took longer than %v", r.opts.Timeout)
	}
	r.notes.add("bound", fmt.Sprintf("page %d: %v; stopped, keeping the %d pages read", n, err, r.pages))
	return nil, nil
}

// fetchPage reads and decodes one page, at most MaxPageBytes of it.
func (r *bazaarReader) fetchPage(ctx context.Context, u *url.URL) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrURLNotAllowed) {
			return nil, errors.Unwrap(err)
		}
		return nil, fmt.Errorf("%w: %s", ErrFetch, fetchReason(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP status %d%s", ErrFetch, resp.StatusCode, errorMessage(resp.Body))
	}
	limit := r.opts.MaxPageBytes
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: a page of %d bytes, more than %d", ErrTooLarge, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %s", ErrFetch, fetchReason(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: a page of more than %d bytes", ErrTooLarge, limit)
	}
	return r.decodePage(data)
}

// errorMessage is the error a facilitator gives with a failed status, if
// it gives one: ": " and its error member, on one line.
func errorMessage(body io.Reader) string {
	var e struct {
		Error string `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(body, 4<<10))
	if json.Unmarshal(data, &e) != nil || e.Error == "" {
		return ""
	}
	return ": " + clip(sanitizeLine(e.Error))
}

// decodePage decodes a page (see page).
func (r *bazaarReader) decodePage(data []byte) (*page, error) {
	var raw struct {
		X402Version    json.RawMessage `json:"x402Version"`
		Items          json.RawMessage `json:"items"`
		Resources      json.RawMessage `json:"resources"`
		Pagination     json.RawMessage `json:"pagination"`
		PartialResults json.RawMessage `json:"partialResults"`
		Unapplied      json.RawMessage `json:"unappliedFilters"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidDiscovery, oneLine(strings.TrimPrefix(err.Error(), "json: ")))
	}
	p := &page{total: -1, x402Version: raw.X402Version}
	list := raw.Items
	if isNull(list) {
		list = raw.Resources
	}
	if isNull(list) || json.Unmarshal(list, &p.items) != nil {
		return nil, fmt.Errorf("%w: no list of items or resources", ErrInvalidDiscovery)
	}
	var pg struct {
		Limit, Total json.RawMessage
		Cursor       json.RawMessage
	}
	if !isNull(raw.Pagination) && json.Unmarshal(raw.Pagination, &pg) != nil {
		r.notes.add("shape", "pagination is not an object: read as absent")
	}
	p.limit = r.count("pagination.limit", pg.Limit, 0)
	p.total = r.count("pagination.total", pg.Total, -1)
	if !isNull(pg.Cursor) && json.Unmarshal(pg.Cursor, &p.cursor) != nil {
		r.notes.add("shape", "pagination.cursor is not a string: read as the last page")
	}
	if !isNull(raw.PartialResults) && json.Unmarshal(raw.PartialResults, &p.partial) != nil {
		r.notes.add("shape", "partialResults is not true or false: read as absent")
	}
	if !isNull(raw.Unapplied) && json.Unmarshal(raw.Unapplied, &p.unapplied) != nil {
		r.notes.add("shape", "unappliedFilters is not a list of names: read as absent")
	}
	for _, f := range p.unapplied {
		r.notes.add("unapplied", fmt.Sprintf("the facilitator did not apply the filter %q: toll applies it", clip(sanitizeLine(f))))
	}
	return p, nil
}

// count reads a whole number of pagination, or def when it is absent or
// not one (with a note).
func (r *bazaarReader) count(name string, v json.RawMessage, def int) int {
	if isNull(v) {
		return def
	}
	var n int
	if err := json.Unmarshal(v, &n); err != nil || n < 0 {
		r.notes.add("shape", fmt.Sprintf("%s is not a whole number: read as absent", name))
		return def
	}
	return n
}

func isNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

// take keeps the resources of page n that pass (see Discover) and returns
// how many of them were not read before.
func (r *bazaarReader) take(p *page, n int) (fresh int) {
	if r.opts.OnPage != nil {
		defer func() { r.opts.OnPage(n, len(r.items)) }()
	}
	if r.version == nil && !isNull(p.x402Version) {
		r.version = p.x402Version
	}
	for i, raw := range p.items {
		r.read++
		where := fmt.Sprintf("page %d item %d", n, i+1)
		item, key, why := r.judge(raw)
		if key != "" && !r.seen[key] {
			r.seen[key] = true
			fresh++
		} else if key != "" && why == "" {
			why, where = "duplicate", where+" ("+clip(discoveryURL(item))+")"
		}
		if why == "" && r.full {
			why = "full"
		}
		if why == "" {
			var buf bytes.Buffer
			if json.Compact(&buf, raw) != nil {
				why = "shape"
			} else if r.bytes+int64(buf.Len())+discoverMetaReserve > r.opts.MaxBytes {
				r.full, why = true, "full"
			} else {
				r.items = append(r.items, buf.Bytes())
				r.bytes += int64(buf.Len()) + 2
				r.full = len(r.items) >= r.opts.MaxResources
				continue
			}
		}
		r.leaveOut(why, where, item)
	}
	return fresh
}

// leaveOut notes a resource left out, why being a reason of judge's.
func (r *bazaarReader) leaveOut(why, where string, item map[string]any) {
	switch why {
	case "shape":
		r.notes.add(why, where+": left out: not a JSON object")
	case "duplicate":
		r.notes.add(why, where+": left out: the same resource as one read before")
	case "full":
		r.notes.add(why, fmt.Sprintf("resources after the first %d left out: a catalog file holds at most %d resources and %d bytes", len(r.items), r.opts.MaxResources, r.opts.MaxBytes))
	case "type":
		r.notes.add(why, fmt.Sprintf("%s (%s): left out: not of type %s", where, clip(discoveryURL(item)), r.opts.Type))
	case "network":
		r.notes.add(why, fmt.Sprintf("%s (%s): left out: no payment requirement on %s", where, clip(discoveryURL(item)), clip(r.opts.Network)))
	default:
		r.notes.add("host", fmt.Sprintf("%s: left out: %s", where, why))
	}
}

// judge decodes a resource and says why it is left out ("" when it is
// not); key identifies it ("" when it is not an object).
func (r *bazaarReader) judge(raw json.RawMessage) (item map[string]any, key, why string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&item); err != nil || item == nil {
		return nil, "", "shape"
	}
	typ, _ := item["type"].(string)
	input := mapField(mapField(mapField(mapField(item, "extensions"), "bazaar"), "info"), "input")
	method, _ := input["method"].(string)
	tool, _ := input["toolName"].(string)
	key = strings.Join([]string{typ, discoveryURL(item), strings.ToUpper(method), tool}, "\x00")
	switch {
	case r.opts.Type != "" && typ != r.opts.Type && !(typ == "" && r.opts.Type == "http"):
		return item, key, "type"
	case r.opts.Network != "" && !onNetwork(item, r.opts.Network):
		return item, key, "network"
	}
	if u, err := url.Parse(discoveryURL(item)); err == nil {
		if p := hostProblem(r.base, u); p != "" {
			return item, key, fmt.Sprintf("%s %s", clip(u.Redacted()), p)
		}
	}
	return item, key, ""
}

// onNetwork reports whether a resource has a payment requirement on network.
func onNetwork(item map[string]any, network string) bool {
	accepts, _ := item["accepts"].([]any)
	for _, a := range accepts {
		if n, ok := asMap(a)["network"].(string); ok && (n == network || x402.SameNetwork(n, network)) {
			return true
		}
	}
	return false
}

// hostProblem says why toll would not call a resource a facilitator
// lists: plain http to another machine, where a payment travels in clear
// text; or, from a facilitator elsewhere, a resource on this machine or
// its network (loopback, private, link-local or unspecified addresses, and
// localhost), which a remote list has no business pointing an agent at.
// "" when there is none; a URL that is not http(s) is FromDiscovery's.
func hostProblem(facilitator, resource *url.URL) string {
	if resource.Scheme != "http" && resource.Scheme != "https" {
		return ""
	}
	if InsecureHTTP(resource.String()) {
		return "is plain http to another machine: a payment would travel in clear text"
	}
	if loopback(facilitator.Hostname()) || !internal(resource.Hostname()) {
		return ""
	}
	return "is on this machine or its network, and the facilitator is not"
}

// internal reports whether host names this machine or its network.
func internal(host string) bool {
	if loopback(host) || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified())
}

// notes are Discover's notes, at most maxNotesPerKind of a kind; the
// others are counted.
type notes struct {
	order []string // kinds, in the order first noted
	by    map[string][]string
	more  map[string]int
}

func (n *notes) add(kind, msg string) {
	if n.by == nil {
		n.by, n.more = make(map[string][]string), make(map[string]int)
	}
	if _, ok := n.by[kind]; !ok {
		n.order = append(n.order, kind)
	}
	if prev := n.by[kind]; len(prev) > 0 && prev[len(prev)-1] == msg || len(prev) >= maxNotesPerKind && kind != "bound" {
		n.more[kind]++
		return
	}
	n.by[kind] = append(n.by[kind], msg)
}

func (n *notes) list() []string {
	var out []string
	for _, k := range n.order {
		out = append(out, n.by[k]...)
		if m := n.more[k]; m > 0 {
			out = append(out, fmt.Sprintf("and %d more like the last", m))
		}
	}
	return out
}

// discoveredMeta is the "discovered" member of a catalog file: where and
// when its resources were read, and the notes of the reading.
type discoveredMeta struct {
	Facilitator string    `json:"facilitator"`
	Endpoint    string    `json:"endpoint"`
	Query       string    `json:"query,omitempty"`
	Network     string    `json:"network,omitempty"`
	Type        string    `json:"type,omitempty"`
	At          time.Time `json:"at"`
	Pages       int       `json:"pages"`
	Read        int       `json:"read"`
	Kept        int       `json:"kept"`
	LeftOut     int       `json:"leftOut"`
	Notes       []string  `json:"notes,omitempty"`
}

// document writes the catalog file: x402Version, discovered, and the items
// kept, one a line.
func (r *bazaarReader) document(endpoint string, d *Discovered) ([]byte, error) {
	version := json.RawMessage("2")
	var n int
	if json.Unmarshal(r.version, &n) == nil && n > 0 {
		version = json.RawMessage(strconv.Itoa(n))
	}
	meta, err := json.MarshalIndent(discoveredMeta{
		Facilitator: r.base.String(), Endpoint: "GET " + endpoint,
		Query: r.opts.Query, Network: r.opts.Network, Type: r.opts.Type,
		At: r.opts.Now().UTC().Truncate(time.Second), Pages: d.Pages, Read: d.Read, Kept: d.Kept, LeftOut: d.LeftOut, Notes: d.Notes,
	}, "  ", "  ")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(int(r.bytes) + len(meta) + 64)
	fmt.Fprintf(&b, "{\n  \"x402Version\": %s,\n  \"discovered\": %s,\n  \"items\": [", version, meta)
	for i, item := range r.items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		b.Write(item)
	}
	if len(r.items) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("]\n}\n")
	return b.Bytes(), nil
}

// discoveredNotes reads the notes of a catalog file's "discovered" member
// (written by Discover), for the API's warnings; a member that is not
// Discover's gives none.
func discoveredNotes(raw json.RawMessage) []string {
	var meta struct {
		Notes []string `json:"notes"`
	}
	if isNull(raw) || json.Unmarshal(raw, &meta) != nil {
		return nil
	}
	out := make([]string, 0, min(len(meta.Notes), maxFileNotes))
	for _, n := range meta.Notes {
		if len(out) == maxFileNotes {
			out = append(out, fmt.Sprintf("discover: %d more notes not read", len(meta.Notes)-maxFileNotes))
			break
		}
		n, _ = capRunes(sanitizeLine(n), maxFileNote)
		out = append(out, "discover: "+n)
	}
	return out
}

// maxFileNotes bounds the notes read from a catalog file, maxFileNote
// each note, in runes.
const (
	maxFileNotes = 100
	maxFileNote  = 400
)

// AddDiscovered loads what Discover read into the catalog, as one more API
// (see FromDiscovery). Its namespace is opts.Namespace, which no API of the
// catalog may have already (ErrNamespaceTaken), or else one derived as
// LoadAll derives it, with a suffix when taken; a tool named as a tool of
// an earlier API gets a suffix and a warning, as in LoadAll.
func (c *Catalog) AddDiscovered(ctx context.Context, d *Discovered, opts Options) (*API, error) {
	p, err := prepare(ctx, d.Document, origin{source: d.Source}, opts)
	if err != nil {
		return nil, loadError(d.Source, err)
	}
	taken := func(ns string) bool {
		return slices.ContainsFunc(c.APIs, func(a *API) bool { return a.Name == ns })
	}
	ns := opts.Namespace
	switch {
	case ns != "" && taken(ns):
		return nil, loadError(d.Source, fmt.Errorf("%w: namespace: %q is the namespace of another API; choose another", ErrNamespaceTaken, ns))
	case ns == "":
		ns = deriveNamespace(p.title)
		base := ns + "_" + shortHash(d.Source)[:4]
		for n := 1; taken(ns); n++ {
			ns = base
			if n > 1 {
				ns += strconv.Itoa(n)
			}
		}
	}
	api, err := p.build(ctx, ns)
	if err != nil {
		return nil, loadError(d.Source, err)
	}
	c.APIs = append(c.APIs, api)
	c.uniqueNames()
	return api, nil
}
