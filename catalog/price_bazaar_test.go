package catalog

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestXBazaar: an operation with no parameters or body of its own takes its
// arguments from x-bazaar's input schema, in each shape specs write it (the
// schemas converted as every schema is, component references inlined); one
// with its own keeps them; the output schema is kept on the operation;
// examples are not taken for schemas. Read as JSON (the fast path, which
// must keep the component schemas only x-bazaar refers to) and as YAML.
func TestXBazaar(t *testing.T) {
	type param struct {
		Name     string
		In       string
		Required bool
	}
	tests := []struct {
		id        string
		params    []param
		bodyType  string         // Body.MediaType; "" for no body
		input     map[string]any // InputSchema's properties, as JSON decodes them
		required  []any          // InputSchema's required
		output    map[string]any // OutputSchema as JSON decodes it; nil for none
		fromInput bool           // a warning says x-bazaar gave the arguments
	}{
		{
			id:     "search",
			params: []param{{"limit", "query", false}, {"q", "query", true}},
			input: map[string]any{
				"limit": map[string]any{"type": "integer", "minimum": 1.0},
				"q":     map[string]any{"type": "string", "description": "Words to look for"},
			},
			required:  []any{"q"},
			output:    map[string]any{"type": "object", "properties": map[string]any{"results": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}},
			fromInput: true,
		},
		{
			id:       "chat",
			bodyType: "application/json",
			input: map[string]any{"body": map[string]any{
				"type":     "object",
				"required": []any{"prompt"},
				"properties": map[string]any{
					"prompt": map[string]any{"type": "string"},
					"model":  map[string]any{"type": "string", "enum": []any{"small", "large"}},
				},
			}},
			required:  []any{"body"},
			output:    map[string]any{"type": "object", "properties": map[string]any{"reply": map[string]any{"type": "string"}}},
			fromInput: true,
		},
		{
			id:        "weather",
			params:    []param{{"city", "query", true}},
			input:     map[string]any{"city": map[string]any{"type": "string"}},
			required:  []any{"city"},
			output:    map[string]any{"type": "object"},
			fromInput: true,
		},
		{
			id:       "tool",
			bodyType: "application/json",
			input: map[string]any{"body": map[string]any{
				"type": "object", "required": []any{"ticker"}, "properties": map[string]any{"ticker": map[string]any{"type": "string"}},
			}},
			required:  []any{"body"},
			output:    map[string]any{"type": "object"},
			fromInput: true,
		},
		{
			id:       "own",
			bodyType: "application/json",
			input:    map[string]any{"body": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}},
			required: []any{"body"},
			output:   map[string]any{"type": "string"},
		},
		{id: "examples", input: map[string]any{}},
		{id: "broken", input: map[string]any{}},
	}
	data := readTestdata(t, "x_bazaar.json")
	for name, spec := range map[string][]byte{"x_bazaar.json": data, "x_bazaar.yaml": toYAML(t, data)} {
		t.Run(name, func(t *testing.T) {
			api, err := Load(t.Context(), spec, name, Options{Namespace: "bz"})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, api)
			if len(api.Operations) != len(tests) {
				t.Fatalf("%d operations, want %d", len(api.Operations), len(tests))
			}
			for _, tt := range tests {
				op := operation(t, api, "bz_"+tt.id)
				var params []param
				for _, p := range op.Params {
					params = append(params, param{p.Name, p.In, p.Required})
				}
				if diff := cmp.Diff(tt.params, params); diff != "" {
					t.Errorf("%s: params (-want +got):\n%s", tt.id, diff)
				}
				bodyType := ""
				if op.Body != nil {
					bodyType = op.Body.MediaType
				}
				if bodyType != tt.bodyType {
					t.Errorf("%s: body %q, want %q", tt.id, bodyType, tt.bodyType)
				}
				var in struct {
					Properties map[string]any `json:"properties"`
					Required   []any          `json:"required"`
				}
				if err := json.Unmarshal(op.InputSchema, &in); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.input, in.Properties); diff != "" {
					t.Errorf("%s: input properties (-want +got):\n%s", tt.id, diff)
				}
				if !slices.Equal(in.Required, tt.required) {
					t.Errorf("%s: required %v, want %v", tt.id, in.Required, tt.required)
				}
				var out map[string]any
				if op.OutputSchema != nil {
					if err := json.Unmarshal(op.OutputSchema, &out); err != nil {
						t.Fatal(err)
					}
				}
				if diff := cmp.Diff(tt.output, out); diff != "" {
					t.Errorf("%s: output schema (-want +got):\n%s", tt.id, diff)
				}
				if got := hasWarning(api, op.Name+" ", "x-bazaar: its input schema gives the arguments"); got != tt.fromInput {
					t.Errorf("%s: warning that x-bazaar gave the arguments: %v, want %v (%q)", tt.id, got, tt.fromInput, api.Warnings)
				}
			}
			if !hasWarning(api, "bz_broken ", "x-bazaar is a string, not an object; not used") {
				t.Errorf("no warning about the broken x-bazaar: %q", api.Warnings)
			}
		})
	}
}
