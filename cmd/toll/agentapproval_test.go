package main

import (
	"testing"

	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
)

// TestAgentApprovalRules: an agent's approval: keys override approval:'s, its unset keys
// follow it, and an agent without one follows the global rule.
func TestAgentApprovalRules(t *testing.T) {
	global := money.USDC(500_000)
	mine := money.USDC(10_000)
	no := false
	cfg := &fileConfig{Agents: agentsConfig{
		{Name: "intern", Approval: &agentApproval{Threshold: &limit{amount: &mine}}},
		{Name: "ops", Approval: &agentApproval{NewPayee: &no}},
		{Name: "research"},
	}}
	rule := tools.ApprovalRule{Threshold: &global, NewPayee: true, PerAPI: map[string]money.Amount{"wx": money.USDC(1)}}
	rules := agentApprovalRules(cfg, rule)
	if len(rules) != 2 {
		t.Fatalf("%d agent rules, want 2 (intern, ops)", len(rules))
	}
	if r := rules["intern"]; r.Threshold.Cmp(mine) != 0 || !r.NewPayee || len(r.PerAPI) != 1 {
		t.Errorf("intern's rule %+v: want its threshold, the global new_payee and per-API thresholds", r)
	}
	if r := rules["ops"]; r.Threshold.Cmp(global) != 0 || r.NewPayee {
		t.Errorf("ops's rule %+v: want the global threshold and no new-payee approval", r)
	}
	rule.Agents = rules
	if r := rule.For("research"); r.Threshold.Cmp(global) != 0 || !r.NewPayee {
		t.Errorf("research follows %+v, want the global rule", r)
	}
}
