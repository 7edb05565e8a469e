package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server/upstream"
	"github.com/tollhq/toll/tools"
)

// Meta keys toll sets. MetaPrice is on every paid tool; MetaReceipt and
// MetaPaymentResponse are on the result of a paid call.
const (
	MetaPrice           = upstream.MetaPrice
	MetaOperation       = "toll/operation"
	MetaReceipt         = "toll/receipt"
	MetaPaymentResponse = "x402/payment-response"
)

// BudgetTool is the name of the built-in tool that reports caps and spending.
const BudgetTool = catalog.BudgetTool

// Options configures a Server; the zero value means the defaults.
type Options struct {
	Name    string       // server name in the MCP handshake; "" means "toll"
	Version string       // server version; "" means "dev"
	Logger  *slog.Logger // nil is silent
	// Lazy says how the catalog is exposed. LazyAuto (the zero value) exposes one tool per
	// operation up to LazyThreshold operations and the three catalog tools (search,
	// describe, call) above it; LazyOn always exposes the catalog tools; LazyOff never does.
	Lazy Lazy
	// LazyThreshold is the most operations exposed one tool each under LazyAuto; zero
	// means DefaultLazyThreshold.
	LazyThreshold int
	// MaxResultBytes is the largest response body a tool result carries inline; a
	// larger one is cut (text) or only linked (binary), and kept whole for the session
	// to read through resources/read. Zero means DefaultMaxResultBytes.
	MaxResultBytes int
	// ResultLimits overrides MaxResultBytes by API name (catalog.Operation.API), as the
	// APIs' max_result_bytes set them (see ResultLimits). nil: none.
	ResultLimits map[string]int
	// MaxKeptBytes bounds the result bodies kept for reading, over all sessions; a body
	// that would pass it is not kept, and its tool result says so. Zero means
	// DefaultMaxKeptBytes.
	MaxKeptBytes int64
	// ResultDir is where the directory of kept bodies is made (removed by Close); ""
	// means os.TempDir().
	ResultDir string
	// Balances, when set, reads the wallet's balances (over the chains' JSON-RPC
	// endpoints) for toll_budget. nil: toll_budget shows none.
	Balances func(ctx context.Context) []WalletBalance
	// Agent is the agent (tools.Policy.Agents) that calls are made for when the
	// transport names none: on stdio, and over HTTP without agent tokens
	// (HTTPOptions.Agents). "": none, where the policy names no agents.
	Agent string
	// Agents says that the policy names agents, for the instructions: each payment counts
	// against the calling agent's own caps too.
	Agents bool
	// Approval says how payments that need a person's approval are asked; the zero value
	// asks none (and the client's Policy should need none).
	Approval ApprovalOptions
	// Upstreams are the paid MCP servers whose tools toll serves too (upstreams.go);
	// nil: none.
	Upstreams []Upstream
}

// WalletBalance is one balance of the payer's wallet on one network, as toll_budget
// shows it.
type WalletBalance struct {
	Network string `json:"network"`
	Asset   string `json:"asset"`            // a token's address, or "native"
	Symbol  string `json:"symbol,omitempty"` // "USDC", "gas"
	Balance string `json:"balance,omitempty"`
	Error   string `json:"error,omitempty"` // why it could not be read
}

// Lazy is how a Server exposes its catalog.
type Lazy int

// Lazy modes.
const (
	LazyAuto Lazy = iota
	LazyOn
	LazyOff
)

// DefaultLazyThreshold is the catalog size above which LazyAuto switches to the three
// catalog tools: a list of a hundred tools already fills a good part of a model's context.
const DefaultLazyThreshold = 100

// Server is toll's MCP server.
type Server struct {
	mcp    *mcpserver.MCPServer
	client *tools.Client
	ops    map[string]*catalog.Operation
	order  []*catalog.Operation // as given to New
	lazy   bool                 // the catalog is behind search/describe/call
	index  *searchIndex         // of order, for toll_search, once indexed is closed; nil unless lazy
	// indexed is closed once index is built: in the background from New, so that a large
	// catalog serves initialize and tools/list at once.
	indexed chan struct{}
	run     string // this process run, so stdio's fixed session id still means one run
	log     *slog.Logger
	// sessions are the sessions that completed initialize (gate.go).
	sessions sessions
	// results keeps the bodies too large to show inline, per session (resources.go).
	results   results
	maxResult int            // Options.MaxResultBytes, the default filled in
	limits    map[string]int // Options.ResultLimits
	balances  func(ctx context.Context) []WalletBalance
	// defaultAgent is Options.Agent.
	defaultAgent string
	// approval is Options.Approval, its defaults filled in; approvals are the forms
	// waiting for a modern client's answer (approval.go).
	approval  ApprovalOptions
	approvals approvals
	// upstreams are the tools of Options.Upstreams (upstreams.go).
	upstreams upstreamTools
}

