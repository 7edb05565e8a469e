package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// The defaults of toll init: Base mainnet, and the caps toll serve has without a config.
const defaultInitNetwork = "eip155:8453"

// initCmd is "toll init".
type initCmd struct {
	*app
	config, keystore, passFile string
	network                    string
	perCall, perDay            limit
	key                        string // new, import (a raw key on stdin) or a keystore file's path
	fromPass                   string
	yes, force, light          bool
}

func (a *app) initCommand() *cobra.Command {
	n := &initCmd{app: a, perCall: usdcLimit(defaultMaxPerCall), perDay: usdcLimit(defaultMaxPerDay)}
	c := &cobra.Command{
		Use:   "init [flags]",
		Short: "write a commented toll.yaml and a keystore, and say how to fund the address",
		Long: `Set toll up: write a commented toll.yaml (the network toll may pay on, the caps) and an encrypted
keystore holding the payer key (a new key, or one you import), then print the address and how to
fund it. At a terminal it asks; with --yes, or when stdin is not a terminal, it takes the flags and
their defaults. It never overwrites a toll.yaml without --force, and never overwrites a keystore.
The keystore's passphrase comes from --passphrase-file (which toll.yaml then names) or $` + envPassphrase + `,
else it is asked at the terminal.`,
		Example: `  toll init
  toll init --yes --network base-sepolia --per-call 0.05 --per-day 1 --passphrase-file ~/.config/toll/pass.txt`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return n.run(c.Context()) },
	}
	fs := newFlags(c)
	fs.StringVar(&n.config, "config", "", "toll.yaml to write (default toll/toll.yaml in the user config dir)")
	fs.StringVar(&n.keystore, "keystore", "", "keystore file (default key.json next to toll.yaml)")
	fs.StringVar(&n.passFile, "passphrase-file", "", "file holding the keystore's passphrase; toll.yaml names it (default: $"+envPassphrase+", else asked)")
	fs.StringVar(&n.network, "network", defaultInitNetwork, "network toll may pay on: a CAIP-2 id or a v1 name (base, base-sepolia)")
	fs.Var(&n.perCall, "per-call", "the most one call may pay, in USDC (none: no cap)")
	fs.Var(&n.perDay, "per-day", "the most toll may pay in a day, in USDC (none: no cap)")
	fs.StringVar(&n.key, "key", "new", "new: a fresh key; import: a raw hex key read from stdin; or the path of a go-ethereum/Foundry keystore file to import")
	fs.StringVar(&n.fromPass, "from-passphrase-file", "", "file holding the passphrase of the keystore --key names (default $"+envFromPassphrase+", else asked)")
	fs.BoolVar(&n.yes, "yes", false, "ask nothing: take the flags and their defaults")
	fs.BoolVar(&n.force, "force", false, "overwrite an existing toll.yaml (an existing keystore is kept, never overwritten)")
	fs.BoolVar(&n.light, "light", false, "use light scrypt parameters (fast, weaker; for tests and demos only)")
	return c
}

