package x402test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// Route is one endpoint of a PaidAPI.
type Route struct {
	// Method is the HTTP method ("GET", "POST"…); empty matches every method.
	Method string
	// Pattern is a net/http ServeMux path pattern, e.g. "/weather/{city}".
	Pattern string
	// Price is what a call costs in the token, exact in TokenDecimals:
	// money.USDC(1000) is 0.001 USDC. Zero: the route is free.
	Price money.Amount
	// Version is the x402 version a paid route speaks: 1 (402 JSON body, X-PAYMENT) or 2
	// (PAYMENT-REQUIRED header, PAYMENT-SIGNATURE). Ignored for a free route.
	Version int
	// Description goes into the payment requirements.
	Description string
	// Handler serves the request once it is paid for. Its response is buffered: a status
	// of 400 or more goes out as it is and nothing is settled.
	Handler http.Handler
	// Bazaar describes a paid route for the facilitator's Bazaar (see
	// PaidAPI.DiscoveryItems). Nil: it is listed with its method and nothing else.
	Bazaar *BazaarInfo
}

// key is the route's ServeMux pattern, the name HandlerRuns and Settlement use.
func (rt Route) key() string {
	if rt.Method == "" {
		return rt.Pattern
	}
	return rt.Method + " " + rt.Pattern
}

func (rt Route) paid() bool { return rt.Price.Sign() > 0 }

// Settlement is a payment the PaidAPI settled.
type Settlement struct {
	Route    string       // the route's pattern, e.g. "GET /weather/{city}"
	Version  int          // x402 version
	Network  string       // as in the requirement: "base-sepolia" (v1) or "eip155:84532" (v2)
	TxHash   string       // the transferWithAuthorization transaction
	Payer    string       // checksummed
	PayTo    string       // checksummed
	Amount   money.Amount // the route's price, in TokenDecimals
	Resource string       // the URL paid for
}

// PaidAPIOptions configures NewPaidAPI.
type PaidAPIOptions struct {
	// FacilitatorURL is the base URL of the facilitator the API verifies and settles
	// with, over HTTP (POST {FacilitatorURL}/verify and /settle). Required.
	FacilitatorURL string
	// ChainID names the network in the requirements: the v1 name (or the CAIP-2 id when
	// the chain has no v1 name) and the v2 CAIP-2 id. Nil: DefaultChainID (84532).
	ChainID *big.Int
	// Asset is the token address. Required.
	Asset string
	// PayTo is the address that receives payments. Required.
	PayTo string
	// MaxTimeoutSeconds goes into every requirement. Zero: 300.
	MaxTimeoutSeconds int64
	// Routes are the endpoints. Nil: WeatherRoutes().
	Routes []Route
	// Spec is an OpenAPI document (YAML) served at GET /openapi.yaml with servers[0].url
	// set to the API's base URL. Nil: WeatherSpec() when Routes is nil, else no spec
	// (GET /openapi.yaml answers 404).
	Spec []byte
	// BaseURL is the API's own URL ("http://127.0.0.1:8402"), used in the spec and in
	// the requirements' resource URL. Empty: "http://" + the request's Host.
	BaseURL string
	// HTTPClient calls the facilitator. Nil: a client with a 30 s timeout.
	HTTPClient *http.Client
	// IgnoreDisconnect makes a paid request verify and settle to the end even when its
	// client goes away meanwhile, as servers that do not watch for disconnects do: the
	// payment settles and nobody hears of it. False: the request's context ends the
	// facilitator calls when the client disconnects.
	IgnoreDisconnect bool
	// Artifacts makes the API sign its offers and receipts (the offer-receipt
	// extension); see SignedArtifacts. Nil: none.
	Artifacts *SignedArtifacts
	// PaymentID makes the version 2 routes advertise the payment-identifier extension
	// and keep their answers by id; see PaymentIDOptions. Nil: not advertised, ids ignored.
	PaymentID *PaymentIDOptions
	// Logger receives a line per payment event. Nil: silent.
	Logger *slog.Logger
}

// PaidAPI is an http.Handler that serves Routes behind x402 payments, the way the
// official middlewares do (the HTTP transports of x402,
// https://github.com/x402-foundation/x402/blob/main/specs/transports-v1/http.md and
// https://github.com/x402-foundation/x402/blob/main/specs/transports-v2/http.md):
// a paid route without payment answers 402 with the requirements; with a payment it
// matches it against its own requirements, verifies it with the facilitator, runs the
// handler into a buffer, settles unless the handler answered 400 or more, and sends the
// settlement header with the response.
// GET /openapi.yaml serves the spec. It counts handler runs and settlements.
type PaidAPI struct {
	opts      PaidAPIOptions
	networkV1 string
	networkV2 string
	payTo     string // checksummed
	asset     string // checksummed
	client    *http.Client
	log       *slog.Logger
	mux       *http.ServeMux

	mu          sync.Mutex
	runs        map[string]int
	settlements []Settlement

	ids paymentIDs
}

