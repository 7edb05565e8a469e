package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/catalog")

const weatherFile = "../testdata/specs/weather.yaml"

// loadTestdata loads a spec from testdata/catalog.
func loadTestdata(t testing.TB, name string, opts Options) *API {
	t.Helper()
	api, err := LoadFile(context.Background(), filepath.Join("../testdata/catalog", name), opts)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func loadWeather(t testing.TB) *API {
	t.Helper()
	api, err := LoadFile(context.Background(), weatherFile, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// operation finds an operation by tool name.
func operation(t testing.TB, api *API, name string) *Operation {
	t.Helper()
	for _, op := range api.Operations {
		if op.Name == name {
			return op
		}
	}
	var names []string
	for _, op := range api.Operations {
		names = append(names, op.Name)
	}
	t.Fatalf("no operation %s in %s (have %v)", name, api.Source, names)
	return nil
}

// hasWarning reports whether a warning contains every one of parts.
func hasWarning(api *API, parts ...string) bool {
	for _, w := range api.Warnings {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(w, p)
		}
		if all {
			return true
		}
	}
	return false
}

func TestLoadWeather(t *testing.T) {
	api := loadWeather(t)
	if api.Name != "weather_demo" || api.Title != "Weather Demo" || api.Version != "1.0.0" || api.Source != weatherFile {
		t.Errorf("API = %q %q %q %q, want weather_demo, Weather Demo, 1.0.0, %s", api.Name, api.Title, api.Version, api.Source, weatherFile)
	}
	if len(api.Warnings) != 0 {
		t.Errorf("warnings: %q", api.Warnings)
	}

	type price struct {
		Amount, Min                         string
		Decimals                            int
		Asset, Network, Scheme, PayTo, Mode string
		Source, Display, Line               string
	}
	type op struct {
		API, Name, OperationID, Title, Method, ServerURL, Path string
		Params                                                 []Param
		Body                                                   *Body
		Price                                                  *price
	}
	usdc := func(amount, display string) *price {
		return &price{
			Amount: amount, Decimals: 6, Asset: "USDC", Network: "eip155:84532", Scheme: "exact",
			Mode: "fixed", Source: "x-payment-info", Display: display,
			Line: "Price: " + display + " per call (x402, eip155:84532)",
		}
	}
	const server = "http://127.0.0.1:8402"
	want := []op{
		{
			API: "weather_demo", Name: "weather_demo_getClimateHistory", OperationID: "getClimateHistory",
			Title: "Thirty years of climate history for a city", Method: "GET", ServerURL: server, Path: "/climate/{city}",
			Params: []Param{{Name: "city", In: "path", Arg: "city", Required: true, Style: "simple"}},
			Price:  usdc("250000", "0.25 USDC"),
		},
		{
			API: "weather_demo", Name: "weather_demo_health", OperationID: "health",
			Title: "Service health", Method: "GET", ServerURL: server, Path: "/health",
		},
		{
			API: "weather_demo", Name: "weather_demo_createReport", OperationID: "createReport",
			Title: "Multi-day weather report", Method: "POST", ServerURL: server, Path: "/reports",
			Body:  &Body{Arg: "body", MediaType: "application/json", Required: true},
			Price: usdc("5000", "0.005 USDC"),
		},
		{
			API: "weather_demo", Name: "weather_demo_getWeather", OperationID: "getWeather",
			Title: "Current weather for a city", Method: "GET", ServerURL: server, Path: "/weather/{city}",
			Params: []Param{
				{Name: "city", In: "path", Arg: "city", Required: true, Style: "simple"},
				{Name: "units", In: "query", Arg: "units", Style: "form", Explode: true},
			},
			Price: usdc("1000", "0.001 USDC"),
		},
	}
	var got []op
	for _, o := range api.Operations {
		g := op{API: o.API, Name: o.Name, OperationID: o.OperationID, Title: o.Title, Method: o.Method,
			ServerURL: o.ServerURL, Path: o.Path, Params: o.Params, Body: o.Body}
		if p := o.Price; p != nil {
			g.Price = &price{Amount: p.Amount.AtomicString(), Decimals: p.Amount.Decimals(), Asset: p.Asset, Network: p.Network,
				Scheme: p.Scheme, PayTo: p.PayTo, Mode: p.Mode, Source: p.Source, Display: p.Display(), Line: p.Line()}
			if p.Min != nil {
				g.Price.Min = p.Min.AtomicString()
			}
		}
		got = append(got, g)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}

	// Exact amounts as integers, as the tools package compares them.
	for name, units := range map[string]int64{
		"weather_demo_getWeather":        1000,
		"weather_demo_createReport":      5000,
		"weather_demo_getClimateHistory": 250000,
	} {
		if p := operation(t, api, name).Price; p == nil || p.Amount.Cmp(money.USDC(units)) != 0 {
			t.Errorf("%s price = %v, want %d atomic units", name, p, units)
		}
	}
	if p := operation(t, api, "weather_demo_health").Price; p != nil {
		t.Errorf("health price = %v, want nil (free)", p.Display())
	}

	d := operation(t, api, "weather_demo_getWeather").Description
	if want := "Current weather for a city\n\nTemperature and conditions now. Paid with x402 version 1."; d != want {
		t.Errorf("description = %q, want %q", d, want)
	}
}

// TestWeatherGolden compares everything a model will see of weather.yaml with
// testdata/catalog/weather.golden.json; run with -update to accept a change.
func TestWeatherGolden(t *testing.T) {
	api := loadWeather(t)
	got, err := json.MarshalIndent(api, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "../testdata/catalog/weather.golden.json", append(got, '\n'))
}

func TestLoadDeterministic(t *testing.T) {
	data, err := os.ReadFile("../testdata/catalog/composition.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var first []byte
	for i := range 5 {
		api, err := Load(t.Context(), data, "composition.yaml", Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(api)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = got
		} else if !bytes.Equal(first, got) {
			t.Fatalf("load %d differs from the first:\n%s\n%s", i, first, got)
		}
	}
}

// TestExternalRefsCostTheirOperations: by default toll follows no $ref to
// another file or a URL; the operations that use one are skipped, with a
// warning naming the $ref and how to allow it, and the rest of the document
// loads. The URL is never fetched.
func TestExternalRefsCostTheirOperations(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	for _, tt := range []struct{ file, ref string }{
		{"external_ref.yaml", "external_other.yaml#/components/schemas/Secret"},
		{"external_url_ref.yaml", "http://169.254.169.254/latest/meta-data#/param"},
	} {
		api, err := LoadFile(t.Context(), filepath.Join("../testdata/catalog", tt.file), Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if len(api.Operations) != 0 {
			t.Errorf("%s: %d operations, want the one using the $ref skipped", tt.file, len(api.Operations))
		}
		for _, w := range []string{
			fmt.Sprintf("$ref %q names another document, which toll does not read (bundle the spec, or set allow_external_refs", tt.ref),
			"skipped: its ",
		} {
			if !hasWarning(api, w) {
				t.Errorf("%s: no warning with %q in %q", tt.file, w, api.Warnings)
			}
		}
	}
	doc := `{"openapi":"3.0.3","info":{"title":"U","version":"1"},"paths":{
"/a":{"get":{"operationId":"a","parameters":[{"name":"q","in":"query","schema":{"$ref":"` + srv.URL + `/s.json#/Q"}}],"responses":{"200":{"description":"A"}}}},
"/b":{"get":{"operationId":"b","responses":{"200":{"description":"B"}}}}}}`
	api, err := Load(t.Context(), []byte(doc), "u.json", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(api.Operations) != 1 || api.Operations[0].OperationID != "b" {
		t.Errorf("operations %v, want only b", api.Operations)
	}
	if hits != 0 {
		t.Errorf("the $ref's URL was fetched %d times", hits)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		file  string // under testdata/catalog unless absolute
		want  error  // nil: only the text is checked
		parts []string
	}{
		{"malformed YAML", "malformed.yaml", ErrInvalidSpec, []string{"load ../testdata/catalog/malformed.yaml: ", "yaml: line 8"}},
		{"swagger 1.2", "swagger12.yaml", ErrUnsupportedVersion, []string{"swagger12.yaml", `swagger "1.2"`}},
		{"missing file", filepath.Join(dir, "nope.yaml"), fs.ErrNotExist, []string{"nope.yaml", "no such file"}},
		{"directory", dir, nil, []string{dir, "is a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file
			if !filepath.IsAbs(path) {
				path = filepath.Join("../testdata/catalog", tt.file)
			}
			api, err := LoadFile(t.Context(), path, Options{})
			if err == nil {
				t.Fatalf("LoadFile(%s) = %d operations, want an error", path, len(api.Operations))
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %q is not %v", err, tt.want)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, p := range tt.parts {
				if !strings.Contains(msg, p) {
					t.Errorf("error %q does not contain %q", msg, p)
				}
			}
		})
	}
}

func TestLoadDataErrors(t *testing.T) {
	weather, err := os.ReadFile(weatherFile)
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	// A YAML alias bomb: 9^10 strings if expanded.
	var bomb strings.Builder
	bomb.WriteString("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\nx-a0: &a0 [a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&bomb, "x-a%d: &a%d [*a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d]\n", i, i, i-1)
	}
	tests := []struct {
		name string
		ctx  context.Context
		data []byte
		want error
	}{
		{"too large", t.Context(), make([]byte, MaxSpecBytes+1), ErrTooLarge},
		{"canceled", canceled, weather, context.Canceled},
		{"openapi 2.5", t.Context(), []byte("openapi: 2.5.0\ninfo: {title: x, version: '1'}\npaths: {}\n"), ErrUnsupportedVersion},
		{"openapi 3.A", t.Context(), []byte("openapi: 3.A\ninfo: {title: x, version: '1'}\npaths: {}\n"), ErrUnsupportedVersion},
		{"no version", t.Context(), []byte("info: {title: x, version: '1'}\npaths: {}\n"), ErrInvalidSpec},
		{"empty", t.Context(), nil, ErrInvalidSpec},
		{"alias bomb", t.Context(), []byte(bomb.String()), ErrInvalidSpec},
		{"JSON list", t.Context(), []byte("[1, 2]"), ErrInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.ctx, tt.data, "inline\x1b[31m.yaml", Options{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load: %v, want %v", err, tt.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "load inline[31m.yaml: ") {
				t.Errorf("error %q does not name the source (sanitized)", msg)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Run("namespace and base URL", func(t *testing.T) {
		api, err := LoadFile(t.Context(), weatherFile, Options{Namespace: "wx", BaseURL: "https://weather.example.com/v2/"})
		if err != nil {
			t.Fatal(err)
		}
		op := operation(t, api, "wx_getWeather")
		if op.API != "wx" || api.Name != "wx" {
			t.Errorf("API name = %q / %q, want wx", api.Name, op.API)
		}
		if op.ServerURL != "https://weather.example.com/v2" {
			t.Errorf("ServerURL = %q, want the base URL without its trailing slash", op.ServerURL)
		}
	})
	t.Run("max description", func(t *testing.T) {
		api, err := LoadFile(t.Context(), weatherFile, Options{MaxDescription: 20})
		if err != nil {
			t.Fatal(err)
		}
		d := operation(t, api, "weather_demo_getWeather").Description
		if d != "Current weather for…" {
			t.Errorf("description = %q, want it cut to 20 runes", d)
		}
		if !hasWarning(api, "weather_demo_getWeather", "description shortened from 85 to 20 characters") {
			t.Errorf("no warning about the shortened description: %q", api.Warnings)
		}
	})
	for _, opts := range []Options{
		{Namespace: "has space"},
		{Namespace: "a.b"},
		{Namespace: strings.Repeat("n", 25)},
		{BaseURL: "ftp://example.com"},
		{BaseURL: "/relative"},
		{BaseURL: "https://"},
		{BaseURL: "https://example.com/?q=1"},
		{MaxDescription: -1},
	} {
		if _, err := LoadFile(t.Context(), weatherFile, opts); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("LoadFile with %+v: %v, want ErrInvalidOptions", opts, err)
		}
	}
}

func TestServers(t *testing.T) {
	api := loadTestdata(t, "servers.json", Options{})
	for name, want := range map[string]string{
		"json_servers_docLevel":  "https://eu.example.com/v2", // variables set to their defaults
		"json_servers_opLevel":   "http://op.example.com:8080/api",
		"json_servers_pathLevel": "https://path.example.com",
	} {
		if got := operation(t, api, name).ServerURL; got != want {
			t.Errorf("%s ServerURL = %q, want %q", name, got, want)
		}
	}
	if !hasWarning(api, "json_servers_docLevel", "needs credentials (apiKey)") {
		t.Errorf("no warning about docLevel's credentials: %q", api.Warnings)
	}
	if hasWarning(api, "json_servers_opLevel", "credentials") || hasWarning(api, "json_servers_pathLevel", "credentials") {
		t.Errorf("warning about credentials for an operation that needs none: %q", api.Warnings)
	}

	rel := loadTestdata(t, "relative_server.yaml", Options{})
	if got := operation(t, rel, "relative_x").ServerURL; got != "" {
		t.Errorf("relative server: ServerURL = %q, want empty", got)
	}
	if !hasWarning(rel, `"/api" is not an http or https URL`, "set a base URL") {
		t.Errorf("no warning about the relative server: %q", rel.Warnings)
	}
	rel = loadTestdata(t, "relative_server.yaml", Options{BaseURL: "http://localhost:8080"})
	if got := operation(t, rel, "relative_x").ServerURL; got != "http://localhost:8080" || len(rel.Warnings) != 0 {
		t.Errorf("with a base URL: ServerURL = %q, warnings %q", got, rel.Warnings)
	}
}

func BenchmarkLoadWeather(b *testing.B) {
	data, err := os.ReadFile(weatherFile)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(context.Background(), data, "weather.yaml", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOddDocuments loads valid but unusual documents that once crashed the
// builder or could: null entries where kin-openapi leaves nil pointers.
func TestOddDocuments(t *testing.T) {
	const head = "openapi: 3.0.0\ninfo: {title: Odd, version: '1'}\nservers: [{url: 'https://odd.example.com'}]\npaths:\n"
	tests := []struct {
		name, paths string
		check       func(t *testing.T, op *Operation)
	}{
		{"null body media type", "  /:\n    post:\n      requestBody:\n        content:\n          application/json:\n      responses: {'200': {description: A}}\n",
			func(t *testing.T, op *Operation) {
				if op.Body != nil {
					t.Errorf("body = %+v, want none", op.Body)
				}
			}},
		{"null parameter content", "  /:\n    get:\n      parameters:\n        - name: q\n          in: query\n          content:\n            application/json:\n      responses: {'200': {description: A}}\n",
			func(t *testing.T, op *Operation) {
				if len(op.Params) != 1 || op.Params[0].MediaType != "" {
					t.Errorf("params = %+v", op.Params)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, err := Load(t.Context(), []byte(head+tt.paths), "odd.yaml", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(api.Operations) != 1 {
				t.Fatalf("%d operations, want 1 (warnings %q)", len(api.Operations), api.Warnings)
			}
			compile(t, api.Operations[0].InputSchema)
			tt.check(t, api.Operations[0])
		})
	}
}

// TestSkippedOperations: an operation that cannot be a tool is left out with
// a warning saying why, never silently.
func TestSkippedOperations(t *testing.T) {
	doc := `openapi: 3.2.0
info: {title: Skips, version: '1'}
servers: [{url: 'https://skip.example.com'}]
paths:
  /ok:
    get: {operationId: ok, responses: {'200': {description: A}}}
  /with space:
    get: {operationId: spaced, responses: {'200': {description: A}}}
  /query?x={x}:
    get: {operationId: queried, responses: {'200': {description: A}}}
  /custom:
    additionalOperations:
      PURGE: {operationId: purge, responses: {'200': {description: A}}}
      "X.Y": {operationId: bad, responses: {'200': {description: A}}}
`
	api, err := Load(t.Context(), []byte(doc), "skips.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, op := range api.Operations {
		names = append(names, op.Method+" "+op.Name)
	}
	if want := []string{"PURGE skips_purge", "GET skips_ok"}; !cmp.Equal(names, want) {
		t.Errorf("operations %q, want %q", names, want)
	}
	for _, w := range []string{
		`GET /with space: skipped: path has the character ' '`,
		`GET /query?x={x}: skipped: the path's query names {x}, which no parameter describes`,
		`X.Y /custom: skipped: method "X.Y" is not an HTTP method token`,
	} {
		if !hasWarning(api, w) {
			t.Errorf("no warning %q in %q", w, api.Warnings)
		}
	}
}

// TestLoadConcurrent: Load keeps no shared state; run with -race.
func TestLoadConcurrent(t *testing.T) {
	data, err := os.ReadFile("../testdata/catalog/composition.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load(t.Context(), data, "c.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			got, err := Load(context.Background(), data, "c.yaml", Options{})
			if err == nil && !cmp.Equal(got, want) {
				err = errors.New("concurrent load differs")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
