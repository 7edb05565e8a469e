package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// decodeJSON decodes an OpenAPI 3 JSON document, given as its top-level
// members, into kin-openapi's types as T.UnmarshalJSON does, but faster and
// part by part: kin-openapi decodes each level of a document twice (into its
// types, and into a map for the extensions) and its paths three times
// (first into a generic map); here the top level, the components and the
// paths are split with the scanner, and the path items are decoded on every
// CPU.
//
// A part that does not decode (a keyword of the wrong type, say) is
// repaired where it can be (see repairPart) and otherwise costs only
// itself: a path item is left out, a component is replaced by a stand-in
// that skips the operations using it, and a top-level member other than
// paths and components is ignored. notes say which.
func decodeJSON(ctx context.Context, top []member) (*openapi3.T, []string, error) {
	doc := &openapi3.T{}
	var notes []string
	for _, m := range top {
		var err error
		switch m.name {
		case "openapi":
			err = json.Unmarshal(m.value, &doc.OpenAPI)
		case "info":
			doc.Info = &openapi3.Info{}
			if err = json.Unmarshal(m.value, doc.Info); err != nil {
				doc.Info = &openapi3.Info{}
			}
		case "components":
			var more []string
			doc.Components, more, err = decodeComponents(m.value)
			notes = append(notes, more...)
		case "paths":
			var more []string
			doc.Paths, more, err = decodePaths(ctx, m.value)
			notes = append(notes, more...)
		case "security":
			err = json.Unmarshal(m.value, &doc.Security)
		case "servers":
			err = json.Unmarshal(m.value, &doc.Servers)
		case "tags":
			err = json.Unmarshal(m.value, &doc.Tags)
		case "externalDocs":
			doc.ExternalDocs = &openapi3.ExternalDocs{}
			err = json.Unmarshal(m.value, doc.ExternalDocs)
		case "webhooks":
			err = json.Unmarshal(m.value, &doc.Webhooks)
		case "jsonSchemaDialect":
			err = json.Unmarshal(m.value, &doc.JSONSchemaDialect)
		default:
			var v any
			if err = json.Unmarshal(m.value, &v); err == nil {
				if doc.Extensions == nil {
					doc.Extensions = make(map[string]any)
				}
				doc.Extensions[m.name] = v
			}
		}
		switch {
		case err == nil:
		case m.name == "openapi" || ctx.Err() != nil:
			return nil, nil, err
		default:
			notes = append(notes, fmt.Sprintf("%s ignored: %s", clip(m.name), decodeReason(err)))
		}
	}
	return doc, notes, nil
}

// decodeReason shortens a decoding error.
func decodeReason(err error) string {
	return oneLine(strings.TrimPrefix(err.Error(), "json: "))
}