// NewPaidAPI checks opts and returns the API.
func NewPaidAPI(opts PaidAPIOptions) (*PaidAPI, error) {
	if opts.FacilitatorURL == "" {
		return nil, fmt.Errorf("new paid api: FacilitatorURL is required")
	}
	payTo, err := parseAddress(opts.PayTo)
	if err != nil {
		return nil, fmt.Errorf("new paid api: PayTo: %w", err)
	}
	asset, err := parseAddress(opts.Asset)
	if err != nil {
		return nil, fmt.Errorf("new paid api: Asset: %w", err)
	}
	chainID := big.NewInt(DefaultChainID)
	if opts.ChainID != nil {
		chainID = new(big.Int).Set(opts.ChainID)
	}
	if opts.MaxTimeoutSeconds == 0 {
		opts.MaxTimeoutSeconds = 300
	}
	if opts.MaxTimeoutSeconds < 0 {
		return nil, fmt.Errorf("new paid api: MaxTimeoutSeconds %d is negative", opts.MaxTimeoutSeconds)
	}
	if opts.Routes == nil {
		opts.Routes = WeatherRoutes()
		if opts.Spec == nil {
			opts.Spec = weatherSpec
		}
	}
	if opts.Spec != nil {
		if _, err := serverURLNode(opts.Spec); err != nil {
			return nil, fmt.Errorf("new paid api: Spec: %w", err)
		}
	}
	opts.FacilitatorURL = strings.TrimRight(opts.FacilitatorURL, "/")
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	a := &PaidAPI{
		opts:      opts,
		networkV2: "eip155:" + chainID.String(),
		payTo:     payTo.Hex(),
		asset:     asset.Hex(),
		client:    opts.HTTPClient,
		log:       orDiscard(opts.Logger),
		mux:       http.NewServeMux(),
		runs:      map[string]int{},
	}
	a.ids.entries = map[string]*keptAnswer{}
	if opts.PaymentID != nil {
		a.ids.drops = opts.PaymentID.DropResponses
	}
	if opts.Artifacts != nil && opts.Artifacts.Key == nil {
		return nil, fmt.Errorf("new paid api: Artifacts.Key is required")
	}
	a.networkV1 = a.networkV2
	if name, ok := x402.V1Name(chainID); ok {
		a.networkV1 = name
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: 30 * time.Second}
	}
	if err := a.register(opts.Routes); err != nil {
		return nil, fmt.Errorf("new paid api: %w", err)
	}
	return a, nil
}

// register checks the routes and serves them, with the spec at GET /openapi.yaml.
func (a *PaidAPI) register(routes []Route) error {
	for _, rt := range routes {
		if rt.Handler == nil {
			return fmt.Errorf("route %q has no handler", rt.key())
		}
		if rt.Price.Sign() < 0 {
			return fmt.Errorf("route %q has a negative price", rt.key())
		}
		units, err := tokenUnits(rt.Price)
		if err != nil {
			return fmt.Errorf("route %q: price: %w", rt.key(), err)
		}
		rt.Price = money.New(units, TokenDecimals) // AtomicString is now the requirement's amount
		if rt.paid() && rt.Version != 1 && rt.Version != 2 {
			return fmt.Errorf("route %q: x402 version %d, want 1 or 2", rt.key(), rt.Version)
		}
		if err := handle(a.mux, rt.key(), a.route(rt)); err != nil {
			return err
		}
	}
	return handle(a.mux, "GET /openapi.yaml", http.HandlerFunc(a.serveSpec))
}

// handle registers h; ServeMux panics on a bad or conflicting pattern, which becomes an
// error here.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("route %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// ServeHTTP implements http.Handler.
func (a *PaidAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// SpecYAML returns the spec with servers[0].url set to BaseURL, or nil without a spec
// or without a BaseURL.
func (a *PaidAPI) SpecYAML() []byte {
	if a.opts.Spec == nil || a.opts.BaseURL == "" {
		return nil
	}
	out, err := rewriteServerURL(a.opts.Spec, a.opts.BaseURL)
	if err != nil {
		return nil // NewPaidAPI checked the spec has the node
	}
	return out
}

// HandlerRuns reports how many times the handler of a route ran, by its pattern as
// ServeMux knows it: "GET /weather/{city}".
func (a *PaidAPI) HandlerRuns(route string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runs[route]
}

// Settlements returns the settled payments, oldest first.
func (a *PaidAPI) Settlements() []Settlement {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.settlements)
}

