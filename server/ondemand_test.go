package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"go.yaml.in/yaml/v4"

	"github.com/tollhq/toll/catalog"
)

// TestLazyOnDemand serves operations listed on demand (catalog.Options.OnDemand): toll_describe
// shows the input schema a whole load builds, toll_call builds the operation and calls it,
// and eager mode refuses such operations rather than list tools without schemas.
func TestLazyOnDemand(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(api.Close)
	spec, err := os.ReadFile(filepath.Join("..", "testdata", "specs", "weather.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	if spec, err = json.Marshal(doc); err != nil { // a listing on demand reads JSON
		t.Fatal(err)
	}
	whole, err := catalog.Load(t.Context(), spec, "weather.json", catalog.Options{BaseURL: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := catalog.Load(t.Context(), spec, "weather.json", catalog.Options{BaseURL: api.URL, OnDemand: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(lazyServer(t, nil, Options{}).client, listed.Operations, Options{Lazy: LazyOff}); err == nil || !strings.Contains(err.Error(), "listed on demand") {
		t.Errorf("eager New with operations listed on demand: %v, want an error", err)
	}
	c := newClientFor(t, lazyServer(t, listed.Operations, Options{Lazy: LazyOn}))
	call := func(name string, args map[string]any) (bool, string) {
		var req mcp.CallToolRequest
		req.Params.Name, req.Params.Arguments = name, args
		res, err := c.CallTool(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, ct := range res.Content {
			if tc, ok := mcp.AsTextContent(ct); ok {
				b.WriteString(tc.Text)
			}
		}
		return res.IsError, b.String()
	}
	for i, op := range listed.Operations {
		if op.Deferred == nil || op.InputSchema != nil {
			t.Fatalf("%s was not listed on demand", op.Name)
		}
		isErr, text := call(DescribeTool, map[string]any{"name": op.Name})
		if want := string(whole.Operations[i].InputSchema); isErr || !strings.Contains(text, "Arguments (JSON Schema):\n"+want) {
			t.Errorf("describe %s: %s\nwant the schema %s", op.Name, text, want)
		}
	}
	if isErr, text := call(CallTool, map[string]any{"name": "weather_demo_health", "arguments": map[string]any{}}); isErr || !strings.Contains(text, `{"status":"ok"}`) {
		t.Errorf("call health: %s", text)
	}
	if isErr, text := call(CallTool, map[string]any{"name": "weather_demo_getWeather", "arguments": map[string]any{"units": "metric"}}); !isErr || !strings.Contains(text, "city") {
		t.Errorf("call getWeather without its required city: %s, want a refusal naming it", text)
	}
}
