package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"go.yaml.in/yaml/v4"
)

// A YAML document takes the same path as JSON: it is converted to JSON
// first. Where OpenAPI always writes a string (a version, a title, a
// server variable's default), a plain scalar that YAML reads as a number or
// a boolean is written as the string it is in the document ("version: 1.0"
// is "1.0", not 1), as kin-openapi's typed decoding would read it.

// stringFields are the keys whose values are strings wherever they are.
var stringFields = map[string]bool{
	"openapi": true, "swagger": true, "version": true, "title": true, "description": true, "summary": true,
	"operationId": true, "name": true, "url": true, "pattern": true, "format": true, "in": true,
	"style": true, "$ref": true, "termsOfService": true, "email": true, "propertyName": true,
	"contentType": true, "scheme": true, "bearerFormat": true, "tokenUrl": true,
	"authorizationUrl": true, "refreshUrl": true, "openIdConnectUrl": true,
}

// The JSON of a YAML document may be at most yamlGrowth times as long as
// the YAML, plus yamlSlack bytes: aliases may repeat parts of a document,
// not multiply it (an "alias bomb" of a few hundred bytes would expand to
// gigabytes).
const (
	yamlGrowth = 4
	yamlSlack  = 1 << 20
)

// yamlToJSON writes a YAML document as JSON.
func yamlToJSON(data []byte) ([]byte, error) {
	root, err := yamlLoad(data)
	if err != nil {
		return nil, err
	}
	node := root
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return nil, errors.New("the document is empty")
		}
		node = node.Content[0]
	}
	w := &yamlWriter{buf: bytes.NewBuffer(make([]byte, 0, len(data))), max: yamlGrowth*len(data) + yamlSlack}
	if err := w.value(node, "", placeOther, false); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

type yamlWriter struct {
	buf *bytes.Buffer
	max int // bytes the JSON may take
}

// Where a node is, as far as the strings of server variables go.
type yamlPlace int

const (
	placeOther     yamlPlace = iota
	placeVariables           // a server's variables
	placeVariable            // one server variable
)

// value writes the node that is the value of key in a mapping at place;
// asString writes a scalar as the string it is in the document.
func (w *yamlWriter) value(n *yaml.Node, key string, place yamlPlace, asString bool) error {
	if w.buf.Len() > w.max {
		return errors.New("the document's aliases expand to too many values")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return w.value(n.Alias, key, place, asString)
	case yaml.MappingNode:
		inner := placeOther
		switch {
		case key == "variables":
			inner = placeVariables
		case place == placeVariables:
			inner = placeVariable
		}
		return w.mapping(n, inner)
	case yaml.SequenceNode:
		w.buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.value(c, "", placeOther, place == placeVariable && key == "enum"); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
		return nil
	}
	w.scalar(n, asString || stringFields[key] || (place == placeVariable && key == "default"))
	return nil
}

// mapping writes a mapping node as an object, merge keys ("<<") merged
// where the mapping does not set the key itself.
func (w *yamlWriter) mapping(n *yaml.Node, place yamlPlace) error {
	seen := make(map[string]bool)
	var pairs [][2]*yaml.Node
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Tag == "!!merge":
			merges = append(merges, v)
		case !seen[k.Value]:
			seen[k.Value] = true
			pairs = append(pairs, [2]*yaml.Node{k, v})
		}
	}
	for _, m := range merges {
		pairs = mergedPairs(pairs, seen, m, 0)
	}
	w.buf.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		q, _ := json.Marshal(p[0].Value)
		w.buf.Write(q)
		w.buf.WriteByte(':')
		if err := w.value(p[1], p[0].Value, place, false); err != nil {
			return err
		}
	}
	w.buf.WriteByte('}')
	return nil
}

// mergedPairs adds the pairs of a merge key's value (a mapping, an alias
// of one, or a list of them) that the mapping does not set.
func mergedPairs(pairs [][2]*yaml.Node, seen map[string]bool, m *yaml.Node, depth int) [][2]*yaml.Node {
	if depth > 32 {
		return pairs
	}
	switch m.Kind {
	case yaml.AliasNode:
		return mergedPairs(pairs, seen, m.Alias, depth+1)
	case yaml.SequenceNode:
		for _, c := range m.Content {
			pairs = mergedPairs(pairs, seen, c, depth+1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i]; !seen[k.Value] && k.Tag != "!!merge" {
				seen[k.Value] = true
				pairs = append(pairs, [2]*yaml.Node{k, m.Content[i+1]})
			}
		}
	}
	return pairs
}

// scalar writes a scalar node: by its YAML type, or as its text.
func (w *yamlWriter) scalar(n *yaml.Node, asString bool) {
	if !asString {
		switch n.ShortTag() {
		case "!!null":
			w.buf.WriteString("null")
			return
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				w.buf.WriteString(strconv.FormatBool(b))
				return
			}
		case "!!int", "!!float":
			var f float64
			if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				if n.ShortTag() == "!!int" && math.Abs(f) < 1<<53 {
					w.buf.WriteString(strconv.FormatInt(int64(f), 10))
				} else {
					w.buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
				}
				return
			}
		}
	}
	q, _ := json.Marshal(n.Value)
	w.buf.Write(q)
}
