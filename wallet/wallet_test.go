package wallet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

// TestKnownKeyVector checks the hardhat* vectors (see vectors_test.go): the
// Hardhat account #0 key signs the x402 spec's message byte for byte as
// go-ethereum's apitypes and viem do.
func TestKnownKeyVector(t *testing.T) {
	w, err := FromHex("0x"+hardhatKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Address().Hex(); got != hardhatAddr {
		t.Fatalf("Address() = %s, want %s", got, hardhatAddr)
	}
	d, a := sepoliaDomain(t), specAuthorization(t, hardhatAddr)
	sep, err := domainSeparator(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sep[:]); got != baseSepoliaSep {
		t.Errorf("domainSeparator = %s, want %s", got, baseSepoliaSep)
	}
	wantHashes(t, d, a, hardhatStructHash, hardhatDigest)
	sig, err := w.Sign(t.Context(), d, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sig); got != hardhatSignature {
		t.Errorf("Sign =\n %s, want\n %s", got, hardhatSignature)
	}
	if from, err := Recover(d, a, sig); err != nil || from != w.Address() {
		t.Errorf("Recover = %s, %v; want %s", from, err, w.Address())
	}
}

func TestFromHex(t *testing.T) {
	want := mustAddr(t, hardhatAddr)
	for _, in := range []string{
		hardhatKey,
		"0x" + hardhatKey,
		"0X" + strings.ToUpper(hardhatKey),
		"  0x" + hardhatKey + "\n",
	} {
		w, err := FromHex(in, Options{})
		if err != nil {
			t.Fatalf("FromHex(%d chars): %v", len(in), err)
		}
		if w.Address() != want {
			t.Errorf("FromHex(%d chars).Address() = %s, want %s", len(in), w.Address(), want)
		}
	}
	curveN := "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "got 0 hex digits"},
		{"short", hardhatKey[:63], "got 63 hex digits"},
		{"long", hardhatKey + "00", "got 66 hex digits"},
		{"odd with prefix", "0x" + hardhatKey[:63], "got 63 hex digits"},
		{"non-hex", hardhatKey[:63] + "g", "not hexadecimal"},
		{"non-hex first", "z" + hardhatKey[1:], "not hexadecimal"},
		{"double prefix", "0x0x" + hardhatKey[2:], "not hexadecimal"},
		{"zero", strings.Repeat("0", 64), "not a valid secp256k1 private key"},
		{"curve order", curveN, "not a valid secp256k1 private key"},
		{"all f", strings.Repeat("f", 64), "not a valid secp256k1 private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := FromHex(tt.in, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("FromHex error = %v, want one containing %q", err, tt.want)
			}
			if w != nil {
				t.Errorf("FromHex returned a wallet with an error")
			}
			assertErrNoSecret(t, err, curveN)
		})
	}
}

func TestGenerate(t *testing.T) {
	w1, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w1.Address().IsZero() || w1.Address() == w2.Address() {
		t.Fatalf("Generate gave %s and %s", w1.Address(), w2.Address())
	}
	// Options.Rand is for nonces only: an all-zero reader must not make
	// keys predictable.
	w3, err := Generate(Options{Rand: zeroReader{}})
	if err != nil {
		t.Fatal(err)
	}
	w4, err := Generate(Options{Rand: zeroReader{}})
	if err != nil {
		t.Fatal(err)
	}
	if w3.Address() == w4.Address() {
		t.Error("Generate used Options.Rand for the key")
	}
	// The generated key reloads to the same address.
	w5, err := FromHex(keyHex(w1), Options{})
	if err != nil || w5.Address() != w1.Address() {
		t.Errorf("FromHex(key of generated wallet) = %v, %v; want %s", w5, err, w1.Address())
	}
}

