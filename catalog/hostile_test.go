package catalog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Hostile input: each case ends in a bounded error or a sanitized result,
// never a hang or a crash. (Elsewhere: URLs that redirect away or never end
// their body in TestLoadSourceURLRefused, external refs in TestExternalRefs,
// injection text in TestInjectionSpec and TestFromDiscoveryV2, schemas that
// explode when inlined in TestSchemaLimits.)

// bounded runs load and fails when it takes longer than d or allocates more
// than maxAlloc bytes.
func bounded(t *testing.T, d time.Duration, maxAlloc uint64, load func() error) error {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := load()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if took > d {
		t.Errorf("took %v, more than %v", took, d)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxAlloc {
		t.Errorf("allocated %d MB, more than %d MB", alloc>>20, maxAlloc>>20)
	}
	return err
}

func TestHugeSpec(t *testing.T) {
	// A 100 MB file, sparse: refused by its size, never read.
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for name, load := range map[string]func() error{
		"LoadFile":   func() error { _, err := LoadFile(t.Context(), path, Options{}); return err },
		"LoadSource": func() error { _, err := LoadSource(t.Context(), path, Options{}); return err },
		"LoadSource folder": func() error {
			_, err := LoadSource(t.Context(), filepath.Dir(path), Options{})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := bounded(t, 2*time.Second, 1<<20, load)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "104857600 bytes") {
				t.Errorf("%v, want ErrTooLarge by size", err)
			}
		})
	}
}

// aliasBomb is YAML whose aliases expand to 9^10 strings.
func aliasBomb(head string) string {
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("x-a0: &a0 [a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "x-a%d: &a%d [*a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d]\n", i, i, i-1)
	}
	return b.String()
}

