package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
)

// approvalConfig is approval: in toll.yaml: which payments wait for a person's yes, and
// how the person is asked. Each API's approval_threshold (apis[]) replaces threshold for
// that API's payments.
//
//	approval:
//	  threshold: "0.50"   # a payment of more needs approval; none (the default): no threshold
//	  new_payee: true     # a payTo toll never paid needs approval
//	  mode: elicit        # elicit (the MCP client's form), queue (toll approve), or deny
//	  timeout: 5m         # how long a person has to decide
//	  fallback: queue     # under elicit, for a client that cannot show a form: queue or deny
type approvalConfig struct {
	Threshold *limit    `yaml:"threshold"`
	NewPayee  bool      `yaml:"new_payee"`
	Mode      string    `yaml:"mode"`
	Timeout   *duration `yaml:"timeout"`
	Fallback  string    `yaml:"fallback"`
}

// check reports a mode or fallback toll does not know, and a negative approval_threshold.
func (a *approvalConfig) check(apis []catalog.SourceConfig) error {
	switch server.ApprovalMode(a.Mode) {
	case "", server.ApprovalElicit, server.ApprovalQueue, server.ApprovalDeny:
	default:
		return fmt.Errorf("approval.mode: %q is not elicit, queue or deny", a.Mode)
	}
	switch server.ApprovalMode(a.Fallback) {
	case "", server.ApprovalQueue, server.ApprovalDeny:
	default:
		return fmt.Errorf("approval.fallback: %q is not queue or deny", a.Fallback)
	}
	for i, api := range apis {
		if t := api.ApprovalThreshold; t != nil && t.Sign() < 0 {
			return fmt.Errorf("apis[%d].approval_threshold: %s is negative; write a USDC amount such as \"0.50\"", i, t)
		}
	}
	return nil
}

// rule is the tools.ApprovalRule of the config; perAPI are the APIs' own thresholds.
func (a *approvalConfig) rule(perAPI map[string]money.Amount) tools.ApprovalRule {
	r := tools.ApprovalRule{NewPayee: a.NewPayee, PerAPI: perAPI}
	if a.Threshold != nil {
		r.Threshold = a.Threshold.amount
	}
	return r
}

// options are the server's approval options for the rule, asking through led.
func (a *approvalConfig) options(rule tools.ApprovalRule, led *ledger.Ledger) server.ApprovalOptions {
	o := server.ApprovalOptions{On: rule.On(), Mode: server.ApprovalMode(a.Mode), Fallback: server.ApprovalMode(a.Fallback), Ledger: led}
	if a.Timeout != nil {
		o.Timeout = time.Duration(*a.Timeout)
	}
	return o
}

// approvalThresholds are the APIs' own approval thresholds (apis[].approval_threshold),
// by API name.
func approvalThresholds(apis []*catalog.API) map[string]money.Amount {
	var out map[string]money.Amount
	for _, api := range apis {
		if t := api.Config.ApprovalThreshold; t != nil {
			if out == nil {
				out = map[string]money.Amount{}
			}
			out[api.Name] = *t
		}
	}
	return out
}

// describe says, for toll config check, what needs approval and how it is asked.
func (a *approvalConfig) describe(perAPI map[string]money.Amount) string {
	rule := a.rule(perAPI)
	if !rule.On() {
		return "none: every payment within the caps is made without asking"
	}
	var what []string
	if rule.Threshold != nil {
		what = append(what, "payments over "+rule.Threshold.String()+" USDC")
	}
	for api, t := range perAPI {
		what = append(what, fmt.Sprintf("payments to API %s over %s USDC", api, t))
	}
	if rule.NewPayee {
		what = append(what, "the first payment to a payee")
	}
	o := a.options(rule, nil)
	mode, fallback, timeout := cmpOr(o.Mode, server.ApprovalElicit), cmpOr(o.Fallback, server.ApprovalQueue), o.Timeout
	if timeout == 0 {
		timeout = server.DefaultApprovalTimeout
	}
	how := map[server.ApprovalMode]string{
		server.ApprovalElicit: fmt.Sprintf("asked in the MCP client's approval form (clients that cannot show one: %s)", fallback),
		server.ApprovalQueue:  "wait in the approval queue for toll approve",
		server.ApprovalDeny:   "refused (approval.mode: deny)",
	}[mode]
	if fallback == server.ApprovalQueue || mode == server.ApprovalQueue {
		how += fmt.Sprintf("; a person has %s to decide", timeout)
	}
	return strings.Join(what, ", ") + " need approval: " + how
}

func cmpOr(m, def server.ApprovalMode) server.ApprovalMode {
	if m == "" {
		return def
	}
	return m
}
