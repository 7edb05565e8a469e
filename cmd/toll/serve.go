package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/ledger/reconcile"
	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// serveCmd is "toll serve".
type serveCmd struct {
	*app
	specs    listFlag
	sources  sourceFlags
	policy   policyFlags
	ledger   string
	keystore string
	passFile string
	keyEnv   string
	lazy     lazyMode
	lazyMax  count
	results  resultFlags
	termsTTL duration
	httpAddr string
	httpAuth httpAuth
	logLevel *format
	rpcs     repeated
	agent    string         // --agent: the agent paid for on stdio
	apis     []*catalog.API // the catalog's APIs, once loaded
}

func (a *app) serveCommand() *cobra.Command {
	s := &serveCmd{app: a, logLevel: newFormat("info", "debug", "info", "warn", "error")}
	c := &cobra.Command{
		Use:   "serve [flags] SPEC...",
		Short: "serve the operations of OpenAPI specs as MCP tools (stdio, or --http)",
		Long: `Serve the operations of OpenAPI specs as MCP tools, paying x402 prices within caps.

SPEC is a spec file, a folder of specs or an https URL; --discovery URL adds the resources a
facilitator's Bazaar lists, read at start. stdout carries only MCP JSON-RPC; logs go
to stderr. The keystore passphrase comes from --passphrase-file or $` + envPassphrase + `, never from a flag;
with neither, when stdin is a terminal, toll asks for it there without echo.`,
		Example: "  toll serve --keystore key.json --network eip155:8453 --max-per-call 0.05 api.yaml",
		Args:    cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return s.run(c.Context(), c.Flags(), args)
		},
	}
	fs := newFlags(c)
	fs.Var(&s.specs, "spec", "OpenAPI spec: a file, a folder or an https URL (YAML or JSON); repeatable, or give them as arguments")
	s.sources.register(fs)
	s.policy.register(fs)
	fs.StringVar(&s.ledger, "ledger", "", "ledger file or postgres:// URL (default: ledger: of the config, else $"+envLedgerURL+", else $"+envLedger+", else toll/ledger.db in the user config dir)")
	fs.StringVar(&s.keystore, "keystore", "", "encrypted keystore file holding the payer key (default $"+envKeystore+")")
	fs.StringVar(&s.passFile, "passphrase-file", "", "file holding the keystore passphrase (default: the $"+envPassphrase+" variable)")
	fs.StringVar(&s.keyEnv, "private-key-env", "", "read a raw hex private key from this environment variable instead of a keystore (explicit opt-in; prefer a keystore)")
	fs.Var(&s.lazy, "lazy", "auto: one tool per operation up to --lazy-threshold, above it three catalog tools (search, describe, call); on; off")
	fs.Var(&s.lazyMax, "lazy-threshold", fmt.Sprintf("most operations exposed one tool each with --lazy auto (0: %d)", server.DefaultLazyThreshold))
	s.results.register(fs)
	fs.Var(&s.termsTTL, "terms-ttl", "for this long after a settled payment, a repeat call to the same tool pays with its first request (one round trip); 0 sends every call unpaid first")
	fs.StringVar(&s.httpAddr, "http", "", "serve MCP over streamable HTTP on this address (e.g. 127.0.0.1:8402) instead of stdio; beyond loopback only with bearer tokens")
	s.httpAuth.register(fs)
	fs.StringVar(&s.agent, "agent", "", "on stdio: the agent of toll.yaml's agents: this server pays for, within its caps (default: agent: in toll.yaml)")
	fs.Var(s.logLevel, "log-level", "logs on stderr from this level up")
	fs.Var(&s.rpcs, "rpc", "JSON-RPC endpoint of a chain, as NETWORK=URL; repeatable; wins over rpc: in toll.yaml. At start toll reconciles the spends whose outcome it does not know against it")
	return c
}