func (a *PaidAPI) serveSpec(w http.ResponseWriter, r *http.Request) {
	if a.opts.Spec == nil {
		http.NotFound(w, r)
		return
	}
	out, err := rewriteServerURL(a.opts.Spec, a.baseURL(r))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(out)
}

func (a *PaidAPI) baseURL(r *http.Request) string {
	if a.opts.BaseURL != "" {
		return a.opts.BaseURL
	}
	return "http://" + r.Host
}

func (a *PaidAPI) route(rt Route) http.Handler {
	key := rt.key()
	run := func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.runs[key]++
		a.mu.Unlock()
		rt.Handler.ServeHTTP(w, r)
	}
	if !rt.paid() {
		return http.HandlerFunc(run)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Version == 1 {
			a.serveV1(w, r, rt, run)
		} else {
			a.serveV2(w, r, rt, run)
		}
	})
}

func (a *PaidAPI) extra() json.RawMessage {
	b, _ := json.Marshal(x402.EIP712Extra{Name: TokenName, Version: TokenVersion})
	return b
}

// serveV1 is the version 1 flow (https://github.com/x402-foundation/x402/blob/main/specs/transports-v1/http.md).
func (a *PaidAPI) serveV1(w http.ResponseWriter, r *http.Request, rt Route, run http.HandlerFunc) {
	resource := a.baseURL(r) + r.URL.RequestURI()
	req := x402.RequirementV1{
		Scheme:            x402.SchemeExact,
		Network:           a.networkV1,
		MaxAmountRequired: rt.Price.AtomicString(),
		Resource:          resource,
		Description:       rt.Description,
		MimeType:          "application/json",
		OutputSchema:      json.RawMessage("null"),
		PayTo:             a.payTo,
		MaxTimeoutSeconds: a.opts.MaxTimeoutSeconds,
		Asset:             a.asset,
		Extra:             a.extra(),
	}
	var extensions json.RawMessage
	if a.opts.Artifacts != nil || a.opts.PaymentID != nil && a.opts.PaymentID.AdvertiseOnV1 {
		var err error
		if extensions, err = a.extensions(1, resource, rt.Price); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	paymentRequired := func(reason, payer string) {
		writeJSON(w, http.StatusPaymentRequired, x402.PaymentRequiredV1{
			X402Version: 1, Error: reason, Accepts: []x402.RequirementV1{req}, Payer: payer, Extensions: extensions,
		})
	}
	header := r.Header.Get(x402.HeaderXPayment)
	if header == "" {
		paymentRequired("X-PAYMENT header is required", "")
		return
	}
	var payload x402.PaymentPayloadV1
	if err := x402.DecodeHeader(header, &payload); err != nil {
		paymentRequired(err.Error(), "")
		return
	}
	payload.X402Version = 1
	if payload.Scheme != req.Scheme || payload.Network != req.Network {
		paymentRequired("Unable to find matching payment requirements", "")
		return
	}
	payloadJSON, err := json.Marshal(payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	freq := x402.FacilitatorRequest{X402Version: 1, PaymentPayload: payloadJSON, PaymentRequirements: reqJSON}
	a.verifyRunSettle(w, r, rt, run, freq, resource, x402.HeaderXPaymentResponse, func(reason, payer string, _ *x402.SettlementResponse) {
		paymentRequired(reason, payer)
	})
}

// serveV2 is the version 2 flow (https://github.com/x402-foundation/x402/blob/main/specs/transports-v2/http.md).
func (a *PaidAPI) serveV2(w http.ResponseWriter, r *http.Request, rt Route, run http.HandlerFunc) {
	resource := a.baseURL(r) + r.URL.RequestURI()
	req := x402.RequirementV2{
		Scheme:            x402.SchemeExact,
		Network:           a.networkV2,
		Amount:            rt.Price.AtomicString(),
		Asset:             a.asset,
		PayTo:             a.payTo,
		MaxTimeoutSeconds: a.opts.MaxTimeoutSeconds,
		Extra:             a.extra(),
	}
	extensions, err := a.extensions(2, resource, rt.Price)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	paymentRequired := func(w http.ResponseWriter, reason string, settlement *x402.SettlementResponse) {
		a.paymentRequiredV2(w, x402.PaymentRequiredV2{
			X402Version: 2,
			Error:       reason,
			Resource:    &x402.Resource{URL: resource, Description: rt.Description, MimeType: "application/json"},
			Accepts:     []x402.RequirementV2{req},
			Extensions:  extensions,
		}, settlement)
	}
	header := r.Header.Get(x402.HeaderPaymentSignature)
	if header == "" {
		paymentRequired(w, "Payment required", nil)
		return
	}
	raw, payload, err := decodePaymentV2(header)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid payment: " + err.Error()})
		return
	}
	pay := func(w http.ResponseWriter) {
		acc := payload.Accepted
		if acc.Scheme != req.Scheme || acc.Network != req.Network || acc.Amount != req.Amount ||
			acc.Asset != req.Asset || acc.PayTo != req.PayTo || acc.MaxTimeoutSeconds != req.MaxTimeoutSeconds {
			paymentRequired(w, "No matching payment requirements", nil)
			return
		}
		reqJSON, err := json.Marshal(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// Verify against the server's own requirement, forwarding the payload as received.
		freq := x402.FacilitatorRequest{X402Version: 2, PaymentPayload: raw, PaymentRequirements: reqJSON}
		a.verifyRunSettle(w, r, rt, run, freq, resource, x402.HeaderPaymentResponse, func(reason, _ string, sr *x402.SettlementResponse) {
			paymentRequired(w, reason, sr)
		})
	}
	if !a.withPaymentID(w, rt, raw, payload.Extensions, pay) {
		pay(w)
	}
}

// extensions is the extensions object of a 402 for resource at price: the
// payment-identifier extension (version 2 only) and the signed offer, as configured.
func (a *PaidAPI) extensions(version int, resource string, price money.Amount) (json.RawMessage, error) {
	exts := map[string]json.RawMessage{}
	if a.opts.PaymentID != nil && (version == 2 || a.opts.PaymentID.AdvertiseOnV1) {
		exts[x402.ExtensionPaymentIdentifier] = a.opts.PaymentID.extension()
	}
	if a.opts.Artifacts != nil {
		offer := x402.OfferPayload{Scheme: x402.SchemeExact, Network: a.networkV2, Asset: a.asset, PayTo: a.payTo, Amount: price.AtomicString()}
		ext, err := a.opts.Artifacts.offerExtension(resource, []x402.OfferPayload{offer})
		if err != nil {
			return nil, err
		}
		exts[x402.ExtensionOfferReceipt] = ext
	}
	return json.Marshal(exts)
}

// paymentRequiredV2 answers 402 with pr in the PAYMENT-REQUIRED header and, when a
// settlement failed, its response in PAYMENT-RESPONSE.
func (a *PaidAPI) paymentRequiredV2(w http.ResponseWriter, pr x402.PaymentRequiredV2, settlement *x402.SettlementResponse) {
	value, err := x402.EncodeHeader(pr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set(x402.HeaderPaymentRequired, value)
	expose := x402.HeaderPaymentRequired
	if settlement != nil {
		sh, err := x402.EncodeHeader(settlement)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set(x402.HeaderPaymentResponse, sh)
		expose += ", " + x402.HeaderPaymentResponse
	}
	w.Header().Set("Access-Control-Expose-Headers", expose)
	writeJSON(w, http.StatusPaymentRequired, struct{}{})
}

// decodePaymentV2 decodes a PAYMENT-SIGNATURE header: the payload as received (forwarded
// to the facilitator byte for byte) and decoded.
func decodePaymentV2(header string) (json.RawMessage, x402.PaymentPayloadV2, error) {
	var raw json.RawMessage
	var payload x402.PaymentPayloadV2
	if err := x402.DecodeHeader(header, &raw); err != nil {
		return nil, payload, err
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		return nil, payload, err
	}
	if payload.X402Version != 2 {
		return nil, payload, fmt.Errorf("x402Version %d, want 2", payload.X402Version)
	}
	return raw, payload, nil
}

// verifyRunSettle is the part of a paid request both versions share: verify with the
// facilitator, run the handler into a buffer, send a 4xx/5xx as is with nothing settled,
// else settle and, on success, send the buffered response with the settlement header.
// fail answers 402 in the version's form; sr is set when a settlement failed.
func (a *PaidAPI) verifyRunSettle(w http.ResponseWriter, r *http.Request, rt Route, run http.HandlerFunc,
	freq x402.FacilitatorRequest, resource, settlementHeader string, fail func(reason, payer string, sr *x402.SettlementResponse)) {
	version := freq.X402Version
	ctx := r.Context()
	if a.opts.IgnoreDisconnect {
		ctx = context.WithoutCancel(ctx)
	}
	var vr x402.VerifyResponse
	if err := a.callFacilitator(ctx, "/verify", freq, &vr); err != nil {
		a.facilitatorError(w, err)
		return
	}
	if !vr.IsValid {
		a.log.Info("x402test api: payment invalid", "route", rt.key(), "version", version, "payer", vr.Payer, "reason", vr.InvalidReason)
		fail(vr.InvalidReason, vr.Payer, nil)
		return
	}
	buf := newBufferedResponse()
	run(buf, r)
	if buf.status >= 400 {
		a.log.Info("x402test api: handler failed, not settled", "route", rt.key(), "status", buf.status)
		buf.flush(w)
		return
	}
	var sr x402.SettlementResponse
	if err := a.callFacilitator(ctx, "/settle", freq, &sr); err != nil {
		a.facilitatorError(w, err)
		return
	}
	if !sr.Success {
		a.log.Info("x402test api: settlement failed", "route", rt.key(), "version", version, "payer", sr.Payer, "reason", sr.ErrorReason)
		fail(sr.ErrorReason, sr.Payer, &sr)
		return
	}
	if err := a.settled(buf.Header(), settlementHeader, sr, rt, version, resource); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	buf.flush(w)
}

// settled records a settlement and sets the settlement header on h, with a signed
// receipt when the API signs them.
func (a *PaidAPI) settled(h http.Header, name string, sr x402.SettlementResponse, rt Route, version int, resource string) error {
	if art := a.opts.Artifacts; art != nil && !art.NoReceipts {
		ext, err := art.receiptExtension(a.networkV2, resource, sr.Payer, sr.Transaction)
		if err != nil {
			return err
		}
		sr.Extensions = ext
	}
	value, err := x402.EncodeHeader(sr)
	if err != nil {
		return err
	}
	h.Set(name, value)
	h.Set("Access-Control-Expose-Headers", name)
	payer := sr.Payer
	if common.IsHexAddress(payer) {
		payer = common.HexToAddress(payer).Hex()
	}
	s := Settlement{
		Route: rt.key(), Version: version, Network: sr.Network, TxHash: sr.Transaction,
		Payer: payer, PayTo: a.payTo, Amount: rt.Price, Resource: resource,
	}
	a.mu.Lock()
	a.settlements = append(a.settlements, s)
	a.mu.Unlock()
	a.log.Info("x402test api: settled", "route", s.Route, "version", version, "payer", s.Payer, "amount", s.Amount, "tx", s.TxHash)
	return nil
}

// facilitatorError answers when the facilitator cannot be reached or answers nonsense:
// 502, nothing paid.
func (a *PaidAPI) facilitatorError(w http.ResponseWriter, err error) {
	a.log.Warn("x402test api: facilitator error", "err", err)
	writeJSON(w, http.StatusBadGateway, map[string]string{"error": "facilitator: " + err.Error()})
}

// callFacilitator POSTs req to the facilitator and decodes the answer into out. A
// failure body (isValid/success false) is decoded on any status, as the x402 SDK clients
// do (facilitators differ in the status of a failure); a non-200 answer without one is an error.
func (a *PaidAPI) callFacilitator(ctx context.Context, path string, req x402.FacilitatorRequest, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, a.opts.FacilitatorURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var probe struct {
		IsValid     *bool  `json:"isValid"`
		Success     *bool  `json:"success"`
		Invalid     string `json:"invalidReason"`
		ErrorReason string `json:"errorReason"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return fmt.Errorf("%s: HTTP %d: %.200s", path, resp.StatusCode, data)
	}
	if resp.StatusCode != http.StatusOK && probe.Invalid == "" && probe.ErrorReason == "" {
		return fmt.Errorf("%s: HTTP %d: %.200s", path, resp.StatusCode, data)
	}
	if probe.IsValid == nil && probe.Success == nil {
		return fmt.Errorf("%s: answer has neither isValid nor success: %.200s", path, data)
	}
	return json.Unmarshal(data, out)
}

// bufferedResponse holds a handler's response until the payment is settled.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse {
	return &bufferedResponse{header: http.Header{}}
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) flush(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	w.Write(b.body.Bytes())
}
