package catalog

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// maxFuzzSpec bounds the documents FuzzLoad tries: big enough for every
// testdata spec, small enough to keep each run short.
const maxFuzzSpec = 64 << 10

// FuzzLoad feeds arbitrary documents to Load: it must never panic or hang,
// and whatever it accepts must keep the package's invariants.
//
// New inputs are minimized for up to a minute each by default, during which
// the exec count stands still; -fuzzminimizetime=5s keeps a short run moving.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("../testdata/catalog/*.*")
	split, _ := filepath.Glob("../testdata/catalog/split/*.yaml")
	files = append(append(files, split...), weatherFile)
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) <= maxFuzzSpec {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"",
		"{}",
		"openapi: 3.0.0",
		"openapi: 3.0.0\ninfo: {title: t, version: v}\npaths: {}",
		"openapi: 3.0.0\ninfo: {title: t, version: v}\npaths:\n  /a/{b}:\n    get:\n      parameters: [{name: b, in: path, required: true, schema: {$ref: '#/components/schemas/A'}}]\n      responses: {'200': {description: x}}\ncomponents: {schemas: {A: {$ref: '#/components/schemas/A'}}}",
		"a: &a [*a]",
		"- &x [*x, *x]",
		`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"post":{"requestBody":{"content":{"application/json":{"schema":{"$defs":{"A":{"type":["string","null"]}},"$ref":"#/$defs/A"}}}},"responses":{"200":{"description":"x"}}}}}}`,
		`{"swagger":"2.0","info":{"title":"t","version":"1"},"paths":{"/a/{b}":{"get":{"parameters":[{"name":"b","in":"path","required":true,"type":"string"},{"in":"body","name":"x","schema":{"$ref":"#/definitions/D"}}],"responses":{"200":{"description":"x"}}}}},"definitions":{"D":{"$ref":"#/definitions/D"}}}`,
		`{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"parameters":[{"$ref":"#/paths/~1a/get/parameters/0"}],"responses":{"200":{"description":"x"}}}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzSpec {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		api, err := Load(ctx, data, "fuzz.yaml", Options{})
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Load took %v", d)
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "load fuzz.yaml: ") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error is not one line naming the source: %q", msg)
			}
			return
		}
		checkInvariants(t, api)
	})
}
