package catalog

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v4"
)

// kin-openapi's work on a document's schemas grows with the schemas each
// component and each operation reaches through $refs, not with the
// document's size: it validates every component schema with all the
// schemas it reaches (a fresh walk per component), every parameter and
// media type likewise, and it resolves a chain of n bare $refs in about
// n²/2 steps. A hostile document of a few hundred kilobytes (2,000 schemas
// each referring to twenty earlier ones, or a chain of 5,000 $refs) could
// keep it busy for minutes. So before kin-openapi sees a document, toll
// counts the schemas reached, summed over the component schemas and over
// every $ref outside them, and refuses the document above maxRefWork. A
// real spec is far below: GitHub's sums to some tens of thousands.

// maxRefWork bounds that sum: a few seconds of kin-openapi's time at most
// (it takes 2 to 4 µs per schema reached here).
const maxRefWork = 1_000_000

// A document narrowed to one operation (lazy.go) is bounded by the work of
// building that operation instead: kin-openapi resolves each schema the
// operation reaches once, except that it follows a chain of bare $refs (a
// schema that is only a $ref to another) again for every $ref into it, so
// a chain of n takes n²/2 steps. The work counted is the schemas reached
// plus, for every $ref among them and outside the schemas, the length of
// the chain of bare $refs it starts; the converter then bounds what it
// writes per operation (maxSchemaNodes). An honest operation of Microsoft
// Graph, which reaches some 1,700 closely linked schemas, counts a few
// tens of thousands; a chain of 5,000 bare $refs counts 12.5 million.

// refGraph maps each component schema to those its $refs name, and lists
// the component schemas named by $refs elsewhere in the document.
type refGraph struct {
	edges   map[string][]string
	outside []string
	bare    map[string]string // the schemas that are only a $ref: the schema it names
}

// checkRefs bounds the $ref work of a JSON document given as its
// top-level members: per operation for a document narrowed to one, else
// in all.
func (o origin) checkRefs(top []member) error {
	if o.one {
		return checkOperationRefWork(jsonRefGraph(top))
	}
	return checkRefs(top, nil)
}

// checkOperationRefWork refuses a document narrowed to one operation
// whose schemas take too much work to resolve (see above).
func checkOperationRefWork(g refGraph) error {
	chain := make(map[string]int) // length of the chain of bare $refs from a schema
	chainLen := func(name string) int {
		var path []string
		on := make(map[string]bool)
		n := 0
		for {
			if known, ok := chain[name]; ok {
				n = known
				break
			}
			next, isBare := g.bare[name]
			if !isBare || on[name] { // not a $ref, or a circle of them (kin-openapi reports it)
				n = 1
				break
			}
			on[name] = true
			path = append(path, name)
			name = next
		}
		for i := len(path) - 1; i >= 0; i-- {
			n++
			chain[path[i]] = n
		}
		return n
	}
	work := 0
	seen := make(map[string]bool)
	queue := g.outside
	for _, to := range g.outside {
		work += chainLen(to)
	}
	for len(queue) > 0 && work <= maxRefWork {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		work++
		for _, to := range g.edges[name] {
			work += chainLen(to)
			if _, known := g.edges[to]; known && !seen[to] {
				queue = append(queue, to)
			}
		}
	}
	if work > maxRefWork {
		return fmt.Errorf("%w: building this operation resolves more than %d schemas through $refs: the document is built to be slow to resolve", ErrInvalidSpec, maxRefWork)
	}
	return nil
}

// checkRefWork refuses a document whose schemas reach too much in all.
func checkRefWork(g refGraph) error {
	if len(g.edges) == 0 {
		return nil
	}
	reach := make(map[string]int, len(g.edges)) // schemas reached from one, itself included
	total := 0
	seen := make(map[string]int) // stamp of the walk that last saw a schema
	stamp := 0
	count := func(start string) int {
		if n, ok := reach[start]; ok {
			return n
		}
		stamp++
		n := 0
		queue := []string{start}
		seen[start] = stamp
		for len(queue) > 0 && total+n <= maxRefWork {
			name := queue[0]
			queue = queue[1:]
			n++
			for _, to := range g.edges[name] {
				if _, known := g.edges[to]; known && seen[to] != stamp {
					seen[to] = stamp
					queue = append(queue, to)
				}
			}
		}
		reach[start] = n
		return n
	}
	for name := range g.edges {
		if total += count(name); total > maxRefWork {
			return errRefWork(total)
		}
	}
	for _, name := range g.outside {
		if _, known := g.edges[name]; known {
			if total += count(name); total > maxRefWork {
				return errRefWork(total)
			}
		}
	}
	return nil
}

