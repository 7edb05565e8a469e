package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// defaultFetchTimeout bounds fetching a spec from a URL, body included.
const defaultFetchTimeout = 30 * time.Second

// maxRedirects is how many redirects a fetch follows.
const maxRedirects = 10

// LoadSource loads every API of one source: a spec file, a folder, or a
// URL.
//
// A folder means every *.yaml, *.yml and *.json file in it, in path
// order, hidden files aside, and those of its subfolders that are specs
// (subfolders commonly hold the fragments of a split spec, which are not
// specs themselves: a file there is read only when it starts as an
// OpenAPI, Swagger or discovery document does). APIs.guru's directory
// nests its specs this way. A URL must be https, or http to a loopback host
// (127.0.0.0/8, ::1, localhost); it is fetched with Options.HTTPClient
// (default: a 30 s timeout), following redirects only to such URLs, and
// refused beyond MaxSpecBytes. A relative server URL in a fetched spec is
// resolved against the spec's URL. A URL with no path, or the path "/", is
// a service's origin: toll looks for its spec where services publish one
// (see originPaths), takes the first that loads, and names it as the API's
// Source; when none does, the error says each URL it tried and what it
// answered.
//
// It returns the APIs that loaded. When some spec of a folder does not
// load, the error says which, one line per spec, and the others are still
// returned. Namespaces and tool names are made distinct as LoadAll does.
func LoadSource(ctx context.Context, source string, opts Options) ([]*API, error) {
	cat, errs := LoadAll(ctx, []SourceConfig{{Spec: source, Options: opts}})
	return cat.APIs, errors.Join(errs...)
}

// isURL reports whether a source is meant as a URL rather than a path.
func isURL(source string) bool {
	scheme, rest, ok := strings.Cut(source, "://")
	return ok && rest != "" && len(scheme) > 1 && !strings.ContainsAny(scheme, `/\.`)
}

// prepareSource reads the documents of one source. It returns one error per
// spec that cannot be read, naming it.
func prepareSource(ctx context.Context, source string, opts Options) ([]*prepared, []error) {
	if isURL(source) {
		p, err := prepareURL(ctx, source, opts)
		if err != nil {
			return nil, []error{err}
		}
		return []*prepared{p}, nil
	}
	fi, err := os.Stat(source)
	if err != nil {
		return nil, []error{loadError(source, unwrapPathError(err))}
	}
	if fi.IsDir() {
		return prepareFolder(ctx, source, opts)
	}
	p, err := prepareFile(ctx, source, opts)
	if err != nil {
		return nil, []error{loadError(source, err)}
	}
	return []*prepared{p}, nil
}

// loadError says which spec could not be loaded, and why.
func loadError(name string, err error) error {
	return fmt.Errorf("load %s: %w", sanitizeLine(name), err)
}

// prepareURL fetches and prepares a spec given as a URL.
func prepareURL(ctx context.Context, source string, opts Options) (*prepared, error) {
	u, err := url.Parse(source)
	if err != nil {
		return nil, loadError(source, fmt.Errorf("%w: not a URL", ErrURLNotAllowed))
	}
	name := u.Redacted()
	if opts.AllowExternalRefs {
		return nil, loadError(name, fmt.Errorf("%w: allow_external_refs: applies to spec files and folders only; bundle a spec read from a URL into one document", ErrInvalidOptions))
	}
	if isOrigin(u) {
		return prepareOrigin(ctx, u, opts)
	}
	data, final, err := fetch(ctx, u, opts.HTTPClient, opts.maxSpecBytes())
	if err != nil {
		return nil, loadError(name, err)
	}
	p, err := prepare(ctx, data, origin{source: name, base: final}, opts)
	if err != nil {
		return nil, loadError(name, err)
	}
	return p, nil
}

