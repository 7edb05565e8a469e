package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// filterLedger writes six calls of 27367+i atomic units, a day apart from 2026-11-01 12:00 UTC: call-i in session
// s(i%2), API a(i%3), agent g(i%2), tool t(i%2), on network n(i%2); the even ones settle,
// the odd ones stay reserved.
func filterLedger(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	var mu sync.Mutex
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	led, err := ledger.Open(path, ledger.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	for i := range 6 {
		id := fmt.Sprintf("call-%d", i)
		in := ledger.Intent{
			CallID: id, Agent: fmt.Sprintf("g%d", i%2), Session: fmt.Sprintf("s%d", i%2), API: fmt.Sprintf("a%d", i%3),
			Tool: fmt.Sprintf("t%d", i%2), Network: fmt.Sprintf("n%d", i%2), Amount: money.USDC(int64(27367 + i)),
			Nonce: fmt.Sprintf("0x%064x", i+1), ValidBefore: now.Add(time.Hour),
		}
		if _, err := led.Reserve(t.Context(), in, ledger.Caps{}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := led.Settle(t.Context(), id, "0xfeed"); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		now = now.Add(24 * time.Hour)
		mu.Unlock()
	}
	return path
}

// TestLedgerFilters: each filter of toll ledger list and export, alone and combined,
// selects the calls (and, in jsonl, the events) it names.
func TestLedgerFilters(t *testing.T) {
	path := filterLedger(t)
	tests := []struct {
		args   []string
		calls  []int // call-i, in order
		events int   // in jsonl: of the 6 reserved and 3 settled events
	}{
		{nil, []int{0, 1, 2, 3, 4, 5}, 9},
		{[]string{"--session", "s1"}, []int{1, 3, 5}, 3},
		{[]string{"--agent", "g0"}, []int{0, 2, 4}, 6},
		{[]string{"--api", "a0"}, []int{0, 3}, 3},
		{[]string{"--tool", "t1", "--api", "a2"}, []int{5}, 1},
		{[]string{"--network", "n0"}, []int{0, 2, 4}, 6},
		{[]string{"--status", "settled"}, []int{0, 2, 4}, 3},
		{[]string{"--since", "2026-11-03"}, []int{2, 3, 4, 5}, 6},
		{[]string{"--until", "2026-11-03"}, []int{0, 1, 2}, 5},
		{[]string{"--since", "2026-11-02T12:00:00Z", "--until", "2026-11-04T11:00:00+01:00"}, []int{1, 2}, 3},
		{[]string{"--since", "2026-11-02T12:00:00.000000001Z"}, []int{2, 3, 4, 5}, 6},
		{[]string{"--agent", "nobody"}, nil, 0},
	}
	for _, tt := range tests {
		var want []string
		for _, i := range tt.calls {
			want = append(want, fmt.Sprintf("call-%d", i))
		}
		out, _, err := runTest(t, nil, append([]string{"ledger", "export", "--ledger", path}, tt.args...)...)
		if err != nil {
			t.Fatalf("export %v: %v", tt.args, err)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("export %v: %v\n%s", tt.args, err, out)
		}
		id := slices.Index(rows[0], "call_id")
		var got []string
		for _, r := range rows[1:] {
			got = append(got, r[id])
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("export csv %v (-want +got):\n%s", tt.args, diff)
		}

		out, _, err = runTest(t, nil, append([]string{"ledger", "list", "--format", "json", "--ledger", path}, tt.args...)...)
		var spends []ledger.Spend
		if err != nil || json.Unmarshal([]byte(out), &spends) != nil {
			t.Fatalf("list %v: %v\n%s", tt.args, err, out)
		}
		got = nil
		for _, s := range spends {
			got = append(got, s.CallID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("list --format json %v (-want +got):\n%s", tt.args, diff)
		}

		args := slices.Clone(tt.args)
		if i := slices.Index(args, "--status"); i >= 0 {
			args = slices.Delete(args, i, i+2) // in jsonl, --status is the event kind
		}
		out, _, err = runTest(t, nil, append([]string{"ledger", "export", "--format", "jsonl", "--ledger", path}, args...)...)
		if n := strings.Count(out, "\n"); err != nil || (n != tt.events && !slices.Contains(tt.args, "--status")) {
			t.Errorf("export jsonl %v: %d events, %v; want %d", args, n, err, tt.events)
		}
	}
	out, _, err := runTest(t, nil, "ledger", "export", "--format", "jsonl", "--status", "settled", "--ledger", path)
	if n := strings.Count(out, `"kind":"settled"`); err != nil || n != 3 || strings.Count(out, "\n") != 3 {
		t.Errorf("export jsonl --status settled: %v\n%s\nwant the 3 settled events", err, out)
	}
}

func TestLedgerFilterErrors(t *testing.T) {
	path := filterLedger(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "--since", "yesterday"}, `--since "yesterday" is not a time`},
		{[]string{"export", "--until", "2026-13-01"}, `--until "2026-13-01" is not a time`},
		{[]string{"list", "--status", "paid"}, `status "paid" is not a spend status`},
		{[]string{"export", "--status", "paid"}, `status "paid" is not a row status: reserved, unknown, settled, released, voided or refused`},
		{[]string{"export", "--format", "hledger", "--status", "refused"}, `status "refused" is not a spend status`},
		{[]string{"export", "--format", "jsonl", "--excel"}, "--excel is for --format csv"},
		{[]string{"export", "--format", "jsonl", "--status", "paid"}, `status "paid" is not an event kind`},
		{[]string{"list", "--since", "2026-11-03", "--until", "2026-11-02"}, "the period is empty"},
		{[]string{"verify", "--timeout", "-1s"}, "--timeout -1s is negative"},
		{[]string{"verify", "--file", "x.jsonl"}, "leave out --ledger"},
	} {
		_, _, err := runTest(t, nil, append(append([]string{"ledger"}, tt.args...), "--ledger", path)...)
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want a usage error saying %q", tt.args, err, tt.want)
		}
	}
}