func (n *initCmd) run(ctx context.Context) error {
	if err := n.defaults(); err != nil {
		return err
	}
	if _, err := os.Stat(n.config); err == nil && !n.force {
		return fmt.Errorf("%s already exists: %w; toll init does not overwrite it without --force (or choose another --config)", n.config, fs.ErrExist)
	}
	if stdinIsTerminal(n.stdin, osTerminal()) && !n.yes {
		if err := n.ask(newPrompter(n.stdin, n.stderr)); err != nil {
			return err
		}
	}
	if _, err := x402.ChainID(n.network); err != nil {
		return usagef("--network %s: %v", n.network, err)
	}
	for _, dir := range []string{filepath.Dir(n.config), filepath.Dir(n.keystore)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	w, kept, err := n.wallet(ctx)
	if err != nil {
		return walletHint(err)
	}
	if err := writeConfigFile(n.config, n.configText(), n.force); err != nil {
		return err
	}
	n.report(w.Address(), kept)
	return nil
}

// defaults fills the paths the flags left empty, made absolute: toll.yaml names them.
func (n *initCmd) defaults() error {
	if n.config == "" {
		n.config = n.env.configPath("")
	}
	if n.config == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return usagef("no user config dir (%v): pass --config FILE", err)
		}
		n.config = filepath.Join(dir, "toll", "toll.yaml")
	}
	if n.keystore == "" {
		n.keystore = filepath.Join(filepath.Dir(n.config), "key.json")
	}
	for _, p := range []*string{&n.config, &n.keystore, &n.passFile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// stdinIsTerminal reports whether stdin is a terminal.
func stdinIsTerminal(stdin io.Reader, t terminal) bool {
	f, ok := stdin.(interface{ Fd() uintptr })
	return ok && t.isTerminal(int(f.Fd()))
}

// wallet makes the keystore: it keeps an existing one (with --force), else writes a new
// key or the imported one. kept says whether the keystore was already there.
func (n *initCmd) wallet(ctx context.Context) (w *wallet.Wallet, kept bool, err error) {
	src := keystore.Source{Keystore: n.keystore, PassphraseFile: n.passFile}
	if _, err := os.Lstat(n.keystore); err == nil {
		if !n.force {
			return nil, false, fmt.Errorf("keystore %s already exists: %w; choose another --keystore, or pass --force to keep it and write toll.yaml around it", n.keystore, fs.ErrExist)
		}
		src.Prompt = passphrasePrompt(ctx, n.stdin, n.stderr, osTerminal(), n.keystore, false)
		w, err := keystore.Load(src, n.env, wallet.Options{})
		return w, true, err
	}
	imp := walletImportCmd{keystoreFlags: keystoreFlags{app: n.app}, from: n.key, fromPass: n.fromPass, light: n.light}
	switch n.key {
	case "import":
		w, err = imp.importRaw(ctx, src)
	case "new", "":
		src.Prompt = passphrasePrompt(ctx, n.stdin, n.stderr, osTerminal(), n.keystore, true)
		var pass string
		if pass, err = keystore.Passphrase(src, n.env); err == nil {
			w, err = keystore.Create(n.keystore, pass, n.light, wallet.Options{})
		}
	default:
		w, err = imp.importKeystore(ctx, src)
	}
	return w, false, err
}

// writeConfigFile writes toll.yaml (mode 0600): a new file, or with force one that
// replaces the old whole.
func writeConfigFile(path, text string, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
		return os.Rename(tmp, path)
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s appeared meanwhile: %w; run toll init again with --force to overwrite it", path, err)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// report tells what init wrote and what to do next.
func (n *initCmd) report(addr wallet.Address, kept bool) {
	fmt.Fprintln(n.stdout, addr.Hex())
	what := "written (encrypted)"
	if kept {
		what = "kept as it was"
	}
	fmt.Fprintf(n.stderr, "\nWrote %s.\nKeystore %s %s.\n\nFund %s with USDC on %s.\n", n.config, n.keystore, what, addr.Hex(), networkName(n.network))
	fmt.Fprintln(n.stderr, "It needs no gas: an x402 payment is a signed authorization the facilitator submits.")
	if id, _ := x402.ChainID(n.network); id != nil && id.Int64() == 84532 {
		fmt.Fprintln(n.stderr, "Test USDC on Base Sepolia: https://faucet.circle.com")
	}
	fmt.Fprintf(n.stderr, "\nNext: add the APIs toll may pay under apis: in %s, then\n  toll config check --config %s\n  toll mcp-config --client claude-desktop --config %s\n",
		n.config, shellQuote(n.config), shellQuote(n.config))
	if n.passFile == "" {
		fmt.Fprintf(n.stderr, "An MCP host starts toll without a terminal: put the passphrase in a file (chmod 600) and name it under wallet: passphrase_file in %s.\n", n.config)
	}
}

// networkName is a network as people know it: "base (eip155:8453)".
func networkName(network string) string {
	id, err := x402.ChainID(network)
	if err != nil {
		return network
	}
	caip := "eip155:" + id.String()
	if name, ok := x402.V1Name(id); ok {
		return name + " (" + caip + ")"
	}
	return caip
}

// configText is the toll.yaml toll init writes: every setting it chose, and commented
// examples of the others.
func (n *initCmd) configText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# toll.yaml, written by toll init. A flag of toll serve wins over a setting here.\n")
	fmt.Fprintf(&b, "# Check it with: toll config check --config %s\n\n", shellQuote(n.config))
	fmt.Fprintf(&b, "# The payer key, encrypted. Print its address with: toll wallet address --config %s\n", shellQuote(n.config))
	fmt.Fprintf(&b, "wallet:\n  keystore: %s\n", yamlString(n.keystore))
	if n.passFile != "" {
		fmt.Fprintf(&b, "  passphrase_file: %s\n", yamlString(n.passFile))
	} else {
		fmt.Fprintf(&b, "  # passphrase_file: /path/to/pass.txt   # else $%s, else asked at a terminal\n", envPassphrase)
	}
	fmt.Fprintf(&b, "\n# The networks toll may pay on (CAIP-2 ids, or v1 names such as base-sepolia).\nnetworks: [%s]\n", yamlString(n.network))
	fmt.Fprintf(&b, "# assets: []   # tokens beyond the network's USDC: ADDRESS or NETWORK=ADDRESS\n\n")
	fmt.Fprintf(&b, "# Caps in USDC, or none. A call that would go over one is refused before anything is signed.\n")
	fmt.Fprintf(&b, "caps:\n  per_call: %s   # the most one call may pay\n  per_day: %s    # the most all calls may pay in a day\n", yamlString(n.perCall.String()), yamlString(n.perDay.String()))
	fmt.Fprintf(&b, "  # per_session: \"1\"\n  # total: none\n\n")
	fmt.Fprintf(&b, "# JSON-RPC endpoints, for toll wallet balance and toll ledger reconcile.\n# rpc:\n#   %s: https://…\n\n", n.network)
	fmt.Fprintf(&b, "# The APIs toll may pay: OpenAPI specs (a file, a folder or an https URL).\n")
	fmt.Fprintf(&b, "apis: []\n#  - spec: ./specs/weather.yaml\n#    namespace: wx\n#    max_total: \"1.00\"   # cap on everything this API is paid\n\n")
	fmt.Fprintf(&b, "# Paid MCP servers: toll serves their tools as NAMESPACE_TOOL and pays them as it pays an API.\n")
	fmt.Fprintf(&b, "# mcp_servers:\n#  - namespace: market\n#    url: https://market.example/mcp   # or command: ./server, with args: [...]\n#    max_total: \"1.00\"\n")
	return b.String()
}

// yamlString writes s as a double-quoted YAML scalar.
func yamlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
