package wallet

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

// Options configures a Wallet. The zero value is ready for production use.
type Options struct {
	// Now is the clock for authorization windows. nil means time.Now.
	Now func() time.Time
	// Rand is the source of authorization nonces (never of keys, salts or
	// IVs, which always come from crypto/rand). nil means crypto/rand.Reader.
	// Reads are serialised, so a reader that is not safe for concurrent use
	// is fine.
	Rand io.Reader
}

// Wallet holds one secp256k1 private key and signs EIP-3009 authorizations
// with it. It is safe for concurrent use.
//
// The key sits behind an unexported pointer and every formatting path
// (String, GoString, Format, MarshalJSON, LogValue) prints the address only.
type Wallet struct {
	key  *ecdsa.PrivateKey // never formatted; a pointer, so reflection-based printing of an enclosing struct shows an address
	addr Address
	now  func() time.Time

	mu   sync.Mutex // guards rand
	rand io.Reader
}

func newWallet(key *ecdsa.PrivateKey, opts Options) *Wallet {
	w := &Wallet{
		key:  key,
		addr: Address(crypto.PubkeyToAddress(key.PublicKey)),
		now:  opts.Now,
		rand: opts.Rand,
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.rand == nil {
		w.rand = rand.Reader
	}
	return w
}

// Generate returns a wallet with a fresh random key from crypto/rand
// (Options.Rand is not used for keys). The key exists only in memory; to
// keep one, create it in a keystore file (package wallet/keystore).
func Generate(opts Options) (*Wallet, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return newWallet(key, opts), nil
}

// FromHex returns a wallet for a raw private key written as 64 hex digits,
// with or without a 0x prefix; surrounding white space is ignored. Errors
// never contain any part of the key.
func FromHex(hexKey string, opts Options) (*Wallet, error) {
	s := strings.TrimSpace(hexKey)
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if len(s) != 64 {
		return nil, fmt.Errorf("parse private key: got %d hex digits, want 64 (optionally prefixed with 0x)", len(s))
	}
	b := make([]byte, 32)
	defer clear(b)
	for i := range b {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("parse private key: not hexadecimal, want 64 hex digits (optionally prefixed with 0x)")
		}
		b[i] = hi<<4 | lo
	}
	return fromBytes(b, opts)
}

// FromKey returns a wallet for a copy of key, a secp256k1 private key (on
// go-ethereum's crypto.S256 curve) with a scalar in [1, n-1]; its public half
// is recomputed, not trusted. The caller keeps key and may clear it. This is
// how package wallet/keystore hands over a decrypted or freshly generated
// key; there is no way back from a Wallet to its key. Errors never contain
// any part of the key.
func FromKey(key *ecdsa.PrivateKey, opts Options) (*Wallet, error) {
	switch {
	case key == nil || key.D == nil:
		return nil, errors.New("parse private key: no key")
	case key.Curve != crypto.S256():
		return nil, errors.New("parse private key: not a secp256k1 key")
	case key.D.Sign() <= 0 || key.D.BitLen() > 256:
		return nil, fmt.Errorf("parse private key: not a valid secp256k1 private key (zero, or not below the curve order)")
	}
	b := key.D.FillBytes(make([]byte, 32))
	defer clear(b)
	return fromBytes(b, opts)
}

// fromBytes turns a 32-byte scalar into a wallet. The caller clears b.
func fromBytes(b []byte, opts Options) (*Wallet, error) {
	key, err := crypto.ToECDSA(b)
	if err != nil {
		// go-ethereum's messages hold no key material, but keep ours fixed.
		return nil, fmt.Errorf("parse private key: not a valid secp256k1 private key (zero, or not below the curve order)")
	}
	return newWallet(key, opts), nil
}

// Address returns the wallet's address.
func (w *Wallet) Address() Address { return w.addr }

// String returns "wallet 0x…" with the checksummed address.
func (w *Wallet) String() string {
	if w == nil {
		return "wallet <nil>"
	}
	return "wallet " + w.addr.Hex()
}

