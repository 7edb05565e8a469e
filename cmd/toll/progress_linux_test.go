package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestProgressOnATerminal: a discovery import shows its progress on a terminal (stderr a
// pseudo-terminal) and clears it, and writes no progress where stderr is not a terminal;
// stdout carries only the catalog file either way.
func TestProgressOnATerminal(t *testing.T) {
	s := newE2E(t)
	master, tty := openPTY(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stdout safeBuffer
	cmd := exec.CommandContext(ctx, tollBinary(t), "catalog", "discover", "--facilitator", s.world.FacilitatorURL)
	cmd.Env = withoutTollEnv()
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var shown safeBuffer
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			shown.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	err := cmd.Wait()
	tty.Close()
	<-drained
	if err != nil {
		t.Fatalf("toll catalog discover: %v\n%s", err, shown.String())
	}
	if !strings.Contains(shown.String(), "\rreading the Bazaar: 1 pages, ") {
		t.Errorf("the terminal shows no progress:\n%q", shown.String())
	}
	var doc struct{ Items []any }
	if err := json.Unmarshal([]byte(stdout.String()), &doc); err != nil || len(doc.Items) == 0 {
		t.Errorf("stdout is not the catalog file: %v\n%s", err, stdout.String())
	}
	run := runBinary(t, nil, "catalog", "discover", "--facilitator", s.world.FacilitatorURL)
	if run.code != 0 || strings.Contains(run.stderr, "reading the Bazaar") || strings.Contains(run.stderr, "\r") {
		t.Errorf("stderr not a terminal: exit %d, stderr %q: want no progress", run.code, run.stderr)
	}
}