// originPaths are where toll looks for the spec of a service given by its
// origin, in order: the OpenAPI document paid services publish at
// /openapi.json, the same under /.well-known/, then the YAML and Swagger 2.0
// names.
func originPaths() []string {
	return []string{"/openapi.json", "/.well-known/openapi.json", "/openapi.yaml", "/swagger.json"}
}

// isOrigin reports whether u names a service rather than a document: no
// path (or "/"), no query, no fragment.
func isOrigin(u *url.URL) bool {
	return (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery && u.Opaque == ""
}

// maxOriginReason caps what the error of prepareOrigin says of one URL.
const maxOriginReason = 160

// prepareOrigin looks for the spec of the service at origin u at each of
// originPaths and prepares the first that loads. Its error names every URL
// it tried and what each answered.
func prepareOrigin(ctx context.Context, u *url.URL, opts Options) (*prepared, error) {
	if err := checkURL(u); err != nil {
		return nil, loadError(u.Redacted(), err)
	}
	var tried []string
	for _, path := range originPaths() {
		c := *u
		c.Path, c.RawPath = path, ""
		name := c.Redacted()
		data, final, err := fetch(ctx, &c, opts.HTTPClient, opts.maxSpecBytes())
		if err == nil {
			var p *prepared
			if p, err = prepare(ctx, data, origin{source: name, base: final}, opts); err == nil {
				return p, nil
			}
		}
		if ctx.Err() != nil || errors.Is(err, ErrInvalidOptions) {
			return nil, loadError(name, err)
		}
		reason, _ := capRunes(oneLine(err.Error()), maxOriginReason)
		tried = append(tried, name+" ("+reason+")")
	}
	return nil, loadError(u.Redacted(), fmt.Errorf("%w: no spec found at this origin; tried %s; give the spec's own URL", ErrFetch, strings.Join(tried, ", ")))
}

// Bounds of a folder of specs: how deep its subfolders are read, and how
// many spec files it may hold.
const (
	maxFolderDepth = 8
	maxFolderFiles = 20_000
)

// prepareFolder prepares the spec files in a folder and its subfolders (as
// APIs.guru's directory nests them: amazonaws.com/ec2.json), in path order,
// with one error per file that cannot be read. Hidden files and folders,
// and node_modules, are skipped; symbolic links to folders are not
// followed.
func prepareFolder(ctx context.Context, dir string, opts Options) ([]*prepared, []error) {
	paths, err := specFiles(dir)
	if err != nil {
		return nil, []error{loadError(dir, err)}
	}
	if len(paths) == 0 {
		return nil, []error{loadError(dir, errors.New("the folder holds no *.yaml, *.yml or *.json file"))}
	}
	// The files are independent: they are read on every CPU, in order.
	type read struct {
		p   *prepared
		err error
	}
	n := workers(len(paths), 1)
	bufs := make([][]byte, n) // each goroutine's bytes, reused from file to file
	skipped := make([]bool, len(paths))
	reads, _ := parallelMap(ctx, len(paths), n, func(w, i int) read {
		if filepath.Dir(paths[i]) != filepath.Clean(dir) && !specLike(paths[i]) {
			skipped[i] = true // a fragment of a split spec, or another file
			return read{}
		}
		p, err := prepareFileInto(ctx, paths[i], opts, &bufs[w])
		return read{p, err}
	})
	var out []*prepared
	var errs []error
	for i, r := range reads {
		if skipped[i] {
			continue
		}
		if r.p == nil && r.err == nil { // not started: ctx ended
			r.err = ctx.Err()
		}
		if r.err != nil {
			errs = append(errs, loadError(paths[i], r.err))
			continue
		}
		out = append(out, r.p)
	}
	return out, errs
}

// specLike reports whether a file starts as a spec does: its first
// kilobytes name openapi, swagger or x402Version at the top.
func specLike(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // prepareFileInto says what is wrong
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	return yamlOpenAPI.Match(head) || yamlSwagger.Match(head) ||
		bytes.Contains(head, []byte(`"openapi"`)) || bytes.Contains(head, []byte(`"swagger"`)) || bytes.Contains(head, []byte(`"x402Version"`))
}

// specFiles lists the spec files of a folder and its subfolders, in path
// order (see prepareFolder).
func specFiles(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return unwrapPathError(err)
		}
		name := d.Name()
		if path == dir {
			return nil
		}
		if d.IsDir() {
			depth := strings.Count(strings.TrimPrefix(path, dir), string(filepath.Separator))
			if strings.HasPrefix(name, ".") || name == "node_modules" || depth > maxFolderDepth {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(name)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		if strings.HasPrefix(name, ".") {
			return nil
		}
		if fi, err := os.Stat(path); err != nil || fi.IsDir() {
			return nil // a link to a folder, or to nothing
		}
		if len(paths) == maxFolderFiles {
			return fmt.Errorf("more than %d spec files in the folder and its subfolders; give a smaller folder", maxFolderFiles)
		}
		paths = append(paths, path)
		return nil
	})
	return paths, err
}

