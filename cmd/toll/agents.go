package main

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v4"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
)

// agentConfig is one agent of toll.yaml's agents: its name, where its bearer token is
// (a file or an environment variable, never toll.yaml itself), and its own caps, inside
// the caps: section's.
//
//	agents:
//	  - name: research
//	    token_file: /home/me/.config/toll/research.token   # or token_env: RESEARCH_TOKEN
//	    per_call: "0.05"
//	    per_day: "1"
//	    total: "20"
//	    per_api: {wx: "1.00"}
//
// agents: may also be a map from the name to the rest of the entry.
type agentConfig struct {
	Name      string           `yaml:"name"`
	TokenFile string           `yaml:"token_file"`
	TokenEnv  *varName         `yaml:"token_env"`
	PerCall   *limit           `yaml:"per_call"`
	PerDay    *limit           `yaml:"per_day"`
	Total     *limit           `yaml:"total"`
	PerAPI    map[string]limit `yaml:"per_api"`
	// Approval is this agent's own approval rule (threshold, new_payee); unset keys
	// follow approval: of toll.yaml. How a person is asked is the same for all agents.
	Approval *agentApproval `yaml:"approval"`
	// Token is refused: a token belongs in a file or a variable, not in toll.yaml. It is
	// read only to say so (a yaml error would quote it).
	Token *string `yaml:"token"`
}

// agentsConfig is agents: in toll.yaml, as a list of entries or a map by name.
type agentsConfig []agentConfig

// UnmarshalYAML reads a list of entries, or a map from the name to the entry.
func (a *agentsConfig) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.SequenceNode {
		var list []agentConfig
		if err := node.Decode(&list); err != nil {
			return err
		}
		*a = list
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: agents: is a list of entries (- name: ...) or a map from each agent's name to its entry", node.Line)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		var e agentConfig
		if err := node.Content[i+1].Decode(&e); err != nil {
			return err
		}
		name := node.Content[i].Value
		if e.Name != "" && e.Name != name {
			return fmt.Errorf("line %d: agent %q has name: %q; give the name once", node.Content[i].Line, name, e.Name)
		}
		e.Name = name
		*a = append(*a, e)
	}
	return nil
}

// checkAgents checks agents: and agent: as loadConfig reads them: names, token sources,
// caps. Tokens themselves are read when they are needed (serve --http, config check).
func (c *fileConfig) checkAgents() error {
	seen := map[string]bool{}
	for i, a := range c.Agents {
		where := fmt.Sprintf("agents[%d]", i)
		if err := checkAgentName(a.Name); err != nil {
			return fmt.Errorf("%s.name: %w", where, err)
		}
		where = fmt.Sprintf("agent %s", a.Name)
		if seen[a.Name] {
			return fmt.Errorf("%s: the name is given twice; give each agent its own name", where)
		}
		seen[a.Name] = true
		if a.Token != nil {
			return fmt.Errorf("%s: token: toll.yaml never holds a token; write it to a private file (token_file) or an environment variable (token_env)", where)
		}
		if a.TokenFile == "" && a.TokenEnv == nil {
			return fmt.Errorf("%s: no token: set token_file (a private file holding it) or token_env (the name of the variable holding it)", where)
		}
		if a.TokenFile != "" && a.TokenEnv != nil {
			return fmt.Errorf("%s: both token_file and token_env: give the token one place", where)
		}
		if a.TokenEnv != nil {
			if _, err := a.TokenEnv.name(); err != nil {
				return fmt.Errorf("%s: token_env %w", where, err)
			}
		}
	}
	if c.Agent != "" && !seen[c.Agent] {
		return fmt.Errorf("agent: %q is not one of agents: (%s)", c.Agent, strings.Join(c.agentNames(), ", "))
	}
	return nil
}

