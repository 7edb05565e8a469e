package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// The golden files under testdata/catalog/golden hold what the catalog makes
// of a spec: per operation its name, title, description, method, path,
// server, parameters, body, input schema and price, and the API's warnings.
// A change in what a model will see is a visible diff; accept one with
//
//	go test ./catalog -run TestGolden -update

// goldenOp is one operation as the golden files show it.
type goldenOp struct {
	Name        string          `json:"name"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	Server      string          `json:"server"`
	Params      []Param         `json:"params,omitempty"`
	Body        *Body           `json:"body,omitempty"`
	Credentials []Credential    `json:"credentials,omitempty"`
	InputSchema json.RawMessage `json:"inputSchema"`
	Price       *goldenPrice    `json:"price,omitempty"`
}

type goldenPrice struct {
	Amount       string `json:"amount"`
	Min          string `json:"min,omitempty"`
	Decimals     int    `json:"decimals"`
	Asset        string `json:"asset"`
	AssetAddress string `json:"assetAddress,omitempty"`
	Network      string `json:"network,omitempty"`
	Scheme       string `json:"scheme"`
	PayTo        string `json:"payTo,omitempty"`
	Mode         string `json:"mode"`
	Source       string `json:"source"`
	ObservedAt   string `json:"observedAt,omitempty"`
	Line         string `json:"line"`
}

type goldenAPI struct {
	Name       string     `json:"name"`
	Title      string     `json:"title"`
	Version    string     `json:"version,omitempty"`
	Format     string     `json:"format"`
	Warnings   []string   `json:"warnings,omitempty"`
	Operations []goldenOp `json:"operations"`
}

func goldenOf(api *API) goldenAPI {
	g := goldenAPI{Name: api.Name, Title: api.Title, Version: api.Version, Format: api.Format, Warnings: api.Warnings}
	for _, op := range api.Operations {
		o := goldenOp{
			Name: op.Name, Title: op.Title, Description: op.Description, Method: op.Method, Path: op.Path,
			Server: op.ServerURL, Params: op.Params, Body: op.Body, Credentials: op.Credentials, InputSchema: op.InputSchema,
		}
		if p := op.Price; p != nil {
			o.Price = &goldenPrice{
				Amount: p.Amount.AtomicString(), Decimals: p.Amount.Decimals(), Asset: p.Asset, AssetAddress: p.AssetAddress,
				Network: p.Network, Scheme: p.Scheme, PayTo: p.PayTo, Mode: p.Mode, Source: p.Source, Line: p.Line(),
			}
			if p.Min != nil {
				o.Price.Min = p.Min.AtomicString()
			}
			if !p.ObservedAt.IsZero() {
				o.Price.ObservedAt = p.ObservedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
			}
		}
		g.Operations = append(g.Operations, o)
	}
	return g
}

// checkGolden compares got with the golden file at path (under
// ../testdata/catalog), or writes it with -update. A difference is shown
// line by line.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./catalog -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// goldenPath is where the golden file name is.
func goldenPath(name string) string { return filepath.Join("../testdata/catalog/golden", name) }

func marshalGolden(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct{ spec, golden string }{
		{"swagger2.yaml", "swagger2.json"},                  // Swagger 2.0, converted
		{"../specs/weather.yaml", "openapi30-weather.json"}, // OpenAPI 3.0, the demo API
		{"bookshop.yaml", "openapi30-bookshop.json"},        // OpenAPI 3.0: every parameter location, prices
		{"openapi31_types.yaml", "openapi31-types.json"},    // OpenAPI 3.1: type arrays, $defs, const, tuples
		{"composition.yaml", "composition.json"},            // allOf, oneOf, nullable
		{"recursive.yaml", "recursive.json"},                // recursive $ref
		{"discovery_v2.json", "discovery-v2.json"},          // an x402 discovery response, v2
		{"discovery_v1.json", "discovery-v1.json"},          // and v1
	} {
		t.Run(tt.golden, func(t *testing.T) {
			api := loadTestdata(t, tt.spec, Options{})
			checkGolden(t, goldenPath(tt.golden), marshalGolden(t, goldenOf(api)))
		})
	}
}

// largeSummary is the golden summary of the large spec: its counts, the
// sizes a tools/list of it has, what its warnings say, and a line per
// tool. What each kind of operation becomes in full is in the other golden
// files.
type largeSummary struct {
	SpecBytes        int `json:"specBytes"`
	Operations       int `json:"operations"`
	Params           int `json:"params"`
	Bodies           int `json:"bodies"`
	Priced           int `json:"priced"`
	Warnings         int `json:"warnings"`
	DescriptionBytes int `json:"descriptionBytes"`
	SchemaBytes      int `json:"schemaBytes"`
	LargestSchema    int `json:"largestSchemaBytes"`
	// WarningsByStart counts the warnings by their first three words, the
	// operation they name aside.
	WarningsByStart map[string]int `json:"warningsByStart"`
	// Tools has a line per tool: its name, method and path, its arguments
	// (and how many are required), the bytes of its input schema and
	// description, its price, and how many warnings name it.
	Tools []string `json:"tools"`
}

func summarize(t testing.TB, data []byte, api *API) largeSummary {
	t.Helper()
	s := largeSummary{SpecBytes: len(data), Operations: len(api.Operations), Warnings: len(api.Warnings), WarningsByStart: make(map[string]int)}
	warned := make(map[string]int) // by tool name
	for _, w := range api.Warnings {
		name, rest, _ := strings.Cut(w, " (")
		if _, text, ok := strings.Cut(rest, "): "); ok {
			warned[name]++
			w = text
		}
		words := strings.Fields(w)
		s.WarningsByStart[strings.Join(words[:min(3, len(words))], " ")]++
	}
	for _, op := range api.Operations {
		s.Params += len(op.Params)
		if op.Body != nil {
			s.Bodies++
		}
		if op.Price != nil {
			s.Priced++
		}
		s.DescriptionBytes += len(op.Description)
		s.SchemaBytes += len(op.InputSchema)
		s.LargestSchema = max(s.LargestSchema, len(op.InputSchema))
		var root struct {
			Properties map[string]any
			Required   []string
		}
		if err := json.Unmarshal(op.InputSchema, &root); err != nil {
			t.Fatalf("%s: %v", op.Name, err)
		}
		s.Tools = append(s.Tools, fmt.Sprintf("%s %s %s args=%d required=%d schema=%d desc=%d price=%s warnings=%d",
			op.Name, op.Method, op.Path, len(root.Properties), len(root.Required), len(op.InputSchema), len(op.Description), op.Price.Display(), warned[op.Name]))
	}
	return s
}

func TestGoldenLarge(t *testing.T) {
	data := largeSpec()
	api, err := Load(t.Context(), data, "large.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, goldenPath("large-summary.json"), marshalGolden(t, summarize(t, data, api)))
}

// TestHostRules checks every operation of every spec the tests use, loaded
// as one catalog, against what MCP hosts and model APIs accept: a name of
// ^[a-zA-Z0-9_-]+$ and at most 48 characters, unique in the catalog; an
// input schema whose root is an object, with no $ref anywhere and no
// combinator at the root, that compiles as JSON Schema 2020-12 (here,
// independently of the catalog's own check); a description and title within
// their caps.
func TestHostRules(t *testing.T) {
	files, err := filepath.Glob("../testdata/catalog/*.*")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, weatherFile)
	var sources []SourceConfig
	for _, f := range files {
		if _, err := LoadFile(t.Context(), f, Options{}); err == nil {
			sources = append(sources, SourceConfig{Spec: f})
		}
	}
	// Two more namespaces from the same files, with a short one that makes
	// names of other APIs clash.
	sources = append(sources,
		SourceConfig{Spec: "../testdata/catalog/bookshop.yaml", Options: Options{Namespace: "b", Credentials: []Credential{{In: "header", Name: "X-Api-Key", Env: "SHOP_KEY"}}}},
		SourceConfig{Spec: "../testdata/catalog/composition.yaml", Options: Options{Namespace: "b_o", MaxDescription: 40}},
	)
	cat, errs := LoadAll(t.Context(), sources)
	for _, err := range errs {
		t.Error(err)
	}
	large, err := Load(t.Context(), largeSpec(), "large.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat.APIs = append(cat.APIs, large)
	cat.uniqueNames()

	names := make(map[string]string)
	count := 0
	for _, api := range cat.APIs {
		maxDesc := defaultMaxDescription
		for _, sc := range sources {
			if sc.Namespace == api.Name && sc.MaxDescription > 0 {
				maxDesc = sc.MaxDescription
			}
		}
		for _, op := range api.Operations {
			count++
			where := api.Source + " " + op.Method + " " + op.Path
			if !nameRE.MatchString(op.Name) || len(op.Name) > maxToolName {
				t.Errorf("%s: name %q is not ^[a-zA-Z0-9_-]+$ of at most %d", where, op.Name, maxToolName)
			}
			if prev, dup := names[op.Name]; dup {
				t.Errorf("%s: name %q is also %s", where, op.Name, prev)
			}
			names[op.Name] = where
			var root map[string]any
			if err := json.Unmarshal(op.InputSchema, &root); err != nil {
				t.Errorf("%s: input schema is not an object: %v", where, err)
				continue
			}
			if root["type"] != "object" {
				t.Errorf("%s: root type %v, want object", where, root["type"])
			}
			for _, k := range []string{"oneOf", "anyOf", "allOf", "not", "if"} {
				if _, ok := root[k]; ok {
					t.Errorf("%s: %s at the root", where, k)
				}
			}
			if k := schemaProblem(root); k != "" {
				t.Errorf("%s: input schema has %q", where, k)
			}
			if bytes.Contains(op.InputSchema, []byte(`"$ref"`)) {
				t.Errorf("%s: input schema has a $ref", where)
			}
			compile(t, op.InputSchema)
			if n := utf8.RuneCountInString(op.Description); n > maxDesc {
				t.Errorf("%s: description of %d runes, more than %d", where, n, maxDesc)
			}
			if n := utf8.RuneCountInString(op.Title); n > maxTitle {
				t.Errorf("%s: title of %d runes", where, n)
			}
		}
	}
	if count < 1000 {
		t.Errorf("checked %d operations, want the large spec's among them", count)
	}
}

// BenchmarkLoadCatalog loads the large spec (GitHub's REST API in size and
// shape: about 1,000 operations in 9 MB of JSON) from memory. Besides time
// and memory it reports what a tools/list of it weighs: the operations, and
// the bytes of their descriptions and input schemas.
//
//	go test ./catalog -run '^$' -bench BenchmarkLoadCatalog -benchmem -count 5
func BenchmarkLoadCatalog(b *testing.B) {
	data := largeSpec()
	var api *API
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if api, err = Load(context.Background(), data, "large.json", Options{}); err != nil {
			b.Fatal(err)
		}
	}
	s := summarize(b, data, api)
	b.ReportMetric(float64(s.Operations), "tools")
	b.ReportMetric(float64(s.DescriptionBytes), "desc-bytes")
	b.ReportMetric(float64(s.SchemaBytes), "schema-bytes")
}
