package tools

// Values are written as OpenAPI's parameter styles say
// (https://spec.openapis.org/oas/v3.1.1#style-values): the rows of the
// "Style Examples" table there (https://spec.openapis.org/oas/v3.1.1#style-examples)
// are what expand and formPairs produce. Names and values are
// percent-encoded; the delimiters a style defines are not, except the space
// of spaceDelimited and the pipe of pipeDelimited, which are not allowed
// in a URL as they are (%20, %7C). OpenAPI 3.1.0's table printed those two,
// deepObject's brackets and label's non-exploded commas otherwise; 3.1.1
// corrected the table to RFC 6570, which this follows.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/tollhq/toll/catalog"
)

// object is a JSON object with its members in the order they were written, so that
// {"R":100,"G":200,"B":150} is sent as R, G, B.
type object struct {
	keys []string
	vals map[string]any
}

// MarshalJSON writes the members in their order.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// asObject reads v as an object: an *object, or a map (its keys then sorted).
func asObject(v any) (*object, bool) {
	switch x := v.(type) {
	case *object:
		return x, true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return &object{keys: keys, vals: x}, true
	}
	return nil, false
}

// decodeOrdered reads one JSON value, and nothing after it: objects become *object,
// numbers json.Number. A repeated key keeps its first place and its last value, as
// encoding/json does.
func decodeOrdered(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	v, err := readValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func readValue(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		o := &object{vals: map[string]any{}}
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := readValue(d)
			if err != nil {
				return nil, err
			}
			if _, seen := o.vals[k]; !seen {
				o.keys = append(o.keys, k)
			}
			o.vals[k] = v
		}
		_, err = d.Token()
		return o, err
	case json.Delim('['):
		list := []any{}
		for d.More() {
			v, err := readValue(d)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err = d.Token()
		return list, err
	}
	return t, nil
}

// text writes a primitive as text: a string as it is, a number as it was written,
// true or false, null as "". ok is false for arrays and objects.
func text(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "", true
	}
	return "", false
}

