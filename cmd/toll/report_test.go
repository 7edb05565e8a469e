package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// hostileAPI is an API name that is also markup: the HTML report must show it as text.
const hostileAPI = `<script>alert("x")</script>&maps`

// reportLedger writes, over three days from 2026-11-01 12:00 UTC, calls to three APIs
// (one named hostileAPI) for two agents and none, in every status, and two refusals.
func reportLedger(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	var mu sync.Mutex
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tick := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	led, err := ledger.Open(path, ledger.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	ctx := t.Context()
	n := 0
	call := func(agent, api string, atomic int64, end func(id string) error) {
		t.Helper()
		n++
		id := fmt.Sprintf("call-%d", n)
		in := ledger.Intent{
			CallID: id, Agent: agent, API: api, Tool: api + "_get", Network: "eip155:84532",
			Amount: money.USDC(atomic), Nonce: fmt.Sprintf("0x%064x", n), ValidBefore: clock().Add(time.Hour),
		}
		if _, err := led.Reserve(ctx, in, ledger.Caps{}); err != nil {
			t.Fatal(err)
		}
		if end != nil {
			if err := end(id); err != nil {
				t.Fatal(err)
			}
		}
		tick(time.Minute)
	}
	settle := func(id string) error { return led.Settle(ctx, id, "0xfeed") }
	unknown := func(id string) error { return led.MarkUnknown(ctx, id, "timeout") }
	release := func(id string) error { return led.Release(ctx, id, "not sent") }

	call("alice", "weather", 100_000, settle)
	call("bob", "weather", 250_000, settle)
	call("alice", hostileAPI, 400_000, settle)
	call("bob", "geo", 50_000, unknown)
	tick(24 * time.Hour)
	call("alice", "geo", 300_000, settle)
	call("", "weather", 20_000, release)
	if err := led.Refuse(ctx, ledger.Refusal{CallID: "r-1", Agent: "bob", API: "geo", Tool: "geo_get", Amount: ptr(money.USDC(5_000_000)), Reason: "over the per-call cap"}); err != nil {
		t.Fatal(err)
	}
	tick(24 * time.Hour)
	call("alice", "weather", 150_000, settle)
	call("bob", hostileAPI, 70_000, nil)
	return path
}

func TestLedgerReportText(t *testing.T) {
	path := reportLedger(t)
	out, _, err := runTest(t, nil, "ledger", "report", "--ledger", path, "--since", "2026-11-01", "--until", "2026-11-02")
	if err != nil {
		t.Fatal(err)
	}
	want := `Ledger report: from 2026-11-01T00:00:00Z, before 2026-11-03T00:00:00Z (events 1 to 16; calls and refusals from 2026-11-01 12:00:00 to 2026-11-02 12:06:00, UTC)
Amounts in USDC, each with its number of calls; a call counts in its status now.

TOTAL  SETTLED   UNKNOWN   RESERVED  RELEASED/VOIDED  REFUSED
all    1.05 (4)  0.05 (1)  -         0.02 (1)         5 (1)

API                               SETTLED   UNKNOWN   RESERVED  RELEASED/VOIDED  REFUSED
<script>alert("x")</script>&maps  0.4 (1)   -         -         -                -
geo                               0.3 (1)   0.05 (1)  -         -                5 (1)
weather                           0.35 (2)  -         -         0.02 (1)         -

TOOL                                  SETTLED   UNKNOWN   RESERVED  RELEASED/VOIDED  REFUSED
<script>alert("x")</script>&maps_get  0.4 (1)   -         -         -                -
geo_get                               0.3 (1)   0.05 (1)  -         -                5 (1)
weather_get                           0.35 (2)  -         -         0.02 (1)         -

AGENT   SETTLED   UNKNOWN   RESERVED  RELEASED/VOIDED  REFUSED
(none)  -         -         -         0.02 (1)         -
alice   0.8 (3)   -         -         -                -
bob     0.25 (1)  0.05 (1)  -         -                5 (1)

DAY (UTC)   SETTLED   UNKNOWN   RESERVED  RELEASED/VOIDED  REFUSED
2026-11-01  0.75 (3)  0.05 (1)  -         -                -
2026-11-02  0.3 (1)   -         -         0.02 (1)         5 (1)

`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestLedgerReportJSON(t *testing.T) {
	path := reportLedger(t)
	out, _, err := runTest(t, nil, "ledger", "report", "--ledger", path, "--format", "json", "--agent", "bob")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Head     uint64
		Decimals int
		Total    ledger.Breakdown
		APIs     []ledger.Group
		Daily    []ledger.DayAPI
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Head != 16 || got.Decimals != money.USDCDecimals {
		t.Errorf("head %d, decimals %d; want 16 (every event), %d", got.Head, got.Decimals, money.USDCDecimals)
	}
	want := map[string][3]string{ // settled, unknown, reserved; atomic units
		"total":    {"250000", "50000", "70000"},
		hostileAPI: {"0", "0", "70000"},
		"geo":      {"0", "50000", "0"},
		"weather":  {"250000", "0", "0"},
	}
	gotAmounts := map[string][3]string{"total": amounts(got.Total)}
	for _, g := range got.APIs {
		gotAmounts[g.Key] = amounts(g.Breakdown)
	}
	if diff := cmp.Diff(want, gotAmounts); diff != "" {
		t.Errorf("amounts (-want +got):\n%s", diff)
	}
	if got.Total.Refused.Count != 1 || got.Total.Refused.Amount.AtomicString() != "5000000" {
		t.Errorf("refused %+v, want 1 of 5000000", got.Total.Refused)
	}
	if len(got.Daily) != 4 {
		t.Errorf("daily: %+v, want 4: geo and weather on 2026-11-01, geo (its refusal) on 11-02, the hostile API on 11-03", got.Daily)
	}
}

func amounts(b ledger.Breakdown) [3]string {
	return [3]string{b.Settled.Amount.AtomicString(), b.Unknown.Amount.AtomicString(), b.Reserved.Amount.AtomicString()}
}

func TestLedgerReportErrors(t *testing.T) {
	path := reportLedger(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--status", "paid"}, `status "paid" is not reserved, unknown, settled, released, voided or refused`},
		{[]string{"--format", "csv"}, "--format"},
		{[]string{"--since", "2026-11-03", "--until", "2026-11-01"}, "the period is empty"},
		{[]string{"--html", filepath.Join(t.TempDir(), "no", "such", "dir", "r.html")}, "no such file or directory"},
	} {
		_, _, err := runTest(t, nil, append([]string{"ledger", "report", "--ledger", path}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("report %v: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}

// htmlNode is an element of a parsed page: its name, attributes, text (its own and its
// descendants') and child elements.
type htmlNode struct {
	name     string
	attr     map[string]string
	text     string
	children []*htmlNode
}

// parseHTML parses a page with encoding/xml in its HTML mode (void elements closed
// automatically, HTML entities known).
func parseHTML(t *testing.T, page []byte) *htmlNode {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(page)))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	root := &htmlNode{name: "#document"}
	stack := []*htmlNode{root}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse the page: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &htmlNode{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.attr[a.Name.Local] = a.Value
			}
			top := stack[len(stack)-1]
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			for _, n := range stack {
				n.text += string(tok)
			}
		}
	}
	return root
}

// all returns the elements under n (n included) for which match holds, in document order.
func (n *htmlNode) all(match func(*htmlNode) bool) []*htmlNode {
	var out []*htmlNode
	if match(n) {
		out = append(out, n)
	}
	for _, c := range n.children {
		out = append(out, c.all(match)...)
	}
	return out
}

func named(name string) func(*htmlNode) bool {
	return func(n *htmlNode) bool { return n.name == name }
}

// tableRows returns the cells of the rows of the table whose data-title is title, keyed by
// their first cell.
func tableRows(t *testing.T, doc *htmlNode, title string) map[string][]string {
	t.Helper()
	tables := doc.all(func(n *htmlNode) bool { return n.name == "table" && n.attr["data-title"] == title })
	if len(tables) != 1 {
		t.Fatalf("%d tables titled %q, want 1", len(tables), title)
	}
	rows := map[string][]string{}
	for _, tr := range tables[0].all(named("tr")) {
		var cells []string
		for _, td := range tr.all(named("td")) {
			cells = append(cells, strings.TrimSpace(td.text))
		}
		if len(cells) > 0 {
			rows[cells[0]] = cells[1:]
		}
	}
	return rows
}

// writeReportPage writes the HTML report of the whole of reportLedger's ledger with the
// built binary, and returns its path.
func writeReportPage(t *testing.T) string {
	t.Helper()
	page := filepath.Join(t.TempDir(), "report.html")
	r := runBinary(t, nil, "ledger", "report", "--ledger", reportLedger(t), "--html", page)
	if r.code != 0 {
		t.Fatalf("toll ledger report --html: exit %d\n%s", r.code, r.stderr)
	}
	return page
}

func TestLedgerReportHTML(t *testing.T) {
	path := writeReportPage(t)
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing to fetch: no element that loads something, no src or href, no CSS import.
	if m := regexp.MustCompile(`(?i)<(script|link|img|iframe|object|embed)\b|\b(src|href)\s*=|@import|url\(`).Find(page); m != nil {
		t.Errorf("the page refers to something outside it: %q", m)
	}
	if !strings.Contains(string(page), "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;maps") {
		t.Errorf("the hostile API name is not escaped in the page")
	}
	doc := parseHTML(t, page)
	if got, want := tableRows(t, doc, "Total")["all"], []string{"1.2 (5)", "0.05 (1)", "0.07 (1)", "0.02 (1)", "5 (1)"}; !slices.Equal(got, want) {
		t.Errorf("total %q, want %q", got, want)
	}
	wantAPIs := map[string][]string{
		hostileAPI: {"0.4 (1)", "-", "0.07 (1)", "-", "-"},
		"geo":      {"0.3 (1)", "0.05 (1)", "-", "-", "5 (1)"},
		"weather":  {"0.5 (3)", "-", "-", "0.02 (1)", "-"},
	}
	if diff := cmp.Diff(wantAPIs, tableRows(t, doc, "API")); diff != "" {
		t.Errorf("API table (-want +got):\n%s", diff)
	}
	if rows := tableRows(t, doc, "DAY (UTC)"); len(rows) != 3 || rows["2026-11-03"][0] != "0.15 (1)" {
		t.Errorf("day table %q, want 3 days, 0.15 settled on 2026-11-03", rows)
	}

	// The chart: a series per API with a settled spend, largest first; a bar segment for
	// each day and API with one, as tall as its amount.
	var legend []string
	for _, li := range doc.all(func(n *htmlNode) bool { return n.attr["class"] == "series" }) {
		legend = append(legend, strings.TrimSpace(li.text))
	}
	if want := []string{"weather: 0.5", hostileAPI + ": 0.4", "geo: 0.3"}; !slices.Equal(legend, want) {
		t.Errorf("legend %q, want %q", legend, want)
	}
	heights := map[string]float64{}
	for _, r := range doc.all(func(n *htmlNode) bool { return n.name == "rect" && n.attr["class"] == "bar" }) {
		var h float64
		fmt.Sscan(r.attr["height"], &h)
		heights[r.attr["data-day"]+" "+r.attr["data-series"]] = h
	}
	var bars []string
	for k := range heights {
		bars = append(bars, k)
	}
	slices.Sort(bars)
	if want := []string{"2026-11-01 " + hostileAPI, "2026-11-01 weather", "2026-11-02 geo", "2026-11-03 weather"}; !slices.Equal(bars, want) {
		t.Errorf("bars %q, want %q", bars, want)
	}
	if r := heights["2026-11-01 weather"] / heights["2026-11-02 geo"]; r < 0.35/0.3-0.01 || r > 0.35/0.3+0.01 {
		t.Errorf("weather on 11-01 (0.35) is %.3f times as tall as geo on 11-02 (0.3), want %.3f", r, 0.35/0.3)
	}
	if desc := doc.all(named("desc")); len(desc) != 1 || !strings.Contains(desc[0].text, "weather 0.5") {
		t.Errorf("the chart's text description: %v, want one naming each series' total", desc)
	}
	if rows := doc.all(func(n *htmlNode) bool { return n.name == "table" && n.attr["id"] == "chart-data" }); len(rows) != 1 || len(rows[0].all(named("tr"))) != 4 {
		t.Errorf("the chart's table: want a header and a row a day")
	}
}

// TestLedgerReportEmpty: a period with nothing in it is a report of zeros, with no chart,
// not an error.
func TestLedgerReportEmpty(t *testing.T) {
	path := reportLedger(t)
	page := filepath.Join(t.TempDir(), "report.html")
	out, _, err := runTest(t, nil, "ledger", "report", "--ledger", path, "--agent", "nobody", "--format", "json", "--html", page)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, k := range []string{"apis", "tools", "agents", "days", "daily"} {
		if l, ok := got[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s: %v, want []", k, got[k])
		}
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseHTML(t, b)
	if svg := doc.all(named("svg")); len(svg) != 0 {
		t.Errorf("%d svg elements in the page of an empty period, want no chart", len(svg))
	}
	if p := doc.all(func(n *htmlNode) bool { return n.attr["id"] == "chart" }); len(p) != 1 || !strings.Contains(p[0].text, "Nothing settled") {
		t.Errorf("the page of an empty period does not say there is nothing to chart")
	}
	if got, want := tableRows(t, doc, "Total")["all"], []string{"-", "-", "-", "-", "-"}; !slices.Equal(got, want) {
		t.Errorf("total %q, want %q", got, want)
	}
}
