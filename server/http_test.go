package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools"
)

// TestStreamableHTTP serves the same tools over streamable HTTP and calls one, in both
// protocol eras: the initialize handshake hosts use today and the 2026-07-28 default.
func TestStreamableHTTP(t *testing.T) {
	s, _ := newTestServer(t)
	hs := httptest.NewServer(s.HTTPHandler(HTTPOptions{}))
	defer hs.Close()
	for _, version := range []string{mcp.ProtocolVersion20250618, ""} {
		name := version
		if name == "" {
			name = "latest"
		}
		t.Run(name, func(t *testing.T) {
			c, err := client.NewStreamableHttpClient(hs.URL + "/mcp")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			var init mcp.InitializeRequest
			init.Params.ProtocolVersion = version
			if version == "" {
				init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
			}
			if _, err := c.Initialize(t.Context(), init); err != nil {
				t.Fatalf("initialize: %v", err)
			}
			list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
			if err != nil || len(list.Tools) != 4+len(eagerBuiltins) {
				t.Fatalf("tools/list: %d tools, %v", len(list.Tools), err)
			}
			var req mcp.CallToolRequest
			req.Params.Name = "weather_demo_health"
			req.Params.Arguments = map[string]any{}
			res, err := c.CallTool(t.Context(), req)
			if err != nil || res.IsError {
				t.Fatalf("call: %v %+v", err, res)
			}
			tc, _ := mcp.AsTextContent(res.Content[0])
			if tc == nil || !strings.Contains(tc.Text, `"status":"ok"`) {
				t.Errorf("result %+v", res.Content)
			}
		})
	}
}

// testToken is a bearer token the tests configure; wrongToken is one they do not.
const (
	testToken  = "0123456789abcdef0123456789abcdef-right"
	wrongToken = "0123456789abcdef0123456789abcdef-wrong"
)

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"http-test","version":"0"}}}`

// mcpRequest is a POST of body to url with the headers an MCP client sends, then extra.
func mcpRequest(t *testing.T, method, url, body string, extra http.Header) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, vs := range extra {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

// do sends req and returns the status and body.
func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// chunked hides a body's length, so that it is sent without Content-Length.
type chunked struct{ io.Reader }

// TestHTTPRules: each check HTTPHandler makes before mcp-go serves a request, on a
// loopback listener with and without tokens; an initialize request that passes them is
// answered 200. Tokens reach neither a response nor the log.
func TestHTTPRules(t *testing.T) {
	var logs safeBuffer
	f := newFixture(t, tools.Policy{}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	open := httptest.NewServer(f.s.HTTPHandler(HTTPOptions{}))
	defer open.Close()
	locked := httptest.NewServer(f.s.HTTPHandler(HTTPOptions{Tokens: []string{testToken}}))
	defer locked.Close()
	big := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"` + strings.Repeat("x", MaxMessageBytes) + `"}}`
	h := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			hd.Add(kv[i], kv[i+1])
		}
		return hd
	}
	tests := []struct {
		name       string
		tokens     bool // served by the handler with tokens
		header     http.Header
		host       string // the Host header; "" is the listener's address
		path       string // "" is /mcp
		body       io.Reader
		wantStatus int
		wantBody   string
	}{
		{name: "plain request", wantStatus: 200, wantBody: `"protocolVersion"`},
		{name: "page on localhost", header: h("Origin", "http://localhost:6274"), wantStatus: 200},
		{name: "page on 127.0.0.1", header: h("Origin", "http://127.0.0.1:3000"), wantStatus: 200},
		{name: "page on [::1]", header: h("Origin", "http://[::1]:3000"), wantStatus: 200},
		{name: "foreign page", header: h("Origin", "https://evil.example"), wantStatus: 403, wantBody: "evil.example"},
		{name: "foreign page named like localhost", header: h("Origin", "http://localhost.evil.example"), wantStatus: 403},
		{name: "opaque origin", header: h("Origin", "null"), wantStatus: 403},
		{name: "two origins", header: h("Origin", "http://localhost:1", "Origin", "https://evil.example"), wantStatus: 403},
		{name: "rebound host name", host: "evil.example:80", wantStatus: 403, wantBody: "Host"},
		{name: "another path", path: "/admin", wantStatus: 404},
		{name: "body over the limit", body: strings.NewReader(big), wantStatus: 413, wantBody: "larger than"},
		{name: "chunked body over the limit", body: chunked{strings.NewReader(big)}, wantStatus: 413, wantBody: "larger than"},
		{name: "no token", tokens: true, wantStatus: 401, wantBody: "Bearer"},
		{name: "wrong token", tokens: true, header: h("Authorization", "Bearer "+wrongToken), wantStatus: 401},
		{name: "token as basic auth", tokens: true, header: h("Authorization", "Basic "+testToken), wantStatus: 401},
		{name: "token with a suffix", tokens: true, header: h("Authorization", "Bearer "+testToken+"x"), wantStatus: 401},
		{name: "right token", tokens: true, header: h("Authorization", "Bearer "+testToken), wantStatus: 200, wantBody: `"protocolVersion"`},
		{name: "right token, scheme in lower case", tokens: true, header: h("Authorization", "bearer "+testToken), wantStatus: 200},
		{name: "right token, foreign page", tokens: true, header: h("Authorization", "Bearer "+testToken, "Origin", "https://evil.example"), wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := open.URL
			if tt.tokens {
				base = locked.URL
			}
			path := tt.path
			if path == "" {
				path = "/mcp"
			}
			req := mcpRequest(t, http.MethodPost, base+path, initializeBody, tt.header)
			if tt.body != nil {
				req = mcpRequest(t, http.MethodPost, base+path, "", tt.header)
				req.Body = io.NopCloser(tt.body)
				if s, ok := tt.body.(*strings.Reader); ok {
					req.ContentLength = s.Size()
				}
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			status, body := do(t, req)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("status %d, body %.300q; want %d with %q", status, body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus == 401 && strings.Contains(body, testToken) {
				t.Errorf("the token is in the response: %q", body)
			}
		})
	}
	if !strings.Contains(logs.String(), "status=401") {
		t.Errorf("no refusal logged:\n%s", logs.String())
	}
	for _, secret := range []string{testToken, wrongToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a token is in the log:\n%s", logs.String())
		}
	}
	f.untouched(t)
}