// decodePaths decodes the paths object, its path items in parallel. A path
// item that does not decode, even repaired, is left out with a note.
func decodePaths(ctx context.Context, data []byte) (*openapi3.Paths, []string, error) {
	if !isObject(data) {
		return nil, []string{"paths ignored: not an object"}, nil
	}
	var keys []string
	var raws [][]byte
	ext := make(map[string]any)
	err := members(data, func(name string, value []byte) error {
		if strings.HasPrefix(name, "x-") {
			var v any
			if json.Unmarshal(value, &v) == nil {
				ext[name] = v
			}
			return nil
		}
		keys = append(keys, name)
		raws = append(raws, value)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	type decoded struct {
		item  *openapi3.PathItem
		notes []string
		err   error
	}
	items, err := parallelMap(ctx, len(raws), workers(len(raws), 1), func(_, i int) decoded {
		item := &openapi3.PathItem{}
		notes, err := decodePart(raws[i], repairPathItem, item.UnmarshalJSON)
		return decoded{item, notes, err}
	})
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	paths := openapi3.NewPathsWithCapacity(len(keys))
	paths.Extensions = ext
	for i, k := range keys {
		for _, n := range items[i].notes {
			notes = append(notes, fmt.Sprintf("path %s: %s", pathLabel(k), n))
		}
		if items[i].err != nil {
			notes = append(notes, fmt.Sprintf("path %s: skipped, with its operations: %s", pathLabel(k), decodeReason(items[i].err)))
			continue
		}
		paths.Set(k, items[i].item)
	}
	return paths, notes, nil
}

// decodeComponents decodes the components object one component at a time.
// A component that does not decode, even repaired, is replaced by a
// stand-in: the operations that use it are skipped.
func decodeComponents(data []byte) (*openapi3.Components, []string, error) {
	if !isObject(data) {
		return &openapi3.Components{}, []string{"components ignored: not an object"}, nil
	}
	// Decode into the components object with each kind's entries kept
	// raw, then each entry alone.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, err
	}
	c := &openapi3.Components{}
	var notes []string
	for _, kind := range slices.Sorted(maps.Keys(raw)) {
		value := raw[kind]
		var more []string
		switch kind {
		case "schemas":
			c.Schemas, more = decodeEntries[openapi3.SchemaRef](value, kind, repairSchemaPart)
		case "parameters":
			c.Parameters, more = decodeEntries[openapi3.ParameterRef](value, kind, repairParameter)
		case "requestBodies":
			c.RequestBodies, more = decodeEntries[openapi3.RequestBodyRef](value, kind, repairRequestBody)
		case "headers":
			c.Headers, more = decodeEntries[openapi3.HeaderRef](value, kind, repairParameter)
		case "responses":
			c.Responses, more = decodeEntries[openapi3.ResponseRef](value, kind, nil)
		case "securitySchemes":
			c.SecuritySchemes, more = decodeEntries[openapi3.SecuritySchemeRef](value, kind, nil)
		case "examples":
			c.Examples, more = decodeEntries[openapi3.ExampleRef](value, kind, nil)
		case "links":
			c.Links, more = decodeEntries[openapi3.LinkRef](value, kind, nil)
		case "callbacks":
			c.Callbacks, more = decodeEntries[openapi3.CallbackRef](value, kind, nil)
		default:
			if strings.HasPrefix(kind, "x-") {
				var v any
				if json.Unmarshal(value, &v) == nil {
					if c.Extensions == nil {
						c.Extensions = make(map[string]any)
					}
					c.Extensions[kind] = v
				}
			}
		}
		notes = append(notes, more...)
	}
	return c, notes, nil
}

// decodeEntries decodes one kind of components, entry by entry, each
// repaired with repair when it does not decode as it is. An entry that
// still does not decode becomes a stand-in marked unresolvedKey.
func decodeEntries[T any, PT interface {
	*T
	UnmarshalJSON([]byte) error
}](data []byte, kind string, repair func(any, *[]string) any) (map[string]*T, []string) {
	out := make(map[string]*T)
	var notes []string
	if !isObject(data) {
		return out, []string{fmt.Sprintf("components.%s ignored: not an object", kind)}
	}
	_ = members(data, func(name string, value []byte) error {
		v := PT(new(T))
		more, err := decodePart(value, repair, v.UnmarshalJSON)
		for _, n := range more {
			notes = append(notes, fmt.Sprintf("components.%s.%s: %s", kind, clip(name), n))
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("components.%s.%s cannot be read: %s; operations that use it are skipped", kind, clip(name), decodeReason(err)))
			ref := "#/components/" + kind + "/" + escapeToken(name)
			v = PT(new(T))
			if v.UnmarshalJSON(standInFor(kind, ref)) != nil {
				return nil
			}
		}
		out[name] = (*T)(v)
		return nil
	})
	return out, notes
}

// standInFor is the JSON of a stand-in component of kind for ref.
func standInFor(kind, ref string) []byte {
	f := &refFixer{exists: map[string]bool{}, added: map[string][]member{}}
	f.standIn(kind, ref)
	return f.added[kind][0].value
}

// decodePart decodes data with unmarshal; should that fail, it decodes data
// as plain JSON, repairs it (notes say what was dropped), and decodes the
// repaired value. repair nil: no repair is tried.
func decodePart(data []byte, repair func(any, *[]string) any, unmarshal func([]byte) error) ([]string, error) {
	err := unmarshal(data)
	if err == nil || repair == nil {
		return nil, err
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		return nil, err
	}
	var notes []string
	fixed, merr := json.Marshal(repair(v, &notes))
	if merr != nil || len(notes) == 0 {
		return nil, err
	}
	if err := unmarshal(fixed); err != nil {
		return nil, err
	}
	return notes, nil
}
