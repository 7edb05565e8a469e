package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/catalog"
)

// recorder is an API that records each request as it arrives: the request line's target
// as sent, the headers and the body. With paywall set it answers an unpaid request with
// a 402 and a paid one as settled; else it answers 200.
type recorder struct {
	paywall bool

	mu  sync.Mutex
	got []arrived
}

type arrived struct {
	method, uri string
	header      http.Header
	body        []byte
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, arrived{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), body: body})
	rc.mu.Unlock()
	paid := r.Header.Get("X-Payment") != "" || r.Header.Get("Payment-Signature") != ""
	switch {
	case rc.paywall && !paid:
		write402(good())(w)
	case rc.paywall:
		settledOK(w, r)
	default:
		w.Write([]byte(`{}`))
	}
}

func (rc *recorder) requests() []arrived {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]arrived(nil), rc.got...)
}

// The values of the "Style Examples" table (https://spec.openapis.org/oas/v3.1.1#style-examples).
const (
	blue   = `"blue"`
	colors = `["blue","black","brown"]`
	rgb    = `{"R":100,"G":200,"B":150}`
)

// schemaOf is a schema the value fits: a string, an array of strings, or an object.
func schemaOf(value string) map[string]any {
	switch value[0] {
	case '[':
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	case '{':
		return map[string]any{"type": "object"}
	}
	return map[string]any{"type": "string"}
}

