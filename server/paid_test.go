package server

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
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

// TestPaidLargeBodyReadBack pays the local x402 world for a 300 KB report: the result
// shows its first part, says it was paid, and links to the whole body, which
// resources/read gives back byte for byte.
func TestPaidLargeBodyReadBack(t *testing.T) {
	ctx := t.Context()
	report := longText(300_000)
	world, err := x402test.Start(ctx, x402test.Options{
		Spec: []byte(reportSpec),
		Routes: []x402test.Route{{Method: http.MethodGet, Pattern: "/report", Price: money.USDC(2000), Version: 2,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
				w.Write(report)
			})}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { world.Close() })
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := world.Fund(ctx, w.Address().Hex(), money.USDC(1_000_000)); err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	tc, err := tools.New(tools.Config{Wallet: w, Ledger: led, Policy: tools.Policy{
		Networks: []string{world.Chain.NetworkV2()},
		Assets:   []tools.Asset{{Address: world.Chain.TokenAddress()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	api, err := catalog.Load(ctx, world.SpecYAML(), "reports.yaml", catalog.Options{Namespace: "reports"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tc, api.Operations, Options{ResultDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := newClientFor(t, s)

	var req mcp.CallToolRequest
	req.Params.Name = "reports_report"
	req.Params.Arguments = map[string]any{}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wr := onWire(t, res)
	if wr.IsError {
		t.Fatalf("the call failed: %+v", wr.Content)
	}
	if diff := cmp.Diff([]string{"text", "text", "resource_link", "text"}, blockTypes(wr.Content)); diff != "" {
		t.Fatalf("block types (-want +got):\n%s", diff)
	}
	if cost := wr.Content[3].Text; !strings.HasPrefix(cost, "Cost: paid 0.002 USDC") {
		t.Errorf("cost line %q", cost)
	}
	if n := len(world.Settlements()); n != 1 {
		t.Errorf("%d settlements, want 1", n)
	}
	if _, ok := res.Meta.AdditionalFields[MetaReceipt]; !ok {
		t.Errorf("no receipt in _meta: %v", res.Meta.AdditionalFields)
	}
	uri := linkOf(t, wr)
	if wr.Content[2].MIMEType != "text/markdown" {
		t.Errorf("resource_link mimeType %q, want text/markdown", wr.Content[2].MIMEType)
	}
	var read mcp.ReadResourceRequest
	read.Params.URI = uri
	rr, err := c.ReadResource(ctx, read)
	if err != nil {
		t.Fatalf("resources/read: %v", err)
	}
	text, ok := rr.Contents[0].(mcp.TextResourceContents)
	if !ok || len(rr.Contents) != 1 {
		t.Fatalf("resources/read: %d contents, the first a %T; want one text", len(rr.Contents), rr.Contents[0])
	}
	if !bytes.Equal([]byte(text.Text), report) || text.URI != uri || text.MIMEType != "text/markdown" {
		t.Errorf("resources/read: %d bytes of %s at %s, want the %d bytes of the report", len(text.Text), text.MIMEType, text.URI, len(report))
	}
}
