package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// env reads environment variables; main passes os.Getenv, tests their own.
type env func(string) string

// The environment variables toll reads. Each of the first three is the fallback of one
// setting: the flag wins, then toll.yaml, then the variable, then the built-in default.
const (
	envConfig   = "TOLL_CONFIG"   // --config
	envLedger   = "TOLL_LEDGER"   // --ledger, ledger: in toll.yaml
	envKeystore = "TOLL_KEYSTORE" // --keystore, wallet.keystore: in toll.yaml

	// envPassphrase is the keystore passphrase when no passphrase file is given. The
	// wallet package reads it (wallet.Passphrase), never a flag.
	envPassphrase = "TOLL_PASSPHRASE"

	// envCrashAt names a step of a paid call at which toll serve kills itself. Only a
	// binary built with -tags tollcrash reads it (crashhook.go), for the crash tests.
	envCrashAt = "TOLL_TEST_CRASH_AT"
)

// first returns the first value that is not empty.
func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// configPath is the toll.yaml to read: --config, else $TOLL_CONFIG, else none.
func (e env) configPath(flag string) string { return first(flag, e(envConfig)) }

// keystorePath is the keystore to unlock: --keystore, toll.yaml, $TOLL_KEYSTORE.
func (e env) keystorePath(flag, fromConfig string) string {
	return first(flag, fromConfig, e(envKeystore))
}

// ledgerPath is the ledger: --ledger, toll.yaml, $TOLL_LEDGER_URL, $TOLL_LEDGER, else
// toll/ledger.db in the user's config directory. Any of them may be a postgres:// URL
// (ledgerdb.go).
func (e env) ledgerPath(flag, fromConfig string) (string, error) {
	if p := first(flag, fromConfig, e(envLedgerURL), e(envLedger)); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no ledger path: %v; pass --ledger FILE or set %s", err, envLedger)
	}
	return filepath.Join(dir, "toll", "ledger.db"), nil
}
