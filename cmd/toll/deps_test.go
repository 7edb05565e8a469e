package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tollhq/toll"

// TestImportGraph guards the package graph with go list -deps: each heavy dependency
// stays behind the one package that wraps it, and no program code reaches the testing
// package.
func TestImportGraph(t *testing.T) {
	deps := func(pkg string) map[string]bool {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		m := map[string]bool{}
		for _, line := range strings.Fields(string(out)) {
			m[line] = true
		}
		return m
	}
	// The leaves every package may import: the amount type and the x402 wire formats.
	// They import nothing but the standard library and each other (checked below).
	leaves := map[string]bool{module + "/tools/money": true, module + "/tools/x402": true}
	reaches := func(m map[string]bool, prefix string) string {
		for p := range m {
			if !leaves[p] && (p == prefix || strings.HasPrefix(p, prefix+"/")) {
				return p
			}
		}
		return ""
	}
	const (
		mcpgo = "github.com/mark3labs/mcp-go"
		geth  = "github.com/ethereum/go-ethereum"
		bolt  = "go.etcd.io/bbolt"
		kin   = "github.com/getkin/kin-openapi"
		// The chain client and what it brings: JSON-RPC, transaction and block types, and
		// the KZG and pairing code behind them. Only wallet/onchain (the chain reads toll
		// makes) and tools/x402test (the simulated chain) import them; ledger/reconcile
		// reaches them through wallet/onchain.
		ethclient = geth + "/ethclient"
		rpc       = geth + "/rpc"
		types     = geth + "/core/types"
		kzg       = geth + "/crypto/kzg4844"
		gnark     = "github.com/consensys/gnark-crypto"
		onchain   = module + "/wallet/onchain"
		cobra     = "github.com/spf13/cobra"
		pflag     = "github.com/spf13/pflag"
		pgx       = "github.com/jackc/pgx"
	)
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		// catalog may import the leaves tools/money and tools/x402 (amounts, networks and
		// requirements), and nothing else of tools.
		{"catalog", []string{mcpgo, geth, bolt, module + "/wallet", module + "/ledger", module + "/tools", module + "/server"}},
		{"wallet", []string{mcpgo, bolt, kin, module + "/catalog", module + "/ledger", module + "/tools", module + "/server",
			geth + "/core/types", geth + "/crypto/kzg4844", geth + "/ethclient"}},
		{"ledger", []string{mcpgo, geth, kin, module + "/catalog", module + "/wallet", module + "/tools", module + "/server"}},
		{"tools/x402", []string{mcpgo, geth, bolt, kin}},
		// tools is the HTTP side of a payment: it signs through wallet and records through
		// ledger, and never reads the chain.
		{"tools", []string{mcpgo, module + "/server", module + "/tools/x402test", ethclient, rpc, types, kzg, gnark, onchain, module + "/ledger/reconcile"}},
		// ledger/reconcile is where the ledger meets the chain: no API, no MCP, no catalog.
		{"ledger/reconcile", []string{mcpgo, kin, module + "/catalog", module + "/tools", module + "/server"}},
		{"server", []string{module + "/tools/x402test"}},
	}
	for _, r := range rules {
		m := deps(r.pkg)
		for _, f := range r.forbidden {
			if p := reaches(m, f); p != "" {
				t.Errorf("%s reaches %s, which it must not", r.pkg, p)
			}
		}
	}
	for leaf := range leaves {
		for p := range deps(strings.TrimPrefix(leaf, module+"/")) {
			if !leaves[p] && strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				t.Errorf("%s reaches %s: it must import only the standard library", leaf, p)
			}
		}
	}
	all, err := exec.Command("go", "list", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(all)) {
		if deps(strings.TrimPrefix(pkg, module+"/"))["testing"] {
			t.Errorf("%s reaches the testing package", pkg)
		}
	}
	// Direct importers: only the wrapping package imports each heavy dependency.
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	owners := map[string][]string{
		mcpgo: {module + "/server"},
		kin:   {module + "/catalog"},
		bolt:  {module + "/ledger"},
		geth:  {module + "/wallet", module + "/tools/x402test"},
		// The chain client: wallet/onchain, and the simulated chain's own backend.
		ethclient: {onchain, module + "/tools/x402test"},
		rpc:       {onchain, module + "/tools/x402test"},
		types:     {onchain, module + "/tools/x402test"},
		// The chain reads: reconcile, and the CLI that dials the endpoints for it.
		onchain: {module + "/ledger/reconcile", module + "/cmd/toll"},
		cobra:   {module + "/cmd/toll"},
		pflag:   {module + "/cmd/toll"},
		// PostgreSQL: the ledger's store for teams, and the tests' throwaway clusters.
		pgx: {module + "/ledger"},
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			for dep, allowed := range owners {
				if imp != dep && !strings.HasPrefix(imp, dep+"/") {
					continue
				}
				ok := false
				for _, a := range allowed {
					if p.ImportPath == a || strings.HasPrefix(p.ImportPath, a+"/") {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s; only %v may", p.ImportPath, imp, allowed)
				}
			}
		}
	}
}

// TestPackageDocs checks that every package has a doc comment.
func TestPackageDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Doc}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, doc, _ := strings.Cut(line, "\t")
		if strings.TrimSpace(doc) == "" {
			t.Errorf("package %s has no doc comment", pkg)
		}
	}
}