// run is toll serve: read the settings, load the catalog, unlock the wallet, open the
// ledger, serve until the host disconnects or the context ends.
func (s *serveCmd) run(ctx context.Context, fs *pflag.FlagSet, args []string) error {
	cfg, _, err := s.sources.readConfig(s.env)
	if err != nil {
		return err
	}
	if cfg != nil {
		s.applyConfig(fs, cfg)
	}
	pol, err := s.policy.policy()
	if err != nil {
		return err
	}
	eps, err := chainEndpoints(cfg, s.rpcs)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: logLevel(s.logLevel.value)}))
	agent, agentToks, err := s.agentSetup(fs, cfg, logger)
	if err != nil {
		return err
	}
	pol.Agents = agentPolicies(cfg)
	httpOpts, err := s.httpAuth.options(fs, s.httpAddr, s.env, logger, agentToks)
	if err != nil {
		return err
	}
	ops, err := s.loadCatalog(ctx, cfg, append(s.specs, args...), &pol, logger)
	if err != nil {
		return err
	}
	upstreams, err := s.mcpServers(cfg, &pol, logger) // checks the agents' per_api too
	if err != nil {
		return err
	}
	w, err := s.wallet(ctx, cfg, logger)
	if err != nil {
		return err
	}
	led, path, err := s.openLedgerWith(s.ledger, configLedger(cfg), ledger.Options{Signer: headSigner{w}, Migrate: cfg != nil && cfg.LedgerMigrate})
	if err != nil {
		return err
	}
	defer led.Close()
	if err := trustLedger(ctx, led, path); err != nil {
		return err
	}
	defer signHeadAtStop(led, logger) // only a ledger that verified gets its head signed
	if len(eps) > 0 {
		reconcileAtStart(ctx, led, eps, logger)
	}
	connectMCPServers(ctx, upstreams, logger)
	approval := setApproval(cfg, &pol)
	client, err := tools.New(tools.Config{Wallet: w, Ledger: led, Policy: pol, Logger: logger, TermsTTL: time.Duration(s.termsTTL),
		Getenv: s.env, Checkpoint: crashHook(s.env)})
	if err != nil {
		return usagef("%v", err)
	}
	balances, err := walletBalances(cfg, s.rpcs, eps, pol, w.Address())
	if err != nil {
		return err
	}
	srv, err := server.New(client, ops, s.results.options(server.Options{Version: version(), Logger: logger, Lazy: server.Lazy(s.lazy),
		LazyThreshold: int(s.lazyMax), Balances: balances, Agent: agent, Agents: len(pol.Agents) > 0,
		Approval: approval.options(pol.Approval, led), Upstreams: upstreams}))
	if err != nil {
		return err
	}
	defer srv.Close()
	logger.Info("toll serving", "tools", len(ops), "payer", w.Address().Hex(), "ledger", path,
		"networks", strings.Join(pol.Networks, ","), "max_per_call", s.policy.perCall.String(), "max_per_session", s.policy.perSession.String(),
		"agent", agent, "agents", len(pol.Agents))
	if len(pol.Networks) == 0 {
		logger.Warn("no network allowed: every payment will be refused; allow one with --network (e.g. --network eip155:8453)")
	}
	return s.serve(ctx, srv, httpOpts, logger)
}

// applyConfig fills every setting whose flag was not given from toll.yaml.
func (s *serveCmd) applyConfig(fs *pflag.FlagSet, c *fileConfig) {
	fromFile(fs, "lazy", &s.lazy, c.Lazy)
	fromFile(fs, "lazy-threshold", &s.lazyMax, c.LazyThreshold)
	fromFile(fs, "terms-ttl", &s.termsTTL, c.TermsTTL)
	fromFile(fs, "max-result-bytes", &s.results.max, c.MaxResultBytes)
	if !fs.Changed("passphrase-file") {
		s.passFile = c.Wallet.PassphraseFile
	}
	s.policy.applyConfig(fs, c)
	s.httpAuth.applyConfig(fs, c)
}

// fromFile sets *dst to *v, the value toll.yaml gives, unless the flag was given or the
// file gives none.
func fromFile[T any](fs *pflag.FlagSet, flag string, dst, v *T) {
	if v != nil && !fs.Changed(flag) {
		*dst = *v
	}
}

