package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

// MaxSpecBytes is the largest document LoadFile and Load accept.
const MaxSpecBytes = 32 << 20

// Options say how a document becomes tools. The zero value is ready to use.
type Options struct {
	// Namespace prefixes every tool name ("weather" → "weather_getForecast").
	// It must match ^[a-zA-Z0-9_-]{1,24}$. "" derives a slug of at most 16
	// characters from info.title ("Weather Demo" → "weather_demo"), or "api".
	Namespace string
	// BaseURL, when set, is where every operation is sent, in place of the
	// document's servers. It must be an absolute http or https URL. "" uses
	// the first server of the operation, its path or the document.
	BaseURL string
	// MaxDescription caps a tool description, in runes. Zero means 1024; it
	// must not be negative.
	MaxDescription int
}

const (
	defaultMaxDescription = 1024
	maxNamespace          = 24 // a Namespace given in Options
	maxDerivedNamespace   = 16 // a namespace derived from info.title
	maxTitle              = 128
)

// API is one loaded document: its operations, ready to be tools.
type API struct {
	Name       string       // the namespace: prefix of every tool name
	Title      string       // info.title, sanitized
	Version    string       // info.version, sanitized
	Source     string       // where the document came from, as given to Load or LoadFile
	Operations []*Operation // sorted by path, then method
	// Warnings say what was changed, shortened or skipped, and why. An
	// operation is never dropped without one.
	Warnings []string
}

// Operation is one HTTP operation, described for a model as a tool.
type Operation struct {
	API         string // the API's Name
	Name        string // tool name: ^[a-zA-Z0-9_-]+$, at most 48 characters, unique within the API
	OperationID string // as in the document ("" when it has none)
	Title       string // the summary, sanitized, one line
	Description string // summary and description, sanitized and capped; the price is not in it (see Price.Line)
	Method      string // upper case
	ServerURL   string // absolute URL without a trailing slash; "" when the document gives none (see API.Warnings)
	Path        string // template, e.g. /weather/{city}
	Params      []Param
	Body        *Body // nil: no request body
	// InputSchema is a JSON Schema 2020-12 object schema of the tool's
	// arguments: each parameter is a property named by its Param.Arg, the
	// request body is the property Body.Arg. It has no $ref, compiles, and
	// refuses arguments it does not name.
	InputSchema json.RawMessage
	Price       *Price // nil: the document advertises no price, and toll pays nothing
}

// Param is one parameter of an operation, in declaration order within its
// location (path, query, header, cookie).
type Param struct {
	Name     string // the name on the wire
	In       string // "path", "query", "header" or "cookie"
	Arg      string // the property of InputSchema holding its value: Name, or a rename when Name is taken or not a valid property name
	Required bool
	// Style and Explode say how an array or object value is serialized
	// (OpenAPI's defaults filled in: form and true for query and cookie,
	// simple and false for path and header).
	Style   string
	Explode bool
	// MediaType is set when the parameter is described by content rather
	// than schema: the value is sent serialized as that media type.
	MediaType string
}

// Body is an operation's request body.
type Body struct {
	Arg       string // the property of InputSchema holding it: "body"
	MediaType string // e.g. "application/json"
	Required  bool
}

// LoadFile reads an OpenAPI 3 document (YAML or JSON) from a file and loads
// it with Load. Errors name the file and the reason, on one line.
func LoadFile(ctx context.Context, path string, opts Options) (*API, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("load %s: is a directory, not a spec file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, unwrapPathError(err))
	}
	return Load(ctx, data, path, opts)
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Load reads an OpenAPI 3.0 document (YAML or JSON; 3.1 is read on a best
// effort) and returns its operations as tools. source names the document's
// origin in errors and in API.Source. External $refs are refused; the
// document must validate. Problems with single operations do not fail the
// load: they become API.Warnings.
func Load(ctx context.Context, data []byte, source string, opts Options) (*API, error) {
	api, err := load(ctx, data, source, opts)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", sanitizeLine(source), err)
	}
	return api, nil
}

func load(ctx context.Context, data []byte, source string, opts Options) (*API, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if len(data) > MaxSpecBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxSpecBytes)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	doc, err := parse(ctx, data)
	if err != nil {
		return nil, err
	}
	return build(ctx, doc, source, opts)
}

// check validates the options.
func (o Options) check() error {
	if o.Namespace != "" && (len(o.Namespace) > maxNamespace || !toolNamePattern.MatchString(o.Namespace)) {
		return fmt.Errorf("%w: namespace %q must be 1 to %d letters, digits, '_' or '-'", ErrInvalidOptions, clip(o.Namespace), maxNamespace)
	}
	if o.MaxDescription < 0 {
		return fmt.Errorf("%w: negative MaxDescription %d", ErrInvalidOptions, o.MaxDescription)
	}
	if o.BaseURL != "" {
		if _, err := absoluteHTTPURL(o.BaseURL); err != nil {
			return fmt.Errorf("%w: base URL: %v", ErrInvalidOptions, err)
		}
	}
	return nil
}

// absoluteHTTPURL checks that s is an absolute http or https URL with a host,
// and returns it without a trailing slash.
func absoluteHTTPURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", clip(s))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q is not an http or https URL", clip(s))
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q has no host", clip(s))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q has a query or fragment", clip(s))
	}
	return strings.TrimRight(s, "/"), nil
}