// TestHTTPBeyondLoopback: a connection that came in on an address other than loopback is
// served only with a token: refused (403) when the handler has none, 401 without the
// token, served with it.
func TestHTTPBeyondLoopback(t *testing.T) {
	f := newFixture(t, tools.Policy{}, Options{})
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8402}
	tests := []struct {
		name       string
		opts       HTTPOptions
		auth       string
		wantStatus int
		wantBody   string
	}{
		{"no tokens configured", HTTPOptions{}, "", 403, "bearer tokens"},
		{"no tokens configured, one sent", HTTPOptions{}, "Bearer " + testToken, 403, "bearer tokens"},
		{"token missing", HTTPOptions{Tokens: []string{testToken}}, "", 401, "Bearer"},
		{"token given", HTTPOptions{Tokens: []string{wrongToken, testToken}}, "Bearer " + testToken, 200, `"protocolVersion"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(context.WithValue(t.Context(), http.LocalAddrContextKey, net.Addr(remote)),
				http.MethodPost, "http://192.0.2.10:8402/mcp", strings.NewReader(initializeBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			f.s.HTTPHandler(tt.opts).ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("status %d, body %.300q; want %d with %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// TestHTTPDeletedSessionIsGone: after DELETE /mcp, the session's id gets 404 and its
// tools/call runs nothing; so do an id toll never issued and a call with no id.
func TestHTTPDeletedSessionIsGone(t *testing.T) {
	f := newFixture(t, tools.Policy{Networks: []string{"eip155:84532"}}, Options{})
	hs := httptest.NewServer(f.s.HTTPHandler(HTTPOptions{}))
	defer hs.Close()
	url := hs.URL + "/mcp"
	resp, err := http.DefaultClient.Do(mcpRequest(t, http.MethodPost, url, initializeBody, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || id == "" {
		t.Fatalf("initialize: %d, session id %q", resp.StatusCode, id)
	}
	session := func(id string) http.Header {
		return http.Header{"Mcp-Session-Id": {id}, "Mcp-Protocol-Version": {mcp.ProtocolVersion20250618}}
	}
	call := toolCall(2, "weather_demo_health", `{}`, "")
	if status, body := do(t, mcpRequest(t, http.MethodPost, url, call, session(id))); status != 200 || !strings.Contains(body, "status") {
		t.Fatalf("call in the session: %d %.300s", status, body)
	}
	if status, body := do(t, mcpRequest(t, http.MethodDelete, url, "", session(id))); status != 200 {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	hits := f.hits.Load()
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"deleted session", session(id)},
		{"session never issued", session("mcp-session-8f1c2c1e-6b7a-4f0e-9d59-3f3a4c1b2d10")},
		{"no session", http.Header{"Mcp-Protocol-Version": {mcp.ProtocolVersion20250618}}},
	} {
		if status, body := do(t, mcpRequest(t, http.MethodPost, url, call, tc.header)); status != 404 {
			t.Errorf("%s: %d %.300s; want 404", tc.name, status, body)
		}
	}
	if n := f.hits.Load() - hits; n != 0 {
		t.Errorf("the API received %d requests after the session ended, want none", n)
	}
}

// TestHTTPOptionsCheck: a listener beyond loopback needs tokens.
func TestHTTPOptionsCheck(t *testing.T) {
	tests := []struct {
		addr      string
		tokens    []string
		wantErr   bool
		needsAuth bool // the error is ErrTokensRequired
	}{
		{"127.0.0.1:8402", nil, false, false},
		{"127.0.0.2:0", nil, false, false},
		{"localhost:8402", nil, false, false},
		{"[::1]:0", nil, false, false},
		{"0.0.0.0:0", nil, true, true},
		{"[::]:8402", nil, true, true},
		{":8402", nil, true, true},
		{"192.0.2.10:8402", nil, true, true},
		{"toll.example:8402", nil, true, true},
		{"0.0.0.0:0", []string{testToken}, false, false},
		{"no port", nil, true, false},
	}
	for _, tt := range tests {
		err := HTTPOptions{Tokens: tt.tokens}.Check(tt.addr)
		if (err != nil) != tt.wantErr || errors.Is(err, ErrTokensRequired) != tt.needsAuth {
			t.Errorf("Check(%q) with %d tokens = %v; want error %v, ErrTokensRequired %v", tt.addr, len(tt.tokens), err, tt.wantErr, tt.needsAuth)
		}
	}
}

// TestParseTokens: one token a line, comments and blank lines skipped; a short or
// malformed token is refused without quoting it.
func TestParseTokens(t *testing.T) {
	long := strings.Repeat("a", MinTokenLen)
	tests := []struct {
		name    string
		text    string
		want    []string
		wantErr string // in the error; "" means no error
		secret  string // never in the error
	}{
		{"one token", long + "\n", []string{long}, "", ""},
		{"comments and blanks", "# tokens\n\n  " + testToken + "  \r\n" + wrongToken, []string{testToken, wrongToken}, "", ""},
		{"base64 with padding", "abcdefghijklmnopqrstuvwxyz0123+/==", []string{"abcdefghijklmnopqrstuvwxyz0123+/=="}, "", ""},
		{"empty", "\n# nothing\n", nil, "no token", ""},
		{"too short", "# header\nshort-secret-value\n", nil, "line 2", "short-secret-value"},
		{"a space inside", "secret part one " + long, nil, "line 1", "secret part one"},
		{"a quote inside", `"` + long + `"`, nil, "character", long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTokens(tt.text)
			if tt.wantErr == "" {
				if err != nil || !cmp.Equal(got, tt.want) {
					t.Errorf("ParseTokens = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v; want ErrBadToken mentioning %q", err, tt.wantErr)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}

// safeBuffer is a bytes.Buffer that handlers on other goroutines write to.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
