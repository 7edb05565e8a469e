package paidmcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tollhq/toll/tools/x402"
)

// The extension binding's result, {"resultType": "payment_required", "paymentRequired":
// {...}}, has no field in mcp-go's CallToolResult. A handler returns it as a
// CallToolResult whose ResultType is x402.ResultTypePaymentRequired with the
// PaymentRequired as its structured content; the transports below rewrite each outgoing
// JSON-RPC message that carries such a result into the spec's shape (extensionResult).
// They also carry out Options.CutAfterSettle: the handler sets the request's cutFlag, and
// the transport drops the answer and closes the connection.

// extensionResult rewrites one JSON-RPC message: a result of type payment_required keeps
// its resultType and _meta, gets its structured content as paymentRequired, and loses
// content, structuredContent and isError. Any other message is returned as is.
func extensionResult(msg []byte) []byte {
	if !bytes.Contains(msg, []byte(`"`+x402.ResultTypePaymentRequired+`"`)) {
		return msg
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return msg
	}
	var r map[string]json.RawMessage
	if json.Unmarshal(m["result"], &r) != nil {
		return msg
	}
	var rt string
	if json.Unmarshal(r["resultType"], &rt) != nil || rt != x402.ResultTypePaymentRequired {
		return msg
	}
	out := map[string]json.RawMessage{"resultType": r["resultType"], "paymentRequired": r["structuredContent"]}
	if meta, ok := r["_meta"]; ok {
		out["_meta"] = meta
	}
	var err error
	if m["result"], err = json.Marshal(out); err != nil {
		return msg
	}
	b, err := json.Marshal(m)
	if err != nil {
		return msg
	}
	return b
}

// cutFlag is set by a handler whose answer must not be sent.
type cutFlag struct {
	mu  sync.Mutex
	cut bool
}

func (c *cutFlag) set() {
	c.mu.Lock()
	c.cut = true
	c.mu.Unlock()
}

func (c *cutFlag) isSet() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut
}

type cutKey struct{}

func withCut(ctx context.Context, c *cutFlag) context.Context {
	return context.WithValue(ctx, cutKey{}, c)
}

func cutFrom(ctx context.Context) *cutFlag {
	c, _ := ctx.Value(cutKey{}).(*cutFlag)
	return c
}

// rewriteHandler serves next, rewriting its answers with extensionResult: a JSON answer
// whole, an event stream line by line. A request whose handler set its cutFlag gets its
// connection closed instead of its answer.
type rewriteHandler struct {
	next http.Handler
	log  *slog.Logger
}

func (h *rewriteHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &cutFlag{}
	rw := &rewriteWriter{w: w, cut: c}
	h.next.ServeHTTP(rw, r.WithContext(withCut(r.Context(), c)))
	if c.isSet() {
		hj, ok := w.(http.Hijacker)
		if !ok {
			h.log.Warn("paidmcp: cannot cut the connection: the ResponseWriter is not a Hijacker")
			return
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		h.log.Info("paidmcp: connection cut after a settlement (CutAfterSettle)")
		return
	}
	rw.finish()
}

// rewriteWriter buffers a JSON answer until the handler returns, and passes an event
// stream through with each data line rewritten.
type rewriteWriter struct {
	w       http.ResponseWriter
	cut     *cutFlag
	decided bool
	stream  bool
	status  int
	buf     bytes.Buffer
}

func (rw *rewriteWriter) Header() http.Header { return rw.w.Header() }

func (rw *rewriteWriter) decide() {
	if rw.decided {
		return
	}
	rw.decided = true
	rw.stream = strings.HasPrefix(rw.w.Header().Get("Content-Type"), "text/event-stream")
}

func (rw *rewriteWriter) WriteHeader(status int) {
	rw.decide()
	if rw.status != 0 {
		return
	}
	rw.status = status
	if rw.stream {
		rw.w.WriteHeader(status)
	}
}

func (rw *rewriteWriter) Write(p []byte) (int, error) {
	rw.decide()
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if !rw.stream {
		return rw.buf.Write(p)
	}
	if rw.cut.isSet() {
		return len(p), nil
	}
	if _, err := rw.w.Write(rewriteEvents(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush passes a flush through for an event stream; a JSON answer is sent whole.
func (rw *rewriteWriter) Flush() {
	rw.decide()
	if f, ok := rw.w.(http.Flusher); ok && rw.stream {
		f.Flush()
	}
}

// finish sends a buffered JSON answer, rewritten.
func (rw *rewriteWriter) finish() {
	if rw.stream || !rw.decided {
		return
	}
	body := extensionResult(rw.buf.Bytes())
	rw.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rw.w.WriteHeader(rw.status)
	rw.w.Write(body)
}

// rewriteEvents rewrites the data lines of server-sent events.
func rewriteEvents(p []byte) []byte {
	if !bytes.Contains(p, []byte(x402.ResultTypePaymentRequired)) {
		return p
	}
	lines := bytes.Split(p, []byte("\n"))
	for i, l := range lines {
		if data, ok := bytes.CutPrefix(l, []byte("data: ")); ok {
			lines[i] = append([]byte("data: "), extensionResult(data)...)
		}
	}
	return bytes.Join(lines, []byte("\n"))
}

// lineWriter is stdio's output: it rewrites each line with extensionResult and, once a
// handler set cut, writes nothing more and cancels the session.
type lineWriter struct {
	out    io.Writer
	cut    *cutFlag
	cancel context.CancelFunc

	mu      sync.Mutex
	partial []byte
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.cut.isSet() {
		lw.cancel()
		return len(p), nil
	}
	lw.partial = append(lw.partial, p...)
	for {
		i := bytes.IndexByte(lw.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := extensionResult(lw.partial[:i:i]) // capped: the newline is appended to a copy
		if _, err := lw.out.Write(append(line, '\n')); err != nil {
			return 0, err
		}
		lw.partial = lw.partial[i+1:]
	}
}
