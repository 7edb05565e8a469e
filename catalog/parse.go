package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v4"
)

// document is a parsed, validated OpenAPI 3 document on its way to tools.
type document struct {
	doc    *openapi3.T
	format string   // "OpenAPI 3.0.3", "Swagger 2.0"
	notes  []string // about the whole document: what parsing changed
}

// origin says where a document came from.
type origin struct {
	source string   // as the caller named it: a path or a URL
	base   *url.URL // the URL a spec was fetched from: relative server URLs resolve against it; nil otherwise
	file   string   // the absolute path of a spec file: external $refs resolve in its folder; "" otherwise
	one    bool     // the document is narrowed to one operation (lazy.go): its $ref work is bounded per operation
}

// specKind is what a document is, from a look at its top level.
type specKind int

const (
	kindOpenAPI specKind = iota // also anything unrecognized: kin-openapi says what is wrong
	kindSwagger
	kindDiscovery
)

var (
	yamlSwagger = regexp.MustCompile(`(?m)^["']?swagger["']?[ \t]*:`)
	yamlOpenAPI = regexp.MustCompile(`(?m)^["']?openapi["']?[ \t]*:`)
)

// sniff tells an OpenAPI 3 document, a Swagger 2 document and an x402
// discovery response apart by their top-level keys, without decoding them.
// For a JSON object it also returns its top-level members.
func sniff(data []byte) (specKind, []member) {
	if isObject(data) {
		var top []member
		keys := make(map[string]bool)
		err := members(data, func(name string, value []byte) error {
			top = append(top, member{name, value})
			keys[name] = true
			return nil
		})
		if err != nil {
			return kindOpenAPI, nil
		}
		switch {
		case keys["openapi"]:
			return kindOpenAPI, top
		case keys["swagger"]:
			return kindSwagger, top
		case keys["x402Version"] && (keys["items"] || keys["resources"]):
			return kindDiscovery, top
		}
		return kindOpenAPI, top
	}
	if !yamlOpenAPI.Match(data) && yamlSwagger.Match(data) {
		return kindSwagger, nil
	}
	return kindOpenAPI, nil
}

// member is one member of a JSON object, its value as raw bytes.
type member struct {
	name  string
	value []byte
}

// parse reads and validates an OpenAPI 3 or Swagger 2 document. External
// $refs are refused unless opts.AllowExternalRefs is set and the document is
// a file, and then only files in its folder are read (see newLoader).
// kind and top are what sniff said of data.
func parse(ctx context.Context, data []byte, kind specKind, top []member, o origin, opts Options) (d *document, err error) {
	// kin-openapi is a large parser handed untrusted input; should it panic
	// on some document, that document is invalid, not toll broken.
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("%w: the parser failed on this document: %s", ErrInvalidSpec, oneLine(fmt.Sprint(r)))
		}
	}()
	if opts.AllowExternalRefs && o.file == "" {
		return nil, fmt.Errorf("%w: allow_external_refs: applies to spec files and folders only; bundle a spec read from a URL into one document", ErrInvalidOptions)
	}
	l, err := newLoader(ctx, o, opts)
	if err != nil {
		return nil, err
	}
	if kind == kindSwagger {
		if err := checkRefs(top, data); err != nil {
			return nil, err
		}
		return parseSwagger(ctx, data, l, o)
	}

	doc, notes, err := loadOpenAPI3(ctx, l, data, top, o, opts)
	if err != nil {
		return nil, err
	}
	switch {
	case doc.OpenAPI == "":
		return nil, fmt.Errorf("%w: no openapi version field", ErrInvalidSpec)
	case !openAPI3.MatchString(doc.OpenAPI):
		return nil, fmt.Errorf("%w: openapi %q (toll reads OpenAPI 3.0 and 3.1, and Swagger 2.0)", ErrUnsupportedVersion, clip(doc.OpenAPI))
	}
	return &document{doc: doc, format: "OpenAPI " + clip(doc.OpenAPI), notes: notes}, nil
}

