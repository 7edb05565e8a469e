package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

func (a *app) walletCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "wallet",
		Short: "create or import a key in an encrypted keystore, print its address or its balances",
		Long: `The payer key lives in an encrypted go-ethereum (v3) keystore file. Its passphrase comes from
--passphrase-file or the ` + envPassphrase + ` variable, never from a flag; with neither, when stdin is
a terminal, toll asks for it there without echo.`,
		Args: cobra.ArbitraryArgs,
		RunE: group("toll wallet", "a command: new, import, address or balance"),
	}
	c.AddCommand(a.walletNewCommand(), a.walletImportCommand(), a.walletAddressCommand(), a.walletBalanceCommand())
	return c
}

// keystoreFlags say which keystore a wallet command uses and where its passphrase is:
// the flags, else wallet: in toll.yaml (--config or $TOLL_CONFIG), else $TOLL_KEYSTORE.
type keystoreFlags struct {
	*app
	keystore string
	passFile string
	config   string
}

func (k *keystoreFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&k.keystore, "keystore", "", "keystore file (default: wallet.keystore of the config, else $"+envKeystore+")")
	fs.StringVar(&k.passFile, "passphrase-file", "", "file holding the passphrase (default: the $"+envPassphrase+" variable)")
	fs.StringVar(&k.config, "config", "", "toll.yaml whose wallet to use (default $"+envConfig+")")
}

// source resolves the keystore and passphrase file; cmd names the command for the error
// that says it needs a keystore.
func (k *keystoreFlags) source(cmd string) (keystore.Source, error) {
	var fromConfig walletConfig
	if path := k.env.configPath(k.config); path != "" {
		cfg, err := loadConfig(path)
		if err != nil {
			return keystore.Source{}, err
		}
		fromConfig = cfg.Wallet
	}
	src := keystore.Source{Keystore: k.env.keystorePath(k.keystore, fromConfig.Keystore), PassphraseFile: first(k.passFile, fromConfig.PassphraseFile)}
	if src.Keystore == "" {
		return src, usagef("%s needs --keystore FILE (or %s)", cmd, envKeystore)
	}
	return src, nil
}

// walletNewCmd is "toll wallet new".
type walletNewCmd struct {
	keystoreFlags
	light bool
}

func (a *app) walletNewCommand() *cobra.Command {
	n := &walletNewCmd{keystoreFlags: keystoreFlags{app: a}}
	c := &cobra.Command{
		Use:   "new --keystore FILE [flags]",
		Short: "create a fresh key in an encrypted keystore file, and print its address",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return n.run(c.Context()) },
	}
	fs := newFlags(c)
	n.register(fs)
	fs.BoolVar(&n.light, "light", false, "use light scrypt parameters (fast, weaker; for tests and demos only)")
	return c
}

func (n *walletNewCmd) run(ctx context.Context) error {
	src, err := n.source("toll wallet new")
	if err != nil {
		return err
	}
	src.Prompt = passphrasePrompt(ctx, n.stdin, n.stderr, osTerminal(), src.Keystore, true)
	warnExposed(src, n.warn)
	pass, err := keystore.Passphrase(src, n.env)
	if err != nil {
		return walletHint(err)
	}
	w, err := keystore.Create(src.Keystore, pass, n.light, wallet.Options{})
	if err != nil {
		return walletHint(err)
	}
	addr := w.Address().Hex()
	fmt.Fprintln(n.stdout, addr)
	fmt.Fprintf(n.stderr, "New key written to %s (encrypted). Fund %s with USDC on the network you will allow, then:\n  toll serve --keystore %s --network eip155:8453 SPEC...\n", src.Keystore, addr, src.Keystore)
	return nil
}

// walletAddressCmd is "toll wallet address".
type walletAddressCmd struct{ keystoreFlags }

