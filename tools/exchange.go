package tools

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tollhq/toll/tools/x402"
)

// exchanger sends one call to the server that sells it, unpaid or with a payment: the
// HTTP request of a catalog operation (httpExchange), or a tools/call to an upstream MCP
// server (mcpExchange). The paid path (pay.go) is written against it, so that the same
// policy, caps, approval, ledger records and refusals apply whatever the transport.
type exchanger interface {
	// url is where the call goes, as logged and recorded in the ledger.
	url() string
	// method is the request's method as the ledger records it: the HTTP method, or
	// "tools/call".
	method() string
	// describe names the call for messages: "GET https://...", "tools/call NAME (mcp://...)".
	describe() string
	// carrier encodes payload for requirement i of ch as the transport carries it (a
	// header, a _meta entry), with the payment identifier id when it is not "". An error
	// means nothing was sent.
	carrier(ch *x402.Challenge, i int, payload x402.ExactEVMPayload, id string) (key string, value any, err error)
	// send sends the call once: unpaid when key is "", else with the payment carrier
	// made. An error means no answer was read; a sent payment is then not proven settled.
	send(ctx context.Context, key string, value any) (*answer, error)
}

// answer is what a paid server answered, read as x402 reads it.
type answer struct {
	// result is the answer as a call returns it when no payment is asked.
	result *Result
	// code names the answer in messages: the HTTP status ("402", "200"), or the kind of
	// MCP result ("payment required", "a tool result", "a tool error").
	code string
	// status is the HTTP status of the answer; 0 for an MCP answer.
	status int
	// failed says the answer is an error: an HTTP status of 400 or more, an MCP tool
	// error; detail, for an MCP tool error, is its text.
	failed bool
	detail string
	// required says the server asks for a payment (a 402; an MCP PaymentRequired);
	// challenge holds its terms, or challengeErr says why they cannot be read.
	required     bool
	challenge    *x402.Challenge
	challengeErr error
	// settlement is the server's settlement response, nil when it sent none;
	// settlementErr says why one it sent cannot be read.
	settlement    *x402.SettlementResponse
	settlementErr error
}

// httpExchange is a catalog operation's HTTP request, sent by its Client.
type httpExchange struct {
	c   *Client
	req *request
}

func (h httpExchange) url() string      { return h.req.url }
func (h httpExchange) describe() string { return h.req.method + " " + h.req.url }
func (h httpExchange) method() string   { return h.req.method }

func (h httpExchange) carrier(ch *x402.Challenge, i int, payload x402.ExactEVMPayload, id string) (string, any, error) {
	var name, value string
	var err error
	if id == "" {
		name, value, err = ch.PaymentHeader(i, payload)
	} else {
		name, value, err = ch.PaymentHeaderWithID(i, payload, id)
	}
	if err != nil {
		return "", nil, fmt.Errorf("build payment header: %w", err)
	}
	return name, value, nil
}

func (h httpExchange) send(ctx context.Context, key string, value any) (*answer, error) {
	var extra http.Header
	if key != "" {
		extra = http.Header{key: {fmt.Sprint(value)}}
	}
	resp, body, truncated, err := h.c.send(ctx, h.req, extra)
	if err != nil {
		return nil, err
	}
	a := &answer{
		result: &Result{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body, Truncated: truncated},
		code:   strconv.Itoa(resp.StatusCode),
		status: resp.StatusCode,
		failed: resp.StatusCode >= 400,
	}
	a.settlement, a.settlementErr = x402.ParseSettlement(resp.Header)
	if resp.StatusCode == http.StatusPaymentRequired {
		a.required = true
		a.challenge, a.challengeErr = x402.ParseChallenge(resp.Header, body)
	}
	return a, nil
}

// otherPayer is the payer a settlement response names when it is not payer: a server's
// proof of another payment proves nothing of this one. "" when it names payer, or none.
func otherPayer(s *x402.SettlementResponse, payer string) string {
	if s == nil || s.Payer == "" || strings.EqualFold(s.Payer, payer) {
		return ""
	}
	return s.Payer
}
