package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tollhq/toll/tools/money"
)

// MaxSpecBytes is the largest document toll reads unless
// Options.MaxSpecBytes says otherwise: a larger file or response is refused
// by its size, before it is read where the size is known, and once this
// many bytes have arrived where it is not. 64 MiB admits the largest public
// specs (Microsoft Graph beta is 47 MB).
const MaxSpecBytes = 64 << 20

// Options say how a document becomes tools. The zero value is ready to use.
// The yaml keys are those of an API's entry in toll.yaml (see SourceConfig);
// the fields without one are set by the program.
type Options struct {
	// Namespace prefixes every tool name ("weather" → "weather_getForecast").
	// It must match ^[a-zA-Z0-9_-]{1,24}$. "" derives a slug of at most 16
	// characters from info.title ("Weather Demo" → "weather_demo"), or "api".
	Namespace string `yaml:"namespace,omitempty"`
	// BaseURL, when set, is where every operation is sent, in place of the
	// document's servers. It must be an absolute http or https URL. "" uses
	// the first server of the operation, its path or the document.
	BaseURL string `yaml:"base_url,omitempty"`
	// MaxDescription caps a tool description, in runes. Zero means 1024; it
	// must not be negative.
	MaxDescription int `yaml:"max_description,omitempty"`
	// Prices set operations' prices, overriding what the spec and probes
	// say: USDC amounts ("0.01") by operationId or by "METHOD /path". The
	// network and recipient stay those the probe or spec pinned. nil: none.
	Prices map[string]money.Amount `yaml:"prices,omitempty"`
	// Credentials are sent on every call of the API, from environment
	// variables; the parameters they stand for are not tool arguments.
	Credentials []Credential `yaml:"credentials,omitempty"`
	// Include, when not empty, keeps only the operations it selects: each
	// of its lists that is not empty must match. Exclude then leaves out
	// every operation that any of its entries matches. Operations left out
	// are listed in API.Warnings.
	Include Filter `yaml:"include,omitempty"`
	Exclude Filter `yaml:"exclude,omitempty"`
	// AllowExternalRefs lets a spec file's $refs name other files in its
	// folder (relative paths only: never a URL, an absolute path, or a path
	// out of the folder). false: a spec must be one self-contained document.
	AllowExternalRefs bool `yaml:"allow_external_refs,omitempty"`
	// AllowInsecureHTTP lets toll pay the API's operations over plain
	// http to a host that is not this machine, where the payment header
	// travels in clear text: whoever reads it on the way can settle the
	// authorization and withhold the response. false: toll refuses to pay
	// them (see InsecureHTTP); https, and http to this machine, are paid.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http,omitempty"`
	// MaxSpecBytes is the largest document of the API toll reads, in
	// bytes (external files a spec refers to count towards it). Zero
	// means MaxSpecBytes (64 MiB); it must not be negative.
	MaxSpecBytes int64 `yaml:"max_spec_bytes,omitempty"`

	// Probes are prices read from the operations' own 402 responses (see
	// ProbedPrice). They come before the spec's prices and after Prices.
	Probes []ProbedPrice `yaml:"-"`
	// HTTPClient fetches specs given as URLs. nil: a client with a 30 s
	// timeout. Whatever the client, toll follows no redirect to a URL it
	// would not fetch itself.
	HTTPClient *http.Client `yaml:"-" json:"-"`
	// SkipSchemaCompile skips compiling the input schemas with the JSON
	// Schema library the MCP layer uses. false: they are compiled (once per
	// distinct subschema), and an operation whose schema does not compile
	// is left out with a warning.
	SkipSchemaCompile bool `yaml:"-"`
	// OnDemand lists the operations of a JSON OpenAPI 3 document from a
	// light read of it, without their parameters, request bodies and
	// input schemas: Operation.Complete builds each when it is needed,
	// reading the document again (a spec given as a URL or as data is
	// kept in memory for that). Names, titles, descriptions and prices
	// are those of a full load. Other documents are loaded whole. false:
	// every operation is built at load.
	OnDemand bool `yaml:"-"`
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
	Source     string       // where the document came from, as given to Load, LoadFile or LoadSource
	Format     string       // what it was: "OpenAPI 3.0.3", "Swagger 2.0", "x402 discovery"
	Operations []*Operation // sorted by path, then method
	// Warnings say what was changed, shortened or skipped, and why. An
	// operation is never dropped without one.
	Warnings []string
	// Config is the entry LoadAll loaded the API from (a folder's entry
	// for each API in it); the zero value for Load, LoadFile and
	// LoadSource.
	Config SourceConfig `json:"-"`
}

