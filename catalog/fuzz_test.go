package catalog

import (
	"context"
	"encoding/json"
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
	files = append(files, weatherFile)
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
		names := make(map[string]bool)
		for _, op := range api.Operations {
			if !nameRE.MatchString(op.Name) || len(op.Name) > maxToolName || names[op.Name] {
				t.Fatalf("bad or repeated tool name %q", op.Name)
			}
			names[op.Name] = true
			var root map[string]any
			if err := json.Unmarshal(op.InputSchema, &root); err != nil {
				t.Fatalf("%s: input schema is not a JSON object: %v", op.Name, err)
			}
			if root["type"] != "object" || root["additionalProperties"] != false {
				t.Fatalf("%s: input schema root %s", op.Name, op.InputSchema)
			}
			if k := schemaProblem(root); k != "" {
				t.Fatalf("%s: input schema has %q: %s", op.Name, k, op.InputSchema)
			}
			compile(t, op.InputSchema)
			if p := op.Price; p != nil && (p.Amount == nil || p.Amount.Sign() < 0 || (p.Min != nil && p.Min.Cmp(p.Amount) > 0)) {
				t.Fatalf("%s: price %+v", op.Name, p)
			}
		}
	})
}
