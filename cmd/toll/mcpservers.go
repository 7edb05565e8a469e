package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/server/upstream"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/wallet"
)

// mcpServerConfig is one entry of toll.yaml's mcp_servers: a paid MCP server whose tools
// toll serves as NAMESPACE_TOOL and pays for as it pays an API, its namespace standing for
// the API's name (caps, approval, agents' per_api, the ledger).
//
//	mcp_servers:
//	  - namespace: wx
//	    url: https://weather.example/mcp
//	    headers: {Authorization: {env: WX_TOKEN}}
//	    max_total: "5"
//	    pay_to: "0x..."
//	  - namespace: local
//	    command: ./paid-server
//	    args: [--stdio]
type mcpServerConfig struct {
	Namespace string `yaml:"namespace"`
	// URL is a streamable HTTP endpoint; Command and Args start a stdio server.
	URL     string   `yaml:"url"`
	Command string   `yaml:"command"`
	Args    []string `yaml:"args"`
	// Headers are sent with every HTTP request, each value read from the environment
	// variable it names, never written in the file.
	Headers map[string]envValue `yaml:"headers"`
	// LegacyProtocol connects with the MCP handshake before 2026-07-28 only.
	LegacyProtocol bool `yaml:"legacy_protocol"`
	// The caps and rules an apis entry takes, for this server's tools.
	PayTo             string                  `yaml:"pay_to"`
	MaxTotal          *money.Amount           `yaml:"max_total"`
	ToolCaps          map[string]money.Amount `yaml:"tool_caps"` // by the tool's name upstream
	ApprovalThreshold *money.Amount           `yaml:"approval_threshold"`
	AllowInsecureHTTP bool                    `yaml:"allow_insecure_http"`
}

// envValue is a value read from the environment: {env: NAME}.
type envValue struct {
	Env string `yaml:"env"`
}

// upstreamConfig is e as package upstream takes it; getenv reads the headers (nil: they
// are not read, for checks).
func (e mcpServerConfig) upstreamConfig(getenv func(string) string) (upstream.Config, error) {
	cfg := upstream.Config{Namespace: e.Namespace, URL: e.URL, Command: e.Command, Args: e.Args, Legacy: e.LegacyProtocol}
	for _, name := range slices.Sorted(maps.Keys(e.Headers)) {
		v := e.Headers[name]
		if v.Env == "" {
			return cfg, fmt.Errorf("headers.%s: give the environment variable that holds its value: {env: NAME}", name)
		}
		if getenv == nil {
			continue
		}
		value := getenv(v.Env)
		if value == "" {
			return cfg, fmt.Errorf("headers.%s: $%s is empty or not set; set it to the header's value", name, v.Env)
		}
		if cfg.Headers == nil {
			cfg.Headers = map[string]string{}
		}
		cfg.Headers[name] = value
	}
	return cfg, nil
}

// checkMCPServers reports the first problem of the mcp_servers entries: both url and
// command or neither, a bad URL or namespace, a namespace used twice or by an apis entry,
// a header without its variable, a pay_to that is not an address, negative caps.
func (c *fileConfig) checkMCPServers() error {
	seen := map[string]bool{}
	for _, a := range c.APIs {
		if a.Namespace != "" {
			seen[a.Namespace] = true
		}
	}
	for i, e := range c.MCPServers {
		where := fmt.Sprintf("mcp_servers[%d]", i)
		if e.Namespace != "" {
			where = fmt.Sprintf("mcp_servers[%d] (%s)", i, e.Namespace)
		}
		cfg, err := e.upstreamConfig(nil)
		if err == nil {
			err = cfg.Check()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if seen[e.Namespace] {
			return fmt.Errorf("%s: namespace %s is used twice (by an apis or another mcp_servers entry); give each its own", where, e.Namespace)
		}
		seen[e.Namespace] = true
		if e.Command == "" && len(e.Args) > 0 {
			return fmt.Errorf("%s: args without command", where)
		}
		if e.URL == "" && len(e.Headers) > 0 {
			return fmt.Errorf("%s: headers are sent over HTTP only; a stdio server (command) takes none", where)
		}
		if e.PayTo != "" {
			if _, err := wallet.ParseAddress(e.PayTo); err != nil {
				return fmt.Errorf("%s.pay_to: %q: %v", where, e.PayTo, err)
			}
		}
		for _, v := range append([]*money.Amount{e.MaxTotal, e.ApprovalThreshold}, capsOf(e.ToolCaps)...) {
			if v != nil && v.Sign() < 0 {
				return fmt.Errorf("%s: a cap or threshold of %s is negative", where, v)
			}
		}
	}
	return nil
}

func capsOf(m map[string]money.Amount) []*money.Amount {
	var out []*money.Amount
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		out = append(out, &v)
	}
	return out
}