// Operation is one HTTP operation, described for a model as a tool.
type Operation struct {
	API         string // the API's Name
	Name        string // tool name: ^[a-zA-Z0-9_-]+$, at most 48 characters, unique within the API (and the Catalog)
	OperationID string // as in the document ("" when it has none); for a discovery entry, made of host, method and path
	Title       string // the summary, sanitized, one line
	Description string // summary and description, sanitized and capped; no line of it states a price (see ToolDescription)
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
	Price       *Price // nil: the document advertises no price toll can pay, and toll pays nothing
	// OtherMethods are the ways to pay other than x402 the document
	// offers, for people ("stripe 1 USD", "mpp (tempo)"): shown in the
	// price line, never paid. nil: none.
	OtherMethods []string `json:",omitempty"`
	// OutputSchema is the JSON Schema of a successful response as the
	// operation's x-bazaar gives it, converted as InputSchema is (no
	// $ref); nil when it gives none. It is kept for callers, not sent to
	// MCP hosts as an output schema.
	OutputSchema json.RawMessage `json:",omitempty"`
	// Credentials are the API's own credentials (Options.Credentials), to
	// send on every call: the names of environment variables, not values.
	Credentials []Credential `json:",omitempty"`
	Tags        []string     `json:",omitempty"` // the operation's tags, sanitized
	// AllowInsecureHTTP is the API's Options.AllowInsecureHTTP: the
	// operation may be paid over plain http to another machine. false:
	// toll refuses to pay it there.
	AllowInsecureHTTP bool `json:",omitempty"`
	// Deferred is set on an operation listed with Options.OnDemand, which
	// has no Params, Body or InputSchema until Complete builds it. nil:
	// the operation was built whole.
	Deferred *Deferred `json:"-"`
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
	// simple and false for path and header). Style "" means those
	// defaults (see Serialization).
	Style   string
	Explode bool
	// MediaType is set when the parameter is described by content rather
	// than schema: the value is sent serialized as that media type.
	MediaType string
	// AllowReserved: a query value keeps RFC 3986's reserved characters
	// as they are, rather than percent-encoded.
	AllowReserved bool `json:",omitempty"`
}

// Body is an operation's request body.
type Body struct {
	Arg       string // the property of InputSchema holding it: "body"
	MediaType string // e.g. "application/json"
	Required  bool
	// Encoding says how properties of a form or multipart body are
	// written, by property name: those the spec's encoding names. A
	// property not in it takes the defaults (see Encoding).
	Encoding map[string]Encoding `json:",omitempty"`
}

// LoadFile reads a spec file (YAML or JSON) and loads it as Load does;
// with Options.AllowExternalRefs its $refs may name files in its folder.
// Errors name the file and the reason, on one line.
func LoadFile(ctx context.Context, path string, opts Options) (*API, error) {
	api, err := loadFile(ctx, path, opts)
	if err != nil {
		return nil, loadError(path, err)
	}
	return api, nil
}

