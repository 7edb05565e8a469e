package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/tollhq/toll/tools/x402"
)

// checkEntry validates what an entry says beyond its Options: the pay_to pin and the
// caps. Errors name the YAML key.
func (c SourceConfig) checkEntry() error {
	if c.PayTo != "" && !x402.IsAddress(c.PayTo) {
		return fmt.Errorf("%w: pay_to: %q is not an address; write 0x and 40 hex digits", ErrInvalidOptions, clip(c.PayTo))
	}
	if c.MaxTotal != nil && c.MaxTotal.Sign() < 0 {
		return fmt.Errorf("%w: max_total: %s is negative; write a USDC amount such as \"1.00\", or leave it out for no cap", ErrInvalidOptions, c.MaxTotal)
	}
	for _, k := range slices.Sorted(maps.Keys(c.ToolCaps)) {
		if v := c.ToolCaps[k]; v.Sign() < 0 {
			return fmt.Errorf("%w: tool_caps.%s: %s is negative; write a USDC amount such as \"0.20\"", ErrInvalidOptions, strconv.Quote(clip(k)), v)
		}
	}
	return nil
}

// applyEntries gives each API built from sources[i] (bySource[i]) its entry as Config and
// applies the entry to them, adding its errors to errsBy[i].
func applyEntries(sources []SourceConfig, bySource [][]*API, errsBy [][]error) {
	for i, sc := range sources {
		for _, a := range bySource[i] {
			a.Config = sc
		}
		errsBy[i] = append(errsBy[i], applyEntry(sc, bySource[i])...)
	}
}

// applyEntry applies an entry to the APIs LoadAll loaded from it: it pins pay_to on
// their prices, and checks that each tool_caps key names one of their operations, by
// operationId or tool name: a cap the user believes in must exist. An entry none of whose
// APIs loaded is left alone; its load error says why.
func applyEntry(sc SourceConfig, mine []*API) []error {
	if len(mine) == 0 {
		return nil
	}
	found := make(map[string]bool, len(sc.ToolCaps))
	for _, a := range mine {
		for _, op := range a.Operations {
			if sc.PayTo != "" && op.Price != nil {
				op.Price.PayTo = sc.PayTo
			}
			for _, key := range []string{op.OperationID, op.Name} {
				if _, ok := sc.ToolCaps[key]; ok {
					found[key] = true
				}
			}
		}
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(sc.ToolCaps)) {
		if !found[k] {
			errs = append(errs, fmt.Errorf("load %s: %w: tool_caps: no operation %q; name an operationId or a tool name of this API", sanitizeLine(sc.Spec), ErrNoSuchOperation, clip(k)))
		}
	}
	return errs
}
