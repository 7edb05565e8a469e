package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tollhq/toll/catalog"
)

// MaxArgumentsLen bounds the JSON arguments of one call.
const MaxArgumentsLen = 1 << 20

// schemas compiles each operation's input schema once.
type schemas struct {
	mu sync.Mutex
	m  map[*catalog.Operation]*jsonschema.Schema
}

func (s *schemas) get(op *catalog.Operation) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.m[op]; ok {
		return sch, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(op.InputSchema))
	if err != nil {
		return nil, fmt.Errorf("input schema of %s: %w", op.Name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const loc = "toll:///input.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("input schema of %s: %w", op.Name, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("input schema of %s does not compile: %w", op.Name, err)
	}
	if s.m == nil {
		s.m = map[*catalog.Operation]*jsonschema.Schema{}
	}
	s.m[op] = sch
	return sch, nil
}

// decodeArguments parses raw tool arguments (nil or "null" mean none) and validates them
// against the operation's input schema. Numbers stay json.Number, so large integers are
// sent exactly as the model wrote them; objects within the arguments are *object, so
// their members are sent in the order the model wrote them.
func (s *schemas) decodeArguments(op *catalog.Operation, raw json.RawMessage) (map[string]any, error) {
	if len(raw) > MaxArgumentsLen {
		return nil, fmt.Errorf("%w: %d bytes of arguments, over the %d byte limit", ErrInvalidArguments, len(raw), MaxArgumentsLen)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	v, err := decodeOrdered(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: arguments are not JSON: %v", ErrInvalidArguments, err)
	}
	o, ok := v.(*object)
	if !ok {
		return nil, fmt.Errorf("%w: arguments must be a JSON object", ErrInvalidArguments)
	}
	sch, err := s.get(op)
	if err != nil {
		return nil, err
	}
	if err := sch.Validate(plain(o)); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w for %s (nothing was sent or paid): %s", ErrInvalidArguments, op.Name, validationText(ve))
		}
		return nil, fmt.Errorf("%w for %s: %v", ErrInvalidArguments, op.Name, err)
	}
	return o.vals, nil
}

// plain is v with every *object as the map[string]any the validator reads.
func plain(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.vals))
		for k, val := range x.vals {
			m[k] = plain(val)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = plain(val)
		}
		return out
	}
	return v
}

// validationText flattens a validation error into "at /days: must be <= 14; ..." lines a
// model can act on.
func validationText(ve *jsonschema.ValidationError) string {
	out := ve.BasicOutput()
	var parts []string
	for _, e := range out.Errors {
		if e.Error == nil {
			continue
		}
		msg := e.Error.String()
		if strings.HasPrefix(msg, "validation failed") {
			continue
		}
		loc := e.InstanceLocation
		if loc == "" {
			loc = "/"
		}
		parts = append(parts, "at "+loc+": "+msg)
		if len(parts) == 8 {
			break
		}
	}
	if len(parts) == 0 {
		return ve.Error()
	}
	return strings.Join(parts, "; ")
}
