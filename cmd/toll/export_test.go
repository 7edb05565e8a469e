package main

import (
	"strings"
	"testing"
)

// TestExportFormats: toll ledger export writes each format through the CLI: a journal of
// the settled calls (the reserved ones as comments), and with --excel a CSV that starts
// with a byte order mark and ends its lines with CRLF.
func TestExportFormats(t *testing.T) {
	path := filterLedger(t)
	for _, tt := range []struct {
		args     []string
		contains []string
		prefix   string
		lines    int // lines ending in CRLF; -1: none may
	}{
		{[]string{"--format", "hledger"}, []string{
			"2026-11-01 * ",
			"    expenses:x402:a0:t0  0.027367 \"TOK-UNKNOWN\"\n    assets:x402:n0:unknown\n",
			"; reserved, not settled: call call-1, 0.027368 \"TOK-UNKNOWN\"",
		}, "; toll:", -1},
		{[]string{"--format", "beancount"}, []string{
			"  Expenses:X402:A0:T0  0.027367 TOK-UNKNOWN\n  Assets:X402:N0:Unknown\n",
			"2026-11-01 open Expenses:X402:A0:T0\n",
		}, "; toll:", -1},
		{[]string{"--excel", "--status", "settled"}, []string{"\r\n2,", ",call-0,settled,", ",0.027367,27367,"}, "\uFEFFseq,hash,call_id,", 4},
		{nil, []string{"\n2,", ",call-0,settled,", "2026-11-01T12:00:00.000"}, "seq,hash,call_id,", -1},
	} {
		out, _, err := runTest(t, nil, append([]string{"ledger", "export", "--ledger", path}, tt.args...)...)
		if err != nil {
			t.Fatalf("export %v: %v", tt.args, err)
		}
		for _, want := range tt.contains {
			if !strings.Contains(out, want) {
				t.Errorf("export %v: no %q in\n%s", tt.args, want, out)
			}
		}
		if !strings.HasPrefix(out, tt.prefix) {
			t.Errorf("export %v does not start with %q:\n%q", tt.args, tt.prefix, out)
		}
		if n := strings.Count(out, "\r\n"); (tt.lines < 0 && n != 0) || (tt.lines >= 0 && (n != tt.lines || strings.Count(out, "\n") != n)) {
			t.Errorf("export %v: %d lines end in CRLF, want %d", tt.args, n, max(tt.lines, 0))
		}
	}
}
