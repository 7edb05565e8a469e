package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// copyLedger copies testdata/v1.ledger (written by toll's ledger package at commit
// 76336a3, before format 2: two settled spends, one unknown, one refusal) to a
// temporary path.
func copyLedger(t *testing.T) string { return copyTestdata(t, "v1.ledger") }

// copyTestdata copies the ledger testdata/name to a temporary path.
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// metaFormat reads meta "format" with bbolt directly.
func metaFormat(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var f string
	_ = db.View(func(tx *bolt.Tx) error {
		f = string(tx.Bucket(bucketMeta).Get(keyFormat))
		return nil
	})
	return f
}

func TestFormat1LedgerReadsAndUpgrades(t *testing.T) {
	path := copyLedger(t)
	l := openLedger(t, path, Options{Now: newClock().Now})
	verify(t, l)
	old := events(t, l)
	if len(old) != 7 {
		t.Fatalf("the format 1 ledger has %d events, want 7", len(old))
	}
	sp, err := l.Spend(t.Context(), "v1-call-1")
	if err != nil || sp.Status != StatusSettled || units(t, sp.Amount) != 27367 {
		t.Fatalf("v1-call-1 = %+v, %v; want settled 27367", sp, err)
	}
	if f := metaFormat(t, path); f != "toll-ledger/1" {
		t.Fatalf("reading changed the format to %q", f)
	}
	before := indexAnswers(t, l, old)

	in := intent("new-1", 5000)
	in.Agent = "research"
	in.PaymentID = "pay_7d5d747be160e280504c099d984bcfe0"
	mustReserve(t, l, in, Caps{})
	if sp, err := l.Spend(t.Context(), "new-1"); err != nil || sp.PaymentID != in.PaymentID || sp.Agent != "research" {
		t.Errorf("new-1 = %+v, %v; want its agent and payment id", sp, err)
	}
	if f := metaFormat(t, path); f != formatName(formatCurrent) {
		t.Errorf("after a write the format is %q, want %q", f, formatName(formatCurrent))
	}
	verify(t, l)
	// Released, the new call is neither paid nor pending: the answers of the old calls
	// come from the index the upgrade built.
	if err := l.Release(t.Context(), "new-1", "test"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, indexAnswers(t, l, old)); diff != "" {
		t.Errorf("PaidBefore and Pending changed with the upgrade (-before +after):\n%s", diff)
	}
	raw(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCalls).ForEach(func(k, v []byte) error {
			if v[0] != callCompact {
				t.Errorf("call %q is stored as %.20q..., want the compact form", k, v)
			}
			return nil
		})
	})
	evs := events(t, l)
	if len(evs) != 9 || evs[7].Agent != "research" || evs[7].PaymentID != in.PaymentID || evs[7].PrevHash != old[6].Hash {
		t.Errorf("the new event does not continue the old chain with its agent: %+v", evs[len(evs)-1])
	}
	for i := range old {
		if evs[i].Hash != old[i].Hash {
			t.Errorf("event %d hash changed from %s to %s", i+1, old[i].Hash, evs[i].Hash)
		}
	}
}

