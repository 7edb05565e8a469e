package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// A small JSON scanner: it finds the byte ranges of an object's members and
// an array's elements without decoding them, so that prune can drop the
// parts of a large document toll never reads before kin-openapi decodes the
// rest. It checks the structure it walks (brackets, strings, literals); what
// it keeps is decoded, and so fully checked, by encoding/json afterwards.

// errScan is a JSON syntax error found by the scanner.
var errScan = errors.New("malformed JSON")

// maxScanDepth bounds the nesting the scanner follows.
const maxScanDepth = 10000

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at data[i] == '"'.
// It does not check the string's characters: encoding/json does, for what
// is kept.
func skipString(data []byte, i int) (int, error) {
	i++
	for i < len(data) {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			break
		}
		b := bytes.IndexByte(data[i:i+q], '\\')
		if b < 0 {
			return i + q + 1, nil
		}
		i += b + 2 // the escaped character, whatever it is
	}
	return 0, fmt.Errorf("%w: unterminated string", errScan)
}

// skipValue returns the index after the value starting at data[i] (no
// leading space). It keeps a stack of open brackets, not recursion.
func skipValue(data []byte, i int) (int, error) {
	var stack []byte
	for {
		if i >= len(data) {
			return 0, fmt.Errorf("%w: unexpected end", errScan)
		}
		switch c := data[i]; c {
		case '{', '[':
			if len(stack) >= maxScanDepth {
				return 0, fmt.Errorf("%w: nested deeper than %d", errScan, maxScanDepth)
			}
			stack = append(stack, c)
			i++
		case '}', ']':
			if len(stack) == 0 || (c == '}') != (stack[len(stack)-1] == '{') {
				return 0, fmt.Errorf("%w: unbalanced %q at byte %d", errScan, c, i)
			}
			stack = stack[:len(stack)-1]
			i++
		case '"':
			j, err := skipString(data, i)
			if err != nil {
				return 0, err
			}
			i = j
		case ',', ':':
			if len(stack) == 0 {
				return 0, fmt.Errorf("%w: unexpected %q at byte %d", errScan, c, i)
			}
			i++
		case ' ', '\t', '\n', '\r':
			i++
			continue
		default:
			// A number or a literal: a run of the characters they are made of.
			j := i
			for j < len(data) && literalByte(data[j]) {
				j++
			}
			if j == i {
				return 0, fmt.Errorf("%w: unexpected %q at byte %d", errScan, c, i)
			}
			i = j
		}
		if len(stack) == 0 {
			return i, nil
		}
	}
}

// literalByte reports whether c can be part of a number or of true, false
// or null.
func literalByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '-' || c == '.'
}

// jsonString decodes the JSON string token s (with its quotes).
func jsonString(s []byte) (string, error) {
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s[1 : len(s)-1]), nil
	}
	var out string
	err := json.Unmarshal(s, &out)
	return out, err
}

// members calls fn with the name and the raw value of each member of the
// JSON object data, in order.
func members(data []byte, fn func(name string, value []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return fmt.Errorf("%w: not an object", errScan)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return trailing(data, i+1)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return fmt.Errorf("%w: expected a member name at byte %d", errScan, i)
		}
		end, err := skipString(data, i)
		if err != nil {
			return err
		}
		name, err := jsonString(data[i:end])
		if err != nil {
			return fmt.Errorf("%w: %v", errScan, err)
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return fmt.Errorf("%w: expected ':' at byte %d", errScan, i)
		}
		i = skipSpace(data, i+1)
		end, err = skipValue(data, i)
		if err != nil {
			return err
		}
		if err := fn(name, data[i:end]); err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' {
			return trailing(data, i+1)
		}
		return fmt.Errorf("%w: expected ',' or '}' at byte %d", errScan, i)
	}
}

// elements calls fn with each element of the JSON array data, in order.
func elements(data []byte, fn func(value []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return fmt.Errorf("%w: not an array", errScan)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return trailing(data, i+1)
	}
	for {
		end, err := skipValue(data, i)
		if err != nil {
			return err
		}
		if err := fn(data[i:end]); err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == ']' {
			return trailing(data, i+1)
		}
		return fmt.Errorf("%w: expected ',' or ']' at byte %d", errScan, i)
	}
}

func trailing(data []byte, i int) error {
	if i = skipSpace(data, i); i != len(data) {
		return fmt.Errorf("%w: data after the value at byte %d", errScan, i)
	}
	return nil
}

// isObject reports whether the JSON value data is an object.
func isObject(data []byte) bool {
	i := skipSpace(data, 0)
	return i < len(data) && data[i] == '{'
}

// localRefs calls fn with every string in data that starts with "#/": the
// local references ($ref values, discriminator mappings) of a JSON
// document, and perhaps a few strings that only look like one, which is
// harmless where it is used.
func localRefs(data []byte, fn func(ref string)) {
	marker := []byte(`"#/`)
	for i := 0; ; {
		j := bytes.Index(data[i:], marker)
		if j < 0 {
			return
		}
		start := i + j
		end, err := skipString(data, start)
		if err != nil {
			return
		}
		if s, err := jsonString(data[start:end]); err == nil {
			fn(s)
		}
		i = end
	}
}
