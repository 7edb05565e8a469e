package ledger

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

// fillSpend sets every field of s that is settable from here to a value that is not
// zero: strings from text (with the field's name, so that fields cannot be mistaken for
// each other), numbers to their index, times to distinct instants. A field added to Spend
// or Intent is thus filled, and its absence from AppendJSON fails the comparison.
func fillSpend(t *testing.T, s *Spend, text string) {
	t.Helper()
	var fill func(v reflect.Value, path string)
	fill = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			name := path + sf.Name
			switch {
			case sf.Anonymous && f.Kind() == reflect.Struct:
				fill(f, name+".")
			case f.Type() == reflect.TypeFor[money.Amount]():
				f.Set(reflect.ValueOf(money.USDC(int64(1000 + i))))
			case f.Type() == reflect.TypeFor[time.Time]():
				f.Set(reflect.ValueOf(time.Date(2026, 12, 5, 7, i, 3, i*1001, time.FixedZone("x", 3600))))
			case f.Kind() == reflect.String:
				f.SetString(name + ":" + text)
			case f.CanInt():
				f.SetInt(int64(i + 1))
			case f.CanUint():
				f.SetUint(uint64(i + 1))
			case f.Kind() == reflect.Bool:
				f.SetBool(true)
			default:
				t.Fatalf("fillSpend does not know how to fill %s (%s): teach it", name, f.Type())
			}
		}
	}
	fill(reflect.ValueOf(s).Elem(), "")
}

// TestSpendAppendJSON: AppendJSON writes exactly what json.MarshalIndent writes, and
// appendCompactJSON what json.Marshal writes (the stored form: a byte of difference would
// make Verify report every call of an older file as tampered), for a spend with every
// field set (to text that needs escaping), one with only the fields that are always
// written, and with the indentations toll uses.
func TestSpendAppendJSON(t *testing.T) {
	texts := []string{
		"plain", `quote " backslash \ slash /`, "<html> & </html>", "ctl \b\f\n\r\t \x00\x01\x1f\x7f",
		"line \u2028 para \u2029", "bad utf-8 \xff\xfe end \xe2\x82", "émoji 😀 ünïcödé", "",
	}
	var spends []Spend
	for _, text := range texts {
		var s Spend
		fillSpend(t, &s, text)
		spends = append(spends, s)
	}
	spends = append(spends, Spend{Intent: Intent{CallID: "only", Amount: money.USDC(1)}, Status: StatusReserved})
	for i := range spends {
		want, err := json.Marshal(&spends[i])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff("before"+string(want), string(spends[i].appendCompactJSON([]byte("before")))); diff != "" {
			t.Errorf("spend %d: appendCompactJSON differs from json.Marshal, the stored form (-want +got):\n%s", i, diff)
		}
	}
	for _, in := range []struct{ prefix, indent string }{{"  ", "  "}, {"", "  "}, {"", ""}, {"\t", "\t"}} {
		for i := range spends {
			want, err := json.MarshalIndent(&spends[i], in.prefix, in.indent)
			if err != nil {
				t.Fatal(err)
			}
			got := spends[i].AppendJSON([]byte("before"), in.prefix, in.indent)
			if diff := cmp.Diff("before"+string(want), string(got)); diff != "" {
				t.Errorf("spend %d, prefix %q indent %q: AppendJSON differs from json.MarshalIndent (-want +got):\n%s", i, in.prefix, in.indent, diff)
			}
		}
	}
}

// FuzzSpendAppendJSON holds AppendJSON's and appendCompactJSON's escaping to
// encoding/json's for any text.
func FuzzSpendAppendJSON(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\u2028\xff\x00\"\\"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		s := Spend{Intent: Intent{CallID: a, URL: b, Tool: a + b, Amount: money.USDC(5)}, Status: Status(b), Reason: a}
		want, err := json.MarshalIndent(&s, "  ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.AppendJSON(nil, "  ", "  "); string(got) != string(want) {
			t.Errorf("AppendJSON = %s, want %s", got, want)
		}
		compact, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.appendCompactJSON(nil); string(got) != string(compact) {
			t.Errorf("appendCompactJSON = %s, want %s", got, compact)
		}
	})
}
