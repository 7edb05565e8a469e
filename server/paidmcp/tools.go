package paidmcp

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/money"
)

// The tools the server serves.
const (
	ToolPing     = "ping"         // free: answers "pong"
	ToolWeather  = "get_weather"  // 0.001 USDC: the current weather of a city
	ToolForecast = "get_forecast" // 0.005 USDC: a forecast of 1 to 7 days for a city
)

// MetaPrice is the tools/list _meta key under which a paid tool advertises its price in
// DialectSpec. The transport spec defines none; this is the key and shape toll's own
// server uses: {"amount": atomic units as a decimal string, "decimals", "display",
// "asset", "network" (CAIP-2), "scheme", "payTo", "mode": "fixed"}.
const MetaPrice = "x402/price"

// Price is what a tool costs before any knob moves it, in USDC: zero for ping and for a
// tool the server does not serve.
func Price(tool string) money.Amount {
	switch tool {
	case ToolWeather:
		return money.USDC(1_000)
	case ToolForecast:
		return money.USDC(5_000)
	}
	return money.USDC(0)
}

// tool is one tool: its definition and its work. run gets the arguments as a JSON
// object and returns the answer, or a message for an invalid argument.
type tool struct {
	name        string
	description string
	schema      json.RawMessage
	price       money.Amount
	run         func(args map[string]any) (any, error)
}

// catalog is the server's tools.
func catalog() []*tool {
	return []*tool{
		{
			name:        ToolPing,
			description: "Check that the server answers. Free.",
			schema:      json.RawMessage(`{"type":"object","properties":{}}`),
			run:         func(map[string]any) (any, error) { return "pong", nil },
		},
		{
			name:        ToolWeather,
			description: "The current weather in a city. Costs 0.001 USDC, paid with x402.",
			schema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","description":"the city, e.g. Oslo"}},` +
				`"required":["city"]}`),
			price: Price(ToolWeather),
			run:   weather,
		},
		{
			name:        ToolForecast,
			description: "A daily forecast for a city, 1 to 7 days. Costs 0.005 USDC, paid with x402.",
			schema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","description":"the city, e.g. Oslo"},` +
				`"days":{"type":"integer","minimum":1,"maximum":7,"default":3}},"required":["city"]}`),
			price: Price(ToolForecast),
			run:   forecast,
		},
	}
}

// conditions is a made-up, deterministic weather for a city and a day.
func conditions(city string, day int) (tempC int, sky string) {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", strings.ToLower(city), day)
	v := h.Sum32()
	skies := []string{"sunny", "cloudy", "rain", "snow", "fog"}
	return int(v%35) - 5, skies[int(v/35)%len(skies)]
}

func city(args map[string]any) (string, error) {
	c, _ := args["city"].(string)
	if strings.TrimSpace(c) == "" {
		return "", fmt.Errorf("city is required: a city name such as Oslo")
	}
	return c, nil
}

func weather(args map[string]any) (any, error) {
	c, err := city(args)
	if err != nil {
		return nil, err
	}
	t, sky := conditions(c, 0)
	return map[string]any{"city": c, "temperatureC": t, "conditions": sky}, nil
}

func forecast(args map[string]any) (any, error) {
	c, err := city(args)
	if err != nil {
		return nil, err
	}
	days := 3
	if v, ok := args["days"]; ok {
		f, isNum := v.(float64)
		if !isNum || f != float64(int(f)) || f < 1 || f > 7 {
			return nil, fmt.Errorf("days must be a whole number from 1 to 7, got %v", v)
		}
		days = int(f)
	}
	out := make([]map[string]any, 0, days)
	for d := 1; d <= days; d++ {
		t, sky := conditions(c, d)
		out = append(out, map[string]any{"day": d, "temperatureC": t, "conditions": sky})
	}
	return map[string]any{"city": c, "days": out}, nil
}

// answer is a tool's successful result: the JSON text, and the object as structured
// content; a plain string is text only.
func answer(v any) *mcp.CallToolResult {
	if s, ok := v.(string); ok {
		return mcp.NewToolResultText(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return mcp.NewToolResultError("encode the answer: " + err.Error())
	}
	res := mcp.NewToolResultText(string(b))
	res.RawStructuredContent = b
	return res
}
