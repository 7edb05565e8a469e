package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	mcpserver "github.com/mark3labs/mcp-go/server"
)

// MinTokenLen is the shortest bearer token toll accepts: 32 characters, such as 16
// random bytes in hex (openssl rand -hex 32 gives 64).
const MinTokenLen = 32

// HTTPOptions configures MCP over streamable HTTP. The zero value serves clients on this
// machine (loopback) without authentication, and refuses every other client.
type HTTPOptions struct {
	// Tokens are the bearer tokens that authorize a request (Authorization: Bearer
	// TOKEN), as ParseTokens reads them. Empty: no authentication, which the handler
	// allows only on a loopback connection. With tokens, every request needs one, on
	// loopback too.
	Tokens []string
	// Agents are bearer tokens that each name the agent (tools.Policy.Agents) their
	// requests are made for: the tool handlers pay for that agent, within its caps.
	// Tokens and Agents together are the tokens accepted; a request with any other token
	// is refused before a handler runs. A token given twice names the last agent given.
	Agents []AgentToken
}

// Check reports whether a server listening on addr (host:port, as given to net.Listen
// or from a listener's Addr) may serve with o: an address that is not loopback (a
// hostname other than localhost, 0.0.0.0, ::, an empty host) needs tokens. It wraps
// ErrTokensRequired.
func (o HTTPOptions) Check(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not an address such as 127.0.0.1:8402: %v", addr, err)
	}
	if len(o.Tokens) == 0 && len(o.Agents) == 0 && !isLoopbackHost(host) {
		where := host
		if where == "" {
			where = "every interface"
		}
		return fmt.Errorf("%w: %s is reachable from other machines", ErrTokensRequired, where)
	}
	return nil
}

// ParseTokens reads bearer tokens from text, one a line; blank lines and lines that
// start with # are skipped. Each token has at least MinTokenLen characters, all of
// them allowed in a bearer token by RFC 6750 (letters, digits, - . _ ~ + / and trailing
// =). An error wraps ErrBadToken, names the line, and never quotes it.
func ParseTokens(text string) ([]string, error) {
	var tokens []string
	for i, line := range strings.Split(text, "\n") {
		tok := strings.TrimSpace(line)
		if tok == "" || strings.HasPrefix(tok, "#") {
			continue
		}
		if len(tok) < MinTokenLen {
			return nil, fmt.Errorf("%w: the token on line %d has %d characters, fewer than %d; use a random one, such as the output of openssl rand -hex 32",
				ErrBadToken, i+1, len(tok), MinTokenLen)
		}
		if !isB64Token(tok) {
			return nil, fmt.Errorf("%w: the token on line %d has a character a bearer token cannot have (letters, digits and - . _ ~ + / and = at the end); use one such as the output of openssl rand -hex 32",
				ErrBadToken, i+1)
		}
		tokens = append(tokens, tok)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%w: no token found (write one a line, such as the output of openssl rand -hex 32)", ErrBadToken)
	}
	return tokens, nil
}

// isB64Token reports whether s is a b64token (RFC 6750, section 2.1).
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range body {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~+/", c)
		if !ok {
			return false
		}
	}
	return true
}