// New registers one tool per operation plus the built-in budget tool. Two operations with
// the same tool name are an error. Operations listed on demand (catalog.Options.OnDemand)
// are served lazily only: toll_describe and toll_call build each when it is first asked for.
func New(client *tools.Client, ops []*catalog.Operation, opts Options) (*Server, error) {
	if client == nil {
		return nil, errors.New("server: no tools client")
	}
	return newServer(client, ops, opts)
}

// newServer builds a Server; client may be nil only for ToolsList, which never calls a tool.
func newServer(client *tools.Client, ops []*catalog.Operation, opts Options) (*Server, error) {
	if opts.Name == "" {
		opts.Name = "toll"
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	s := &Server{client: client, ops: map[string]*catalog.Operation{}, run: runID(), log: lg, balances: opts.Balances, defaultAgent: opts.Agent}
	if err := s.resultOptions(opts); err != nil {
		return nil, err
	}
	s.approval = opts.Approval
	if err := s.approval.check(); err != nil {
		return nil, err
	}
	if err := CheckNames(ops); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	var st []mcpserver.ServerTool
	for _, op := range ops {
		s.ops[op.Name] = op
		s.order = append(s.order, op)
	}
	threshold := opts.LazyThreshold
	if threshold <= 0 {
		threshold = DefaultLazyThreshold
	}
	s.lazy = opts.Lazy == LazyOn || (opts.Lazy == LazyAuto && len(ops) > threshold)
	if s.lazy {
		s.indexed = make(chan struct{})
		go func() {
			s.index = newSearchIndex(s.order)
			close(s.indexed)
		}()
		st = append(st, s.lazyTools()...)
	} else {
		for _, op := range s.order {
			if op.Deferred != nil {
				return nil, fmt.Errorf("server: %s was listed on demand, without its input schema: serve it lazily, or load the catalog whole", op.Name)
			}
			st = append(st, mcpserver.ServerTool{Tool: toolFor(op), Handler: s.handler(op)})
		}
	}
	st = append(st, mcpserver.ServerTool{Tool: budgetTool(), Handler: s.budget},
		mcpserver.ServerTool{Tool: historyTool(), Handler: s.history},
		mcpserver.ServerTool{Tool: quoteTool(), Handler: s.quote})
	s.mcp = mcpserver.NewMCPServer(opts.Name, opts.Version,
		mcpserver.WithToolCapabilities(len(opts.Upstreams) > 0), // an upstream's tools come when it connects
		mcpserver.WithResourceCapabilities(false, false),
		mcpserver.WithRecovery(),
		mcpserver.WithHooks(s.gateHooks()),
		mcpserver.WithInstructions(guide{builtins: builtinsOf(st), lazy: s.lazy, agent: opts.Agent, agents: opts.Agents, approval: s.approval.On}.instructions()),
	)
	s.mcp.AddTools(st...)
	s.mcp.AddResourceTemplates(s.resultTemplate())
	s.watchUpstreams(opts.Upstreams)
	return s, nil
}

// resultOptions checks and takes the options of tool results.
func (s *Server) resultOptions(opts Options) error {
	if opts.MaxResultBytes < 0 || opts.MaxKeptBytes < 0 {
		return fmt.Errorf("server: MaxResultBytes %d and MaxKeptBytes %d must not be negative; zero means the default", opts.MaxResultBytes, opts.MaxKeptBytes)
	}
	s.maxResult = opts.MaxResultBytes
	if s.maxResult == 0 {
		s.maxResult = DefaultMaxResultBytes
	}
	s.limits = opts.ResultLimits
	s.results.dir, s.results.max = opts.ResultDir, opts.MaxKeptBytes
	if s.results.max == 0 {
		s.results.max = DefaultMaxKeptBytes
	}
	return nil
}

// CheckNames reports the first tool name a Server would refuse to serve: the name of one of
// toll's own tools (catalog.BuiltinTool), or a name two operations share.
func CheckNames(ops []*catalog.Operation) error {
	seen := make(map[string]*catalog.Operation, len(ops))
	for _, op := range ops {
		if catalog.BuiltinTool(op.Name) {
			return fmt.Errorf("the tool of %s %s (API %s) is named %s, as one of toll's own tools is; give the API another namespace",
				op.Method, op.Path, op.API, op.Name)
		}
		if prev, dup := seen[op.Name]; dup {
			return fmt.Errorf("tool name %s is used by both %s %s and %s %s", op.Name, prev.Method, prev.Path, op.Method, op.Path)
		}
		seen[op.Name] = op
	}
	return nil
}

// toolFor describes one operation as an MCP tool. Its description ends with toll's price
// line, the only line of it that states a price (catalog.Operation.ToolDescription).
func toolFor(op *catalog.Operation) mcp.Tool {
	t := mcp.NewToolWithRawSchema(op.Name, op.ToolDescription(), op.InputSchema)
	t.Title = op.Title
	method := strings.ToUpper(op.Method)
	t.Annotations = mcp.ToolAnnotation{
		Title:           op.Title,
		ReadOnlyHint:    mcp.ToBoolPtr(method == http.MethodGet || method == http.MethodHead),
		DestructiveHint: mcp.ToBoolPtr(method == http.MethodDelete),
		IdempotentHint:  mcp.ToBoolPtr(op.Price == nil && (method == http.MethodGet || method == http.MethodHead || method == http.MethodPut || method == http.MethodDelete)),
		OpenWorldHint:   mcp.ToBoolPtr(true),
	}
	meta := map[string]any{MetaOperation: method + " " + op.Path}
	if p := op.Price; p != nil {
		price := map[string]any{
			"amount":   p.Amount, // JSON: atomic units as a string
			"decimals": p.Amount.Decimals(),
			"asset":    p.Asset,
			"scheme":   p.Scheme,
			"mode":     p.Mode,
			"display":  p.Display(),
			"source":   p.Source,
		}
		if p.Network != "" {
			price["network"] = p.Network
		}
		if p.Min != nil {
			price["min"] = *p.Min
		}
		if p.PayTo != "" {
			price["payTo"] = p.PayTo
		}
		meta[MetaPrice] = price
	}
	t.Meta = mcp.NewMetaFromMap(meta)
	return t
}

// handler runs one operation for the MCP host.
func (s *Server) handler(op *catalog.Operation) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := req.Params.RawArguments
		if len(args) == 0 && req.Params.Arguments != nil {
			b, err := json.Marshal(req.Params.Arguments)
			if err != nil {
				return mcp.NewToolResultError("arguments are not a JSON object: " + err.Error()), nil
			}
			args = b
		}
		return s.call(ctx, op, args, req), nil
	}
}

