package tools

import (
	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools/money"
)

// APICaps returns the caps the catalog entries of apis set (catalog.SourceConfig's
// MaxTotal and ToolCaps, which API.Config remembers), keyed as Policy.Caps's PerAPI and
// PerTool count them: by API name, and by tool name. A MaxTotal of an entry that is a
// folder caps each of its APIs. The maps are nil when no entry sets a cap.
func APICaps(apis []*catalog.API) (perAPI, perTool map[string]money.Amount) {
	for _, api := range apis {
		if v := api.Config.MaxTotal; v != nil {
			if perAPI == nil {
				perAPI = map[string]money.Amount{}
			}
			perAPI[api.Name] = *v
		}
		for _, op := range api.Operations {
			v, ok := api.Config.ToolCaps[op.OperationID]
			if byName, named := api.Config.ToolCaps[op.Name]; named {
				v, ok = byName, true
			}
			if !ok {
				continue
			}
			if perTool == nil {
				perTool = map[string]money.Amount{}
			}
			perTool[op.Name] = v
		}
	}
	return perAPI, perTool
}