// loadCatalog loads the specs as the lazy mode serves them: --lazy on lists JSON specs on
// demand (each operation built when it is described or called), off loads them whole, and
// auto lists them on demand, then loads them whole again when they turn out few enough to
// be served one tool each (which needs every input schema).
func (s *serveCmd) loadCatalog(ctx context.Context, cfg *fileConfig, specs []string, pol *tools.Policy, logger *slog.Logger) ([]*catalog.Operation, error) {
	mode := server.Lazy(s.lazy)
	s.sources.onDemand = mode != server.LazyOff
	if mode != server.LazyAuto {
		return s.catalog(ctx, cfg, specs, pol, logger)
	}
	listed, err := s.sources.load(ctx, cfg, specs, "toll serve")
	if err != nil {
		return nil, err
	}
	threshold := int(s.lazyMax)
	if threshold == 0 {
		threshold = server.DefaultLazyThreshold
	}
	if len(listed.errs) == 0 && len(listed.cat.Operations()) > threshold {
		return s.finishCatalog(listed, pol, logger)
	}
	s.sources.onDemand = false
	return s.catalog(ctx, cfg, specs, pol, logger)
}

// catalog loads the specs and adds the per-API and per-tool caps of their entries to pol.
func (s *serveCmd) catalog(ctx context.Context, cfg *fileConfig, specs []string, pol *tools.Policy, logger *slog.Logger) ([]*catalog.Operation, error) {
	ld, err := s.sources.load(ctx, cfg, specs, "toll serve")
	if err != nil {
		return nil, err
	}
	return s.finishCatalog(ld, pol, logger)
}

// finishCatalog refuses a catalog with a spec that did not load, logs its warnings, and
// adds the per-API and per-tool caps of its entries to pol.
func (s *serveCmd) finishCatalog(ld *loaded, pol *tools.Policy, logger *slog.Logger) ([]*catalog.Operation, error) {
	if len(ld.errs) > 0 {
		return nil, fmt.Errorf("%w (fix the entry or remove the spec; toll catalog check shows every problem, toll catalog list every operation)", errors.Join(ld.errs...))
	}
	logWarnings(logger, ld.cat.APIs)
	s.apis = ld.cat.APIs
	pol.Caps.PerAPI, pol.Caps.PerTool = tools.APICaps(ld.cat.APIs)
	pol.Approval.PerAPI = approvalThresholds(ld.cat.APIs)
	s.results.perAPI = server.ResultLimits(ld.cat.APIs)
	return ld.cat.Operations(), nil
}

// maxLoggedWarnings is how many warnings of one API toll serve logs at start; toll catalog
// check lists them all. A large catalog (every API of a directory) has tens of thousands.
const maxLoggedWarnings = 20

// logWarnings logs the warnings of each API, at most maxLoggedWarnings of them, then how
// many more there are.
func logWarnings(logger *slog.Logger, apis []*catalog.API) {
	for _, api := range apis {
		for i, w := range api.Warnings {
			if i == maxLoggedWarnings {
				logger.Warn("spec", "source", api.Source, "warning", fmt.Sprintf("%d more warnings: toll catalog check lists them all", len(api.Warnings)-i))
				break
			}
			logger.Warn("spec", "source", api.Source, "warning", w)
		}
	}
}

// wallet unlocks the payer key: a keystore (--keystore, toll.yaml, $TOLL_KEYSTORE), or a
// raw key from the variable --private-key-env names. Without a passphrase file or
// variable it asks for the passphrase when stdin is a terminal (see passphrasePrompt),
// and it warns of key and passphrase files that others may read.
func (s *serveCmd) wallet(ctx context.Context, cfg *fileConfig, logger *slog.Logger) (*wallet.Wallet, error) {
	src := keystore.Source{PassphraseFile: s.passFile}
	if s.keyEnv != "" {
		src.RawKeyEnv, src.AllowRawKey = s.keyEnv, true
	} else {
		var fromFile string
		if cfg != nil {
			fromFile = cfg.Wallet.Keystore
		}
		src.Keystore = s.env.keystorePath(s.keystore, fromFile)
		src.Prompt = passphrasePrompt(ctx, s.stdin, s.stderr, osTerminal(), src.Keystore, false)
	}
	warnExposed(src, func(msg string) { logger.Warn(msg) })
	w, err := keystore.Load(src, s.env, wallet.Options{})
	if err != nil {
		return nil, fmt.Errorf("unlock wallet: %w", walletHint(err))
	}
	return w, nil
}

