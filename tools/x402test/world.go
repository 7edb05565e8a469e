package x402test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollhq/toll/tools/money"
)

// Options configures Start. The zero value gives the weather demo on chain 84532.
type Options struct {
	// ChainID is the simulated chain's id. Nil: DefaultChainID (84532, which x402 v1
	// calls "base-sepolia" and v2 "eip155:84532").
	ChainID *big.Int

	// Routes are the paid API's endpoints. Nil: WeatherRoutes().
	Routes []Route

	// Spec is the OpenAPI document (YAML) the API serves at GET /openapi.yaml, with
	// servers[0].url set to the API's URL. Nil: WeatherSpec() when Routes is nil, else
	// none.
	Spec []byte

	// PayTo is the address (0x + 40 hex) that receives the payments. Empty: a fresh
	// random address, whose key nobody keeps.
	PayTo string

	// MaxTimeoutSeconds is the maxTimeoutSeconds of every requirement. Zero: 300.
	MaxTimeoutSeconds int64

	// MaxClockSkew bounds how far block time may run ahead of the wall clock; see
	// ChainOptions. Zero: DefaultMaxClockSkew (30 s).
	MaxClockSkew time.Duration

	// APIAddr is the TCP address the paid API listens on, e.g. "127.0.0.1:8402".
	// Empty: 127.0.0.1 on a free port. The facilitator always takes a free port.
	APIAddr string

	// IgnoreDisconnect: the paid API settles a payment even when its client disconnects
	// before the answer; see PaidAPIOptions.IgnoreDisconnect.
	IgnoreDisconnect bool

	// PaymentID makes the paid API's version 2 routes advertise the payment-identifier
	// extension; see PaidAPIOptions.PaymentID. Nil: not advertised.
	PaymentID *PaymentIDOptions

	// Artifacts makes the paid API sign offers and receipts; see SignedArtifacts. Nil:
	// none.
	Artifacts *SignedArtifacts

	// RPCAddr, when set, serves the chain's JSON-RPC over HTTP on this address for other
	// processes, e.g. "127.0.0.1:8545", or "127.0.0.1:0" for a free port; see
	// ChainOptions.RPCAddr. Empty: none (the chain is reachable in this process only).
	RPCAddr string

	// Logger receives the chain's, the facilitator's and the API's log lines. Nil: silent.
	Logger *slog.Logger
}

// World is a local x402 world: a simulated chain with the test USDC token, a facilitator
// that settles on it, and a paid API, both served over HTTP on 127.0.0.1. Start one, fund
// a payer, and pay the API; Close it when done.
type World struct {
	// APIURL is the paid API's base URL, e.g. "http://127.0.0.1:40123".
	APIURL string
	// FacilitatorURL is the facilitator's base URL (POST /verify, POST /settle, GET
	// /supported, and the Bazaar, GET /discovery/resources and /discovery/search, which
	// lists the paid API's paid routes).
	FacilitatorURL string
	// RPCURL is the chain's JSON-RPC endpoint, e.g. "http://127.0.0.1:40125"; empty
	// unless Options.RPCAddr was set.
	RPCURL string
	// Chain is the simulated chain.
	Chain *Chain
	// Facilitator is the facilitator's handler.
	Facilitator *Facilitator
	// API is the paid API's handler, with its counters.
	API *PaidAPI

	payTo   string
	servers []*http.Server
	unused  unusedConns // connections of the servers that carried no request yet
}

