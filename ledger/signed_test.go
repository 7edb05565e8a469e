package ledger

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/wallet"
)

// walletSigner signs heads with a real wallet, as serve does.
type walletSigner struct{ w *wallet.Wallet }

func (s walletSigner) SignerAddress() string             { return s.w.Address().Hex() }
func (s walletSigner) SignHead(t []byte) ([]byte, error) { return s.w.SignLedgerHead(t) }

func recoverHead(text, sig []byte) (string, error) {
	a, err := wallet.RecoverMessage(text, sig)
	return a.Hex(), err
}

func newWallet(t *testing.T) *wallet.Wallet {
	t.Helper()
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// signedLedger: 1 reserved a, 2 settled a, 3 signed head, 4 reserved b, 5 settled b,
// 6 signed head, 7 reserved c (open).
func signedLedger(t *testing.T, w *wallet.Wallet) (*Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openLedger(t, path, Options{Now: newClock().Now, Signer: walletSigner{w}})
	for _, c := range []struct {
		id  string
		amt int64
	}{{"a", 100}, {"b", 27367}} {
		mustReserve(t, l, intent(c.id, c.amt), Caps{})
		if err := l.Settle(t.Context(), c.id, "0x"+c.id); err != nil {
			t.Fatal(err)
		}
	}
	mustReserve(t, l, intent("c", 5), Caps{})
	return l, path
}

func TestSignedHeads(t *testing.T) {
	w := newWallet(t)
	l, _ := signedLedger(t, w)
	evs := events(t, l)
	kinds := ""
	for _, e := range evs {
		kinds += string(e.Kind) + " "
	}
	if kinds != "reserved settled signed-head reserved settled signed-head reserved " {
		t.Fatalf("events: %s", kinds)
	}
	if sh := evs[5]; sh.Payer != w.Address().Hex() || units(t, *sh.Amount) != 100+27367+0 || sh.PrevHash != evs[4].Hash {
		t.Errorf("signed head %+v: want the payer, the counted total before it and the settled event's hash", sh)
	}
	rep, err := l.VerifyReport(t.Context(), recoverHead)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != 7 || rep.SignedHeads != 2 || rep.LastSigned != 5 || rep.UnsignedSettled != 0 ||
		len(rep.Signers) != 1 || rep.Signers[0] != w.Address().Hex() || rep.Head != evs[6].Hash {
		t.Errorf("report %+v", rep)
	}
	if err := l.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}

	// SignHead (serve stopping) signs the open reservation's head, once.
	if err := l.SignHead(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.SignHead(t.Context()); err != nil {
		t.Fatal(err)
	}
	if evs := events(t, l); len(evs) != 8 || evs[7].Kind != KindSignedHead || units(t, *evs[7].Amount) != 100+27367+5 {
		t.Errorf("after SignHead twice: %d events, last %+v", len(evs), evs[len(evs)-1])
	}
	// Without a signer nothing is signed.
	plain, _ := newLedger(t)
	mustReserve(t, plain, intent("x", 1), Caps{})
	if err := plain.Settle(t.Context(), "x", "0x1"); err != nil {
		t.Fatal(err)
	}
	if err := plain.SignHead(t.Context()); err != nil || len(events(t, plain)) != 2 {
		t.Errorf("a ledger without a signer signed: %v, %d events", err, len(events(t, plain)))
	}
}

// TestSignedHeadsCatchARewrite is the forger of issue 11: someone who can write the file
// changes a settled payment's payee and recomputes every hash. The unkeyed chain
// verifies; the signed heads do not, and a forger who signs the heads again with a key of
// their own is named as the signer.
func TestSignedHeadsCatchARewrite(t *testing.T) {
	w := newWallet(t)
	l, path := signedLedger(t, w)
	forge := func(tx *bolt.Tx) error {
		for _, seq := range []uint64{4} {
			if err := editEvent(tx, seq, func(e *Event) { e.PayTo = "0x000000000000000000000000000000000000dEaD" }); err != nil {
				return err
			}
		}
		return nil
	}
	raw(t, path, func(tx *bolt.Tx) error {
		if err := forge(tx); err != nil {
			return err
		}
		return rehash(tx)
	})
	// The call record still names the old payee: put the events' version in it, as a
	// careful forger would, so that only the signatures are left to tell.
	raw(t, path, func(tx *bolt.Tx) error {
		b, _ := openBuckets(tx)
		rec, err := b.call("b")
		if err != nil {
			return err
		}
		rec.Spend.PayTo = "0x000000000000000000000000000000000000dEaD"
		return b.putCall(rec)
	})
	if err := l.Verify(t.Context()); err != nil {
		t.Fatalf("the rewritten chain should verify without keys: %v", err)
	}
	_, err := l.VerifyReport(t.Context(), recoverHead)
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "not by "+w.Address().Hex()) {
		t.Fatalf("VerifyReport = %v, want the signed head at 6 to fail", err)
	}

	// The forger signs the heads again with their own key.
	forger := newWallet(t)
	for _, seq := range []uint64{3, 6} { // in order: re-signing 3 changes the hashes 6 signs
		raw(t, path, func(tx *bolt.Tx) error {
			e, err := decodeRecord(tx.Bucket(bucketEvents).Get(u64(seq)))
			if err != nil {
				return err
			}
			sig, err := forger.SignLedgerHead(HeadText(seq-1, e.PrevHash, e.Amount.Atomic()))
			if err != nil {
				return err
			}
			if err := editEvent(tx, seq, func(e *Event) {
				e.Payer, e.Signature = forger.Address().Hex(), "0x"+hexString(sig)
			}); err != nil {
				return err
			}
			return rehash(tx)
		})
	}
	rep, err := l.VerifyReport(t.Context(), recoverHead)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signers) != 1 || rep.Signers[0] != forger.Address().Hex() {
		t.Errorf("signers %v, want the forger's address alone (not the payer's %s)", rep.Signers, w.Address().Hex())
	}
}

