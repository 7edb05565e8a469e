package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// miniSpec is a small valid spec with the given title and servers.
func miniSpec(title, server, opID string) string {
	return fmt.Sprintf("openapi: 3.0.3\ninfo: {title: %q, version: '1'}\nservers: [{url: %q}]\npaths:\n  /%s:\n    get: {operationId: %s, responses: {'200': {description: OK}}}\n", title, server, opID, opID)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func apiNames(apis []*API) []string {
	var out []string
	for _, a := range apis {
		out = append(out, a.Name)
	}
	return out
}

func TestLoadSourceFolder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.yaml"), miniSpec("Beta", "https://b.example.com", "b"))
	writeFile(t, filepath.Join(dir, "a.json"), `{"openapi":"3.0.3","info":{"title":"Alpha","version":"1"},"servers":[{"url":"https://a.example.com"}],"paths":{"/a":{"get":{"operationId":"a","responses":{"200":{"description":"OK"}}}}}}`)
	writeFile(t, filepath.Join(dir, "c.YML"), miniSpec("Gamma", "https://c.example.com", "c"))
	writeFile(t, filepath.Join(dir, "d.yaml"), "openapi: 3.0.3\ninfo: {title: Broken\n")
	writeFile(t, filepath.Join(dir, ".hidden.yaml"), miniSpec("Hidden", "https://h.example.com", "h"))
	writeFile(t, filepath.Join(dir, "notes.txt"), "not a spec")
	writeFile(t, filepath.Join(dir, "sub", "e.yaml"), miniSpec("Nested", "https://e.example.com", "e"))
	writeFile(t, filepath.Join(dir, ".git", "f.yaml"), miniSpec("Hidden Folder", "https://f.example.com", "f"))
	writeFile(t, filepath.Join(dir, "sub", "schemas", "pet.yaml"), "type: object\nproperties: {name: {type: string}}\n") // a fragment of a split spec
	writeFile(t, filepath.Join(dir, "sub", "node_modules", "g.yaml"), miniSpec("Package", "https://g.example.com", "g"))
	if err := os.Mkdir(filepath.Join(dir, "dir.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}

	apis, err := LoadSource(t.Context(), dir, Options{})
	if want := []string{"alpha", "beta", "gamma", "nested"}; !cmp.Equal(apiNames(apis), want) {
		t.Errorf("APIs %q, want %q in path order, subfolders read, hidden files and folders and node_modules aside", apiNames(apis), want)
	}
	if err == nil || !strings.Contains(err.Error(), "load "+filepath.Join(dir, "d.yaml")+": ") || !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("error %v, want one naming d.yaml", err)
	}
	if strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("one spec failed, error has several lines: %q", err)
	}

	empty := t.TempDir()
	if _, err := LoadSource(t.Context(), empty, Options{}); err == nil || !strings.Contains(err.Error(), "holds no *.yaml") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := LoadSource(t.Context(), dir, Options{Namespace: "one"}); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "give each spec its own entry") {
		t.Errorf("a namespace for a folder of several specs: %v", err)
	}
	if _, err := LoadSource(t.Context(), filepath.Join(dir, "missing.yaml"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// specServer serves files by path, and a few misbehaving routes.
func specServer(t *testing.T, tls bool, files map[string]string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for path, body := range files {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
	}
	mux.HandleFunc("/redirect-local", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/specs/openapi.yaml", http.StatusFound)
	})
	mux.HandleFunc("/redirect-away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.com/openapi.yaml", http.StatusFound)
	})
	mux.HandleFunc("/redirect-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1/openapi.yaml", http.StatusFound)
	})
	mux.HandleFunc("/huge-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(100<<20))
		fmt.Fprint(w, "openapi: 3.0.3\n")
	})
	mux.HandleFunc("/huge-streamed", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("# padding line of a huge spec\n", 1<<15))
		for sent := 0; sent <= MaxSpecBytes+len(chunk); sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/never-ends", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "openapi: 3.0.3\ninfo:\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(mux)
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestLoadSourceURL(t *testing.T) {
	files := map[string]string{
		"/specs/openapi.yaml": miniSpec("Served", "/api/v1", "served") + "  /other:\n    get:\n      operationId: other\n      servers: [{url: 'v2'}]\n      responses: {'200': {description: OK}}\n",
		"/swagger.json":       `{"swagger":"2.0","info":{"title":"Hostless","version":"1"},"basePath":"/base","paths":{"/x":{"get":{"operationId":"x","responses":{"200":{"description":"OK"}}}}}}`,
	}
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			srv := specServer(t, tls, files)
			opts := Options{HTTPClient: srv.Client()}
			apis, err := LoadSource(t.Context(), srv.URL+"/specs/openapi.yaml", opts)
			if err != nil {
				t.Fatal(err)
			}
			api := apis[0]
			if api.Source != srv.URL+"/specs/openapi.yaml" {
				t.Errorf("source %q", api.Source)
			}
			// Relative servers resolve against the spec's URL.
			if got, want := operation(t, api, "served_served").ServerURL, srv.URL+"/api/v1"; got != want {
				t.Errorf("server %q, want %q", got, want)
			}
			if got, want := operation(t, api, "served_other").ServerURL, srv.URL+"/specs/v2"; got != want {
				t.Errorf("server %q, want %q", got, want)
			}
			// Swagger 2.0 without a host: the base path on the spec's host.
			apis, err = LoadSource(t.Context(), srv.URL+"/swagger.json", opts)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := apis[0].Operations[0].ServerURL, srv.URL+"/base"; got != want {
				t.Errorf("swagger server %q, want %q", got, want)
			}
			// A redirect to another URL toll would fetch is followed; the
			// spec's URL is where it ended.
			apis, err = LoadSource(t.Context(), srv.URL+"/redirect-local", opts)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := operation(t, apis[0], "served_served").ServerURL, srv.URL+"/api/v1"; got != want {
				t.Errorf("after a redirect: server %q, want %q", got, want)
			}
		})
	}
}

