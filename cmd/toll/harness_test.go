package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// What the end-to-end tests drive toll with: the built binary, a payer's keystore, a local
// x402 world that funds it, toll serve's arguments, an MCP client over the binary's stdio,
// and the ledger file it leaves.

// binary is cmd/toll built at most once per test run.
type binary struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	err  error
}

var (
	releaseBinary binary // go build, as released
	crashBinary   binary // go build -tags tollcrash: toll serve kills itself where TOLL_TEST_CRASH_AT says
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(envStdioPipe); addr != "" {
		os.Exit(pipeStdio(addr)) // toll started this binary as a stdio MCP server (upstream_test.go)
	}
	code := m.Run()
	for _, b := range []*binary{&releaseBinary, &crashBinary} {
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
	os.Exit(code)
}

// build builds cmd/toll with the given build tags the first time it is called, and
// returns the binary's path.
func (b *binary) build(t *testing.T, tags ...string) string {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "toll-e2e-bin-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "toll")
		args := []string{"build", "-o", b.path}
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// tollBinary is cmd/toll as released.
func tollBinary(t *testing.T) string { return releaseBinary.build(t) }

// tollCrashBinary is cmd/toll built with -tags tollcrash (crashhook.go).
func tollCrashBinary(t *testing.T) string { return crashBinary.build(t, "tollcrash") }

// safeBuffer collects what a server writes (a subprocess's stderr, run's stdout) while the
// test reads it, and tells the test when a text has been written.
type safeBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	waiting waiters
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	s.waiting.release(s.holds)
	return n, err
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// seen returns a channel that is closed once the buffer holds text.
func (s *safeBuffer) seen(text string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting.add(text, s.holds(text))
}

// holds reports whether the buffer holds text. s.mu must be held.
func (s *safeBuffer) holds(text string) bool { return bytes.Contains(s.b.Bytes(), []byte(text)) }

// waiters are the channels a test waits on until something it expects is written, each
// with the text it waits for. Their owner guards them.
type waiters []waiter

type waiter struct {
	text string
	done chan struct{}
}

// add returns a channel for text: closed at once when met, else by a later release.
func (ws *waiters) add(text string, met bool) <-chan struct{} {
	ch := make(chan struct{})
	if met {
		close(ch)
	} else {
		*ws = append(*ws, waiter{text, ch})
	}
	return ch
}

// release closes and drops the channels whose text met accepts.
func (ws *waiters) release(met func(text string) bool) {
	*ws = slices.DeleteFunc(*ws, func(w waiter) bool {
		if met(w.text) {
			close(w.done)
			return true
		}
		return false
	})
}

// startLines starts cmd with its stderr collected and its stdout read line by line: the
// lines come on the returned channel, which is closed at the end of stdout. Reading stops
// early when ctx ends.
func startLines(t *testing.T, ctx context.Context, cmd *exec.Cmd) (<-chan string, *safeBuffer) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr safeBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return lines, &stderr
}

// interruptWhen runs run in a goroutine and, once out holds text, ends its context as
// Ctrl-C does; it returns what run returned. The test fails if run returns first, or if
// the text does not come within 30 s.
func interruptWhen(t *testing.T, out *safeBuffer, text string, run func(ctx context.Context) error) error {
	t.Helper()
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	wait, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	select {
	case <-out.seen(text):
	case err := <-done:
		t.Fatalf("stopped before it was interrupted: %v\n%s", err, out.String())
	case <-wait.Done():
		interrupt()
		<-done
		t.Fatalf("no %q: %v\n%s", text, wait.Err(), out.String())
	}
	interrupt()
	return <-done
}

// keyFiles is a fresh wallet in a light keystore file and its passphrase in another file,
// as toll serve reads them.
type keyFiles struct {
	keystore, passFile, passphrase string
	payer                          wallet.Address
}

func newKeyFiles(t *testing.T, dir, passphrase string) keyFiles {
	t.Helper()
	k := keyFiles{keystore: filepath.Join(dir, "key.json"), passFile: filepath.Join(dir, "pass.txt"), passphrase: passphrase}
	k.payer = createKeystore(t, k.keystore, passphrase).Address()
	if err := os.WriteFile(k.passFile, []byte(passphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// serveArgs are toll serve's arguments to pay the API of world, whose spec is in specFile,
// from k's wallet, recording in ledgerFile, at most 0.01 USDC a call; extra follow.
func (k keyFiles) serveArgs(world *x402test.World, specFile, ledgerFile string, extra ...string) []string {
	args := []string{"serve", "--spec", specFile, "--keystore", k.keystore, "--passphrase-file", k.passFile,
		"--ledger", ledgerFile, "--network", world.Chain.NetworkV2(), "--asset", world.Chain.TokenAddress(),
		"--max-per-call", "0.01"}
	return append(args, extra...)
}

// payerFunds is what startWorld gives the payer, in atomic units of USDC: 1 USDC.
const payerFunds = 1_000_000

// startWorld starts a local x402 world with opts (closed when the test ends), funds payer
// with payerFunds, and writes the API's spec to a new file in dir, whose path it returns.
func startWorld(t *testing.T, opts x402test.Options, payer wallet.Address, dir string) (*x402test.World, string) {
	t.Helper()
	world, err := x402test.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("start the local x402 world: %v", err)
	}
	t.Cleanup(func() { world.Close() })
	if err := world.Fund(t.Context(), payer.Hex(), money.USDC(payerFunds)); err != nil {
		t.Fatal(err)
	}
	spec, err := os.CreateTemp(dir, "spec-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer spec.Close()
	if _, err := spec.Write(world.SpecYAML()); err != nil {
		t.Fatal(err)
	}
	return world, spec.Name()
}

// serveMCP starts bin with args, and env added to the environment, as an MCP server over
// stdio, and initializes a client to it. Closing the client (the test's cleanup does it
// too) waits for the process, whose ProcessState then says how it ended.
func serveMCP(t *testing.T, ctx context.Context, bin string, env, args []string) (*client.Client, *exec.Cmd, *safeBuffer) {
	t.Helper()
	var (
		stderr safeBuffer
		cmd    *exec.Cmd
	)
	c, err := client.NewStdioMCPClientWithOptions(bin, env, args,
		transport.WithCommandFunc(func(ctx context.Context, command string, env, args []string) (*exec.Cmd, error) {
			cmd = exec.CommandContext(ctx, command, args...)
			cmd.Env = append(os.Environ(), env...)
			cmd.Stderr = &stderr
			return cmd, nil
		}))
	if err != nil {
		t.Fatalf("start %s: %v", strings.Join(args, " "), err)
	}
	t.Cleanup(func() { c.Close() })
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.ProtocolVersion20250618 // the handshake hosts in the field use
	init.Params.ClientInfo = mcp.Implementation{Name: t.Name(), Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		t.Fatalf("initialize: %v\nstderr:\n%s", err, stderr.String())
	}
	return c, cmd, &stderr
}

// toolFor finds the MCP tool name of an operation ("GET /weather/{city}").
func toolFor(t *testing.T, ctx context.Context, c *client.Client, operation string) string {
	t.Helper()
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	for _, tool := range list.Tools {
		if tool.Meta != nil && tool.Meta.AdditionalFields["toll/operation"] == operation {
			return tool.Name
		}
	}
	t.Fatalf("no tool for %s", operation)
	return ""
}

// resultText is the text of a tool result, its text contents joined by newlines.
func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// openLedger opens the ledger file a toll process wrote, for the test's end. The handle
// holds no lock between operations; each waits up to 10 s for another process's.
func openLedger(t *testing.T, path string) *ledger.Ledger {
	t.Helper()
	opts := ledger.Options{Timeout: 10 * time.Second}
	if ledger.IsURL(path) {
		// A PostgreSQL ledger: migrated and created on first use, as serve would with
		// ledger_migrate.
		opts.Migrate = true
		led, err := ledger.OpenURL(t.Context(), path, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { led.Close() })
		return led
	}
	led, err := ledger.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	return led
}

// binRun is what one run of the built binary left: its streams and its exit code.
type binRun struct {
	stdout, stderr string
	code           int
}

// runBinary runs the built toll with args, in an environment without toll's own
// variables (a developer's TOLL_PASSPHRASE must not change the test) plus env, and
// with stdin empty. It fails the test if toll does not end within a minute.
func runBinary(t *testing.T, env []string, args ...string) binRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tollBinary(t), args...)
	cmd.Env = append(withoutTollEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("toll %s: %v", strings.Join(args, " "), err)
	}
	return binRun{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// withoutTollEnv is the test process's environment without the TOLL_ variables.
func withoutTollEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOLL_") {
			env = append(env, kv)
		}
	}
	return env
}
