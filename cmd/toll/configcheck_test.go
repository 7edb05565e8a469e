package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollhq/toll/catalog"
)

// TestConfigCheck runs toll config check through the built binary: a good toll.yaml is
// summed up (networks, assets, caps, rpc without its key, each API with its tool count)
// with exit 0; one with several problems lists them all with exit 1; a file that does not
// parse is exit 1 naming the key. Nothing is unlocked: the keystore is never opened.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	spec, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "specs", "weather.yaml"))
	api, err := catalog.LoadFile(t.Context(), spec, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ks := writeFile(t, dir, "key.json", "{}") // never read: config check unlocks nothing
	good := writeFile(t, dir, "good.yaml", fmt.Sprintf(`wallet: {keystore: %s}
networks: [base-sepolia]
caps: {per_call: "0.05", per_day: "2"}
rpc: {base-sepolia: "https://rpc.example.com/v2/SECRETKEY"}
apis:
  - spec: %s
    namespace: wx
    max_total: "1.50"
`, ks, spec))
	r := runBinary(t, nil, "config", "check", "--config", good)
	if r.code != 0 {
		t.Fatalf("exit code %d; stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"keystore " + ks,
		"base-sepolia (eip155:84532)",
		"per call 0.05, per session 1, per day 2, total none (USDC)",
		"eip155:84532 https://rpc.example.com",
		fmt.Sprintf("wx (%s): %d tools, at most 1.5 USDC in all", spec, len(api.Operations)),
		"ok: no problem found",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "SECRETKEY") {
		t.Error("the rpc URL's path is shown")
	}

	bad := writeFile(t, dir, "bad.yaml", fmt.Sprintf(`wallet: {keystore: %s}
networks: [eip155:999999]
apis:
  - spec: %s
`, filepath.Join(dir, "absent.json"), filepath.Join(dir, "absent.yaml")))
	r = runBinary(t, nil, "config", "check", "--config", bad)
	if r.code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"3 problems", "wallet.keystore", "eip155:999999", "absent.yaml"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	unknown := writeFile(t, dir, "unknown.yaml", "caps: {per_cal: \"0.05\"}\n")
	r = runBinary(t, nil, "config", "check", "--config", unknown)
	if r.code != 1 || !strings.Contains(r.stderr, "per_cal") {
		t.Errorf("exit code %d, stderr %q; want exit 1 naming per_cal", r.code, r.stderr)
	}
	if r := runBinary(t, nil, "config", "check"); r.code != 2 {
		t.Errorf("without --config: exit code %d, want 2", r.code)
	}
}
