package ledger

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tollhq/toll/tools/money"
)

// TestCallRecordMarshal: the stored form of a call record is json.Marshal's, byte for
// byte, whatever its text holds (HTML, non-ASCII, invalid UTF-8, line separators), so
// that files written before and after read and verify the same.
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
		got, err := rec.marshal()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("text %q: marshal\n %s (%v)\nwant json.Marshal's\n %s", s, got, err, want)
		}
	}
}
