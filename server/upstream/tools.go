package upstream

import (
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/money"
)

// MetaPrice is the _meta key of a tool in tools/list under which an upstream advertises
// its price, as toll advertises its own paid tools: {"amount": atomic units as a string,
// "decimals": n, "network": CAIP-2 id, "payTo": address}.
const MetaPrice = "x402/price"

// Tool is one tool of an upstream server as toll serves it.
type Tool struct {
	Namespace   string
	Name        string // its name on the upstream
	Title       string
	Description string
	InputSchema json.RawMessage
	Annotations mcp.ToolAnnotation
	// Price is what the upstream advertises in the tool's _meta (MetaPrice); nil when it
	// advertises nothing toll can read: the price is set at call time.
	Price *Price
	// PriceProblem says why an advertised price was not read; "" when there was none,
	// or it was read.
	PriceProblem string
}

// Price is the price an upstream advertises for a tool.
type Price struct {
	Amount  money.Amount
	Network string // "" when it names none
	PayTo   string // "" when it names none
}

// ToolName is the name of t in toll: NAMESPACE_TOOL.
func (t Tool) ToolName() string { return t.Namespace + "_" + t.Name }

// toolsOf reads the tools an upstream listed.
func toolsOf(cfg Config, listed []mcp.Tool) []Tool {
	out := make([]Tool, 0, len(listed))
	for _, lt := range listed {
		t := Tool{Namespace: cfg.Namespace, Name: lt.Name, Title: lt.Title, Description: lt.Description, Annotations: lt.Annotations}
		t.InputSchema = lt.RawInputSchema
		if len(t.InputSchema) == 0 {
			if b, err := json.Marshal(lt.InputSchema); err == nil {
				t.InputSchema = b
			}
		}
		if lt.Meta != nil {
			if raw, ok := lt.Meta.AdditionalFields[MetaPrice]; ok {
				t.Price, t.PriceProblem = readPrice(raw)
			}
		}
		out = append(out, t)
	}
	return out
}

// readPrice reads an advertised price; on failure it says why.
func readPrice(v any) (*Price, string) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err.Error()
	}
	var p struct {
		Amount   string `json:"amount"`
		Decimals *int   `json:"decimals"`
		Network  string `json:"network"`
		PayTo    string `json:"payTo"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Sprintf("_meta[%q] is not a price object: %v", MetaPrice, err)
	}
	decimals := money.USDCDecimals
	if p.Decimals != nil {
		decimals = *p.Decimals
	}
	if decimals != money.USDCDecimals {
		return nil, fmt.Sprintf("_meta[%q] has %d decimals; toll pays USD stablecoins of %d", MetaPrice, decimals, money.USDCDecimals)
	}
	amount, err := money.ParseAtomic(p.Amount, decimals)
	if err != nil || amount.Sign() <= 0 {
		return nil, fmt.Sprintf("_meta[%q] amount %q is not a positive number of atomic units", MetaPrice, p.Amount)
	}
	return &Price{Amount: amount, Network: p.Network, PayTo: p.PayTo}, ""
}
