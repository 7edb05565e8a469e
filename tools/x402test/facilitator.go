package x402test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/tollhq/toll/tools/x402"
)

// Error codes shared by both versions, as the reference facilitator reports them
// (https://github.com/x402-foundation/x402/blob/main/go/mechanisms/evm/exact/facilitator/errors.go and
// https://github.com/x402-foundation/x402/blob/main/go/mechanisms/evm/exact/v1/facilitator/errors.go).
const (
	codeInvalidVersion      = "invalid_x402_version"
	codeInvalidNetwork      = "invalid_network"
	codeInvalidRequirements = "invalid_payment_requirements"
	codeNetworkMismatch     = "invalid_exact_evm_network_mismatch"
	codePayload             = "invalid_exact_evm_payload"
	codeMissingSignature    = "invalid_exact_evm_payload_missing_signature"
	codeNetworkConfig       = "invalid_exact_evm_failed_to_get_network_config"
	codeValidBefore         = "invalid_exact_evm_payload_authorization_valid_before"
	codeValidAfter          = "invalid_exact_evm_payload_authorization_valid_after"
	codeMissingDomain       = "invalid_exact_evm_missing_eip712_domain"
	codeTokenName           = "invalid_exact_evm_token_name_mismatch"
	codeTokenVersion        = "invalid_exact_evm_token_version_mismatch"
	codeNonceUsed           = "invalid_exact_evm_nonce_already_used"
	codeSimulationFailed    = "invalid_exact_evm_transaction_simulation_failed"
	codeFailedToExecute     = "invalid_exact_evm_failed_to_execute_transfer"
	codeUnexpectedSettle    = "unexpected_settle_error"
)

// codeSet holds the error codes that differ between x402 versions.
type codeSet struct {
	scheme, recipient, value, signature, balance, txFailed string
}

var (
	codesV1 = codeSet{
		scheme:    "invalid_exact_evm_unsupported_scheme",
		recipient: "invalid_exact_evm_payload_recipient_mismatch",
		value:     "invalid_exact_evm_payload_authorization_value",
		signature: "invalid_exact_evm_payload_signature",
		balance:   "insufficient_funds",
		txFailed:  "invalid_exact_evm_transaction_state",
	}
	codesV2 = codeSet{
		scheme:    "invalid_exact_evm_scheme",
		recipient: "invalid_exact_evm_recipient_mismatch",
		value:     "invalid_exact_evm_payload_authorization_value_mismatch",
		signature: "invalid_exact_evm_signature",
		balance:   "invalid_exact_evm_insufficient_balance",
		txFailed:  "invalid_exact_evm_transaction_failed",
	}
)

// validBeforeMargin is how long an authorization must still be valid at verify time:
// about three blocks, as the reference facilitator requires
// (https://github.com/x402-foundation/x402/blob/main/go/mechanisms/evm/exact/facilitator/eip3009.go).
const validBeforeMargin = 6

// maxFacilitatorBody bounds a /verify or /settle request body.
const maxFacilitatorBody = 1 << 20

// Facilitator verifies and settles exact EVM (EIP-3009) payments, x402 versions 1 and 2,
// on a Chain. It is an http.Handler serving POST /verify, POST /settle and GET /supported
// (https://github.com/x402-foundation/x402/blob/main/specs/x402-specification-v2.md).
// Failed checks answer 200 with isValid:false (or success:false) and the x402 error code;
// a body that cannot be decoded answers 400.
//
// Verify makes the checks of the exact scheme itself, with go-ethereum: scheme, network,
// asset, recipient, exact value, time window, EIP-712 domain, signature recovery, nonce
// state and balance, then an eth_call of transferWithAuthorization. Time is "now" as the
// settlement block will see it: the wall clock, or one second past the latest block when
// the chain has run ahead of the wall clock (see ChainOptions.MaxClockSkew).
//
// Settle re-verifies, sends transferWithAuthorization from the chain's facilitator
// account, commits a block and checks the receipt.
type Facilitator struct {
	// Bazaar is the facilitator's discovery API, GET /discovery/resources and GET
	// /discovery/search; World lists its paid API there.
	Bazaar *Bazaar

	chain *Chain
	log   *slog.Logger
	mux   *http.ServeMux
}

