package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// httpToken is the bearer token the HTTP tests start toll with; otherToken is not one.
const (
	httpToken  = "5f2b8c0d9e4a7b16c3d8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5"
	otherToken = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
)

// rpcReply is a JSON-RPC response as toll writes it.
type rpcReply struct {
	ID     *int            `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

const (
	rawInitialize  = `{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`
	rawWeatherCall = `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"weather_demo_getWeather","arguments":{"city":"Oslo"}}}`
)

// TestStdioToolCallBeforeInitializeIsRefused: over the binary's stdio, a paid tools/call
// sent before initialize gets a JSON-RPC error; nothing reaches the API, nothing is
// signed or settled, the ledger stays empty. After the handshake the same call pays.
func TestStdioToolCallBeforeInitializeIsRefused(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, s.serveArgs()...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	lines, stderr := startLines(t, ctx, cmd)
	defer func() {
		if t.Failed() {
			t.Logf("toll stderr:\n%s", stderr.String())
		}
	}()
	send := func(line string) {
		if _, err := fmt.Fprintln(stdin, line); err != nil {
			t.Fatal(err)
		}
	}
	reply := func(id int) rpcReply {
		for line := range lines {
			var r rpcReply
			if json.Unmarshal([]byte(line), &r) == nil && r.ID != nil && *r.ID == id {
				return r
			}
		}
		t.Fatalf("stdout ended before the response %d", id)
		return rpcReply{}
	}
	payTo := s.world.PayTo()
	payer0, payTo0 := s.balance(t, s.payer.Hex()), s.balance(t, payTo)

	send(fmt.Sprintf(rawWeatherCall, 1))
	if r := reply(1); r.Error == nil || r.Error.Code != -32600 || !strings.Contains(r.Error.Message, "not initialized") {
		t.Fatalf("tools/call before initialize: result %s, error %+v; want a -32600 error saying the session is not initialized", r.Result, r.Error)
	}
	if s.balance(t, s.payer.Hex()).Cmp(payer0) != 0 || s.balance(t, payTo).Cmp(payTo0) != 0 {
		t.Error("a tools/call before initialize moved money")
	}
	if n := len(s.world.Settlements()); n != 0 {
		t.Errorf("%d settlements before initialize, want none", n)
	}
	if n := s.world.HandlerRuns("GET /weather/{city}"); n != 0 {
		t.Errorf("the paid API ran %d times before initialize, want none", n)
	}
	if events, err := openLedger(t, s.ledger).Events(t.Context()); err != nil || len(events) != 0 {
		t.Errorf("ledger after the refused call: %d events (%v), want none", len(events), err)
	}

	send(fmt.Sprintf(rawInitialize, 2))
	reply(2)
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(fmt.Sprintf(rawWeatherCall, 3))
	if r := reply(3); r.Error != nil || !strings.Contains(string(r.Result), "Cost: paid") {
		t.Fatalf("tools/call after initialize: result %s, error %+v; want it paid", r.Result, r.Error)
	}
	if d := payer0.Sub(s.balance(t, s.payer.Hex())); d.Cmp(money.USDC(x402test.PriceWeather)) != 0 {
		t.Errorf("payer paid %s in all, want one call's %s", d, money.USDC(x402test.PriceWeather))
	}
	stdin.Close()
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("toll serve: %v", err)
	}
}

// TestServeHTTPBeyondLoopbackNeedsTokens: the binary refuses to listen on every
// interface without a bearer token, and says which flags or keys to set.
func TestServeHTTPBeyondLoopbackNeedsTokens(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, s.serveArgs("--http", "0.0.0.0:0")...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("toll serve --http 0.0.0.0:0 without tokens: %v, want exit code 2\n%s", err, out)
	}
	for _, want := range []string{"0.0.0.0", "--http-token-file FILE", "--http-token-env NAME", "http.token_file", "127.0.0.1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the error does not mention %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "MCP over streamable HTTP") {
		t.Errorf("toll listened before refusing:\n%s", out)
	}
}

// httpServe starts the binary serving MCP over HTTP with args, and returns its port and
// stderr; it is interrupted when the test ends.
func httpServe(t *testing.T, ctx context.Context, bin string, args []string) (string, *safeBuffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr safeBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	wait, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	select {
	case <-stderr.seen("MCP over streamable HTTP"):
	case <-wait.Done():
		t.Fatalf("toll did not start serving HTTP: %v\n%s", wait.Err(), stderr.String())
	}
	m := regexp.MustCompile(`url=http://\S+:(\d+)/mcp`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no URL in the log:\n%s", stderr.String())
	}
	return m[1], &stderr
}

