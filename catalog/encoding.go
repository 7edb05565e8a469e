package catalog

import (
	"cmp"
	"fmt"
	"maps"
	"mime"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Parameter styles (https://spec.openapis.org/oas/v3.1.1#style-values).
const (
	StyleSimple         = "simple"         // path, header
	StyleLabel          = "label"          // path
	StyleMatrix         = "matrix"         // path
	StyleForm           = "form"           // query, cookie; form bodies
	StyleSpaceDelimited = "spaceDelimited" // query; form bodies
	StylePipeDelimited  = "pipeDelimited"  // query; form bodies
	StyleDeepObject     = "deepObject"     // query; form bodies
)

// How toll writes a value of a media type: what MediaKind returns.
const (
	MediaJSON      = "json"      // application/json, */json, any +json, and the ranges */* and application/*
	MediaForm      = "form"      // application/x-www-form-urlencoded: an object, property by property
	MediaMultipart = "multipart" // multipart/form-data: an object, a part per property (or array item)
	MediaText      = "text"      // text/*: a string as it is
)

// MediaKind says how toll writes a value as mediaType (parameters such as
// charset aside): one of MediaJSON, MediaForm, MediaMultipart, MediaText,
// or "" when toll cannot write it (application/xml, application/octet-stream...).
func MediaKind(mediaType string) string {
	base, _, _ := strings.Cut(mediaType, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	switch {
	case base == "application/json", strings.HasSuffix(base, "+json"), strings.HasSuffix(base, "/json"),
		base == "*/*", base == "application/*":
		return MediaJSON
	case base == "application/x-www-form-urlencoded":
		return MediaForm
	case base == "multipart/form-data":
		return MediaMultipart
	case strings.HasPrefix(base, "text/"):
		return MediaText
	}
	return ""
}

// Encoding says how one property of a form or multipart request body is
// written: OpenAPI's Encoding Object
// (https://spec.openapis.org/oas/v3.1.1#encoding-object), defaults filled in.
type Encoding struct {
	// ContentType is the media type the property is written as: the first
	// of the spec's list. "" means the default: text/plain for a primitive
	// (and for each primitive item of an array), application/json for an
	// object. It is ignored when Style is set.
	ContentType string `json:",omitempty"`
	// Style, Explode and AllowReserved are set when the spec gives any of
	// them (the others then take their defaults: form, explode for form,
	// no reserved characters): the property is written as a query
	// parameter of that style would be. Style "" means the spec gives none
	// of them, and ContentType says how the property is written.
	Style         string `json:",omitempty"`
	Explode       bool   `json:",omitempty"`
	AllowReserved bool   `json:",omitempty"`
}

// Serialization is the parameter's style and explode, with OpenAPI's
// defaults for its location when Style is "" (and then Explode is that of
// the default style: true for form, false for simple).
func (p Param) Serialization() (style string, explode bool) {
	if p.Style != "" {
		return p.Style, p.Explode
	}
	switch p.In {
	case openapi3.ParameterInQuery, openapi3.ParameterInCookie:
		return StyleForm, true
	}
	return StyleSimple, false
}

// definedStyles are the styles OpenAPI defines for a parameter location
// (https://spec.openapis.org/oas/v3.1.1#style-values); nil for a location
// that is not one.
func definedStyles(in string) []string {
	switch in {
	case openapi3.ParameterInPath:
		return []string{StyleSimple, StyleLabel, StyleMatrix}
	case openapi3.ParameterInQuery:
		return []string{StyleForm, StyleSpaceDelimited, StylePipeDelimited, StyleDeepObject}
	case openapi3.ParameterInHeader:
		return []string{StyleSimple}
	case openapi3.ParameterInCookie:
		return []string{StyleForm}
	}
	return nil
}

// Unsupported says why toll cannot send a value of the parameter, or ""
// when it can: its style is not one OpenAPI defines for its location, or
// it is described by content of a media type other than JSON or text.
func (p Param) Unsupported() string {
	if p.MediaType != "" {
		if k := MediaKind(p.MediaType); k == MediaJSON || k == MediaText {
			return ""
		}
		return fmt.Sprintf("its content is %s, which toll cannot write (it writes JSON and text parameters)", clip(p.MediaType))
	}
	styles := definedStyles(p.In)
	if styles == nil {
		return fmt.Sprintf("toll cannot send a parameter in %q", clip(p.In))
	}
	if style, _ := p.Serialization(); !slices.Contains(styles, style) {
		return fmt.Sprintf("style %q is not defined for %s parameters (OpenAPI defines %s)", clip(style), p.In, strings.Join(styles, ", "))
	}
	return ""
}

// Unsupported says why toll cannot send the body, or "" when it can.
func (b Body) Unsupported() string {
	if b.MediaType == "" || MediaKind(b.MediaType) != "" {
		return ""
	}
	return fmt.Sprintf("its media type %s is not one toll writes (JSON, application/x-www-form-urlencoded, multipart/form-data, text)", clip(b.MediaType))
}

// Unsupported says why toll cannot write the property, or "" when it can.
func (e Encoding) Unsupported() string {
	if e.Style == "" {
		return ""
	}
	if styles := definedStyles(openapi3.ParameterInQuery); !slices.Contains(styles, e.Style) {
		return fmt.Sprintf("style %q is not defined for form properties (OpenAPI defines %s)", clip(e.Style), strings.Join(styles, ", "))
	}
	return ""
}

// bodyEncoding reads the Encoding Objects of a form or multipart body; nil
// for other media types, which OpenAPI says ignore them. What is not usable
// is noted on p.
func bodyEncoding(p *pending, mediaType string, media *openapi3.MediaType) map[string]Encoding {
	if k := MediaKind(mediaType); (k != MediaForm && k != MediaMultipart) || len(media.Encoding) == 0 {
		return nil
	}
	out := make(map[string]Encoding, len(media.Encoding))
	for _, name := range slices.Sorted(maps.Keys(media.Encoding)) {
		e := media.Encoding[name]
		if e == nil {
			continue
		}
		var enc Encoding
		if e.Style != "" || e.Explode != nil || e.AllowReserved {
			enc.Style = cmp.Or(e.Style, StyleForm)
			enc.Explode = enc.Style == StyleForm
			if e.Explode != nil {
				enc.Explode = *e.Explode
			}
			enc.AllowReserved = e.AllowReserved
		} else if e.ContentType != "" {
			first, _, _ := strings.Cut(e.ContentType, ",")
			first = strings.TrimSpace(first)
			if _, _, err := mime.ParseMediaType(first); err != nil || len(first) > 128 {
				p.notes = append(p.notes, fmt.Sprintf("request body property %q: encoding contentType %q is not a media type; the default is used", clip(name), clip(e.ContentType)))
			} else {
				enc.ContentType = first
			}
		}
		out[name] = enc
	}
	return out
}

// encodingNotes say which calls of the operation toll will refuse, before
// paying, because the spec asks for an encoding toll cannot write.
func encodingNotes(o *Operation) []string {
	var notes []string
	for _, p := range o.Params {
		if why := p.Unsupported(); why != "" {
			notes = append(notes, fmt.Sprintf("%s parameter %q: %s refused before paying: %s", p.In, clip(p.Name), calls(p.Required, "that set it"), why))
		}
	}
	if o.Body == nil {
		return notes
	}
	if why := o.Body.Unsupported(); why != "" {
		notes = append(notes, fmt.Sprintf("request body: %s refused before paying: %s", calls(o.Body.Required, "with a body"), why))
	}
	for _, name := range slices.Sorted(maps.Keys(o.Body.Encoding)) {
		if why := o.Body.Encoding[name].Unsupported(); why != "" {
			notes = append(notes, fmt.Sprintf("request body property %q: calls that set it are refused before paying: %s", clip(name), why))
		}
	}
	return notes
}

// calls names the calls a refusal applies to: every call when the value is
// required, else those that give it.
func calls(required bool, which string) string {
	if required {
		return "every call is"
	}
	return "calls " + which + " are"
}
