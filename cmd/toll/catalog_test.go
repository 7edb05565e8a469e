package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollhq/toll/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestToolsListGolden: `toll catalog tools` prints exactly what hosts get from tools/list;
// the golden files make every change in what the model sees a visible diff. Regenerate
// with: go test ./cmd/toll -run TestToolsListGolden -update
func TestToolsListGolden(t *testing.T) {
	for _, tc := range []struct{ name, spec string }{
		{"swagger2", "testdata/catalog/swagger2.yaml"},
		{"openapi30_weather", "testdata/specs/weather.yaml"},
		{"openapi31_types", "testdata/catalog/openapi31_types.yaml"},
		{"composition_recursive", "testdata/catalog/composition.yaml"},
		{"recursive", "testdata/catalog/recursive.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runTest(t, nil, "catalog", "tools", filepath.Join("..", "..", tc.spec))
			if err != nil {
				t.Fatalf("catalog tools: %v\n%s", err, stderr)
			}
			var list struct {
				Tools []map[string]any `json:"tools"`
			}
			if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Tools) == 0 {
				t.Fatalf("not a tools/list: %v\n%s", err, out)
			}
			checkGolden(t, tc.name+".json", out)
		})
	}
}

func TestCatalogCommands(t *testing.T) {
	weather := filepath.Join("..", "..", "testdata", "specs", "weather.yaml")
	malformed := filepath.Join("..", "..", "testdata", "catalog", "malformed.yaml")
	out, _, err := runTest(t, nil, "catalog", "list", weather)
	if err != nil || !strings.Contains(out, "weather_demo_getWeather") || !strings.Contains(out, "0.001 USDC") || !strings.Contains(out, "x-payment-info") {
		t.Errorf("list: %v\n%s", err, out)
	}
	out, _, err = runTest(t, nil, "catalog", "check", weather, malformed)
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, "malformed.yaml") || !strings.Contains(out, "weather_demo, 4 tools") {
		t.Errorf("check with a bad spec: err=%v\n%s", err, out)
	}
	if _, _, err := runTest(t, nil, "catalog", "tools", malformed); err == nil || !strings.Contains(err.Error(), "malformed.yaml") {
		t.Errorf("tools of a bad spec: %v", err)
	}
	if _, _, err := runTest(t, nil, "catalog", "frobnicate"); err == nil {
		t.Error("unknown subcommand accepted")
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	weather, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "specs", "weather.yaml"))
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "caps: {per_call: \"0.02\"}\nnetworks: [eip155:84532]\napis:\n  - spec: "+weather+"\n    namespace: wx\n    max_total: \"1\"\n    tool_caps: {getWeather: \"0.10\"}\n    exclude: {methods: [POST]}\n")
	out, _, err := runTest(t, nil, "catalog", "list", "--config", good)
	if err != nil || !strings.Contains(out, "wx_getWeather") || strings.Contains(out, "wx_createReport") {
		t.Errorf("config apis: %v\n%s", err, out)
	}
	// pay_to is pinned on the prices of that entry's tools, as a host sees them.
	payTo := "0x" + strings.Repeat("5", 40)
	pinned := write("pinned.yaml", "apis:\n  - spec: "+weather+"\n    pay_to: \""+payTo+"\"\n")
	out, _, err = runTest(t, nil, "catalog", "tools", "--config", pinned)
	if err != nil || strings.Count(out, `"payTo": "`+payTo+`"`) != 3 {
		t.Errorf("pay_to: %v; want it on the 3 priced tools\n%s", err, out)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"unknown key":  {"capz: {}\n", "capz"},
		"bad cap":      {"caps: {per_call: lots}\n", `line 1: invalid amount: "lots"`},
		"bad lazy":     {"lazy: sometimes\n", "lazy"},
		"bad pay_to":   {"apis:\n  - spec: " + weather + "\n    pay_to: nobody\n", "pay_to"},
		"missing spec": {"apis:\n  - namespace: x\n", "spec"},
	} {
		t.Run(name, func(t *testing.T) {
			p := write(strings.ReplaceAll(name, " ", "_")+".yaml", tc.body)
			_, _, err := runTest(t, nil, "catalog", "list", "--config", p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want it to name %s and %q", err, p, tc.want)
			}
		})
	}
	// A tool cap naming no operation is refused when serve applies the config.
	bad := write("badcap.yaml", "apis:\n  - spec: "+weather+"\n    tool_caps: {noSuchOp: \"1\"}\n")
	_, _, err = runTest(t, nil, "serve", "--config", bad, "--private-key-env", "K")
	if err == nil || !strings.Contains(err.Error(), "noSuchOp") {
		t.Errorf("tool cap on a missing operation: %v", err)
	}
}

// TestCatalogProbe probes the local world's paid API unpaid, records the terms, and shows
// that the catalog then takes its price from the probe. Nothing is paid.
func TestCatalogProbe(t *testing.T) {
	s := newE2E(t)
	out := filepath.Join(s.dir, "probes.json")
	before := s.balance(t, s.payer.Hex())
	stdout, stderr, err := runTest(t, nil, "catalog", "probe", "--out", out,
		"--args", `weather_demo_getWeather={"city":"Oslo"}`, "--args", `getClimateHistory={"city":"Rome"}`, s.spec)
	if err != nil {
		t.Fatalf("probe: %v\n%s\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"weather_demo_getWeather", "402 (x402 v1)", "0.001 exact on base-sepolia", "0.25 exact on eip155:84532", "weather_demo_health", "no payment asked"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("probe output lacks %q:\n%s", want, stdout)
		}
	}
	recs, err := catalog.ReadProbes(out)
	if err != nil || len(recs) != 2 || recs[0].Spec != s.spec {
		t.Fatalf("probes file: %+v %v", recs, err)
	}
	list, _, err := runTest(t, nil, "catalog", "list", "--probes", out, s.spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(list, "\n") {
		if strings.HasPrefix(line, "weather_demo_getWeather") && !strings.Contains(line, "probe") {
			t.Errorf("getWeather's price does not come from the probe: %s", line)
		}
		if strings.HasPrefix(line, "weather_demo_createReport") && !strings.Contains(line, "x-payment-info") {
			t.Errorf("createReport (not probed) lost its spec price: %s", line)
		}
	}
	if after := s.balance(t, s.payer.Hex()); after.Cmp(before) != 0 {
		t.Errorf("probing moved money: %s → %s", before, after)
	}
	if n := len(s.world.Settlements()); n != 0 {
		t.Errorf("%d settlements after a probe", n)
	}
}