// httpExchange is one request to toll's MCP endpoint and what came back.
type httpExchange struct {
	status  int
	session string // Mcp-Session-Id of the response
	body    string
}

// post sends an MCP request (POST, or DELETE when body is "") to url with the headers
// given as name, value pairs.
func post(t *testing.T, url, body string, header ...string) httpExchange {
	t.Helper()
	method, rd := http.MethodPost, io.Reader(strings.NewReader(body))
	if body == "" {
		method, rd = http.MethodDelete, nil
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpExchange{status: resp.StatusCode, session: resp.Header.Get("Mcp-Session-Id"), body: string(b)}
}

// TestServeHTTPAuthOriginAndSessions drives the binary over HTTP on every interface with
// a token file: a request without the token, or with another, gets 401; a foreign page's
// Origin 403; with the token a call pays; after DELETE its session gets 404 and pays
// nothing. The tokens never reach toll's log.
func TestServeHTTPAuthOriginAndSessions(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	tokenFile := filepath.Join(s.dir, "http-tokens")
	if err := os.WriteFile(tokenFile, []byte("# toll serve --http\n"+httpToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port, stderr := httpServe(t, ctx, bin, s.serveArgs("--http", "0.0.0.0:0", "--http-token-file", tokenFile))
	defer func() {
		if t.Failed() {
			t.Logf("toll stderr:\n%s", stderr.String())
		}
	}()
	url := "http://127.0.0.1:" + port + "/mcp"
	auth := "Bearer " + httpToken
	initialize := fmt.Sprintf(rawInitialize, 1)

	for _, tc := range []struct {
		name   string
		header []string
		want   int
	}{
		{"no token", nil, 401},
		{"another token", []string{"Authorization", "Bearer " + otherToken}, 401},
		{"the token, from a foreign page", []string{"Authorization", auth, "Origin", "https://evil.example"}, 403},
	} {
		if got := post(t, url, initialize, tc.header...); got.status != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, got.status, got.body, tc.want)
		}
	}
	init := post(t, url, initialize, "Authorization", auth)
	if init.status != 200 || init.session == "" {
		t.Fatalf("initialize with the token: %d, session %q: %s", init.status, init.session, init.body)
	}
	post(t, url, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "Authorization", auth, "Mcp-Session-Id", init.session)

	payer0 := s.balance(t, s.payer.Hex())
	call := fmt.Sprintf(rawWeatherCall, 2)
	if got := post(t, url, call, "Mcp-Session-Id", init.session); got.status != 401 {
		t.Errorf("call in the session without the token: %d, want 401", got.status)
	}
	if got := post(t, url, call, "Authorization", auth, "Mcp-Session-Id", init.session); got.status != 200 || !strings.Contains(got.body, "Cost: paid") {
		t.Fatalf("call with the token: %d %s; want it paid", got.status, got.body)
	}
	if got := post(t, url, "", "Authorization", auth, "Mcp-Session-Id", init.session); got.status != 200 {
		t.Fatalf("DELETE: %d %s", got.status, got.body)
	}
	runs := s.world.HandlerRuns("GET /weather/{city}")
	if got := post(t, url, call, "Authorization", auth, "Mcp-Session-Id", init.session); got.status != 404 {
		t.Errorf("call in the deleted session: %d %s, want 404", got.status, got.body)
	}
	if n := s.world.HandlerRuns("GET /weather/{city}"); n != runs {
		t.Errorf("the paid API ran after the session was deleted")
	}
	if d := payer0.Sub(s.balance(t, s.payer.Hex())); d.Cmp(money.USDC(x402test.PriceWeather)) != 0 {
		t.Errorf("payer paid %s, want the one call's %s", d, money.USDC(x402test.PriceWeather))
	}

	// From another address of this machine, with any Host: the token decides.
	if ip := nonLoopbackIP(); ip != "" {
		remote := "http://" + net.JoinHostPort(ip, port) + "/mcp"
		if got := post(t, remote, initialize, "Host", "anything.example"); got.status != 401 {
			t.Errorf("from %s without the token: %d, want 401", ip, got.status)
		}
		if got := post(t, remote, initialize, "Host", "anything.example", "Authorization", auth); got.status != 200 {
			t.Errorf("from %s with the token: %d %s, want 200", ip, got.status, got.body)
		}
	} else {
		t.Log("no address but loopback on this machine: the request from another address is not tried")
	}
	log := stderr.String()
	if !strings.Contains(log, "reachable from other machines") || !strings.Contains(log, "status=401") {
		t.Errorf("the log lacks the warning or the refusals:\n%s", log)
	}
	for _, secret := range []string{httpToken, otherToken} {
		if strings.Contains(log, secret) {
			t.Errorf("a token is in toll's log")
		}
	}
}

// nonLoopbackIP is an IPv4 address of this machine other than loopback, or "".
func nonLoopbackIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// TestServeHTTPTokenSettings: the token flags and their toll.yaml keys, run in-process.
// A token that is refused, or given in place of a variable's name, is never echoed.
func TestServeHTTPTokenSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", httpToken+"\n", 0o600)
	short := write("short", "tiny-secret-x\n", 0o600)
	cfgEnv := write("env.yaml", "http:\n  token_env: TOLL_TEST_HTTP_TOKEN\n", 0o600)
	cfgFile := write("file.yaml", "http:\n  token_file: "+good+"\n", 0o600)
	getenv := func(k string) string {
		if k == "TOLL_TEST_HTTP_TOKEN" {
			return httpToken
		}
		return ""
	}
	ledger := filepath.Join(dir, "l.db")
	tests := []struct {
		name   string
		args   []string
		usage  bool   // a usage error (exit 2)
		want   string // in the error
		secret string // never in the error or the log
	}{
		{"token flag without --http", []string{"--http-token-file", good}, true, "go with --http", ""},
		{"no tokens on every interface", []string{"--http", ":0"}, true, "--http-token-file FILE", ""},
		{"token file missing", []string{"--http", "0.0.0.0:0", "--http-token-file", filepath.Join(dir, "nope")}, false, "nope", ""},
		{"token too short", []string{"--http", "0.0.0.0:0", "--http-token-file", short}, true, "line 1", "tiny-secret-x"},
		{"token given as the variable's name", []string{"--http", "0.0.0.0:0", "--http-token-env", "t" + otherToken[1:]}, true, "not set", otherToken[1:]},
		{"token starting with a digit as the name", []string{"--http", "0.0.0.0:0", "--http-token-env", otherToken}, true, "name of an environment variable", otherToken},
		{"not a variable name", []string{"--http", "0.0.0.0:0", "--http-token-env", "tok en " + otherToken}, true, "name of an environment variable", otherToken},
		// Accepted tokens: serve goes on to the wallet, which the test does not give.
		{"token file", []string{"--http", "0.0.0.0:0", "--http-token-file", good}, false, "unlock wallet", httpToken},
		{"token variable", []string{"--http", "0.0.0.0:0", "--http-token-env", "TOLL_TEST_HTTP_TOKEN"}, false, "unlock wallet", httpToken},
		{"http.token_env in toll.yaml", []string{"--http", "0.0.0.0:0", "--config", cfgEnv}, false, "unlock wallet", httpToken},
		{"http.token_file in toll.yaml", []string{"--http", "0.0.0.0:0", "--config", cfgFile}, false, "unlock wallet", httpToken},
		{"loopback needs no token", []string{"--http", "127.0.0.1:0"}, false, "unlock wallet", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", weatherSpec, "--ledger", ledger}, tt.args...)
			_, stderr, err := runTest(t, getenv, args...)
			var u usageError
			if err == nil || errors.As(err, &u) != tt.usage || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want a usage error %v mentioning %q", err, tt.usage, tt.want)
			}
			if tt.secret != "" && (strings.Contains(err.Error(), tt.secret) || strings.Contains(stderr, tt.secret)) {
				t.Errorf("a token is in the error or the log: %v\n%s", err, stderr)
			}
		})
	}
}
