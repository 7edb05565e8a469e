package tools

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools/money"
)

// TestAPICaps loads two entries of one spec, one with caps, and reads the caps back keyed
// as the ledger counts them: by API name and by tool name, an operation named by its
// operationId or its tool name.
func TestAPICaps(t *testing.T) {
	spec := filepath.Join("..", "testdata", "specs", "weather.yaml")
	total, weather, health := money.USDC(1_000_000), money.USDC(200_000), money.USDC(0)
	cat, errs := catalog.LoadAll(t.Context(), []catalog.SourceConfig{
		{Spec: spec, Options: catalog.Options{Namespace: "wx"}, MaxTotal: &total,
			ToolCaps: map[string]money.Amount{"getWeather": weather, "wx_health": health}},
		{Spec: spec, Options: catalog.Options{Namespace: "free"}},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	perAPI, perTool := APICaps(cat.APIs)
	amounts := cmp.Comparer(func(a, b money.Amount) bool { return a.Cmp(b) == 0 })
	if diff := cmp.Diff(map[string]money.Amount{"wx": total}, perAPI, amounts); diff != "" {
		t.Errorf("per API (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]money.Amount{"wx_getWeather": weather, "wx_health": health}, perTool, amounts); diff != "" {
		t.Errorf("per tool (-want +got):\n%s", diff)
	}
	if a, b := APICaps(cat.APIs[1:]); a != nil || b != nil {
		t.Errorf("an entry with no caps gave %v %v", a, b)
	}
}