// NewFacilitator returns a facilitator for chain. A nil logger is silent.
func NewFacilitator(chain *Chain, logger *slog.Logger) *Facilitator {
	f := &Facilitator{Bazaar: &Bazaar{}, chain: chain, log: orDiscard(logger), mux: http.NewServeMux()}
	f.mux.HandleFunc("POST /verify", f.serveVerify)
	f.mux.HandleFunc("POST /settle", f.serveSettle)
	f.mux.HandleFunc("GET /supported", f.serveSupported)
	f.mux.Handle("GET /discovery/", f.Bazaar)
	return f
}

// ServeHTTP implements http.Handler.
func (f *Facilitator) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Supported is the GET /supported answer: exact on this chain, as a v1 network name and
// as a v2 CAIP-2 id, the bazaar extension, and the facilitator's signer address.
func (f *Facilitator) Supported() x402.SupportedResponse {
	return x402.SupportedResponse{
		Kinds: []x402.SupportedKind{
			{X402Version: 1, Scheme: x402.SchemeExact, Network: f.chain.NetworkV1()},
			{X402Version: 2, Scheme: x402.SchemeExact, Network: f.chain.NetworkV2()},
		},
		Extensions: []string{"bazaar"},
		Signers:    map[string][]string{"eip155:*": {f.chain.FacilitatorAddress()}},
	}
}

// payment is a decoded /verify or /settle request, both versions in one shape.
type payment struct {
	version int
	codes   codeSet

	payloadScheme, payloadNetwork string
	payload                       x402.ExactEVMPayload

	// The server's requirement.
	scheme, network, amount, payTo, asset string
	extra                                 json.RawMessage
}

// decodeRequest decodes a facilitator request body. Only undecodable JSON is an error
// (wrapping ErrBadRequest); an unsupported version is reported by check.
func decodeRequest(req x402.FacilitatorRequest) (payment, error) {
	if len(req.PaymentPayload) == 0 || len(req.PaymentRequirements) == 0 {
		return payment{}, fmt.Errorf("%w: paymentPayload and paymentRequirements are required", ErrBadRequest)
	}
	var head struct {
		X402Version int `json:"x402Version"`
	}
	if err := json.Unmarshal(req.PaymentPayload, &head); err != nil {
		return payment{}, fmt.Errorf("%w: paymentPayload: %v", ErrBadRequest, err)
	}
	p := payment{version: head.X402Version}
	if req.X402Version != head.X402Version {
		p.version = 0 // check reports invalid_x402_version
	}
	switch p.version {
	case 1:
		var pl x402.PaymentPayloadV1
		if err := json.Unmarshal(req.PaymentPayload, &pl); err != nil {
			return payment{}, fmt.Errorf("%w: paymentPayload: %v", ErrBadRequest, err)
		}
		var rq x402.RequirementV1
		if err := json.Unmarshal(req.PaymentRequirements, &rq); err != nil {
			return payment{}, fmt.Errorf("%w: paymentRequirements: %v", ErrBadRequest, err)
		}
		p.codes = codesV1
		p.payloadScheme, p.payloadNetwork, p.payload = pl.Scheme, pl.Network, pl.Payload
		p.scheme, p.network, p.amount, p.payTo, p.asset, p.extra = rq.Scheme, rq.Network, rq.MaxAmountRequired, rq.PayTo, rq.Asset, rq.Extra
	case 2:
		var pl x402.PaymentPayloadV2
		if err := json.Unmarshal(req.PaymentPayload, &pl); err != nil {
			return payment{}, fmt.Errorf("%w: paymentPayload: %v", ErrBadRequest, err)
		}
		var rq x402.RequirementV2
		if err := json.Unmarshal(req.PaymentRequirements, &rq); err != nil {
			return payment{}, fmt.Errorf("%w: paymentRequirements: %v", ErrBadRequest, err)
		}
		p.codes = codesV2
		p.payloadScheme, p.payloadNetwork, p.payload = pl.Accepted.Scheme, pl.Accepted.Network, pl.Payload
		p.scheme, p.network, p.amount, p.payTo, p.asset, p.extra = rq.Scheme, rq.Network, rq.Amount, rq.PayTo, rq.Asset, rq.Extra
	default:
		p.codes = codesV2
	}
	return p, nil
}

