package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// largeSpecYAML writes a deterministic spec of n operations over shared components, with
// paths, parameters, bodies and x-payment-info prices on every third operation.
func largeSpecYAML(n int) string {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: Large Shop, version: '1'}\nservers: [{url: 'https://shop.example.com/v1'}]\npaths:\n")
	resources := []string{"orders", "customers", "products", "invoices", "shipments", "reviews", "coupons", "carts"}
	for i := range n {
		res := resources[i%len(resources)]
		fmt.Fprintf(&b, "  /%s/v%d/{id}:\n", res, i)
		method := []string{"get", "post", "put", "delete"}[i%4]
		fmt.Fprintf(&b, "    %s:\n      operationId: %s%s%d\n      summary: %s %s number %d\n", method, method, upperFirst(res), i, upperFirst(method), res, i)
		fmt.Fprintf(&b, "      tags: [%s]\n", res)
		if i%3 == 0 {
			fmt.Fprintf(&b, "      x-payment-info: {price: {mode: fixed, amount: '0.00%d', currency: USD}, protocols: [{x402: {network: 'eip155:8453'}}]}\n", 1+i%9)
		}
		b.WriteString("      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}\n")
		if method == "post" || method == "put" {
			fmt.Fprintf(&b, "      requestBody: {required: true, content: {application/json: {schema: {$ref: '#/components/schemas/%s'}}}}\n", upperFirst(res))
		}
		b.WriteString("      responses: {'200': {description: ok}}\n")
	}
	b.WriteString("components:\n  schemas:\n    Base: {type: object, required: [id], properties: {id: {type: string}, created: {type: string, format: date-time}}}\n")
	for _, res := range resources {
		fmt.Fprintf(&b, "    %s:\n      allOf:\n        - $ref: '#/components/schemas/Base'\n        - type: object\n          properties: {name: {type: string, maxLength: 200}, note: {type: string, nullable: true}, parent: {$ref: '#/components/schemas/%s'}}\n", upperFirst(res), upperFirst(res))
	}
	return b.String()
}

// TestLargeCatalogToolsListGolden: for a spec of 300 operations, the tools/list a host gets
// in lazy mode (the default above 100 operations) is a golden file, and the eager
// tools/list is pinned by a summary (tool count, bytes, hash), so any change to either is a
// visible diff. Regenerate with -update.
func TestLargeCatalogToolsListGolden(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "large.yaml")
	if err := os.WriteFile(spec, []byte(largeSpecYAML(300)), 0o600); err != nil {
		t.Fatal(err)
	}
	lazy, stderr, err := runTest(t, nil, "catalog", "tools", spec)
	if err != nil {
		t.Fatalf("catalog tools: %v\n%s", err, stderr)
	}
	eager, _, err := runTest(t, nil, "catalog", "tools", "--lazy", "off", spec)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal([]byte(eager), &list); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(eager))
	summary := fmt.Sprintf("{\n  \"operations\": 300,\n  \"eager_tools\": %d,\n  \"eager_bytes\": %d,\n  \"eager_sha256\": %q,\n  \"lazy_bytes\": %d\n}\n",
		len(list.Tools), len(eager), hex.EncodeToString(sum[:]), len(lazy))
	for name, got := range map[string]string{"large_lazy.json": lazy, "large_eager_summary.json": summary} {
		golden := filepath.Join("..", "..", "testdata", "golden", "tools", name)
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if string(want) != got {
			t.Errorf("%s changed; if intended, rerun with -update and review the diff", golden)
		}
	}
	if len(list.Tools) != 301 || !strings.Contains(lazy, "toll_search") || len(lazy)*20 > len(eager) {
		t.Errorf("eager %d tools / %d bytes, lazy %d bytes", len(list.Tools), len(eager), len(lazy))
	}
}

func upperFirst(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