// TestFromKey checks that FromKey takes a copy of a secp256k1 key and
// refuses anything else.
func TestFromKey(t *testing.T) {
	key, err := crypto.HexToECDSA(hardhatKey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := FromKey(key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Address().Hex(); got != hardhatAddr {
		t.Fatalf("FromKey(Hardhat key).Address() = %s, want %s", got, hardhatAddr)
	}
	// The caller may clear its key; the wallet keeps signing as before.
	key.D.SetInt64(0)
	d, a := sepoliaDomain(t), specAuthorization(t, hardhatAddr)
	if sig, err := w.Sign(t.Context(), d, a); err != nil || hex.EncodeToString(sig) != hardhatSignature {
		t.Errorf("after the caller cleared its key, Sign = %x, %v; want the Hardhat signature", sig, err)
	}

	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n := crypto.S256().Params().N
	tests := []struct {
		name string
		key  *ecdsa.PrivateKey
		want string
	}{
		{"nil", nil, "no key"},
		{"no scalar", &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: crypto.S256()}}, "no key"},
		{"P-256", p256, "not a secp256k1 key"},
		{"zero", &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: crypto.S256()}, D: new(big.Int)}, "not a valid secp256k1 private key"},
		{"curve order", &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: crypto.S256()}, D: new(big.Int).Set(n)}, "not a valid secp256k1 private key"},
		{"wider than 256 bits", &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: crypto.S256()}, D: new(big.Int).Lsh(n, 1)}, "not a valid secp256k1 private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := FromKey(tt.key, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("FromKey error = %v, want one containing %q", err, tt.want)
			}
			if w != nil {
				t.Errorf("FromKey returned a wallet with an error")
			}
			assertErrNoSecret(t, err)
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestSignRecoverRoundTrip signs random messages with a random key and
// recovers the signer independently.
func TestSignRecoverRoundTrip(t *testing.T) {
	w, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := mrand.New(mrand.NewPCG(3, 4))
	halfN, _ := new(big.Int).SetString("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", 16)
	for i := range 50 {
		d, a := randAuthorization(r)
		a.From = w.Address()
		a.ValidBefore.Add(a.ValidBefore, a.ValidAfter).Add(a.ValidBefore, big.NewInt(1))
		if a.ValidBefore.BitLen() > 256 {
			a.ValidBefore.Rsh(a.ValidBefore, 1)
		}
		sig, err := w.Sign(t.Context(), d, a)
		if err != nil {
			t.Fatalf("case %d: Sign: %v", i, err)
		}
		if len(sig) != 65 || (sig[64] != 27 && sig[64] != 28) {
			t.Fatalf("case %d: signature %x: want 65 bytes with v 27/28", i, sig)
		}
		if s := new(big.Int).SetBytes(sig[32:64]); s.Cmp(halfN) > 0 {
			t.Fatalf("case %d: high s %x", i, s)
		}
		got, err := Recover(d, a, sig)
		if err != nil || got != w.Address() {
			t.Fatalf("case %d: Recover = %s, %v; want %s", i, got, err, w.Address())
		}
		again, err := w.Sign(t.Context(), d, a)
		if err != nil || !bytes.Equal(again, sig) {
			t.Fatalf("case %d: signing twice gave %x then %x (%v); want deterministic", i, sig, again, err)
		}
	}
}

