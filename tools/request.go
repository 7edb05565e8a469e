package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools/x402"
)

// request is an HTTP request built from tool arguments. It can be sent more than once
// (unpaid, then paid) with the same bytes.
type request struct {
	method string
	url    string // as logged and recorded: without credentials
	header http.Header
	body   []byte

	// The API's own credentials (catalog.Credential), added only when the request is
	// made: never logged, never in the ledger.
	credHeader http.Header
	credQuery  url.Values
}

// reservedHeaders may not be set from tool arguments: they carry payments, framing or
// hop-by-hop meaning, and a spec that declares them as parameters is not obeyed.
var reservedHeaders = map[string]bool{
	http.CanonicalHeaderKey(x402.HeaderXPayment):         true,
	http.CanonicalHeaderKey(x402.HeaderPaymentSignature): true,
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Te": true, "Upgrade": true, "Cookie": true,
}

// buildRequest turns validated arguments into the operation's HTTP request, written as
// its spec says: each parameter in its style, the body as its media type. Whatever toll
// cannot write is refused here, before anything is sent or paid.
func buildRequest(op *catalog.Operation, args map[string]any, getenv func(string) string) (*request, error) {
	if err := checkArguments(op, args); err != nil {
		return nil, err
	}
	path, err := requestPath(op, args)
	if err != nil {
		return nil, err
	}
	query, err := requestQuery(op, args)
	if err != nil {
		return nil, err
	}
	header, err := requestHeaders(op, args)
	if err != nil {
		return nil, err
	}
	cookie, err := requestCookies(op, args)
	if err != nil {
		return nil, err
	}
	if cookie != "" {
		header.Set("Cookie", cookie)
	}
	r := &request{method: op.Method, header: header}
	if op.Body != nil && args[op.Body.Arg] != nil {
		body, contentType, err := writeBody(op, args[op.Body.Arg])
		if err != nil {
			return nil, err
		}
		r.body = body
		header.Set("Content-Type", contentType)
	}
	u, err := url.Parse(strings.TrimRight(op.ServerURL, "/") + path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %s has no usable server URL (%q); set the API's base URL", ErrUpstream, op.Name, op.ServerURL)
	}
	u.RawQuery = query
	r.url = u.String()
	header.Set("Accept", "application/json, */*;q=0.5")
	if r.credHeader, r.credQuery, err = requestCredentials(op, getenv); err != nil {
		return nil, err
	}
	return r, nil
}

// checkArguments refuses arguments the operation does not take, missing required ones,
// and values the spec asks toll to write in a way it cannot.
func checkArguments(op *catalog.Operation, args map[string]any) error {
	known := map[string]bool{}
	for _, p := range op.Params {
		known[p.Arg] = true
		if args[p.Arg] == nil {
			if p.Required {
				return fmt.Errorf("%w: %s needs the %s parameter %q", ErrInvalidArguments, op.Name, p.In, p.Arg)
			}
			continue
		}
		if why := p.Unsupported(); why != "" {
			return cannotEncode(op, "%s parameter %q: %s", p.In, p.Arg, why)
		}
	}
	if b := op.Body; b != nil {
		known[b.Arg] = true
		if args[b.Arg] == nil && b.Required {
			return fmt.Errorf("%w: %s needs the %q argument (the request body)", ErrInvalidArguments, op.Name, b.Arg)
		}
		if why := b.Unsupported(); why != "" && args[b.Arg] != nil {
			return cannotEncode(op, "the request body: %s", why)
		}
	}
	var unknown []string
	for k := range args {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%w: %s takes no argument %s", ErrInvalidArguments, op.Name, strings.Join(unknown, ", "))
	}
	return nil
}

// cannotEncode is the refusal of a request toll cannot write as the spec says.
func cannotEncode(op *catalog.Operation, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s; nothing was sent or paid", ErrCannotEncode, op.Name, fmt.Sprintf(format, a...))
}

