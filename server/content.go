package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools"
)

// DefaultMaxResultBytes is the largest body a tool result carries inline when neither
// Options.MaxResultBytes nor the API's max_result_bytes says otherwise: about 25,000
// tokens of English, near where MCP hosts cut a tool's output.
const DefaultMaxResultBytes = 100_000

// bodyKind is how a response body is shown to the model.
type bodyKind int

const (
	kindText   bodyKind = iota // UTF-8 text: a text block
	kindJSON                   // UTF-8 JSON: a text block, and structuredContent for an object
	kindImage                  // an image block
	kindAudio                  // an audio block
	kindBinary                 // anything else: an embedded resource blob
)

// classify says how to show a body, and its media type: without parameters, but for the
// charset of text that is not UTF-8, which a reader needs to decode it. The declared
// Content-Type decides; without one the body is sniffed. Text and JSON must be valid
// UTF-8 (a body cut at toll's response limit may end inside a character), or they are
// binary. SVG is text: hosts take only raster images.
func classify(contentType string, body []byte, truncated bool) (bodyKind, string) {
	mt, params, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		mt, _, _ = mime.ParseMediaType(http.DetectContentType(body))
		if mt == "text/plain" && json.Valid(body) {
			mt = "application/json"
		}
	}
	mt = strings.ToLower(mt)
	text := utf8.Valid(body)
	if !text && truncated {
		text = utf8.Valid(body[:completeRunes(body)])
	}
	switch {
	case strings.HasPrefix(mt, "image/") && mt != "image/svg+xml":
		return kindImage, mt
	case strings.HasPrefix(mt, "audio/"):
		return kindAudio, mt
	case !text:
		if cs := params["charset"]; cs != "" && textual(mt) {
			return kindBinary, mime.FormatMediaType(mt, map[string]string{"charset": strings.ToLower(cs)})
		}
		return kindBinary, mt
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "/json"):
		return kindJSON, mt
	case textual(mt):
		return kindText, mt
	}
	return kindBinary, mt
}

// textual reports whether a media type is text a model reads: text/*, XML, JSON lines,
// YAML, JavaScript, forms and the like.
func textual(mt string) bool {
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+xml") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+yaml") {
		return true
	}
	switch mt {
	case "application/xml", "application/json", "application/x-ndjson", "application/jsonl", "application/yaml", "application/x-yaml",
		"application/toml", "application/javascript", "application/ecmascript", "application/graphql", "application/sql",
		"application/x-www-form-urlencoded", "image/svg+xml":
		return true
	}
	return false
}

// completeRunes is the length of body without a last character cut short.
func completeRunes(body []byte) int {
	n := len(body)
	for i := 1; i <= utf8.UTFMax && i <= n; i++ {
		if utf8.RuneStart(body[n-i]) {
			if !utf8.FullRune(body[n-i:]) {
				return n - i
			}
			break
		}
	}
	return n
}

