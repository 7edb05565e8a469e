package tools

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/wallet"
)

// DefaultMaxResponse is how much of a response body a call keeps when
// Config.MaxResponseBytes is zero: 32 MiB, so that what an API sells (an
// image, audio, a long document) is kept whole; the server shows a
// model-sized part of it and keeps the rest for resources/read.
const DefaultMaxResponse = 32 << 20

// Config configures a Client. Wallet and Ledger are required; every other zero value
// means the default.
type Config struct {
	Wallet *wallet.Wallet
	Ledger *ledger.Ledger
	Policy Policy
	// HTTPClient sends the API requests. nil: a client with a 60 s timeout. toll never
	// follows redirects, whatever this client's CheckRedirect says: a payment header must
	// not travel to another URL.
	HTTPClient *http.Client
	// MaxResponseBytes bounds the response body a call keeps (the rest is cut and the
	// result says so). Zero: DefaultMaxResponse.
	MaxResponseBytes int64
	// Logger receives one line per call and per payment step; nil is silent.
	Logger *slog.Logger
	// TermsTTL is how long the terms of an operation's last settled payment are trusted:
	// within it, a repeat call sends its payment with the first request (one round trip
	// instead of two). If the server answers 402 anyway, that payment counts as spent until
	// reconciled, the call fails without paying again, and the terms are forgotten. Zero
	// turns this off: every call is sent unpaid first.
	TermsTTL time.Duration
	// Getenv reads the environment variables that hold the APIs' own credentials
	// (catalog.Operation.Credentials); nil: os.Getenv.
	Getenv func(string) string
	// Now is the clock of the terms cache; nil: time.Now.
	Now func() time.Time
	// Checkpoint, when set, is called at each Step of a paid call. Crash tests use it to
	// kill the process at a precise step; nil does nothing.
	Checkpoint func(Step)
}

