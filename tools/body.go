package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/tollhq/toll/catalog"
)

// writeBody writes the body argument as the operation's media type says
// (https://spec.openapis.org/oas/v3.1.1#request-body-object): JSON; a form or multipart
// body property by property, as the body's Encoding says; text. It returns the bytes and
// the Content-Type.
func writeBody(op *catalog.Operation, v any) ([]byte, string, error) {
	b := op.Body
	mt := b.MediaType
	if mt == "" {
		mt = "application/json"
	}
	var data []byte
	var err error
	switch catalog.MediaKind(mt) {
	case catalog.MediaJSON:
		if strings.Contains(mt, "*") {
			mt = "application/json" // a range such as */*: any type will do
		}
		data, err = json.Marshal(v)
	case catalog.MediaForm:
		data, err = formBody(b, v)
	case catalog.MediaMultipart:
		return multipartBody(op, v)
	case catalog.MediaText:
		if strings.Contains(mt, "*") {
			mt = "text/plain; charset=utf-8"
		}
		s, ok := text(v)
		if !ok {
			err = fmt.Errorf("a %s body must be a string, not %s", mt, kindOf(v))
		}
		data = []byte(s)
	default:
		return nil, "", cannotEncode(op, "the request body: %s", b.Unsupported())
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: body: %v", ErrInvalidArguments, op.Name, err)
	}
	return data, mt, nil
}

// formBody writes an object as application/x-www-form-urlencoded, a member at a time.
func formBody(b *catalog.Body, v any) ([]byte, error) {
	o, ok := asObject(v)
	if !ok {
		return nil, fmt.Errorf("a form body must be an object, not %s", kindOf(v))
	}
	var pairs []pair
	for _, k := range o.keys {
		val, enc := o.vals[k], b.Encoding[k]
		if val == nil {
			continue
		}
		if enc.Style != "" {
			if why := enc.Unsupported(); why != "" {
				return nil, fmt.Errorf("property %q: %s", k, why)
			}
			more, err := formPairs(k, val, enc.Style, enc.Explode, func(s string) string { return escape(s, enc.AllowReserved) })
			if err != nil {
				return nil, fmt.Errorf("property %q: %v", k, err)
			}
			pairs = append(pairs, more...)
			continue
		}
		for _, item := range memberItems(val) {
			_, data, err := propertyContent(enc.ContentType, item)
			if err != nil {
				return nil, fmt.Errorf("property %q: %v", k, err)
			}
			pairs = append(pairs, pair{k, urlEscape(string(data))})
		}
	}
	return []byte(joinPairs(pairs, "&", urlEscape)), nil
}

// multipartBody writes an object as multipart/form-data: a part per member, or per item
// of an array member (https://spec.openapis.org/oas/v3.1.1#special-considerations-for-multipart-content).
func multipartBody(op *catalog.Operation, v any) ([]byte, string, error) {
	o, ok := asObject(v)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s: a multipart/form-data body must be an object, not %s", ErrInvalidArguments, op.Name, kindOf(v))
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, k := range o.keys {
		if err := writeParts(w, op.Body.Encoding[k], k, o.vals[k]); err != nil {
			return nil, "", fmt.Errorf("%w: %s: body property %q: %v", ErrInvalidArguments, op.Name, k, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// writeParts writes one member of a multipart body: with a style, a text/plain part per
// name=value the style makes; else a part per item, as its content type says.
func writeParts(w *multipart.Writer, enc catalog.Encoding, name string, v any) error {
	if v == nil {
		return nil
	}
	if enc.Style != "" {
		if why := enc.Unsupported(); why != "" {
			return fmt.Errorf("%s", why)
		}
		pairs, err := formPairs(name, v, enc.Style, enc.Explode, verbatim)
		if err != nil {
			return err
		}
		for _, p := range pairs {
			if err := writePart(w, p.name, "text/plain; charset=utf-8", []byte(p.value)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, item := range memberItems(v) {
		ct, data, err := propertyContent(enc.ContentType, item)
		if err != nil {
			return err
		}
		if err := writePart(w, name, ct, data); err != nil {
			return err
		}
	}
	return nil
}

// writePart writes a part named name; what would end the quoted name is percent-encoded,
// as HTML forms do.
func writePart(w *multipart.Writer, name, contentType string, data []byte) error {
	if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return fmt.Errorf("content type %q: %v", contentType, err)
	}
	quoted := strings.NewReplacer(`"`, "%22", "\r", "%0D", "\n", "%0A").Replace(name)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+quoted+`"`)
	h.Set("Content-Type", contentType)
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = pw.Write(data)
	return err
}

// memberItems are the values a form or multipart member is written as: each item of an
// array (nulls left out), else the value itself.
func memberItems(v any) []any {
	list, ok := v.([]any)
	if !ok {
		return []any{v}
	}
	out := make([]any, 0, len(list))
	for _, item := range list {
		if item != nil {
			out = append(out, item)
		}
	}
	return out
}

// propertyContent writes one value of a form or multipart property as its content type
// says ("": text/plain for a primitive, application/json for an object or array).
func propertyContent(declared string, v any) (string, []byte, error) {
	s, primitive := text(v)
	ct := declared
	if ct == "" {
		ct = "text/plain; charset=utf-8"
		if !primitive {
			ct = "application/json"
		}
	}
	switch {
	case catalog.MediaKind(ct) == catalog.MediaJSON:
		if strings.Contains(ct, "*") {
			ct = "application/json"
		}
		data, err := json.Marshal(v)
		return ct, data, err
	case !primitive:
		return "", nil, fmt.Errorf("%s cannot be written as %s", kindOf(v), ct)
	case strings.Contains(ct, "*"):
		ct = "application/octet-stream" // a range such as image/*: the text is sent as it is
	}
	return ct, []byte(s), nil
}

// kindOf names a JSON value's type for messages.
func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case *object, map[string]any:
		return "an object"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	}
	return "a number"
}