// loadOpenAPI3 decodes an OpenAPI 3 document and resolves its $refs. With
// allow_external_refs, kin-openapi's loader reads it whole (following
// $refs to files beside it). Otherwise it takes the fast path, as JSON (a
// YAML document is converted first): JSON Schema style references to $defs
// are rewritten as components, the parts toll never reads are dropped, every
// $ref is made one kin-openapi can follow (fixRefs), and the rest is split
// with the scanner and decoded in parallel, a part that cannot be decoded
// costing only itself. notes say what was changed.
func loadOpenAPI3(ctx context.Context, l *openapi3.Loader, data []byte, top []member, o origin, opts Options) (*openapi3.T, []string, error) {
	var notes []string
	if bytes.Contains(data, []byte("#/$defs/")) {
		// Read the rewritten document as YAML (a superset of JSON).
		rewritten, defNotes, err := rewriteLocalDefs(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s", ErrInvalidSpec, parseReason(err))
		}
		data, top, notes = rewritten, nil, defNotes
	}
	if opts.AllowExternalRefs {
		if err := checkRefs(top, data); err != nil {
			return nil, nil, err
		}
		doc, err := loadKin(l, data, o)
		return doc, notes, err
	}
	if top == nil {
		var err error
		if top, err = yamlMembers(data); err != nil {
			return nil, nil, fmt.Errorf("%w: %s", ErrInvalidSpec, parseReason(err))
		}
	}
	// The parts toll never reads are dropped before kin-openapi decodes
	// the rest.
	if pruned, ok := prune(top); ok {
		top = pruned
	}
	top, refNotes := fixRefs(top)
	notes = append(notes, refNotes...)
	if err := o.checkRefs(top); err != nil {
		return nil, nil, err
	}
	doc, decodeNotes, err := decodeJSON(ctx, top)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("%w: %s", ErrInvalidSpec, oneLine(strings.TrimPrefix(err.Error(), "json: ")))
	}
	notes = append(notes, decodeNotes...)
	if err := l.ResolveRefsIn(doc, nil); err != nil {
		return nil, nil, refError(err)
	}
	return doc, notes, nil
}

// yamlMembers converts a YAML document (or JSON that is not an object) to
// JSON and returns its top-level members.
func yamlMembers(data []byte) ([]member, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return nil, err
	}
	if !isObject(js) {
		return nil, errors.New("the document is not an object")
	}
	var top []member
	err = members(js, func(name string, value []byte) error {
		top = append(top, member{name, value})
		return nil
	})
	return top, err
}

// checkRefs bounds the work of resolving the document's $refs (see
// checkRefWork): from the top-level members of a JSON document, else from
// YAML data.
func checkRefs(top []member, data []byte) error {
	if top != nil {
		return checkRefWork(jsonRefGraph(top))
	}
	g, _ := yamlRefGraph(data)
	return checkRefWork(g)
}

// loadKin has kin-openapi decode data (YAML, or JSON) and resolve its
// references.
func loadKin(l *openapi3.Loader, data []byte, o origin) (*openapi3.T, error) {
	var doc *openapi3.T
	var err error
	if o.file != "" && l.ReadFromURIFunc != nil {
		doc, err = l.LoadFromDataWithPath(data, &url.URL{Path: filepath.ToSlash(o.file)})
	} else {
		doc, err = l.LoadFromData(data)
	}
	if err != nil {
		return nil, refError(err)
	}
	return doc, nil
}

// refError words a loader error: a refused external $ref, or the parser's
// reason.
func refError(err error) error {
	var ext *openapi3.DisallowedExternalRefError
	var refused *refusedRefError
	switch {
	case errors.As(err, &ext):
		return fmt.Errorf("%w: %q (toll reads one self-contained document; bundle it, or set allow_external_refs for files in the spec's folder)", ErrExternalRef, clip(ext.Ref))
	case errors.As(err, &refused):
		return fmt.Errorf("%w: %s", ErrExternalRef, refused.msg)
	}
	return fmt.Errorf("%w: %s", ErrInvalidSpec, parseReason(err))
}

// parseSwagger converts a Swagger 2.0 document to OpenAPI 3.0 with
// kin-openapi's openapi2conv.
func parseSwagger(ctx context.Context, data []byte, l *openapi3.Loader, o origin) (*document, error) {
	var d2 openapi2.T
	if err := openapi2.UnmarshalFromData(data, &d2); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidSpec, parseReason(err))
	}
	if !strings.HasPrefix(d2.Swagger, "2.") && d2.Swagger != "2" {
		return nil, fmt.Errorf("%w: swagger %q (toll reads Swagger 2.0, OpenAPI 3.0 and 3.1)", ErrUnsupportedVersion, clip(d2.Swagger))
	}
	var loc *url.URL
	if o.file != "" && l.ReadFromURIFunc != nil {
		loc = &url.URL{Path: filepath.ToSlash(o.file)}
	}
	doc, err := openapi2conv.ToV3WithLoader(&d2, l, loc)
	if err != nil {
		var ext *openapi3.DisallowedExternalRefError
		var refused *refusedRefError
		if errors.As(err, &ext) || errors.As(err, &refused) {
			return nil, refError(err)
		}
		return nil, fmt.Errorf("%w: converting Swagger 2.0 to OpenAPI 3: %s", ErrInvalidSpec, oneLine(err.Error()))
	}
	return &document{
		doc:    doc,
		format: "Swagger " + clip(d2.Swagger),
		notes:  []string{fmt.Sprintf("converted from Swagger %s to OpenAPI %s with kin-openapi's openapi2conv", clip(d2.Swagger), doc.OpenAPI)},
	}, nil
}

