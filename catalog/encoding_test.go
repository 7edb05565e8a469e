package catalog

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const encodingSpec = `
openapi: 3.1.0
info: {title: Encodings, version: "1"}
servers: [{url: "https://api.example.com"}]
paths:
  /forms:
    post:
      operationId: form
      parameters:
        - {name: next, in: query, allowReserved: true, schema: {type: string}}
        - {name: q, in: query, schema: {type: string}}
        - {name: filter, in: query, content: {application/xml: {schema: {type: object}}}}
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema: {type: object}
            encoding:
              tags: {style: pipeDelimited}
              color: {explode: false}
              note: {contentType: "text/markdown, text/plain"}
              meta: {contentType: application/json, style: form}
              plain: {}
      responses: {"200": {description: OK}}
  /xml:
    post:
      operationId: xml
      requestBody:
        required: true
        content: {application/xml: {schema: {type: object}}}
      responses: {"200": {description: OK}}
  /octets:
    put:
      operationId: octets
      requestBody:
        content: {application/octet-stream: {}}
      responses: {"200": {description: OK}}
  /json:
    post:
      operationId: json
      requestBody:
        content:
          application/json:
            schema: {type: object}
            encoding: {a: {style: form}}
      responses: {"200": {description: OK}}
`

// TestEncodingCarried: the catalog carries what the client needs to write a request as
// the spec says, defaults filled in, and warns about what it cannot write.
func TestEncodingCarried(t *testing.T) {
	api, err := Load(context.Background(), []byte(encodingSpec), "encodings.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	form := operation(t, api, "encodings_form")
	wantEnc := map[string]Encoding{
		"tags":  {Style: StylePipeDelimited},
		"color": {Style: StyleForm},
		"note":  {ContentType: "text/markdown"},
		"meta":  {Style: StyleForm, Explode: true}, // a style is given: contentType is ignored
		"plain": {},
	}
	if diff := cmp.Diff(wantEnc, form.Body.Encoding); diff != "" {
		t.Errorf("form body encoding (-want +got):\n%s", diff)
	}
	var reserved []bool
	for _, p := range form.Params {
		reserved = append(reserved, p.AllowReserved)
	}
	if diff := cmp.Diff([]bool{true, false, false}, reserved); diff != "" {
		t.Errorf("allowReserved of next, q, filter (-want +got):\n%s", diff)
	}
	if enc := operation(t, api, "encodings_json").Body.Encoding; enc != nil {
		t.Errorf("a JSON body has encoding %v; OpenAPI ignores it there", enc)
	}

	tests := []struct {
		parts []string // the words of one warning
	}{
		{[]string{"encodings_form", `query parameter "filter"`, "calls that set it are refused before paying", "application/xml"}},
		{[]string{"encodings_xml", "request body", "every call is refused before paying", "application/xml"}},
		{[]string{"encodings_octets", "request body", "calls with a body are refused before paying", "application/octet-stream"}},
	}
	for _, tt := range tests {
		if !hasWarning(api, tt.parts...) {
			t.Errorf("no warning with %q in:\n%s", tt.parts, strings.Join(api.Warnings, "\n"))
		}
	}
	if hasWarning(api, "encodings_json") || hasWarning(api, `"next"`) {
		t.Errorf("a warning about what toll can write:\n%s", strings.Join(api.Warnings, "\n"))
	}
}

func TestMediaKind(t *testing.T) {
	tests := []struct {
		mediaType, want string
	}{
		{"application/json", MediaJSON},
		{"Application/JSON; charset=utf-8", MediaJSON},
		{"application/problem+json", MediaJSON},
		{"text/json", MediaJSON},
		{"*/*", MediaJSON},
		{"application/*", MediaJSON},
		{"application/x-www-form-urlencoded", MediaForm},
		{"multipart/form-data", MediaMultipart},
		{"text/plain", MediaText},
		{"text/csv", MediaText},
		{"application/xml", ""},
		{"application/octet-stream", ""},
		{"multipart/mixed", ""},
		{"image/png", ""},
	}
	for _, tt := range tests {
		if got := MediaKind(tt.mediaType); got != tt.want {
			t.Errorf("MediaKind(%q) = %q, want %q", tt.mediaType, got, tt.want)
		}
	}
}

func TestParamUnsupported(t *testing.T) {
	tests := []struct {
		param       Param
		wantStyle   string
		wantExplode bool
		wantWhy     string // "" when toll can write it; else a word of the reason
	}{
		{Param{In: "path"}, StyleSimple, false, ""},
		{Param{In: "header"}, StyleSimple, false, ""},
		{Param{In: "query"}, StyleForm, true, ""},
		{Param{In: "cookie"}, StyleForm, true, ""},
		{Param{In: "query", Style: StyleForm}, StyleForm, false, ""},
		{Param{In: "path", Style: StyleMatrix, Explode: true}, StyleMatrix, true, ""},
		{Param{In: "query", Style: StyleDeepObject}, StyleDeepObject, false, ""},
		{Param{In: "path", Style: StyleDeepObject}, StyleDeepObject, false, "deepObject"},
		{Param{In: "header", Style: StyleForm}, StyleForm, false, "form"},
		{Param{In: "cookie", Style: StyleSimple}, StyleSimple, false, "simple"},
		{Param{In: "query", Style: StyleLabel}, StyleLabel, false, "label"},
		{Param{In: "query", MediaType: "application/json"}, StyleForm, true, ""},
		{Param{In: "query", MediaType: "text/plain"}, StyleForm, true, ""},
		{Param{In: "query", MediaType: "application/xml"}, StyleForm, true, "application/xml"},
		{Param{In: "body"}, StyleSimple, false, "body"},
	}
	for _, tt := range tests {
		style, explode := tt.param.Serialization()
		if style != tt.wantStyle || explode != tt.wantExplode {
			t.Errorf("%+v: Serialization() = %s, %v; want %s, %v", tt.param, style, explode, tt.wantStyle, tt.wantExplode)
		}
		why := tt.param.Unsupported()
		if (why == "") != (tt.wantWhy == "") || !strings.Contains(why, tt.wantWhy) {
			t.Errorf("%+v: Unsupported() = %q, want it to name %q", tt.param, why, tt.wantWhy)
		}
	}
}
