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
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// DefaultMaxResponse is how much of a response body a call keeps when
// Config.MaxResponseBytes is zero.
const DefaultMaxResponse = 1 << 20

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
	// Checkpoint, when set, is called at each step of a paid call: "reserved" (the intent
	// is in the ledger), "signed", "sent" (the paid request is on the wire), "responded"
	// (its response is read) and "recorded" (the outcome is in the ledger). Crash tests
	// use it to kill the process at a precise step; nil does nothing.
	Checkpoint func(step string)
}

// Client calls catalog operations and pays for them within its Policy. It is safe for
// concurrent use.
type Client struct {
	wallet  *wallet.Wallet
	ledger  *ledger.Ledger
	policy  *compiledPolicy
	http    *http.Client
	paid    *http.Client // sends paid requests on a fresh connection (see New)
	maxBody int64
	log     *slog.Logger
	check   func(string)
	getenv  func(string) string
	terms   termsCache
	schemas schemas
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
	hc := apiClient(cfg.HTTPClient, 60*time.Second)
	// net/http silently resends an idempotent request (GET, HEAD) when a reused
	// connection breaks after the request was written. For a paid request that would
	// hand the signed payment to the server twice, so paid requests go on a fresh
	// connection, which the transport never retries.
	paid := hc
	var check func(string)
	if t, ok := transportOf(&hc).(*http.Transport); ok {
		t = t.Clone()
		t.DisableKeepAlives = true
		if cfg.Checkpoint != nil {
			// The "sent" checkpoint fires once bytes of a paid request have left the
			// process (for plain HTTP: the request; over TLS: the first handshake bytes).
			dial := t.DialContext
			if dial == nil {
				dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
			}
			t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &checkConn{Conn: conn, check: func() { check("sent") }}, nil
			}
		}
		paid.Transport = t
	}
	c := &Client{
		paid:    &paid,
		wallet:  cfg.Wallet,
		ledger:  cfg.Ledger,
		policy:  pol,
		http:    &hc,
		maxBody: cfg.MaxResponseBytes,
		log:     cfg.Logger,
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponse
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.terms = termsCache{ttl: cfg.TermsTTL, now: cfg.Now}
	if c.terms.now == nil {
		c.terms.now = time.Now
	}
	c.getenv = cfg.Getenv
	if c.getenv == nil {
		c.getenv = os.Getenv
	}
	c.check = cfg.Checkpoint
	if c.check == nil {
		c.check = func(string) {}
	}
	check = c.check
	return c, nil
}

// Payer is the address that pays.
func (c *Client) Payer() wallet.Address { return c.wallet.Address() }

// Call is one tool invocation.
type Call struct {
	Op        *catalog.Operation
	Arguments json.RawMessage // a JSON object; nil means {}
	Session   string          // the MCP session, for the per-session cap
}

// Result is what an API answered. Payment is nil when nothing was paid.
type Result struct {
	Status      int
	ContentType string
	Body        []byte
	Truncated   bool // Body was cut at the response limit
	Payment     *Receipt
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
}

// Call runs one tool call: validate, send, and on 402 pay once within the policy.
//
// Errors: *RefusedError (nothing signed), *PaymentError (a payment left toll but was not
// proven settled; it counts as spent), ErrInvalidArguments (nothing sent), ErrUpstream
// (the API failed before any payment). A non-402 answer from the API, even a 5xx, is a
// Result, not an error.
func (c *Client) Call(ctx context.Context, call Call) (*Result, error) {
	op := call.Op
	args, err := c.schemas.decodeArguments(op, call.Arguments)
	if err != nil {
		return nil, err
	}
	req, err := buildRequest(op, args, c.getenv)
	if err != nil {
		return nil, err
	}
	log := c.log.With("tool", op.Name, "method", req.method, "url", req.url)
	if ch := c.terms.get(op); ch != nil {
		log.Debug("paying with the first request: terms seen recently")
		return c.pay(ctx, call, req, ch, true, log)
	}
	resp, body, truncated, err := c.send(ctx, req, nil)
	if err != nil {
		log.Warn("request failed", "err", err)
		return nil, fmt.Errorf("%w: %s %s: %v", ErrUpstream, req.method, req.url, err)
	}
	if resp.StatusCode != http.StatusPaymentRequired {
		log.Info("call done", "status", resp.StatusCode, "paid", false)
		return &Result{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body, Truncated: truncated}, nil
	}
	ch, err := x402.ParseChallenge(resp.Header, body)
	if err != nil {
		log.Warn("unusable 402", "err", err)
		return nil, fmt.Errorf("%w: %s answered 402 without terms toll can read: %v", ErrUpstream, req.url, err)
	}
	return c.pay(ctx, call, req, ch, false, log)
}

