package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// reportSpec is a paid API with one operation whose answer is long.
const reportSpec = `openapi: 3.0.3
info: {title: Reports, version: "1"}
servers: [{url: "http://127.0.0.1:8402"}]
paths:
  /report:
    get:
      operationId: report
      summary: A long report
      x-payment-info:
        price: {mode: fixed, amount: "0.002", currency: USD}
        protocols: [{x402: {network: "eip155:84532"}}]
      responses: {"200": {description: the report}}
`

// TestLargePaidBodyOverStdio pays the built binary's way to a 300 KB report, over stdio:
// the tool result carries the first part, cut at the limit that toll.yaml's API entry or
// --max-result-bytes sets, and a resource_link through which resources/read gives the
// whole report back byte for byte. The kept body's directory is gone once toll exits.
func TestLargePaidBodyOverStdio(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	k := newKeyFiles(t, dir, "correct horse battery staple")
	report := bytes.Repeat([]byte("Paid paragraph: ✓ café, 🌧 rain.\n"), 300_000/36)
	world, spec := startWorld(t, x402test.Options{
		Spec: []byte(reportSpec),
		Routes: []x402test.Route{{Method: http.MethodGet, Pattern: "/report", Price: money.USDC(2000), Version: 2,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Write(report)
			})}},
	}, k.payer, dir)
	config := filepath.Join(dir, "toll.yaml")
	yaml := fmt.Sprintf("apis:\n  - spec: %s\n    max_result_bytes: 50000\n", spec)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		args  []string
		limit int // the most the result carries inline
	}{
		{name: "API entry", args: []string{"--config", config}, limit: 50_000},
		{name: "flag", args: []string{"--spec", spec, "--max-result-bytes", "30000"}, limit: 30_000},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := filepath.Join(dir, fmt.Sprintf("tmp%d", i))
			if err := os.Mkdir(tmp, 0o700); err != nil {
				t.Fatal(err)
			}
			ledgerFile := filepath.Join(dir, fmt.Sprintf("ledger%d.db", i))
			args := append([]string{"serve", "--keystore", k.keystore, "--passphrase-file", k.passFile, "--ledger", ledgerFile,
				"--network", world.Chain.NetworkV2(), "--asset", world.Chain.TokenAddress(), "--max-per-call", "0.01"}, tc.args...)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			c, _, stderr := serveMCP(t, ctx, bin, []string{"TMPDIR=" + tmp}, args)
			defer func() {
				if t.Failed() {
					t.Logf("toll stderr:\n%s", stderr.String())
				}
			}()
			var req mcp.CallToolRequest
			req.Params.Name = toolFor(t, ctx, c, "GET /report")
			res, err := c.CallTool(ctx, req)
			if err != nil || res.IsError {
				t.Fatalf("tools/call: %v %s", err, resultText(res))
			}
			inline, notice, uri := largeResult(t, res)
			if len(inline) > tc.limit || len(inline) < tc.limit-utf8.UTFMax || !bytes.HasPrefix(report, []byte(inline)) {
				t.Errorf("inline part of %d bytes; want a prefix of the report within %d bytes", len(inline), tc.limit)
			}
			if !strings.Contains(notice, fmt.Sprintf("of %d bytes", len(report))) || !strings.Contains(notice, uri) {
				t.Errorf("notice %q does not give the size %d and the URI", notice, len(report))
			}
			if !strings.Contains(resultText(res), "Cost: paid 0.002 USDC") {
				t.Errorf("no cost line in %q", resultText(res)[len(inline):])
			}
			var read mcp.ReadResourceRequest
			read.Params.URI = uri
			rr, err := c.ReadResource(ctx, read)
			if err != nil {
				t.Fatalf("resources/read: %v", err)
			}
			if text, ok := rr.Contents[0].(mcp.TextResourceContents); !ok || text.Text != string(report) {
				t.Errorf("resources/read: %T, not the %d bytes of the report", rr.Contents[0], len(report))
			}
			if kept, _ := filepath.Glob(filepath.Join(tmp, "toll-results-*")); len(kept) != 1 {
				t.Errorf("while serving, %d directories of kept bodies in TMPDIR, want 1", len(kept))
			}
			c.Close()
			if kept, _ := filepath.Glob(filepath.Join(tmp, "toll-results-*")); len(kept) != 0 {
				t.Errorf("after toll exited, kept bodies remain: %v", kept)
			}
			spends, err := openLedger(t, ledgerFile).Spends(t.Context())
			if err != nil || len(spends) != 1 || spends[0].Status != ledger.StatusSettled {
				t.Errorf("ledger: %d spends (%v), want one settled", len(spends), err)
			}
		})
	}
}

// largeResult is what a cut tool result carries: the inline part, the notice, and the
// resource_link's URI; the blocks must come in that order.
func largeResult(t *testing.T, res *mcp.CallToolResult) (inline, notice, uri string) {
	t.Helper()
	if len(res.Content) < 3 {
		t.Fatalf("%d content blocks, want the part, the notice and the link", len(res.Content))
	}
	first, ok1 := mcp.AsTextContent(res.Content[0])
	second, ok2 := mcp.AsTextContent(res.Content[1])
	link, ok3 := res.Content[2].(mcp.ResourceLink)
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("blocks %T, %T, %T; want text, text, resource_link", res.Content[0], res.Content[1], res.Content[2])
	}
	return first.Text, second.Text, link.URI
}
