package catalog

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// decodeJSON decodes an OpenAPI 3 JSON document, given as its top-level
// members, into kin-openapi's types as T.UnmarshalJSON does, but faster:
// kin-openapi decodes each level of a document twice (into its types, and
// into a map for the extensions) and its paths three times (first into a
// generic map); here the top level and the paths are split with the
// scanner, and the path items are decoded on every CPU.
func decodeJSON(ctx context.Context, top []member) (*openapi3.T, error) {
	doc := &openapi3.T{}
	for _, m := range top {
		var err error
		switch m.name {
		case "openapi":
			err = json.Unmarshal(m.value, &doc.OpenAPI)
		case "info":
			doc.Info = &openapi3.Info{}
			err = json.Unmarshal(m.value, doc.Info)
		case "components":
			doc.Components = &openapi3.Components{}
			err = json.Unmarshal(m.value, doc.Components)
		case "paths":
			doc.Paths, err = decodePaths(ctx, m.value)
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
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// decodePaths decodes the paths object, its path items in parallel.
func decodePaths(ctx context.Context, data []byte) (*openapi3.Paths, error) {
	if !isObject(data) {
		var p openapi3.Paths
		err := json.Unmarshal(data, &p)
		return &p, err
	}
	var keys []string
	var raws [][]byte
	ext := make(map[string]any)
	err := members(data, func(name string, value []byte) error {
		if strings.HasPrefix(name, "x-") {
			var v any
			if err := json.Unmarshal(value, &v); err != nil {
				return err
			}
			ext[name] = v
			return nil
		}
		keys = append(keys, name)
		raws = append(raws, value)
		return nil
	})
	if err != nil {
		return nil, err
	}
	type decoded struct {
		item *openapi3.PathItem
		err  error
	}
	items, err := parallelMap(ctx, len(raws), workers(len(raws), 1), func(_, i int) decoded {
		item := &openapi3.PathItem{}
		return decoded{item, item.UnmarshalJSON(raws[i])}
	})
	if err != nil {
		return nil, err
	}
	paths := openapi3.NewPathsWithCapacity(len(keys))
	paths.Extensions = ext
	for i, k := range keys {
		if items[i].err != nil {
			return nil, items[i].err
		}
		paths.Set(k, items[i].item)
	}
	return paths, nil
}