// pay chooses, reserves, signs, sends once and records. It is the only place that signs.
// upfront means ch comes from the terms cache and the request has not been sent yet.
func (c *Client) pay(ctx context.Context, call Call, req *request, ch *x402.Challenge, upfront bool, log *slog.Logger) (*Result, error) {
	op := call.Op
	res, err := c.payOnce(ctx, call, req, ch, upfront, log)
	if err == nil && res.Payment != nil && res.Payment.Status == ledger.StatusSettled {
		c.terms.put(op, ch)
	} else {
		c.terms.drop(op)
	}
	return res, err
}

func (c *Client) payOnce(ctx context.Context, call Call, req *request, ch *x402.Challenge, upfront bool, log *slog.Logger) (*Result, error) {
	op := call.Op
	callID := newCallID()
	log = log.With("call", callID)
	pick, err := c.policy.choose(op, ch)
	if err != nil {
		c.recordRefusal(ctx, call, req, ch, callID, err, log)
		return nil, err
	}
	o := pick.option
	auth, err := c.wallet.NewAuthorization(pick.payTo, o.Amount.Atomic(), pick.window)
	if err != nil {
		return nil, fmt.Errorf("prepare authorization: %w", err)
	}
	domain := wallet.Domain{Name: o.Domain.Name, Version: o.Domain.Version, ChainID: pick.chainID, VerifyingContract: pick.asset}
	if err := wallet.Validate(domain, auth); err != nil {
		return nil, fmt.Errorf("prepare authorization (nothing was signed): %w", err)
	}
	rc := &Receipt{
		CallID:   callID,
		Amount:   o.Amount,
		Decimals: o.Amount.Decimals(),
		Display:  amountText(o.Amount),
		Network:  o.Network,
		Asset:    pick.asset.Hex(),
		PayTo:    pick.payTo.Hex(),
		Payer:    auth.From.Hex(),
		Nonce:    "0x" + hex.EncodeToString(auth.Nonce[:]),
		Version:  ch.Version,
	}
	intent := ledger.Intent{
		CallID:      callID,
		Session:     call.Session,
		API:         op.API,
		Tool:        op.Name,
		URL:         req.url,
		Network:     o.Network,
		Asset:       rc.Asset,
		Amount:      o.Amount,
		PayTo:       rc.PayTo,
		Payer:       rc.Payer,
		Nonce:       rc.Nonce,
		ValidBefore: time.Unix(auth.ValidBefore.Int64(), 0),
	}
	if _, err := c.ledger.Reserve(ctx, intent, c.policy.caps); err != nil {
		var capErr *ledger.CapError
		if errors.As(err, &capErr) {
			log.Info("payment refused by cap", "cap", capErr.Cap, "amount", o.Amount)
			return nil, &RefusedError{
				Rule: capErr.Cap + " cap",
				Msg: fmt.Sprintf("%s asks %s, but the %s cap is %s and %s is already spent or reserved; nothing was signed. %s",
					op.Name, amountText(o.Amount), capErr.Cap, amountText(capErr.Limit), amountText(capErr.Used), raiseHint(capErr.Cap)),
				Err: err,
			}
		}
		return nil, fmt.Errorf("reserve payment in the ledger (nothing was signed): %w", err)
	}
	c.check("reserved")
	sig, err := c.wallet.Sign(ctx, domain, auth)
	if err != nil {
		c.settleLedger(ctx, log, func(ctx context.Context) error { return c.ledger.Release(ctx, callID, "signing failed: "+err.Error()) })
		return nil, fmt.Errorf("sign payment: %w", err)
	}
	c.check("signed")
	payload := x402.ExactEVMPayload{
		Signature: "0x" + hex.EncodeToString(sig),
		Authorization: x402.Authorization{
			From:        auth.From.Hex(),
			To:          auth.To.Hex(),
			Value:       auth.Value.String(),
			ValidAfter:  auth.ValidAfter.String(),
			ValidBefore: auth.ValidBefore.String(),
			Nonce:       rc.Nonce,
		},
	}
	name, value, err := ch.PaymentHeader(o.Index, payload)
	if err != nil {
		c.settleLedger(ctx, log, func(ctx context.Context) error { return c.ledger.Release(ctx, callID, "payment header: "+err.Error()) })
		return nil, fmt.Errorf("build payment header: %w", err)
	}
	log.Info("paying", "amount", o.Amount, "network", o.Network, "asset", rc.Asset, "payTo", rc.PayTo, "nonce", rc.Nonce, "x402Version", ch.Version)

	// From here the signed authorization may be in the server's hands: nothing but a
	// settlement proof or a later reconcile against the chain ends its count.
	resp, body, truncated, err := c.send(ctx, req, http.Header{name: {value}})
	c.check("responded")
	if err != nil {
		reason := "sending the paid request failed: " + err.Error()
		c.settleLedger(ctx, log, func(ctx context.Context) error { return c.ledger.MarkUnknown(ctx, callID, reason) })
		rc.Status = ledger.StatusUnknown
		return nil, &PaymentError{
			Msg:     fmt.Sprintf("the paid request to %s failed after the payment was signed (%v); %s counts as spent until `toll ledger reconcile` shows it never settled. toll will not pay again for this call", req.url, err, rc.Display),
			Receipt: rc,
			Err:     ErrPaymentNotSettled,
		}
	}
	res := &Result{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body, Truncated: truncated, Payment: rc}
	settlement, serr := x402.ParseSettlement(resp.Header)
	switch {
	case resp.StatusCode < 400 && settlement != nil && settlement.Success && settlement.Transaction != "":
		rc.Status = ledger.StatusSettled
		rc.Transaction = settlement.Transaction
		c.settleLedger(ctx, log, func(ctx context.Context) error { return c.ledger.Settle(ctx, callID, settlement.Transaction) })
		log.Info("paid", "status", resp.StatusCode, "tx", settlement.Transaction)
		return res, nil
	case resp.StatusCode == http.StatusPaymentRequired:
		reason := "the server answered 402 to the paid request"
		if upfront {
			reason = "the server answered 402 to a payment sent with the first request (its terms changed since the last call)"
		}
		if settlement != nil && settlement.ErrorReason != "" {
			reason += ": " + settlement.ErrorReason
		} else if again, err := x402.ParseChallenge(resp.Header, body); err == nil && again.Error != "" {
			reason += ": " + again.Error
		}
		c.settleLedger(ctx, log, func(ctx context.Context) error { return c.ledger.MarkUnknown(ctx, callID, reason) })
		rc.Status = ledger.StatusUnknown
		log.Warn("payment not accepted", "reason", reason)
		return nil, &PaymentError{
			Msg: fmt.Sprintf("%s (%s). toll does not pay twice for one call; the signed %s counts as spent until `toll ledger reconcile` shows it never settled",
				reason, req.url, rc.Display),
			Receipt: rc,
			Err:     ErrPaymentNotSettled,
		}
	default:
		reason := fmt.Sprintf("the server answered %d with no settlement proof", resp.StatusCode)
		if serr != nil {
			reason += " (" + serr.Error() + ")"
		} else if settlement != nil && !settlement.Success {
			reason = fmt.Sprintf("the server answered %d and reported a failed settlement: %s", resp.StatusCode, settlement.ErrorReason)
		}
		c.settleLedger(ctx, log, func(ctx context.Context) error { return c.ledger.MarkUnknown(ctx, callID, reason) })
		rc.Status = ledger.StatusUnknown
		log.Warn("payment outcome unknown", "reason", reason)
		return res, nil
	}
}