// invalid is a failed check: an x402 error code and a message for people.
type invalid struct {
	code, msg string
}

// check runs the verify checks of the exact scheme on EVM
// (https://github.com/x402-foundation/x402/blob/main/specs/schemes/exact/scheme_exact_evm.md,
// "Verification Logic"), in the order the reference facilitator makes them, and returns
// the payer (when the payload names one) and the first failed check.
func (f *Facilitator) check(ctx context.Context, p payment) (payer string, bad *invalid) {
	if addressRE.MatchString(p.payload.Authorization.From) {
		payer = common.HexToAddress(p.payload.Authorization.From).Hex()
	}
	chainID, bad := f.checkTerms(p)
	if bad != nil {
		return payer, bad
	}
	auth, bad := f.checkAuthorization(ctx, p)
	if bad != nil {
		return payer, bad
	}
	if bad := f.checkSignature(p, auth, chainID); bad != nil {
		return payer, bad
	}
	return payer, f.checkChainState(ctx, p, auth)
}

// invalidf is a failed check.
func invalidf(code, format string, args ...any) *invalid {
	return &invalid{code: code, msg: fmt.Sprintf(format, args...)}
}

// checkTerms checks that the payment answers the requirement it names: version, scheme,
// network, a signature present, this chain and token, and the recipient. It returns the
// network's chain id.
func (f *Facilitator) checkTerms(p payment) (*big.Int, *invalid) {
	if p.version != 1 && p.version != 2 {
		return nil, invalidf(codeInvalidVersion, "x402Version must be 1 or 2 and the same in the request and its paymentPayload")
	}
	if p.payloadScheme != x402.SchemeExact || p.scheme != x402.SchemeExact {
		return nil, invalidf(p.codes.scheme, "scheme %q (payment) / %q (requirements), want %q", p.payloadScheme, p.scheme, x402.SchemeExact)
	}
	if p.payloadNetwork != p.network {
		return nil, invalidf(codeNetworkMismatch, "payment network %q, requirements network %q", p.payloadNetwork, p.network)
	}
	if p.payload.Signature == "" {
		return nil, invalidf(codeMissingSignature, "payload has no signature")
	}
	chainID, err := x402.ChainID(p.network)
	if err != nil {
		return nil, invalidf(codeNetworkConfig, "%v", err)
	}
	if chainID.Cmp(f.chain.chainID) != 0 {
		return nil, invalidf(codeInvalidNetwork, "network %q is chain %s; this facilitator settles on chain %s", p.network, chainID, f.chain.chainID)
	}
	if !strings.EqualFold(p.asset, f.chain.TokenAddress()) {
		return nil, invalidf(codeInvalidRequirements, "asset %q is not the token %s", p.asset, f.chain.TokenAddress())
	}
	if !strings.EqualFold(p.payload.Authorization.To, p.payTo) {
		return nil, invalidf(p.codes.recipient, "authorization.to %q is not payTo %q", p.payload.Authorization.To, p.payTo)
	}
	return chainID, nil
}