// TestVerifyFile: toll ledger verify --file checks an export on its own and prints the
// ledger's last hash; an edited export fails, naming the event; a filtered one is
// reported partial, with the events it lacks.
func TestVerifyFile(t *testing.T) {
	path := filterLedger(t)
	out, _, err := runTest(t, nil, "ledger", "verify", "--ledger", path, "--timeout", "30s")
	first, _, _ := strings.Cut(out, "\n") // the lines after it are about signed heads
	_, ledgerHash, ok := strings.Cut(strings.TrimSpace(first), "last hash ")
	if err != nil || !ok || len(ledgerHash) != 64 {
		t.Fatalf("ledger verify: %v\n%s", err, out)
	}
	export, _, err := runTest(t, nil, "ledger", "export", "--format", "jsonl", "--ledger", path)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "export.jsonl")
	if err := os.WriteFile(file, []byte(export), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runTest(t, nil, "ledger", "verify", "--file", file)
	if want := "9 events, hash chain intact; last hash " + ledgerHash; err != nil || !strings.Contains(out, want) {
		t.Errorf("verify --file: %v\n%s\nwant %q", err, out, want)
	}
	edited := strings.Replace(export, `"amount":"27369"`, `"amount":"27370"`, 1)
	if edited == export {
		t.Fatalf("the export has no amount 27369:\n%s", export)
	}
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runTest(t, nil, "ledger", "verify", "--file", file); !errors.Is(err, ledger.ErrTampered) || !strings.Contains(err.Error(), "event 4") {
		t.Errorf("verify --file on an edited export: %v, want it tampered at event 4", err)
	}

	// A filtered export (agent g0: calls 0, 2 and 4, events 1, 2, 4, 5, 7 and 8) is
	// checked as far as it can be, and said to be partial.
	export, _, err = runTest(t, nil, "ledger", "export", "--format", "jsonl", "--agent", "g0", "--ledger", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(export), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runTest(t, nil, "ledger", "verify", "--file", file)
	if want := "PARTIAL: 6 of the chain's first 8 events; missing 2: 3, 6"; err != nil || !strings.Contains(out, want) || strings.Contains(out, "hash chain intact") {
		t.Errorf("verify --file on a filtered export: %v\n%s\nwant %q, and no claim that the chain is intact", err, out, want)
	}
	// --complete: a partial export fails; flags that check the ledger itself are refused.
	if _, _, err := runTest(t, nil, "ledger", "verify", "--file", file, "--complete"); err == nil || !strings.Contains(err.Error(), "2 events missing") {
		t.Errorf("verify --file --complete on a partial export: %v, want a failure naming 2 missing events", err)
	}
	for _, args := range [][]string{{"--file", file, "--rpc", "eip155:84532=http://127.0.0.1:1"}, {"--file", file, "--expect-head", ledgerHash}, {"--complete", "--ledger", path}} {
		var u usageError
		if _, _, err := runTest(t, nil, append([]string{"ledger", "verify"}, args...)...); !errors.As(err, &u) {
			t.Errorf("ledger verify %v: %v, want a usage error", args, err)
		}
	}
}

// TestExportEditedRecord: a call record edited in the file does not reach list or export,
// which print what the events say; verify fails. (The edit, amount 27367 made
// 2736700, has no place to go since ledger format 3: a call record holds no amount, only
// what the outcomes said; its transaction is edited here.)
func TestExportEditedRecord(t *testing.T) {
	path := filterLedger(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("calls"))
		v := b.Get([]byte("call-0"))
		edited := strings.Replace(string(v), "0xfeed", "0xdead", 1)
		if edited == string(v) {
			return fmt.Errorf("no transaction 0xfeed in %q", v)
		}
		return b.Put([]byte("call-0"), []byte(edited))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export"}, ",0xfeed,"},
		{[]string{"list", "--format", "json"}, `"tx_hash": "0xfeed"`},
	} {
		out, _, err := runTest(t, nil, append(append([]string{"ledger"}, tc.args...), "--ledger", path)...)
		if err != nil || strings.Contains(out, "0xdead") || !strings.Contains(out, tc.want) {
			t.Errorf("%v: %v\n%s\nwant the events' transaction (%s), not the edited 0xdead", tc.args, err, out, tc.want)
		}
	}
	if _, _, err := runTest(t, nil, "ledger", "verify", "--ledger", path); !errors.Is(err, ledger.ErrTampered) || !strings.Contains(err.Error(), `call "call-0"`) {
		t.Errorf("verify: %v, want it tampered naming call-0", err)
	}
}

