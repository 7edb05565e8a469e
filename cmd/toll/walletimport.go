package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// envFromPassphrase is the passphrase of the keystore toll wallet import --from-keystore
// reads, when no --from-passphrase-file is given.
const envFromPassphrase = "TOLL_FROM_PASSPHRASE"

// maxKeyInput bounds what toll wallet import reads from a pipe: a key is 66 characters.
const maxKeyInput = 4 << 10

// walletImportCmd is "toll wallet import".
type walletImportCmd struct {
	keystoreFlags
	from     string
	fromPass string
	light    bool
}

func (a *app) walletImportCommand() *cobra.Command {
	n := &walletImportCmd{keystoreFlags: keystoreFlags{app: a}}
	c := &cobra.Command{
		Use:   "import --keystore FILE [--from-keystore FILE] [flags]",
		Short: "put an existing key into an encrypted keystore file, and print its address",
		Long: `Put an existing private key into a new encrypted keystore file (mode 0600), and print its address.

Without --from-keystore the key is read from stdin as hex (64 digits, 0x optional): typed at
the terminal without echo, or piped in (from a password manager, never from a command line
that lands in your shell's history). With --from-keystore FILE it is the key of another v3
keystore file, written by geth, clef, Foundry's cast wallet or toll; its passphrase comes
from --from-passphrase-file or $` + envFromPassphrase + `, else it is asked at the terminal.
The new keystore's passphrase comes from --passphrase-file or $` + envPassphrase + `, else it is
asked at the terminal. The key is never printed.`,
		Example: `  toll wallet import --keystore ~/.config/toll/key.json            # type the key
  pass show base/payer | toll wallet import --keystore key.json      # pipe it
  toll wallet import --keystore key.json --from-keystore ~/.foundry/keystores/payer`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return n.run(c.Context()) },
	}
	fs := newFlags(c)
	n.register(fs)
	fs.StringVar(&n.from, "from-keystore", "", "import the key of this v3 keystore file (go-ethereum, Foundry) instead of reading a raw key from stdin")
	fs.StringVar(&n.fromPass, "from-passphrase-file", "", "file holding the passphrase of --from-keystore (default: the $"+envFromPassphrase+" variable, else asked)")
	fs.BoolVar(&n.light, "light", false, "use light scrypt parameters (fast, weaker; for tests and demos only)")
	return c
}

func (n *walletImportCmd) run(ctx context.Context) error {
	src, err := n.source("toll wallet import")
	if err != nil {
		return err
	}
	if _, err := os.Lstat(src.Keystore); err == nil {
		return fmt.Errorf("keystore %s already exists: %w; a keystore is never overwritten, choose another --keystore", src.Keystore, fs.ErrExist)
	}
	var w *wallet.Wallet
	if n.from != "" {
		w, err = n.importKeystore(ctx, src)
	} else {
		w, err = n.importRaw(ctx, src)
	}
	if err != nil {
		return walletHint(err)
	}
	addr := w.Address().Hex()
	fmt.Fprintln(n.stdout, addr)
	fmt.Fprintf(n.stderr, "Key of %s written to %s (encrypted). Fund it with USDC on the network you will allow, then:\n  toll serve --keystore %s --network eip155:8453 SPEC...\n",
		addr, src.Keystore, shellQuote(src.Keystore))
	return nil
}

// importRaw reads a hex key from stdin and writes it to src.Keystore.
func (n *walletImportCmd) importRaw(ctx context.Context, src keystore.Source) (*wallet.Wallet, error) {
	key, err := readKey(ctx, n.stdin, n.stderr, osTerminal())
	defer clear(key)
	if err != nil {
		return nil, err
	}
	src.Prompt = passphrasePrompt(ctx, n.stdin, n.stderr, osTerminal(), src.Keystore, true)
	warnExposed(src, n.warn)
	pass, err := keystore.Passphrase(src, n.env)
	if err != nil {
		return nil, err
	}
	return keystore.ImportHex(src.Keystore, key, pass, n.light, wallet.Options{})
}

// importKeystore re-encrypts the key of --from-keystore into src.Keystore.
func (n *walletImportCmd) importKeystore(ctx context.Context, src keystore.Source) (*wallet.Wallet, error) {
	from := keystore.Source{Keystore: n.from, PassphraseFile: n.fromPass, PassphraseEnv: envFromPassphrase,
		Prompt: passphrasePrompt(ctx, n.stdin, n.stderr, osTerminal(), n.from, false)}
	warnExposed(from, n.warn)
	fromPass, err := keystore.Passphrase(from, n.env)
	if err != nil {
		return nil, fmt.Errorf("passphrase of the keystore to import, %s: %w; pass --from-passphrase-file FILE, set %s, or run in a terminal to be asked",
			n.from, err, envFromPassphrase)
	}
	src.Prompt = passphrasePrompt(ctx, n.stdin, n.stderr, osTerminal(), src.Keystore, true)
	pass, err := keystore.Passphrase(src, n.env)
	if err != nil {
		return nil, err
	}
	return keystore.Import(src.Keystore, n.from, fromPass, pass, n.light, wallet.Options{})
}

// readKey reads a hex private key from stdin: at a terminal after a prompt on stderr,
// without echo; from a pipe, its first line. The caller clears what it returns.
func readKey(ctx context.Context, stdin io.Reader, stderr io.Writer, t terminal) ([]byte, error) {
	if f, ok := stdin.(interface{ Fd() uintptr }); ok && t.isTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Private key (64 hex digits; not shown as you type or paste): ")
		b, err := t.readPassword(ctx, int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return b, fmt.Errorf("read the private key at the terminal: %w", err)
		}
		return b, checkKeyInput(b)
	}
	b, err := io.ReadAll(io.LimitReader(stdin, maxKeyInput+1))
	if err != nil {
		return b, fmt.Errorf("read the private key from stdin: %w", err)
	}
	if len(b) > maxKeyInput {
		return b, usagef("stdin holds more than %d bytes: want only the hex private key", maxKeyInput)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	clear(b[len(line):])
	return line, checkKeyInput(line)
}

func checkKeyInput(b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return usagef("no private key on stdin: type it at the terminal, pipe it in (e.g. from a password manager), or pass --from-keystore FILE")
	}
	return nil
}