func errRefWork(total int) error {
	return fmt.Errorf("%w: its schemas reach more than %d schemas through $refs in all: the document is built to be slow to resolve", ErrInvalidSpec, maxRefWork)
}

// bareRef reports whether the JSON schema value is only a $ref.
func bareRef(value []byte) bool {
	n, ref := 0, false
	err := members(value, func(name string, _ []byte) error {
		n++
		ref = ref || name == "$ref"
		return nil
	})
	return err == nil && n == 1 && ref
}

// refTarget returns the schema a local $ref names under prefix
// ("#/components/schemas/" or "#/definitions/"), or "".
func refTarget(ref, prefix string) string {
	rest, ok := strings.CutPrefix(ref, prefix)
	if !ok {
		return ""
	}
	seg, _, _ := strings.Cut(rest, "/")
	if u, err := url.PathUnescape(seg); err == nil {
		seg = u
	}
	return unescapeToken(seg)
}

// unescapeToken decodes a JSON Pointer reference token: "~1" is '/', "~0"
// is '~' (RFC 6901, https://www.rfc-editor.org/rfc/rfc6901).
func unescapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// jsonRefGraph builds the graph of a JSON document: its component schemas
// (components.schemas, or a Swagger document's definitions) and the $refs
// to them elsewhere.
func jsonRefGraph(top []member) refGraph {
	g := refGraph{edges: make(map[string][]string), bare: make(map[string]string)}
	prefix := "#/components/schemas/"
	for _, m := range top {
		if m.name == "definitions" {
			prefix = "#/definitions/"
		}
	}
	addSchemas := func(schemas []byte) {
		if !isObject(schemas) {
			return
		}
		_ = members(schemas, func(name string, value []byte) error {
			var to []string
			localRefs(value, func(ref string) {
				if t := refTarget(ref, prefix); t != "" {
					to = append(to, t)
				}
			})
			g.edges[name] = to
			if len(to) == 1 && bareRef(value) {
				g.bare[name] = to[0]
			}
			return nil
		})
	}
	outside := func(data []byte) {
		localRefs(data, func(ref string) {
			if t := refTarget(ref, prefix); t != "" {
				g.outside = append(g.outside, t)
			}
		})
	}
	for _, m := range top {
		switch {
		case m.name == "definitions":
			addSchemas(m.value)
		case m.name == "components" && isObject(m.value):
			_ = members(m.value, func(name string, value []byte) error {
				if name == "schemas" {
					addSchemas(value)
				} else {
					outside(value)
				}
				return nil
			})
		default:
			outside(m.value)
		}
	}
	return g
}

// yamlRefGraph builds the graph of a YAML document. It costs a parse, so
// it is only built when the document has enough $refs to matter: n $refs
// reach at most n² schemas in all.
func yamlRefGraph(data []byte) (refGraph, error) {
	if n := bytes.Count(data, []byte("$ref")); n*n <= maxRefWork {
		return refGraph{}, nil
	}
	root, err := yamlLoad(data)
	if err != nil {
		return refGraph{}, nil // kin-openapi will say what is wrong
	}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	g := refGraph{edges: make(map[string][]string)}
	prefix := "#/components/schemas/"
	schemas := mapValue(mapValue(doc, "components"), "schemas")
	if d := mapValue(doc, "definitions"); d != nil {
		prefix, schemas = "#/definitions/", d
	}
	if schemas != nil && schemas.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(schemas.Content); i += 2 {
			var to []string
			yamlRefs(schemas.Content[i+1], 0, nil, func(ref string) {
				if t := refTarget(ref, prefix); t != "" {
					to = append(to, t)
				}
			})
			g.edges[schemas.Content[i].Value] = to
		}
	}
	yamlRefs(doc, 0, schemas, func(ref string) {
		if t := refTarget(ref, prefix); t != "" {
			g.outside = append(g.outside, t)
		}
	})
	return g, nil
}

// yamlRefs calls fn with every $ref under node, but not under skip, and
// not following aliases.
func yamlRefs(node *yaml.Node, depth int, skip *yaml.Node, fn func(string)) {
	if node == nil || node == skip || depth > maxScanDepth {
		return
	}
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			if k, v := node.Content[i], node.Content[i+1]; k.Value == "$ref" && v.Kind == yaml.ScalarNode {
				fn(v.Value)
			} else {
				yamlRefs(v, depth+1, skip, fn)
			}
		}
	case yaml.SequenceNode:
		for _, c := range node.Content {
			yamlRefs(c, depth+1, skip, fn)
		}
	}
}
