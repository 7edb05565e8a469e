package x402test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// Paging of the Bazaar's answers: the default and the most resources a page holds, as the
// x402 specification gives them for GET /discovery/resources (section 8.1 of
// https://github.com/x402-foundation/x402/blob/main/specs/x402-specification-v2.md).
const (
	BazaarDefaultLimit = 20
	BazaarMaxLimit     = 100
)

// BazaarInfo describes how to call a route, as the bazaar extension of x402 v2 does
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/bazaar.md): the
// Bazaar of the world's facilitator lists it.
type BazaarInfo struct {
	// Input is the extension's info.input: {"type": "http", "method": "GET",
	// "queryParams": {…}, "pathParams": {…}} or, for POST, PUT and PATCH, "bodyType" and
	// "body", with example values. The values of pathParams make the listed resource URL
	// (the route's pattern, "/weather/{city}", with {city} replaced). Nil: the method and
	// nothing else.
	Input map[string]any
	// InputSchema is the JSON Schema (2020-12) of Input, the extension's
	// schema.properties.input. Nil: none.
	InputSchema map[string]any
	// Output is the extension's info.output: {"type": "json", "example": …}. Nil: none.
	Output map[string]any
}

// DiscoveryItem is a resource as a Bazaar lists it (section 8.2 of the specification),
// with the v2 resource metadata and the bazaar extension.
type DiscoveryItem struct {
	Resource    string            `json:"resource"`
	Type        string            `json:"type"` // "http" or "mcp"
	X402Version int               `json:"x402Version"`
	Accepts     []json.RawMessage `json:"accepts"` // payment requirements, of the item's version
	LastUpdated int64             `json:"lastUpdated"`
	Description string            `json:"description,omitempty"`
	ServiceName string            `json:"serviceName,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Extensions  map[string]any    `json:"extensions,omitempty"`
}

// Bazaar is a facilitator's discovery API: an http.Handler serving GET
// /discovery/resources (limit, offset, and the filters type, network, scheme, payTo and
// extensions) and GET /discovery/search (query, cursor and the same filters), over the
// items added to it. Search matches every word of the query against an item's URL,
// description, service name and tags, case aside. The zero value is an empty Bazaar,
// ready to use; its methods may be called from several goroutines.
type Bazaar struct {
	mu    sync.Mutex
	items []DiscoveryItem
	mux   *http.ServeMux
}

// Add lists items, after those already listed.
func (b *Bazaar) Add(items ...DiscoveryItem) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.items = append(b.items, items...)
}

// Items returns the listed items, in the order they were added.
func (b *Bazaar) Items() []DiscoveryItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.items)
}

// ServeHTTP implements http.Handler.
func (b *Bazaar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	if b.mux == nil {
		b.mux = http.NewServeMux()
		b.mux.HandleFunc("GET /discovery/resources", b.serveList)
		b.mux.HandleFunc("GET /discovery/search", b.serveSearch)
	}
	mux := b.mux
	b.mu.Unlock()
	mux.ServeHTTP(w, r)
}

// bazaarError answers 400 with the error member the conformance vectors expect
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/bazaar_discovery_conformance.md).
func bazaarError(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// pageParam reads limit or offset: a whole number from lowest up, def when absent.
func pageParam(r *http.Request, name string, def, lowest, highest int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lowest || n > highest {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d", name, lowest, highest)
	}
	return n, nil
}

func (b *Bazaar) serveList(w http.ResponseWriter, r *http.Request) {
	limit, err := pageParam(r, "limit", BazaarDefaultLimit, 1, BazaarMaxLimit)
	if err == nil {
		var offset int
		offset, err = pageParam(r, "offset", 0, 0, 1<<31-1)
		if err == nil {
			items := b.matching(r, nil)
			page := items[min(offset, len(items)):min(offset+limit, len(items))]
			writeJSON(w, http.StatusOK, map[string]any{
				"x402Version": 2,
				"items":       orEmpty(page),
				"pagination":  map[string]int{"limit": limit, "offset": offset, "total": len(items)},
			})
			return
		}
	}
	bazaarError(w, "%v", err)
}

func (b *Bazaar) serveSearch(w http.ResponseWriter, r *http.Request) {
	words := strings.Fields(strings.ToLower(r.URL.Query().Get("query")))
	if len(words) == 0 {
		bazaarError(w, "query is required")
		return
	}
	limit, err := pageParam(r, "limit", BazaarDefaultLimit, 1, BazaarMaxLimit)
	if err != nil {
		bazaarError(w, "%v", err)
		return
	}
	offset := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		if offset, err = strconv.Atoi(strings.TrimPrefix(c, "o")); err != nil || offset < 0 || !strings.HasPrefix(c, "o") {
			bazaarError(w, "cursor %q is not one this Bazaar gave", c)
			return
		}
	}
	items := b.matching(r, words)
	page := items[min(offset, len(items)):min(offset+limit, len(items))]
	var cursor *string
	if offset+limit < len(items) {
		next := "o" + strconv.Itoa(offset+limit)
		cursor = &next
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"x402Version": 2,
		"resources":   orEmpty(page),
		"pagination":  map[string]any{"limit": len(page), "cursor": cursor},
	})
}

func orEmpty(items []DiscoveryItem) []DiscoveryItem {
	if items == nil {
		return []DiscoveryItem{}
	}
	return items
}

// matching returns the items that pass the request's filters and, when words are
// given, hold every one of them.
func (b *Bazaar) matching(r *http.Request, words []string) []DiscoveryItem {
	q := r.URL.Query()
	var out []DiscoveryItem
	for _, it := range b.Items() {
		if t := q.Get("type"); t != "" && it.Type != t {
			continue
		}
		if ext := q.Get("extensions"); ext != "" && it.Extensions[ext] == nil {
			continue
		}
		if !acceptsMatch(it.Accepts, q.Get("network"), q.Get("scheme"), q.Get("payTo")) {
			continue
		}
		text := strings.ToLower(strings.Join(append([]string{it.Resource, it.Description, it.ServiceName}, it.Tags...), " "))
		if !allWords(text, words) {
			continue
		}
		out = append(out, it)
	}
	return out
}

func allWords(text string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// acceptsMatch reports whether one of the requirements is on network, of scheme and to
// payTo (each "" matching any).
func acceptsMatch(accepts []json.RawMessage, network, scheme, payTo string) bool {
	if network == "" && scheme == "" && payTo == "" {
		return true
	}
	for _, raw := range accepts {
		req, err := x402.ParseRequirement(raw)
		if err != nil {
			continue
		}
		if (network == "" || x402.SameNetwork(req.Network, network)) && (scheme == "" || req.Scheme == scheme) &&
			(payTo == "" || strings.EqualFold(req.PayTo, payTo)) {
			return true
		}
	}
	return false
}

// pathParam is a wildcard of a ServeMux pattern: {city}, or {rest...}.
var pathParam = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// DiscoveryItems returns the API's paid routes as a Bazaar lists them: each with the
// payment requirement its 402 gives and the bazaar extension (info and schema from the
// route's BazaarInfo, and routeTemplate for a pattern with wildcards). lastUpdated is
// now. Nil without a BaseURL.
func (a *PaidAPI) DiscoveryItems(now time.Time) []DiscoveryItem {
	if a.opts.BaseURL == "" {
		return nil
	}
	var items []DiscoveryItem
	for _, rt := range a.opts.Routes {
		if !rt.paid() {
			continue
		}
		units, err := tokenUnits(rt.Price)
		if err != nil {
			continue // NewPaidAPI refused such a route
		}
		rt.Price = money.New(units, TokenDecimals)
		items = append(items, a.discoveryItem(rt, now))
	}
	return items
}

// discoveryItem lists one paid route.
func (a *PaidAPI) discoveryItem(rt Route, now time.Time) DiscoveryItem {
	info := BazaarInfo{}
	if rt.Bazaar != nil {
		info = *rt.Bazaar
	}
	input := map[string]any{"type": "http", "method": first(rt.Method, http.MethodGet)}
	for k, v := range info.Input {
		input[k] = v
	}
	pathValues, _ := input["pathParams"].(map[string]any)
	path := pathParam.ReplaceAllStringFunc(rt.Pattern, func(m string) string {
		name := pathParam.FindStringSubmatch(m)[1]
		if v, ok := pathValues[name]; ok {
			return fmt.Sprint(v)
		}
		return name
	})
	resource := a.opts.BaseURL + path
	ext := map[string]any{"info": map[string]any{"input": input}}
	if info.Output != nil {
		ext["info"].(map[string]any)["output"] = info.Output
	}
	if info.InputSchema != nil {
		ext["schema"] = map[string]any{
			"$schema":    "https://json-schema.org/draft/2020-12/schema",
			"type":       "object",
			"properties": map[string]any{"input": info.InputSchema},
			"required":   []string{"input"},
		}
	}
	if pathParam.MatchString(rt.Pattern) {
		ext["routeTemplate"] = pathParam.ReplaceAllString(rt.Pattern, ":$1")
	}
	return DiscoveryItem{
		Resource:    resource,
		Type:        "http",
		X402Version: rt.Version,
		Accepts:     []json.RawMessage{a.discoveryRequirement(rt, resource, info)},
		LastUpdated: now.Unix(),
		Description: rt.Description,
		ServiceName: "x402test",
		Extensions:  map[string]any{"bazaar": ext},
	}
}

// discoveryRequirement is the payment requirement of a route as its 402 gives it, for
// resource; a v1 requirement carries the route's info as its outputSchema, as v1 did.
func (a *PaidAPI) discoveryRequirement(rt Route, resource string, info BazaarInfo) json.RawMessage {
	var v any = x402.RequirementV2{
		Scheme: x402.SchemeExact, Network: a.networkV2, Amount: rt.Price.AtomicString(),
		Asset: a.asset, PayTo: a.payTo, MaxTimeoutSeconds: a.opts.MaxTimeoutSeconds, Extra: a.extra(),
	}
	if rt.Version == 1 {
		schema, _ := json.Marshal(map[string]any{"input": info.Input, "output": info.Output})
		v = x402.RequirementV1{
			Scheme: x402.SchemeExact, Network: a.networkV1, MaxAmountRequired: rt.Price.AtomicString(),
			Resource: resource, Description: rt.Description, MimeType: "application/json", OutputSchema: schema,
			PayTo: a.payTo, MaxTimeoutSeconds: a.opts.MaxTimeoutSeconds, Asset: a.asset, Extra: a.extra(),
		}
	}
	raw, _ := json.Marshal(v)
	return raw
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// The weather API's routes in the Bazaar.

func weatherBazaar() *BazaarInfo {
	return &BazaarInfo{
		Input: map[string]any{"type": "http", "method": "GET", "pathParams": map[string]any{"city": "Oslo"}, "queryParams": map[string]any{"units": "metric"}},
		InputSchema: inputSchema(map[string]any{
			"pathParams":  object(map[string]any{"city": citySchema()}, "city"),
			"queryParams": object(map[string]any{"units": map[string]any{"type": "string", "enum": []string{"metric", "imperial"}, "description": "Units of the temperature; metric when absent."}}),
		}),
		Output: map[string]any{"type": "json", "example": map[string]any{"city": "Oslo", "tempC": 3.5, "conditions": "fog"}},
	}
}

func reportBazaar() *BazaarInfo {
	return &BazaarInfo{
		Input: map[string]any{"type": "http", "method": "POST", "bodyType": "json", "body": map[string]any{"city": "Oslo", "days": 3}},
		InputSchema: inputSchema(map[string]any{
			"body": object(map[string]any{"city": citySchema(), "days": map[string]any{"type": "integer", "minimum": 1, "maximum": 14, "description": "Days of the report."}}, "city", "days"),
		}),
		Output: map[string]any{"type": "json", "example": map[string]any{"city": "Oslo", "days": []any{}}},
	}
}

func climateBazaar() *BazaarInfo {
	return &BazaarInfo{
		Input:       map[string]any{"type": "http", "method": "GET", "pathParams": map[string]any{"city": "Oslo"}},
		InputSchema: inputSchema(map[string]any{"pathParams": object(map[string]any{"city": citySchema()}, "city")}),
		Output:      map[string]any{"type": "json", "example": map[string]any{"city": "Oslo", "years": 30}},
	}
}

func citySchema() map[string]any {
	return map[string]any{"type": "string", "minLength": 1, "maxLength": 64, "description": "City name."}
}

func object(props map[string]any, required ...string) map[string]any {
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// inputSchema is the schema of an info.input of type http with the given members.
func inputSchema(members map[string]any) map[string]any {
	props := map[string]any{"type": map[string]any{"type": "string", "const": "http"}, "method": map[string]any{"type": "string"}}
	for k, v := range members {
		props[k] = v
	}
	return map[string]any{"type": "object", "properties": props, "required": []string{"type", "method"}}
}
