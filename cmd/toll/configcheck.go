package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/wallet/keystore"
	"github.com/tollhq/toll/wallet/onchain"
)

func (a *app) configCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "check a toll.yaml",
		Args:  cobra.ArbitraryArgs,
		RunE:  group("toll config", "a command: check"),
	}
	c.AddCommand(a.configCheckCommand())
	return c
}

// configCheckCmd is "toll config check".
type configCheckCmd struct {
	*app
	config string
}

func (a *app) configCheckCommand() *cobra.Command {
	k := &configCheckCmd{app: a}
	c := &cobra.Command{
		Use:   "check [--config FILE]",
		Short: "validate a toll.yaml as toll serve would at start, and say what it allows",
		Long: `Load and validate a toll.yaml as toll serve does at start (its keys, the networks, assets and caps,
the rpc endpoints, every API's spec) without opening the ledger or unlocking the wallet, and print
what it allows: networks, assets, caps, APIs and their tools. Exit 1 with every problem found.`,
		Example: "  toll config check --config ~/.config/toll/toll.yaml",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, _ []string) error { return k.run(c.Context()) },
	}
	newFlags(c).StringVar(&k.config, "config", "", "the toll.yaml to check (default $"+envConfig+")")
	return c
}

// configReport is what toll config check found: the lines for people and the problems.
type configReport struct {
	lines    [][2]string // key, what it allows
	problems []error
}

func (r *configReport) add(key, format string, args ...any) {
	r.lines = append(r.lines, [2]string{key, fmt.Sprintf(format, args...)})
}

func (k *configCheckCmd) run(ctx context.Context) error {
	path := k.env.configPath(k.config)
	if path == "" {
		return usagef("toll config check needs --config FILE (or $%s)", envConfig)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	var r configReport
	k.checkWallet(&r, cfg)
	checkPolicy(&r, cfg)
	checkRPC(&r, cfg)
	apis := k.checkAPIs(ctx, &r, cfg)
	k.checkAgents(&r, cfg, apis)
	reportMCPServers(&r, cfg)
	if cfg.HTTP.TokenFile != "" {
		if _, err := os.Stat(cfg.HTTP.TokenFile); err != nil {
			r.problems = append(r.problems, fmt.Errorf("http.token_file: %w", err))
		}
	}
	if err := writeConfigReport(k.stdout, path, r); err != nil {
		return err
	}
	if len(r.problems) > 0 {
		what := fmt.Sprintf("%d problems", len(r.problems))
		if len(r.problems) == 1 {
			what = "a problem"
		}
		return fmt.Errorf("config %s: %s:\n  %w", path, what, joinIndented(r.problems))
	}
	return nil
}

// checkWallet says where the key is, without unlocking it.
func (k *configCheckCmd) checkWallet(r *configReport, cfg *fileConfig) {
	src := keystore.Source{Keystore: k.env.keystorePath("", cfg.Wallet.Keystore), PassphraseFile: cfg.Wallet.PassphraseFile}
	if src.Keystore == "" {
		r.add("wallet", "no keystore: toll serve needs --keystore FILE, $%s, or wallet.keystore here", envKeystore)
		return
	}
	pass := "$" + envPassphrase + ", else asked at a terminal"
	if src.PassphraseFile != "" {
		pass = "file " + src.PassphraseFile
	}
	r.add("wallet", "keystore %s (passphrase: %s)", src.Keystore, pass)
	for _, p := range []struct{ key, path string }{{"wallet.keystore", src.Keystore}, {"wallet.passphrase_file", src.PassphraseFile}} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil {
			r.problems = append(r.problems, fmt.Errorf("%s: %w", p.key, err))
		}
	}
	warnExposed(src, k.warn)
}

// checkPolicy checks the networks, assets and caps as toll serve reads them.
func checkPolicy(r *configReport, cfg *fileConfig) {
	var p policyFlags
	fs := pflag.NewFlagSet("config", pflag.ContinueOnError)
	p.register(fs)
	p.applyConfig(fs, cfg)
	pol, err := p.policy()
	if err != nil {
		r.problems = append(r.problems, err)
	}
	if len(pol.Networks) == 0 {
		r.add("networks", "none: every payment will be refused; add networks: [eip155:8453]")
	} else {
		names := make([]string, len(pol.Networks))
		for i, n := range pol.Networks {
			names[i] = networkName(n)
		}
		r.add("networks", "%s", strings.Join(names, ", "))
	}
	assets := "the USDC toll knows on each network"
	for _, a := range pol.Assets {
		if a.Network != "" {
			assets += ", " + a.Network + "=" + a.Address
		} else {
			assets += ", " + a.Address + " (on every network)"
		}
	}
	r.add("assets", "%s", assets)
	r.add("caps", "per call %s, per session %s, per day %s, total %s (USDC)", p.perCall.String(), p.perSession.String(), p.perDay.String(), p.total.String())
}

// checkRPC lists the endpoints (loadConfig checked them), by scheme and host only.
func checkRPC(r *configReport, cfg *fileConfig) {
	eps, _ := cfg.endpoints()
	for _, e := range eps {
		r.add("rpc", "eip155:%s %s", e.chainID, onchain.Redact(e.url))
	}
}

// checkAPIs loads every API's spec, as toll serve does, counts its tools, and returns the
// APIs loaded.
func (k *configCheckCmd) checkAPIs(ctx context.Context, r *configReport, cfg *fileConfig) []*catalog.API {
	if len(cfg.APIs) == 0 {
		r.add("apis", "none: add the specs toll may pay under apis:, or give them to toll serve as arguments")
		r.add("approval", "%s", cfg.Approval.describe(nil))
		return nil
	}
	s := sourceFlags{config: k.config}
	ld, err := s.load(ctx, cfg, nil, "toll config check")
	if err != nil {
		r.problems = append(r.problems, err)
		return nil
	}
	r.problems = append(r.problems, ld.errs...)
	perAPI, perTool := tools.APICaps(ld.cat.APIs)
	for _, api := range ld.cat.APIs {
		line := fmt.Sprintf("%s (%s): %d tools", api.Name, api.Source, len(api.Operations))
		if c, ok := perAPI[api.Name]; ok {
			line += ", at most " + c.String() + " USDC in all"
		}
		if len(api.Warnings) > 0 {
			line += fmt.Sprintf(", %d warnings (toll catalog check lists them)", len(api.Warnings))
		}
		r.add("apis", "%s", line)
	}
	if len(perTool) > 0 {
		r.add("tool caps", "%d tools have a cap of their own", len(perTool))
	}
	r.add("approval", "%s", cfg.Approval.describe(approvalThresholds(ld.cat.APIs)))
	return ld.cat.APIs
}

func writeConfigReport(w io.Writer, path string, r configReport) error {
	fmt.Fprintf(w, "config %s\n", path)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range r.lines {
		fmt.Fprintf(tw, "  %s\t%s\n", l[0], l[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.problems) == 0 {
		_, err := fmt.Fprintln(w, "ok: no problem found; toll serve --config "+shellQuote(path)+" reads these settings")
		return err
	}
	return nil
}

// joinIndented joins errors one a line, indented.
func joinIndented(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}
