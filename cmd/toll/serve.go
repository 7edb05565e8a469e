package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/wallet"
)

// Default caps, in USDC. They are deliberately small: the user raises them on purpose.
const (
	defaultMaxPerCall    = "0.10"
	defaultMaxPerSession = "1.00"
	defaultMaxPerDay     = "5.00"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// policyFlags are the spending rules shared by serve (and reused by demo).
type policyFlags struct {
	networks   listFlag
	assets     listFlag
	perCall    string
	perSession string
	perDay     string
	total      string
	maxWindow  time.Duration
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	fs.Var(&p.networks, "network", "allow payments on this network, as CAIP-2 (eip155:8453) or x402 v1 name (base); repeatable. None allowed by default")
	fs.Var(&p.assets, "asset", "also allow this token, as ADDRESS or NETWORK=ADDRESS; repeatable (each allowed network's USDC is allowed already)")
	fs.StringVar(&p.perCall, "max-per-call", defaultMaxPerCall, "most one call may pay, in USDC (\"none\" for no cap)")
	fs.StringVar(&p.perSession, "max-per-session", defaultMaxPerSession, "most one MCP session may pay, in USDC (stdio: one process run)")
	fs.StringVar(&p.perDay, "max-per-day", defaultMaxPerDay, "most paid in any rolling 24 hours, in USDC")
	fs.StringVar(&p.total, "max-total", "none", "most this ledger may ever pay, in USDC")
	fs.DurationVar(&p.maxWindow, "max-window", tools.DefaultMaxWindow, "longest an authorization may stay valid")
}

func (p *policyFlags) policy() (tools.Policy, error) {
	var pol tools.Policy
	var err error
	for _, c := range []struct {
		flag, value string
		dst         **money.Amount
	}{
		{"max-per-call", p.perCall, &pol.Caps.PerCall},
		{"max-per-session", p.perSession, &pol.Caps.PerSession},
		{"max-per-day", p.perDay, &pol.Caps.PerDay},
		{"max-total", p.total, &pol.Caps.Total},
	} {
		if *c.dst, err = parseCap(c.value); err != nil {
			return pol, usagef("--%s %q: %v (write a USDC amount such as 0.05, or none)", c.flag, c.value, err)
		}
	}
	pol.Networks = p.networks
	for _, a := range p.assets {
		network, addr, ok := strings.Cut(a, "=")
		if !ok {
			network, addr = "", a
		}
		if _, err := wallet.ParseAddress(addr); err != nil {
			return pol, usagef("--asset %q: %v", a, err)
		}
		pol.Assets = append(pol.Assets, tools.Asset{Network: network, Address: addr})
	}
	if p.maxWindow <= 0 {
		return pol, usagef("--max-window %s: must be positive", p.maxWindow)
	}
	pol.MaxWindow = p.maxWindow
	return pol, nil
}

func parseCap(s string) (*money.Amount, error) {
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return nil, nil
	}
	v, err := money.ParseUSDC(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// runServe is "toll serve".
func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("toll serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		specs      listFlag
		pf         policyFlags
		probesPath = fs.String("probes", "", "prices recorded by toll catalog probe --out; they come after the config's prices and before the spec's")
		configPath = fs.String("config", "", "toll.yaml configuration file (default $TOLL_CONFIG); flags given here win over it")
		baseURL    = fs.String("base-url", "", "send the requests of the specs given as arguments to this base URL instead of their servers[0].url")
		ledgerPath = fs.String("ledger", "", "ledger file (default $TOLL_LEDGER, else toll/ledger.db in the user config dir)")
		keystore   = fs.String("keystore", "", "encrypted keystore file holding the payer key (default $TOLL_KEYSTORE)")
		passFile   = fs.String("passphrase-file", "", "file holding the keystore passphrase (default: the $TOLL_PASSPHRASE variable)")
		keyEnv     = fs.String("private-key-env", "", "read a raw hex private key from this environment variable instead of a keystore (explicit opt-in; prefer a keystore)")
		lazy       = fs.String("lazy", "auto", "auto: one tool per operation up to --lazy-threshold, above it three catalog tools (search, describe, call); on; off")
		lazyMax    = fs.Int("lazy-threshold", server.DefaultLazyThreshold, "most operations exposed one tool each with --lazy auto")
		termsTTL   = fs.Duration("terms-ttl", 0, "for this long after a settled payment, a repeat call to the same tool pays with its first request (one round trip); 0 sends every call unpaid first")
		httpAddr   = fs.String("http", "", "serve MCP over streamable HTTP on this address (e.g. 127.0.0.1:8402) instead of stdio")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error (logs go to stderr)")
	)
	var rpcs rpcFlag
	fs.Var(&rpcs, "rpc", "JSON-RPC endpoint of a chain, as NETWORK=URL; repeatable. At start toll reconciles the spends whose outcome it does not know against it")
	fs.Var(&specs, "spec", "OpenAPI spec: a file, a folder or an https URL (YAML or JSON); repeatable, or give them as arguments")
	pf.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: toll serve [flags] SPEC...\n\nServe the operations of OpenAPI specs as MCP tools, paying x402 prices within caps.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	specs = append(specs, fs.Args()...)
	if *configPath == "" {
		*configPath = getenv("TOLL_CONFIG")
	}
	var cfg *fileConfig
	if *configPath != "" {
		var err error
		if cfg, err = loadConfig(*configPath); err != nil {
			return err
		}
		mergeConfig(fs, cfg, &pf, ledgerPath, keystore, passFile, lazy, lazyMax, termsTTL)
	}
	var sources []catalog.SourceConfig
	if cfg != nil {
		for _, a := range cfg.APIs {
			sources = append(sources, a.SourceConfig)
		}
	}
	for _, sp := range specs {
		sources = append(sources, catalog.SourceConfig{Spec: sp, Options: catalog.Options{BaseURL: *baseURL}})
	}
	if *probesPath == "" && cfg != nil {
		*probesPath = cfg.Probes
	}
	if err := attachProbes(*probesPath, sources); err != nil {
		return err
	}
	if len(sources) == 0 {
		return usagef("toll serve needs at least one OpenAPI spec: toll serve --spec api.yaml (or apis: in --config)")
	}
	pol, err := pf.policy()
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	mode, err := parseLazy(*lazy)
	if err != nil {
		return err
	}
	cat, errs := catalog.LoadAll(ctx, sources)
	if len(errs) > 0 {
		return fmt.Errorf("%w (fix or remove the spec; `toll catalog check` shows every problem)", errors.Join(errs...))
	}
	for _, api := range cat.APIs {
		for _, w := range api.Warnings {
			logger.Warn("spec", "source", api.Source, "warning", w)
		}
	}
	if err := applyAPIRules(cfg, cat.APIs, &pol); err != nil {
		return fmt.Errorf("config %s: %w", *configPath, err)
	}
	ops := cat.Operations()
	w, err := unlockWallet(*keystore, *passFile, *keyEnv, getenv)
	if err != nil {
		return fmt.Errorf("unlock wallet: %w", err)
	}
	led, path, err := openLedger(*ledgerPath, getenv)
	if err != nil {
		return err
	}
	defer led.Close()
	if len(rpcs) > 0 {
		reconcileAtStart(ctx, led, rpcs, logger)
	}
	client, err := tools.New(tools.Config{Wallet: w, Ledger: led, Policy: pol, Logger: logger, TermsTTL: *termsTTL, Getenv: getenv, Checkpoint: crashAt(getenv("TOLL_TEST_CRASH_AT"))})
	if err != nil {
		return usagef("%v", err)
	}
	srv, err := server.New(client, ops, server.Options{Version: version(), Logger: logger, Lazy: mode, LazyThreshold: *lazyMax})
	if err != nil {
		return err
	}
	logger.Info("toll serving", "tools", len(ops), "apis", len(cat.APIs), "payer", w.Address().Hex(), "ledger", path,
		"networks", strings.Join(pol.Networks, ","), "max_per_call", pf.perCall, "max_per_session", pf.perSession)
	if len(pol.Networks) == 0 {
		logger.Warn("no network allowed: every payment will be refused; allow one with --network (e.g. --network eip155:8453)")
	}
	if *httpAddr == "" {
		return srv.ServeStdio(ctx, stdin, stdout, stderr)
	}
	return serveHTTP(ctx, *httpAddr, srv.HTTPHandler(), logger)
}

// mergeConfig fills every setting whose flag was not given from toll.yaml.
func mergeConfig(fs *flag.FlagSet, cfg *fileConfig, pf *policyFlags, ledgerPath, keystore, passFile, lazy *string, lazyMax *int, termsTTL *time.Duration) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	str := func(flagName string, dst *string, v string) {
		if !set[flagName] && v != "" {
			*dst = v
		}
	}
	str("ledger", ledgerPath, cfg.Ledger)
	str("keystore", keystore, cfg.Wallet.Keystore)
	str("passphrase-file", passFile, cfg.Wallet.PassphraseFile)
	str("lazy", lazy, cfg.Lazy)
	str("max-per-call", &pf.perCall, cfg.Caps.PerCall)
	str("max-per-session", &pf.perSession, cfg.Caps.PerSession)
	str("max-per-day", &pf.perDay, cfg.Caps.PerDay)
	str("max-total", &pf.total, cfg.Caps.Total)
	if !set["network"] && len(cfg.Networks) > 0 {
		pf.networks = append(listFlag(nil), cfg.Networks...)
	}
	if !set["asset"] && len(cfg.Assets) > 0 {
		pf.assets = append(listFlag(nil), cfg.Assets...)
	}
	if !set["max-window"] && cfg.MaxWindow > 0 {
		pf.maxWindow = cfg.MaxWindow
	}
	if !set["terms-ttl"] && cfg.TermsTTL > 0 {
		*termsTTL = cfg.TermsTTL
	}
	if !set["lazy-threshold"] && cfg.LazyThreshold > 0 {
		*lazyMax = cfg.LazyThreshold
	}
}

