package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// rewriteLocalDefs makes a 3.1 document's JSON Schema style references to
// $defs ("#/$defs/Address", meant relative to the schema that holds the
// $defs) references kin-openapi resolves. Each definition so referred to is
// added to components.schemas (named after its holder: "Order.Address") and
// the references point there. The nearest enclosing schema that defines
// the name is the one meant; a $defs at the document's root counts as the
// outermost. A reference no enclosing $defs defines is left for kin-openapi
// to report. It returns the document as YAML, and notes on what it moved.
func rewriteLocalDefs(data []byte) ([]byte, []string, error) {
	root, err := yamlLoad(data)
	if err != nil {
		return nil, nil, err
	}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return data, nil, nil
	}
	r := &defsRewriter{hoisted: make(map[*yaml.Node]string), used: make(map[string]bool)}
	if s := mapValue(mapValue(doc, "components"), "schemas"); s != nil && s.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(s.Content); i += 2 {
			r.used[s.Content[i].Value] = true
		}
	}
	r.walk(doc, "", atRoot, 0)
	if len(r.added) == 0 {
		return data, nil, nil
	}
	// Drop a root $defs: it is not an OpenAPI field, and its definitions
	// that are used are now components.
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "$defs" {
			doc.Content = slices.Delete(doc.Content, i, i+2)
			break
		}
	}
	comps := mapValue(doc, "components")
	if comps == nil || comps.Kind != yaml.MappingNode {
		comps = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		doc.Content = append(doc.Content, scalar("components"), comps)
	}
	schemas := mapValue(comps, "schemas")
	if schemas == nil || schemas.Kind != yaml.MappingNode {
		schemas = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		comps.Content = append(comps.Content, scalar("schemas"), schemas)
	}
	var names []string
	for _, a := range r.added {
		schemas.Content = append(schemas.Content, scalar(a.name), a.node)
		names = append(names, a.name)
	}
	slices.Sort(names)
	out, err := yaml.Marshal(root)
	if err != nil {
		return nil, nil, err
	}
	note := fmt.Sprintf("JSON Schema $defs referred to as \"#/$defs/…\" read as components: %s", strings.Join(names, ", "))
	if len(note) > 300 {
		note = fmt.Sprintf("JSON Schema $defs referred to as \"#/$defs/…\" read as %d components (%s, …)", len(names), strings.Join(names[:min(3, len(names))], ", "))
	}
	return out, []string{note}, nil
}

type defsScope struct {
	holder string                // the name new components get: "Order"
	defs   map[string]*yaml.Node // the holder's $defs
}

type defsRewriter struct {
	scopes  []defsScope
	hoisted map[*yaml.Node]string // definition → its component name
	used    map[string]bool       // component names taken
	added   []struct {
		name string
		node *yaml.Node
	}
}

// Where walk is, on the way to components.schemas.
const (
	atRoot = iota
	atComponents
	atSchemas
	elsewhere
)

// walk visits node, whose definitions become components named after holder
// (the component schema it is in, or ""). It does not follow aliases: a
// definition is rewritten where it is written.
func (r *defsRewriter) walk(node *yaml.Node, holder string, at, depth int) {
	if node == nil || depth > maxScanDepth {
		return
	}
	switch node.Kind {
	case yaml.SequenceNode:
		for _, c := range node.Content {
			r.walk(c, holder, elsewhere, depth+1)
		}
	case yaml.MappingNode:
		pushed := false
		if d := mapValue(node, "$defs"); d != nil && d.Kind == yaml.MappingNode {
			s := defsScope{holder: holder, defs: make(map[string]*yaml.Node)}
			for i := 0; i+1 < len(d.Content); i += 2 {
				s.defs[d.Content[i].Value] = d.Content[i+1]
			}
			r.scopes = append(r.scopes, s)
			pushed = true
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if k.Value == "$ref" && v.Kind == yaml.ScalarNode {
				if ref, ok := r.resolve(v.Value); ok {
					v.Value, v.Tag, v.Style = ref, "!!str", 0
				}
				continue
			}
			childHolder, childAt := holder, elsewhere
			switch {
			case at == atRoot && k.Value == "components":
				childAt = atComponents
			case at == atComponents && k.Value == "schemas":
				childAt = atSchemas
			case at == atSchemas:
				childHolder = k.Value
			}
			r.walk(v, childHolder, childAt, depth+1)
		}
		if pushed {
			r.scopes = r.scopes[:len(r.scopes)-1]
		}
	}
}

// resolve rewrites "#/$defs/Name[/rest]" to the component the definition
// becomes.
func (r *defsRewriter) resolve(ref string) (string, bool) {
	rest, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return "", false
	}
	def, tail, _ := strings.Cut(rest, "/")
	key := unescapeToken(def)
	for i := len(r.scopes) - 1; i >= 0; i-- {
		s := r.scopes[i]
		node, ok := s.defs[key]
		if !ok {
			continue
		}
		comp, ok := r.hoisted[node]
		if !ok {
			comp = r.name(s.holder, key)
			r.hoisted[node] = comp
			r.added = append(r.added, struct {
				name string
				node *yaml.Node
			}{comp, node})
		}
		out := "#/components/schemas/" + comp
		if tail != "" {
			out += "/" + tail
		}
		return out, true
	}
	return "", false
}

// name makes a component name for definition def of holder: "Holder.Def",
// cleaned to the characters OpenAPI allows and made unique.
func (r *defsRewriter) name(holder, def string) string {
	base := identifier(def, "-.")
	if h := identifier(holder, "-."); h != "" {
		base = h + "." + base
	}
	if base == "" {
		base = "def"
	}
	n := base
	for k := 2; r.used[n]; k++ {
		n = base + "_" + strconv.Itoa(k)
	}
	r.used[n] = true
	return n
}

// mapValue returns the value of key in mapping node m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}