// HTTPHandler serves MCP over streamable HTTP at /mcp, and nothing at any other path.
// Before mcp-go sees a request, it checks, in this order:
//   - the Origin header: absent (a program, not a browser page), this machine
//     (loopback) or the server's own origin; any other is refused with 403;
//   - the client: with tokens, the Authorization header must carry one (401 otherwise);
//     without tokens, the connection must have come in on a loopback address (403);
//   - the size: a body over MaxMessageBytes is refused with 413 while it is read.
//
// mcp-go then refuses a Host header that is not loopback on a loopback connection
// (DNS rebinding, 403), and an Mcp-Session-Id that it did not issue or that was ended by
// DELETE (404). Tokens never reach a log.
func (s *Server) HTTPHandler(opts HTTPOptions) http.Handler {
	g := &httpGuard{
		next: mcpserver.NewStreamableHTTPServer(s.mcp,
			mcpserver.WithEndpointPath("/mcp"),
			mcpserver.WithStateful(true), // a deleted or unknown session id is a 404
			mcpserver.WithStreamableHTTPLogger(s.log),
			mcpserver.WithHTTPContextFunc(agentContext)),
		log: s.log,
	}
	for _, t := range opts.Tokens {
		g.tokens = append(g.tokens, sha256.Sum256([]byte(t)))
		g.agents = append(g.agents, "")
	}
	for _, t := range opts.Agents {
		g.tokens = append(g.tokens, sha256.Sum256([]byte(t.Token)))
		g.agents = append(g.agents, t.Agent)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", g)
	return mux
}

// httpGuard checks a request before mcp-go serves it (see HTTPHandler).
type httpGuard struct {
	next   http.Handler
	tokens [][sha256.Size]byte // digests of the bearer tokens; none: loopback only
	agents []string            // the agent each token names ("" for none), by index in tokens
	log    *slog.Logger
}

func (g *httpGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	agent, authorized := g.authorized(r)
	switch {
	case !originAllowed(r):
		g.refuse(w, r, http.StatusForbidden, fmt.Sprintf("Forbidden: a request from the web page at %q is refused; "+
			"toll accepts browser requests only from this machine or its own origin", r.Header.Get("Origin")))
		return
	case len(g.tokens) > 0 && !authorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="toll"`)
		g.refuse(w, r, http.StatusUnauthorized, "Unauthorized: send Authorization: Bearer TOKEN with one of the tokens toll serve was started with")
		return
	case len(g.tokens) == 0 && !loopbackConn(r):
		g.refuse(w, r, http.StatusForbidden, "Forbidden: toll serves clients on other machines only with bearer tokens, and none is configured")
		return
	}
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := readBody(w, r)
		if err != nil {
			status := http.StatusBadRequest
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			g.refuse(w, r, status, err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if authorized {
		r = r.WithContext(withAgent(r.Context(), agent))
	}
	g.next.ServeHTTP(w, r)
}

// refuse answers r with status and msg, and logs it without any header's value.
func (g *httpGuard) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	g.log.Warn("refused an MCP request over HTTP", "status", status, "method", r.Method, "remote", r.RemoteAddr)
	http.Error(w, msg, status)
}

// authorized reports whether r carries one of the tokens, and the agent it names. Every
// token is compared, in constant time, with digests of equal length, so the time taken
// says nothing of which token came close or of their lengths.
func (g *httpGuard) authorized(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	given := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match, which := 0, 0
	for i, t := range g.tokens {
		eq := subtle.ConstantTimeCompare(given[:], t[:])
		match |= eq
		which = subtle.ConstantTimeSelect(eq, i, which)
	}
	if match != 1 {
		return "", false
	}
	return g.agents[which], true
}

// readBody reads r's body, refusing one over MaxMessageBytes as soon as it is seen to be:
// from its Content-Length before reading anything, or while reading it.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxMessageBytes {
		return nil, fmt.Errorf("%s: %w", tooLargeMessage(), &http.MaxBytesError{Limit: MaxMessageBytes})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMessageBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, fmt.Errorf("%s: %w", tooLargeMessage(), err)
		}
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	return body, nil
}

// originAllowed reports whether r's Origin is acceptable. The MCP specification asks
// servers to validate it, against DNS rebinding and web pages that would drive a local
// server (https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#security-warning).
// A request without Origin comes from a program, not a browser page. A page served from
// this machine (a loopback origin) is accepted, as a local process can reach toll
// anyway; so is the server's own origin. Any other site, and "null", is refused.
func originAllowed(r *http.Request) bool {
	origins := r.Header.Values("Origin")
	if len(origins) == 0 {
		return true
	}
	if len(origins) > 1 {
		return false
	}
	u, err := url.Parse(origins[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return isLoopbackHost(u.Hostname()) || strings.EqualFold(u.Host, r.Host)
}

// loopbackConn reports whether r came in on a loopback address of this machine.
func loopbackConn(r *http.Request) bool {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || addr == nil {
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	return err == nil && isLoopbackHost(host)
}

// isLoopbackHost reports whether host (no port) names this machine's loopback: localhost,
// 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