func TestSignedHeadTotalChecked(t *testing.T) {
	l, path := signedLedger(t, newWallet(t))
	raw(t, path, func(tx *bolt.Tx) error {
		if err := editEvent(tx, 6, func(e *Event) { e.Amount = amt(1) }); err != nil {
			return err
		}
		return rehash(tx)
	})
	if err := l.Verify(t.Context()); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "counted total") {
		t.Errorf("Verify = %v, want the signed head's total refused", err)
	}
}

// failingSigner cannot sign: a settlement is still recorded, its head left unsigned.
type failingSigner struct{}

func (failingSigner) SignerAddress() string { return "0x1111111111111111111111111111111111111111" }
func (failingSigner) SignHead([]byte) ([]byte, error) {
	return nil, errors.New("hardware wallet unplugged")
}

func TestSettleWhenSigningFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openLedger(t, path, Options{Now: newClock().Now, Signer: failingSigner{}})
	mustReserve(t, l, intent("a", 100), Caps{})
	if err := l.Settle(t.Context(), "a", "0xa"); err != nil {
		t.Fatalf("Settle with a failing signer: %v", err)
	}
	if sp, err := l.Spend(t.Context(), "a"); err != nil || sp.Status != StatusSettled {
		t.Fatalf("spend a = %+v, %v; want settled", sp, err)
	}
	rep, err := l.VerifyReport(t.Context(), recoverHead)
	if err != nil || rep.SignedHeads != 0 || rep.UnsignedSettled != 1 {
		t.Errorf("report %+v, %v; want no signed head and one unsigned settlement", rep, err)
	}
	if err := l.SignHead(t.Context()); err == nil || !strings.Contains(err.Error(), "unplugged") {
		t.Errorf("SignHead = %v, want the signer's error", err)
	}
}