// TestLedgerTimeout: with the ledger held by another process, a read command gives up
// after --timeout, saying the ledger is busy.
func TestLedgerTimeout(t *testing.T) {
	path := filterLedger(t)
	holder, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	for _, args := range [][]string{{"list"}, {"export"}, {"verify"}} {
		_, _, err := runTest(t, nil, append(append([]string{"ledger"}, args...), "--ledger", path, "--timeout", "50ms")...)
		if !errors.Is(err, ledger.ErrBusy) {
			t.Errorf("%v while the ledger is held: %v, want ErrBusy", args, err)
		}
	}
}

// TestLedgerListText: the text table of toll ledger list has the HTTP status the paid
// request was answered with, "mcp" for a paid MCP server's tool, and "-" for a call with
// no answer yet.
func TestLedgerListText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"call-paid", "call-open", "call-mcp"} {
		in := ledger.Intent{CallID: id, API: "weather", Tool: "weather_get", Network: "eip155:84532", Amount: money.USDC(1000),
			Nonce: fmt.Sprintf("0x%064x", i+1), ValidBefore: time.Now().Add(time.Hour), Method: "GET"}
		if id == "call-mcp" {
			in.API, in.Tool, in.URL, in.Method = "market", "market_get_weather", "mcp://market/get_weather", "tools/call"
		}
		if _, err := led.Reserve(t.Context(), in, ledger.Caps{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := led.Record(t.Context(), ledger.Outcome{CallID: "call-paid", Kind: ledger.KindSettled, TxHash: "0xfeed", HTTPStatus: 201}); err != nil {
		t.Fatal(err)
	}
	if err := led.Record(t.Context(), ledger.Outcome{CallID: "call-mcp", Kind: ledger.KindSettled, TxHash: "0xbeef"}); err != nil {
		t.Fatal(err)
	}
	led.Close()
	out, _, err := runTest(t, nil, "ledger", "list", "--ledger", path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("ledger list printed %d lines, want a header and 3 rows:\n%s", len(lines), out)
	}
	col := func(line string, i int) string {
		f := strings.Fields(line)
		if i >= len(f) {
			return ""
		}
		return f[i]
	}
	// TIME is two fields (date and time) and AMOUNT (USDC) two header words.
	if h := strings.Fields(lines[0]); !slices.Equal(h[4:7], []string{"STATUS", "HTTP", "NETWORK"}) {
		t.Errorf("header %q lacks the HTTP column after STATUS", lines[0])
	}
	want := map[string]string{"weather_get": "201", "market_get_weather": "mcp"}
	for _, l := range lines[1:] {
		tool, status, http := col(l, 2), col(l, 4), col(l, 5)
		w := want[tool]
		if status == "reserved" {
			w = "-"
		}
		if http != w {
			t.Errorf("row %q: HTTP %q, want %q", l, http, w)
		}
	}
}
