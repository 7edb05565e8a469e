// Package upstream connects toll to the MCP servers it serves the tools of (toll.yaml's
// mcp_servers): over streamable HTTP or a child process's stdio, with mcp-go's client. It
// lists their tools, reads the prices they advertise, and sends each tools/call exactly
// once, returning its raw result whatever its resultType, so that package tools can read
// a payment asked in either binding of the x402 MCP transport
// (https://github.com/x402-foundation/x402/blob/main/specs/transports-v2/mcp.md) and pay
// it as it pays an HTTP 402.
//
// A server that is down when toll starts does not stop toll: Conn.Run retries it, and a
// call of one of its tools says it is unreachable. A server is never sent a call twice:
// toll reconnects only before a call, never to resend one.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/x402"
)

// Config is one upstream MCP server: URL, or Command (with Args and Env), not both.
type Config struct {
	// Namespace prefixes its tools' names in toll (NAMESPACE_TOOL) and names it as an
	// API for caps, pay_to and the ledger. It matches NamespacePattern.
	Namespace string
	// URL is the streamable HTTP endpoint (http or https).
	URL string
	// Headers are sent with every HTTP request (values already read from the
	// environment); nil: none.
	Headers map[string]string
	// Command and Args start a child process that speaks MCP on its stdin and stdout.
	Command string
	Args    []string
	// Env are NAME=value entries added to toll's environment for the child; nil: none.
	Env []string
	// Legacy connects with the initialize handshake of MCP before 2026-07-28 only;
	// false tries 2026-07-28 first and falls back to it.
	Legacy bool
}

// NamespacePattern is what a namespace looks like: a lower-case letter, then lower-case
// letters and digits. It has no "_", so that NAMESPACE_TOOL names of two namespaces
// never collide.
const NamespacePattern = `^[a-z][a-z0-9]{0,23}$`

var namespacePattern = regexp.MustCompile(NamespacePattern)

// Check reports what is wrong with cfg: no namespace or one that does not match
// NamespacePattern, both URL and Command or neither, a URL that is not http(s).
func (cfg Config) Check() error {
	if !namespacePattern.MatchString(cfg.Namespace) {
		return fmt.Errorf("namespace %q must match %s (lower-case letters and digits, starting with a letter, no \"_\")", cfg.Namespace, NamespacePattern)
	}
	switch {
	case cfg.URL != "" && cfg.Command != "":
		return fmt.Errorf("%s has both url and command: give url for a server over HTTP, or command (and args) for one over stdio", cfg.Namespace)
	case cfg.URL == "" && cfg.Command == "":
		return fmt.Errorf("%s has neither url nor command: give url for a server over HTTP, or command (and args) for one over stdio", cfg.Namespace)
	case cfg.URL != "":
		u, err := url.Parse(cfg.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: url %q is not an http or https URL", cfg.Namespace, cfg.URL)
		}
	}
	return nil
}

// Where says where the server is, for logs and messages: its URL, or "stdio: COMMAND".
func (cfg Config) Where() string {
	if cfg.URL != "" {
		return cfg.URL
	}
	return "stdio: " + cfg.Command
}

// Options configures a Conn; the zero value means the defaults.
type Options struct {
	// Logger receives connection failures and retries; nil is silent.
	Logger *slog.Logger
	// RetryEvery is how long Run waits between connection attempts to a server that is
	// down; zero: 30 seconds.
	RetryEvery time.Duration
	// Timeout bounds connecting and listing tools; zero: 30 seconds.
	Timeout time.Duration
	// CallTimeout bounds one tools/call, as toll's HTTP client bounds a request; zero: 60
	// seconds. A paid call that times out counts as spent until reconciled.
	CallTimeout time.Duration
	// HTTPClient sends the HTTP requests; nil: a client without a timeout (a call's
	// context bounds it). Redirects are never followed: a payment must not travel to
	// another URL.
	HTTPClient *http.Client
	// Version is toll's version in the clientInfo it sends; "": "dev".
	Version string
}

// Conn is the connection to one upstream MCP server. It is safe for concurrent use.
type Conn struct {
	cfg  Config
	opts Options
	log  *slog.Logger
	ids  atomic.Int64

	mu     sync.Mutex
	cl     *client.Client // nil: not connected
	listed []mcp.Tool     // as the last connection listed them
	tools  map[string]mcp.Tool
	watch  func([]Tool) // Watch's f; nil: none
}

