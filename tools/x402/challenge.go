package x402

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/tollhq/toll/tools/money"
)

// ErrNotX402 reports a 402 response that carries no x402 payment requirements.
var ErrNotX402 = errors.New("402 response carries no x402 payment requirements")

// MaxBodyLen bounds a version 1 402 body that ParseChallenge accepts.
const MaxBodyLen = 1 << 20

// MaxAccepts bounds how many requirements one 402 may list.
const MaxAccepts = 64

// Challenge is a parsed 402 Payment Required response, version 1 or 2, with its
// requirements in a version-independent form.
type Challenge struct {
	Version  int
	Error    string    // the server's reason text (untrusted)
	Resource *Resource // version 2 only
	Options  []Option  // one per accepts entry, in the server's order

	v1 *PaymentRequiredV1
	v2 *PaymentRequiredV2
}

// Option is one payment requirement as a client weighs it.
type Option struct {
	Index   int // position in the server's accepts list
	Scheme  string
	Network string
	Asset   string
	PayTo   string
	// Amount is the requirement's amount (v2 amount, v1 maxAmountRequired), read in
	// USDC's decimals: every token toll pays is a 6-decimal stablecoin. Zero when Problem
	// is set.
	Amount            money.Amount
	MaxTimeoutSeconds int64
	Domain            EIP712Extra // the token's EIP-712 name and version from extra
	// Problem says why the entry cannot be paid as it stands (bad amount, missing extra...);
	// empty when it is well formed. A chooser skips entries with a problem.
	Problem string
}

// ParseChallenge reads the payment requirements of a 402 response: a PAYMENT-REQUIRED
// header means version 2; otherwise a JSON body with x402Version 1 means version 1;
// otherwise ErrNotX402. body may be nil for version 2.
func ParseChallenge(h http.Header, body []byte) (*Challenge, error) {
	if s := h.Get(HeaderPaymentRequired); s != "" {
		var pr PaymentRequiredV2
		if err := DecodeHeader(s, &pr); err != nil {
			return nil, fmt.Errorf("parse %s: %w", HeaderPaymentRequired, err)
		}
		if pr.X402Version != 2 {
			return nil, fmt.Errorf("parse %s: x402Version %d, want 2", HeaderPaymentRequired, pr.X402Version)
		}
		return challengeV2(&pr)
	}
	if len(body) == 0 {
		return nil, ErrNotX402
	}
	if len(body) > MaxBodyLen {
		return nil, fmt.Errorf("parse 402 body: %d bytes, over the %d byte limit", len(body), MaxBodyLen)
	}
	var probe struct {
		X402Version int `json:"x402Version"`
	}
	if err := json.Unmarshal(body, &probe); err != nil || probe.X402Version == 0 {
		return nil, ErrNotX402
	}
	if probe.X402Version != 1 {
		return nil, fmt.Errorf("parse 402 body: x402Version %d in the body, want 1 (version 2 uses the %s header)", probe.X402Version, HeaderPaymentRequired)
	}
	var pr PaymentRequiredV1
	if err := json.Unmarshal(body, &pr); err != nil {
		return nil, fmt.Errorf("parse 402 body: %w", err)
	}
	return challengeV1(&pr)
}

// challengeV1 is the Challenge of a version 1 PaymentRequired.
func challengeV1(pr *PaymentRequiredV1) (*Challenge, error) {
	if err := checkAccepts(len(pr.Accepts)); err != nil {
		return nil, err
	}
	c := &Challenge{Version: 1, Error: pr.Error, v1: pr}
	for i, r := range pr.Accepts {
		c.Options = append(c.Options, newOption(i, r.Scheme, r.Network, r.Asset, r.PayTo, r.MaxAmountRequired, r.MaxTimeoutSeconds, r.Extra))
	}
	return c, nil
}

// challengeV2 is the Challenge of a version 2 PaymentRequired.
func challengeV2(pr *PaymentRequiredV2) (*Challenge, error) {
	if err := checkAccepts(len(pr.Accepts)); err != nil {
		return nil, err
	}
	c := &Challenge{Version: 2, Error: pr.Error, Resource: pr.Resource, v2: pr}
	for i, r := range pr.Accepts {
		c.Options = append(c.Options, newOption(i, r.Scheme, r.Network, r.Asset, r.PayTo, r.Amount, r.MaxTimeoutSeconds, r.Extra))
	}
	return c, nil
}

func checkAccepts(n int) error {
	if n == 0 {
		return fmt.Errorf("parse 402: the accepts list is empty")
	}
	if n > MaxAccepts {
		return fmt.Errorf("parse 402: %d requirements, over the limit of %d", n, MaxAccepts)
	}
	return nil
}

func newOption(i int, scheme, network, asset, payTo, amount string, timeout int64, extra json.RawMessage) Option {
	o := Option{Index: i, Scheme: scheme, Network: network, Asset: asset, PayTo: payTo, MaxTimeoutSeconds: timeout}
	v, err := money.ParseAtomic(amount, money.USDCDecimals)
	if err != nil {
		o.Problem = err.Error()
		return o
	}
	o.Amount = v
	if len(extra) > 0 && string(extra) != "null" {
		if err := json.Unmarshal(extra, &o.Domain); err != nil {
			o.Problem = "extra is not an EIP-712 name/version object"
			return o
		}
	}
	switch {
	case o.Domain.Name == "" || o.Domain.Version == "":
		o.Problem = "extra lacks the token's EIP-712 name and version"
	case timeout <= 0:
		o.Problem = "maxTimeoutSeconds is not positive"
	}
	return o
}

// PaymentHeader returns the header name and value that pay option i of c with payload p:
// X-PAYMENT for version 1, PAYMENT-SIGNATURE for version 2. A version 2 payment echoes the
// chosen requirement exactly as received, and the resource and extensions of the 402.
func (c *Challenge) PaymentHeader(i int, p ExactEVMPayload) (name, value string, err error) {
	if i < 0 || i >= len(c.Options) {
		return "", "", fmt.Errorf("payment header: no requirement %d", i)
	}
	switch c.Version {
	case 1:
		r := c.v1.Accepts[i]
		value, err = EncodeHeader(PaymentPayloadV1{X402Version: 1, Scheme: r.Scheme, Network: r.Network, Payload: p})
		return HeaderXPayment, value, err
	case 2:
		value, err = EncodeHeader(c.payloadV2(i, p, ""))
		return HeaderPaymentSignature, value, err
	}
	return "", "", fmt.Errorf("payment header: unsupported x402 version %d", c.Version)
}

// ParseSettlement reads the settlement header of a paid response: PAYMENT-RESPONSE first,
// then X-PAYMENT-RESPONSE. It returns nil, nil when neither is present.
func ParseSettlement(h http.Header) (*SettlementResponse, error) {
	for _, name := range []string{HeaderPaymentResponse, HeaderXPaymentResponse} {
		s := h.Get(name)
		if s == "" {
			continue
		}
		var sr SettlementResponse
		if err := DecodeHeader(s, &sr); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		return &sr, nil
	}
	return nil, nil
}