// checkAuthorization parses the authorization and checks its value (exactly the amount)
// and its time window, against the time the settlement block will carry.
func (f *Facilitator) checkAuthorization(ctx context.Context, p payment) (authorization, *invalid) {
	auth, err := parseAuthorization(p.payload.Authorization)
	if err != nil {
		return auth, invalidf(codePayload, "authorization %v", err)
	}
	amount, err := parseUint256(p.amount)
	if err != nil {
		return auth, invalidf(codeInvalidRequirements, "amount: %v", err)
	}
	if auth.value.Cmp(amount) != 0 {
		return auth, invalidf(p.codes.value, "authorization value %s, required amount %s", auth.value, amount)
	}
	now, err := f.now(ctx)
	if err != nil {
		return auth, invalidf(codeSimulationFailed, "read the chain: %v", err)
	}
	if auth.validBefore.Cmp(big.NewInt(now+validBeforeMargin)) < 0 {
		return auth, invalidf(codeValidBefore, "validBefore %s is before now (%d) + %d s", auth.validBefore, now, validBeforeMargin)
	}
	if auth.validAfter.Cmp(big.NewInt(now)) > 0 {
		return auth, invalidf(codeValidAfter, "validAfter %s is after now (%d)", auth.validAfter, now)
	}
	return auth, nil
}

// checkSignature checks the EIP-712 domain the requirement names against the token's,
// and that the signature recovers to the authorization's from.
func (f *Facilitator) checkSignature(p payment, auth authorization, chainID *big.Int) *invalid {
	var extra x402.EIP712Extra
	if len(p.extra) > 0 {
		if err := json.Unmarshal(p.extra, &extra); err != nil {
			return invalidf(codeMissingDomain, "extra: %v", err)
		}
	}
	if extra.Name == "" || extra.Version == "" {
		return invalidf(codeMissingDomain, "extra.name and extra.version are required")
	}
	if extra.Name != TokenName {
		return invalidf(codeTokenName, "extra.name %q, the token's EIP-712 name is %q", extra.Name, TokenName)
	}
	if extra.Version != TokenVersion {
		return invalidf(codeTokenVersion, "extra.version %q, the token's EIP-712 version is %q", extra.Version, TokenVersion)
	}
	sig, err := parseSignature(p.payload.Signature)
	if err != nil {
		return invalidf(p.codes.signature, "%v", err)
	}
	digest := auth.digest(domainSeparator(extra.Name, extra.Version, chainID, f.chain.address))
	signer, err := recoverSigner(digest, sig)
	if err != nil {
		return invalidf(p.codes.signature, "%v", err)
	}
	if signer != auth.from {
		return invalidf(p.codes.signature, "signature recovers to %s, not from %s", signer.Hex(), auth.from.Hex())
	}
	return nil
}

// checkChainState checks the nonce state and the payer's balance, then the token's own
// view of the whole transfer (an eth_call of transferWithAuthorization).
func (f *Facilitator) checkChainState(ctx context.Context, p payment, auth authorization) *invalid {
	used, err := f.chain.AuthorizationState(ctx, auth.from.Hex(), p.payload.Authorization.Nonce)
	if err != nil {
		return invalidf(codeSimulationFailed, "%v", err)
	}
	if used {
		return invalidf(codeNonceUsed, "nonce %s of %s is used or canceled", p.payload.Authorization.Nonce, auth.from.Hex())
	}
	balance, err := f.chain.balanceOf(ctx, auth.from.Hex())
	if err != nil {
		return invalidf(codeSimulationFailed, "%v", err)
	}
	if balance.Cmp(auth.value) < 0 {
		return invalidf(p.codes.balance, "balance %s is below value %s", balance, auth.value)
	}
	if err := f.chain.SimulateTransferWithAuthorization(ctx, p.payload.Authorization, p.payload.Signature); err != nil {
		var rev *RevertError
		if errors.As(err, &rev) {
			code := revertCode(rev.Reason, p.codes)
			if code == codeFailedToExecute {
				code = codeSimulationFailed
			}
			return invalidf(code, "%v", err)
		}
		return invalidf(codeSimulationFailed, "%v", err)
	}
	return nil
}