// New checks cfg and returns its Conn, not connected yet: Connect or Run connects.
func New(cfg Config, opts Options) (*Conn, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("mcp server: %w", err)
	}
	if opts.RetryEvery <= 0 {
		opts.RetryEvery = 30 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 60 * time.Second
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Conn{cfg: cfg, opts: opts, log: lg.With("mcp_server", cfg.Namespace, "at", cfg.Where())}, nil
}

// Config is the configuration c was made with.
func (c *Conn) Config() Config { return c.cfg }

// Run connects c again every Options.RetryEvery while it is down (a failed call drops
// the connection), until ctx is done; then it closes c. It waits before its first try:
// call Connect first.
func (c *Conn) Run(ctx context.Context) {
	defer c.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.opts.RetryEvery):
		}
		if _, err := c.connected(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("mcp server unreachable; toll serves the rest and tries again", "err", err, "retry_in", c.opts.RetryEvery)
		}
	}
}

// Connect connects c now unless it is connected, and lists its tools.
func (c *Conn) Connect(ctx context.Context) error {
	_, err := c.connected(ctx)
	return err
}

// Close ends the connection (and a stdio server's process).
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl == nil {
		return nil
	}
	err := c.cl.Close()
	c.cl = nil
	return err
}

// connected returns the client of c, connecting it first when it is down.
func (c *Conn) connected(ctx context.Context) (*client.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl != nil {
		return c.cl, nil
	}
	cl, tools, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.cl, c.listed = cl, tools
	c.tools = map[string]mcp.Tool{}
	for _, t := range tools {
		c.tools[t.Name] = t
	}
	c.log.Info("mcp server connected", "tools", len(tools), "protocol", cl.ProtocolVersion())
	if c.watch != nil {
		c.watch(toolsOf(c.cfg, tools))
	}
	return cl, nil
}

// Watch calls f with the server's tools now if c is connected, and again after each
// connection that lists them. f runs under c's lock: it must not call c.
func (c *Conn) Watch(f func([]Tool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watch = f
	if c.cl != nil {
		f(toolsOf(c.cfg, c.listed))
	}
}

// drop forgets cl after a failed call, so that the next call connects again.
func (c *Conn) drop(cl *client.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl == cl {
		_ = cl.Close()
		c.cl = nil
	}
}

// dial starts the transport, makes the handshake and lists the tools.
func (c *Conn) dial(ctx context.Context) (*client.Client, []mcp.Tool, error) {
	tr, err := c.transport()
	if err != nil {
		return nil, nil, err
	}
	caps := mcp.ClientCapabilities{Extensions: map[string]any{x402.ExtensionMCPPayment: map[string]any{}}}
	options := []client.ClientOption{client.WithClientCapabilities(caps), client.WithMaxInputRoundTrips(1)}
	if c.cfg.Legacy {
		//lint:ignore SA1019 legacy_protocol: true asks for exactly this, for servers that predate 2026-07-28
		options = append(options, client.WithLegacyProtocolOnly())
	}
	cl := client.NewClient(tr, options...)
	// A stdio server lives as long as the context Start is given.
	if err := cl.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", c.cfg.Where(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = c.clientInfo()
	init.Params.Capabilities = caps
	if _, err := cl.Initialize(ctx, init); err != nil {
		_ = cl.Close()
		return nil, nil, fmt.Errorf("initialize %s: %w", c.cfg.Where(), err)
	}
	listed, err := cl.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		_ = cl.Close()
		return nil, nil, fmt.Errorf("list the tools of %s: %w", c.cfg.Where(), err)
	}
	return cl, listed.Tools, nil
}

func (c *Conn) clientInfo() mcp.Implementation {
	return mcp.Implementation{Name: "toll", Version: c.opts.Version}
}