func TestSignRefuses(t *testing.T) {
	w, err := FromHex(hardhatKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tooBig := new(big.Int).Lsh(big.NewInt(1), 256)
	tests := []struct {
		name   string
		mutate func(*Domain, *Authorization)
		want   error
		text   string
	}{
		{"wrong from", func(d *Domain, a *Authorization) { a.From = mustAddr(t, specFrom) }, ErrWrongSigner, specFrom},
		{"zero from", func(d *Domain, a *Authorization) { a.From = Address{} }, ErrWrongSigner, "0x0000000000000000000000000000000000000000"},
		{"zero to", func(d *Domain, a *Authorization) { a.To = Address{} }, ErrInvalidAuthorization, "payee (to) is the zero address"},
		{"zero token", func(d *Domain, a *Authorization) { d.VerifyingContract = Address{} }, ErrInvalidAuthorization, "verifyingContract"},
		{"nil value", func(d *Domain, a *Authorization) { a.Value = nil }, ErrInvalidAuthorization, "value is missing"},
		{"negative value", func(d *Domain, a *Authorization) { a.Value = big.NewInt(-10000) }, ErrInvalidAuthorization, "value is negative"},
		{"value 2^256", func(d *Domain, a *Authorization) { a.Value = tooBig }, ErrInvalidAuthorization, "256 bits"},
		{"nil validAfter", func(d *Domain, a *Authorization) { a.ValidAfter = nil }, ErrInvalidAuthorization, "validAfter is missing"},
		{"negative validAfter", func(d *Domain, a *Authorization) { a.ValidAfter = big.NewInt(-1) }, ErrInvalidAuthorization, "validAfter is negative"},
		{"nil validBefore", func(d *Domain, a *Authorization) { a.ValidBefore = nil }, ErrInvalidAuthorization, "validBefore is missing"},
		{"validBefore == validAfter", func(d *Domain, a *Authorization) { a.ValidBefore = new(big.Int).Set(a.ValidAfter) }, ErrInvalidAuthorization, "is not after validAfter"},
		{"validBefore < validAfter", func(d *Domain, a *Authorization) { a.ValidBefore = big.NewInt(5) }, ErrInvalidAuthorization, "is not after validAfter"},
		{"nil chain id", func(d *Domain, a *Authorization) { d.ChainID = nil }, ErrInvalidAuthorization, "chain id is missing"},
		{"zero chain id", func(d *Domain, a *Authorization) { d.ChainID = new(big.Int) }, ErrInvalidAuthorization, "chain id is 0"},
		{"negative chain id", func(d *Domain, a *Authorization) { d.ChainID = big.NewInt(-1) }, ErrInvalidAuthorization, "chain id is negative"},
		{"empty name", func(d *Domain, a *Authorization) { d.Name = "" }, ErrInvalidAuthorization, "extra.name"},
		{"empty version", func(d *Domain, a *Authorization) { d.Version = "" }, ErrInvalidAuthorization, "extra.version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, a := sepoliaDomain(t), specAuthorization(t, hardhatAddr)
			tt.mutate(&d, &a)
			sig, err := w.Sign(t.Context(), d, a)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Sign error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Sign error = %q, want it to contain %q", err, tt.text)
			}
			if sig != nil {
				t.Errorf("Sign returned %d bytes with an error; want nothing signed", len(sig))
			}
			if tt.want == ErrInvalidAuthorization && !errors.Is(Validate(d, a), ErrInvalidAuthorization) {
				t.Errorf("Validate accepted what Sign refused")
			}
			assertErrNoSecret(t, err)
		})
	}
	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		sig, err := w.Sign(ctx, sepoliaDomain(t), specAuthorization(t, hardhatAddr))
		if !errors.Is(err, context.Canceled) || sig != nil {
			t.Fatalf("Sign = %x, %v; want nil, context.Canceled", sig, err)
		}
	})
	t.Run("valid passes Validate", func(t *testing.T) {
		if err := Validate(sepoliaDomain(t), specAuthorization(t, hardhatAddr)); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		a := specAuthorization(t, hardhatAddr)
		a.Value = new(big.Int) // a zero amount is odd but well-formed
		if err := Validate(sepoliaDomain(t), a); err != nil {
			t.Fatalf("Validate(value 0): %v", err)
		}
	})
}

// seqReader returns 0, 1, 2, ... so successive nonces differ predictably.
type seqReader struct{ next byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

func TestNewAuthorization(t *testing.T) {
	now := time.Unix(1740672089, 700_000_000) // sub-second part is dropped
	to := mustAddr(t, specTo)
	seq := func(start byte) (n [32]byte) {
		for i := range n {
			n[i] = start + byte(i)
		}
		return n
	}
	tests := []struct {
		name                 string
		now                  time.Time
		validFor             time.Duration
		wantAfter, wantBefor int64
	}{
		{"65 s", now, 65 * time.Second, 1740672089 - 600, 1740672089 + 65},
		{"rounds up to a second", now, 1500 * time.Millisecond, 1740672089 - 600, 1740672089 + 2},
		{"one nanosecond", now, time.Nanosecond, 1740672089 - 600, 1740672089 + 1},
		{"clamps validAfter at 0", time.Unix(100, 0), time.Hour, 0, 3700},
		{"exactly 600 s after epoch", time.Unix(600, 0), time.Minute, 0, 660},
		{"before the epoch", time.Unix(-50, 0), time.Minute, 0, 10},
		{"longest duration", now, time.Duration(1<<63 - 1), 1740672089 - 600, 1740672089 + 9223372037},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nonces := &seqReader{next: 7}
			w, err := FromHex(hardhatKey, Options{Now: func() time.Time { return tt.now }, Rand: nonces})
			if err != nil {
				t.Fatal(err)
			}
			value := big.NewInt(10000)
			a, err := w.NewAuthorization(to, value, tt.validFor)
			if err != nil {
				t.Fatal(err)
			}
			value.SetInt64(1) // the authorization keeps its own copy
			want := Authorization{
				From: w.Address(), To: to, Value: big.NewInt(10000),
				ValidAfter: big.NewInt(tt.wantAfter), ValidBefore: big.NewInt(tt.wantBefor),
				Nonce: seq(7),
			}
			if a.From != want.From || a.To != want.To || a.Value.Cmp(want.Value) != 0 ||
				a.ValidAfter.Cmp(want.ValidAfter) != 0 || a.ValidBefore.Cmp(want.ValidBefore) != 0 || a.Nonce != want.Nonce {
				t.Errorf("NewAuthorization =\n %+v, want\n %+v", a, want)
			}
			b, err := w.NewAuthorization(to, value, tt.validFor)
			if err != nil {
				t.Fatal(err)
			}
			if b.Nonce != seq(7+32) {
				t.Errorf("second nonce = %x, want the next 32 bytes of the reader", b.Nonce)
			}
			if tt.wantBefor > tt.wantAfter {
				if _, err := w.Sign(t.Context(), sepoliaDomain(t), a); err != nil {
					t.Errorf("Sign(NewAuthorization(...)): %v", err)
				}
			}
		})
	}
}

