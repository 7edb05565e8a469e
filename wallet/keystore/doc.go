// Package keystore keeps toll's signing key in an encrypted go-ethereum v3
// keystore file (Web3 Secret Storage,
// https://ethereum.org/developers/docs/data-structures-and-encoding/web3-secret-storage)
// and finds the key a user configured: Open reads a file, Create writes a
// new one around a fresh key, ImportHex around a raw hex key, Import around
// the key of another tool's v3 file (geth, clef, Foundry's cast wallet), and
// Load resolves a Source (a keystore with
// its passphrase from a file or the environment, or a raw hex key in an
// environment variable when the user opts in) into a *wallet.Wallet.
//
// Encryption and decryption are go-ethereum's accounts/keystore
// (EncryptKey, DecryptKey). That package imports core/types and with it
// the KZG libraries, which is why this is a package of its own: package
// wallet, which the payment flow imports, stays free of them, and only the
// command that unlocks a key links them.
//
// # Hostile files
//
// A keystore names its own key-derivation cost, so a file can ask for
// terabytes of scrypt memory or billions of rounds. Open bounds the file
// (64 KiB) and checks every field DecryptKey will read before handing it
// over: the scrypt memory 128·r·(n+p) at most 1 GiB and the work n·r·p at
// most 2^24 (4× the memory and 8× the work of go-ethereum's standard
// parameters), pbkdf2 at most 2^24 rounds of hmac-sha256, dklen 32 to 64,
// and the lengths of salt, iv, mac and ciphertext. DecryptKey is given the
// re-encoding of exactly what was checked. Files of the wrong shape give
// errors wrapping ErrInvalidKeystore that describe the field, never its
// secret contents.
//
// # Invariants
//
//   - No error contains the key, any part of it, or a passphrase, and no
//     error names a command-line flag: callers phrase the hints. A name or
//     path that looks like a private key (wallet.LooksLikeKey) is refused
//     with a *MisplacedKeyError before it is used, never echoed.
//   - The package prints nothing: what a front end should warn about (a key
//     or passphrase file others may read) is returned by Exposures.
//   - A wrong passphrase is ErrWrongPassphrase, never a format error.
//   - Create, ImportHex and Import never overwrite a file: it writes the encrypted key to a
//     temporary file (mode 0600) in the same directory, syncs it, links it
//     into place only if the name is still free, and syncs the directory.
//   - Keys, salts and IVs come from crypto/rand; key ids from
//     github.com/google/uuid.
//
// # Example
//
//	src := keystore.Source{Keystore: path, Prompt: askAtTheTerminal} // Prompt nil: no prompt
//	w, err := keystore.Load(src, os.Getenv, wallet.Options{})
//	if errors.Is(err, keystore.ErrNoPassphrase) { ... say where to put one ... }
//	for _, e := range keystore.Exposures(src) { ... warn: chmod 600 e.Path ... }
package keystore