func loadFile(ctx context.Context, path string, opts Options) (*API, error) {
	p, err := prepareFile(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return p.build(ctx, opts.Namespace)
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Load reads a document and returns its operations as tools: an OpenAPI 3.0
// or 3.1 document, a Swagger 2.0 document (converted to OpenAPI 3.0), or
// an x402 discovery response (see FromDiscovery), in YAML or JSON. source
// names the document's origin in errors and in API.Source. External $refs
// are refused; the document must validate. Problems with single operations
// do not fail the load: they become API.Warnings.
func Load(ctx context.Context, data []byte, source string, opts Options) (*API, error) {
	p, err := prepare(ctx, data, origin{source: source}, opts)
	if err == nil {
		var api *API
		if api, err = p.build(ctx, opts.Namespace); err == nil {
			return api, nil
		}
	}
	return nil, loadError(source, err)
}

// prepared is a document read and parsed, waiting for its namespace.
type prepared struct {
	source string
	title  string // what a namespace is derived from
	build  func(ctx context.Context, namespace string) (*API, error)
	listed bool // listed on demand: nothing refers to the bytes the document was read from
}

// prepare reads a document: an OpenAPI or Swagger document, or an x402
// discovery response.
func prepare(ctx context.Context, data []byte, o origin, opts Options) (*prepared, error) {
	return prepareAgain(ctx, data, o, opts, nil)
}

// prepareAgain is prepare; with Options.OnDemand, again reads the document
// again when an operation is built (nil: data is kept for that).
func prepareAgain(ctx context.Context, data []byte, o origin, opts Options, again func(context.Context) ([]byte, error)) (*prepared, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if limit := opts.maxSpecBytes(); int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes (max_spec_bytes)", ErrTooLarge, limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kind, top := sniff(data)
	if kind == kindDiscovery {
		d, err := parseDiscovery(data)
		if err != nil {
			return nil, err
		}
		return &prepared{source: o.source, title: discoveryTitle, build: func(ctx context.Context, ns string) (*API, error) {
			opts.Namespace = ns
			return buildDiscovery(ctx, d, o, opts)
		}}, nil
	}
	if opts.OnDemand && listable(data, kind, top, opts) {
		if again == nil {
			again = func(context.Context) ([]byte, error) { return data, nil }
		}
		p, ok, err := prepareListed(ctx, top, o, opts, again)
		if ok || err != nil {
			if p != nil {
				p.listed = true
			}
			return p, err
		}
	}
	d, err := parse(ctx, data, kind, top, o, opts)
	if err != nil {
		return nil, err
	}
	title := ""
	if d.doc.Info != nil {
		title, _ = capRunes(sanitizeLine(d.doc.Info.Title), maxTitle)
	}
	return &prepared{source: o.source, title: title, build: func(ctx context.Context, ns string) (*API, error) {
		opts.Namespace = ns
		return build(ctx, d, o, opts)
	}}, nil
}

// prepareFile reads and prepares a spec file.
func prepareFile(ctx context.Context, path string, opts Options) (*prepared, error) {
	return prepareFileInto(ctx, path, opts, nil)
}

// prepareFileInto is prepareFile reading the file into *buf when buf is not nil: a
// document listed on demand keeps nothing of the bytes it was read from, so the next file
// may be read into them (it saves allocating and clearing the bytes of every file of a
// large folder). Otherwise the bytes are the document's, and *buf becomes nil.
func prepareFileInto(ctx context.Context, path string, opts Options, buf *[]byte) (*prepared, error) {
	var data []byte
	var err error
	if buf != nil {
		data, err = readFileReusing(path, opts.maxSpecBytes(), *buf)
	} else {
		data, err = readFileCapped(path, opts.maxSpecBytes(), false)
	}
	if err != nil {
		return nil, err
	}
	o := origin{source: path}
	if opts.AllowExternalRefs {
		if o.file, err = filepath.Abs(path); err != nil {
			return nil, err
		}
	}
	again := func(context.Context) ([]byte, error) { return readFileCapped(path, opts.maxSpecBytes(), false) }
	p, err := prepareAgain(ctx, data, o, opts, again)
	if buf != nil {
		*buf = data[:0]
		if p != nil && !p.listed {
			*buf = nil
		}
	}
	return p, err
}

// readFileReusing reads a regular file of at most limit bytes into buf when it has room
// (anything else as readFileCapped does).
func readFileReusing(path string, limit int64, buf []byte) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > limit || int64(cap(buf)) <= fi.Size() {
		return readFileCapped(path, limit, false)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf[:fi.Size()+1]) // one byte more: a file that grew is read whole
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return buf[:n], nil
	case err != nil:
		return nil, unwrapPathError(err)
	}
	return readFileCapped(path, limit, false) // it grew since Stat
}

// maxSpecBytes is the size limit the options set: MaxSpecBytes when zero.
func (o Options) maxSpecBytes() int64 {
	if o.MaxSpecBytes > 0 {
		return o.MaxSpecBytes
	}
	return MaxSpecBytes
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