func TestNewAuthorizationRefuses(t *testing.T) {
	w, err := FromHex(hardhatKey, Options{Rand: &seqReader{}})
	if err != nil {
		t.Fatal(err)
	}
	to := mustAddr(t, specTo)
	tests := []struct {
		name     string
		to       Address
		value    *big.Int
		validFor time.Duration
		want     string
	}{
		{"zero validity", to, big.NewInt(1), 0, "not positive"},
		{"negative validity", to, big.NewInt(1), -time.Second, "not positive"},
		{"nil value", to, nil, time.Minute, "value is missing"},
		{"negative value", to, big.NewInt(-1), time.Minute, "value is negative"},
		{"zero payee", Address{}, big.NewInt(1), time.Minute, "zero address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.NewAuthorization(tt.to, tt.value, tt.validFor)
			if !errors.Is(err, ErrInvalidAuthorization) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewAuthorization error = %v, want ErrInvalidAuthorization containing %q", err, tt.want)
			}
			assertErrNoSecret(t, err)
		})
	}
	t.Run("clock long before 1970", func(t *testing.T) {
		w, err := FromHex(hardhatKey, Options{Now: func() time.Time { return time.Unix(-1000, 0) }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.NewAuthorization(to, big.NewInt(1), time.Minute)
		if !errors.Is(err, ErrInvalidAuthorization) || !strings.Contains(err.Error(), "1969-12-31T23:43:20Z") {
			t.Fatalf("NewAuthorization error = %v, want ErrInvalidAuthorization naming the clock", err)
		}
	})
	t.Run("nonce reader fails", func(t *testing.T) {
		w, err := FromHex(hardhatKey, Options{Rand: io.LimitReader(&seqReader{}, 31)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.NewAuthorization(to, big.NewInt(1), time.Minute)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("NewAuthorization error = %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("default clock and reader", func(t *testing.T) {
		w, err := FromHex(hardhatKey, Options{})
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now().Unix()
		a, err := w.NewAuthorization(to, big.NewInt(1), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := w.NewAuthorization(to, big.NewInt(1), time.Minute)
		if a.Nonce == b.Nonce || a.Nonce == ([32]byte{}) {
			t.Errorf("nonces %x and %x: want fresh random nonces", a.Nonce, b.Nonce)
		}
		if va := a.ValidAfter.Int64(); va < before-600 || va > time.Now().Unix()-600 {
			t.Errorf("ValidAfter = %d, want about now-600 (%d)", va, before-600)
		}
	})
}

// countReader writes an incrementing counter at the start of each read.
type countReader struct{ n uint64 }

func (r *countReader) Read(p []byte) (int, error) {
	clear(p)
	r.n++
	binary.BigEndian.PutUint64(p, r.n)
	return len(p), nil
}

// TestConcurrentUse runs NewAuthorization and Sign from many goroutines on
// one wallet with a reader that is not itself safe for concurrent use (run
// with -race to make this meaningful).
func TestConcurrentUse(t *testing.T) {
	w, err := FromHex(hardhatKey, Options{Rand: &countReader{}})
	if err != nil {
		t.Fatal(err)
	}
	to := mustAddr(t, specTo)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		nonces = map[[32]byte]bool{}
	)
	for range 8 {
		wg.Go(func() {
			for range 10 {
				a, err := w.NewAuthorization(to, big.NewInt(1), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := w.Sign(t.Context(), sepoliaDomain(t), a); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				nonces[a.Nonce] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(nonces) != 80 {
		t.Errorf("got %d distinct nonces from 80 authorizations", len(nonces))
	}
}