// openAPI3 matches the versions toll reads: 3.x and 3.x.y.
var openAPI3 = regexp.MustCompile(`^3\.[0-9]+(\.[0-9]+)?$`)

// parseReason shortens a kin-openapi parse error to its cause: the YAML
// error when the document is not JSON.
func parseReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "failed to unmarshal data: ")
	if _, y, ok := strings.Cut(s, "yaml error: "); ok {
		s = y
	}
	return oneLine(s)
}

// Limits on what external $refs may read.
const (
	maxExternalFiles = 256
)

// refusedRefError is an external $ref toll will not follow.
type refusedRefError struct{ msg string }

func (e *refusedRefError) Error() string { return e.msg }

// newLoader returns a kin-openapi loader for one document. By default it
// follows no external $ref. With opts.AllowExternalRefs, for a spec file, it
// reads the files that relative $refs name, and only those that are regular
// files inside the spec's folder (symbolic links resolved), at most
// maxExternalFiles of them and Options.MaxSpecBytes in all: never a URL, never an
// absolute path, never a path that leaves the folder with "..".
func newLoader(ctx context.Context, o origin, opts Options) (*openapi3.Loader, error) {
	l := openapi3.NewLoader()
	l.Context = ctx
	l.IsExternalRefsAllowed = false
	if !opts.AllowExternalRefs || o.file == "" {
		return l, nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(o.file))
	if err != nil {
		return nil, fmt.Errorf("allow_external_refs: %w", unwrapPathError(err))
	}
	joined := make(map[string]bool) // paths reached through a relative $ref
	var files int
	var total int64
	l.JoinFunc = func(base, rel *url.URL) *url.URL {
		if base == nil {
			return rel
		}
		u := *base
		u.Path = path.Join(path.Dir(base.Path), rel.Path)
		joined[u.Path] = true
		return &u
	}
	l.ReadFromURIFunc = func(_ *openapi3.Loader, loc *url.URL) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if loc.Scheme != "" || loc.Host != "" {
			return nil, &refusedRefError{fmt.Sprintf("%q: toll never follows a $ref to a URL; bundle the spec", clip(loc.Redacted()))}
		}
		if !joined[loc.Path] {
			return nil, &refusedRefError{fmt.Sprintf("%q: only relative $refs to files in the spec's folder are followed", clip(loc.Path))}
		}
		p, err := filepath.EvalSymlinks(filepath.FromSlash(loc.Path))
		if err != nil {
			return nil, &refusedRefError{fmt.Sprintf("%q: %v", clip(loc.Path), unwrapPathError(err))}
		}
		if rel, err := filepath.Rel(dir, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			return nil, &refusedRefError{fmt.Sprintf("%q is outside the spec's folder", clip(loc.Path))}
		}
		if files++; files > maxExternalFiles {
			return nil, &refusedRefError{fmt.Sprintf("more than %d files referenced", maxExternalFiles)}
		}
		data, err := readFileCapped(p, opts.maxSpecBytes()-total, true)
		if err != nil {
			return nil, &refusedRefError{fmt.Sprintf("%q: %v", clip(loc.Path), err)}
		}
		total += int64(len(data))
		return data, nil
	}
	return l, nil
}

// readFileCapped reads a file of at most limit bytes, refusing a larger
// regular file by its size before reading it, and anything else once limit
// bytes have been read. regular refuses what is not a regular file.
func readFileCapped(name string, limit int64, regular bool) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, unwrapPathError(err)
	}
	switch {
	case fi.IsDir():
		return nil, errors.New("is a directory, not a spec file")
	case regular && !fi.Mode().IsRegular():
		return nil, errors.New("is not a regular file")
	case fi.Mode().IsRegular() && fi.Size() > limit:
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, fi.Size(), limit)
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(fi.Size(), limit)+bytes.MinRead)) // a file is read without growing the buffer
	_, err = buf.ReadFrom(io.LimitReader(f, limit+1))
	data := buf.Bytes()
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}

// yamlLoad decodes YAML (or JSON) into a node tree; the YAML library
// refuses alias bombs and documents nested too deeply.
func yamlLoad(data []byte) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	return &root, nil
}
