package tools

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// noNetwork is a transport that sends nothing: it counts the requests it is given and
// fails each one.
type noNetwork struct {
	mu   sync.Mutex
	urls []string
}

func (n *noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.urls = append(n.urls, r.URL.String())
	return nil, errors.New("this test has no network")
}

func (n *noNetwork) sent() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.urls...)
}

// TestPlainHTTPRefusedBeforeSending: a priced operation whose server is plain http to
// another machine is refused by RuleInsecureHTTP before any request is made: nothing is
// sent, reserved or signed, and the ledger holds the refusal with the advertised price.
// The API's allow_insecure_http lets the request go, and so does a free operation, which
// carries no payment.
func TestPlainHTTPRefusedBeforeSending(t *testing.T) {
	for _, tt := range []struct {
		name    string
		server  string
		allow   bool
		free    bool
		refused bool // else the request is sent (and fails: no network)
	}{
		{name: "address", server: "http://192.0.2.1:8080", refused: true},
		{name: "name", server: "http://api.example.com/v1", refused: true},
		{name: "name starting with localhost", server: "http://localhost.example.com", refused: true},
		{name: "allowed by the config", server: "http://192.0.2.1:8080", allow: true},
		{name: "free operation", server: "http://192.0.2.1:8080", free: true},
		{name: "https", server: "https://api.example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.server, Policy{})
			led := f.ledger
			var steps []Step
			net := &noNetwork{}
			c, err := New(Config{Wallet: f.wallet, Ledger: led, Policy: Policy{Networks: []string{"eip155:84532"}},
				HTTPClient: &http.Client{Transport: net, Timeout: time.Second}, Checkpoint: func(s Step) { steps = append(steps, s) }})
			if err != nil {
				t.Fatal(err)
			}
			f.op.AllowInsecureHTTP = tt.allow
			f.op.Price.Network, f.op.Price.PayTo = "eip155:84532", testPayTo
			if tt.free {
				f.op.Price = nil
			}
			_, err = c.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"42"}`), Session: "s1"})
			var refused *RefusedError
			if got := errors.As(err, &refused); got != tt.refused {
				t.Fatalf("err = %v; refused %v, want %v", err, got, tt.refused)
			}
			events, lerr := led.Events(t.Context())
			if lerr != nil {
				t.Fatal(lerr)
			}
			if !tt.refused {
				if len(net.sent()) != 1 || !errors.Is(err, ErrUpstream) || len(events) != 0 {
					t.Errorf("sent %q, err %v, %d ledger events; want one request, an upstream error and no event", net.sent(), err, len(events))
				}
				return
			}
			if refused.Rule != RuleInsecureHTTP || !errors.Is(err, ErrInsecureHTTP) || !errors.Is(err, ErrRefused) || refused.Amount.Cmp(money.USDC(1000)) != 0 {
				t.Errorf("refusal %+v; want rule %q, amount 0.001", refused, RuleInsecureHTTP)
			}
			if !strings.Contains(err.Error(), "plain http to another machine ("+tt.server+"/thing/42)") || !strings.Contains(err.Error(), "nothing was sent or signed") {
				t.Errorf("message: %v", err)
			}
			if n := net.sent(); len(n) != 0 {
				t.Errorf("requests made before the refusal: %q", n)
			}
			for _, s := range steps {
				if s != StepRecorded {
					t.Errorf("step %s reached; only the refusal may be recorded", s)
				}
			}
			spends, lerr := led.Spends(t.Context())
			if lerr != nil {
				t.Fatal(lerr)
			}
			if len(spends) != 0 || len(events) != 1 {
				t.Fatalf("ledger: %d spends, %d events; want the refusal alone", len(spends), len(events))
			}
			e := events[0]
			if e.Kind != ledger.KindRefused || e.Tool != f.op.Name || e.URL != tt.server+"/thing/42" || e.Session != "s1" ||
				e.Amount == nil || e.Amount.Cmp(money.USDC(1000)) != 0 || e.Network != "eip155:84532" || e.PayTo != testPayTo || !strings.Contains(e.Reason, "plain http") {
				t.Errorf("refused event %+v", e)
			}
		})
	}
}
