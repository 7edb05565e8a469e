package catalog

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// A path of an OpenAPI document is a key of its paths object: a template
// ("/items/{id}") that some documents follow with a query or a fragment.
// Specs converted from AWS's models (APIs.guru's directory holds about
// 10,000 such operations) tell operations apart by a fragment,
// "/#Action=DescribeInstances", whose pairs repeat declared parameters;
// others write part of the query into the key, "/rides?page={page}" or
// "/search?type=artist". HTTP never sends a fragment, so toll reads:
//   - the template: what comes before '?' or '#', filled from the path
//     parameters;
//   - the query: literal pairs ("type=artist") are sent with every call,
//     pairs naming a variable ("page={page}") are sent by the query
//     parameter of that name, which the operation must declare;
//   - the fragment: a label, never sent.
//
// Operation.Path keeps the key as the document writes it: it names the
// operation in toll.yaml's prices, in probes and in warnings.

// QueryPair is one literal name=value pair of the query a path writes.
type QueryPair struct {
	Name, Value string
}

// splitPath splits a path key into its template, query and fragment.
func splitPath(path string) (template, query, fragment string) {
	template, fragment, _ = strings.Cut(path, "#")
	template, query, _ = strings.Cut(template, "?")
	return template, query, fragment
}

// Target returns where a call of the operation is sent: the path template
// (without the query and fragment of Operation.Path) and the literal query
// pairs Path writes, in order. The pairs' names and values are as the
// document writes them, percent-decoded.
func (o *Operation) Target() (template string, query []QueryPair) {
	template, q, _ := splitPath(o.Path)
	for _, kv := range strings.Split(q, "&") {
		name, value, _ := strings.Cut(kv, "=")
		if name == "" || strings.ContainsAny(value, "{}") {
			continue
		}
		n, err1 := url.QueryUnescape(name)
		v, err2 := url.QueryUnescape(value)
		if err1 == nil && err2 == nil {
			query = append(query, QueryPair{n, v})
		}
	}
	return template, query
}

// checkPath refuses a path key whose template cannot be part of a URL as
// written, or whose query is not name=value pairs.
func checkPath(path string) error {
	template, query, _ := splitPath(path)
	if !strings.HasPrefix(template, "/") {
		return fmt.Errorf("path does not start with '/'")
	}
	for _, r := range template {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && sanitizeText(string(r)) == "") {
			return fmt.Errorf("path has the character %q", r)
		}
	}
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		name, value, _ := strings.Cut(kv, "=")
		_, err1 := url.QueryUnescape(name)
		_, err2 := url.QueryUnescape(value)
		switch {
		case name == "" || err1 != nil || err2 != nil || strings.ContainsAny(kv, " \t\r\n\x7f"):
			return fmt.Errorf("the query the path writes, %q, is not name=value pairs", clip(query))
		case strings.ContainsAny(value, "{}") && !isVariable(value):
			return fmt.Errorf("the query pair %q mixes text and a {variable}", clip(kv))
		}
	}
	return nil
}

// isVariable reports whether s is one template variable, "{name}".
func isVariable(s string) bool {
	return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' && !strings.ContainsAny(s[1:len(s)-1], "{}")
}

// templateVars lists the variables of a path template, in order, once each.
func templateVars(template string) ([]string, error) {
	var vars []string
	for rest := template; ; {
		open := strings.IndexByte(rest, '{')
		end := strings.IndexByte(rest, '}')
		if open < 0 && end < 0 {
			return vars, nil
		}
		if open < 0 || end < open || strings.IndexByte(rest[open+1:end], '{') >= 0 {
			return nil, fmt.Errorf("path template %q has unbalanced braces", clip(template))
		}
		if name := rest[open+1 : end]; !slices.Contains(vars, name) {
			vars = append(vars, name)
		}
		rest = rest[end+1:]
	}
}

// matchPathParams checks an operation's parameters against its path key,
// as the template needs them: every template variable must be a path
// parameter (else the operation cannot be sent, an error), and a path
// parameter the template does not name is left out (with a note). A
// variable of the query ("page={page}") must be a parameter of that name:
// a query parameter, or a path parameter (as documents that treat every
// {variable} of the key as a path parameter declare it), which is then
// sent in the query. It returns the parameters to use.
func matchPathParams(p *pending, path string, params []*openapi3.Parameter) ([]*openapi3.Parameter, error) {
	template, query, _ := splitPath(path)
	vars, err := templateVars(template)
	if err != nil {
		return nil, err
	}
	queryVars, err := queryVariables(query)
	if err != nil {
		return nil, err
	}
	declared := make(map[string]bool)
	kept := params[:0:0]
	for _, prm := range params {
		if prm.In == openapi3.ParameterInPath && !slices.Contains(vars, prm.Name) {
			if !slices.Contains(queryVars, prm.Name) {
				p.notes = append(p.notes, fmt.Sprintf("path parameter %q left out: the path %s does not name it", clip(prm.Name), pathLabel(template)))
				continue
			}
			moved := *prm
			moved.In, moved.Style, moved.Explode = openapi3.ParameterInQuery, "", nil
			p.notes = append(p.notes, fmt.Sprintf("path parameter %q is sent in the query, where the path writes it", clip(prm.Name)))
			prm = &moved
		}
		declared[prm.In+"\x00"+prm.Name] = true
		kept = append(kept, prm)
	}
	for _, v := range vars {
		if !declared[openapi3.ParameterInPath+"\x00"+v] {
			return nil, fmt.Errorf("the path names {%s}, which no path parameter describes", clip(v))
		}
	}
	for _, v := range queryVars {
		if !declared[openapi3.ParameterInQuery+"\x00"+v] {
			return nil, fmt.Errorf("the path's query names {%s}, which no parameter describes", clip(v))
		}
	}
	return kept, nil
}

// queryVariables lists the variables of the query a path key writes
// ("page={page}"); each must be sent under its own name.
func queryVariables(query string) ([]string, error) {
	var vars []string
	for _, kv := range strings.Split(query, "&") {
		key, value, _ := strings.Cut(kv, "=")
		if !isVariable(value) {
			continue
		}
		name := value[1 : len(value)-1]
		if key != name {
			return nil, fmt.Errorf("the path's query pair %q sends the variable {%s} under another name", clip(kv), clip(name))
		}
		vars = append(vars, name)
	}
	return vars, nil
}