// call runs one operation for req and turns the outcome into a tool result: a result
// that asks the client for input when a payment waits for a person's answer.
func (s *Server) call(ctx context.Context, op *catalog.Operation, args json.RawMessage, req mcp.CallToolRequest) *mcp.CallToolResult {
	session := s.session(ctx)
	ap, id, errRes := s.approver(ctx, req)
	if errRes != nil {
		return errRes
	}
	up := s.upstreamOf(op)
	res, err := s.client.Call(ctx, tools.Call{Op: op, Arguments: args, Session: s.capSession(ctx), Agent: s.agent(ctx), ID: id, Approver: ap, Upstream: up})
	var input *inputRequired
	if errors.As(err, &input) {
		return input.result
	}
	if err != nil {
		return s.failure(op, err)
	}
	if up != nil {
		return s.upstreamSuccess(op, res)
	}
	return s.success(session, op, res)
}

// session names the MCP session for the per-session cap: this run plus the transport's
// session id (stdio has one fixed id, so a stdio session is one process run).
func (s *Server) session(ctx context.Context) string {
	if cs := mcpserver.ClientSessionFromContext(ctx); cs != nil {
		return s.sessionKey(cs.SessionID())
	}
	return s.run
}

// sessionKey is session's name for the session with the transport's id.
func (s *Server) sessionKey(id string) string {
	if id == "" {
		return s.run
	}
	return s.run + "/" + id
}

