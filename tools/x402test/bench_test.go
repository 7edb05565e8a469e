package x402test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/tollhq/toll/tools/x402"
)

// BenchmarkSettle is one payment through the facilitator over HTTP: POST /verify, then
// POST /settle (re-verify, send, commit a block, read the receipt). Block time may run
// far ahead here (MaxClockSkew 24 h) and the authorizations are valid for 2 h, so the
// figure is the facilitator's speed, not the clock-skew throttle.
func BenchmarkSettle(b *testing.B) {
	c := newChain(b, ChainOptions{MaxClockSkew: 24 * time.Hour})
	srv := httptest.NewServer(NewFacilitator(c, nil))
	b.Cleanup(srv.Close)
	fx := &facilitatorFixture{c: c, url: srv.URL, payer: fundedPayer(b, c, int64(b.N)*1000+1), payTo: addrOf(newKey(b))}
	reqs := make([]x402.FacilitatorRequest, b.N)
	for i := range reqs {
		p := fx.parts(b, 2, 1000)
		p.auth.ValidBefore = strconv.FormatInt(time.Now().Unix()+7200, 10)
		reqs[i] = p.request(b)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if vr := fx.verify(b, reqs[i]); !vr.IsValid {
			b.Fatalf("verify: %+v", vr)
		}
		if sr := fx.settle(b, reqs[i]); !sr.Success {
			b.Fatalf("settle: %+v", sr)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
}

// BenchmarkPaidCall is one paid v2 call through the paid API with a pre-signed header:
// the API verifies with the facilitator, runs the handler, settles, answers 200.
func BenchmarkPaidCall(b *testing.B) {
	w := startWorld(b, Options{MaxClockSkew: 24 * time.Hour, MaxTimeoutSeconds: 7200})
	payer := fundedPayer(b, w.Chain, int64(b.N)*PriceClimate+1)
	url := w.APIURL + "/climate/Oslo"
	pr := challengeV2(b, "GET", url, "")
	headers := make([]http.Header, b.N)
	for i := range headers {
		headers[i] = paymentV2(b, payer, pr)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, body := do(b, "GET", url, "", headers[i])
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("HTTP %d %s", resp.StatusCode, body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