// specOf is an OpenAPI 3.1 document with one operation, POST path.
func specOf(t *testing.T, path string, op map[string]any) []byte {
	t.Helper()
	op["operationId"] = "send"
	op["responses"] = map[string]any{"200": map[string]any{"description": "OK"}}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "Styles", "version": "1"},
		"paths":   map[string]any{path: map[string]any{"post": op}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// load reads a spec through the catalog, sending to url.
func load(t *testing.T, spec []byte, url string) *catalog.API {
	t.Helper()
	api, err := catalog.Load(t.Context(), spec, "spec.json", catalog.Options{BaseURL: url, Namespace: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(api.Operations) == 0 {
		t.Fatalf("no operations; warnings: %q", api.Warnings)
	}
	return api
}

// paramOp is an operation with the one parameter "color" in a location and style.
func paramOp(in, style string, explode *bool, value string) (string, map[string]any) {
	p := map[string]any{"name": "color", "in": in, "schema": schemaOf(value)}
	if style != "" {
		p["style"] = style
	}
	if explode != nil {
		p["explode"] = *explode
	}
	path := "/colors"
	if in == "path" {
		p["required"] = true
		path = "/colors/{color}"
	}
	return path, map[string]any{"parameters": []any{p}}
}

func ptr[T any](v T) *T { return &v }

// TestStyleExamples sends each row of OpenAPI's "Style Examples" table through the
// catalog and the client to a real server, and compares what arrived with the table.
func TestStyleExamples(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	tests := []struct {
		in, style string
		explode   *bool  // nil: the spec says nothing
		value     string // the argument, JSON
		want      string // what arrived: the path after /colors/, the query, the Color header or the Cookie header
	}{
		{"path", "simple", no, blue, "blue"},
		{"path", "simple", no, colors, "blue,black,brown"},
		{"path", "simple", no, rgb, "R,100,G,200,B,150"},
		{"path", "simple", yes, blue, "blue"},
		{"path", "simple", yes, colors, "blue,black,brown"},
		{"path", "simple", yes, rgb, "R=100,G=200,B=150"},
		{"path", "", nil, colors, "blue,black,brown"}, // the default: simple, not exploded
		{"path", "label", no, blue, ".blue"},
		{"path", "label", no, colors, ".blue,black,brown"},
		{"path", "label", no, rgb, ".R,100,G,200,B,150"},
		{"path", "label", yes, blue, ".blue"},
		{"path", "label", yes, colors, ".blue.black.brown"},
		{"path", "label", yes, rgb, ".R=100.G=200.B=150"},
		{"path", "matrix", no, `""`, ";color"},
		{"path", "matrix", no, blue, ";color=blue"},
		{"path", "matrix", no, colors, ";color=blue,black,brown"},
		{"path", "matrix", no, rgb, ";color=R,100,G,200,B,150"},
		{"path", "matrix", yes, `""`, ";color"},
		{"path", "matrix", yes, blue, ";color=blue"},
		{"path", "matrix", yes, colors, ";color=blue;color=black;color=brown"},
		{"path", "matrix", yes, rgb, ";R=100;G=200;B=150"},
		{"query", "form", no, `""`, "color="},
		{"query", "form", no, blue, "color=blue"},
		{"query", "form", no, colors, "color=blue,black,brown"},
		{"query", "form", no, rgb, "color=R,100,G,200,B,150"},
		{"query", "form", yes, `""`, "color="},
		{"query", "form", yes, blue, "color=blue"},
		{"query", "form", yes, colors, "color=blue&color=black&color=brown"},
		{"query", "form", yes, rgb, "R=100&G=200&B=150"},
		{"query", "", nil, colors, "color=blue&color=black&color=brown"}, // the default: form, exploded
		{"query", "spaceDelimited", no, colors, "color=blue%20black%20brown"},
		{"query", "spaceDelimited", no, rgb, "color=R%20100%20G%20200%20B%20150"},
		{"query", "pipeDelimited", no, colors, "color=blue%7Cblack%7Cbrown"},
		{"query", "pipeDelimited", no, rgb, "color=R%7C100%7CG%7C200%7CB%7C150"},
		{"query", "deepObject", yes, rgb, "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"},
		{"query", "deepObject", nil, rgb, "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"}, // explode false is undefined: written as true
		{"header", "simple", no, blue, "blue"},
		{"header", "simple", no, colors, "blue,black,brown"},
		{"header", "simple", no, rgb, "R,100,G,200,B,150"},
		{"header", "simple", yes, colors, "blue,black,brown"},
		{"header", "simple", yes, rgb, "R=100,G=200,B=150"},
		{"cookie", "form", no, blue, "color=blue"},
		{"cookie", "form", no, colors, "color=blue,black,brown"},
		{"cookie", "form", no, rgb, "color=R,100,G,200,B,150"},
		{"cookie", "form", yes, colors, "color=blue; color=black; color=brown"},
		{"cookie", "form", yes, rgb, "R=100; G=200; B=150"},
		// Values are percent-encoded; delimiters are not.
		{"path", "simple", no, `"a/b c"`, "a%2Fb%20c"},
		{"path", "simple", no, `["a,b","c"]`, "a%2Cb,c"},
		{"path", "simple", no, `"..."`, "..."},
		{"query", "form", no, `"a b&c=d+é"`, "color=a%20b%26c%3Dd%2B%C3%A9"},
		{"query", "form", no, `["a,b","c"]`, "color=a%2Cb,c"},
		{"cookie", "form", no, `"a; b"`, "color=a%3B%20b"},
	}
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	f := newFixture(t, srv.URL, Policy{})
	for i, tt := range tests {
		path, op := paramOp(tt.in, tt.style, tt.explode, tt.value)
		api := load(t, specOf(t, path, op), srv.URL)
		_, err := f.client.Call(t.Context(), Call{Op: api.Operations[0], Arguments: json.RawMessage(`{"color":` + tt.value + `}`)})
		if err != nil {
			t.Errorf("%s %s explode=%v %s: %v", tt.in, tt.style, deref(tt.explode), tt.value, err)
			continue
		}
		reqs := rec.requests()
		if len(reqs) != i+1 {
			t.Fatalf("%d requests arrived after %d calls", len(reqs), i+1)
		}
		got := reqs[i]
		var gotText string
		switch tt.in {
		case "path":
			gotText = strings.TrimPrefix(got.uri, "/colors/")
		case "query":
			_, gotText, _ = strings.Cut(got.uri, "?")
		case "header":
			gotText = got.header.Get("Color")
		case "cookie":
			gotText = got.header.Get("Cookie")
		}
		if gotText != tt.want {
			t.Errorf("%s %s explode=%v %s: arrived %q, want %q", tt.in, tt.style, deref(tt.explode), tt.value, gotText, tt.want)
		}
	}
}

func deref(b *bool) any {
	if b == nil {
		return "default"
	}
	return *b
}

// TestAllowReserved: a query parameter with allowReserved keeps the reserved characters
// that do not end or split a query value; one without encodes them.
func TestAllowReserved(t *testing.T) {
	tests := []struct {
		allowReserved bool
		want          string
	}{
		{true, "color=a/b?c:d,e@f!%26g%3Dh%5Bi%5D%23%2B%25zz%41"},
		{false, "color=a%2Fb%3Fc%3Ad%2Ce%40f%21%26g%3Dh%5Bi%5D%23%2B%25zz%2541"},
	}
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	f := newFixture(t, srv.URL, Policy{})
	for i, tt := range tests {
		op := map[string]any{"parameters": []any{map[string]any{
			"name": "color", "in": "query", "allowReserved": tt.allowReserved, "schema": map[string]any{"type": "string"},
		}}}
		api := load(t, specOf(t, "/colors", op), srv.URL)
		if _, err := f.client.Call(t.Context(), Call{Op: api.Operations[0], Arguments: json.RawMessage(`{"color":"a/b?c:d,e@f!&g=h[i]#+%zz%41"}`)}); err != nil {
			t.Fatal(err)
		}
		_, got, _ := strings.Cut(rec.requests()[i].uri, "?")
		if got != tt.want {
			t.Errorf("allowReserved=%v: arrived %q, want %q", tt.allowReserved, got, tt.want)
		}
	}
}

// part is one part of a multipart body as it arrived.
type part struct{ Name, ContentType, Body string }

func readParts(t *testing.T, contentType string, body []byte) []part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("Content-Type %q: %v", contentType, err)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []part
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		out = append(out, part{p.FormName(), p.Header.Get("Content-Type"), string(b)})
	}
}

// TestBodyMediaTypes sends a body of each media type toll writes and compares what
// arrived.
func TestBodyMediaTypes(t *testing.T) {
	book := `{"title":"Dune","year":1965,"tags":["sf","classic"],"color":{"R":100,"G":200,"B":150}}`
	bookSchema := map[string]any{"type": "object", "properties": map[string]any{
		"title": map[string]any{"type": "string"}, "year": map[string]any{"type": "integer"},
		"tags": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}, "color": map[string]any{"type": "object"},
	}}
	tests := []struct {
		mediaType string
		schema    map[string]any
		encoding  map[string]any // the spec's encoding object
		value     string
		wantType  string // Content-Type; for multipart, without its boundary
		wantBody  string // not for multipart
		wantParts []part // multipart
	}{
		{mediaType: "application/json", schema: bookSchema, value: book, wantType: "application/json", wantBody: book},
		{mediaType: "application/vnd.api+json", schema: bookSchema, value: book, wantType: "application/vnd.api+json", wantBody: book},
		{mediaType: "application/json; charset=utf-8", schema: bookSchema, value: book, wantType: "application/json; charset=utf-8", wantBody: book},
		{mediaType: "*/*", schema: bookSchema, value: book, wantType: "application/json", wantBody: book},
		{mediaType: "text/plain", schema: map[string]any{"type": "string"}, value: `"blue black\nbrown"`, wantType: "text/plain", wantBody: "blue black\nbrown"},
		// A form with no encoding: primitives as text, an array as a pair per item, an
		// object as JSON (https://spec.openapis.org/oas/v3.1.1#support-for-x-www-form-urlencoded-request-bodies).
		{
			mediaType: "application/x-www-form-urlencoded", schema: bookSchema, value: book,
			wantType: "application/x-www-form-urlencoded",
			wantBody: "title=Dune&year=1965&tags=sf&tags=classic&color=%7B%22R%22%3A100%2C%22G%22%3A200%2C%22B%22%3A150%7D",
		},
		// With encoding: a style for an array and an object, JSON for a primitive.
		{
			mediaType: "application/x-www-form-urlencoded", schema: bookSchema, value: book,
			encoding: map[string]any{
				"tags":  map[string]any{"style": "form", "explode": false},
				"color": map[string]any{"style": "deepObject", "explode": true},
				"title": map[string]any{"contentType": "application/json"},
			},
			wantType: "application/x-www-form-urlencoded",
			wantBody: "title=%22Dune%22&year=1965&tags=sf,classic&color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150",
		},
		{
			mediaType: "application/x-www-form-urlencoded", schema: bookSchema, value: `{"tags":["a b","c"],"color":{"R":1}}`,
			encoding: map[string]any{
				"tags":  map[string]any{"style": "pipeDelimited"},
				"color": map[string]any{"explode": true}, // style form by default
			},
			wantType: "application/x-www-form-urlencoded",
			wantBody: "tags=a%20b%7Cc&R=1",
		},
		{
			mediaType: "multipart/form-data", schema: bookSchema, value: book,
			wantType: "multipart/form-data",
			wantParts: []part{
				{"title", "text/plain; charset=utf-8", "Dune"},
				{"year", "text/plain; charset=utf-8", "1965"},
				{"tags", "text/plain; charset=utf-8", "sf"},
				{"tags", "text/plain; charset=utf-8", "classic"},
				{"color", "application/json", `{"R":100,"G":200,"B":150}`},
			},
		},
		{
			mediaType: "multipart/form-data", schema: bookSchema, value: `{"title":"Dune","tags":["sf","classic"],"color":{"R":1}}`,
			encoding: map[string]any{
				"title": map[string]any{"contentType": "text/markdown, text/plain"},
				"tags":  map[string]any{"style": "form", "explode": false},
				"color": map[string]any{"contentType": "application/vnd.color+json"},
			},
			wantType: "multipart/form-data",
			wantParts: []part{
				{"title", "text/markdown", "Dune"},
				{"tags", "text/plain; charset=utf-8", "sf,classic"},
				{"color", "application/vnd.color+json", `{"R":1}`},
			},
		},
	}
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	f := newFixture(t, srv.URL, Policy{})
	for i, tt := range tests {
		media := map[string]any{"schema": tt.schema}
		if tt.encoding != nil {
			media["encoding"] = tt.encoding
		}
		op := map[string]any{"requestBody": map[string]any{"required": true, "content": map[string]any{tt.mediaType: media}}}
		api := load(t, specOf(t, "/books", op), srv.URL)
		if _, err := f.client.Call(t.Context(), Call{Op: api.Operations[0], Arguments: json.RawMessage(`{"body":` + tt.value + `}`)}); err != nil {
			t.Errorf("%s: %v", tt.mediaType, err)
			continue
		}
		got := rec.requests()[i]
		ct := got.header.Get("Content-Type")
		if tt.wantParts != nil {
			if diff := cmp.Diff(tt.wantParts, readParts(t, ct, got.body)); diff != "" {
				t.Errorf("%s parts (-want +got):\n%s", tt.mediaType, diff)
			}
			ct, _, _ = strings.Cut(ct, ";")
		} else if string(got.body) != tt.wantBody {
			t.Errorf("%s: body %q, want %q", tt.mediaType, got.body, tt.wantBody)
		}
		if ct != tt.wantType {
			t.Errorf("%s: Content-Type %q, want %q", tt.mediaType, ct, tt.wantType)
		}
	}
}