func TestLoadSourceURLRefused(t *testing.T) {
	srv := specServer(t, false, nil)
	short := &http.Client{Timeout: 300 * time.Millisecond}
	tests := []struct {
		name   string
		source string
		opts   Options
		want   error
		parts  []string
	}{
		{"http elsewhere", "http://example.com/openapi.yaml", Options{}, ErrURLNotAllowed, []string{"not this machine", "use https"}},
		{"other scheme", "ftp://127.0.0.1/openapi.yaml", Options{}, ErrURLNotAllowed, []string{"not an https URL"}},
		{"no host", "https:///openapi.yaml", Options{}, ErrURLNotAllowed, []string{"no host"}},
		{"redirect to http elsewhere", srv.URL + "/redirect-away", Options{}, ErrURLNotAllowed, []string{"redirected", "http://example.com/openapi.yaml"}},
		{"redirect to ftp", srv.URL + "/redirect-ftp", Options{}, ErrURLNotAllowed, []string{"redirected"}},
		{"not found", srv.URL + "/nope", Options{}, ErrFetch, []string{"HTTP status 404"}},
		{"declared 100 MB", srv.URL + "/huge-declared", Options{}, ErrTooLarge, []string{"104857600 bytes"}},
		{"streamed past the cap", srv.URL + "/huge-streamed", Options{}, ErrTooLarge, []string{"more than"}},
		{"never ends", srv.URL + "/never-ends", Options{HTTPClient: short}, ErrFetch, []string{"timed out"}},
		{"external refs", srv.URL + "/specs/openapi.yaml", Options{AllowExternalRefs: true}, ErrInvalidOptions, []string{"allow_external_refs", "bundle"}},
		{"user's client redirect policy kept", srv.URL + "/redirect-local", Options{HTTPClient: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("no redirects here")
		}}}, ErrFetch, []string{"no redirects here"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := LoadSource(t.Context(), tt.source, tt.opts)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "load ") || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not one line naming the source: %q", msg)
			}
			for _, p := range tt.parts {
				if !strings.Contains(msg, p) {
					t.Errorf("%q does not contain %q", msg, p)
				}
			}
		})
	}
	// The context ends a fetch too.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := LoadSource(ctx, srv.URL+"/never-ends", Options{}); !errors.Is(err, ErrFetch) {
		t.Errorf("canceled fetch: %v", err)
	}
}

