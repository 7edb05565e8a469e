package paidmcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// newWorld starts a local x402 world for one test.
func newWorld(t *testing.T) *x402test.World {
	t.Helper()
	w, err := x402test.Start(t.Context(), x402test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// newServer is a paid MCP server on w, served over HTTP; it returns the server and the
// MCP endpoint's URL.
func newServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.HTTPHandler())
	t.Cleanup(hs.Close)
	return s, hs.URL + "/mcp"
}

// fundedPayer is a fresh wallet holding 1 USDC on w.
func fundedPayer(t *testing.T, w *x402test.World) *wallet.Wallet {
	t.Helper()
	p, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Fund(t.Context(), p.Address().Hex(), money.USDC(1_000_000)); err != nil {
		t.Fatal(err)
	}
	return p
}

// balance is addr's token balance in atomic units.
func balance(t *testing.T, w *x402test.World, addr string) int64 {
	t.Helper()
	b, err := w.BalanceOf(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return b.Atomic().Int64()
}

// sign pays option i of ch from payer as a client does: an EIP-3009 authorization for
// the option's amount to its payTo, signed under the token's EIP-712 domain.
func sign(t *testing.T, payer *wallet.Wallet, ch *x402.Challenge, i int) x402.ExactEVMPayload {
	t.Helper()
	o := ch.Options[i]
	if o.Problem != "" {
		t.Fatalf("option %d: %s", i, o.Problem)
	}
	chainID, err := x402.ChainID(o.Network)
	if err != nil {
		t.Fatal(err)
	}
	asset, err := wallet.ParseAddress(o.Asset)
	if err != nil {
		t.Fatal(err)
	}
	payTo, err := wallet.ParseAddress(o.PayTo)
	if err != nil {
		t.Fatal(err)
	}
	a, err := payer.NewAuthorization(payTo, o.Amount.Atomic(), time.Duration(o.MaxTimeoutSeconds)*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := wallet.Domain{Name: o.Domain.Name, Version: o.Domain.Version, ChainID: chainID, VerifyingContract: asset}
	sig, err := payer.Sign(t.Context(), d, a)
	if err != nil {
		t.Fatal(err)
	}
	return x402.ExactEVMPayload{
		Signature: "0x" + hex.EncodeToString(sig),
		Authorization: x402.Authorization{
			From: a.From.Hex(), To: a.To.Hex(), Value: a.Value.String(),
			ValidAfter: a.ValidAfter.String(), ValidBefore: a.ValidBefore.String(),
			Nonce: "0x" + hex.EncodeToString(a.Nonce[:]),
		},
	}
}

// paymentMeta is the _meta that pays option 0 of ch from payer.
func paymentMeta(t *testing.T, payer *wallet.Wallet, ch *x402.Challenge) map[string]any {
	t.Helper()
	key, value, err := ch.PaymentMeta(0, sign(t, payer, ch, 0))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{key: value}
}

// toolResult is a tools/call result as it travels, in either binding.
type toolResult struct {
	ResultType        string                     `json:"resultType"`
	IsError           bool                       `json:"isError"`
	Content           []json.RawMessage          `json:"content"`
	StructuredContent json.RawMessage            `json:"structuredContent"`
	PaymentRequired   json.RawMessage            `json:"paymentRequired"`
	Meta              map[string]json.RawMessage `json:"_meta"`
	raw               json.RawMessage
}

// text is the text of the first content block; "" when there is none.
func (r *toolResult) text() string {
	if len(r.Content) == 0 {
		return ""
	}
	var c struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	json.Unmarshal(r.Content[0], &c)
	return c.Text
}

// challenge reads the PaymentRequired of r in whichever binding it came.
func (r *toolResult) challenge(t *testing.T) *x402.Challenge {
	t.Helper()
	if r.ResultType == x402.ResultTypePaymentRequired {
		ch, err := x402.ParsePaymentRequired(r.PaymentRequired)
		if err != nil {
			t.Fatalf("paymentRequired: %v in %s", err, r.raw)
		}
		return ch
	}
	ch, err := x402.ToolResultChallenge(r.IsError, r.StructuredContent, r.text())
	if err != nil {
		t.Fatalf("tool result: %v in %s", err, r.raw)
	}
	return ch
}

// settlement reads the settlement in r's _meta; nil when there is none.
func (r *toolResult) settlement(t *testing.T) *x402.SettlementResponse {
	t.Helper()
	sr, err := x402.ParseSettlementMeta(r.Meta)
	if err != nil {
		t.Fatalf("settlement: %v in %s", err, r.raw)
	}
	return sr
}

// era is how a test client speaks MCP.
type era int

const (
	eraLegacy    era = iota // 2025-06-18: initialize, then a session
	eraModern               // 2026-07-28: per-request _meta, without org.x402/payment
	eraModernExt            // 2026-07-28, advertising org.x402/payment
)

func (e era) String() string {
	return [...]string{"2025-06-18", "2026-07-28", "2026-07-28+org.x402/payment"}[e]
}

// rpcClient speaks JSON-RPC to an MCP server as a client in one era would, over
// streamable HTTP (url) or a stdio connection (send).
type rpcClient struct {
	t       *testing.T
	era     era
	url     string
	session string
	stdio   *stdioConn
	mu      sync.Mutex
	id      int
}

func newHTTPClient(t *testing.T, url string, e era) *rpcClient {
	c := &rpcClient{t: t, era: e, url: url}
	c.handshake()
	return c
}

func (c *rpcClient) handshake() {
	if c.era != eraLegacy {
		return
	}
	if _, err := c.request("initialize", map[string]any{
		"protocolVersion": mcp.ProtocolVersion20250618,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "paidmcp-test", "version": "0"},
	}); err != nil {
		c.t.Fatalf("initialize: %v", err)
	}
	c.notify("notifications/initialized")
}

// meta is the request _meta of the client's era.
func (c *rpcClient) meta() map[string]any {
	if c.era == eraLegacy {
		return map[string]any{}
	}
	caps := map[string]any{}
	if c.era == eraModernExt {
		caps["extensions"] = map[string]any{x402.ExtensionMCPPayment: map[string]any{}}
	}
	return map[string]any{
		mcp.MetaKeyProtocolVersion:    mcp.ProtocolVersion20260728,
		mcp.MetaKeyClientCapabilities: caps,
		mcp.MetaKeyClientInfo:         map[string]any{"name": "paidmcp-test", "version": "0"},
	}
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message) }

