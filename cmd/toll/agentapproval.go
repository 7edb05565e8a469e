package main

import (
	"strings"

	"github.com/tollhq/toll/tools"
)

// agentApproval is an agent's approval: in toll.yaml, its own threshold and new_payee
// (mode, timeout and fallback are approval:'s, for every agent). Unset keys follow
// approval:.
//
//	agents:
//	  - name: intern
//	    token_env: TOLL_INTERN_TOKEN
//	    approval: {threshold: "0.01", new_payee: true}
type agentApproval struct {
	Threshold *limit `yaml:"threshold"`
	NewPayee  *bool  `yaml:"new_payee"`
}

// agentApprovalRules are the rules of the agents that have an approval: of their own,
// each the global rule with the agent's keys over it; nil when none has.
func agentApprovalRules(c *fileConfig, global tools.ApprovalRule) map[string]tools.ApprovalRule {
	if c == nil {
		return nil
	}
	var out map[string]tools.ApprovalRule
	for _, a := range c.Agents {
		if a.Approval == nil {
			continue
		}
		r := tools.ApprovalRule{Threshold: global.Threshold, PerAPI: global.PerAPI, NewPayee: global.NewPayee}
		if a.Approval.Threshold != nil {
			r.Threshold = a.Approval.Threshold.amount
		}
		if a.Approval.NewPayee != nil {
			r.NewPayee = *a.Approval.NewPayee
		}
		if out == nil {
			out = map[string]tools.ApprovalRule{}
		}
		out[a.Name] = r
	}
	return out
}

// agentApprovalLine is what toll config check adds to an agent's line when it has an
// approval: of its own.
func agentApprovalLine(a agentConfig) string {
	if a.Approval == nil {
		return ""
	}
	var parts []string
	if a.Approval.Threshold != nil {
		parts = append(parts, "over "+a.Approval.Threshold.String()+" USDC")
	}
	if a.Approval.NewPayee != nil {
		if *a.Approval.NewPayee {
			parts = append(parts, "the first payment to a payee")
		} else {
			parts = append(parts, "not for a new payee")
		}
	}
	if len(parts) == 0 {
		return "; approval as approval: says"
	}
	return "; needs approval: " + strings.Join(parts, ", ")
}