// checkURL accepts https URLs, and http URLs to a loopback host.
func checkURL(u *url.URL) error {
	switch {
	case u.Host == "":
		return fmt.Errorf("%w: %q has no host", ErrURLNotAllowed, clip(u.Redacted()))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%w: %s is http to a host that is not this machine; use https", ErrURLNotAllowed, clip(u.Redacted()))
	}
	return fmt.Errorf("%w: %s is not an https URL", ErrURLNotAllowed, clip(u.Redacted()))
}

// InsecureHTTP reports whether rawURL is plain http to a host that is not
// this machine, where what is sent travels in clear text. This machine is
// the name localhost, an address of 127.0.0.0/8, or ::1. localhost is taken
// at its word, not resolved: RFC 6761 (section 6.3) reserves it for the
// loopback address, a lookup would be network traffic of its own, and its
// answer would not bind the later connection anyway; only who can edit this
// machine's hosts file can send it elsewhere. A URL that does not parse is
// not http, and not insecure by this test.
func InsecureHTTP(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Scheme == "http" && !loopback(u.Hostname())
}

// loopback reports whether host is this machine: localhost, 127.0.0.0/8 or
// ::1 (see InsecureHTTP).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fetchClient is the client toll fetches specs and Bazaar pages with: a
// copy of client (nil: none) with the fetch timeout where it sets none,
// following redirects only to URLs toll fetches itself, and at most
// maxRedirects of them.
func fetchClient(client *http.Client) *http.Client {
	c := &http.Client{Timeout: defaultFetchTimeout}
	if client != nil {
		cc := *client
		c = &cc
		if c.Timeout == 0 {
			c.Timeout = defaultFetchTimeout
		}
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkURL(req.URL); err != nil {
			return fmt.Errorf("redirected: %w", err)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return c
}

// fetch reads a spec of at most limit bytes from a URL. It returns the
// body and the URL it was finally read from.
func fetch(ctx context.Context, u *url.URL, client *http.Client, limit int64) ([]byte, *url.URL, error) {
	if err := checkURL(u); err != nil {
		return nil, nil, err
	}
	c := fetchClient(client)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	req.Header.Set("Accept", "application/json, application/yaml;q=0.9, */*;q=0.5")
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, ErrURLNotAllowed) {
			return nil, nil, errors.Unwrap(err) // the url.Error repeats the URL
		}
		return nil, nil, fmt.Errorf("%w: %s", ErrFetch, fetchReason(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%w: HTTP status %d", ErrFetch, resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, nil, fmt.Errorf("%w: %d bytes, more than %d (max_spec_bytes)", ErrTooLarge, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading the body: %s", ErrFetch, fetchReason(err))
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("%w: more than %d bytes (max_spec_bytes)", ErrTooLarge, limit)
	}
	return data, resp.Request.URL, nil
}

// fetchReason words a client error without the URL it repeats.
func fetchReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out: " + oneLine(err.Error())
	}
	return oneLine(err.Error())
}