// serve serves MCP on stdio or HTTP until the host goes away or ctx ends (Ctrl-C), which
// is a normal stop.
func (s *serveCmd) serve(ctx context.Context, srv *server.Server, httpOpts server.HTTPOptions, logger *slog.Logger) error {
	var err error
	if s.httpAddr == "" {
		err = srv.ServeStdio(ctx, s.stdin, s.stdout, s.stderr)
	} else {
		err = serveHTTP(ctx, s.httpAddr, srv, httpOpts, logger)
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		logger.Info("toll stopped", "reason", context.Cause(ctx))
		return nil
	}
	return err
}

func configLedger(cfg *fileConfig) string {
	if cfg == nil {
		return ""
	}
	return cfg.Ledger
}

// serveHTTP serves MCP over streamable HTTP on addr, with opts checked against the
// address actually bound (a host name may resolve beyond loopback).
func serveHTTP(ctx context.Context, addr string, srv *server.Server, opts server.HTTPOptions, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if err := opts.Check(ln.Addr().String()); err != nil {
		ln.Close()
		return httpAddrError(addr, err)
	}
	hs := &http.Server{Handler: srv.HTTPHandler(opts), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("MCP over streamable HTTP", "url", "http://"+ln.Addr().String()+"/mcp", "bearer_tokens", len(opts.Tokens))
	if (server.HTTPOptions{}).Check(ln.Addr().String()) != nil { // beyond loopback
		logger.Warn("MCP is reachable from other machines; every request needs a bearer token, which plain HTTP carries in clear text: on a network you do not trust, put TLS in front of toll")
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// logLevel reads a --log-level the flag has already checked.
func logLevel(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

// reconcileAtStart resolves unknown spends against the chains before serving. A failure is
// logged, not fatal: those spends keep counting against the caps, which is the safe side.
func reconcileAtStart(ctx context.Context, led *ledger.Ledger, eps []endpoint, logger *slog.Logger) {
	chains, err := dialChains(ctx, eps)
	defer closeChains(chains)
	if err != nil {
		logger.Warn("reconcile at start skipped: the chain endpoints could not be reached; unknown spends still count against the caps", "err", err)
		return
	}
	rep, err := reconcile.Run(ctx, led, chains, reconcile.Options{Logger: logger})
	if err != nil {
		logger.Warn("reconcile at start incomplete; the spends it could not check still count against the caps", "err", err)
	}
	logger.Info("reconciled at start", "checked", rep.Checked, "settled", rep.Settled, "voided", rep.Voided, "kept", rep.Kept)
}

// resultFlags say how large a body a tool result carries inline: --max-result-bytes (or
// toll.yaml's max_result_bytes) for every API, an API's own max_result_bytes for its tools.
type resultFlags struct {
	max    count
	perAPI map[string]int // from the catalog entries
}

func (r *resultFlags) register(fs *pflag.FlagSet) {
	fs.Var(&r.max, "max-result-bytes", fmt.Sprintf("largest response body a tool result carries inline (0: %d); a larger one is cut, "+
		"and kept whole for the MCP session to read with resources/read. An API's max_result_bytes in toll.yaml overrides it", server.DefaultMaxResultBytes))
}

// options sets the result limits on opts.
func (r *resultFlags) options(opts server.Options) server.Options {
	opts.MaxResultBytes, opts.ResultLimits = int(r.max), r.perAPI
	return opts
}

// setApproval sets pol's approval rules from cfg's approval: and agents:, and returns the
// approval configuration.
func setApproval(cfg *fileConfig, pol *tools.Policy) approvalConfig {
	var approval approvalConfig
	if cfg != nil {
		approval = cfg.Approval
	}
	pol.Approval = approval.rule(pol.Approval.PerAPI)
	pol.Approval.Agents = agentApprovalRules(cfg, pol.Approval)
	return approval
}