// nestedText writes an item of an array or a member of an object: a primitive as text,
// an array or object (which the styles do not define) as JSON.
func nestedText(v any) (string, error) {
	if s, ok := text(v); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// parts are the texts of an array's items, or an object's keys and member values, each
// through esc; nulls are left out, as RFC 6570 leaves out undefined values.
type parts struct {
	items      []string // an array's items
	keys, vals []string // an object's members
	names      []string // an object's keys as they are
	isObject   bool
}

// partsOf reads an array or an object for a style; any other value is an error.
func partsOf(v any, style string, esc func(string) string) (parts, error) {
	var p parts
	if list, ok := v.([]any); ok {
		for _, item := range list {
			if item == nil {
				continue
			}
			s, err := nestedText(item)
			if err != nil {
				return p, err
			}
			p.items = append(p.items, esc(s))
		}
		return p, nil
	}
	o, ok := asObject(v)
	if !ok {
		return p, fmt.Errorf("%s cannot be written in style %s", kindOf(v), style)
	}
	p.isObject = true
	for _, k := range o.keys {
		if o.vals[k] == nil {
			continue
		}
		s, err := nestedText(o.vals[k])
		if err != nil {
			return p, err
		}
		p.keys, p.vals, p.names = append(p.keys, esc(k)), append(p.vals, esc(s)), append(p.names, k)
	}
	return p, nil
}

// flat is an object's members as one list: R,100,G,200 (explode false) or R=100,G=200
// (explode true).
func (p parts) flat(explode bool) []string {
	if !p.isObject {
		return p.items
	}
	out := make([]string, 0, 2*len(p.keys))
	for i, k := range p.keys {
		if explode {
			out = append(out, k+"="+p.vals[i])
		} else {
			out = append(out, k, p.vals[i])
		}
	}
	return out
}

// expand writes v in the simple, label or matrix style: a path segment's text (esc
// percent-encodes) or a header's (esc keeps the text).
func expand(name string, v any, style string, explode bool, esc func(string) string) (string, error) {
	if s, ok := text(v); ok {
		switch style {
		case catalog.StyleSimple:
			return esc(s), nil
		case catalog.StyleLabel:
			return "." + esc(s), nil
		case catalog.StyleMatrix:
			if s == "" {
				return ";" + esc(name), nil
			}
			return ";" + esc(name) + "=" + esc(s), nil
		}
		return "", fmt.Errorf("style %q is not a path or header style", style)
	}
	p, err := partsOf(v, style, esc)
	if err != nil {
		return "", err
	}
	list := p.flat(explode)
	switch style {
	case catalog.StyleSimple:
		return strings.Join(list, ","), nil
	case catalog.StyleLabel:
		if explode {
			return "." + strings.Join(list, "."), nil
		}
		return "." + strings.Join(list, ","), nil
	case catalog.StyleMatrix:
		switch {
		case len(list) == 0:
			return ";" + esc(name), nil
		case !explode:
			return ";" + esc(name) + "=" + strings.Join(list, ","), nil
		case !p.isObject:
			for i, item := range list {
				list[i] = esc(name) + "=" + item
			}
		}
		return ";" + strings.Join(list, ";"), nil
	}
	return "", fmt.Errorf("style %q is not a path or header style", style)
}

// pair is one name=value of a query string or form: name as it is, value through esc
// with the style's delimiters.
type pair struct{ name, value string }

// formPairs writes v in a query style (form, spaceDelimited, pipeDelimited,
// deepObject). Where the table says n/a (a primitive in the delimited styles or
// deepObject, an array in deepObject, the delimited styles exploded) the value is
// written as form with explode true would be.
func formPairs(name string, v any, style string, explode bool, esc func(string) string) ([]pair, error) {
	if s, ok := text(v); ok {
		return []pair{{name, esc(s)}}, nil
	}
	if o, ok := asObject(v); ok && style == catalog.StyleDeepObject {
		return deepPairs(name, o, esc)
	}
	p, err := partsOf(v, style, esc)
	if err != nil {
		return nil, err
	}
	sep := ","
	switch style {
	case catalog.StyleForm:
	case catalog.StyleSpaceDelimited:
		sep = esc(" ")
	case catalog.StylePipeDelimited:
		sep = esc("|")
	case catalog.StyleDeepObject:
		explode = true // an array: n/a
	default:
		return nil, fmt.Errorf("style %q is not a query style", style)
	}
	if !explode {
		return []pair{{name, strings.Join(p.flat(false), sep)}}, nil
	}
	var out []pair
	if p.isObject {
		// An exploded object: its members are the pairs, by their own names.
		for i, k := range p.names {
			out = append(out, pair{k, p.vals[i]})
		}
		return out, nil
	}
	for _, item := range p.items {
		out = append(out, pair{name, item})
	}
	return out, nil
}

// deepPairs writes an object as deepObject: color[R]=100&color[G]=200, nested objects as
// color[a][b]=1 and arrays as a pair per item (OpenAPI leaves both undefined).
func deepPairs(name string, o *object, esc func(string) string) ([]pair, error) {
	var out []pair
	for _, k := range o.keys {
		v, key := o.vals[k], name+"["+k+"]"
		switch x := v.(type) {
		case nil:
		case []any:
			for _, item := range x {
				if item == nil {
					continue
				}
				s, err := nestedText(item)
				if err != nil {
					return nil, err
				}
				out = append(out, pair{key, esc(s)})
			}
		default:
			if inner, ok := asObject(x); ok {
				more, err := deepPairs(key, inner, esc)
				if err != nil {
					return nil, err
				}
				out = append(out, more...)
				continue
			}
			s, _ := text(x)
			out = append(out, pair{key, esc(s)})
		}
	}
	return out, nil
}

// joinPairs writes pairs as name=value joined by sep, each name through esc.
func joinPairs(pairs []pair, sep string, esc func(string) string) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(esc(p.name))
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// escape percent-encodes s for a URL or a form (RFC 3986 section 2.1): every byte but
// the unreserved characters. With allowReserved it keeps the reserved characters and
// percent-encoded triples as they are, save those that would end or split a query value
// ([ ] # & = +), as https://spec.openapis.org/oas/v3.1.1#parameter-allow-reserved says.
func escape(s string, allowReserved bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c),
			allowReserved && strings.IndexByte(":/?@!$'()*,;", c) >= 0,
			allowReserved && c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// urlEscape percent-encodes all but the unreserved characters.
func urlEscape(s string) string { return escape(s, false) }

// verbatim keeps text as it is: for headers and multipart parts.
func verbatim(s string) string { return s }
