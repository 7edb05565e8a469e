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

	// ErrRawKeyNotAllowed means a raw hex key was configured without the
	// user's explicit opt-in (Source.AllowRawKey).
	ErrRawKeyNotAllowed = errors.New("raw key not allowed")
)
