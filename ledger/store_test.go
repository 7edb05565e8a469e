package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/tools/money"
)

// TestCallRecordMarshal: the stored form of a call record in formats 1 and 2 is
// json.Marshal's, byte for byte, whatever its text holds (HTML, non-ASCII, invalid UTF-8,
// line separators), so that Verify compares the records of a file of those formats (read
// before its first write upgrades it) with the bytes that were written.
func TestCallRecordMarshal(t *testing.T) {
	odd := []string{"", "plain", `<a href="x">&amp;</a>`, "naïve café ☕", "\xff\xfe bad utf-8", "line\u2028sep\u2029", "tab\tnl\n\"q\" \\"}
	for i, s := range odd {
		in := intent("call-"+s, int64(i+1))
		in.Session, in.URL, in.Agent, in.PaymentID = s, "https://x.example/?q="+s, s, s
		rec := callRecord{
			Spend: Spend{Intent: in, Status: StatusSettled, TxHash: s, Reason: s, ReservedAt: t0, UpdatedAt: t0.Add(time.Nanosecond)},
			Seq:   uint64(i) * 1e15, Last: uint64(i)*1e15 + 1,
		}
		if i == 2 {
			rec.Spend.Amount = money.New(uint256Max, Decimals)
			rec.Spend.ReservedAt, rec.Spend.ValidBefore = time.Time{}, time.Time{}
		}
		want, err := json.Marshal(&rec)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.marshalJSON(); !bytes.Equal(got, want) {
			t.Errorf("text %q: marshal\n %s\nwant json.Marshal's\n %s", s, got, want)
		}
	}
}

// TestCallRecordCompact: a compact call record reads back as it was stored, whatever its
// text holds, with the intent of its reserved event, in about 100 bytes for a settled
// call; one that names another call's reservation, or no event, is reported damaged.
func TestCallRecordCompact(t *testing.T) {
	l, _ := newLedger(t)
	mustReserve(t, l, intent("c1", 27367), Caps{})
	mustReserve(t, l, intent("c2", 5), Caps{})
	odd := []string{"", `<a href="x">&amp;</a>`, "naïve café ☕", "\xff\xfe bad utf-8", "line\u2028sep", "tab\tnl\n\"q\" \\"}
	raw(t, l.Path(), func(tx *bolt.Tx) error {
		b, err := openBuckets(tx)
		if err != nil {
			return err
		}
		want, err := b.call("c1")
		if err != nil {
			return err
		}
		for i, s := range odd {
			want.Spend.Status, want.Spend.TxHash, want.Spend.Reason = StatusSettled, "0x"+strings.Repeat("ab", 32), s
			want.Spend.HTTPStatus, want.Spend.UpdatedAt, want.Last = 200+i, t0.Add(time.Duration(i)*time.Nanosecond), uint64(1e15+i)
			if err := b.putCall(want); err != nil {
				return err
			}
			got, err := b.call("c1")
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got, amountCmp); diff != "" {
				t.Errorf("text %q: read back (-want +got):\n%s", s, diff)
			}
		}
		// Besides the reason: the positions (Last is 16 digits here), the status, the time
		// and a 66-character transaction hash.
		if n := len(b.calls.Get([]byte("c1"))) - len(odd[len(odd)-1]); n > 125 {
			t.Errorf("a settled call record is %d bytes besides its reason, want at most 125", n)
		}
		for _, seq := range []uint64{2, 99} { // c2's reservation; no event
			want.Seq = seq
			if err := b.calls.Put([]byte("c1"), want.marshal()); err != nil {
				return err
			}
			if _, err := b.call("c1"); !errors.Is(err, ErrTampered) {
				t.Errorf("a record naming event %d: %v, want ErrTampered", seq, err)
			}
		}
		return nil
	})
}