// Client calls catalog operations and pays for them within its Policy. It is safe for
// concurrent use.
type Client struct {
	wallet  *wallet.Wallet
	ledger  *ledger.Ledger
	policy  *compiledPolicy
	http    *http.Client
	paid    *http.Client // sends paid requests on a fresh connection (see paidClient)
	ahead   *aheadDialer // dials the paid request's connection ahead; nil: the transport dials
	maxBody int64
	log     *slog.Logger
	check   func(Step)
	getenv  func(string) string
	terms   termsCache
	schemas schemas
	// approval is Policy.Approval.
	approval ApprovalRule
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Wallet == nil {
		return nil, errors.New("tools: no wallet")
	}
	if cfg.Ledger == nil {
		return nil, errors.New("tools: no ledger")
	}
	pol, err := compilePolicy(cfg.Policy)
	if err != nil {
		return nil, err
	}
	c := &Client{
		wallet:  cfg.Wallet,
		ledger:  cfg.Ledger,
		policy:  pol,
		maxBody: cfg.MaxResponseBytes,
		log:     cfg.Logger,
		getenv:  cfg.Getenv,
		check:   cfg.Checkpoint,
		terms:   termsCache{ttl: cfg.TermsTTL, now: cfg.Now},

		approval: cfg.Policy.Approval,
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponse
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.terms.now == nil {
		c.terms.now = time.Now
	}
	if c.getenv == nil {
		c.getenv = os.Getenv
	}
	if c.check == nil {
		c.check = func(Step) {}
	}
	hc := apiClient(cfg.HTTPClient, 60*time.Second)
	c.http = unpaidClient(hc)
	c.paid, c.ahead = paidClient(hc, cfg.Checkpoint != nil, c.check)
	return c, nil
}

// paidClient is hc for paid requests: each on a fresh connection. net/http silently
// resends an idempotent request (GET, HEAD) when a reused connection breaks after the
// request was written; for a paid request that would hand the signed payment to the
// server twice, and a fresh connection is never retried. Its connection may have been
// dialed ahead, while the reservation committed (dialahead.go): the returned dialer
// starts such dials (nil when hc's transport is not an *http.Transport). With
// checkpoints, StepSent fires once bytes of a paid request have left the process (for
// plain HTTP: the request; over TLS: the first handshake bytes).
func paidClient(hc http.Client, checkpoints bool, check func(Step)) (*http.Client, *aheadDialer) {
	t, ok := transportOf(&hc).(*http.Transport)
	if !ok {
		return &hc, nil
	}
	t = t.Clone()
	t.DisableKeepAlives = true
	// DialTLS is deprecated but still honored by net/http: a transport that sets it dials
	// TLS itself, and nothing can be dialed ahead for it.
	//lint:ignore SA1019 read, not used: a caller's transport may still set it
	a := &aheadDialer{dial: t.DialContext, proxy: t.Proxy, tlsDial: t.DialTLSContext != nil || t.DialTLS != nil}
	if a.dial == nil {
		a.dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if !checkpoints {
		check = nil
	}
	t.DialContext = a.dialContext(check)
	hc.Transport = t
	return &hc, a
}

// unpaidClient is hc for requests that carry no payment, which may share kept-alive
// connections: as many idle ones per API as calls run at once (net/http keeps 2 by
// default, and every call beyond them would dial and close a connection of its own).
func unpaidClient(hc http.Client) *http.Client {
	t, ok := transportOf(&hc).(*http.Transport)
	if !ok || t.DisableKeepAlives || t.MaxIdleConnsPerHost >= idleConnsPerAPI {
		return &hc
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = idleConnsPerAPI
	hc.Transport = t
	return &hc
}

// idleConnsPerAPI is how many kept-alive connections to one API the unpaid client keeps.
const idleConnsPerAPI = 32

// Payer is the address that pays.
func (c *Client) Payer() wallet.Address { return c.wallet.Address() }

// Call is one tool invocation.
type Call struct {
	Op        *catalog.Operation
	Arguments json.RawMessage // a JSON object; nil means {}
	Session   string          // the MCP session, for the per-session cap
	// ID is the call's id in the ledger; "" makes a new one. A call resumed after a
	// person's answer (an MCP multi-round-trip retry) keeps the id of the call that asked,
	// so that its events share it.
	ID string
	// Agent is the agent the call is made for (Policy.Agents), whose caps apply with the
	// Policy's; "" when the Policy names no agents.
	Agent string
	// Approver asks a person when the payment needs approval (Policy.Approval); nil: such
	// a payment is refused (RuleApproval).
	Approver Approver
	// Upstream, when set, is the MCP server that serves Op (Op.OperationID is the tool's
	// name there): the call is forwarded to it as a tools/call, paid as an HTTP call is.
	// nil: Op is a catalog operation, sent as its HTTP request.
	Upstream Upstream
}

// Result is what an API answered. Payment is nil when nothing was paid.
type Result struct {
	Status      int
	ContentType string
	Body        []byte
	Truncated   bool // Body was cut at the response limit
	Payment     *Receipt

	// ToolResult is the result of tools/call, as JSON, when the call went to an upstream
	// MCP server (Call.Upstream); Status and Body are then zero. nil when it was larger
	// than the response limit (Truncated).
	ToolResult json.RawMessage
}

// Receipt says what a call paid. In JSON, Amount is the atomic units as a decimal string
// ("1000"), with Decimals beside it, as x402 writes amounts.
type Receipt struct {
	CallID      string        `json:"callId"`
	Status      ledger.Status `json:"status"` // settled, or unknown (counts as spent until reconciled)
	Amount      money.Amount  `json:"amount"`
	Decimals    int           `json:"decimals"`
	Display     string        `json:"display"` // "0.001 USDC"
	Network     string        `json:"network"`
	Asset       string        `json:"asset"`
	PayTo       string        `json:"payTo"`
	Payer       string        `json:"payer"`
	Nonce       string        `json:"nonce"`
	Transaction string        `json:"transaction,omitempty"`
	Version     int           `json:"x402Version"`
	// PaymentID is the idempotency key sent with the payment (x402's payment-identifier
	// extension); Resent says the answer was lost and recovered by sending the identical
	// payment again with it.
	PaymentID string `json:"paymentId,omitempty"`
	Resent    bool   `json:"resent,omitempty"`
	// OfferSigner is who signed the offer of these terms, ReceiptSigner who signed the
	// settlement's receipt, each when its signature and fields verified (x402's
	// offer-receipt extension); ReceiptByPayee says ReceiptSigner is PayTo.
	OfferSigner    string `json:"offerSigner,omitempty"`
	ReceiptSigner  string `json:"receiptSigner,omitempty"`
	ReceiptByPayee bool   `json:"receiptByPayee,omitempty"`
}

// Call runs one tool call: validate, send, and on 402 pay once within the policy. A call
// with an Upstream is forwarded to that MCP server instead, and a payment it asks for (in
// either binding of the x402 MCP transport) is paid the same way.
//
// Errors: *RefusedError (nothing signed), *PaymentError (a payment left toll but was not
// proven settled; it counts as spent), ErrInvalidArguments and ErrUnknownAgent (nothing
// sent), ErrUpstream (the API failed before any payment). A non-402 answer from the API, even a 5xx, is a
// Result, not an error.
func (c *Client) Call(ctx context.Context, call Call) (*Result, error) {
	if call.Upstream != nil {
		return c.callUpstream(ctx, call)
	}
	req, err := c.prepare(call)
	if err != nil {
		return nil, err
	}
	log := c.log.With("tool", call.Op.Name, "method", req.method, "url", req.url)
	return c.callVia(ctx, call, httpExchange{c, req}, req.url, log)
}

// callVia runs call through via, an HTTP request or an upstream tools/call whose server
// is at serverURL: refused before anything is sent over plain HTTP to another machine;
// paid with the first request when its terms were seen recently; else sent unpaid, and
// the payment its answer asks for paid once within the policy.
func (c *Client) callVia(ctx context.Context, call Call, via exchanger, serverURL string, log *slog.Logger) (*Result, error) {
	op := call.Op
	if refused := clearTextRefusal(op, serverURL); refused != nil {
		c.refuseUnsent(ctx, call, via, refused, log)
		return nil, refused
	}
	if ch := c.terms.get(op); ch != nil {
		log.Debug("paying with the first request: terms seen recently")
		return c.pay(ctx, call, via, ch, true, log)
	}
	a, err := via.send(ctx, "", nil)
	if err != nil {
		log.Warn("request failed", "err", err)
		return nil, fmt.Errorf("%w: %s: %v", ErrUpstream, via.describe(), err)
	}
	if !a.required {
		log.Info("call done", "answer", a.code, "paid", false)
		return a.result, nil
	}
	if a.challengeErr != nil {
		log.Warn("unusable payment terms", "err", a.challengeErr)
		return nil, fmt.Errorf("%w: %s answered %s without terms toll can read: %v", ErrUpstream, via.describe(), a.code, a.challengeErr)
	}
	return c.pay(ctx, call, via, a.challenge, false, log)
}

// prepare checks what a call (or its quote) needs before anything is sent: a known agent,
// arguments that fit the operation's schema; and builds its request.
func (c *Client) prepare(call Call) (*request, error) {
	if _, err := c.policy.agentCaps(call.Agent); err != nil {
		return nil, err
	}
	args, err := c.schemas.decodeArguments(call.Op, call.Arguments)
	if err != nil {
		return nil, err
	}
	return buildRequest(call.Op, args, c.getenv)
}

func transportOf(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}

// send makes one HTTP exchange and reads the body up to the limit. A request that carries
// a payment (extra != nil) goes through the paid client.
func (c *Client) send(ctx context.Context, r *request, extra http.Header) (*http.Response, []byte, bool, error) {
	hc := c.http
	if extra != nil {
		hc = c.paid
	}
	return exchange(ctx, hc, r, extra, c.maxBody)
}

// exchange sends r (with extra headers on top) and reads the response body, keeping at
// most limit bytes; truncated says whether more came.
func exchange(ctx context.Context, hc *http.Client, r *request, extra http.Header, limit int64) (*http.Response, []byte, bool, error) {
	req, err := r.httpRequest(ctx, extra)
	if err != nil {
		return nil, nil, false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, false, fmt.Errorf("read response: %w", err)
	}
	truncated := int64(len(body)) > limit
	if truncated {
		body = body[:limit]
	}
	return resp, body, truncated, nil
}

// apiClient copies hc (nil: a client with the given timeout) so that it never follows a
// redirect: neither a payment nor an API credential may travel to another URL.
func apiClient(hc *http.Client, timeout time.Duration) http.Client {
	c := http.Client{Timeout: timeout}
	if hc != nil {
		c = *hc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "call_" + hex.EncodeToString(b[:])
}

// checkConn calls check after its first successful write: StepSent. The transport
// writes and reads on different goroutines, so a write alone would let the response be
// read (and the call finish) while the writing goroutine waits to be scheduled: a
// read also passes through the check first, and sync.Once makes it wait for a check
// that is under way. No byte of the response reaches the caller before StepSent ran.
type checkConn struct {
	net.Conn
	once  sync.Once
	check func()
}

func (c *checkConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.once.Do(c.check)
	}
	return n, err
}

func (c *checkConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(c.check) // an answer means the request left
	}
	return n, err
}
