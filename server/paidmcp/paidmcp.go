package paidmcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
)

// Dialect is the way the server asks for payment and reads it.
type Dialect int

const (
	// DialectSpec is x402 version 2 over MCP as the transport spec says
	// (https://github.com/x402-foundation/x402/blob/main/specs/transports-v2/mcp.md): the
	// tool-result binding, and the extension binding (resultType "payment_required") when
	// a request on MCP 2026-07-28 advertises org.x402/payment in its client capabilities.
	DialectSpec Dialect = iota
	// DialectX402MCP is the dialect of Vercel's npm x402-mcp: x402 version 1, the payment
	// as the base64 X-PAYMENT text in _meta["x402.payment"], the settlement in
	// _meta["x402.payment-response"], always the tool-result binding.
	DialectX402MCP
)

// String names the dialect as the documentation does.
func (d Dialect) String() string {
	switch d {
	case DialectSpec:
		return "spec"
	case DialectX402MCP:
		return "x402-mcp"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// Options configures New. Only World is required; every other zero value is an honest
// server.
type Options struct {
	// World is the local x402 world: payments are verified and settled by its
	// facilitator, on its chain, to World.PayTo(), in its token. Required.
	World *x402test.World

	// Dialect is how the server asks for payment. Zero: DialectSpec.
	Dialect Dialect

	// Logger receives a line per payment event. Nil: silent.
	Logger *slog.Logger

	// The knobs below make the server hostile or unusual, for tests. Each is off at
	// its zero value.

	// PriceAfterPayment, when not zero, is the price a paid tool moves to when the first
	// payment for it arrives: that call is answered with a corrective payment required
	// at this price (nothing verified, run or settled), and later payments must pay it.
	PriceAfterPayment money.Amount

	// PayerInResponse, when set, is the payer the payment-response names instead of the
	// real one (the settlement itself is real).
	PayerInResponse string

	// HugeRequired, when positive, pads every PaymentRequired to at least this many bytes
	// of JSON (in its error text).
	HugeRequired int

	// PaymentIdentifier, when set, advertises the payment-identifier extension and
	// keeps the response to each identified payment (DialectSpec only); see
	// PaymentIdentifierOptions.
	PaymentIdentifier *PaymentIdentifierOptions

	// CutAfterSettle closes the connection the first time a payment settles, before the
	// answer is written: over HTTP the TCP connection is closed with nothing sent; on
	// stdio nothing more is written and ServeStdio returns ErrCut. Later settlements are
	// answered normally.
	CutAfterSettle bool

	// FailSettlement makes every settlement fail after the tool ran, for real: the chain's
	// clock is moved past the authorization's validBefore before the facilitator settles,
	// so the transfer is refused as expired and nothing moves. The answer is a payment
	// required with the failure, the tool's content withheld. Block time stays ahead
	// afterwards: use a world of its own.
	FailSettlement bool

	// Signer, when set, signs offers and receipts (the offer-receipt extension),
	// DialectSpec only. Nil: none.
	Signer *Signer
}

// PaymentIdentifierOptions configures the payment-identifier extension
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/payment_identifier.md).
// The server advertises it in every PaymentRequired and keeps the answer to each
// identified payment: the same id with the same PaymentPayload gets the kept answer
// again (nothing verified, run or settled twice), even after the authorization expired;
// the same id with another payload, or for another tool, gets a tool error with status
// 409; a resend while the first is in progress waits for its answer.
type PaymentIdentifierOptions struct {
	// Required says clients must send an id; a payment without one gets a tool error
	// with status 400.
	Required bool
	// ConflictOnResend answers every resend of a known id with 409, the identical payload
	// too: a server that lost its kept answers, or binds ids to more than the payload.
	ConflictOnResend bool
}

// Server is a paid MCP server on a local x402 world. It serves a free tool, ping, and
// two paid ones at different fixed prices, get_weather and get_forecast (ToolPing, ToolWeather,
// ToolForecast; their prices from Price), over
// streamable HTTP (HTTPHandler) and stdio (ServeStdio), in both protocol eras of mcp-go.
// It is safe for concurrent use.
type Server struct {
	opts  Options
	world *x402test.World
	log   *slog.Logger
	mcp   *mcpserver.MCPServer

	mu          sync.Mutex
	runs        map[string]int
	settlements int
	repriced    map[string]bool
	kept        map[string]*keptAnswer // by payment identifier
	cut         bool                   // CutAfterSettle has cut once
}

// New checks opts and returns the server.
func New(opts Options) (*Server, error) {
	if opts.World == nil {
		return nil, fmt.Errorf("new paid MCP server: Options.World is required (start one with x402test.Start)")
	}
	if opts.Dialect != DialectSpec && opts.Dialect != DialectX402MCP {
		return nil, fmt.Errorf("new paid MCP server: unknown dialect %d, want DialectSpec or DialectX402MCP", opts.Dialect)
	}
	if opts.PriceAfterPayment.Sign() < 0 {
		return nil, fmt.Errorf("new paid MCP server: PriceAfterPayment %s is negative", opts.PriceAfterPayment)
	}
	if opts.PayerInResponse != "" && !x402.IsAddress(opts.PayerInResponse) {
		return nil, fmt.Errorf("new paid MCP server: PayerInResponse %q is not a 0x address of 40 hex digits", opts.PayerInResponse)
	}
	if opts.Dialect == DialectX402MCP && (opts.PaymentIdentifier != nil || opts.Signer != nil) {
		return nil, fmt.Errorf("new paid MCP server: x402-mcp speaks x402 version 1, which has no extensions: leave PaymentIdentifier and Signer unset")
	}
	if opts.Signer != nil && opts.Signer.Sign == nil {
		return nil, fmt.Errorf("new paid MCP server: Signer.Sign is required to sign offers and receipts")
	}
	s := &Server{
		opts:     opts,
		world:    opts.World,
		log:      opts.Logger,
		runs:     map[string]int{},
		repriced: map[string]bool{},
		kept:     map[string]*keptAnswer{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	mopts := []mcpserver.ServerOption{
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithRecovery(),
		mcpserver.WithLogger(s.log),
	}
	if opts.Dialect == DialectSpec {
		mopts = append(mopts, mcpserver.WithExtensions(map[string]any{x402.ExtensionMCPPayment: map[string]any{}}))
	}
	s.mcp = mcpserver.NewMCPServer("toll-paid-mcp", "1.0.0", mopts...)
	for _, t := range catalog() {
		s.mcp.AddTool(s.mcpTool(t), s.handler(t))
	}
	return s, nil
}

// HTTPHandler serves MCP over streamable HTTP at /mcp (mcp-go's, with sessions for the
// initialize handshake and stateless 2026-07-28 requests).
func (s *Server) HTTPHandler() http.Handler {
	inner := mcpserver.NewStreamableHTTPServer(s.mcp,
		mcpserver.WithEndpointPath("/mcp"),
		mcpserver.WithStreamableHTTPLogger(s.log),
		mcpserver.WithHTTPContextFunc(func(ctx context.Context, r *http.Request) context.Context {
			if c := cutFrom(r.Context()); c != nil {
				return withCut(ctx, c)
			}
			return ctx
		}))
	mux := http.NewServeMux()
	mux.Handle("/mcp", &rewriteHandler{next: inner, log: s.log})
	return mux
}

// ServeStdio serves MCP over stdio, one JSON-RPC message a line, until in ends or ctx is
// done. mcp-go keeps one stdio session per process: run one ServeStdio at a time.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &cutFlag{}
	lw := &lineWriter{out: out, cut: c, cancel: cancel}
	ss := mcpserver.NewStdioServer(s.mcp)
	ss.SetErrorLogger(log.New(io.Discard, "", 0))
	ss.SetContextFunc(func(ctx context.Context) context.Context { return withCut(ctx, c) })
	err := ss.Listen(ctx, in, lw)
	if c.isSet() {
		return ErrCut
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// ToolRuns reports how many times a tool's own work ran (for a paid tool: after a valid
// payment was verified).
func (s *Server) ToolRuns(tool string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[tool]
}

// Settlements reports how many payments settled successfully.
func (s *Server) Settlements() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settlements
}

func (s *Server) ran(tool string) {
	s.mu.Lock()
	s.runs[tool]++
	s.mu.Unlock()
}

// mcpTool is t as tools/list shows it: in DialectSpec a paid tool's price is in
// _meta[MetaPrice]; x402-mcp advertises none (the price is known at call time).
func (s *Server) mcpTool(t *tool) mcp.Tool {
	mt := mcp.NewToolWithRawSchema(t.name, t.description, t.schema)
	if t.price.IsZero() || s.opts.Dialect == DialectX402MCP {
		return mt
	}
	p := s.price(t)
	meta := map[string]any{MetaPrice: map[string]any{
		"amount":   p.AtomicString(),
		"decimals": p.Decimals(),
		"display":  p.String() + " USDC",
		"asset":    s.world.Chain.TokenAddress(),
		"network":  s.network(),
		"scheme":   x402.SchemeExact,
		"payTo":    s.world.PayTo(),
		"mode":     "fixed",
	}}
	mt.Meta = mcp.NewMetaFromMap(meta)
	return mt
}

// network names the chain as the dialect's x402 version does.
func (s *Server) network() string {
	if s.opts.Dialect == DialectX402MCP {
		return s.world.Chain.NetworkV1()
	}
	return s.world.Chain.NetworkV2()
}

// price is what t costs now: PriceAfterPayment once it moved.
func (s *Server) price(t *tool) money.Amount {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repriced[t.name] {
		return s.opts.PriceAfterPayment
	}
	return t.price
}

// reprice moves t to PriceAfterPayment and reports whether this call moved it.
func (s *Server) reprice(t *tool) bool {
	if s.opts.PriceAfterPayment.IsZero() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repriced[t.name] {
		return false
	}
	s.repriced[t.name] = true
	return true
}
