package keystore

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollhq/toll/wallet"
)

// ImportHex writes the raw private key hexKey (64 hex digits, optionally
// prefixed with 0x, surrounding white space ignored) into a new keystore file
// at path, encrypted with passphrase, as Create does with a fresh key (light,
// the empty passphrase and an existing file likewise). hexKey is the caller's
// to clear. Errors never contain the key.
func ImportHex(path string, hexKey []byte, passphrase string, light bool, opts wallet.Options) (*wallet.Wallet, error) {
	if wallet.LooksLikeKey(path) {
		return nil, fmt.Errorf("import key: %w", &MisplacedKeyError{Field: "Keystore"})
	}
	key, err := parseHexKey(hexKey)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	defer clear(key.D.Bits())
	return importKey(path, key, passphrase, light, opts)
}

// parseHexKey reads a raw secp256k1 private key written in hex.
func parseHexKey(hexKey []byte) (*ecdsa.PrivateKey, error) {
	s := bytes.TrimSpace(hexKey)
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if len(s) != 64 {
		return nil, fmt.Errorf("%w: got %d characters, want 64 hex digits (optionally prefixed with 0x)", ErrInvalidKey, len(s))
	}
	b := make([]byte, 32)
	defer clear(b)
	if _, err := hex.Decode(b, s); err != nil {
		return nil, fmt.Errorf("%w: the key is not hex: want 64 hex digits (optionally prefixed with 0x)", ErrInvalidKey)
	}
	key, err := crypto.ToECDSA(b)
	if err != nil {
		// go-ethereum's message says why (zero, or not below the curve order),
		// without the value.
		return nil, fmt.Errorf("%w: not a valid secp256k1 private key (%v)", ErrInvalidKey, err)
	}
	return key, nil
}

// Import re-encrypts the key of another v3 keystore file, from (written by
// go-ethereum's geth account new or clef, Foundry's cast wallet new or
// import, or toll), unlocked with fromPassphrase, into a new keystore file at
// path encrypted with passphrase, as Create writes one. from is only read.
// A wrong fromPassphrase gives an error wrapping ErrWrongPassphrase, a file
// this package cannot read one wrapping ErrInvalidKeystore. The format is the
// Web3 Secret Storage Definition
// (https://ethereum.org/developers/docs/data-structures-and-encoding/web3-secret-storage/).
func Import(path, from, fromPassphrase, passphrase string, light bool, opts wallet.Options) (*wallet.Wallet, error) {
	for field, v := range map[string]string{"Keystore": path, "From": from} {
		if wallet.LooksLikeKey(v) {
			return nil, fmt.Errorf("import keystore: %w", &MisplacedKeyError{Field: field})
		}
	}
	if passphrase == "" {
		return nil, fmt.Errorf("import keystore into %s: %w: the passphrase is empty; choose one", path, ErrNoPassphrase)
	}
	data, err := readLimited(from, maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("import keystore: %w", err)
	}
	key, err := decryptKey(data, fromPassphrase)
	if err != nil {
		return nil, fmt.Errorf("import keystore %s: %w", from, err)
	}
	defer clear(key.D.Bits())
	return importKey(path, key, passphrase, light, opts)
}

func importKey(path string, key *ecdsa.PrivateKey, passphrase string, light bool, opts wallet.Options) (*wallet.Wallet, error) {
	if err := write(path, key, passphrase, light); err != nil {
		return nil, err
	}
	return wallet.FromKey(key, opts)
}
