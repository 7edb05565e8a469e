package catalog

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v4"
)

// parse loads and validates a document with kin-openapi: no external $ref is
// followed (the loader never reads a file or URL), and the document must
// pass validation (examples and patterns aside).
func parse(ctx context.Context, data []byte) (doc *openapi3.T, err error) {
	// kin-openapi is a large parser handed untrusted input; should it panic
	// on some document, that document is invalid, not toll broken.
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("%w: the parser failed on this document: %s", ErrInvalidSpec, oneLine(fmt.Sprint(r)))
		}
	}()
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = false
	l.Context = ctx
	doc, err = l.LoadFromData(data)
	if err != nil {
		var ext *openapi3.DisallowedExternalRefError
		if errors.As(err, &ext) {
			return nil, fmt.Errorf("%w: %q (toll reads one self-contained document; bundle it first)", ErrExternalRef, clip(ext.Ref))
		}
		if v := swaggerVersion(data); v != "" {
			return nil, swaggerError(v)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidSpec, parseReason(err))
	}
	switch {
	case doc.OpenAPI == "":
		if v := swaggerVersion(data); v != "" {
			return nil, swaggerError(v)
		}
		return nil, fmt.Errorf("%w: no openapi version field", ErrInvalidSpec)
	case !openAPI3.MatchString(doc.OpenAPI):
		return nil, fmt.Errorf("%w: openapi %q (toll reads OpenAPI 3)", ErrUnsupportedVersion, clip(doc.OpenAPI))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Examples and patterns are not held against a document: a wrong example
	// does not change what toll sends, and a pattern Go cannot compile (an
	// ECMA-262 lookahead) is dropped from the tool's schema with a warning.
	if err := doc.Validate(ctx, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaPatternValidation()); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidSpec, oneLine(err.Error()))
	}
	return doc, nil
}

// openAPI3 matches the versions Load reads: 3.x and 3.x.y.
var openAPI3 = regexp.MustCompile(`^3\.[0-9]+(\.[0-9]+)?$`)

func swaggerError(v string) error {
	return fmt.Errorf("%w: Swagger %s (toll reads OpenAPI 3 for now; convert the document first)", ErrUnsupportedVersion, clip(v))
}

// swaggerVersion returns the "swagger" field of a Swagger 2 document, or "".
func swaggerVersion(data []byte) string {
	var top struct {
		Swagger any `yaml:"swagger"`
	}
	if yaml.Unmarshal(data, &top) != nil || top.Swagger == nil {
		return ""
	}
	return fmt.Sprint(top.Swagger)
}

// parseReason shortens a kin-openapi parse error to its cause: the YAML
// error when the document is not JSON.
func parseReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "failed to unmarshal data: ")
	if _, y, ok := strings.Cut(s, "yaml error: "); ok {
		s = y
	}
	return oneLine(s)
}

// oneLine makes an error text from the parser fit one line of a message: it
// is sanitized, its lines joined with "; ", and capped.
func oneLine(s string) string {
	lines := strings.Split(sanitizeText(s), "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			kept = append(kept, l)
		}
	}
	s, _ = capRunes(strings.Join(kept, "; "), 500)
	return s
}
