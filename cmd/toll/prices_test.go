package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCatalogOriginPricesBinary drives the built binary with a service's origin as the
// spec: toll finds its /openapi.json and lists each price shape as read (a price set at
// call time, methods toll does not pay); an origin with no spec is an error naming every
// URL toll tried.
func TestCatalogOriginPricesBinary(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join("..", "..", "testdata", "catalog", "price_shapes.json"))
	if err != nil {
		t.Fatal(err)
	}
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/openapi.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(spec)
	}))
	t.Cleanup(svc.Close)
	run := runBinary(t, nil, "catalog", "list", svc.URL)
	if run.code != 0 {
		t.Fatalf("catalog list %s: exit %d\n%s", svc.URL, run.code, run.stderr)
	}
	for _, row := range []string{
		`price_shapes_declared402\s+GET /declared-402\s+set at call time\s+402 response`,
		`price_shapes_otherOnly\s+GET /other-only\s+not paid by toll: stripe 1 USD\s+-`,
		`price_shapes_offers\s+POST /offers\s+0\.03 USDC\s+x-payment-info`,
		`price_shapes_endpointAdd\s+POST /api/add\s+0\.005 USDC\s+x-payment-info`,
	} {
		if !regexp.MustCompile(`(?m)^` + row + `\s*$`).MatchString(run.stdout) {
			t.Errorf("no row %q in:\n%s", row, run.stdout)
		}
	}

	empty := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(empty.Close)
	run = runBinary(t, nil, "catalog", "list", empty.URL)
	if run.code != 1 {
		t.Errorf("catalog list of an origin with no spec: exit %d, want 1", run.code)
	}
	for _, path := range []string{"/openapi.json", "/.well-known/openapi.json", "/openapi.yaml", "/swagger.json"} {
		if !strings.Contains(run.stderr, empty.URL+path+" (fetch failed: HTTP status 404)") {
			t.Errorf("error does not say what %s answered:\n%s", path, run.stderr)
		}
	}
}
