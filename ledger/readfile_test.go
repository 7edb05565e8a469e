package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollhq/toll/wallet"
)

// TestVerifyJSONLForgetsFinalCalls: VerifyJSONL keeps the calls open at the end of the
// file and nothing of the calls that became final, however many there were; an event
// after a call's final one is still found.
func TestVerifyJSONLForgetsFinalCalls(t *testing.T) {
	l, _ := newLedger(t)
	const n, open = 3000, 3
	fill(t, l, n, func(i int) bool { return i%(n/open) == 7 })
	var buf bytes.Buffer
	if err := l.ExportJSONL(t.Context(), &buf, Filter{}); err != nil {
		t.Fatal(err)
	}
	fc := newFileCheck(nil)
	if err := fc.read(bytes.NewReader(buf.Bytes()), false); err != nil {
		t.Fatal(err)
	}
	st := fc.v.ch.st
	if len(st.calls) != open || len(st.window) != open || len(st.agentWin) != open || len(fc.v.doneIDs) != 0 {
		t.Errorf("after %d calls, %d of them open: %d calls, %d rolling-day and %d agent entries kept; want %d each",
			n, open, len(st.calls), len(st.window), len(st.agentWin), open)
	}
	// A settlement appended after the final one of call-0, with its hash made right.
	evs, err := ReadJSONL(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	extra := Event{Seq: last.Seq + 1, Time: last.Time, Kind: KindSettled, CallID: "call-0", TxHash: "0xfeed", PrevHash: last.Hash}
	evs = append(evs, extra)
	rehashFrom(t, evs, len(evs)-1)
	_, err = VerifyJSONL(strings.NewReader(jsonl(t, evs)))
	var te *TamperError
	if !errors.As(err, &te) || te.Seq != extra.Seq || !strings.Contains(te.Detail, "not open") {
		t.Errorf("VerifyJSONL with a settlement after a final one = %v, want a *TamperError at %d saying the call is not open", err, extra.Seq)
	}
}

// partialLedger is a ledger whose head is signed after each settlement: calls 0 to 5, of
// alice (even) and bob (odd), each reserved, settled and signed (events 3i+1, 3i+2,
// 3i+3) an hour apart, then call 6 of alice reserved (event 19).
func partialLedger(t *testing.T, w *wallet.Wallet) *Ledger {
	t.Helper()
	c := newClock()
	l := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), Options{Now: c.Now, Signer: walletSigner{w}})
	for i := range 7 {
		in := agentIntent(string(rune('a'+i)), []string{"alice", "bob"}[i%2], int64(1000+i))
		mustReserve(t, l, in, Caps{})
		if i < 6 {
			if err := l.Settle(t.Context(), in.CallID, "0x"+in.CallID); err != nil {
				t.Fatal(err)
			}
		}
		c.Add(time.Hour)
	}
	return l
}