func TestLoadAll(t *testing.T) {
	dir := t.TempDir()
	// Two specs whose titles derive the same namespace, one given a
	// namespace that makes tool names of the other clash.
	writeFile(t, filepath.Join(dir, "one.yaml"), miniSpec("Same Title", "https://one.example.com", "x"))
	writeFile(t, filepath.Join(dir, "two.yaml"), miniSpec("Same Title!", "https://two.example.com", "x"))
	writeFile(t, filepath.Join(dir, "a.yaml"), miniSpec("A", "https://a.example.com", "b_x"))
	writeFile(t, filepath.Join(dir, "ab.yaml"), miniSpec("AB", "https://ab.example.com", "x"))
	sources := []SourceConfig{
		{Spec: filepath.Join(dir, "one.yaml")},
		{Spec: filepath.Join(dir, "two.yaml")},
		{Spec: filepath.Join(dir, "missing.yaml")},
		{Spec: filepath.Join(dir, "a.yaml"), Options: Options{Namespace: "a"}},
		{Spec: filepath.Join(dir, "ab.yaml"), Options: Options{Namespace: "a_b"}},
		{Spec: filepath.Join(dir, "one.yaml"), Options: Options{Namespace: "a"}},
		{Spec: filepath.Join(dir, "two.yaml"), Options: Options{BaseURL: "not a url"}},
	}
	cat, errs := LoadAll(t.Context(), sources)
	suffix := shortHash(filepath.Join(dir, "two.yaml"))[:4]
	if want := []string{"same_title", "same_title_" + suffix, "a", "a_b"}; !cmp.Equal(apiNames(cat.APIs), want) {
		t.Errorf("APIs %q, want %q", apiNames(cat.APIs), want)
	}
	if len(errs) != 3 {
		t.Fatalf("errors %q, want 3", errs)
	}
	for i, want := range []struct {
		err   error
		parts []string
	}{
		{os.ErrNotExist, []string{"missing.yaml"}},
		{ErrNamespaceTaken, []string{"one.yaml", `namespace: "a" is also the namespace of`, "a.yaml", "choose another"}},
		{ErrInvalidOptions, []string{"two.yaml", "base_url"}},
	} {
		if !errors.Is(errs[i], want.err) || strings.ContainsAny(errs[i].Error(), "\n") {
			t.Errorf("error %d %q, want %v on one line", i, errs[i], want.err)
		}
		for _, p := range want.parts {
			if !strings.Contains(errs[i].Error(), p) {
				t.Errorf("error %q does not contain %q", errs[i], p)
			}
		}
	}
	if w := cat.APIs[1].Warnings; len(w) == 0 || !strings.Contains(w[0], "derives the same namespace") {
		t.Errorf("no warning about the namespace: %q", w)
	}
	// a_b_x (a's operation b_x) and a_b_x (a_b's operation x): the later is
	// renamed.
	ops := cat.Operations()
	var got []string
	for _, op := range ops {
		got = append(got, op.Name)
	}
	renamed := withSuffix("a_b_x", shortHash("a_b GET https://ab.example.com/x"))
	if want := []string{"same_title_x", "same_title_" + suffix + "_x", "a_b_x", renamed}; !cmp.Equal(got, want) {
		t.Errorf("tools %q, want %q", got, want)
	}
	if !hasWarning(cat.APIs[3], renamed, "another API has a tool named a_b_x") {
		t.Errorf("no warning about the renamed tool: %q", cat.APIs[3].Warnings)
	}
	// The same sources, the same catalog.
	again, _ := LoadAll(t.Context(), sources)
	if !cmp.Equal(again.Operations(), ops, cmpMoney) {
		t.Error("a second load differs")
	}
	if (*Catalog)(nil).Operations() != nil {
		t.Error("nil catalog has operations")
	}
}