// given yields the parameters of op in a location that have a value among args.
func given(op *catalog.Operation, args map[string]any, in string) iter.Seq2[catalog.Param, any] {
	return func(yield func(catalog.Param, any) bool) {
		for _, p := range op.Params {
			if v := args[p.Arg]; p.In == in && v != nil && !yield(p, v) {
				return
			}
		}
	}
}

// contentText writes a parameter described by content rather than a style: as JSON,
// or, for a text media type, as text.
func contentText(p catalog.Param, v any) (string, error) {
	if catalog.MediaKind(p.MediaType) == catalog.MediaText {
		if s, ok := text(v); ok {
			return s, nil
		}
		return "", fmt.Errorf("must be a string for %s, not %s", p.MediaType, kindOf(v))
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// paramError says which parameter could not be written.
func paramError(op *catalog.Operation, p catalog.Param, err error) error {
	return fmt.Errorf("%w: %s: %s parameter %q: %v", ErrInvalidArguments, op.Name, p.In, p.Arg, err)
}

// requestPath fills the path template. A value never adds a segment ("/" is
// percent-encoded) and never makes a segment "." or "..", which would move the request
// to another path.
func requestPath(op *catalog.Operation, args map[string]any) (string, error) {
	values := map[string]string{}
	for p, v := range given(op, args, "path") {
		var s string
		var err error
		if p.MediaType != "" {
			s, err = contentText(p, v)
			s = urlEscape(s)
		} else {
			style, explode := p.Serialization()
			s, err = expand(p.Name, v, style, explode, urlEscape)
		}
		if err != nil {
			return "", paramError(op, p, err)
		}
		if s == "" {
			return "", fmt.Errorf("%w: path parameter %q is empty", ErrInvalidArguments, p.Arg)
		}
		values[p.Name] = s
	}
	template, _ := op.Target()
	segs := strings.Split(template, "/")
	for i, seg := range segs {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		out, err := fillSegment(seg, values)
		if err != nil {
			return "", fmt.Errorf("%w: %s: path %s: %v", ErrInvalidArguments, op.Name, op.Path, err)
		}
		if out == "." || out == ".." {
			return "", fmt.Errorf("%w: %s: the path segment %s would be %q, which a server reads as a move to another path; give another value", ErrInvalidArguments, op.Name, seg, out)
		}
		segs[i] = out
	}
	return strings.Join(segs, "/"), nil
}

// fillSegment replaces the {name} variables of one segment of a path template.
func fillSegment(seg string, values map[string]string) (string, error) {
	var b strings.Builder
	for {
		open := strings.IndexByte(seg, '{')
		end := strings.IndexByte(seg, '}')
		if open < 0 && end < 0 {
			b.WriteString(seg)
			return b.String(), nil
		}
		if open < 0 || end < open {
			return "", fmt.Errorf("unbalanced braces")
		}
		name := seg[open+1 : end]
		v, ok := values[name]
		if !ok {
			return "", fmt.Errorf("no argument fills the template variable {%s}", name)
		}
		b.WriteString(seg[:open])
		b.WriteString(v)
		seg = seg[end+1:]
	}
}

// requestQuery writes the query parameters, in their order, each in its style.
func requestQuery(op *catalog.Operation, args map[string]any) (string, error) {
	pairs := pathQuery(op, args)
	for p, v := range given(op, args, "query") {
		esc := func(s string) string { return escape(s, p.AllowReserved) }
		if p.MediaType != "" {
			s, err := contentText(p, v)
			if err != nil {
				return "", paramError(op, p, err)
			}
			pairs = append(pairs, pair{p.Name, esc(s)})
			continue
		}
		style, explode := p.Serialization()
		more, err := formPairs(p.Name, v, style, explode, esc)
		if err != nil {
			return "", paramError(op, p, err)
		}
		pairs = append(pairs, more...)
	}
	return joinPairs(pairs, "&", urlEscape), nil
}

// pathQuery returns the literal pairs of the query the operation's path writes
// ("/search?type=artist"), but those a query parameter given a value replaces.
func pathQuery(op *catalog.Operation, args map[string]any) []pair {
	_, fixed := op.Target()
	var pairs []pair
	for _, q := range fixed {
		replaced := false
		for p := range given(op, args, "query") {
			replaced = replaced || p.Name == q.Name
		}
		if !replaced {
			pairs = append(pairs, pair{q.Name, escape(q.Value, false)})
		}
	}
	return pairs
}

// requestHeaders writes the header parameters in the simple style, as text.
func requestHeaders(op *catalog.Operation, args map[string]any) (http.Header, error) {
	header := http.Header{}
	for p, v := range given(op, args, "header") {
		if reservedHeaders[http.CanonicalHeaderKey(p.Name)] {
			return nil, fmt.Errorf("%w: the spec declares header %q as a parameter; toll never sets it from arguments", ErrInvalidArguments, p.Name)
		}
		var s string
		var err error
		if p.MediaType != "" {
			s, err = contentText(p, v)
		} else {
			style, explode := p.Serialization()
			s, err = expand(p.Name, v, style, explode, verbatim)
		}
		if err != nil || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, fmt.Errorf("%w: header parameter %q must be a single-line value without control characters", ErrInvalidArguments, p.Arg)
		}
		header.Set(p.Name, s)
	}
	return header, nil
}

// requestCookies writes the cookie parameters in the form style, as one Cookie header:
// pairs joined by "; " (https://spec.openapis.org/oas/v3.1.1#appendix-d-serializing-headers-and-cookies).
func requestCookies(op *catalog.Operation, args map[string]any) (string, error) {
	var pairs []pair
	for p, v := range given(op, args, "cookie") {
		if p.MediaType != "" {
			s, err := contentText(p, v)
			if err != nil {
				return "", paramError(op, p, err)
			}
			pairs = append(pairs, pair{p.Name, urlEscape(s)})
			continue
		}
		style, explode := p.Serialization()
		more, err := formPairs(p.Name, v, style, explode, urlEscape)
		if err != nil {
			return "", paramError(op, p, err)
		}
		pairs = append(pairs, more...)
	}
	return joinPairs(pairs, "; ", tokenEscape), nil
}

// tokenEscape percent-encodes the bytes a cookie name (an HTTP token) cannot hold.
func tokenEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c > ' ' && c < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c)) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// requestCredentials reads the API's own credentials from the environment.
func requestCredentials(op *catalog.Operation, getenv func(string) string) (http.Header, url.Values, error) {
	var header http.Header
	var query url.Values
	for _, c := range op.Credentials {
		v := getenv(c.Env)
		if v == "" {
			return nil, nil, fmt.Errorf("%w: %s needs the credential %s %q from the environment variable %s, which is empty; set it where toll runs", ErrUpstream, op.Name, c.In, c.Name, c.Env)
		}
		switch c.In {
		case "header":
			if header == nil {
				header = http.Header{}
			}
			header.Set(c.Name, v)
		case "query":
			if query == nil {
				query = url.Values{}
			}
			query.Set(c.Name, v)
		}
	}
	return header, query, nil
}

// httpRequest makes a fresh *http.Request; extra headers (a payment) are added on top.
// Query credentials are appended to the query as it was written, which is not re-encoded.
func (r *request) httpRequest(ctx context.Context, extra http.Header) (*http.Request, error) {
	var req *http.Request
	var err error
	if r.body != nil {
		req, err = http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	} else {
		req, err = http.NewRequestWithContext(ctx, r.method, r.url, nil)
	}
	if err != nil {
		return nil, err
	}
	if len(r.credQuery) > 0 {
		q := r.credQuery.Encode()
		if req.URL.RawQuery != "" {
			q = req.URL.RawQuery + "&" + q
		}
		req.URL.RawQuery = q
	}
	for k, vs := range r.credHeader {
		req.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range r.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range extra {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("User-Agent", "toll (x402 MCP client)")
	return req, nil
}
