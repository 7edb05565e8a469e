package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync/atomic"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/server/paidmcp"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// Default addresses of toll devnet: the usual local JSON-RPC port, and x402's number.
const (
	defaultDevnetAPIAddr = "127.0.0.1:8402"
	defaultDevnetRPCAddr = "127.0.0.1:8545"
)

// devnetInfo is what toll devnet prints: everything a client needs to use the world.
type devnetInfo struct {
	ChainID        string         `json:"chainId"`
	Network        string         `json:"network"`   // CAIP-2, for toll serve --network
	NetworkV1      string         `json:"networkV1"` // x402 v1 name
	RPCURL         string         `json:"rpcUrl"`
	Token          string         `json:"token"`
	FacilitatorURL string         `json:"facilitatorUrl"`
	APIURL         string         `json:"apiUrl"`
	MCPURL         string         `json:"mcpUrl"` // the paid MCP server (streamable HTTP)
	SpecURL        string         `json:"specUrl"`
	PayTo          string         `json:"payTo"`
	Funded         []devnetFunded `json:"funded"`
}

type devnetFunded struct {
	Address string       `json:"address"`
	Amount  money.Amount `json:"amount"` // JSON: atomic units (6 decimals), "2500000"
}

// devnetCmd is "toll devnet": the local x402 world for other processes, until interrupted.
type devnetCmd struct {
	*app
	funds   repeated // ADDRESS=AMOUNT
	apiAddr string
	rpcAddr string
	chainID int64
	format  *format
	verbose bool
	// The paid MCP server: its dialect, and whether it serves stdio too.
	mcpDialect *format
	mcpStdio   bool
}

func (a *app) devnetCommand() *cobra.Command {
	d := &devnetCmd{app: a, format: newFormat("text", "text", "json"), mcpDialect: newFormat("spec", "spec", "x402-mcp")}
	c := &cobra.Command{
		Use:   "devnet [flags]",
		Short: "run the local x402 world (chain JSON-RPC, facilitator, paid API, paid MCP server) until interrupted",
		Long: `Run a local x402 world on 127.0.0.1 until interrupted: a simulated EVM serving JSON-RPC, an
EIP-3009 test USDC, an x402 facilitator, a paid weather API with its OpenAPI spec, and a paid
MCP server at /mcp on the API's address (x402's MCP transport: get_weather and get_forecast
paid, ping free). Point toll serve, toll ledger reconcile or any x402 client at it. No
network, no real money.`,
		Example: "  toll devnet --fund 0x1111111111111111111111111111111111111111=10",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, _ []string) error { return d.run(c.Context()) },
	}
	fs := newFlags(c)
	fs.Var(&d.funds, "fund", "mint test USDC to an address at start, as ADDRESS=AMOUNT in USDC (0x…=10); repeatable")
	fs.StringVar(&d.apiAddr, "api-addr", defaultDevnetAPIAddr, "address of the paid API (127.0.0.1:0 for a free port)")
	fs.StringVar(&d.rpcAddr, "rpc-addr", defaultDevnetRPCAddr, "address of the chain's JSON-RPC over HTTP (127.0.0.1:0 for a free port)")
	fs.Int64Var(&d.chainID, "chain-id", x402test.DefaultChainID, "the chain's id (84532 is what x402 calls base-sepolia)")
	fs.Var(d.format, "format", "how to print the endpoints: text, or json (one object on one line)")
	fs.BoolVarP(&d.verbose, "verbose", "v", false, "log the chain, facilitator and API on stderr")
	fs.Var(d.mcpDialect, "mcp-dialect", "how the paid MCP server takes payment: spec (x402 v2, the MCP transport spec) or x402-mcp (Vercel's x402-mcp, x402 v1)")
	fs.BoolVar(&d.mcpStdio, "mcp-stdio", false, "also serve the paid MCP server on stdin/stdout, for MCP clients that start a command; "+
		"the endpoints then go to stderr, and the devnet stops when stdin ends")
	return c
}

// grant is test USDC to mint at start.
type grant struct {
	addr   wallet.Address
	amount money.Amount
}

// grants reads the --fund values.
func (d *devnetCmd) grants() ([]grant, error) {
	var grants []grant
	for _, f := range d.funds {
		addr, amount, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usagef("--fund %q: want ADDRESS=AMOUNT, e.g. 0x…=10 for 10 USDC", f)
		}
		a, err := wallet.ParseAddress(strings.TrimSpace(addr))
		if err != nil {
			return nil, usagef("--fund %q: %v", f, err)
		}
		v, err := money.Parse(strings.TrimSpace(amount), x402test.TokenDecimals)
		if err != nil || v.Sign() <= 0 {
			return nil, usagef("--fund %q: the amount must be a positive USDC amount such as 10 or 0.5", f)
		}
		grants = append(grants, grant{a, v})
	}
	return grants, nil
}

