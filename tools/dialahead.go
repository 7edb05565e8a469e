package tools

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
)

// A paid request goes on a fresh connection (see paidClient), so it pays for a dial (a
// TCP handshake with the API; TLS follows in the transport). That dial need not wait
// for the reservation: it is started when the reservation starts (dialAhead), runs while
// the ledger commits, and the paid transport takes the connection when it dials for the
// paid request (aheadDialer.dial). The connection is still fresh (nothing was sent on it
// before, so net/http never resends on it) and carries the paid request alone; one the
// paid request did not take (a cap refused the call, signing failed, the transport
// dialed elsewhere) is closed unused.

// aheadDialer dials the paid transport's connections, and knows which requests a
// connection dialed ahead can serve.
type aheadDialer struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	proxy   func(*http.Request) (*url.URL, error) // the transport's; nil: none
	tlsDial bool                                  // the transport dials https itself (DialTLSContext)
}

// dialAheadKey is the context key of the *dialedAhead a paid request may take.
type dialAheadKey struct{}

// aheadKey marks the context of a dial made ahead (true), for a dialer that tells them
// apart (tests).
type aheadKey struct{}

// dialedAhead is one connection dialed ahead for one paid request.
type dialedAhead struct {
	addr string // host:port, as http.Transport dials it
	done chan struct{}
	conn net.Conn // when done; nil if the dial failed

	mu    sync.Mutex
	taken bool // by the transport, or by close
}

// start dials, in the background, the connection a request to rawURL would be sent on
// when the transport dials it directly: nil when it would not (a proxy, a transport that
// dials TLS itself) or the URL is not one to dial.
func (a *aheadDialer) start(ctx context.Context, rawURL string) *dialedAhead {
	if a == nil {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Scheme == "https" && a.tlsDial) {
		return nil
	}
	if a.proxy != nil {
		if p, err := a.proxy(&http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}}); err != nil || p != nil {
			return nil
		}
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	d := &dialedAhead{addr: net.JoinHostPort(u.Hostname(), port), done: make(chan struct{})}
	// The dial's own timeout bounds it; close ends what is left.
	ctx = context.WithValue(context.WithoutCancel(ctx), aheadKey{}, true)
	go func() {
		defer close(d.done)
		if conn, err := a.dial(ctx, "tcp", d.addr); err == nil {
			d.conn = conn
		}
	}()
	return d
}

// takeAhead returns the connection dialed ahead in ctx for network and addr, once, or nil
// (none, another address, or its dial failed): the caller dials then.
func takeAhead(ctx context.Context, network, addr string) net.Conn {
	d, _ := ctx.Value(dialAheadKey{}).(*dialedAhead)
	if d == nil || network != "tcp" || addr != d.addr {
		return nil
	}
	select {
	case <-d.done:
	case <-ctx.Done():
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.taken {
		return nil
	}
	d.taken = true
	return d.conn
}

// close closes the connection unless the transport took it, once its dial is over.
func (d *dialedAhead) close() {
	if d == nil {
		return
	}
	closeUnused := func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if !d.taken && d.conn != nil {
			d.conn.Close()
		}
		d.taken = true
	}
	select {
	case <-d.done:
		closeUnused()
	default:
		go func() { <-d.done; closeUnused() }()
	}
}

// withDialedAhead is ctx carrying d for the paid transport's dial.
func withDialedAhead(ctx context.Context, d *dialedAhead) context.Context {
	if d == nil {
		return ctx
	}
	return context.WithValue(ctx, dialAheadKey{}, d)
}

// dialContext is the paid transport's DialContext: the connection dialed ahead for the
// request when there is one, else a new dial; with checkpoints, wrapped to report
// StepSent.
func (a *aheadDialer) dialContext(check func(Step)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn := takeAhead(ctx, network, addr)
		if conn == nil {
			var err error
			if conn, err = a.dial(ctx, network, addr); err != nil {
				return nil, err
			}
		}
		if check == nil {
			return conn, nil
		}
		return &checkConn{Conn: conn, check: func() { check(StepSent) }}, nil
	}
}