// settleLedger records an outcome even when the call's context is already done: losing
// the record of a signed payment is worse than a late write.
func (c *Client) settleLedger(ctx context.Context, log *slog.Logger, write func(context.Context) error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := write(wctx); err != nil {
		log.Error("ledger outcome not recorded; the reservation still counts against the caps", "err", err)
		return
	}
	c.check("recorded")
}

func (c *Client) recordRefusal(ctx context.Context, call Call, req *request, ch *x402.Challenge, callID string, refusal error, log *slog.Logger) {
	r := ledger.Refusal{
		CallID:  callID,
		Session: call.Session,
		API:     call.Op.API,
		Tool:    call.Op.Name,
		URL:     req.url,
		Reason:  refusal.Error(),
	}
	if len(ch.Options) > 0 {
		o := ch.Options[0]
		r.Network, r.Asset, r.PayTo = o.Network, o.Asset, o.PayTo
		if o.Problem == "" {
			r.Amount = &o.Amount
		}
	}
	log.Info("payment refused by policy", "reason", refusal.Error())
	c.settleLedger(ctx, log, func(ctx context.Context) error { return c.ledger.Refuse(ctx, r) })
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

// raiseHint tells the user how to change the cap that refused.
func raiseHint(cap string) string {
	switch cap {
	case ledger.CapPerCall, ledger.CapPerSession, ledger.CapPerDay, ledger.CapTotal:
		return "The user can raise it with toll serve --max-" + cap + "."
	}
	return "The user can raise it in toll's configuration."
}

// checkConn calls check after its first successful write: the crash tests' "sent" step.
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
