package wallet

import "errors"

// Sentinel errors. Functions wrap them with what was wrong and what to do
// next; test for them with errors.Is.
var (
	// ErrWrongPassphrase means a keystore's MAC did not match: the passphrase
	// is wrong (or the file was altered). OpenKeystore and Load wrap it.
	ErrWrongPassphrase = errors.New("wrong passphrase")

	// ErrNoKey means Load was given no key source at all (no keystore and no
	// raw key), or a source that turned out to be empty.
	ErrNoKey = errors.New("no key configured")

	// ErrRawKeyNotAllowed means a raw hex key was configured without the
	// user's explicit opt-in (Source.AllowRawKey).
	ErrRawKeyNotAllowed = errors.New("raw key not allowed")

	// ErrWrongSigner means Sign was asked to sign an authorization whose From
	// is not this wallet's address. Nothing is signed.
	ErrWrongSigner = errors.New("authorization is not from this wallet")

	// ErrInvalidAuthorization means an authorization or its domain failed
	// validation (nil or negative number, empty window, zero address, empty
	// domain name or version, ...). Nothing is signed.
	ErrInvalidAuthorization = errors.New("invalid authorization")

	// ErrInvalidSignature means Recover was given a signature that is not
	// 65 bytes of r ‖ s ‖ v with v 27 or 28 and a low s.
	ErrInvalidSignature = errors.New("invalid signature")

	// ErrNoPassphrase means Load found a keystore but no passphrase in the
	// passphrase file or the environment. A terminal front end may prompt.
	ErrNoPassphrase = errors.New("no passphrase")
)