// TestFormat2LedgerReadsAndUpgrades: testdata/v2.ledger (written by toll's ledger
// package at commit 9df6d42, format 2: agents, payment ids, signed heads, every status,
// a refusal, a checkpoint before the last call) verifies and answers PaidBefore and
// Pending as it is, read only; its first write upgrades it to format 3 (compact call
// records, the open index, the per-recipient counters, no stale checkpoint), and it then
// verifies, checks and answers the same, with every old hash unchanged.
func TestFormat2LedgerReadsAndUpgrades(t *testing.T) {
	ctx := t.Context()
	path := copyTestdata(t, "v2.ledger")
	l := openLedger(t, path, Options{Now: newClock().Now})
	old := events(t, l)
	checkAll := func(when string) {
		t.Helper()
		if _, err := l.VerifyReport(ctx, recoverHead); err != nil {
			t.Fatalf("%s: VerifyReport: %v", when, err)
		}
		if err := l.Check(ctx); err != nil {
			t.Fatalf("%s: Check: %v", when, err)
		}
	}
	checkAll("format 2")
	before := indexAnswers(t, l, old)
	for _, c := range []struct {
		payTo string
		paid  bool
	}{{"0x3333333333333333333333333333333333333333", true}, {"0x4444444444444444444444444444444444444444", false}} {
		if paid, err := l.PaidBefore(ctx, c.payTo); err != nil || paid != c.paid {
			t.Errorf("format 2: PaidBefore(%s) = %v, %v; want %v", c.payTo, paid, err, c.paid)
		}
	}
	if p, err := l.Pending(ctx, SpendFilter{}); err != nil || units(t, p) != 57000 {
		t.Errorf("format 2: Pending = %v, %v; want 0.057 (v2-2 unknown, v2-4 reserved)", p, err)
	}
	if f := metaFormat(t, path); f != "toll-ledger/2" {
		t.Fatalf("reading changed the format to %q", f)
	}

	if err := l.Refuse(ctx, Refusal{Tool: "t", Reason: "the write that upgrades"}); err != nil {
		t.Fatal(err)
	}
	if f := metaFormat(t, path); f != formatName(3) {
		t.Fatalf("after a write the format is %q, want %q", f, formatName(3))
	}
	raw(t, path, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(keyCheckpoint) != nil {
			t.Error("the format 2 checkpoint is still stored: it lacks the new counters")
		}
		if n := tx.Bucket(bucketOpen).Stats().KeyN; n != 2 {
			t.Errorf("the open index has %d entries, want 2 (v2-2, v2-4)", n)
		}
		return tx.Bucket(bucketCalls).ForEach(func(k, v []byte) error {
			if v[0] != callCompact {
				t.Errorf("call %q is stored as %.20q..., want the compact form", k, v)
			}
			return nil
		})
	})
	checkAll("format 3")
	if diff := cmp.Diff(before, indexAnswers(t, l, old)); diff != "" {
		t.Errorf("PaidBefore and Pending changed with the upgrade (-before +after):\n%s", diff)
	}
	if err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	checkAll("format 3, checkpointed")
	for i, e := range events(t, l)[:len(old)] {
		if e.Hash != old[i].Hash {
			t.Errorf("event %d hash changed from %s to %s", i+1, old[i].Hash, e.Hash)
		}
	}
}

// indexAnswers is what PaidBefore says of each payee of evs, and Pending of each session
// and agent, and in all.
func indexAnswers(t *testing.T, l *Ledger, evs []Event) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	for _, e := range evs {
		for _, payTo := range []string{e.PayTo, strings.ToUpper(e.PayTo)} {
			paid, err := l.PaidBefore(ctx, payTo)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("paid %s: %v", payTo, paid))
		}
		for _, f := range []SpendFilter{{}, {Session: e.Session}, {Agent: e.Agent}} {
			p, err := l.Pending(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("pending %+v: %s", f, p.AtomicString()))
		}
	}
	return out
}

func TestFormatRefused(t *testing.T) {
	for _, tc := range []struct {
		format  string
		newer   bool
		wantMsg string
	}{
		{"toll-ledger/4", true, "this toll reads up to toll-ledger/3"},
		{"toll-ledger/999", true, "use that toll or a newer one"},
		{"toll-ledger/0", false, "not a toll ledger"},
		{"other-db/1", false, "not a toll ledger"},
	} {
		path := copyLedger(t)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyFormat, []byte(tc.format))
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		before, _ := os.ReadFile(path)
		_, err = Open(path, Options{})
		if err == nil {
			t.Errorf("format %q: Open succeeded", tc.format)
			continue
		}
		if errors.Is(err, ErrNewerFormat) != tc.newer || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("format %q: err = %v; want newer=%v and %q", tc.format, err, tc.newer, tc.wantMsg)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("format %q: the refused file was changed", tc.format)
		}
	}
}