// transport is the mcp-go transport of c's configuration.
func (c *Conn) transport() (transport.Interface, error) {
	if c.cfg.Command != "" {
		return transport.NewStdioWithOptions(c.cfg.Command, c.cfg.Env, c.cfg.Args, transport.WithCommandLogger(c.log)), nil
	}
	hc := http.Client{}
	if c.opts.HTTPClient != nil {
		hc = *c.opts.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = sentTransport{base}
	return transport.NewStreamableHTTP(c.cfg.URL, transport.WithHTTPHeaders(c.cfg.Headers), transport.WithHTTPBasicClient(&hc))
}

// sentTransport calls the SentHook of a request's context (a paid call) as the request's
// body is read to be written: its bytes start to leave the process then.
type sentTransport struct{ base http.RoundTripper }

func (t sentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := tools.SentHook(req.Context())
	if sent == nil || req.Body == nil || req.Body == http.NoBody {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Body = &sentBody{ReadCloser: req.Body, sent: sent}
	return t.base.RoundTrip(r)
}

// sentBody calls sent before its first read.
type sentBody struct {
	io.ReadCloser
	sent func()
	once sync.Once
}

func (b *sentBody) Read(p []byte) (int, error) {
	b.once.Do(b.sent)
	return b.ReadCloser.Read(p)
}

// ErrUnreachable: the upstream server could not be connected; nothing was sent.
var ErrUnreachable = errors.New("mcp server unreachable")

// CallTool sends one tools/call of tool with args, and meta in params._meta, and returns
// the JSON of its result, whatever its resultType (tools.Upstream). It goes straight to
// the transport, once: mcp-go's CallTool would drop a payment_required result and may
// send a call again for more input, and a paid call must never be sent twice.
func (c *Conn) CallTool(ctx context.Context, tool string, args json.RawMessage, meta map[string]any) (json.RawMessage, error) {
	cl, err := c.connected(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s (%s): %v; nothing was sent, and toll tries again every %s", ErrUnreachable, c.cfg.Namespace, c.cfg.Where(), err, c.opts.RetryEvery)
	}
	req, err := c.request(cl, tool, args, meta)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	if sent := tools.SentHook(ctx); sent != nil && c.cfg.Command != "" {
		sent() // on stdio the request is written at once, with nothing to hook
	}
	resp, err := cl.GetTransport().SendRequest(ctx, req)
	if err != nil {
		c.drop(cl)
		return nil, fmt.Errorf("tools/call %s on %s: %w", tool, c.cfg.Where(), err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("tools/call %s on %s: error %d: %s", tool, c.cfg.Where(), resp.Error.Code, resp.Error.Message)
	}
	return resp.Result, nil
}

// request builds the JSON-RPC request of one tools/call as mcp-go's client would for the
// protocol version in effect: on 2026-07-28, the protocol version, client capabilities
// and client info in params._meta, and the standard headers.
func (c *Conn) request(cl *client.Client, tool string, args json.RawMessage, meta map[string]any) (transport.JSONRPCRequest, error) {
	m := map[string]any{}
	for k, v := range meta {
		m[k] = v
	}
	version := cl.ProtocolVersion()
	modern := mcp.IsModernProtocol(version)
	if modern {
		m[mcp.MetaKeyProtocolVersion] = version
		m[mcp.MetaKeyClientCapabilities] = cl.GetClientCapabilities()
		m[mcp.MetaKeyClientInfo] = c.clientInfo()
	}
	params := map[string]any{"name": tool, "arguments": args}
	if len(m) > 0 {
		params["_meta"] = m
	}
	req := transport.JSONRPCRequest{
		JSONRPC: mcp.JSONRPC_VERSION,
		ID:      mcp.NewRequestId(fmt.Sprintf("toll-%d", c.ids.Add(1))),
		Method:  string(mcp.MethodToolsCall),
		Params:  params,
	}
	if modern {
		encoded, err := json.Marshal(params)
		if err != nil {
			return req, fmt.Errorf("tools/call %s: encode params: %w", tool, err)
		}
		req.Header = http.Header{}
		for name, value := range mcp.StandardHeaders(version, mcp.MethodToolsCall, encoded) {
			req.Header.Set(name, value)
		}
		c.mu.Lock()
		t, ok := c.tools[tool]
		c.mu.Unlock()
		if ok {
			for name, value := range mcp.GenerateParamHeaders(&t, encoded) {
				req.Header.Set(name, value)
			}
		}
	}
	return req, nil
}
