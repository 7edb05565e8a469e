package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
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

// buildRequest turns validated arguments into the operation's HTTP request.
func buildRequest(op *catalog.Operation, args map[string]any, getenv func(string) string) (*request, error) {
	known := map[string]bool{}
	path := op.Path
	query := url.Values{}
	header := http.Header{}
	var cookies []string
	for _, p := range op.Params {
		known[p.Arg] = true
		v, ok := args[p.Arg]
		if !ok || v == nil {
			if p.Required {
				return nil, fmt.Errorf("%w: %s needs the %s parameter %q", ErrInvalidArguments, op.Name, p.In, p.Arg)
			}
			continue
		}
		switch p.In {
		case "path":
			s, err := scalarText(v, ",")
			if err != nil {
				return nil, fmt.Errorf("%w: path parameter %q: %v", ErrInvalidArguments, p.Arg, err)
			}
			if s == "" {
				return nil, fmt.Errorf("%w: path parameter %q is empty", ErrInvalidArguments, p.Arg)
			}
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(s))
		case "query":
			if list, ok := v.([]any); ok {
				for _, item := range list {
					s, err := scalarText(item, ",")
					if err != nil {
						return nil, fmt.Errorf("%w: query parameter %q: %v", ErrInvalidArguments, p.Arg, err)
					}
					query.Add(p.Name, s)
				}
				continue
			}
			s, err := scalarText(v, ",")
			if err != nil {
				return nil, fmt.Errorf("%w: query parameter %q: %v", ErrInvalidArguments, p.Arg, err)
			}
			query.Set(p.Name, s)
		case "header":
			if reservedHeaders[http.CanonicalHeaderKey(p.Name)] {
				return nil, fmt.Errorf("%w: the spec declares header %q as a parameter; toll never sets it from arguments", ErrInvalidArguments, p.Name)
			}
			s, err := scalarText(v, ",")
			if err != nil || strings.ContainsAny(s, "\r\n") {
				return nil, fmt.Errorf("%w: header parameter %q must be a single-line value", ErrInvalidArguments, p.Arg)
			}
			header.Set(p.Name, s)
		case "cookie":
			s, err := scalarText(v, ",")
			if err != nil || strings.ContainsAny(s, "\r\n;") {
				return nil, fmt.Errorf("%w: cookie parameter %q must be a plain value", ErrInvalidArguments, p.Arg)
			}
			cookies = append(cookies, p.Name+"="+url.QueryEscape(s))
		default:
			return nil, fmt.Errorf("%w: parameter %q is in %q, which toll cannot send", ErrInvalidArguments, p.Arg, p.In)
		}
	}
	if strings.ContainsAny(path, "{}") {
		return nil, fmt.Errorf("%w: path %s still has a template variable after substitution", ErrInvalidArguments, path)
	}
	r := &request{method: op.Method, header: header}
	if op.Body != nil {
		known[op.Body.Arg] = true
		if v, ok := args[op.Body.Arg]; ok {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%w: body: %v", ErrInvalidArguments, err)
			}
			r.body = b
			mt := op.Body.MediaType
			if mt == "" {
				mt = "application/json"
			}
			header.Set("Content-Type", mt)
		} else if op.Body.Required {
			return nil, fmt.Errorf("%w: %s needs the %q argument (the request body)", ErrInvalidArguments, op.Name, op.Body.Arg)
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
		return nil, fmt.Errorf("%w: %s takes no argument %s", ErrInvalidArguments, op.Name, strings.Join(unknown, ", "))
	}
	if len(cookies) > 0 {
		header.Set("Cookie", strings.Join(cookies, "; "))
	}
	u, err := url.Parse(strings.TrimRight(op.ServerURL, "/") + path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %s has no usable server URL (%q); set the API's base URL", ErrUpstream, op.Name, op.ServerURL)
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	r.url = u.String()
	header.Set("Accept", "application/json, */*;q=0.5")
	for _, c := range op.Credentials {
		v := getenv(c.Env)
		if v == "" {
			return nil, fmt.Errorf("%w: %s needs the credential %s %q from the environment variable %s, which is empty; set it where toll runs", ErrUpstream, op.Name, c.In, c.Name, c.Env)
		}
		switch c.In {
		case "header":
			if r.credHeader == nil {
				r.credHeader = http.Header{}
			}
			r.credHeader.Set(c.Name, v)
		case "query":
			if r.credQuery == nil {
				r.credQuery = url.Values{}
			}
			r.credQuery.Set(c.Name, v)
		}
	}
	return r, nil
}

// httpRequest makes a fresh *http.Request; extra headers (a payment) are added on top.
func (r *request) httpRequest(ctx context.Context, extra http.Header) (*http.Request, error) {
	var body *bytes.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, r.method, r.url, body)
	} else {
		req, err = http.NewRequestWithContext(ctx, r.method, r.url, nil)
	}
	if err != nil {
		return nil, err
	}
	if len(r.credQuery) > 0 {
		q := req.URL.Query()
		for k, vs := range r.credQuery {
			q[k] = vs
		}
		req.URL.RawQuery = q.Encode()
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

// scalarText writes a JSON argument value as parameter text.
func scalarText(v any, sep string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, item := range x {
			s, err := scalarText(item, sep)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, sep), nil
	case map[string]any:
		b, err := json.Marshal(x)
		return string(b), err
	}
	return "", fmt.Errorf("unsupported value of type %T", v)
}