// success turns what the API answered into a tool result: its body as content (see
// content), then the cost line, and the receipt in _meta.
func (s *Server) success(session string, op *catalog.Operation, res *tools.Result) *mcp.CallToolResult {
	result := &mcp.CallToolResult{IsError: res.Status >= 400}
	s.content(session, op, res, result)
	result.Content = append(result.Content, mcp.NewTextContent(costLine(res.Payment)))
	if rc := res.Payment; rc != nil {
		result.Meta = mcp.NewMetaFromMap(receiptMeta(rc))
	}
	return result
}

// failure turns a failed call into a tool result. A refusal or a payment problem says
// what happened and what the user can do, in toll's vocabulary; an unexpected error is
// logged with its detail, and the model gets a message without it.
func (s *Server) failure(op *catalog.Operation, err error) *mcp.CallToolResult {
	var refused *tools.RefusedError
	var perr *tools.PaymentError
	var msg string
	switch {
	case errors.As(err, &refused):
		msg = "Not paid: " + refused.Error() + refusalHint(refused)
	case errors.As(err, &perr):
		msg = fmt.Sprintf("Payment problem: %s (%s). The signed %s counts as spent until `toll ledger reconcile` shows it never settled; toll will not pay again for this call.",
			perr.Reason, perr.URL, perr.Receipt.Display)
	case errors.Is(err, tools.ErrInvalidArguments), errors.Is(err, tools.ErrUpstream), errors.Is(err, tools.ErrUnknownAgent):
		msg = err.Error()
	case errors.Is(err, ledger.ErrPermission):
		s.log.Error("tool call failed: the ledger database refused a write", "tool", op.Name, "err", err)
		msg = fmt.Sprintf("%s was not paid: toll's ledger database refused toll's write (its database role may only read), so no payment was signed or sent. The user must give toll's database role write access to toll's tables (details in toll's log).", op.Name)
	case errors.Is(err, ledger.ErrUnavailable):
		s.log.Error("tool call failed: the ledger database is unavailable", "tool", op.Name, "err", err)
		msg = fmt.Sprintf("%s was not paid: toll's ledger database is unavailable, so no payment was signed or sent (the details are in toll's log). Free tools still work; try again once the database is back.", op.Name)
	default:
		s.log.Error("tool call failed", "tool", op.Name, "err", err)
		msg = fmt.Sprintf("%s failed inside toll (the details are in toll's log); no payment was sent.", op.Name)
	}
	result := mcp.NewToolResultError(msg)
	if perr != nil && perr.Receipt != nil {
		result.Meta = mcp.NewMetaFromMap(receiptMeta(perr.Receipt))
	}
	return result
}

// refusalHint says what the user can change so that a refused payment would be made.
func refusalHint(r *tools.RefusedError) string {
	switch r.Rule {
	case tools.RuleCap:
		return fmt.Sprintf("\nThe user can raise the %s cap in toll's configuration.", r.Cap)
	case tools.RuleNetwork:
		return "\nThe user can allow that network in toll's configuration."
	case tools.RuleApproval:
		return "\nNothing was paid. Do not call it again unless the user asks."
	case tools.RuleInsecureHTTP:
		return "\nThe user can give the API an https base_url in toll's configuration, or set allow_insecure_http: true on it if the network path is trusted."
	}
	return ""
}

func costLine(rc *tools.Receipt) string {
	switch {
	case rc == nil:
		return "Cost: nothing paid."
	case rc.Status == ledger.StatusSettled && rc.ReceiptByPayee:
		return fmt.Sprintf("Cost: paid %s on %s to %s (transaction %s); receipt signed by the payee.", rc.Display, rc.Network, rc.PayTo, rc.Transaction)
	case rc.Status == ledger.StatusSettled:
		return fmt.Sprintf("Cost: paid %s on %s to %s (transaction %s).", rc.Display, rc.Network, rc.PayTo, rc.Transaction)
	default:
		return fmt.Sprintf("Cost: %s was authorized on %s but the server gave no proof of settlement; it counts as spent until reconciled.", rc.Display, rc.Network)
	}
}

func receiptMeta(rc *tools.Receipt) map[string]any {
	m := map[string]any{MetaReceipt: rc}
	if rc.Status == ledger.StatusSettled {
		m[MetaPaymentResponse] = map[string]any{"success": true, "transaction": rc.Transaction, "network": rc.Network, "payer": rc.Payer}
	}
	return m
}

func runID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "run-" + hex.EncodeToString(b[:])
}