// TestBookshopRequests: the bookshop's calls arrive as its spec says.
func TestBookshopRequests(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "catalog", "bookshop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	api := load(t, data, srv.URL)
	ops := map[string]*catalog.Operation{}
	for _, op := range api.Operations {
		ops[op.OperationID] = op
	}
	tests := []struct {
		op, args                  string
		wantMethod, wantURI       string
		wantType, wantBody        string
		wantAPIKey, wantCookie    string
		wantAcceptLanguage, wantQ string
	}{
		{
			op: "listBooks", args: `{"genres":["fiction","poetry"],"page":2,"X-Api-Key":"k1","session":"s 1"}`,
			wantMethod: "GET", wantURI: "/books?genres=fiction,poetry&page=2", wantAPIKey: "k1", wantCookie: "session=s%201",
		},
		{
			op: "addBook", args: `{"body":{"title":"Dune Messiah","year":1969}}`,
			wantMethod: "POST", wantURI: "/books", wantType: "application/x-www-form-urlencoded", wantBody: "title=Dune%20Messiah&year=1969",
		},
		{
			op: "getBook", args: `{"isbn":"978-0441013593","fields":{"with_reviews":true}}`,
			wantMethod: "GET", wantURI: "/books/978-0441013593?fields=%7B%22with_reviews%22%3Atrue%7D",
		},
	}
	f := newFixture(t, srv.URL, Policy{})
	for i, tt := range tests {
		if _, err := f.client.Call(t.Context(), Call{Op: ops[tt.op], Arguments: json.RawMessage(tt.args)}); err != nil {
			t.Fatalf("%s: %v", tt.op, err)
		}
		got := rec.requests()[i]
		if got.method != tt.wantMethod || got.uri != tt.wantURI {
			t.Errorf("%s: arrived %s %s, want %s %s", tt.op, got.method, got.uri, tt.wantMethod, tt.wantURI)
		}
		if ct := got.header.Get("Content-Type"); ct != tt.wantType || string(got.body) != tt.wantBody {
			t.Errorf("%s: body %q of type %q, want %q of type %q", tt.op, got.body, ct, tt.wantBody, tt.wantType)
		}
		if k, c := got.header.Get("X-Api-Key"), got.header.Get("Cookie"); k != tt.wantAPIKey || c != tt.wantCookie {
			t.Errorf("%s: X-Api-Key %q, Cookie %q; want %q, %q", tt.op, k, c, tt.wantAPIKey, tt.wantCookie)
		}
		if a, u := got.header.Get("Accept"), got.header.Get("User-Agent"); a == "" || !strings.HasPrefix(u, "toll") {
			t.Errorf("%s: Accept %q, User-Agent %q", tt.op, a, u)
		}
	}
}