func TestAliasBomb(t *testing.T) {
	for name, doc := range map[string]string{
		"openapi": aliasBomb("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n"),
		"swagger": aliasBomb("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n"),
		// A $defs reference takes the document through a rewrite first.
		"$defs": aliasBomb("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents: {schemas: {A: {$defs: {B: {type: string}}, properties: {b: {$ref: '#/$defs/B'}}}}}\n"),
	} {
		t.Run(name, func(t *testing.T) {
			err := bounded(t, 5*time.Second, 256<<20, func() error {
				_, err := Load(t.Context(), []byte(doc), "bomb.yaml", Options{})
				return err
			})
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("%v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestHostileRefs(t *testing.T) {
	head := "openapi: 3.0.3\ninfo: {title: Refs, version: '1'}\nservers: [{url: 'https://r.example.com'}]\npaths:\n  /x:\n    post:\n      operationId: x\n      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/S0'}}}}\n      responses: {'200': {description: OK}}\ncomponents:\n  schemas:\n"
	chain := func(n int, schema func(i int) string) string {
		var b strings.Builder
		b.WriteString(head)
		for i := range n {
			fmt.Fprintf(&b, "    S%d: %s\n", i, schema(i))
		}
		return b.String()
	}
	objects := func(n int) func(int) string {
		return func(i int) string {
			if i == n-1 {
				return "{type: string}"
			}
			return fmt.Sprintf("{type: object, properties: {next: {$ref: '#/components/schemas/S%d'}}}", i+1)
		}
	}
	bare := func(n int) func(int) string {
		return func(i int) string {
			if i == n-1 {
				return "{type: string}"
			}
			return fmt.Sprintf("{$ref: '#/components/schemas/S%d'}", i+1)
		}
	}
	// Every schema refers to the twenty before it.
	web := func(i int) string {
		var b strings.Builder
		b.WriteString("{type: object, properties: {")
		for j := max(0, i-20); j < i; j++ {
			fmt.Fprintf(&b, "p%d: {$ref: '#/components/schemas/S%d'}, ", j, j)
		}
		b.WriteString("z: {type: string}}}")
		return b.String()
	}
	tests := []struct {
		name string
		doc  string
		ok   bool   // loads (cut); else a bounded error
		note string // the warning when it loads, or the error
	}{
		{"deep chain of objects", chain(1000, objects(1000)), true, "nested deeper than 32 levels cut"},
		{"deep chain of bare refs", chain(1000, bare(1000)), true, ""},
		{"chain too deep to resolve", chain(5000, bare(5000)), false, "built to be slow to resolve"},
		{"web too wide to resolve", strings.Replace(chain(3000, web), "S0'}", "S2999'}", 1), false, "built to be slow to resolve"},
		{"self", chain(1, func(int) string { return "{$ref: '#/components/schemas/S0'}" }), false, ""},
		{"two in a circle", chain(2, func(i int) string { return fmt.Sprintf("{$ref: '#/components/schemas/S%d'}", 1-i) }), false, ""},
		{"circle through properties", chain(3, func(i int) string {
			return fmt.Sprintf("{type: object, properties: {a: {$ref: '#/components/schemas/S%d'}, b: {items: {$ref: '#/components/schemas/S%d'}}}}", (i+1)%3, (i+2)%3)
		}), true, "is recursive: cut where it repeats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, format := range []string{"yaml", "json"} {
				data := []byte(tt.doc)
				if format == "json" {
					data = yamlJSON(t, data)
				}
				var api *API
				err := bounded(t, 20*time.Second, 2<<30, func() error {
					var err error
					api, err = Load(t.Context(), data, "refs."+format, Options{})
					return err
				})
				switch {
				case tt.ok && err != nil:
					t.Errorf("%s: %v", format, err)
				case tt.ok:
					checkInvariants(t, api)
					if tt.note != "" && !hasWarning(api, tt.note) {
						t.Errorf("%s: no warning %q in %q", format, tt.note, api.Warnings)
					}
				case err == nil:
					if tt.note != "" {
						t.Errorf("%s: loaded, want an error with %q", format, tt.note)
					}
					checkInvariants(t, api) // accepted, cut
				case strings.ContainsAny(err.Error(), "\r\n") || !strings.Contains(err.Error(), tt.note):
					t.Errorf("%s: error %q, want one line with %q", format, err, tt.note)
				}
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	const depth = 20000
	for name, doc := range map[string]string{
		"json": `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{},"x-deep":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + "}",
		"yaml": "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\nx-deep: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n",
		"json schema": `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/x":{"post":{"requestBody":{"content":{"application/json":{"schema":` +
			strings.Repeat(`{"type":"object","properties":{"a":`, 5000) + `{"type":"string"}` + strings.Repeat("}}", 5000) + `}}},"responses":{"200":{"description":"OK"}}}}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var api *API
			err := bounded(t, 20*time.Second, 1<<30, func() error {
				var err error
				api, err = Load(t.Context(), []byte(doc), "deep", Options{})
				return err
			})
			if err == nil {
				checkInvariants(t, api)
			} else if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error on several lines: %q", err)
			}
		})
	}
}

// yamlJSON re-encodes a YAML document as JSON, as the loader does.
func yamlJSON(t testing.TB, data []byte) []byte {
	t.Helper()
	js, err := yamlToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestJSONAndYAMLAgree: a JSON document takes a fast path (pruned, then
// decoded in parallel) that YAML does not; both must make the same tools.
func TestJSONAndYAMLAgree(t *testing.T) {
	files, _ := filepath.Glob("../testdata/catalog/*.yaml")
	files = append(files, weatherFile)
	// A JSON reference into a path stops the pruning: the same tools still.
	files = append(files, "paths-ref")
	for _, f := range files {
		var data []byte
		if f == "paths-ref" {
			data = []byte("openapi: 3.0.3\ninfo: {title: P, version: '1'}\nservers: [{url: 'https://p.example.com'}]\npaths:\n  /a:\n    get:\n      operationId: a\n      parameters: [{name: q, in: query, schema: {type: string}, examples: {one: {value: x}}}]\n      responses: {'200': {description: OK}}\n  /b:\n    get:\n      operationId: b\n      parameters: [{$ref: '#/paths/~1a/get/parameters/0'}]\n      responses: {'200': {description: OK, content: {application/json: {examples: {e: {$ref: '#/components/examples/E'}}}}}}\ncomponents:\n  examples:\n    E: {value: 1}\n")
		} else {
			data = readFile(t, f)
		}
		yamlAPI, err := Load(t.Context(), data, "spec", Options{})
		if err != nil {
			continue // the error cases are TestLoadErrors'
		}
		jsonAPI, err := Load(t.Context(), yamlJSON(t, data), "spec", Options{})
		if err != nil {
			t.Errorf("%s as JSON: %v", f, err)
			continue
		}
		if diff := cmp.Diff(yamlAPI, jsonAPI, cmpMoney); diff != "" {
			t.Errorf("%s: YAML and JSON differ (-yaml +json):\n%s", f, diff)
		}
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
