package tools

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// connLog is a test server's record of its connections: the requests each carried (true
// for a paid one), and which were closed.
type connLog struct {
	mu     sync.Mutex
	reqs   map[string][]bool // by remote address
	closed map[string]bool
	change chan struct{} // signalled after each change
}

func newConnLog() *connLog {
	return &connLog{reqs: map[string][]bool{}, closed: map[string]bool{}, change: make(chan struct{}, 1)}
}

func (l *connLog) state(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := c.RemoteAddr().String()
	switch s {
	case http.StateNew:
		l.reqs[a] = l.reqs[a][:0:0]
	case http.StateClosed, http.StateHijacked:
		l.closed[a] = true
	}
	select {
	case l.change <- struct{}{}:
	default:
	}
}

func (l *connLog) request(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	paid := r.Header.Get(x402.HeaderXPayment) != "" || r.Header.Get(x402.HeaderPaymentSignature) != ""
	l.reqs[r.RemoteAddr] = append(l.reqs[r.RemoteAddr], paid)
}

// waitClosedUnused waits until the server has seen at least want connections and every
// one that carried no request is closed, and returns how many such unused connections
// there were. (A connection dialed ahead for a call that is then refused is dialed in the
// background: the call can return before the server has seen it.)
func (l *connLog) waitClosedUnused(t *testing.T, want int) int {
	t.Helper()
	for {
		l.mu.Lock()
		seen, unused, open := len(l.reqs), 0, 0
		for a, reqs := range l.reqs {
			if len(reqs) == 0 {
				unused++
				if !l.closed[a] {
					open++
				}
			}
		}
		l.mu.Unlock()
		if seen >= want && open == 0 {
			return unused
		}
		select {
		case <-l.change:
		case <-t.Context().Done():
			t.Fatalf("the server saw %d connections (want %d); %d that carried no request are still open", seen, want, open)
		}
	}
}

// TestPaidConnectionDialedAhead: the paid request's connection is dialed while the
// reservation commits (by Client.ahead, not by the transport after signing), and it is
// still fresh: every paid request is the first and only request of its connection, while
// the unpaid requests share one kept-alive connection. A connection dialed for a call
// that a cap then refuses is closed without carrying anything. Over HTTP and HTTPS (the
// transport's TLS handshake runs on the connection dialed ahead).
func TestPaidConnectionDialedAhead(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"http", false}, {"https", true}} {
		t.Run(tc.name, func(t *testing.T) { testDialedAhead(t, tc.tls) })
	}
}

func testDialedAhead(t *testing.T, useTLS bool) {
	log := newConnLog()
	api := &hostileAPI{unpaid: write402(good()), paid: settledOK}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.request(r)
		api.ServeHTTP(w, r)
	}))
	srv.Config.ConnState = log.state
	// The refused call's connection closes before its TLS handshake: not worth a line.
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)

	var mu sync.Mutex
	var dialsAhead, dialsOther int
	base := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		if ctx.Value(aheadKey{}) == true {
			dialsAhead++
		} else {
			dialsOther++ // the unpaid requests', or the paid transport's own
		}
		mu.Unlock()
		return base.DialContext(ctx, network, addr)
	}}
	if useTLS {
		tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	}
	t.Cleanup(tr.CloseIdleConnections)
	f := newFixture(t, srv.URL, Policy{Networks: []string{"base-sepolia"}})
	c, err := New(Config{Wallet: f.wallet, Ledger: f.ledger, Policy: Policy{Networks: []string{"base-sepolia"}}, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	const calls = 5
	for range calls {
		res, err := c.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"1"}`), Session: "s"})
		if err != nil || res.Payment == nil {
			t.Fatalf("call: %v, %+v", err, res)
		}
	}
	capped := money.USDC(999)
	c.policy.caps.PerSession = &capped // checked by the ledger, in the reservation
	if _, err := c.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"1"}`), Session: "s"}); !errors.As(err, new(*RefusedError)) {
		t.Fatalf("call over the per-session cap: %v, want a refusal", err)
	}
	unused := log.waitClosedUnused(t, calls+2) // 5 paid, 1 kept-alive unpaid, the refused call's

	log.mu.Lock()
	defer log.mu.Unlock()
	paidConns, unpaidConns := 0, 0
	for a, reqs := range log.reqs {
		for i, paid := range reqs {
			if paid && (i > 0 || len(reqs) > 1) {
				t.Errorf("connection %s carried %v (true: paid): a paid request shared its connection", a, reqs)
			}
		}
		switch {
		case len(reqs) == 1 && reqs[0]:
			paidConns++
		case len(reqs) > 0:
			unpaidConns++
		}
	}
	if paidConns != calls || unpaidConns != 1 || unused != 1 {
		t.Errorf("connections: %d paid, %d unpaid, %d unused; want %d paid (one each), 1 unpaid (kept alive), 1 unused (the refused call's)",
			paidConns, unpaidConns, unused, calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if dialsAhead != calls+1 || dialsOther != 1 {
		t.Errorf("dials: %d ahead, %d others; want %d ahead (one a call, the refused one's too) and 1 other (the kept-alive unpaid connection)",
			dialsAhead, dialsOther, calls+1)
	}
}
