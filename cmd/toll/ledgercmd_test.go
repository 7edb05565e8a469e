package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// demoLedger runs toll demo, which pays a local world three times (0.001, 0.005 and, for
// a paid MCP tool, 0.001 USDC), and returns the ledger file
// it leaves.
func demoLedger(t *testing.T, bin, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "demo.db")
	if out, err := exec.Command(bin, "demo", "--ledger", path).CombinedOutput(); err != nil {
		t.Fatalf("toll demo: %v\n%s", err, out)
	}
	return path
}

// copyFile copies src to dst, keeping the first n bytes (all of them when n < 0).
func copyFile(t *testing.T, src, dst string, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if n >= 0 {
		b = b[:n]
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTruncatedLedgerBinary: a real ledger cut short (to 0 bytes, and to the sizes that
// crashed toll with SIGBUS) makes every command that opens it (ledger verify, list and
// export, demo --ledger, serve) exit 1 with a one-line error that says the file is
// damaged and what to do, and leaves the file as it was: an empty file is not taken for a
// new ledger.
func TestTruncatedLedgerBinary(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	ledgerFile := demoLedger(t, bin, dir)
	k := newKeyFiles(t, dir, "a passphrase for the truncation test")
	world, spec := startWorld(t, x402test.Options{}, k.payer, dir)
	info, err := os.Stat(ledgerFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 8192, 12288, 16384, 20480} {
		if size >= int(info.Size()) {
			t.Fatalf("the demo's ledger is %d bytes, no longer than %d", info.Size(), size)
		}
		cut := filepath.Join(dir, "cut.db")
		want := sha256.Sum256(copyFile(t, ledgerFile, cut, size))
		for _, args := range [][]string{
			{"ledger", "verify", "--ledger", cut},
			{"ledger", "list", "--ledger", cut},
			{"ledger", "export", "--format", "csv", "--ledger", cut},
			{"demo", "--ledger", cut},
			k.serveArgs(world, spec, cut),
		} {
			r := runBinary(t, nil, args...)
			stderr, code := r.stderr, r.code
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if code != 1 || !strings.HasPrefix(last, "toll: ledger file "+cut+" is damaged: ") ||
				!strings.Contains(last, "restore it from a copy") || strings.Contains(stderr, "goroutine") {
				t.Errorf("cut to %d: toll %s: exit %d, stderr:\n%s\nwant exit 1 and one line saying the file is damaged and what to do", size, args[0], code, stderr)
			}
			if len(lines) != 1 {
				t.Errorf("cut to %d: toll %s wrote %d lines to stderr, want 1:\n%s", size, args[0], len(lines), stderr)
			}
			got, err := os.ReadFile(cut)
			if err != nil || sha256.Sum256(got) != want {
				t.Fatalf("cut to %d: toll %s changed the file (%v)", size, args[0], err)
			}
		}
	}
}

// TestTamperedLedgerBinary: a ledger whose total counter was set to 0 (so that
// --max-total would admit again what was already paid) is refused by toll serve, with the
// counter named and the command to inspect it; toll ledger list and export --format csv
// print the spends as the events give them (the counter is none of their business) and
// toll ledger verify fails; the untampered copy serves.
func TestTamperedLedgerBinary(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	ledgerFile := demoLedger(t, bin, dir)
	k := newKeyFiles(t, dir, "a passphrase for the tamper test")
	world, spec := startWorld(t, x402test.Options{}, k.payer, dir)

	tampered := filepath.Join(dir, "tampered.db")
	copyFile(t, ledgerFile, tampered, -1)
	db, err := bolt.Open(tampered, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("sums")).Put([]byte("t"), []byte("0")) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	r := runBinary(t, nil, k.serveArgs(world, spec, tampered, "--max-total", "0.01")...)
	stderr, code := r.stderr, r.code
	for _, want := range []string{`counter "t" is "0", events give 7000`, "toll ledger verify --ledger " + tampered} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("toll serve on the tampered ledger: exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
		}
	}
	for _, args := range [][]string{{"ledger", "list"}, {"ledger", "export", "--format", "csv"}} {
		r := runBinary(t, nil, append(args, "--ledger", tampered)...)
		stdout, stderr, code := r.stdout, r.stderr, r.code
		if code != 0 || stderr != "" || !strings.Contains(stdout, "weather_demo_createReport") {
			t.Errorf("toll %s on the tampered ledger: exit %d, stdout:\n%s\nstderr:\n%s\nwant the spends printed", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if r := runBinary(t, nil, "ledger", "verify", "--ledger", tampered); r.code != 1 || !strings.Contains(r.stderr, `counter "t"`) {
		t.Errorf("toll ledger verify on the tampered ledger: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	c, _, stderrBuf := serveMCP(t, t.Context(), bin, nil, k.serveArgs(world, spec, ledgerFile, "--max-total", "0.01"))
	toolFor(t, t.Context(), c, "GET /weather/{city}")
	c.Close()
	if strings.Contains(stderrBuf.String(), "tampered") {
		t.Errorf("toll serve on the untampered ledger complained:\n%s", stderrBuf.String())
	}
}

// BenchmarkServeStartup measures toll serve from spawn to its tools/list answered, for
// the small weather spec, with the key in a light keystore (whose scrypt is most of the
// time) or raw in an environment variable: on an empty ledger; on one of 10,000 events
// (5000 paid calls) checkpointed by an earlier start; and on that ledger before its
// first start (a copy with no checkpoint each time: the whole chain is verified and the
// checkpoint written).
func BenchmarkServeStartup(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "toll")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	ks, pass := filepath.Join(dir, "key.json"), filepath.Join(dir, "pass.txt")
	if _, err := keystore.Create(ks, "a passphrase for the benchmark", true, wallet.Options{}); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte("a passphrase for the benchmark\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	// A throwaway key (the first of the well-known development accounts), for the raw-key runs.
	rawKey := "TOLL_BENCH_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	big, fresh := filepath.Join(dir, "big.db"), filepath.Join(dir, "fresh.db")
	writeEvents(b, big, 5000)
	copyFileTB(b, big, fresh)
	empty := filepath.Join(dir, "empty.db")
	for _, key := range []struct {
		name string
		args []string
	}{
		{"keystore", []string{"--keystore", ks, "--passphrase-file", pass}},
		{"raw-key", []string{"--private-key-env", "TOLL_BENCH_KEY"}},
	} {
		args := func(ledgerFile string) []string {
			return append([]string{"serve", "--spec", filepath.Join("..", "..", "testdata", "specs", "weather.yaml"),
				"--ledger", ledgerFile, "--network", "eip155:84532"}, key.args...)
		}
		for _, lf := range []struct{ name, path string }{{"empty-ledger", empty}, {"10k-events", big}} {
			b.Run(key.name+"/"+lf.name, func(b *testing.B) {
				startServe(b, bin, rawKey, args(lf.path)) // the first start writes the checkpoint
				for b.Loop() {
					startServe(b, bin, rawKey, args(lf.path))
				}
			})
		}
		b.Run(key.name+"/10k-events-first-start", func(b *testing.B) {
			copy := filepath.Join(b.TempDir(), "copy.db")
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				copyFileTB(b, fresh, copy)
				b.StartTimer()
				startServe(b, bin, rawKey, args(copy))
			}
		})
	}
}

// writeEvents records n paid calls (2n events) in a new ledger at path, through the
// ledger package, as toll serve would.
func writeEvents(b *testing.B, path string, n int) {
	b.Helper()
	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer led.Close()
	ctx := b.Context()
	for i := range n {
		id := fmt.Sprintf("call-%d", i)
		in := ledger.Intent{CallID: id, Session: fmt.Sprintf("s%d", i%20), API: "weather", Tool: "weather_get_forecast",
			Network: "eip155:84532", Amount: money.USDC(1000), PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
			Nonce: fmt.Sprintf("0x%064x", i), ValidBefore: time.Now().Add(time.Hour)}
		if _, err := led.Reserve(ctx, in, ledger.Caps{}); err != nil {
			b.Fatal(err)
		}
		if err := led.Settle(ctx, id, "0xfeed"); err != nil {
			b.Fatal(err)
		}
	}
}

func copyFileTB(b *testing.B, src, dst string) {
	b.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		b.Fatal(err)
	}
}

// startServe starts toll serve with env added to its environment, initializes an MCP session over its stdio, waits for its
// tools/list answer, and stops it.
func startServe(b *testing.B, bin, env string, args []string) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	waitFor := func(id string) {
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"id":`+id+`,`) {
				return
			}
		}
		cmd.Wait()
		b.Fatalf("no response %s from toll serve; stderr:\n%s", id, stderr.String())
	}
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}`)
	waitFor("1")
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	waitFor("2")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("toll serve: %v; stderr:\n%s", err, stderr.String())
	}
}