func TestExternalRefs(t *testing.T) {
	split := "../testdata/catalog/split/openapi.yaml"
	if api, err := LoadFile(t.Context(), split, Options{}); err != nil || !hasWarning(api, "allow_external_refs") {
		t.Errorf("by default: %v, want the operations using external $refs skipped, with a warning suggesting allow_external_refs", err)
	}
	api, err := LoadFile(t.Context(), split, Options{AllowExternalRefs: true})
	if err != nil {
		t.Fatal(err)
	}
	checkArgs(t, operation(t, api, "split_spec_addPet"), `{"body":{"name":"Rex","owner":{"email":"a@example.com"}}}`, true)
	checkArgs(t, operation(t, api, "split_spec_listPets"), `{"limit":0}`, false)

	dir := t.TempDir()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret.yaml"), "Secret: {type: object, description: must never be read}\n")
	writeFile(t, filepath.Join(dir, "inside.yaml"), "Fine: {type: object}\n")
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	spec := func(ref string) string {
		return "openapi: 3.0.3\ninfo: {title: Refs, version: '1'}\nservers: [{url: 'https://r.example.com'}]\npaths:\n  /x:\n    post:\n      operationId: x\n      requestBody: {content: {application/json: {schema: {$ref: '" + ref + "'}}}}\n      responses: {'200': {description: OK}}\n"
	}
	tests := []struct{ name, ref, part string }{
		{"url", "https://example.com/schemas.yaml#/Secret", "to a URL"},
		{"absolute path", filepath.Join(dir, "inside.yaml") + "#/Fine", "only relative $refs"},
		{"dot dot", "../" + filepath.Base(outside) + "/secret.yaml#/Secret", "outside the spec's folder"},
		{"symlink out", "link.yaml#/Secret", "outside the spec's folder"},
		{"missing", "nope.yaml#/Secret", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "spec.yaml")
			writeFile(t, file, spec(tt.ref))
			_, err := LoadFile(t.Context(), file, Options{AllowExternalRefs: true})
			if !errors.Is(err, ErrExternalRef) || !strings.Contains(err.Error(), tt.part) {
				t.Errorf("%v, want ErrExternalRef with %q", err, tt.part)
			}
			if err != nil && strings.Contains(err.Error(), "must never be read") {
				t.Error("the secret was read")
			}
		})
	}
	writeFile(t, filepath.Join(dir, "ok.yaml"), spec("inside.yaml#/Fine"))
	if _, err := LoadFile(t.Context(), filepath.Join(dir, "ok.yaml"), Options{AllowExternalRefs: true}); err != nil {
		t.Errorf("a relative ref in the folder: %v", err)
	}
}

// TestLoadSourceOrigin: a URL with no path is a service's origin; toll looks
// for its spec at /openapi.json, /.well-known/openapi.json, /openapi.yaml and
// /swagger.json, takes the first that loads (past a page that is not a
// spec), and, when none does, says every URL it tried and what it answered.
func TestLoadSourceOrigin(t *testing.T) {
	const page = "<!doctype html><html><body>Welcome</body></html>"
	found := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/openapi.json": // a site that answers every path with its home page
			fmt.Fprint(w, page)
		case "/.well-known/openapi.json":
			fmt.Fprint(w, miniSpec("Origin", "/api", "ping"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(found.Close)
	for _, source := range []string{found.URL, found.URL + "/"} {
		apis, err := LoadSource(t.Context(), source, Options{})
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if got, want := apis[0].Source, found.URL+"/.well-known/openapi.json"; got != want {
			t.Errorf("%s: source %q, want %q", source, got, want)
		}
		if got, want := operation(t, apis[0], "origin_ping").ServerURL, found.URL+"/api"; got != want {
			t.Errorf("%s: server %q, want %q (relative to where the spec was found)", source, got, want)
		}
	}

	var mu sync.Mutex
	var asked []string
	none := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/openapi.json":
			fmt.Fprint(w, page)
		case "/swagger.json":
			http.Error(w, "boom", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(none.Close)
	_, err := LoadSource(t.Context(), none.URL, Options{})
	if !errors.Is(err, ErrFetch) {
		t.Fatalf("error %v, want ErrFetch", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"load " + none.URL + ": ",
		"no spec found at this origin; tried " + none.URL + "/openapi.json (invalid OpenAPI document",
		", " + none.URL + "/.well-known/openapi.json (fetch failed: HTTP status 404), " + none.URL + "/openapi.yaml (fetch failed: HTTP status 404), " + none.URL + "/swagger.json (fetch failed: HTTP status 500); give the spec's own URL",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line: %q", msg)
	}
	mu.Lock()
	if want := []string{"/openapi.json", "/.well-known/openapi.json", "/openapi.yaml", "/swagger.json"}; !cmp.Equal(asked, want) {
		t.Errorf("asked for %q, want %q", asked, want)
	}
	mu.Unlock()

	// An origin toll would not fetch is refused before anything is asked;
	// a URL with a path or a query is fetched as it is.
	if _, err := LoadSource(t.Context(), "http://example.com", Options{}); !errors.Is(err, ErrURLNotAllowed) {
		t.Errorf("http origin of another machine: %v", err)
	}
	if _, err := LoadSource(t.Context(), none.URL+"/?spec=1", Options{}); err == nil || strings.Contains(err.Error(), "tried") || !strings.Contains(err.Error(), "HTTP status 404") {
		t.Errorf("a URL with a query: %v", err)
	}
}
