package wallet

import "errors"

// Sentinel errors. Functions wrap them with what was wrong; test for them
// with errors.Is. (Errors about finding and unlocking a key belong to
// package wallet/keystore.)
var (
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
)
