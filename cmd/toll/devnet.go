package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"text/tabwriter"

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
	SpecURL        string         `json:"specUrl"`
	PayTo          string         `json:"payTo"`
	Funded         []devnetFunded `json:"funded"`
}

type devnetFunded struct {
	Address string `json:"address"`
	Amount  string `json:"amount"` // atomic units (6 decimals)
}

// runDevnet is "toll devnet": the local x402 world for other processes, until interrupted.
func runDevnet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("toll devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var funds rpcFlag // ADDRESS=AMOUNT, repeatable
	apiAddr := fs.String("api-addr", defaultDevnetAPIAddr, "address of the paid API (127.0.0.1:0 for a free port)")
	rpcAddr := fs.String("rpc-addr", defaultDevnetRPCAddr, "address of the chain's JSON-RPC over HTTP (127.0.0.1:0 for a free port)")
	chainID := fs.Int64("chain-id", x402test.DefaultChainID, "the chain's id (84532 is what x402 calls base-sepolia)")
	format := fs.String("format", "text", "how to print the endpoints: text, or json (one object on one line)")
	verbose := fs.Bool("v", false, "log the chain, facilitator and API on stderr")
	fs.Var(&funds, "fund", "mint test USDC to an address at start, as ADDRESS=AMOUNT in USDC (0x…=10); repeatable")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: toll devnet [--fund ADDRESS=AMOUNT ...] [--api-addr 127.0.0.1:8402] [--rpc-addr 127.0.0.1:8545]

Run a local x402 world on 127.0.0.1 until interrupted: a simulated EVM serving JSON-RPC, an
EIP-3009 test USDC, an x402 facilitator and a paid weather API with its OpenAPI spec. Point
toll serve, toll ledger reconcile or any x402 client at it. No network, no real money.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("toll devnet takes no arguments (got %q)", fs.Arg(0))
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: want text or json", *format)
	}
	if *chainID <= 0 {
		return usagef("--chain-id %d: must be positive", *chainID)
	}
	type grant struct {
		addr   wallet.Address
		amount *big.Int
	}
	var grants []grant
	for _, f := range funds {
		addr, amount, ok := strings.Cut(f, "=")
		if !ok {
			return usagef("--fund %q: want ADDRESS=AMOUNT, e.g. 0x…=10 for 10 USDC", f)
		}
		a, err := wallet.ParseAddress(strings.TrimSpace(addr))
		if err != nil {
			return usagef("--fund %q: %v", f, err)
		}
		v, err := money.Parse(strings.TrimSpace(amount), x402test.TokenDecimals)
		if err != nil || v.Sign() <= 0 {
			return usagef("--fund %q: the amount must be a positive USDC amount such as 10 or 0.5", f)
		}
		grants = append(grants, grant{a, v.Atomic()})
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	world, err := x402test.Start(ctx, x402test.Options{
		ChainID: big.NewInt(*chainID),
		APIAddr: *apiAddr,
		RPCAddr: *rpcAddr,
		Logger:  logger,
	})
	if err != nil {
		return fmt.Errorf("start the local x402 world: %w (is another toll devnet running? pick other ports with --api-addr and --rpc-addr)", err)
	}
	defer world.Close()
	info := devnetInfo{
		ChainID:        world.Chain.ChainID().String(),
		Network:        world.Chain.NetworkV2(),
		NetworkV1:      world.Chain.NetworkV1(),
		RPCURL:         world.RPCURL,
		Token:          world.Chain.TokenAddress(),
		FacilitatorURL: world.FacilitatorURL,
		APIURL:         world.APIURL,
		SpecURL:        world.APIURL + "/openapi.yaml",
		PayTo:          world.PayTo(),
		Funded:         []devnetFunded{},
	}
	for _, g := range grants {
		if err := world.Fund(ctx, g.addr.Hex(), g.amount); err != nil {
			return fmt.Errorf("fund %s: %w", g.addr.Hex(), err)
		}
		info.Funded = append(info.Funded, devnetFunded{Address: g.addr.Hex(), Amount: g.amount.String()})
	}
	if *format == "json" {
		if err := json.NewEncoder(stdout).Encode(info); err != nil {
			return err
		}
	} else if err := writeDevnetInfo(stdout, info); err != nil {
		return err
	}
	<-ctx.Done()
	if *format == "text" {
		fmt.Fprintln(stdout, "toll devnet: stopped")
	}
	return nil
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
	fmt.Fprintf(tw, "  Payments go to\t%s\n", info.PayTo)
	for _, f := range info.Funded {
		v, _ := money.ParseAtomic(f.Amount, x402test.TokenDecimals)
		fmt.Fprintf(tw, "  Funded\t%s with %s USDC\n", f.Address, v)
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
