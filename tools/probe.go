package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools/x402"
)

// ProbeOptions configures Probe; the zero value means the defaults.
type ProbeOptions struct {
	HTTPClient *http.Client        // nil: a client with a 30 s timeout; redirects are never followed
	Getenv     func(string) string // the API's credentials (catalog.Operation.Credentials); nil: os.Getenv
	Now        func() time.Time    // stamps the result; nil: time.Now
}

// ProbeResult is what an operation answered when sent unpaid.
type ProbeResult struct {
	Status  int                   // the HTTP status
	Version int                   // the x402 version of its 402; 0 when it asked for nothing
	Terms   []catalog.ProbedPrice // one per well-formed requirement of the 402, in its order
	Skipped []string              // requirements that could not be read, and why
}

// Probe sends op's request unpaid, with args (validated against its input schema), and
// reads the payment terms of its 402. It never pays and never signs. Any answer other
// than 402 has no terms.
func Probe(ctx context.Context, op *catalog.Operation, args json.RawMessage, opts ProbeOptions) (*ProbeResult, error) {
	var s schemas
	decoded, err := s.decodeArguments(op, args)
	if err != nil {
		return nil, err
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	req, err := buildRequest(op, decoded, getenv)
	if err != nil {
		return nil, err
	}
	hc := apiClient(opts.HTTPClient, 30*time.Second)
	resp, body, _, err := exchange(ctx, &hc, req, nil, x402.MaxBodyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrUpstream, req.method, req.url, err)
	}
	res := &ProbeResult{Status: resp.StatusCode}
	if resp.StatusCode != http.StatusPaymentRequired {
		return res, nil
	}
	ch, err := x402.ParseChallenge(resp.Header, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s answered 402 without terms toll can read: %v", ErrUpstream, req.url, err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	res.Version = ch.Version
	for _, o := range ch.Options {
		if o.Problem != "" {
			res.Skipped = append(res.Skipped, fmt.Sprintf("requirement %d: %s", o.Index+1, o.Problem))
			continue
		}
		key := op.OperationID
		if key == "" {
			key = op.Method + " " + op.Path
		}
		res.Terms = append(res.Terms, catalog.ProbedPrice{
			Operation: key, Amount: o.Amount, Network: o.Network, Asset: o.Asset,
			PayTo: o.PayTo, Scheme: o.Scheme, ObservedAt: now().UTC(),
		})
	}
	return res, nil
}