// request sends a request and returns its result; a JSON-RPC error is an *rpcError, a
// transport failure another error.
func (c *rpcClient) request(method string, params map[string]any) (json.RawMessage, error) {
	c.mu.Lock()
	c.id++
	id := c.id
	c.mu.Unlock()
	if c.era != eraLegacy && method != "initialize" {
		m, _ := params["_meta"].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		for k, v := range c.meta() {
			m[k] = v
		}
		params["_meta"] = m
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	var msg []byte
	var err error
	if c.stdio != nil {
		msg, err = c.stdio.roundTrip(id, body)
	} else {
		msg, err = c.post(method, params, body)
	}
	if err != nil {
		return nil, err
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.Unmarshal(msg, &resp); err != nil {
		return nil, fmt.Errorf("answer %q: %v", msg, err)
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	return resp.Result, nil
}

func (c *rpcClient) notify(method string) {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method})
	if c.stdio != nil {
		c.stdio.send(body)
		return
	}
	if _, err := c.post(method, nil, body); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
}

// post sends body over HTTP and returns the JSON-RPC message of the answer, from a JSON
// body or an event stream.
func (c *rpcClient) post(method string, params map[string]any, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(c.t.Context(), http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
	}
	if c.era != eraLegacy {
		req.Header.Set(mcp.HeaderProtocolVersion, mcp.ProtocolVersion20260728)
		req.Header.Set(mcp.HeaderMethod, method)
		if name, ok := params["name"].(string); ok {
			req.Header.Set(mcp.HeaderName, name)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
		c.session = id
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		for _, line := range strings.Split(string(data), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				return []byte(d), nil
			}
		}
		return nil, fmt.Errorf("HTTP %d: an event stream without data", resp.StatusCode)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	return data, nil
}

// callTool calls a tool with arguments and extra _meta entries.
func (c *rpcClient) callTool(name string, args map[string]any, meta map[string]any) (*toolResult, error) {
	params := map[string]any{"name": name, "arguments": args}
	if len(meta) > 0 {
		m := map[string]any{}
		for k, v := range meta {
			m[k] = v
		}
		params["_meta"] = m
	}
	raw, err := c.request("tools/call", params)
	if err != nil {
		return nil, err
	}
	var r toolResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("result %s: %v", raw, err)
	}
	r.raw = raw
	return &r, nil
}

// mustCall is callTool that fails the test on an error.
func (c *rpcClient) mustCall(name string, args map[string]any, meta map[string]any) *toolResult {
	c.t.Helper()
	r, err := c.callTool(name, args, meta)
	if err != nil {
		c.t.Fatalf("call %s: %v", name, err)
	}
	return r
}

// stdioConn is the client's end of a ServeStdio connection.
type stdioConn struct {
	in      io.WriteCloser
	mu      sync.Mutex
	waiting map[int]chan []byte
	done    chan struct{}
}

// newStdioClient serves s over an in-process stdio connection and returns a client on
// it; served returns what ServeStdio returned once the connection ended.
func newStdioClient(t *testing.T, s *Server, e era) (c *rpcClient, served <-chan error) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		err := s.ServeStdio(ctx, inR, outW)
		outW.Close()
		errc <- err
	}()
	conn := &stdioConn{in: inW, waiting: map[int]chan []byte{}, done: make(chan struct{})}
	go conn.read(outR)
	t.Cleanup(func() {
		inW.Close()
		cancel()
		<-conn.done
	})
	c = &rpcClient{t: t, era: e, stdio: conn}
	c.handshake()
	return c, errc
}

func (sc *stdioConn) read(r io.Reader) {
	defer close(sc.done)
	sc2 := bufio.NewScanner(r)
	sc2.Buffer(nil, 8<<20)
	for sc2.Scan() {
		var probe struct {
			ID *int `json:"id"`
		}
		line := append([]byte(nil), sc2.Bytes()...)
		if json.Unmarshal(line, &probe) != nil || probe.ID == nil {
			continue
		}
		sc.mu.Lock()
		ch := sc.waiting[*probe.ID]
		delete(sc.waiting, *probe.ID)
		sc.mu.Unlock()
		if ch != nil {
			ch <- line
		}
	}
}

func (sc *stdioConn) send(body []byte) error {
	_, err := sc.in.Write(append(body, '\n'))
	return err
}

// roundTrip sends a request and waits for the answer with its id, or for the connection
// to end.
func (sc *stdioConn) roundTrip(id int, body []byte) ([]byte, error) {
	ch := make(chan []byte, 1)
	sc.mu.Lock()
	sc.waiting[id] = ch
	sc.mu.Unlock()
	if err := sc.send(body); err != nil {
		return nil, err
	}
	select {
	case msg := <-ch:
		return msg, nil
	case <-sc.done:
		return nil, io.ErrUnexpectedEOF
	}
}
