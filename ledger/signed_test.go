package ledger

import (
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/tools/money"
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
	// Hashes looked up in the same pass: an event's is found at its place, another is not.
	other := strings.Repeat("ab", 32)
	rep, err = l.VerifyReport(t.Context(), nil, evs[2].Hash, other, evs[6].Hash)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint64{evs[2].Hash: 3, evs[6].Hash: 7}; !maps.Equal(rep.Found, want) {
		t.Errorf("Found = %v, want %v (and no entry for %s)", rep.Found, want, other)
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
	// The per-recipient counters still count the old payee: move the payment to the new
	// one, as a careful forger would, so that only the signatures are left to tell.
	raw(t, path, func(tx *bolt.Tx) error {
		b, _ := openBuckets(tx)
		rec, err := b.call("b")
		if err != nil {
			return err
		}
		x := rec.Spend.Amount.Atomic()
		if err := b.addSum(payToKey("0x000000000000000000000000000000000000dEaD"), x); err != nil {
			return err
		}
		return b.addSum(payToKey(intent("b", 1).PayTo), x.Neg(x))
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

// rewriteChain replaces the events of the file by edit's list, renumbered from 1, every
// hash recomputed and the head moved to the last: a forger's best effort on the chain.
func rewriteChain(t *testing.T, path string, edit func([]Event) []Event) {
	t.Helper()
	raw(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		var evs []Event
		if err := b.ForEach(func(_, v []byte) error {
			e, err := decodeRecord(v)
			evs = append(evs, e)
			return err
		}); err != nil {
			return err
		}
		for _, e := range evs {
			if err := b.Delete(u64(e.Seq)); err != nil {
				return err
			}
		}
		prev := genesis
		for i, e := range edit(evs) {
			e.Seq = uint64(i + 1)
			canon := e.canonical()
			h := chainHash(prev[:], canon)
			if err := b.Put(u64(e.Seq), encodeRecord(prev, h, canon)); err != nil {
				return err
			}
			prev = h
		}
		n := uint64(len(edit(evs)))
		return tx.Bucket(bucketMeta).Put(keyHead, append(u64(n), prev[:]...))
	})
}

// TestForgeriesCaught: the forgeries of issue 11, each with every hash recomputed, are
// each caught by the signed heads or the chain's replay, given the payer's address.
func TestForgeriesCaught(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func([]Event) []Event
	}{
		{"an amount changed", func(evs []Event) []Event {
			evs[3].Amount = amt(2736700) // reserved b, 27367
			return evs
		}},
		{"a payee changed", func(evs []Event) []Event {
			evs[0].PayTo = "0x000000000000000000000000000000000000dEaD"
			return evs
		}},
		{"an entry inserted", func(evs []Event) []Event {
			fake := evs[0]
			fake.CallID, fake.Nonce = "z", nonceFor("z")
			return append(evs[:1], append([]Event{fake}, evs[1:]...)...)
		}},
		{"two entries swapped", func(evs []Event) []Event {
			evs[0], evs[3] = evs[3], evs[0] // the reservations of a and b
			return evs
		}},
		{"a signed settlement removed", func(evs []Event) []Event {
			return append(evs[:3], evs[6:]...) // b's reservation, settlement and signed head
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, path := signedLedger(t, newWallet(t))
			rewriteChain(t, path, tc.edit)
			if _, err := l.VerifyReport(t.Context(), recoverHead); !errors.Is(err, ErrTampered) {
				t.Errorf("VerifyReport = %v, want ErrTampered", err)
			}
		})
	}
}

// TestRecordedAgainWithoutTheKey: a forger who records the history again, through the
// ledger's own API, with an amount changed, gets a chain that verifies but carries no
// signed head; the report says so (toll ledger verify --payer refuses it).
func TestRecordedAgainWithoutTheKey(t *testing.T) {
	l, _ := signedLedger(t, newWallet(t))
	forged, _ := newLedger(t)
	for _, sp := range spends(t, l) {
		in := sp.Intent
		if in.CallID == "b" {
			in.Amount = money.USDC(2736700)
		}
		mustReserve(t, forged, in, Caps{})
		if sp.Status == StatusSettled {
			if err := forged.Settle(t.Context(), in.CallID, sp.TxHash); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := forged.VerifyReport(t.Context(), recoverHead)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SignedHeads != 0 || rep.UnsignedSettled != 2 {
		t.Errorf("report of the forged ledger %+v: want no signed head and 2 unsigned settlements", rep)
	}
}

func spends(t *testing.T, l *Ledger) []Spend {
	t.Helper()
	sps, err := l.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return sps
}
