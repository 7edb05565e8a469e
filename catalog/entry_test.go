package catalog

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollhq/toll/tools/money"
)

var weatherSpec = filepath.Join("..", "testdata", "specs", "weather.yaml")

// TestLoadAllEntry: each loaded API remembers the entry it came from; pay_to is pinned on
// every priced operation of that entry and no other; a tool_caps key naming no operation
// of the entry is an error for that entry.
func TestLoadAllEntry(t *testing.T) {
	payTo := "0x" + strings.Repeat("ab", 20)
	limit := money.USDC(200_000)
	pinned := SourceConfig{Spec: weatherSpec, Options: Options{Namespace: "wx"}, PayTo: payTo,
		MaxTotal: &limit, ToolCaps: map[string]money.Amount{"getWeather": limit, "wx_health": limit}}
	plain := SourceConfig{Spec: weatherSpec, Options: Options{Namespace: "plain"}}
	cat, errs := LoadAll(t.Context(), []SourceConfig{pinned, plain})
	if len(errs) != 0 || len(cat.APIs) != 2 {
		t.Fatalf("LoadAll: %d APIs, errors %v", len(cat.APIs), errs)
	}
	for _, api := range cat.APIs {
		want := map[string]SourceConfig{"wx": pinned, "plain": plain}[api.Name]
		if api.Config.Namespace != want.Namespace || api.Config.PayTo != want.PayTo {
			t.Errorf("API %s remembers entry %+v, want %+v", api.Name, api.Config, want)
		}
		for _, op := range api.Operations {
			if op.Price == nil {
				continue
			}
			if pinnedHere := op.Price.PayTo == payTo; pinnedHere != (api.Name == "wx") {
				t.Errorf("%s: payTo %q; pinned only in wx", op.Name, op.Price.PayTo)
			}
		}
	}

	bad := pinned
	bad.ToolCaps = map[string]money.Amount{"noSuchOp": limit}
	_, errs = LoadAll(t.Context(), []SourceConfig{bad, plain})
	if len(errs) != 1 || !errors.Is(errs[0], ErrNoSuchOperation) || !strings.Contains(errs[0].Error(), "noSuchOp") || !strings.Contains(errs[0].Error(), "weather.yaml") {
		t.Errorf("unknown tool_caps key: errors %v, want one ErrNoSuchOperation naming the key and the spec", errs)
	}
}

func TestCheckEntry(t *testing.T) {
	neg := money.USDC(1).Sub(money.USDC(2))
	for _, tc := range []struct {
		cfg  SourceConfig
		want string
	}{
		{SourceConfig{Spec: "a.yaml", PayTo: "nobody"}, "pay_to"},
		{SourceConfig{Spec: "a.yaml", PayTo: "0x1234"}, "pay_to"},
		{SourceConfig{Spec: "a.yaml", MaxTotal: &neg}, "max_total"},
		{SourceConfig{Spec: "a.yaml", ToolCaps: map[string]money.Amount{"getWeather": neg}}, `tool_caps."getWeather"`},
		{SourceConfig{Spec: "a.yaml", PayTo: "0x" + strings.Repeat("0", 40)}, ""},
	} {
		err := tc.cfg.Check()
		if tc.want == "" {
			if err != nil {
				t.Errorf("Check(%+v) = %v, want nil", tc.cfg, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%+v) = %v, want ErrInvalidOptions naming %s", tc.cfg, err, tc.want)
		}
	}
}
