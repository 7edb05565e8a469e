package keystore

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/tollhq/toll/wallet"
)

// DefaultPassphraseEnv is the environment variable Load reads a keystore
// passphrase from when Source.PassphraseEnv is empty.
const DefaultPassphraseEnv = "TOLL_PASSPHRASE"

// Source says where Load finds the key. The zero value configures nothing
// (Load returns ErrNoKey).
type Source struct {
	// Keystore is the path of an encrypted go-ethereum v3 keystore file.
	// When set it is the key source; a raw key is not consulted.
	Keystore string
	// PassphraseEnv names the environment variable holding the keystore
	// passphrase. "" means DefaultPassphraseEnv ("TOLL_PASSPHRASE").
	PassphraseEnv string
	// PassphraseFile is the path of a file whose first line (without the
	// trailing newline or carriage return) is the passphrase. It wins over
	// the environment variable. "" means none.
	PassphraseFile string
	// RawKeyEnv names an environment variable holding a raw hex private key.
	// It is used only when AllowRawKey is true; set without it, Load returns
	// ErrRawKeyNotAllowed. "" means none.
	RawKeyEnv string
	// AllowRawKey is the user's explicit opt-in to an unencrypted key.
	AllowRawKey bool
	// Prompt asks the user for the keystore passphrase when neither
	// PassphraseFile nor the PassphraseEnv variable gives one. nil means no
	// prompt: Load returns ErrNoPassphrase.
	Prompt func() (string, error)
}

// check refuses a Source whose names and paths hold what looks like a private
// key, before any of them can reach an error message.
func (src Source) check() error {
	for _, f := range []struct{ name, value string }{
		{"Keystore", src.Keystore},
		{"PassphraseFile", src.PassphraseFile},
		{"PassphraseEnv", src.PassphraseEnv},
		{"RawKeyEnv", src.RawKeyEnv},
	} {
		if wallet.LooksLikeKey(f.value) {
			return &MisplacedKeyError{Field: f.name}
		}
	}
	return nil
}

// Load resolves src into a wallet. getenv reads the environment (nil means
// os.Getenv; tests pass a map lookup).
//
//   - Keystore set: Open it with the passphrase from PassphraseFile, else
//     from the PassphraseEnv variable, else from Prompt; none gives
//     ErrNoPassphrase. A wrong passphrase gives ErrWrongPassphrase, naming
//     where it came from.
//   - Otherwise RawKeyEnv set: without AllowRawKey, ErrRawKeyNotAllowed;
//     with it, the variable's value is parsed as wallet.FromHex does (an
//     empty variable gives ErrNoKey).
//   - Nothing set: ErrNoKey.
//
// A name or path of src that looks like a private key (wallet.LooksLikeKey)
// gives a *MisplacedKeyError before anything is read. Errors say what was
// wrong, name files and variables but no command-line flags, and never
// contain the key or the passphrase.
func Load(src Source, getenv func(string) string, opts wallet.Options) (*wallet.Wallet, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := src.check(); err != nil {
		return nil, fmt.Errorf("load wallet: %w", err)
	}
	switch {
	case src.Keystore != "":
		if src.AllowRawKey && src.RawKeyEnv != "" {
			return nil, fmt.Errorf("load wallet: both a keystore (%s) and a raw key ($%s) are configured; use one", src.Keystore, src.RawKeyEnv)
		}
		pass, from, err := passphrase(src, getenv)
		if err != nil {
			return nil, fmt.Errorf("load wallet: %w", err)
		}
		w, err := Open(src.Keystore, pass, opts)
		if errors.Is(err, ErrWrongPassphrase) {
			return nil, fmt.Errorf("load wallet: %w (passphrase taken from %s)", err, from)
		}
		if err != nil {
			return nil, fmt.Errorf("load wallet: %w", err)
		}
		return w, nil

	case src.RawKeyEnv != "":
		if !src.AllowRawKey {
			return nil, fmt.Errorf("load wallet: %w: $%s is configured as a raw private key, which is used only with the user's explicit opt-in; prefer an encrypted keystore",
				ErrRawKeyNotAllowed, src.RawKeyEnv)
		}
		v := getenv(src.RawKeyEnv)
		if v == "" {
			return nil, fmt.Errorf("load wallet: %w: $%s is empty or unset; export the hex key in it or use an encrypted keystore", ErrNoKey, src.RawKeyEnv)
		}
		w, err := wallet.FromHex(v, opts)
		if err != nil {
			return nil, fmt.Errorf("load wallet: $%s: %w", src.RawKeyEnv, err)
		}
		return w, nil

	case src.AllowRawKey:
		return nil, fmt.Errorf("load wallet: %w: a raw key is allowed but no environment variable is named for it", ErrNoKey)
	}
	return nil, fmt.Errorf("load wallet: %w: neither an encrypted keystore file nor a raw key in an environment variable is configured", ErrNoKey)
}

// passphrase returns the keystore passphrase and a description of where it
// came from (for error messages; never the value).
func passphrase(src Source, getenv func(string) string) (pass, from string, err error) {
	if src.PassphraseFile != "" {
		data, err := readLimited(src.PassphraseFile, maxPassphraseSize)
		if err != nil {
			return "", "", fmt.Errorf("read passphrase file: %w", err)
		}
		if len(data) > maxPassphraseSize {
			return "", "", fmt.Errorf("passphrase file %s is larger than %d bytes; is it the right file?", src.PassphraseFile, maxPassphraseSize)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return "", "", fmt.Errorf("%w: the first line of passphrase file %s is empty; write the passphrase there", ErrNoPassphrase, src.PassphraseFile)
		}
		return line, "file " + src.PassphraseFile, nil
	}
	env := src.PassphraseEnv
	if env == "" {
		env = DefaultPassphraseEnv
	}
	if v := getenv(env); v != "" {
		return v, "$" + env, nil
	}
	if src.Prompt != nil {
		v, err := src.Prompt()
		if err != nil {
			return "", "", fmt.Errorf("read passphrase at the prompt: %w", err)
		}
		if v == "" {
			return "", "", fmt.Errorf("%w: the passphrase given at the prompt is empty", ErrNoPassphrase)
		}
		return v, "the prompt", nil
	}
	what := "the keystore"
	if src.Keystore != "" {
		what = "keystore " + src.Keystore
	}
	return "", "", fmt.Errorf("%w: %s needs a passphrase: $%s is empty or unset and no passphrase file is configured", ErrNoPassphrase, what, env)
}

// Passphrase resolves the passphrase a Source names (its PassphraseFile,
// else its PassphraseEnv variable, else its Prompt), for a front end that
// creates a keystore. getenv nil means os.Getenv. Errors name where the
// passphrase was looked for, never its value; a name or path that looks like
// a private key gives a *MisplacedKeyError, as Load does.
func Passphrase(src Source, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := src.check(); err != nil {
		return "", err
	}
	pass, _, err := passphrase(src, getenv)
	return pass, err
}