func (a *app) walletAddressCommand() *cobra.Command {
	w := &walletAddressCmd{keystoreFlags{app: a}}
	c := &cobra.Command{
		Use:   "address [flags]",
		Short: "print the address that pays (fund it with USDC)",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return w.run(c.Context()) },
	}
	w.register(newFlags(c))
	return c
}

func (k *walletAddressCmd) run(ctx context.Context) error {
	src, err := k.source("toll wallet address")
	if err != nil {
		return err
	}
	src.Prompt = passphrasePrompt(ctx, k.stdin, k.stderr, osTerminal(), src.Keystore, false)
	warnExposed(src, k.warn)
	w, err := keystore.Load(src, k.env, wallet.Options{})
	if err != nil {
		return walletHint(err)
	}
	_, err = fmt.Fprintln(k.stdout, w.Address().Hex())
	return err
}

// warn writes a warning for the person at the terminal on stderr.
func (a *app) warn(msg string) { fmt.Fprintln(a.stderr, "toll: warning:", msg) }

// warnExposed passes to warn one line for each key or passphrase file of src that users
// other than its owner may read or write, with the command that fixes it. It is a warning,
// not an error: the file may already have been copied, and refusing to start would not
// undo that, but the user should know.
func warnExposed(src keystore.Source, warn func(msg string)) {
	for _, e := range keystore.Exposures(src) {
		warn(fmt.Sprintf("%s %s can be read or written by users other than its owner (mode %04o); restrict it: chmod 600 %s",
			e.What, e.Path, e.Mode, shellQuote(e.Path)))
	}
}

// shellQuote writes s so that a POSIX shell reads it back as one word.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%,=", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// misplacedKey is the error for a flag, setting or variable that holds what looks like
// the private key itself where its name or path belongs. It never shows the value.
func misplacedKey(mk *keystore.MisplacedKeyError) error {
	switch mk.Field {
	case "RawKeyEnv":
		return usagef("the value given to --private-key-env looks like a private key itself; give the NAME of an environment variable that holds it (if you typed the key on a command line, it may now be in your shell's history)")
	case "Keystore":
		return usagef("the keystore (--keystore, wallet.keystore in toll.yaml, or $%s) looks like a private key itself; give the path of an encrypted keystore file (toll wallet new makes one)", envKeystore)
	case "PassphraseFile":
		return usagef("the value given to --passphrase-file (or wallet.passphrase_file in toll.yaml) looks like a private key itself; give the path of a file holding the keystore's passphrase")
	}
	return usagef("%v", mk)
}

// walletHint adds to an error of package wallet/keystore what to do about it with toll's
// flags and variables; the package itself names no flag.
func walletHint(err error) error {
	var (
		hint string
		mk   *keystore.MisplacedKeyError
	)
	if errors.As(err, &mk) {
		return misplacedKey(mk)
	}
	switch {
	case errors.Is(err, keystore.ErrNoKey):
		hint = "pass --keystore FILE with an encrypted keystore (toll wallet new makes one), or --private-key-env NAME with a raw hex key exported in $NAME"
	case errors.Is(err, keystore.ErrNoPassphrase):
		hint = "set " + envPassphrase + ", pass --passphrase-file FILE, or run in a terminal to be asked for it"
	case errors.Is(err, keystore.ErrWrongPassphrase):
		hint = "check the passphrase in " + envPassphrase + " or --passphrase-file"
	case errors.Is(err, keystore.ErrRawKeyNotAllowed):
		hint = "opt in with --private-key-env NAME, or better, pass --keystore FILE"
	case errors.Is(err, keystore.ErrInvalidKey):
		hint = "give the 64 hex digits of the secp256k1 private key (0x optional), as exported by a wallet"
	case errors.Is(err, keystore.ErrInvalidKeystore):
		hint = "--keystore takes a v3 keystore JSON file, as toll wallet new, geth account new and Foundry's cast wallet new write them"
	default:
		return err
	}
	return fmt.Errorf("%w; %s", err, hint)
}
