package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tollhq/toll/wallet"
)

const walletUsage = `Usage:
  toll wallet new     --keystore FILE [--passphrase-file F]   create a fresh key in an encrypted keystore file
  toll wallet address [--keystore FILE] [--passphrase-file F]  print the address that pays (fund it with USDC)

The passphrase comes from --passphrase-file or the TOLL_PASSPHRASE variable, never from a flag.
`

// runWallet is "toll wallet ...".
func runWallet(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, walletUsage)
		return usagef("toll wallet needs a subcommand: new or address")
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("toll wallet "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	keystore := fs.String("keystore", "", "keystore file (default $TOLL_KEYSTORE)")
	passFile := fs.String("passphrase-file", "", "file holding the passphrase (default: the $TOLL_PASSPHRASE variable)")
	light := fs.Bool("light", false, "new: use light scrypt parameters (fast, weaker; for tests and demos only)")
	if sub != "new" && sub != "address" {
		fmt.Fprint(stderr, walletUsage)
		return usagef("unknown wallet subcommand %q", sub)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("toll wallet %s takes no arguments (got %q)", sub, fs.Arg(0))
	}
	path := *keystore
	if path == "" {
		path = getenv("TOLL_KEYSTORE")
	}
	if path == "" {
		return usagef("toll wallet %s needs --keystore FILE (or TOLL_KEYSTORE)", sub)
	}
	src := wallet.Source{Keystore: path, PassphraseFile: *passFile}
	if sub == "address" {
		w, err := wallet.Load(src, getenv, wallet.Options{})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, w.Address().Hex())
		return nil
	}
	pass, err := wallet.Passphrase(src, getenv)
	if err != nil {
		return err
	}
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		return err
	}
	if err := w.WriteKeystore(path, pass, *light); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", w.Address().Hex())
	fmt.Fprintf(stderr, "New key written to %s (encrypted). Fund %s with USDC on the network you will allow, then:\n  toll serve --keystore %s --network eip155:8453 SPEC...\n", path, w.Address().Hex(), path)
	return nil
}