// mcpServers checks the agents' per_api names against the APIs and mcp_servers served,
// makes the connections of the mcp_servers of cfg (not connected yet: connectMCPServers),
// adds their caps and approval thresholds to pol, and returns them for the server.
func (s *serveCmd) mcpServers(cfg *fileConfig, pol *tools.Policy, logger *slog.Logger) ([]server.Upstream, error) {
	if err := checkAgentAPIs(cfg, s.apis); err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, nil
	}
	getenv := s.env
	var ups []server.Upstream
	for _, e := range cfg.MCPServers {
		ucfg, err := e.upstreamConfig(getenv)
		if err != nil {
			return nil, fmt.Errorf("mcp_servers (%s): %w", e.Namespace, err)
		}
		conn, err := upstream.New(ucfg, upstream.Options{Logger: logger, Version: version()})
		if err != nil {
			return nil, err
		}
		ups = append(ups, server.Upstream{Conn: conn, PayTo: e.PayTo, AllowInsecureHTTP: e.AllowInsecureHTTP})
		addMCPServerCaps(pol, e)
	}
	return ups, nil
}

// connectMCPServers connects to the mcp_servers, once toll is otherwise ready to pay (the
// wallet open, the ledger trusted). One that is down is logged, and retried in the
// background until ctx is done; its tools are served once it is up.
func connectMCPServers(ctx context.Context, ups []server.Upstream, logger *slog.Logger) {
	for _, up := range ups {
		if err := up.Conn.Connect(ctx); err != nil {
			cfg := up.Conn.Config()
			logger.Error("mcp server unreachable at start; toll serves the rest and retries it", "mcp_server", cfg.Namespace, "at", cfg.Where(), "err", err)
		}
		go up.Conn.Run(ctx)
	}
}

// addMCPServerCaps adds the caps and approval threshold of e to pol, as an API's.
func addMCPServerCaps(pol *tools.Policy, e mcpServerConfig) {
	if e.MaxTotal != nil {
		if pol.Caps.PerAPI == nil {
			pol.Caps.PerAPI = map[string]money.Amount{}
		}
		pol.Caps.PerAPI[e.Namespace] = *e.MaxTotal
	}
	for tool, v := range e.ToolCaps {
		if pol.Caps.PerTool == nil {
			pol.Caps.PerTool = map[string]money.Amount{}
		}
		pol.Caps.PerTool[upstream.Tool{Namespace: e.Namespace, Name: tool}.ToolName()] = v
	}
	if e.ApprovalThreshold != nil {
		if pol.Approval.PerAPI == nil {
			pol.Approval.PerAPI = map[string]money.Amount{}
		}
		pol.Approval.PerAPI[e.Namespace] = *e.ApprovalThreshold
	}
}

// reportMCPServers adds a line per mcp_servers entry to toll config check's report.
func reportMCPServers(r *configReport, cfg *fileConfig) {
	for _, e := range cfg.MCPServers {
		where := e.URL
		if e.Command != "" {
			where = "stdio: " + strings.Join(append([]string{e.Command}, e.Args...), " ")
		}
		what := where + "; tools served as " + e.Namespace + "_TOOL"
		if e.MaxTotal != nil {
			what += ", at most " + e.MaxTotal.String() + " USDC in all"
		}
		if e.PayTo != "" {
			what += ", paid only to " + e.PayTo
		}
		r.add("mcp_servers."+e.Namespace, "%s", what)
	}
}
