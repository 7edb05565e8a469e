package x402test

import (
	_ "embed"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

// weatherSpec is a byte-identical copy of testdata/specs/weather.yaml (Go cannot embed
// files outside the package directory); TestEmbeddedSpecMatchesTestdata keeps them equal.
//
//go:embed weather.yaml
var weatherSpec []byte

// WeatherSpec returns the OpenAPI document of WeatherRoutes as written, with its
// placeholder server URL (http://127.0.0.1:8402).
func WeatherSpec() []byte { return append([]byte(nil), weatherSpec...) }

// rewriteServerURL returns spec with the value of servers[0].url replaced by url and
// every other byte unchanged, so comments and layout survive.
func rewriteServerURL(spec []byte, url string) ([]byte, error) {
	node, err := serverURLNode(spec)
	if err != nil {
		return nil, err
	}
	// Find the scalar's text: node.Line and node.Column are 1-based, the column in
	// characters.
	lines := strings.SplitAfter(string(spec), "\n")
	if node.Line < 1 || node.Line > len(lines) {
		return nil, fmt.Errorf("rewrite spec: servers[0].url at line %d of %d", node.Line, len(lines))
	}
	line := lines[node.Line-1]
	off := 0
	for range node.Column - 1 {
		if off >= len(line) {
			return nil, fmt.Errorf("rewrite spec: servers[0].url column %d past the end of line %d", node.Column, node.Line)
		}
		_, size := utf8.DecodeRuneInString(line[off:])
		off += size
	}
	rest := line[off:]
	var old, repl string
	switch node.Style {
	case 0:
		old, repl = node.Value, url
	case yaml.DoubleQuotedStyle:
		old, repl = `"`+node.Value+`"`, `"`+url+`"`
	case yaml.SingleQuotedStyle:
		old, repl = `'`+node.Value+`'`, `'`+url+`'`
	default:
		return nil, fmt.Errorf("rewrite spec: servers[0].url has an unsupported YAML style")
	}
	if !strings.HasPrefix(rest, old) {
		return nil, fmt.Errorf("rewrite spec: servers[0].url at line %d is not written as %s", node.Line, old)
	}
	lines[node.Line-1] = line[:off] + repl + rest[len(old):]
	out := []byte(strings.Join(lines, ""))
	// Check the result says what was meant.
	check, err := serverURLNode(out)
	if err != nil || check.Value != url {
		return nil, fmt.Errorf("rewrite spec: servers[0].url did not take %q", url)
	}
	return out, nil
}

// serverURLNode finds the scalar node of servers[0].url.
func serverURLNode(spec []byte) (*yaml.Node, error) {
	var doc struct {
		Servers []struct {
			URL yaml.Node `yaml:"url"`
		} `yaml:"servers"`
	}
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	if len(doc.Servers) == 0 {
		return nil, fmt.Errorf("spec has no servers list")
	}
	url := &doc.Servers[0].URL
	if url.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("spec has no servers[0].url")
	}
	return url, nil
}
