package server

import (
	"context"
	"net/http"
)

// AgentToken is a bearer token that names the agent its requests are made for.
type AgentToken struct {
	Agent string // the agent's name, as tools.Policy.Agents has it
	Token string // as ParseTokens reads it
}

// agentKey is the context key of the agent a request is made for.
type agentKey struct{}

// withAgent returns ctx carrying the agent of an authorized HTTP request ("" for a token
// that names none).
func withAgent(ctx context.Context, agent string) context.Context {
	return context.WithValue(ctx, agentKey{}, agent)
}

// agentContext is mcp-go's HTTP context func: it carries the agent the guard found in
// the request's token into the context the tool handlers get.
func agentContext(ctx context.Context, r *http.Request) context.Context {
	if a, ok := r.Context().Value(agentKey{}).(string); ok {
		return withAgent(ctx, a)
	}
	return ctx
}

// agent is the agent a call is made for: the one the HTTP request's token names, or
// Options.Agent (stdio, and HTTP without agent tokens).
func (s *Server) agent(ctx context.Context) string {
	if a, ok := ctx.Value(agentKey{}).(string); ok {
		return a
	}
	return s.defaultAgent
}

// capSession names the session for the per-session cap: the transport's session (see
// session) of one agent, so that two agents never share a session's budget, and a
// request without a session id (MCP 2026-07-28) counts against the run's session of its
// agent. The agent's own caps hold whatever the session.
func (s *Server) capSession(ctx context.Context) string {
	session := s.session(ctx)
	if a := s.agent(ctx); a != "" {
		return session + "#agent=" + a
	}
	return session
}