// textCut is the longest prefix of a UTF-8 body within limit bytes that ends on a
// character boundary.
func textCut(body []byte, limit int) int {
	if len(body) <= limit {
		return len(body)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return cut
}

// ResultLimits are the max_result_bytes the catalog entries of apis set, by API name, as
// Options.ResultLimits takes them; nil when no entry sets one.
func ResultLimits(apis []*catalog.API) map[string]int {
	var m map[string]int
	for _, api := range apis {
		if n := api.Config.MaxResultBytes; n > 0 {
			if m == nil {
				m = map[string]int{}
			}
			m[api.Name] = n
		}
	}
	return m
}

// resultLimit is the largest body op's results carry inline.
func (s *Server) resultLimit(op *catalog.Operation) int {
	if n := s.limits[op.API]; n > 0 {
		return n
	}
	return s.maxResult
}

// rendering is a tool result in the making.
type rendering struct {
	op      *catalog.Operation
	res     *tools.Result
	kind    bodyKind
	mime    string
	limit   int
	session string
	out     []mcp.Content
}

// content writes a response body as MCP content: text, image, audio or an embedded
// resource, cut to the API's limit with a resource_link to the whole body when it is
// larger. A JSON object that is shown whole is also the structuredContent.
func (s *Server) content(session string, op *catalog.Operation, res *tools.Result, result *mcp.CallToolResult) {
	kind, mt := classify(res.ContentType, res.Body, res.Truncated)
	r := &rendering{op: op, res: res, kind: kind, mime: mt, limit: s.resultLimit(op), session: session}
	if res.Status >= 400 {
		r.text(fmt.Sprintf("%s answered HTTP %d:", op.Name, res.Status))
	}
	switch {
	case len(res.Body) == 0:
		r.text("(empty body)")
	case kind == kindText || kind == kindJSON:
		s.textBody(r)
		if kind == kindJSON && res.Status < 400 && !res.Truncated && len(res.Body) <= r.limit && isObject(res.Body) {
			result.RawStructuredContent = json.RawMessage(res.Body)
		}
	default:
		s.binaryBody(r)
	}
	if res.Truncated {
		r.text(fmt.Sprintf("[response cut at %d bytes: toll reads at most that much of a response; the rest was not received]", len(res.Body)))
	}
	result.Content = append(result.Content, r.out...)
}

func (r *rendering) text(s string) { r.out = append(r.out, mcp.NewTextContent(s)) }

// textBody shows a text body whole, or its first part with a notice and a link to the
// whole body.
func (s *Server) textBody(r *rendering) {
	body := r.res.Body
	cut := textCut(body, r.limit)
	if cut == len(body) {
		r.text(string(body))
		return
	}
	r.text(string(body[:cut]))
	uri, err := s.results.keep(r.session, r.mime, true, body)
	if err != nil {
		s.log.Warn("result body not kept", "tool", r.op.Name, "bytes", len(body), "err", err)
		r.text(fmt.Sprintf("[toll cut this result: above are the first %d of %d bytes (%s), the most this API's results carry inline. "+
			"The other %d bytes are lost: toll could not keep the whole body (%v). The user can raise max_result_bytes for this API in toll's configuration.]",
			cut, len(body), r.mime, len(body)-cut, err))
		return
	}
	r.text(fmt.Sprintf("[toll cut this result: above are the first %d of %d bytes (%s), the most this API's results carry inline; %d bytes follow. "+
		"The whole body is the resource %s: read it with resources/read (it is kept for this session only). "+
		"The user can raise max_result_bytes for this API in toll's configuration.]",
		cut, len(body), r.mime, len(body)-cut, uri))
	r.link(uri)
}

// binaryBody shows an image or audio body inline when it is whole and within the limit;
// other binary bodies are embedded resources. A body over the limit, or cut at toll's
// response limit, is kept and linked instead: a part of an image is no image. A body
// toll cannot keep is shown whole rather than lost, with a notice.
func (s *Server) binaryBody(r *rendering) {
	body := r.res.Body
	inline := len(body) <= r.limit && !r.res.Truncated
	if inline && (r.kind == kindImage || r.kind == kindAudio) {
		r.media()
		return
	}
	uri, err := s.results.keep(r.session, r.mime, false, body)
	switch {
	case err != nil:
		s.log.Warn("result body not kept", "tool", r.op.Name, "bytes", len(body), "err", err)
		r.text(fmt.Sprintf("[%s body of %d bytes, shown whole although it is more than this API's results carry inline: "+
			"toll could not keep it as a resource (%v)]", r.mime, len(body), err))
		if r.kind == kindImage || r.kind == kindAudio {
			r.media()
			return
		}
		r.blob(ResultURIPrefix + "not-kept")
	case inline:
		r.text(fmt.Sprintf("[binary %s body of %d bytes, embedded below as the resource %s]", r.mime, len(body), uri))
		r.blob(uri)
	default:
		r.text(fmt.Sprintf("[%s body of %d bytes, more than the %d bytes this API's results carry inline: it is the resource %s; "+
			"read it with resources/read (it is kept for this session only). The user can raise max_result_bytes for this API in toll's configuration.]",
			r.mime, len(body), r.limit, uri))
		r.link(uri)
	}
}

// media adds the body as an image or audio block.
func (r *rendering) media() {
	data := base64.StdEncoding.EncodeToString(r.res.Body)
	if r.kind == kindImage {
		r.out = append(r.out, mcp.NewImageContent(data, r.mime))
		return
	}
	r.out = append(r.out, mcp.NewAudioContent(data, r.mime))
}

// blob adds the body as an embedded resource at uri.
func (r *rendering) blob(uri string) {
	data := base64.StdEncoding.EncodeToString(r.res.Body)
	r.out = append(r.out, mcp.NewEmbeddedResource(mcp.BlobResourceContents{URI: uri, MIMEType: r.mime, Blob: data}))
}

// link adds a resource_link to a kept body.
func (r *rendering) link(uri string) {
	l := mcp.NewResourceLink(uri, r.op.Name+" result",
		fmt.Sprintf("The whole body %s answered (HTTP %d), kept for this session", r.op.Name, r.res.Status), r.mime)
	size := int64(len(r.res.Body))
	l.Size = &size
	r.out = append(r.out, l)
}

// isObject reports whether body is one JSON object.
func isObject(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(body)
}