func serveHTTP(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("MCP over streamable HTTP", "url", "http://"+ln.Addr().String()+"/mcp")
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

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func defaultLedgerPath(getenv env) (string, error) {
	if p := getenv("TOLL_LEDGER"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no ledger path: %v; pass --ledger FILE or set TOLL_LEDGER", err)
	}
	return filepath.Join(dir, "toll", "ledger.db"), nil
}

// crashAt returns a checkpoint hook that kills the process with SIGKILL at the named step
// of a paid call (see tools.Config.Checkpoint). It exists for the crash tests, which set
// TOLL_TEST_CRASH_AT; unset, it does nothing.
func crashAt(step string) func(string) {
	if step == "" {
		return nil
	}
	return func(s string) {
		if s == step {
			killSelf()
		}
	}
}

// reconcileAtStart resolves unknown spends against the chains before serving. A failure is
// logged, not fatal: those spends keep counting against the caps, which is the safe side.
func reconcileAtStart(ctx context.Context, led *ledger.Ledger, rpcs []string, logger *slog.Logger) {
	chains, err := dialChains(ctx, rpcs)
	defer closeChains(chains)
	if err != nil {
		logger.Warn("reconcile at start skipped: the chain endpoints could not be reached; unknown spends still count against the caps", "err", err)
		return
	}
	rep, err := tools.Reconcile(ctx, led, chains, tools.ReconcileOptions{Logger: logger})
	if err != nil {
		logger.Warn("reconcile at start incomplete; the spends it could not check still count against the caps", "err", err)
	}
	logger.Info("reconciled at start", "checked", rep.Checked, "settled", rep.Settled, "voided", rep.Voided, "kept", rep.Kept)
}

// parseLazy reads the --lazy flag.
func parseLazy(s string) (server.Lazy, error) {
	mode, ok := map[string]server.Lazy{"auto": server.LazyAuto, "on": server.LazyOn, "off": server.LazyOff}[s]
	if !ok {
		return 0, usagef("--lazy %q: want auto, on or off", s)
	}
	return mode, nil
}
