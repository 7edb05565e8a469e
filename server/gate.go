package server

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
)

// errNotInitialized is what a tools/call outside an initialized session is answered
// with (JSON-RPC error -32600, Invalid Request): what was wrong and what to do.
var errNotInitialized = errors.New("tools/call refused: this MCP session is not initialized, so no tool ran and nothing was paid. " +
	"Send initialize and wait for its result before calling a tool, or, with protocol " + mcp.ProtocolVersion20260728 +
	", declare the version and the client capabilities in each request's _meta")

// sessions remembers the sessions that completed the initialize handshake on this
// server, by session id, until the transport ends them (stdio's end, HTTP DELETE).
// mcp-go's own flag is not enough on its own: stdio's session is one value for the
// whole process, whose flag outlives a Listen, and a 2026-07-28 request sets it too.
type sessions struct {
	mu          sync.Mutex
	initialized map[string]bool
}

func (ss *sessions) initialize(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.initialized == nil {
		ss.initialized = map[string]bool{}
	}
	ss.initialized[id] = true
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.initialized, id)
}

func (ss *sessions) isInitialized(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.initialized[id]
}

// gateHooks registers the gate: every JSON-RPC request passes through gate before mcp-go
// serves it, on every transport.
func (s *Server) gateHooks() *mcpserver.Hooks {
	h := &mcpserver.Hooks{}
	h.AddAfterInitialize(func(ctx context.Context, _ any, _ *mcp.InitializeRequest, _ *mcp.InitializeResult) {
		if cs := mcpserver.ClientSessionFromContext(ctx); cs != nil {
			s.sessions.initialize(cs.SessionID())
		}
	})
	h.AddOnUnregisterSession(func(_ context.Context, cs mcpserver.ClientSession) {
		s.sessions.end(cs.SessionID())
		s.results.endSession(s.sessionKey(cs.SessionID()))
	})
	h.AddOnRequestInitialization(s.gate)
	return h
}

// gateMessage is what the gate reads of a request: the same _meta mcp-go reads to tell
// the protocol eras apart.
type gateMessage struct {
	Method mcp.MCPMethod `json:"method"`
	Params struct {
		Meta *mcp.Meta `json:"_meta"`
	} `json:"params"`
}

// gate refuses a tools/call outside an initialized session (see the package doc), so
// that no tool runs and nothing is signed for a client that skipped the handshake.
// mcp-go answers the error as JSON-RPC -32600 and calls no handler.
func (s *Server) gate(ctx context.Context, _ any, message any) error {
	raw, ok := message.(json.RawMessage)
	if !ok {
		return errNotInitialized // mcp-go always passes the raw request; refuse anything else
	}
	var m gateMessage
	parsed := json.Unmarshal(raw, &m) == nil
	if !parsed {
		// A _meta that does not decode: read the method alone, and hold a tools/call to
		// the handshake rule.
		var head struct {
			Method mcp.MCPMethod `json:"method"`
		}
		if json.Unmarshal(raw, &head) != nil {
			return nil // mcp-go answers it as unparsable and runs nothing
		}
		m.Method = head.Method
	}
	if m.Method != mcp.MethodToolsCall {
		return nil
	}
	if parsed && mcp.IsModernProtocol(m.Params.Meta.ProtocolVersion()) {
		// A stateless request: mcp-go refuses it before any handler unless the version is
		// one it implements and the client capabilities are there.
		return nil
	}
	cs := mcpserver.ClientSessionFromContext(ctx)
	if cs == nil || !cs.Initialized() || !s.sessions.isInitialized(cs.SessionID()) {
		return errNotInitialized
	}
	return nil
}