// TestUnencodableRefusedBeforeSending: what toll cannot write as the spec says is
// refused with an error that names it, and no request reaches the API. kin-openapi
// refuses a document whose parameter style is not defined for its location, so those
// cases load a valid document and then change the style (restyle), as an operation
// built otherwise could have it.
func TestUnencodableRefusedBeforeSending(t *testing.T) {
	bodyOp := func(mediaType string) (string, map[string]any) {
		return "/books", map[string]any{"requestBody": map[string]any{"content": map[string]any{
			mediaType: map[string]any{"schema": map[string]any{"type": "object"}},
		}}}
	}
	contentParam := func(mediaType string) (string, map[string]any) {
		return "/colors", map[string]any{"parameters": []any{map[string]any{
			"name": "color", "in": "query", "content": map[string]any{mediaType: map[string]any{"schema": map[string]any{"type": "object"}}},
		}}}
	}
	tests := []struct {
		path     string
		op       map[string]any
		restyle  string // set as the parameter's style after loading
		args     string
		wantErr  error
		wantText string // the error names it
	}{
		{path: "/books", op: second(bodyOp("application/xml")), args: `{"body":{"a":1}}`, wantErr: ErrCannotEncode, wantText: "application/xml"},
		{path: "/books", op: second(bodyOp("application/octet-stream")), args: `{"body":{"a":1}}`, wantErr: ErrCannotEncode, wantText: "application/octet-stream"},
		{path: "/colors", op: second(contentParam("application/xml")), args: `{"color":{"a":1}}`, wantErr: ErrCannotEncode, wantText: "application/xml"},
		{path: "/colors/{color}", op: second(paramOp("path", "", nil, rgb)), restyle: "deepObject", args: `{"color":` + rgb + `}`, wantErr: ErrCannotEncode, wantText: "deepObject"},
		{path: "/colors", op: second(paramOp("query", "", nil, colors)), restyle: "matrix", args: `{"color":` + colors + `}`, wantErr: ErrCannotEncode, wantText: "matrix"},
		{path: "/colors", op: second(paramOp("header", "", nil, colors)), restyle: "form", args: `{"color":` + colors + `}`, wantErr: ErrCannotEncode, wantText: "form"},
		{path: "/colors", op: second(paramOp("cookie", "", nil, rgb)), restyle: "deepObject", args: `{"color":` + rgb + `}`, wantErr: ErrCannotEncode, wantText: "deepObject"},
		{path: "/colors/{color}", op: second(paramOp("path", "", nil, blue)), args: `{"color":"."}`, wantErr: ErrInvalidArguments, wantText: `"."`},
		{path: "/colors/{color}", op: second(paramOp("path", "", nil, blue)), args: `{"color":".."}`, wantErr: ErrInvalidArguments, wantText: `".."`},
		{path: "/colors/{color}", op: second(paramOp("path", "label", nil, blue)), args: `{"color":""}`, wantErr: ErrInvalidArguments, wantText: `"."`},
		{path: "/colors/{color}", op: second(paramOp("path", "label", nil, blue)), args: `{"color":"."}`, wantErr: ErrInvalidArguments, wantText: `".."`},
		{path: "/colors/{color}", op: second(paramOp("path", "", nil, blue)), args: `{"color":""}`, wantErr: ErrInvalidArguments, wantText: "empty"},
		{path: "/colors", op: headerOp("X-Payment"), args: `{"X-Payment":"forged"}`, wantErr: ErrInvalidArguments, wantText: "X-Payment"},
		{path: "/colors", op: headerOp("X-Color"), args: `{"X-Color":"a\r\nX-Payment: forged"}`, wantErr: ErrInvalidArguments, wantText: "single-line"},
		{path: "/colors", op: headerOp("X-Color"), args: `{"X-Color":"a\u0000b"}`, wantErr: ErrInvalidArguments, wantText: "control characters"},
		{path: "/books", op: second(bodyOp("application/json")), args: `{"body":{},"extra":1}`, wantErr: ErrInvalidArguments, wantText: "extra"},
	}
	rec := &recorder{paywall: true}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	f := newFixture(t, srv.URL, Policy{})
	for _, tt := range tests {
		api := load(t, specOf(t, tt.path, tt.op), srv.URL)
		op := api.Operations[0]
		if tt.restyle != "" {
			op.Params[0].Style = tt.restyle
		}
		_, err := f.client.Call(t.Context(), Call{Op: op, Arguments: json.RawMessage(tt.args)})
		if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.wantText) {
			t.Errorf("%s %s: err = %v; want %v naming %s", tt.path, tt.args, err, tt.wantErr, tt.wantText)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("%d requests reached the API; want none", n)
	}
}

