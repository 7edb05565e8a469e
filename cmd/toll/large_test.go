package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
// tools/list is a golden summary a reviewer can read: one line per tool with its name, the
// sizes of its description and input schema, and its price. Any change to either is a
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
	summary, n := toolsSummary(t, eager)
	checkGolden(t, "large_lazy.json", lazy)
	checkGolden(t, "large_eager_summary.txt", fmt.Sprintf("# tools/list of a 300-operation spec with --lazy off: %d tools, %d bytes (lazy: %d bytes)\n%s",
		n, len(eager), len(lazy), summary))
	// 300 operations, toll_budget, toll_history and toll_quote.
	if n != 300+3 || !strings.Contains(lazy, "toll_search") || len(lazy)*20 > len(eager) {
		t.Errorf("eager %d tools / %d bytes, lazy %d bytes", n, len(eager), len(lazy))
	}
}

// toolsSummary is a tools/list result as one line per tool: name, description bytes,
// input schema bytes, price.
func toolsSummary(t *testing.T, list string) (string, int) {
	t.Helper()
	var l struct {
		Tools []struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"inputSchema"`
			Meta        struct {
				Price *struct {
					Display string `json:"display"`
				} `json:"x402/price"`
			} `json:"_meta"`
		} `json:"tools"`
	}
	if err := json.Unmarshal([]byte(list), &l); err != nil {
		t.Fatalf("not a tools/list: %v", err)
	}
	var b strings.Builder
	b.WriteString("# name\tdescription bytes\tinputSchema bytes\tprice\n")
	for _, tool := range l.Tools {
		price := "free"
		if tool.Meta.Price != nil {
			price = tool.Meta.Price.Display
		}
		fmt.Fprintf(&b, "%s\t%d\t%d\t%s\n", tool.Name, len(tool.Description), len(tool.InputSchema), price)
	}
	return b.String(), len(l.Tools)
}

// checkGolden compares got with testdata/golden/tools/NAME, printing the difference line by
// line; with -update it writes got there first.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("..", "..", "testdata", "golden", "tools", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s changed (-golden +now); if intended, rerun with -update and review the diff:\n%s", golden, diff)
	}
}

func upperFirst(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
