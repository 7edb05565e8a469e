package keystore

import "errors"

// Sentinel errors. Functions wrap them with what was wrong; test for them
// with errors.Is. They never name a command-line flag: a front end maps them
// to its own hints.
var (
	// ErrWrongPassphrase means a keystore's MAC did not match: the passphrase
	// is wrong (or the file was altered). Open and Load wrap it.
	ErrWrongPassphrase = errors.New("wrong passphrase")

	// ErrNoPassphrase means a keystore needs a passphrase and none was found
	// (Load, Passphrase), or Create was given an empty one. A terminal front
	// end may prompt.
	ErrNoPassphrase = errors.New("no passphrase")

	// ErrInvalidKeystore means a file is not a v3 keystore this package
	// reads: not JSON of that shape, an unsupported version, cipher or key
	// derivation, a malformed field, key-derivation parameters above the
	// limits, a file larger than 64 KiB, or an address field that does not
	// match the key.
	ErrInvalidKeystore = errors.New("invalid keystore")

	// ErrNoKey means Load was given no key source at all (no keystore and no
	// raw key), or a raw-key variable that is empty.
	ErrNoKey = errors.New("no key configured")

	// ErrInvalidKey means a raw private key given to ImportHex is not one: not
	// 64 hex digits, or not a valid secp256k1 scalar.
	ErrInvalidKey = errors.New("invalid private key")

	// ErrRawKeyNotAllowed means a raw hex key was configured without the
	// user's explicit opt-in (Source.AllowRawKey).
	ErrRawKeyNotAllowed = errors.New("raw key not allowed")

	// ErrMisplacedKey means a setting that should hold a path or a variable's
	// name holds what looks like a private key. Every *MisplacedKeyError
	// matches it.
	ErrMisplacedKey = errors.New("a private key where a name or a path belongs")
)

// MisplacedKeyError is a Source setting that should hold a file's path or an
// environment variable's name but holds what looks like a private key
// (wallet.LooksLikeKey): the user may have pasted the key where its name
// belonged. Its text names the setting, never the value; errors.Is(err,
// ErrMisplacedKey) holds.
type MisplacedKeyError struct {
	// Field is the Source field: "Keystore", "PassphraseFile",
	// "PassphraseEnv" or "RawKeyEnv"; or "From", the file Import reads.
	Field string
}

func (e *MisplacedKeyError) Error() string {
	want := map[string]string{
		"Keystore":       "the keystore path looks like a private key itself; give the path of an encrypted keystore file",
		"PassphraseFile": "the passphrase file path looks like a private key itself; give the path of a file holding the passphrase",
		"PassphraseEnv":  "the passphrase variable's name looks like a private key itself; give the name of the variable holding the passphrase",
		"RawKeyEnv":      "the raw key's variable name looks like a private key itself; give the name of an environment variable that holds the key",
		"From":           "the path of the keystore to import looks like a private key itself; give the path of a keystore file",
	}[e.Field]
	if want == "" {
		return "a setting looks like a private key itself; give a name or a path, never the key"
	}
	return want
}

// Is makes errors.Is(err, ErrMisplacedKey) true for every *MisplacedKeyError.
func (e *MisplacedKeyError) Is(target error) bool { return target == ErrMisplacedKey }
