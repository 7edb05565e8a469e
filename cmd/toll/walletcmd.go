package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
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
	ksPath := fs.String("keystore", "", "keystore file (default $TOLL_KEYSTORE)")
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
	path := *ksPath
	if path == "" {
		path = getenv("TOLL_KEYSTORE")
	}
	if path == "" {
		return usagef("toll wallet %s needs --keystore FILE (or TOLL_KEYSTORE)", sub)
	}
	if sub == "address" {
		w, err := unlockWallet(path, *passFile, "", getenv)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, w.Address().Hex())
		return nil
	}
	pass, err := keystore.Passphrase(keystore.Source{Keystore: path, PassphraseFile: *passFile}, getenv)
	if err != nil {
		return walletHint(err)
	}
	w, err := keystore.Create(path, pass, *light, wallet.Options{})
	if err != nil {
		return walletHint(err)
	}
	fmt.Fprintf(stdout, "%s\n", w.Address().Hex())
	fmt.Fprintf(stderr, "New key written to %s (encrypted). Fund %s with USDC on the network you will allow, then:\n  toll serve --keystore %s --network eip155:8453 SPEC...\n", path, w.Address().Hex(), path)
	return nil
}

// unlockWallet loads the payer's key: from the keystore at path (else
// $TOLL_KEYSTORE) with the passphrase from passFile or $TOLL_PASSPHRASE, or,
// when keyEnv is set (--private-key-env, the explicit opt-in), from the raw
// hex key in that variable. Errors carry walletHint's advice.
func unlockWallet(path, passFile, keyEnv string, getenv env) (*wallet.Wallet, error) {
	src := keystore.Source{Keystore: path, PassphraseFile: passFile}
	if keyEnv != "" {
		src.RawKeyEnv, src.AllowRawKey = keyEnv, true
	} else if src.Keystore == "" {
		src.Keystore = getenv("TOLL_KEYSTORE")
	}
	w, err := keystore.Load(src, getenv, wallet.Options{})
	if err != nil {
		return nil, walletHint(err)
	}
	return w, nil
}

// walletHint adds to an error of package wallet/keystore what to do about it
// with toll's flags and variables; the package itself names no flag.
func walletHint(err error) error {
	var hint string
	switch {
	case errors.Is(err, keystore.ErrNoKey):
		hint = "pass --keystore FILE with an encrypted keystore (toll wallet new makes one), or --private-key-env NAME with a raw hex key exported in $NAME"
	case errors.Is(err, keystore.ErrNoPassphrase):
		hint = "set TOLL_PASSPHRASE or pass --passphrase-file FILE"
	case errors.Is(err, keystore.ErrWrongPassphrase):
		hint = "check the passphrase in TOLL_PASSPHRASE or --passphrase-file"
	case errors.Is(err, keystore.ErrRawKeyNotAllowed):
		hint = "opt in with --private-key-env NAME, or better, pass --keystore FILE"
	case errors.Is(err, keystore.ErrInvalidKeystore):
		hint = "--keystore takes a go-ethereum v3 keystore file (toll wallet new writes one)"
	default:
		return err
	}
	return fmt.Errorf("%w; %s", err, hint)
}