// Start starts a world: the chain (with the token deployed), the facilitator and the
// paid API. ctx bounds the start only.
func Start(ctx context.Context, opts Options) (*World, error) {
	log := orDiscard(opts.Logger)
	payTo := opts.PayTo
	if payTo == "" {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("start x402 world: %w", err)
		}
		payTo = crypto.PubkeyToAddress(k.PublicKey).Hex()
	}
	pt, err := parseAddress(payTo)
	if err != nil {
		return nil, fmt.Errorf("start x402 world: PayTo: %w", err)
	}
	w := &World{payTo: pt.Hex()}
	started := false
	defer func() {
		if !started {
			w.Close()
		}
	}()

	w.Chain, err = NewChain(ctx, ChainOptions{ChainID: opts.ChainID, MaxClockSkew: opts.MaxClockSkew, RPCAddr: opts.RPCAddr, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("start x402 world: %w", err)
	}
	w.RPCURL = w.Chain.RPCURL()
	w.Facilitator = NewFacilitator(w.Chain, log)
	fURL, err := w.serve("127.0.0.1:0", w.Facilitator)
	if err != nil {
		return nil, fmt.Errorf("start x402 world: facilitator: %w", err)
	}
	w.FacilitatorURL = fURL

	apiAddr := opts.APIAddr
	if apiAddr == "" {
		apiAddr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", apiAddr)
	if err != nil {
		return nil, fmt.Errorf("start x402 world: api: %w", err)
	}
	w.APIURL = "http://" + ln.Addr().String()
	w.API, err = NewPaidAPI(PaidAPIOptions{
		FacilitatorURL:    w.FacilitatorURL,
		ChainID:           w.Chain.ChainID(),
		Asset:             w.Chain.TokenAddress(),
		PayTo:             w.payTo,
		MaxTimeoutSeconds: opts.MaxTimeoutSeconds,
		Routes:            opts.Routes,
		Spec:              opts.Spec,
		BaseURL:           w.APIURL,
		IgnoreDisconnect:  opts.IgnoreDisconnect,
		PaymentID:         opts.PaymentID,
		Artifacts:         opts.Artifacts,
		Logger:            log,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start x402 world: %w", err)
	}
	w.serveOn(ln, w.API)
	w.Facilitator.Bazaar.Add(w.API.DiscoveryItems(time.Now())...)
	started = true
	log.Info("x402test world started", "api", w.APIURL, "facilitator", w.FacilitatorURL, "rpc", w.RPCURL,
		"chainId", w.Chain.ChainID(), "token", w.Chain.TokenAddress(), "payTo", w.payTo)
	return w, nil
}

func (w *World) serve(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	w.serveOn(ln, h)
	return "http://" + ln.Addr().String(), nil
}

func (w *World) serveOn(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ConnState: w.unused.track}
	w.servers = append(w.servers, srv)
	go srv.Serve(ln)
}

// SpecYAML is the API's OpenAPI document with servers[0].url set to APIURL; nil when the
// API has no spec.
func (w *World) SpecYAML() []byte { return w.API.SpecYAML() }

// PayTo is the checksummed address that receives the payments.
func (w *World) PayTo() string { return w.payTo }

// Fund mints amount of the token (USDC, TokenDecimals) to addr: money.USDC(1_000_000) is
// 1 USDC. A payer needs no ETH: the facilitator pays the gas.
func (w *World) Fund(ctx context.Context, addr string, amount money.Amount) error {
	return w.Chain.Mint(ctx, addr, amount)
}

// BalanceOf is the token balance of addr, in TokenDecimals.
func (w *World) BalanceOf(ctx context.Context, addr string) (money.Amount, error) {
	return w.Chain.BalanceOf(ctx, addr)
}

// Settlements returns the payments the API settled, oldest first.
func (w *World) Settlements() []Settlement { return w.API.Settlements() }

// HandlerRuns reports how many times a route's handler ran, by its ServeMux pattern,
// e.g. "GET /weather/{city}".
func (w *World) HandlerRuns(route string) int { return w.API.HandlerRuns(route) }

// Close stops the servers (waiting up to 5 s for requests in flight) and the chain.
func (w *World) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A connection a client dialed and never used (net/http dials ahead for queued
	// requests) holds Shutdown for 5 s; it carries no request, so it is closed first.
	w.unused.closeAll()
	var errs []error
	for _, srv := range w.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err, srv.Close())
		}
	}
	w.servers = nil
	if w.Chain != nil {
		errs = append(errs, w.Chain.Close())
	}
	return errors.Join(errs...)
}

// unusedConns are the connections of the world's servers that have not carried a request
// yet (http.StateNew).
type unusedConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// track is an http.Server's ConnState hook.
func (u *unusedConns) track(c net.Conn, state http.ConnState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if state != http.StateNew {
		delete(u.conns, c)
		return
	}
	if u.conns == nil {
		u.conns = map[net.Conn]struct{}{}
	}
	u.conns[c] = struct{}{}
}

func (u *unusedConns) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.conns {
		c.Close()
	}
	u.conns = nil
}