func exportJSONL(t *testing.T, l *Ledger, f Filter) string {
	t.Helper()
	var buf bytes.Buffer
	if err := l.ExportJSONL(t.Context(), &buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// jsonl writes evs as ExportJSONL does.
func jsonl(t *testing.T, evs []Event) string {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(v)
		b.WriteByte('\n')
	}
	return b.String()
}

// rehashFrom recomputes the hashes of evs[i:], linking each to the one before when it
// comes next in the chain, as a forger of the file would.
func rehashFrom(t *testing.T, evs []Event, i int) {
	t.Helper()
	for j := i; j < len(evs); j++ {
		if j > 0 && evs[j].Seq == evs[j-1].Seq+1 {
			evs[j].PrevHash = evs[j-1].Hash
		}
		prev, err := hex.DecodeString(evs[j].PrevHash)
		if err != nil {
			t.Fatal(err)
		}
		h := chainHash(prev, evs[j].canonical())
		evs[j].Hash = hex.EncodeToString(h[:])
	}
}

// TestVerifyFilePartial: VerifyFile checks a filtered export as far as it can and says
// which events it lacks; what a signed head in it covers is counted; edits are found.
func TestVerifyFilePartial(t *testing.T) {
	w := newWallet(t)
	l := partialLedger(t, w)
	signer := []string{w.Address().Hex()}
	full, since := exportJSONL(t, l, Filter{}), exportJSONL(t, l, Filter{Since: t0.Add(3 * time.Hour)})
	alice := exportJSONL(t, l, Filter{Agent: "alice"})
	head, err := l.VerifyHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lastHash := func(file string) string {
		evs, err := ReadJSONL(strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		return evs[len(evs)-1].Hash
	}
	for _, tt := range []struct {
		name string
		file string
		want FileReport
	}{
		{"whole", full, FileReport{
			Report: Report{Events: 19, Head: head.Hash, SignedHeads: 6, LastSigned: 17, Signers: signer},
			Seq:    19, Complete: true, Covered: 17,
		}},
		{"since hour 3", since, FileReport{
			Report: Report{Events: 10, Head: head.Hash, SignedHeads: 3, LastSigned: 17, Signers: signer},
			Seq:    19, Missing: 9, Gaps: []Gap{{1, 9}}, Covered: 8,
		}},
		{"since hour 3, event 14 removed", dropSeq(t, since, 14), FileReport{
			Report: Report{Events: 9, Head: head.Hash, SignedHeads: 3, LastSigned: 17, Signers: signer},
			Seq:    19, Missing: 10, Gaps: []Gap{{1, 9}, {14, 14}}, Covered: 5,
		}},
		{"alice", alice, FileReport{ // signed heads name no agent: none is in the file
			Report: Report{Events: 7, Head: head.Hash, UnsignedSettled: 3},
			Seq:    19, Missing: 12, Gaps: []Gap{{3, 6}, {9, 12}, {15, 18}},
		}},
		{"alice up to hour 4", exportJSONL(t, l, Filter{Agent: "alice", Until: t0.Add(4 * time.Hour)}), FileReport{
			Report: Report{Events: 4, Head: lastHash(exportJSONL(t, l, Filter{Agent: "alice", Until: t0.Add(4 * time.Hour)})), UnsignedSettled: 2},
			Seq:    8, Missing: 4, Gaps: []Gap{{3, 6}},
		}},
	} {
		got, err := VerifyFile(strings.NewReader(tt.file), recoverHead)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: report (-want +got):\n%s", tt.name, diff)
		}
	}
	if _, err := VerifyJSONL(strings.NewReader(since)); !errors.Is(err, ErrTampered) {
		t.Errorf("VerifyJSONL(a filtered export) = %v, want it refused: it checks whole files", err)
	}
}

// dropSeq removes the line of event seq from file.
func dropSeq(t *testing.T, file string, seq uint64) string {
	t.Helper()
	evs, err := ReadJSONL(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var kept []Event
	for _, e := range evs {
		if e.Seq != seq {
			kept = append(kept, e)
		}
	}
	return jsonl(t, kept)
}

// TestVerifyFilePartialTampered: in a filtered export, an event edited, an event edited
// with every hash after it recomputed, lines out of order and a broken link are each
// found; a head signed again by another key shows as another signer.
func TestVerifyFilePartialTampered(t *testing.T) {
	w := newWallet(t)
	l := partialLedger(t, w)
	since := exportJSONL(t, l, Filter{Since: t0.Add(3 * time.Hour)}) // events 10 to 19
	evs, err := ReadJSONL(strings.NewReader(since))
	if err != nil {
		t.Fatal(err)
	}
	at := func(seq uint64) int { return int(seq - evs[0].Seq) }
	edit := func(fn func(evs []Event) []Event) string {
		return jsonl(t, fn(append([]Event(nil), evs...)))
	}
	for _, tt := range []struct {
		name   string
		file   string
		seq    uint64
		detail string
	}{
		{"an amount edited", edit(func(evs []Event) []Event {
			evs[at(13)].Amount = amt(999999)
			return evs
		}), 13, "hash does not match"},
		{"an amount edited, every hash after it recomputed", edit(func(evs []Event) []Event {
			evs[at(13)].Amount = amt(999999)
			rehashFrom(t, evs, at(13))
			return evs
		}), 15, "not by " + w.Address().Hex()},
		{"two lines swapped", edit(func(evs []Event) []Event {
			evs[at(12)], evs[at(13)] = evs[at(13)], evs[at(12)]
			return evs
		}), 12, "out of order"},
		{"a link broken", edit(func(evs []Event) []Event {
			evs[at(14)].PrevHash = strings.Repeat("ab", 32)
			rehashFrom(t, evs[at(14):at(14)+1], 0)
			return evs
		}), 14, "previous hash does not match event 13"},
	} {
		_, err := VerifyFile(strings.NewReader(tt.file), recoverHead)
		var te *TamperError
		if !errors.As(err, &te) || te.Seq != tt.seq || !strings.Contains(te.Detail, tt.detail) {
			t.Errorf("%s: VerifyFile = %v, want a *TamperError at %d saying %q", tt.name, err, tt.seq, tt.detail)
		}
	}

	// A forger with a key of their own signs head 15 again, and so every head after it
	// (each signs the hash of the event before it, which changed).
	other := newWallet(t)
	forged := edit(func(evs []Event) []Event {
		for j := at(15); j < len(evs); j++ {
			e := &evs[j]
			if e.Kind == KindSignedHead {
				e.PrevHash = evs[j-1].Hash
				sig, err := other.SignLedgerHead(HeadText(e.Seq-1, e.PrevHash, e.Amount.Atomic()))
				if err != nil {
					t.Fatal(err)
				}
				e.Payer, e.Signature = other.Address().Hex(), "0x"+hex.EncodeToString(sig)
			}
			rehashFrom(t, evs[:j+1], j)
		}
		return evs
	})
	rep, err := VerifyFile(strings.NewReader(forged), recoverHead)
	if err != nil || !cmp.Equal(rep.Signers, []string{w.Address().Hex(), other.Address().Hex()}) {
		t.Errorf("a head signed again by another key: %+v, %v; want both signers named", rep.Signers, err)
	}
}
