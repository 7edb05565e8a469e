package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/server/upstream"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// Upstream is a paid MCP server whose tools toll serves (Options.Upstreams), each as
// NAMESPACE_TOOL, and pays for as it pays an API: its namespace is the API name of its
// tools for the caps (per_api), approval thresholds and the ledger.
type Upstream struct {
	Conn *upstream.Conn
	// PayTo pins the recipient of its payments; "": any recipient the policy allows.
	PayTo string
	// AllowInsecureHTTP allows paying it over plain http to another machine.
	AllowInsecureHTTP bool
}

// PriceFromUpstream is the Source of the price an upstream MCP server advertises in the
// _meta of its tools/list.
const PriceFromUpstream = "mcp tools/list"

// upstreamName is what a tool name of an upstream tool must look like in toll.
var upstreamName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// upstreamTools are the tools of the upstream servers, by their name in toll. Their
// names never collide with each other (a namespace has no "_"), and one that would
// collide with a catalog or built-in tool is not served.
type upstreamTools struct {
	mu     sync.Mutex
	byName map[string]servedUpstream // as last listed
}

// servedUpstream is an upstream tool toll serves: its operation and its server.
type servedUpstream struct {
	op   *catalog.Operation
	conn *upstream.Conn
}

// watchUpstreams serves the tools of each upstream as it lists them: now when it is
// connected, and when it connects later (the tool list changes then).
func (s *Server) watchUpstreams(ups []Upstream) {
	for _, up := range ups {
		up.Conn.Watch(func(listed []upstream.Tool) { s.addUpstreamTools(up, listed) })
	}
}

// addUpstreamTools registers listed, the tools of up.
func (s *Server) addUpstreamTools(up Upstream, listed []upstream.Tool) {
	cfg := up.Conn.Config()
	var st []mcpserver.ServerTool
	s.upstreams.mu.Lock()
	if s.upstreams.byName == nil {
		s.upstreams.byName = map[string]servedUpstream{}
	}
	for _, t := range listed {
		name := t.ToolName()
		if _, taken := s.ops[name]; taken || catalog.BuiltinTool(name) || !upstreamName.MatchString(name) {
			s.log.Error("upstream tool not served: its name is taken by a catalog or built-in tool, or is not a valid tool name; give the mcp server another namespace",
				"mcp_server", cfg.Namespace, "tool", t.Name, "name", name)
			continue
		}
		if t.PriceProblem != "" {
			s.log.Warn("upstream tool's advertised price not read; its price is set at call time", "mcp_server", cfg.Namespace, "tool", t.Name, "problem", t.PriceProblem)
		}
		op := upstreamOperation(up, cfg, t)
		s.upstreams.byName[name] = servedUpstream{op: op, conn: up.Conn}
		st = append(st, mcpserver.ServerTool{Tool: upstreamTool(op, cfg, t), Handler: s.handler(op)})
	}
	s.upstreams.mu.Unlock()
	s.mcp.AddTools(st...)
}

// upstreamNamed is the upstream tool served as name, and its server; nil, nil for none.
func (s *Server) upstreamNamed(name string) (*catalog.Operation, tools.Upstream) {
	s.upstreams.mu.Lock()
	defer s.upstreams.mu.Unlock()
	u, ok := s.upstreams.byName[name]
	if !ok {
		return nil, nil
	}
	return u.op, u.conn
}

// upstreamOf is the upstream server of op; nil for a catalog operation (whose name no
// upstream tool is served under).
func (s *Server) upstreamOf(op *catalog.Operation) tools.Upstream {
	s.upstreams.mu.Lock()
	defer s.upstreams.mu.Unlock()
	if u, ok := s.upstreams.byName[op.Name]; ok {
		return u.conn
	}
	return nil
}

// upstreamOperation describes t as the operation package tools pays for: its namespace
// as the API, its name upstream as the OperationID, the advertised price or a price set
// at call time.
func upstreamOperation(up Upstream, cfg upstream.Config, t upstream.Tool) *catalog.Operation {
	desc := t.Description
	if desc == "" {
		desc = fmt.Sprintf("The tool %s of the MCP server %s.", t.Name, cfg.Namespace)
	}
	op := &catalog.Operation{
		API: cfg.Namespace, Name: t.ToolName(), OperationID: t.Name,
		Title: t.Title, Description: desc,
		ServerURL: cfg.URL, InputSchema: t.InputSchema, AllowInsecureHTTP: up.AllowInsecureHTTP,
	}
	price := &catalog.Price{Asset: "USDC", Scheme: x402.SchemeExact, PayTo: up.PayTo, Mode: catalog.PriceAtCall, Source: catalog.PriceFromResponse, Amount: money.USDC(0)}
	if p := t.Price; p != nil {
		price.Amount, price.Network, price.Mode, price.Source = p.Amount, p.Network, catalog.PriceFixed, PriceFromUpstream
		if price.PayTo == "" {
			price.PayTo = p.PayTo
		}
	}
	op.Price = price
	return op
}

// upstreamTool is the MCP tool toll lists for t: its schema and hints as the upstream
// gives them, toll's price line and price _meta as for a catalog operation.
func upstreamTool(op *catalog.Operation, cfg upstream.Config, t upstream.Tool) mcp.Tool {
	tool := toolFor(op)
	tool.Annotations = t.Annotations
	tool.Annotations.OpenWorldHint = mcp.ToBoolPtr(true)
	if tool.Meta != nil {
		tool.Meta.AdditionalFields[MetaOperation] = "tools/call " + t.Name + " (" + cfg.Where() + ")"
	}
	return tool
}

// upstreamSuccess turns what an upstream tool answered into toll's result: its content
// and structured content as they came, then the cost line, and toll's receipt in _meta
// in place of the upstream's payment response.
func (s *Server) upstreamSuccess(op *catalog.Operation, res *tools.Result) *mcp.CallToolResult {
	if res.ToolResult == nil {
		r := mcp.NewToolResultError(fmt.Sprintf("The result of %s was larger than toll keeps; it was dropped.", op.Name))
		r.Content = append(r.Content, mcp.NewTextContent(costLine(res.Payment)))
		return r
	}
	raw := json.RawMessage(res.ToolResult)
	result, err := mcp.ParseCallToolResult(&raw)
	if err != nil {
		s.log.Warn("upstream result unreadable", "tool", op.Name, "err", err)
		result = mcp.NewToolResultError(fmt.Sprintf("%s answered a result toll cannot read: %v", op.Name, err))
	}
	result.ResultType = ""
	result.Content = append(result.Content, mcp.NewTextContent(costLine(res.Payment)))
	fields := map[string]any{}
	if result.Meta != nil {
		for k, v := range result.Meta.AdditionalFields {
			fields[k] = v
		}
	}
	// toll's own keys say what toll paid: an upstream does not write them.
	for _, k := range []string{x402.MetaPaymentResponse, x402.MetaPaymentResponseV1, MetaReceipt} {
		delete(fields, k)
	}
	if rc := res.Payment; rc != nil {
		for k, v := range receiptMeta(rc) {
			fields[k] = v
		}
	}
	result.Meta = nil
	if len(fields) > 0 {
		result.Meta = mcp.NewMetaFromMap(fields)
	}
	return result
}