func (d *devnetCmd) run(ctx context.Context) error {
	if d.chainID <= 0 {
		return usagef("--chain-id %d: must be positive", d.chainID)
	}
	grants, err := d.grants()
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if d.verbose {
		logger = slog.New(slog.NewTextHandler(d.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	dialect := paidmcp.DialectSpec
	if d.mcpDialect.value == "x402-mcp" {
		dialect = paidmcp.DialectX402MCP
	}
	world, paid, err := startMCPWorld(ctx, x402test.Options{ChainID: big.NewInt(d.chainID), APIAddr: d.apiAddr, RPCAddr: d.rpcAddr, Logger: logger},
		paidmcp.Options{Dialect: dialect, Logger: logger})
	if err != nil {
		return fmt.Errorf("%w (is another toll devnet running? pick other ports with --api-addr and --rpc-addr)", err)
	}
	defer world.Close()
	info := newDevnetInfo(world)
	for _, g := range grants {
		if err := world.Fund(ctx, g.addr.Hex(), g.amount); err != nil {
			return fmt.Errorf("fund %s: %w", g.addr.Hex(), err)
		}
		info.Funded = append(info.Funded, devnetFunded{Address: g.addr.Hex(), Amount: g.amount})
	}
	out := d.stdout
	if d.mcpStdio {
		out = d.stderr // stdout is the MCP protocol
	}
	if d.format.value == "json" {
		err = json.NewEncoder(out).Encode(info)
	} else {
		err = writeDevnetInfo(out, info)
	}
	if err != nil {
		return err
	}
	if d.mcpStdio {
		if err := paid.ServeStdio(ctx, d.stdin, d.stdout); err != nil && ctx.Err() == nil {
			return fmt.Errorf("paid MCP server on stdio: %w", err)
		}
	} else {
		<-ctx.Done()
	}
	if d.format.value == "text" {
		fmt.Fprintln(out, "toll devnet: stopped")
	}
	return nil
}

func newDevnetInfo(world *x402test.World) devnetInfo {
	return devnetInfo{
		ChainID:        world.Chain.ChainID().String(),
		Network:        world.Chain.NetworkV2(),
		NetworkV1:      world.Chain.NetworkV1(),
		RPCURL:         world.RPCURL,
		Token:          world.Chain.TokenAddress(),
		FacilitatorURL: world.FacilitatorURL,
		APIURL:         world.APIURL,
		SpecURL:        world.APIURL + "/openapi.yaml",
		MCPURL:         mcpURL(world),
		PayTo:          world.PayTo(),
		Funded:         []devnetFunded{},
	}
}

func writeDevnetInfo(w io.Writer, info devnetInfo) error {
	fmt.Fprintln(w, "toll devnet: a local x402 world on this machine. No network, no real money.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  Chain ID\t%s (%s, x402 v1 %q)\n", info.ChainID, info.Network, info.NetworkV1)
	fmt.Fprintf(tw, "  RPC URL\t%s\n", info.RPCURL)
	fmt.Fprintf(tw, "  Token (USDC)\t%s\n", info.Token)
	fmt.Fprintf(tw, "  Facilitator URL\t%s\n", info.FacilitatorURL)
	fmt.Fprintf(tw, "  Paid API URL\t%s\n", info.APIURL)
	fmt.Fprintf(tw, "  Spec URL\t%s\n", info.SpecURL)
	fmt.Fprintf(tw, "  Paid MCP URL\t%s\n", info.MCPURL)
	fmt.Fprintf(tw, "  Payments go to\t%s\n", info.PayTo)
	for _, f := range info.Funded {
		fmt.Fprintf(tw, "  Funded\t%s with %s USDC\n", f.Address, f.Amount)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, `
Try it:
  curl -s %s > devnet.yaml
  toll serve --spec devnet.yaml --network %s --asset %s --keystore KEY.json
  toll ledger reconcile --rpc %s=%s

Running until interrupted (Ctrl-C).
`, info.SpecURL, info.Network, info.Token, info.Network, info.RPCURL)
	return err
}

// lateHandler serves the paid MCP server, which needs the started world, on the world's
// API listener, which starts with it: 503 until set.
// startMCPWorld starts a local x402 world with opts, whose API serves the weather routes
// and, at /mcp (mcpURL), a paid MCP server made with mo on that world.
func startMCPWorld(ctx context.Context, opts x402test.Options, mo paidmcp.Options) (*x402test.World, *paidmcp.Server, error) {
	route := &lateHandler{} // the paid MCP server needs the world first
	opts.Routes = append(x402test.WeatherRoutes(), x402test.Route{Pattern: "/mcp", Handler: route})
	opts.Spec = x402test.WeatherSpec()
	world, err := x402test.Start(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("start the local x402 world: %w", err)
	}
	mo.World = world
	paid, err := paidmcp.New(mo)
	if err != nil {
		world.Close()
		return nil, nil, fmt.Errorf("start the paid MCP server: %w", err)
	}
	route.set(paid.HTTPHandler())
	return world, paid, nil
}

// mcpURL is where startMCPWorld's world serves its paid MCP server.
func mcpURL(w *x402test.World) string { return w.APIURL + "/mcp" }

type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := l.h.Load()
	if h == nil {
		http.Error(w, "the paid MCP server is starting; retry in a moment", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}
