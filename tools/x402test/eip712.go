package x402test

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/tollhq/toll/tools/x402"
)

// The EIP-712 type hashes of the domain (https://eips.ethereum.org/EIPS/eip-712) and of
// EIP-3009's TransferWithAuthorization (https://eips.ethereum.org/EIPS/eip-3009). The facilitator hashes by hand, on purpose independent of the apitypes
// encoder that the tests use to sign.
var (
	domainTypehash   = common.HexToHash("0x8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f")
	transferTypehash = common.HexToHash("0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267")
)

// secp256k1HalfN is the largest canonical s value (EIP-2).
var secp256k1HalfN, _ = new(big.Int).SetString("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", 16)

var (
	addressRE = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
	nonceRE   = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)
	uintRE    = regexp.MustCompile(`^[0-9]{1,78}$`)
)

// authorization is a parsed x402.Authorization.
type authorization struct {
	from, to                       common.Address
	value, validAfter, validBefore *big.Int
	nonce                          [32]byte
}

// parseAuthorization checks the formats of the exact scheme's EIP-3009 payload
// (https://github.com/x402-foundation/x402/blob/main/specs/schemes/exact/scheme_exact_evm.md) and parses the fields.
func parseAuthorization(a x402.Authorization) (authorization, error) {
	var p authorization
	var err error
	if p.from, err = parseAddress(a.From); err != nil {
		return p, fmt.Errorf("from: %w", err)
	}
	if p.to, err = parseAddress(a.To); err != nil {
		return p, fmt.Errorf("to: %w", err)
	}
	if p.value, err = parseUint256(a.Value); err != nil {
		return p, fmt.Errorf("value: %w", err)
	}
	if p.validAfter, err = parseUint256(a.ValidAfter); err != nil {
		return p, fmt.Errorf("validAfter: %w", err)
	}
	if p.validBefore, err = parseUint256(a.ValidBefore); err != nil {
		return p, fmt.Errorf("validBefore: %w", err)
	}
	if p.nonce, err = parseNonce(a.Nonce); err != nil {
		return p, fmt.Errorf("nonce: %w", err)
	}
	return p, nil
}

func parseAddress(s string) (common.Address, error) {
	if !addressRE.MatchString(s) {
		return common.Address{}, fmt.Errorf("%q is not a 0x-prefixed 20-byte hex address", s)
	}
	return common.HexToAddress(s), nil
}

func parseNonce(s string) ([32]byte, error) {
	if !nonceRE.MatchString(s) {
		return [32]byte{}, fmt.Errorf("%q is not 0x followed by 64 hex digits", s)
	}
	return common.HexToHash(s), nil
}

var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

func parseUint256(s string) (*big.Int, error) {
	if !uintRE.MatchString(s) {
		return nil, fmt.Errorf("%q is not a non-negative decimal integer", s)
	}
	n, _ := new(big.Int).SetString(s, 10)
	if n.Cmp(maxUint256) > 0 {
		return nil, fmt.Errorf("%q is larger than a uint256", s)
	}
	return n, nil
}

// parseSignature decodes a 0x-hex signature.
func parseSignature(s string) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") || len(s) < 4 {
		return nil, fmt.Errorf("signature is not 0x-prefixed hex")
	}
	return hexutil.Decode(s)
}

// domainSeparator is keccak256(domTypehash ‖ keccak256(name) ‖ keccak256(version) ‖ chainId ‖ token).
func domainSeparator(name, version string, chainID *big.Int, token common.Address) common.Hash {
	return crypto.Keccak256Hash(
		domainTypehash[:],
		crypto.Keccak256([]byte(name)),
		crypto.Keccak256([]byte(version)),
		common.LeftPadBytes(chainID.Bytes(), 32),
		common.LeftPadBytes(token[:], 32),
	)
}

// digest is the EIP-712 hash a TransferWithAuthorization signature signs.
func (a authorization) digest(domain common.Hash) common.Hash {
	structHash := crypto.Keccak256Hash(
		transferTypehash[:],
		common.LeftPadBytes(a.from[:], 32),
		common.LeftPadBytes(a.to[:], 32),
		common.LeftPadBytes(a.value.Bytes(), 32),
		common.LeftPadBytes(a.validAfter.Bytes(), 32),
		common.LeftPadBytes(a.validBefore.Bytes(), 32),
		a.nonce[:],
	)
	return crypto.Keccak256Hash([]byte{0x19, 0x01}, domain[:], structHash[:])
}

// recoverSigner checks an r‖s‖v signature the way the token does (65 bytes, v 27 or 28,
// s in the lower half) and returns the address it recovers to.
func recoverSigner(digest common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != 65 {
		return common.Address{}, fmt.Errorf("signature is %d bytes, want 65", len(sig))
	}
	v := sig[64]
	if v != 27 && v != 28 {
		return common.Address{}, fmt.Errorf("signature v is %d, want 27 or 28", v)
	}
	if new(big.Int).SetBytes(sig[32:64]).Cmp(secp256k1HalfN) > 0 {
		return common.Address{}, fmt.Errorf("signature s is in the upper half")
	}
	rsv := append(append([]byte(nil), sig[:64]...), v-27)
	pub, err := crypto.SigToPub(digest[:], rsv)
	if err != nil {
		return common.Address{}, fmt.Errorf("recover signer: %w", err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}
