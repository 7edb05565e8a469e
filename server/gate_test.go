package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools"
)

// stdioConn is a ServeStdio session driven over pipes, one JSON-RPC line at a time.
type stdioConn struct {
	t     *testing.T
	in    *io.PipeWriter
	lines chan string   // the lines the server wrote, closed at the end of its output
	done  chan error    // what ServeStdio returned
	seen  []rpcResponse // responses read while waiting for another
}

type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// serveStdio serves s over pipes until the test ends. Only one stdio server runs per
// process at a time (mcp-go keeps one stdio session): tests that call it are not parallel.
func serveStdio(t *testing.T, s *Server) *stdioConn {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &stdioConn{t: t, in: inW, lines: make(chan string, 16), done: make(chan error, 1)}
	go func() {
		c.done <- s.ServeStdio(t.Context(), inR, outW, nil)
		outW.Close()
	}()
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { c.close() })
	return c
}

func (c *stdioConn) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatalf("write to toll: %v", err)
	}
}

// response waits for the response whose id is the JSON id (such as `3` or `"a"`).
func (c *stdioConn) response(id string) rpcResponse {
	c.t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		for _, r := range c.seen {
			if string(r.ID) == id {
				return r
			}
		}
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("the server's output ended before the response %s", id)
			}
			var r rpcResponse
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				c.t.Fatalf("output line is not JSON-RPC: %q", line)
			}
			c.seen = append(c.seen, r)
		case <-timeout.C:
			c.t.Fatalf("no response %s within 30 s", id)
		}
	}
}

// close ends the input and waits for ServeStdio to return.
func (c *stdioConn) close() {
	c.in.Close()
	select {
	case err := <-c.done:
		if err != nil && !errors.Is(err, context.Canceled) { // the test's context ends before its cleanups
			c.t.Errorf("ServeStdio: %v", err)
		}
		c.done <- nil // a second close returns at once
	case <-time.After(30 * time.Second):
		c.t.Error("ServeStdio did not return within 30 s of the end of its input")
	}
}

// initialize performs the classic handshake.
func (c *stdioConn) initialize(id int) {
	c.t.Helper()
	c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"gate-test","version":"0"}}}`, id))
	if r := c.response(fmt.Sprint(id)); r.Error != nil {
		c.t.Fatalf("initialize: %+v", r.Error)
	}
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}

// toolCall is a tools/call line; meta is the JSON of params._meta, or "".
func toolCall(id int, tool, args, meta string) string {
	params := fmt.Sprintf(`"name":%q,"arguments":%s`, tool, args)
	if meta != "" {
		params += `,"_meta":` + meta
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{%s}}`, id, params)
}

// modernMeta declares protocol version in _meta, with client capabilities when caps.
func modernMeta(version string, caps bool) string {
	m := fmt.Sprintf(`{%q:%q`, mcp.MetaKeyProtocolVersion, version)
	if caps {
		m += fmt.Sprintf(`,%q:{}`, mcp.MetaKeyClientCapabilities)
	}
	return m + "}"
}

// TestStdioToolCallNeedsInitializedSession: over stdio, a tools/call before initialize is
// refused with a JSON-RPC error that says what to do, whatever its _meta claims short of
// a valid 2026-07-28 request; no tool runs, the API is not called, the ledger stays
// empty. After the handshake the same call runs; a new stdio session in the same process
// starts uninitialized again.
func TestStdioToolCallNeedsInitializedSession(t *testing.T) {
	f := newFixture(t, tools.Policy{Networks: []string{"eip155:84532"}}, Options{})
	refused := []struct {
		name     string
		line     string
		wantCode int
		want     string
	}{
		{"paid tool", toolCall(1, "weather_demo_getWeather", `{"city":"Oslo"}`, ""), mcp.INVALID_REQUEST, "not initialized"},
		{"free tool", toolCall(2, "weather_demo_health", `{}`, ""), mcp.INVALID_REQUEST, "Send initialize"},
		{"budget tool", toolCall(3, BudgetTool, `{}`, ""), mcp.INVALID_REQUEST, "not initialized"},
		{"an older version in _meta", toolCall(4, "weather_demo_health", `{}`, modernMeta(mcp.ProtocolVersion20250618, true)), mcp.INVALID_REQUEST, "not initialized"},
		{"_meta that does not decode", toolCall(5, "weather_demo_health", `{}`, `"x"`), mcp.INVALID_REQUEST, "not initialized"},
		{"a modern version mcp-go does not implement", toolCall(6, "weather_demo_health", `{}`, modernMeta("2099-01-01", true)), mcp.UNSUPPORTED_PROTOCOL_VERSION, "2099-01-01"},
		{"2026-07-28 without client capabilities", toolCall(7, "weather_demo_health", `{}`, modernMeta(mcp.ProtocolVersion20260728, false)), mcp.INVALID_PARAMS, "clientCapabilities"},
	}
	for run := range 2 {
		c := serveStdio(t, f.s)
		hits := f.hits.Load()
		for _, tc := range refused {
			c.send(tc.line)
			var id struct {
				ID json.RawMessage `json:"id"`
			}
			json.Unmarshal([]byte(tc.line), &id)
			r := c.response(string(id.ID))
			if r.Error == nil || r.Error.Code != tc.wantCode || !strings.Contains(r.Error.Message, tc.want) {
				t.Errorf("run %d, %s: result %s error %+v; want error %d mentioning %q", run, tc.name, r.Result, r.Error, tc.wantCode, tc.want)
			}
		}
		if run == 0 {
			f.untouched(t)
		} else if n := f.hits.Load(); n != hits {
			t.Errorf("run %d: the API received %d requests before initialize, want none", run, n-hits)
		}

		// A valid 2026-07-28 request needs no handshake; it does not initialize the
		// session for requests without _meta.
		c.send(toolCall(10, "weather_demo_health", `{}`, modernMeta(mcp.ProtocolVersion20260728, true)))
		if r := c.response("10"); r.Error != nil || !strings.Contains(string(r.Result), `status`) {
			t.Errorf("run %d, 2026-07-28 call: %+v %s", run, r.Error, r.Result)
		}
		c.send(toolCall(11, "weather_demo_health", `{}`, ""))
		if r := c.response("11"); r.Error == nil || r.Error.Code != mcp.INVALID_REQUEST {
			t.Errorf("run %d, call without _meta after a 2026-07-28 one: %s %+v; want it refused", run, r.Result, r.Error)
		}

		c.initialize(20)
		c.send(toolCall(21, "weather_demo_health", `{}`, ""))
		if r := c.response("21"); r.Error != nil || !strings.Contains(string(r.Result), `status`) {
			t.Errorf("run %d, call after initialize: %+v %s", run, r.Error, r.Result)
		}
		c.close()
	}
}
