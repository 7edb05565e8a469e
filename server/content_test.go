package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/wallet"
)

// mediaSpec is an API whose operations answer the bodies of mediaAPI.
const mediaSpec = `openapi: 3.0.3
info: {title: Media, version: "1"}
paths:
  /png: {get: {operationId: png, responses: {"200": {description: a PNG}}}}
  /bigpng: {get: {operationId: bigpng, responses: {"200": {description: a PNG over the limit}}}}
  /sniffed: {get: {operationId: sniffed, responses: {"200": {description: a PNG without Content-Type}}}}
  /wav: {get: {operationId: wav, responses: {"200": {description: a WAV}}}}
  /mp3: {get: {operationId: mp3, responses: {"200": {description: an MP3}}}}
  /octet: {get: {operationId: octet, responses: {"200": {description: bytes}}}}
  /latin: {get: {operationId: latin, responses: {"200": {description: text that is not UTF-8}}}}
  /text: {get: {operationId: text, responses: {"200": {description: 300 KB of text}}}}
  /json: {get: {operationId: json, responses: {"200": {description: 300 KB of JSON}}}}
  /small: {get: {operationId: small, responses: {"200": {description: a JSON object}}}}
  /list: {get: {operationId: list, responses: {"200": {description: a JSON array}}}}
  /missing: {get: {operationId: missing, responses: {"404": {description: a JSON error}}}}
`

// mediaBody is what one path of mediaAPI answers.
type mediaBody struct {
	contentType string // "" sends no Content-Type at all
	status      int    // 0 means 200
	body        []byte
}

// mediaBodies are the bodies of mediaAPI, made once per test.
func mediaBodies(t *testing.T) map[string]mediaBody {
	t.Helper()
	small := pngImage(t, 8, false)
	return map[string]mediaBody{
		"/png":     {contentType: "image/png", body: small},
		"/bigpng":  {contentType: "image/png", body: pngImage(t, 256, true)},
		"/sniffed": {body: small},
		"/wav":     {contentType: "audio/wav", body: wavFile(4000)},
		"/mp3":     {contentType: "audio/mpeg", body: mp3Frames(8)},
		"/octet":   {contentType: "application/octet-stream", body: randomBytes(t, 5000)},
		"/latin":   {contentType: "text/plain; charset=iso-8859-1", body: []byte("caf\xe9 cr\xe8me br\xfbl\xe9e")},
		"/text":    {contentType: "text/plain; charset=utf-8", body: longText(300_000)},
		"/json":    {contentType: "application/json", body: longJSON(300_000)},
		"/small":   {contentType: "application/json", body: []byte(`{"city":"Oslo","temp":-3.5,"big":12345678901234567890,"tags":["cold"]}`)},
		"/list":    {contentType: "application/json", body: []byte(`[1,2,3]`)},
		"/missing": {contentType: "application/problem+json", status: http.StatusNotFound, body: []byte(`{"title":"no such thing"}`)},
	}
}

// pngImage is a real PNG, size pixels square: flat gray, or noise (which compresses
// badly, so 256 pixels make about 200 KB).
func pngImage(t *testing.T, size int, noise bool) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	px := randomBytes(t, len(img.Pix))
	for i := range img.Pix {
		if !noise {
			img.Pix[i] = 0x80
		} else {
			img.Pix[i] = px[i]
		}
	}
	img.Set(0, 0, color.RGBA{R: 0xff, A: 0xff})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// wavFile is a RIFF WAVE file: the 44-byte header of 8 kHz mono 16-bit PCM and samples of
// silence.
func wavFile(samples int) []byte {
	var b bytes.Buffer
	data := samples * 2
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data))
	b.Write(make([]byte, data))
	return b.Bytes()
}