// checkAgentName accepts names of letters, digits, '-', '_' and '.', up to 64 of them.
func checkAgentName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("an agent needs a name of 1 to 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
			return fmt.Errorf("%q: an agent's name has only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

func (c *fileConfig) agentNames() []string {
	names := make([]string, len(c.Agents))
	for i, a := range c.Agents {
		names[i] = a.Name
	}
	return names
}

// agentPolicies are the agents of toll.yaml as tools.Policy.Agents; nil when it names none.
func agentPolicies(c *fileConfig) map[string]tools.AgentPolicy {
	if c == nil || len(c.Agents) == 0 {
		return nil
	}
	out := make(map[string]tools.AgentPolicy, len(c.Agents))
	for _, a := range c.Agents {
		caps := ledger.AgentCaps{PerCall: limitAmount(a.PerCall), PerDay: limitAmount(a.PerDay), Total: limitAmount(a.Total)}
		for api, l := range a.PerAPI {
			if l.amount == nil {
				continue // "none": no cap
			}
			if caps.PerAPI == nil {
				caps.PerAPI = map[string]money.Amount{}
			}
			caps.PerAPI[api] = *l.amount
		}
		out[a.Name] = tools.AgentPolicy{Caps: caps}
	}
	return out
}

func limitAmount(l *limit) *money.Amount {
	if l == nil {
		return nil
	}
	return l.amount
}

// checkAgentAPIs refuses an agent's per_api cap on an API the catalog does not have: a
// misspelt namespace would leave the agent without the cap its user meant.
func checkAgentAPIs(c *fileConfig, apis []*catalog.API) error {
	if c == nil {
		return nil
	}
	have := map[string]bool{}
	for _, api := range apis {
		have[api.Name] = true
	}
	for _, m := range c.MCPServers {
		have[m.Namespace] = true
	}
	for _, a := range c.Agents {
		for _, ns := range slices.Sorted(maps.Keys(a.PerAPI)) {
			if !have[ns] {
				return usagef("agent %s: per_api: %q is not the namespace of any API served (%s); use an API's namespace as toll catalog list shows it",
					a.Name, ns, strings.Join(slices.Sorted(maps.Keys(have)), ", "))
			}
		}
	}
	return nil
}

// agentTokens reads every agent's bearer tokens, refusing one that is too short or that
// two agents share. A token never appears in an error or the log.
func agentTokens(c *fileConfig, getenv env, logger *slog.Logger) ([]server.AgentToken, error) {
	var out []server.AgentToken
	owner := map[string]string{}
	for _, a := range c.Agents {
		tokens, err := readAgentTokens(a, getenv, logger)
		if err != nil {
			return nil, err
		}
		for _, t := range tokens {
			if prev, dup := owner[t]; dup {
				return nil, usagef("agents %s and %s have the same token; give each agent its own (such as the output of openssl rand -hex 32)", prev, a.Name)
			}
			owner[t] = a.Name
			out = append(out, server.AgentToken{Agent: a.Name, Token: t})
		}
	}
	return out, nil
}

func readAgentTokens(a agentConfig, getenv env, logger *slog.Logger) ([]string, error) {
	if a.TokenFile != "" {
		tokens, err := readTokenFile(a.TokenFile, logger)
		if err != nil {
			return nil, fmt.Errorf("agent %s: token_file: %w", a.Name, err)
		}
		return tokens, nil
	}
	name, err := a.TokenEnv.name()
	if err != nil {
		return nil, usagef("agent %s: token_env %v", a.Name, err)
	}
	v := getenv(name)
	if strings.TrimSpace(v) == "" {
		return nil, usagef("agent %s: token_env names the variable %s, which is not set or is empty; export the agent's token in it", a.Name, name)
	}
	tokens, err := server.ParseTokens(v)
	if err != nil {
		return nil, usagef("agent %s: token_env %s: %v", a.Name, name, err)
	}
	return tokens, nil
}

// agentCapsLine says what one agent may spend, for toll config check.
func agentCapsLine(a agentConfig) string {
	show := func(l *limit) string {
		if l == nil {
			return "none"
		}
		return l.String()
	}
	line := fmt.Sprintf("per call %s, per day %s, total %s", show(a.PerCall), show(a.PerDay), show(a.Total))
	for _, api := range slices.Sorted(maps.Keys(a.PerAPI)) {
		l := a.PerAPI[api]
		line += fmt.Sprintf(", on %s %s", api, l.String())
	}
	token := "token in file " + a.TokenFile
	if a.TokenEnv != nil {
		n, _ := a.TokenEnv.name()
		token = "token in $" + n
	}
	return line + " (USDC), inside the caps above; " + token
}

// agentSetup decides whom toll serve pays for. On stdio that is one agent: --agent, else
// agent: in toll.yaml; with agents configured and neither given, serve refuses to start
// (every payment must count against an agent's caps, and guessing one would spend from
// the wrong budget). Over --http each request's bearer token names its agent: the agents'
// tokens are read here, and --agent is refused.
func (s *serveCmd) agentSetup(fs *pflag.FlagSet, cfg *fileConfig, logger *slog.Logger) (string, []server.AgentToken, error) {
	agent := s.agent
	if !fs.Changed("agent") && cfg != nil {
		agent = cfg.Agent
	}
	if cfg == nil || len(cfg.Agents) == 0 {
		if agent != "" {
			return "", nil, usagef("--agent %s: toll.yaml names no agents; add it under agents: with its token and caps, or leave --agent out", agent)
		}
		return "", nil, nil
	}
	names := strings.Join(cfg.agentNames(), ", ")
	if s.httpAddr != "" {
		if fs.Changed("agent") {
			return "", nil, usagef("--agent chooses the agent of toll serve on stdio; over --http each request's bearer token names its agent (agents: %s)", names)
		}
		toks, err := agentTokens(cfg, s.env, logger)
		return "", toks, err
	}
	if agent == "" {
		return "", nil, usagef("toll.yaml names agents (%s): choose the one this stdio server pays for with --agent NAME, or agent: NAME in toll.yaml", names)
	}
	if !slices.Contains(cfg.agentNames(), agent) {
		return "", nil, usagef("--agent %s is not one of the agents of toll.yaml (%s)", agent, names)
	}
	return agent, nil, nil
}

// checkAgents says what each agent may spend, and checks its tokens (readable, long
// enough, its own) and its per_api namespaces against apis (when they loaded).
func (k *configCheckCmd) checkAgents(r *configReport, cfg *fileConfig, apis []*catalog.API) {
	if len(cfg.Agents) == 0 {
		return
	}
	for _, a := range cfg.Agents {
		r.add("agent "+a.Name, "%s", agentCapsLine(a)+agentApprovalLine(a))
	}
	stdio := "none chosen: toll serve on stdio needs --agent NAME"
	if cfg.Agent != "" {
		stdio = cfg.Agent
	}
	r.add("stdio agent", "%s; over --http each request's token names its agent", stdio)
	if _, err := agentTokens(cfg, k.env, slog.New(slog.DiscardHandler)); err != nil {
		r.problems = append(r.problems, err)
	}
	if len(apis) > 0 {
		if err := checkAgentAPIs(cfg, apis); err != nil {
			r.problems = append(r.problems, err)
		}
	}
	if cfg.HTTP.TokenFile != "" || cfg.HTTP.TokenEnv != nil {
		r.problems = append(r.problems, errors.New("http.token_file and http.token_env give tokens of no agent, but agents: names agents; "+
			"give each client its agent's token and remove them"))
	}
}