// GoString returns the same text as String, so %#v shows no key.
func (w *Wallet) GoString() string { return w.String() }

// Format implements fmt.Formatter: every verb (%v, %+v, %#v, %s, %d, %x, ...)
// prints String, so no verb falls through to printing the struct.
func (w *Wallet) Format(f fmt.State, verb rune) { io.WriteString(f, w.String()) }

// MarshalJSON returns {"address":"0x…"}.
func (w *Wallet) MarshalJSON() ([]byte, error) {
	if w == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Address Address `json:"address"`
	}{w.addr})
}

// LogValue implements slog.LogValuer: logs carry the address only.
func (w *Wallet) LogValue() slog.Value {
	if w == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("address", w.addr.Hex()))
}

// validAfterSlack is how far validAfter is set before now, to absorb clock
// skew between this machine, the facilitator and the chain (x402 clients
// use the same 600 s).
const validAfterSlack = 600

// NewAuthorization returns an authorization from this wallet to to for
// value: Nonce is 32 bytes read from Options.Rand, ValidAfter is now-600 s
// (never below 0) and ValidBefore is now+validFor, validFor rounded up to a
// whole second. validFor must be > 0, value non-nil and non-negative, to
// non-zero. Value is copied, so the caller may reuse its big.Int.
func (w *Wallet) NewAuthorization(to Address, value *big.Int, validFor time.Duration) (Authorization, error) {
	switch {
	case validFor <= 0:
		return Authorization{}, fmt.Errorf("new authorization: %w: validity %v is not positive", ErrInvalidAuthorization, validFor)
	case value == nil:
		return Authorization{}, fmt.Errorf("new authorization: %w: value is missing", ErrInvalidAuthorization)
	case value.Sign() < 0:
		return Authorization{}, fmt.Errorf("new authorization: %w: value is negative", ErrInvalidAuthorization)
	case to.IsZero():
		return Authorization{}, fmt.Errorf("new authorization: %w: payee (to) is the zero address", ErrInvalidAuthorization)
	}
	a := Authorization{From: w.addr, To: to, Value: new(big.Int).Set(value)}
	w.mu.Lock()
	_, err := io.ReadFull(w.rand, a.Nonce[:])
	w.mu.Unlock()
	if err != nil {
		return Authorization{}, fmt.Errorf("new authorization: read nonce: %w", err)
	}
	clock := w.now()
	now := clock.Unix()
	secs := int64(validFor / time.Second)
	if validFor%time.Second != 0 {
		secs++ // round up; adding first could overflow a huge validFor
	}
	a.ValidAfter = big.NewInt(max(now-validAfterSlack, 0))
	a.ValidBefore = new(big.Int).Add(big.NewInt(now), big.NewInt(secs))
	if a.ValidBefore.Cmp(a.ValidAfter) <= 0 {
		// Only a clock set before 1970 gets here.
		return Authorization{}, fmt.Errorf("new authorization: %w: clock reads %s, so the window ends at %s", ErrInvalidAuthorization, clock.UTC().Format(time.RFC3339), a.ValidBefore)
	}
	return a, nil
}

// Sign signs the EIP-712 digest of a under d and returns r ‖ s ‖ v, 65
// bytes with v 27 or 28 and a low s (RFC 6979, deterministic). It refuses,
// signing nothing, when a.From is not this wallet (ErrWrongSigner) or when
// Validate fails (ErrInvalidAuthorization), and when ctx is already done.
func (w *Wallet) Sign(ctx context.Context, d Domain, a Authorization) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if a.From != w.addr {
		return nil, fmt.Errorf("sign: %w: from is %s, this wallet is %s", ErrWrongSigner, a.From.Hex(), w.addr.Hex())
	}
	if err := Validate(d, a); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	digest, err := Digest(d, a)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	sig, err := crypto.Sign(digest[:], w.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	sig[64] += 27
	return sig, nil
}