// now is the Unix time the next block will carry, as far as it can be known: the wall
// clock, or one second past the latest block if the chain is ahead.
func (f *Facilitator) now(ctx context.Context) (int64, error) {
	bt, err := f.chain.BlockTime(ctx)
	if err != nil {
		return 0, err
	}
	return max(time.Now().Unix(), bt.Unix()+1), nil
}

// Verify checks a payment against its requirements (POST /verify). The error is non-nil
// only for a request that cannot be decoded (wrapping ErrBadRequest).
func (f *Facilitator) Verify(ctx context.Context, req x402.FacilitatorRequest) (x402.VerifyResponse, error) {
	p, err := decodeRequest(req)
	if err != nil {
		return x402.VerifyResponse{}, err
	}
	payer, bad := f.check(ctx, p)
	if bad != nil {
		f.log.Info("x402test verify: invalid", "version", p.version, "payer", payer, "reason", bad.code, "detail", bad.msg)
		return x402.VerifyResponse{IsValid: false, InvalidReason: bad.code, InvalidMessage: bad.msg, Payer: payer}, nil
	}
	f.log.Debug("x402test verify: valid", "version", p.version, "payer", payer, "amount", p.amount, "payTo", p.payTo)
	return x402.VerifyResponse{IsValid: true, Payer: payer}, nil
}

// Settle re-verifies a payment and, when valid, executes it on chain (POST /settle). The
// error is non-nil only for a request that cannot be decoded (wrapping ErrBadRequest).
func (f *Facilitator) Settle(ctx context.Context, req x402.FacilitatorRequest) (x402.SettlementResponse, error) {
	p, err := decodeRequest(req)
	if err != nil {
		return x402.SettlementResponse{}, err
	}
	failed := func(payer, code, msg, tx string) (x402.SettlementResponse, error) {
		f.log.Info("x402test settle: failed", "version", p.version, "payer", payer, "reason", code, "detail", msg, "tx", tx)
		return x402.SettlementResponse{Success: false, ErrorReason: code, ErrorMessage: msg, Transaction: tx, Network: p.network, Payer: payer}, nil
	}
	payer, bad := f.check(ctx, p)
	if bad != nil {
		return failed(payer, bad.code, bad.msg, "")
	}
	rcpt, err := f.chain.TransferWithAuthorization(ctx, p.payload.Authorization, p.payload.Signature)
	var rev *RevertError
	switch {
	case errors.As(err, &rev):
		return failed(payer, revertCode(rev.Reason, p.codes), err.Error(), "")
	case errors.Is(err, ErrTxFailed):
		return failed(payer, p.codes.txFailed, err.Error(), rcpt.TxHash)
	case err != nil:
		return failed(payer, codeUnexpectedSettle, err.Error(), "")
	}
	f.log.Info("x402test settle: success", "version", p.version, "payer", payer, "amount", p.amount, "payTo", p.payTo,
		"nonce", p.payload.Authorization.Nonce, "tx", rcpt.TxHash, "block", rcpt.BlockNumber)
	return x402.SettlementResponse{Success: true, Transaction: rcpt.TxHash, Network: p.network, Payer: payer}, nil
}

func (f *Facilitator) serveVerify(w http.ResponseWriter, r *http.Request) {
	req, ok := readFacilitatorRequest(w, r)
	if !ok {
		return
	}
	resp, err := f.Verify(r.Context(), req)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (f *Facilitator) serveSettle(w http.ResponseWriter, r *http.Request) {
	req, ok := readFacilitatorRequest(w, r)
	if !ok {
		return
	}
	resp, err := f.Settle(r.Context(), req)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (f *Facilitator) serveSupported(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, f.Supported())
}

// readFacilitatorRequest decodes a request body, answering 400 itself when it cannot.
func readFacilitatorRequest(w http.ResponseWriter, r *http.Request) (x402.FacilitatorRequest, bool) {
	var req x402.FacilitatorRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFacilitatorBody))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("%v: %v", ErrBadRequest, err)})
		return req, false
	}
	return req, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