func second[A, B any](_ A, b B) B { return b }

// headerOp is an operation with one string header parameter.
func headerOp(name string) map[string]any {
	return map[string]any{"parameters": []any{map[string]any{"name": name, "in": "header", "schema": map[string]any{"type": "string"}}}}
}

// TestUnencodableOptionalParameterLeftOut: a parameter toll cannot write does not stop
// calls that do not set it.
func TestUnencodableOptionalParameterLeftOut(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	f := newFixture(t, srv.URL, Policy{})
	path, op := paramOp("header", "", nil, colors)
	api := load(t, specOf(t, path, op), srv.URL)
	api.Operations[0].Params[0].Style = "form" // not a header style
	if _, err := f.client.Call(t.Context(), Call{Op: api.Operations[0], Arguments: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("%d requests arrived, want 1", n)
	}
}

// TestPaidRequestIsTheSameRequest: the paid request carries the same bytes as the unpaid
// one (a multipart body with its random boundary included), with query credentials
// appended to the query as written.
func TestPaidRequestIsTheSameRequest(t *testing.T) {
	rec := &recorder{paywall: true}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	f := newFixture(t, srv.URL, Policy{})
	_, op := paramOp("query", "form", ptr(false), colors)
	op["requestBody"] = map[string]any{"content": map[string]any{"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object"}}}}
	api := load(t, specOf(t, "/colors", op), srv.URL)
	sent := api.Operations[0]
	sent.Price = f.op.Price
	sent.Credentials = []catalog.Credential{{In: "query", Name: "key", Env: "KEY"}}
	c, err := New(Config{Wallet: f.wallet, Ledger: f.ledger, Policy: Policy{Networks: []string{"eip155:84532"}}, Getenv: func(string) string { return "k&1" }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Call(t.Context(), Call{Op: sent, Arguments: json.RawMessage(`{"color":["a","b"],"body":{"x":"1","y":{"z":2}}}`)})
	if err != nil || res.Payment == nil {
		t.Fatalf("res = %+v, err = %v; want a paid result", res, err)
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests arrived, want 2", len(reqs))
	}
	unpaid, paid := reqs[0], reqs[1]
	if want := "/colors?color=a,b&key=k%261"; unpaid.uri != want {
		t.Errorf("unpaid request to %q, want %q", unpaid.uri, want)
	}
	if paid.uri != unpaid.uri || !bytes.Equal(paid.body, unpaid.body) || paid.header.Get("Content-Type") != unpaid.header.Get("Content-Type") {
		t.Errorf("paid request differs: %s %q %q, unpaid %s %q %q", paid.uri, paid.header.Get("Content-Type"), paid.body, unpaid.uri, unpaid.header.Get("Content-Type"), unpaid.body)
	}
	want := []part{{"x", "text/plain; charset=utf-8", "1"}, {"y", "application/json", `{"z":2}`}}
	if diff := cmp.Diff(want, readParts(t, paid.header.Get("Content-Type"), paid.body)); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
}

// FuzzDecodeOrdered: the order-keeping decoder reads what encoding/json reads, to the
// same values, and writes objects back in the order it read them.
func FuzzDecodeOrdered(f *testing.F) {
	for _, s := range []string{rgb, colors, blue, `{"a":{"b":[1,2.5e3,null,true]},"a":2}`, `{"z":1,"a":2}`, `[]`, `{`, `{"a":1}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var want any
		if d.Decode(&want) != nil {
			return
		}
		if _, err := d.Token(); err != io.EOF { // data after the value, as arguments never have
			if _, err := decodeOrdered(data); err == nil {
				t.Fatalf("decodeOrdered(%q) accepted data after the value", data)
			}
			return
		}
		got, err := decodeOrdered(data)
		if err != nil {
			t.Fatalf("decodeOrdered(%q): %v; encoding/json reads it", data, err)
		}
		if diff := cmp.Diff(want, plain(got)); diff != "" {
			t.Fatalf("decodeOrdered(%q) (-encoding/json +got):\n%s", data, diff)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		reread, err := decodeOrdered(again)
		if err != nil || !cmp.Equal(plain(reread), plain(got)) {
			t.Fatalf("%s does not read back: %v", again, err)
		}
	})
}

// FuzzEscape: an escaped value holds only unreserved characters and %XX triples, and
// decodes to the value.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"blue", "a/b c", "..", "é%zz%41", "a&b=c+d#e[f]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escape(s, false)
		for i := 0; i < len(e); i++ {
			if c := e[i]; !unreserved(c) && c != '%' {
				t.Fatalf("escape(%q) = %q keeps %q", s, e, c)
			}
		}
		if back, err := url.PathUnescape(e); err != nil || back != s {
			t.Fatalf("escape(%q) = %q decodes to %q, %v", s, e, back, err)
		}
		r := escape(s, true)
		if strings.ContainsAny(r, "&=+#[] ") {
			t.Fatalf("escape(%q, allowReserved) = %q splits a query value", s, r)
		}
	})
}

// TestPathKeysWithQueryAndFragment: a path key's fragment is never sent (AWS's
// "/#Action=X" goes to "/", the declared Action parameter carrying the action),
// its literal query pairs are, and a declared query parameter given a value
// replaces the literal pair of its name.
func TestPathKeysWithQueryAndFragment(t *testing.T) {
	spec := []byte(`{"openapi":"3.0.3","info":{"title":"P","version":"1"},"paths":{
"/#Action=DescribeThings":{"get":{"operationId":"describe","parameters":[
  {"name":"Action","in":"query","required":true,"schema":{"type":"string","enum":["DescribeThings"]}},
  {"name":"Version","in":"query","required":true,"schema":{"type":"string","enum":["2016-11-15"]}}],
  "responses":{"200":{"description":"A"}}}},
"/search?type=artist%20group&page={page}":{"get":{"operationId":"search","parameters":[
  {"name":"page","in":"query","schema":{"type":"integer"}},
  {"name":"type","in":"query","schema":{"type":"string"}}],
  "responses":{"200":{"description":"A"}}}}}}`)
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	api := load(t, spec, srv.URL)
	ops := map[string]*catalog.Operation{}
	for _, op := range api.Operations {
		ops[op.OperationID] = op
	}
	tests := []struct {
		op, args string
		wantURI  string
	}{
		{"describe", `{"Action":"DescribeThings","Version":"2016-11-15"}`, "/?Action=DescribeThings&Version=2016-11-15"},
		{"search", `{"page":2}`, "/search?type=artist%20group&page=2"},
		{"search", `{"type":"band"}`, "/search?type=band"},
	}
	f := newFixture(t, srv.URL, Policy{})
	for i, tt := range tests {
		if _, err := f.client.Call(t.Context(), Call{Op: ops[tt.op], Arguments: json.RawMessage(tt.args)}); err != nil {
			t.Fatalf("%s: %v", tt.op, err)
		}
		if got := rec.requests()[i]; got.uri != tt.wantURI {
			t.Errorf("%s %s: arrived at %s, want %s", tt.op, tt.args, got.uri, tt.wantURI)
		}
	}
}
