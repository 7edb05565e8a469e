package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"

	"github.com/tollhq/toll/tools/money"
)

const bookshop = "../testdata/catalog/bookshop.yaml"

// TestConfigYAML decodes an API's entry of toll.yaml as the program will:
// every documented key lands in its field, and a misspelt one is an error.
func TestConfigYAML(t *testing.T) {
	const doc = `
apis:
  - spec: ./specs/weather.yaml
    namespace: wx
    base_url: https://weather.example.com/v2
    max_description: 500
    prices:
      getWeather: "0.002"
      "POST /reports": "0.01"
    credentials:
      - {in: header, name: X-Api-Key, env: WEATHER_API_KEY}
      - in: query
        name: key
        env: WEATHER_KEY
    include:
      tags: [weather]
      operation_ids: ["get*"]
    exclude:
      methods: [DELETE]
      paths: [/internal]
    allow_external_refs: true
    allow_insecure_http: true
  - spec: https://api.example.com/openapi.json
`
	var cfg struct {
		APIs []SourceConfig `yaml:"apis"`
	}
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	want := []SourceConfig{
		{Spec: "./specs/weather.yaml", Options: Options{
			Namespace:      "wx",
			BaseURL:        "https://weather.example.com/v2",
			MaxDescription: 500,
			Prices:         map[string]money.Amount{"getWeather": money.USDC(2000), "POST /reports": money.USDC(10000)},
			Credentials:    []Credential{{In: "header", Name: "X-Api-Key", Env: "WEATHER_API_KEY"}, {In: "query", Name: "key", Env: "WEATHER_KEY"}},
			Include:        Filter{Tags: []string{"weather"}, OperationIDs: []string{"get*"}},
			Exclude:        Filter{Methods: []string{"DELETE"}, Paths: []string{"/internal"}},

			AllowExternalRefs: true,
			AllowInsecureHTTP: true,
		}},
		{Spec: "https://api.example.com/openapi.json"},
	}
	if diff := cmp.Diff(want, cfg.APIs, cmpMoney); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	for _, sc := range cfg.APIs {
		if err := sc.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
	}

	dec = yaml.NewDecoder(strings.NewReader("apis:\n  - spec: a.yaml\n    namspace: x\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err == nil || !strings.Contains(err.Error(), "namspace") {
		t.Errorf("misspelt key: %v, want an error naming it", err)
	}
}

// TestConfigErrors: each bad value is an error that names the key and says
// what to write.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   SourceConfig
		parts []string
	}{
		{"no spec", SourceConfig{}, []string{"spec: missing", "https URL"}},
		{"namespace", SourceConfig{Spec: "a", Options: Options{Namespace: "has space"}}, []string{"namespace:", `"has space"`, "letters, digits"}},
		{"base_url", SourceConfig{Spec: "a", Options: Options{BaseURL: "ftp://x"}}, []string{"base_url:", "https://api.example.com/v1"}},
		{"max_description", SourceConfig{Spec: "a", Options: Options{MaxDescription: -2}}, []string{"max_description:", "leave it out"}},
		{"price amount", SourceConfig{Spec: "a", Options: Options{Prices: map[string]money.Amount{"getX": money.USDC(-1)}}}, []string{`prices."getX":`, `"0.01"`}},
		{"price key", SourceConfig{Spec: "a", Options: Options{Prices: map[string]money.Amount{" ": money.USDC(1)}}}, []string{"prices.", `"METHOD /path"`}},
		{"price method", SourceConfig{Spec: "a", Options: Options{Prices: map[string]money.Amount{"G.T /x": money.USDC(1)}}}, []string{"prices.", "GET /path"}},
		{"credential in", SourceConfig{Spec: "a", Options: Options{Credentials: []Credential{{In: "cookie", Name: "a", Env: "A"}}}}, []string{"credentials[0].in:", `"header" or "query"`}},
		{"credential name", SourceConfig{Spec: "a", Options: Options{Credentials: []Credential{{In: "header", Name: "X Key", Env: "A"}}}}, []string{"credentials[0].name:", "header name"}},
		{"credential env", SourceConfig{Spec: "a", Options: Options{Credentials: []Credential{{In: "query", Name: "k", Env: "1KEY"}}}}, []string{"credentials[0].env:", "environment variable"}},
		{"credential twice", SourceConfig{Spec: "a", Options: Options{Credentials: []Credential{{In: "header", Name: "X-Key", Env: "A"}, {In: "header", Name: "x-key", Env: "B"}}}}, []string{"credentials[1]:", "credentials[0]"}},
		{"include tag", SourceConfig{Spec: "a", Options: Options{Include: Filter{Tags: []string{""}}}}, []string{"include.tags[0]:", "remove it"}},
		{"exclude glob", SourceConfig{Spec: "a", Options: Options{Exclude: Filter{OperationIDs: []string{"get["}}}}, []string{"exclude.operation_ids[0]:", "path.Match"}},
		{"exclude method", SourceConfig{Spec: "a", Options: Options{Exclude: Filter{Methods: []string{"GET /"}}}}, []string{"exclude.methods[0]:", "GET or DELETE"}},
		{"include path", SourceConfig{Spec: "a", Options: Options{Include: Filter{Paths: []string{"admin"}}}}, []string{"include.paths[0]:", "/admin"}},
		{"probe", SourceConfig{Spec: "a", Options: Options{Probes: []ProbedPrice{{Operation: "x", Amount: money.USDC(-1)}}}}, []string{"probed price 0 (x)", "negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Check()
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Check() = %v, want ErrInvalidOptions", err)
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("%q does not contain %q", err, p)
				}
			}
			if tt.cfg.Spec != "" {
				// The same error from loading, naming the source.
				if _, err := LoadFile(t.Context(), bookshop, tt.cfg.Options); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "load "+bookshop) {
					t.Errorf("LoadFile: %v", err)
				}
			}
		})
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name       string
		include    Filter
		exclude    Filter
		want       []string
		leftOut    []string // warnings expected
		notLeftOut bool
	}{
		{name: "none", want: []string{"adminStats", "listBooks", "addBook", "deleteBook", "getBook", "health"}, notLeftOut: true},
		{name: "exclude a tag", exclude: Filter{Tags: []string{"ADMIN"}}, want: []string{"listBooks", "getBook", "health"},
			leftOut: []string{"GET /admin/stats: left out: exclude tags ADMIN", "POST /books: left out: exclude tags ADMIN"}},
		{name: "exclude method and glob", exclude: Filter{Methods: []string{"delete"}, OperationIDs: []string{"admin*", "he?lth"}}, want: []string{"listBooks", "addBook", "getBook"},
			leftOut: []string{"DELETE /books/{isbn}: left out: exclude methods DELETE", "GET /health: left out: exclude operation_ids he?lth"}},
		{name: "exclude a path by segments", exclude: Filter{Paths: []string{"/books/"}}, want: []string{"adminStats", "health"}},
		{name: "path prefix is not a segment", exclude: Filter{Paths: []string{"/book"}}, want: []string{"adminStats", "listBooks", "addBook", "deleteBook", "getBook", "health"}},
		{name: "include every list", include: Filter{Tags: []string{"books"}, Methods: []string{"GET"}}, want: []string{"listBooks", "getBook"},
			leftOut: []string{"POST /books: left out: include does not select it", "GET /health: left out: include does not select it"}},
		{name: "include then exclude", include: Filter{Paths: []string{"/books"}}, exclude: Filter{OperationIDs: []string{"*Book"}}, want: []string{"listBooks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := loadTestdata(t, "bookshop.yaml", Options{Namespace: "s", Include: tt.include, Exclude: tt.exclude})
			var got []string
			for _, op := range api.Operations {
				got = append(got, op.OperationID)
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("operations %q, want %q", got, tt.want)
			}
			for _, w := range tt.leftOut {
				if !hasWarning(api, w) {
					t.Errorf("no warning %q in %q", w, api.Warnings)
				}
			}
			// Never silently: every operation is kept or left out with a line.
			left := 0
			for _, w := range api.Warnings {
				if strings.Contains(w, ": left out: ") {
					left++
				}
			}
			if left+len(api.Operations) != 6 {
				t.Errorf("%d operations and %d left out, want 6 in all: %q", len(api.Operations), left, api.Warnings)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	creds := []Credential{{In: "header", Name: "x-api-key", Env: "SHOP_KEY"}, {In: "query", Name: "page", Env: "SHOP_PAGE"}}
	api := loadTestdata(t, "bookshop.yaml", Options{Credentials: creds})
	list := operation(t, api, "bookshop_listBooks")
	var args []string
	for _, p := range list.Params {
		args = append(args, p.Arg)
	}
	if want := []string{"q", "genres", "per_page", "Accept-Language", "session"}; !cmp.Equal(args, want) {
		t.Errorf("params %q, want %q (credentials are not arguments)", args, want)
	}
	var schema struct {
		Properties map[string]any
		Required   []string
	}
	if err := json.Unmarshal(list.InputSchema, &schema); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"X-Api-Key", "page"} {
		if _, ok := schema.Properties[k]; ok {
			t.Errorf("%s is an argument: %s", k, list.InputSchema)
		}
	}
	if slices.Contains(schema.Required, "X-Api-Key") {
		t.Errorf("X-Api-Key still required: %s", list.InputSchema)
	}
	for _, op := range api.Operations {
		if !cmp.Equal(op.Credentials, creds) {
			t.Errorf("%s credentials %v, want %v", op.Name, op.Credentials, creds)
		}
	}
	// The names of variables only: no value, whatever the environment.
	t.Setenv("SHOP_KEY", "s3cret-value")
	api = loadTestdata(t, "bookshop.yaml", Options{Credentials: creds})
	all, _ := json.Marshal(api)
	if bytes.Contains(all, []byte("s3cret")) {
		t.Error("a credential's value is in the catalog")
	}
	// The API key satisfies the security scheme: no warning about it.
	if hasWarning(api, "needs credentials") {
		t.Errorf("warning about credentials toll now sends: %q", api.Warnings)
	}
	if !hasWarning(api, `credentials: header "x-api-key" (SHOP_KEY) parameter left out of the arguments of 1 operation(s)`) ||
		!hasWarning(api, `credentials: query "page" (SHOP_PAGE) parameter left out of the arguments of 1 operation(s)`) {
		t.Errorf("no warning about the parameters left out: %q", api.Warnings)
	}
	// An Authorization header credential satisfies HTTP schemes.
	swagger := loadTestdata(t, "swagger2.yaml", Options{Credentials: []Credential{{In: "header", Name: "api_key", Env: "PET_KEY"}}})
	if hasWarning(swagger, "needs credentials") {
		t.Errorf("warning about credentials toll sends: %q", swagger.Warnings)
	}
}

func TestPricePrecedence(t *testing.T) {
	observed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	probe := func(op string, amount int64) ProbedPrice {
		return ProbedPrice{
			Operation: op, Amount: money.USDC(amount), Network: "eip155:8453",
			Asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", PayTo: "0x1111111111111111111111111111111111111111",
			ObservedAt: observed,
		}
	}
	opts := Options{
		Prices: map[string]money.Amount{
			"listBooks":           money.USDC(3000),  // over the spec and a probe
			"post /books":         money.USDC(20000), // by method and path, over a dynamic spec price
			"health":              money.USDC(0),     // a free operation given a price
			"noSuchOperation":     money.USDC(1000000),
			"DELETE /no/such/one": money.USDC(1000000),
		},
		Probes: []ProbedPrice{
			probe("listBooks", 1500),
			probe("GET /books/{isbn}", 2500), // over the spec
			probe("adminStats", 700),         // where the spec has none
			probe("gone", 1),
		},
	}
	api := loadTestdata(t, "bookshop.yaml", opts)
	type price struct {
		Amount, Source, Network, PayTo, Asset string
		Observed                              bool
	}
	got := make(map[string]price)
	for _, op := range api.Operations {
		if p := op.Price; p != nil {
			got[op.OperationID] = price{p.Amount.AtomicString(), p.Source, p.Network, p.PayTo, p.AssetAddress, !p.ObservedAt.IsZero()}
		}
	}
	const probedPayTo, base, usdc = "0x1111111111111111111111111111111111111111", "eip155:8453", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
	want := map[string]price{
		// The config sets the amount; where to pay stays as the probe said.
		"listBooks":  {"3000", PriceFromConfig, base, probedPayTo, usdc, false},
		"addBook":    {"20000", PriceFromConfig, "", "", "", false},
		"health":     {"0", PriceFromConfig, "", "", "", false},
		"getBook":    {"2500", PriceFromProbe, base, probedPayTo, usdc, true},
		"adminStats": {"700", PriceFromProbe, base, probedPayTo, usdc, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prices (-want +got):\n%s", diff)
	}
	for _, w := range []string{
		"bookshop_listBooks (GET /books): price 0.003 USDC from the config in place of 0.0015 USDC from probe",
		"bookshop_addBook (POST /books): price 0.02 USDC from the config in place of 0.01–0.05 USDC from x-payment-info",
		"bookshop_getBook (GET /books/{isbn}): price 0.0025 USDC from a probe in place of 0.002 USDC from x-payment-info",
		`prices: no operation is "noSuchOperation"`,
		`prices: no operation is "DELETE /no/such/one"`,
		`probed price for "gone" matches no operation`,
	} {
		if !hasWarning(api, w) {
			t.Errorf("no warning %q in %q", w, api.Warnings)
		}
	}
	if hasWarning(api, "bookshop_adminStats", "price") {
		t.Errorf("a warning about a price where the spec has none: %q", api.Warnings)
	}
}

// TestMaxResultBytes: an entry's max_result_bytes is read from YAML and kept in the
// entry; a negative one is an error that names the key.
func TestMaxResultBytes(t *testing.T) {
	cases := []struct {
		doc       string
		want      int
		wantError string // "" means Check passes
	}{
		{doc: "spec: a.yaml\nmax_result_bytes: 400000\n", want: 400000},
		{doc: "spec: a.yaml\n", want: 0},
		{doc: "spec: a.yaml\nmax_result_bytes: -1\n", want: -1, wantError: "max_result_bytes: -1 is negative"},
	}
	for _, tc := range cases {
		var sc SourceConfig
		dec := yaml.NewDecoder(strings.NewReader(tc.doc))
		dec.KnownFields(true)
		if err := dec.Decode(&sc); err != nil {
			t.Fatalf("%q: %v", tc.doc, err)
		}
		if sc.MaxResultBytes != tc.want {
			t.Errorf("%q: MaxResultBytes %d, want %d", tc.doc, sc.MaxResultBytes, tc.want)
		}
		err := sc.Check()
		switch {
		case tc.wantError == "" && err != nil:
			t.Errorf("%q: Check: %v", tc.doc, err)
		case tc.wantError != "" && (!errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.wantError)):
			t.Errorf("%q: Check = %v, want ErrInvalidOptions saying %q", tc.doc, err, tc.wantError)
		}
	}
}
