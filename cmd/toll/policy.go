package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/wallet"
)

// policyFlags are the spending rules of toll serve.
type policyFlags struct {
	networks   listFlag
	assets     assetList
	perCall    limit
	perSession limit
	perDay     limit
	total      limit
	maxWindow  duration
}

func (p *policyFlags) register(fs *pflag.FlagSet) {
	p.perCall, p.perSession, p.perDay, p.total = usdcLimit(defaultMaxPerCall), usdcLimit(defaultMaxPerSession), usdcLimit(defaultMaxPerDay), limit{}
	p.maxWindow = duration(tools.DefaultMaxWindow)
	fs.Var(&p.networks, "network", "allow payments on this network, as CAIP-2 (eip155:8453) or x402 v1 name (base); repeatable. None allowed by default")
	fs.Var(&p.assets, "asset", "also allow this token, as ADDRESS or NETWORK=ADDRESS; repeatable (each allowed network's USDC is allowed already)")
	fs.Var(&p.perCall, "max-per-call", "most one call may pay, in USDC (none: no cap)")
	fs.Var(&p.perSession, "max-per-session", "most one MCP session may pay, in USDC (stdio: one process run)")
	fs.Var(&p.perDay, "max-per-day", "most paid in any rolling 24 hours, in USDC")
	fs.Var(&p.total, "max-total", "most this ledger may ever pay, in USDC")
	fs.Var(&p.maxWindow, "max-window", "longest an authorization may stay valid (0: the default)")
}

// applyConfig takes from toll.yaml every rule whose flag was not given.
func (p *policyFlags) applyConfig(fs *pflag.FlagSet, c *fileConfig) {
	fromFile(fs, "max-per-call", &p.perCall, c.Caps.PerCall)
	fromFile(fs, "max-per-session", &p.perSession, c.Caps.PerSession)
	fromFile(fs, "max-per-day", &p.perDay, c.Caps.PerDay)
	fromFile(fs, "max-total", &p.total, c.Caps.Total)
	fromFile(fs, "max-window", &p.maxWindow, c.MaxWindow)
	if !fs.Changed("network") && len(c.Networks) > 0 {
		p.networks = append(listFlag(nil), c.Networks...)
	}
	if !fs.Changed("asset") && len(c.Assets) > 0 {
		p.assets = append(assetList(nil), c.Assets...)
	}
}

// policy is the tools.Policy of the flags (and toll.yaml). A policy that could never pay
// as written (tools.Policy.Check) is a usage error here, at start, naming the value and
// the fix.
func (p *policyFlags) policy() (tools.Policy, error) {
	pol := p.rules()
	if err := pol.Check(); err != nil {
		return pol, policyError(err)
	}
	return pol, nil
}

// policyError phrases an error of tools.Policy.Check with toll's flags and settings.
func policyError(err error) error {
	var pe *tools.PolicyError
	if !errors.As(err, &pe) {
		return usagef("%v; check --network and --asset (networks: and assets: in toll.yaml)", err)
	}
	allowed := "none"
	if len(pe.Allowed) > 0 {
		allowed = strings.Join(pe.Allowed, ", ")
	}
	switch {
	case errors.Is(err, tools.ErrAssetNetworkNotAllowed):
		return usagef("--asset %s=%s: network %s is not allowed (allowed: %s), so this token could never be paid; allow the network with --network %s, or write --asset %s to allow the token on every allowed network",
			pe.Network, pe.Asset, pe.Network, allowed, pe.Network, pe.Asset)
	case errors.Is(err, tools.ErrNoPayableAsset):
		return usagef("--network %s: toll knows no USDC contract on %s and no --asset is allowed there, so nothing could ever be paid on it; add --asset %s=TOKEN (the token contract the APIs ask for), or remove the network",
			pe.Network, pe.Network, pe.Network)
	}
	return usagef("%v", err)
}

// rules is the tools.Policy of the flags (and toll.yaml) as they are written.
func (p *policyFlags) rules() tools.Policy {
	var pol tools.Policy
	pol.Caps.PerCall = p.perCall.amount
	pol.Caps.PerSession = p.perSession.amount
	pol.Caps.PerDay = p.perDay.amount
	pol.Caps.Total = p.total.amount
	pol.Networks = p.networks
	for _, a := range p.assets {
		pol.Assets = append(pol.Assets, tools.Asset(a))
	}
	pol.MaxWindow = time.Duration(p.maxWindow)
	return pol
}

// asset is a token contract to allow: ADDRESS (on every allowed network) or
// NETWORK=ADDRESS, as --asset and assets: in toll.yaml write it.
type asset tools.Asset

func (a *asset) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	network, addr, ok := strings.Cut(s, "=")
	if !ok {
		network, addr = "", s
	}
	if _, err := wallet.ParseAddress(addr); err != nil {
		return fmt.Errorf("%q: %v", s, err)
	}
	*a = asset{Network: network, Address: addr}
	return nil
}

// assetList is the repeatable --asset flag; a value may hold several, comma-separated.
type assetList []asset

func (l *assetList) Type() string { return "list" }
func (l *assetList) String() string {
	var parts []string
	for _, a := range *l {
		if a.Network != "" {
			parts = append(parts, a.Network+"="+a.Address)
		} else {
			parts = append(parts, a.Address)
		}
	}
	return strings.Join(parts, ",")
}

func (l *assetList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		var a asset
		if err := a.UnmarshalText([]byte(part)); err != nil {
			return err
		}
		*l = append(*l, a)
	}
	return nil
}