// mp3Frames is an ID3v2 tag and MPEG-1 layer III frame headers (128 kbit/s, 44.1 kHz),
// each followed by its 417 bytes.
func mp3Frames(n int) []byte {
	b := []byte("ID3\x03\x00\x00\x00\x00\x00\x00")
	for range n {
		frame := make([]byte, 417)
		copy(frame, []byte{0xFF, 0xFB, 0x90, 0x00})
		b = append(b, frame...)
	}
	return b
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// longText is about n bytes of UTF-8 text with characters of 1 to 4 bytes, placed so
// that byte DefaultMaxResultBytes falls inside a character: a cut there would split it.
func longText(n int) []byte {
	const line = "Line of a long report: café, Ωmega, ✓ done, 🌧 rain.\n"
	b := bytes.Repeat([]byte(line), n/len(line)+1)
	for utf8.RuneStart(b[DefaultMaxResultBytes]) {
		b = append([]byte("x"), b...)
	}
	return b[:textCut(b, n)]
}

// longJSON is a JSON object of about n bytes.
func longJSON(n int) []byte {
	var items []string
	size := 0
	for i := 0; size < n; i++ {
		item := fmt.Sprintf(`{"id":%d,"name":"item %d – ünïcode","price":"0.%03d"}`, i, i, i%1000)
		items = append(items, item)
		size += len(item) + 1
	}
	return []byte(`{"items":[` + strings.Join(items, ",") + `]}`)
}

// mediaServer is a Server over mediaSpec against a local API answering bodies, with
// opts, served over streamable HTTP; it returns the server and the MCP endpoint's URL.
func mediaServer(t *testing.T, bodies map[string]mediaBody, opts Options) (*Server, string) {
	t.Helper()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mb, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if mb.contentType == "" {
			w.Header()["Content-Type"] = nil // net/http would sniff one
		} else {
			w.Header().Set("Content-Type", mb.contentType)
		}
		if mb.status != 0 {
			w.WriteHeader(mb.status)
		}
		w.Write(mb.body)
	}))
	t.Cleanup(api.Close)
	cat, err := catalog.Load(t.Context(), []byte(mediaSpec), "media.yaml", catalog.Options{BaseURL: api.URL, Namespace: "media"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	tc, err := tools.New(tools.Config{Wallet: w, Ledger: led})
	if err != nil {
		t.Fatal(err)
	}
	if opts.ResultDir == "" {
		opts.ResultDir = t.TempDir()
	}
	s, err := New(tc, cat.Operations, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hs := httptest.NewServer(s.HTTPHandler(HTTPOptions{}))
	t.Cleanup(hs.Close)
	return s, hs.URL + "/mcp"
}

// httpClient is an initialized MCP client of the server at url, in its own session.
func httpClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.ProtocolVersion20250618
	res, err := c.Initialize(t.Context(), init)
	if err != nil {
		t.Fatal(err)
	}
	if res.Capabilities.Resources == nil {
		t.Fatalf("initialize: no resources capability: %+v", res.Capabilities)
	}
	return c
}

// callTool calls a tool with no arguments; a Go error fails the test.
func callTool(t *testing.T, c *client.Client, name string) *mcp.CallToolResult {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = map[string]any{}
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// wireBlock is a content block as it travels (https://modelcontextprotocol.io/specification/2025-06-18/server/tools#tool-result).
type wireBlock struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Data     string `json:"data"`
	MIMEType string `json:"mimeType"`
	URI      string `json:"uri"`
	Name     string `json:"name"`
	Size     *int64 `json:"size"`
	Resource *struct {
		URI      string  `json:"uri"`
		MIMEType string  `json:"mimeType"`
		Blob     *string `json:"blob"`
		Text     *string `json:"text"`
	} `json:"resource"`
}

// wire is a tool result as JSON-RPC carries it.
type wire struct {
	Content           []wireBlock     `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

func onWire(t *testing.T, res *mcp.CallToolResult) wire {
	t.Helper()
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatalf("%v in %.300s", err, raw)
	}
	return w
}

func blockTypes(blocks []wireBlock) []string {
	var out []string
	for _, b := range blocks {
		out = append(out, b.Type)
	}
	return out
}

// readResource reads uri with resources/read and returns its bytes (text, or the
// decoded blob), its MIME type, and whether it came as text.
func readResource(t *testing.T, c *client.Client, uri string) ([]byte, string, bool) {
	t.Helper()
	var req mcp.ReadResourceRequest
	req.Params.URI = uri
	res, err := c.ReadResource(t.Context(), req)
	if err != nil {
		t.Fatalf("resources/read %s: %v", uri, err)
	}
	if len(res.Contents) != 1 {
		t.Fatalf("resources/read %s: %d contents, want 1", uri, len(res.Contents))
	}
	switch rc := res.Contents[0].(type) {
	case mcp.TextResourceContents:
		return []byte(rc.Text), rc.MIMEType, true
	case mcp.BlobResourceContents:
		b, err := base64.StdEncoding.DecodeString(rc.Blob)
		if err != nil {
			t.Fatalf("blob of %s: %v", uri, err)
		}
		return b, rc.MIMEType, false
	}
	t.Fatalf("resources/read %s: contents of type %T", uri, res.Contents[0])
	return nil, "", false
}

// TestResultContent calls one tool per kind of body and checks the result as it
// travels: the block types in order, the MIME type, base64 that decodes to the body, a
// cut at a character boundary with its notice, the resource_link, structuredContent,
// and that resources/read gives back the very bytes.
func TestResultContent(t *testing.T) {
	bodies := mediaBodies(t)
	_, url := mediaServer(t, bodies, Options{})
	c := httpClient(t, url)
	cases := []struct {
		tool       string
		path       string
		wantTypes  []string // the blocks before the cost line
		wantMIME   string   // of the image, audio, resource or link block
		inline     bool     // the media or blob block carries the whole body
		cut        bool     // the first text block is the body's first part, then a notice
		textAs     bool     // resources/read answers text rather than a blob
		structured bool     // structuredContent is the body
		isError    bool
	}{
		{tool: "media_png", path: "/png", wantTypes: []string{"image"}, wantMIME: "image/png", inline: true},
		{tool: "media_sniffed", path: "/sniffed", wantTypes: []string{"image"}, wantMIME: "image/png", inline: true},
		{tool: "media_bigpng", path: "/bigpng", wantTypes: []string{"text", "resource_link"}, wantMIME: "image/png"},
		{tool: "media_wav", path: "/wav", wantTypes: []string{"audio"}, wantMIME: "audio/wav", inline: true},
		{tool: "media_mp3", path: "/mp3", wantTypes: []string{"audio"}, wantMIME: "audio/mpeg", inline: true},
		{tool: "media_octet", path: "/octet", wantTypes: []string{"text", "resource"}, wantMIME: "application/octet-stream", inline: true},
		{tool: "media_latin", path: "/latin", wantTypes: []string{"text", "resource"}, wantMIME: "text/plain; charset=iso-8859-1", inline: true},
		{tool: "media_text", path: "/text", wantTypes: []string{"text", "text", "resource_link"}, wantMIME: "text/plain", cut: true, textAs: true},
		{tool: "media_json", path: "/json", wantTypes: []string{"text", "text", "resource_link"}, wantMIME: "application/json", cut: true, textAs: true},
		{tool: "media_small", path: "/small", wantTypes: []string{"text"}, structured: true},
		{tool: "media_list", path: "/list", wantTypes: []string{"text"}},
		{tool: "media_missing", path: "/missing", wantTypes: []string{"text", "text"}, isError: true},
	}
	for _, tc := range cases {
		t.Run(tc.tool, func(t *testing.T) {
			body := bodies[tc.path].body
			w := onWire(t, callTool(t, c, tc.tool))
			if w.IsError != tc.isError {
				t.Errorf("isError = %v, want %v", w.IsError, tc.isError)
			}
			n := len(w.Content)
			if n == 0 || w.Content[n-1].Type != "text" || w.Content[n-1].Text != "Cost: nothing paid." {
				t.Fatalf("the last block is not the cost line: %+v", w.Content)
			}
			blocks := w.Content[:n-1]
			if diff := cmp.Diff(tc.wantTypes, blockTypes(blocks)); diff != "" {
				t.Fatalf("block types (-want +got):\n%s", diff)
			}
			var uri string
			for _, b := range blocks {
				switch b.Type {
				case "image", "audio":
					checkMIME(t, b.MIMEType, tc.wantMIME)
					checkBase64(t, b.Data, body)
				case "resource":
					checkMIME(t, b.Resource.MIMEType, tc.wantMIME)
					if b.Resource.Blob == nil {
						t.Fatalf("embedded resource without blob: %+v", b.Resource)
					}
					checkBase64(t, *b.Resource.Blob, body)
					uri = b.Resource.URI
				case "resource_link":
					checkMIME(t, b.MIMEType, tc.wantMIME)
					if b.Size == nil || *b.Size != int64(len(body)) || b.Name == "" {
						t.Errorf("resource_link size %v name %q, want size %d and a name", b.Size, b.Name, len(body))
					}
					uri = b.URI
				}
			}
			checkText(t, blocks, body, tc.cut, tc.isError, uri)
			if got, want := len(w.StructuredContent) > 0, tc.structured; got != want {
				t.Errorf("structuredContent present = %v, want %v: %s", got, want, w.StructuredContent)
			} else if want {
				var got, want any
				json.Unmarshal(w.StructuredContent, &got)
				json.Unmarshal(body, &want)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("structuredContent (-body +got):\n%s", diff)
				}
			}
			if wantURI := slicesHas(tc.wantTypes, "resource_link") || slicesHas(tc.wantTypes, "resource"); wantURI != (uri != "") {
				t.Fatalf("resource URI %q; want one: %v", uri, wantURI)
			}
			if uri == "" {
				return
			}
			if !strings.HasPrefix(uri, ResultURIPrefix) {
				t.Errorf("URI %q does not start with %s", uri, ResultURIPrefix)
			}
			got, mimeType, asText := readResource(t, c, uri)
			if !bytes.Equal(got, body) {
				t.Errorf("resources/read gave %d bytes, not the %d of the body", len(got), len(body))
			}
			checkMIME(t, mimeType, tc.wantMIME)
			if asText != tc.textAs {
				t.Errorf("resources/read answered text = %v, want %v", asText, tc.textAs)
			}
		})
	}
}

func slicesHas(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func checkMIME(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("mimeType %q, want %q", got, want)
	}
}

func checkBase64(t *testing.T, data string, body []byte) {
	t.Helper()
	got, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatalf("data is not base64: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("data decodes to %d bytes, not the %d of the body", len(got), len(body))
	}
}

// checkText checks the text blocks: an error's status line; the body whole, or cut at a
// character boundary within DefaultMaxResultBytes and followed by a notice that gives
// the sizes and the URI.
func checkText(t *testing.T, blocks []wireBlock, body []byte, cut, isError bool, uri string) {
	t.Helper()
	if isError {
		if !strings.Contains(blocks[0].Text, "answered HTTP 404") || blocks[1].Text != string(body) {
			t.Errorf("error result: %q then %q", blocks[0].Text, blocks[1].Text)
		}
		return
	}
	if blocks[0].Type != "text" {
		return
	}
	first := blocks[0].Text
	switch {
	case !cut && blocks[len(blocks)-1].Type == "text" && len(blocks) == 1:
		if first != string(body) {
			t.Errorf("text is %d bytes, not the body's %d", len(first), len(body))
		}
	case cut:
		if len(first) > DefaultMaxResultBytes || len(first) < DefaultMaxResultBytes-utf8.UTFMax || !utf8.ValidString(first) || !bytes.HasPrefix(body, []byte(first)) {
			t.Errorf("inline part: %d bytes, valid UTF-8 %v, a prefix of the body %v", len(first), utf8.ValidString(first), bytes.HasPrefix(body, []byte(first)))
		}
		notice := blocks[1].Text
		for _, want := range []string{fmt.Sprintf("first %d of %d bytes", len(first), len(body)), fmt.Sprintf("%d bytes follow", len(body)-len(first)), uri, "resources/read", "max_result_bytes"} {
			if !strings.Contains(notice, want) {
				t.Errorf("notice %q does not say %q", notice, want)
			}
		}
	default: // a binary body: the text says what it is
		if !strings.Contains(first, fmt.Sprint(len(body))) || !strings.Contains(first, uri) {
			t.Errorf("text %q does not give the size %d and the URI %s", first, len(body), uri)
		}
	}
}

// TestResultLimits: an API's limit overrides the server's, a smaller limit cuts a
// small body, and a body within the limit comes whole.
func TestResultLimits(t *testing.T) {
	bodies := mediaBodies(t)
	cases := []struct {
		name      string
		opts      Options
		tool      string
		wantTypes []string
	}{
		{name: "server limit cuts", opts: Options{MaxResultBytes: 20}, tool: "media_small", wantTypes: []string{"text", "text", "resource_link", "text"}},
		{name: "API limit wins", opts: Options{MaxResultBytes: 20, ResultLimits: map[string]int{"media": 1000}}, tool: "media_small", wantTypes: []string{"text", "text"}},
		{name: "API limit admits a large image", opts: Options{ResultLimits: map[string]int{"media": 1 << 20}}, tool: "media_bigpng", wantTypes: []string{"image", "text"}},
		{name: "other API's limit", opts: Options{ResultLimits: map[string]int{"other": 1 << 20}}, tool: "media_bigpng", wantTypes: []string{"text", "resource_link", "text"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, url := mediaServer(t, bodies, tc.opts)
			w := onWire(t, callTool(t, httpClient(t, url), tc.tool))
			if diff := cmp.Diff(tc.wantTypes, blockTypes(w.Content)); diff != "" {
				t.Errorf("block types (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResultsPerSession: a kept body is read only by the session that made the call;
// another session, an unknown URI and a URI after its session ended get a clear error.
func TestResultsPerSession(t *testing.T) {
	bodies := mediaBodies(t)
	dir := t.TempDir()
	s, url := mediaServer(t, bodies, Options{ResultDir: dir})
	owner, other := httpClient(t, url), httpClient(t, url)
	uri := linkOf(t, onWire(t, callTool(t, owner, "media_text")))
	if got, _, _ := readResource(t, owner, uri); !bytes.Equal(got, bodies["/text"].body) {
		t.Fatalf("the owner read %d bytes, not the body", len(got))
	}
	for name, tc := range map[string]struct {
		c    *client.Client
		uri  string
		want string // in the error
	}{
		"another session": {other, uri, "is not a result body toll keeps for this session"},
		"unknown id":      {owner, ResultURIPrefix + "00000000000000000000000000000000", "is not a result body toll keeps for this session"},
		"another scheme":  {owner, "file:///etc/passwd", "resource not found"},
	} {
		var req mcp.ReadResourceRequest
		req.Params.URI = tc.uri
		_, err := tc.c.ReadResource(t.Context(), req)
		if err == nil {
			t.Errorf("%s: read %s", name, tc.uri)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not say %q", name, err, tc.want)
		}
	}
	files := keptFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d kept files, want 1: %v", len(files), files)
	}
	for path, want := range map[string]os.FileMode{files[0]: 0o600, filepath.Dir(files[0]): 0o700 | os.ModeDir} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	owner.Close() // DELETE: the session ends
	if files := keptFiles(t, dir); len(files) != 0 {
		t.Errorf("after the session ended, kept files remain: %v", files)
	}
	s.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("after Close, %s holds %d entries", dir, len(entries))
	}
}

// TestResultsKeptFull: a body that would pass MaxKeptBytes is not kept, and the result
// says what is missing and why; the bodies kept before stay readable.
func TestResultsKeptFull(t *testing.T) {
	bodies := mediaBodies(t)
	_, url := mediaServer(t, bodies, Options{MaxKeptBytes: 400_000})
	c := httpClient(t, url)
	uri := linkOf(t, onWire(t, callTool(t, c, "media_text")))
	w := onWire(t, callTool(t, c, "media_json"))
	if diff := cmp.Diff([]string{"text", "text", "text"}, blockTypes(w.Content)); diff != "" {
		t.Fatalf("block types when full (-want +got):\n%s", diff)
	}
	body := bodies["/json"].body
	notice := w.Content[1].Text
	for _, want := range []string{fmt.Sprintf("of %d bytes", len(body)), "are lost", "could not keep", "400000"} {
		if !strings.Contains(notice, want) {
			t.Errorf("notice %q does not say %q", notice, want)
		}
	}
	img := onWire(t, callTool(t, c, "media_bigpng"))
	if diff := cmp.Diff([]string{"text", "image", "text"}, blockTypes(img.Content)); diff != "" {
		t.Fatalf("an image over the limit when full (-want +got):\n%s", diff)
	}
	if !strings.Contains(img.Content[0].Text, "could not keep") {
		t.Errorf("notice %q does not say the image could not be kept", img.Content[0].Text)
	}
	checkBase64(t, img.Content[1].Data, bodies["/bigpng"].body)
	if got, _, _ := readResource(t, c, uri); !bytes.Equal(got, bodies["/text"].body) {
		t.Errorf("the body kept first reads %d bytes, not the body", len(got))
	}
}

// linkOf is the URI of the one resource_link of a result.
func linkOf(t *testing.T, w wire) string {
	t.Helper()
	var uris []string
	for _, b := range w.Content {
		if b.Type == "resource_link" {
			uris = append(uris, b.URI)
		}
	}
	if len(uris) != 1 {
		t.Fatalf("%d resource_links in %v", len(uris), blockTypes(w.Content))
	}
	return uris[0]
}

// keptFiles are the files under dir's toll-results-* directories.
func keptFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "toll-results-*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestClassify(t *testing.T) {
	cases := []struct {
		contentType string
		body        string
		truncated   bool
		wantKind    bodyKind
		wantMIME    string
	}{
		{"text/plain; charset=utf-8", "héllo", false, kindText, "text/plain"},
		{"application/json", `{"a":1}`, false, kindJSON, "application/json"},
		{"application/vnd.api+json", `{"a":1}`, false, kindJSON, "application/vnd.api+json"},
		{"Application/JSON; charset=UTF-8", `{"a":1}`, false, kindJSON, "application/json"},
		{"image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"/>`, false, kindText, "image/svg+xml"},
		{"image/webp", "RIFF\x00\x00\x00\x00WEBP", false, kindImage, "image/webp"},
		{"audio/ogg", "OggS", false, kindAudio, "audio/ogg"},
		{"application/pdf", "%PDF-1.7", false, kindBinary, "application/pdf"},
		{"text/plain", "caf\xe9", false, kindBinary, "text/plain"},
		{"text/csv; charset=Windows-1252", "caf\xe9", false, kindBinary, "text/csv; charset=windows-1252"},
		{"text/plain", "caf\xc3", true, kindText, "text/plain"},    // cut inside é at the response limit
		{"text/plain", "caf\xc3", false, kindBinary, "text/plain"}, // the API sent it so
		{"", `{"a":1}`, false, kindJSON, "application/json"},
		{"", "just words", false, kindText, "text/plain"},
		{"", "\x89PNG\r\n\x1a\n", false, kindImage, "image/png"},
		{"not a media type", "words", false, kindText, "text/plain"},
		{"application/xml", "<a/>", false, kindText, "application/xml"},
		{"application/x-ndjson", "{}\n{}\n", false, kindText, "application/x-ndjson"},
	}
	for _, tc := range cases {
		kind, mt := classify(tc.contentType, []byte(tc.body), tc.truncated)
		if kind != tc.wantKind || mt != tc.wantMIME {
			t.Errorf("classify(%q, %q, %v) = %v %q, want %v %q", tc.contentType, tc.body, tc.truncated, kind, mt, tc.wantKind, tc.wantMIME)
		}
	}
}

func TestTextCut(t *testing.T) {
	body := []byte("aé✓🌧")                           // 1 + 2 + 3 + 4 bytes
	wants := []int{0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10} // the cut for each limit 0..10
	for limit, want := range wants {
		if got := textCut(body, limit); got != want {
			t.Errorf("textCut(limit %d) = %d, want %d", limit, got, want)
		}
	}
}
