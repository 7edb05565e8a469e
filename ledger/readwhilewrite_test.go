package ledger

import (
	"path/filepath"
	"testing"
)

// TestReadersDoNotStopTheWriter is issue 11's case, at a size CI affords: an auditor
// exports, lists and verifies a ledger of 40,000 events while a writer on another handle
// (as toll serve is, with its 5 s lock timeout) reserves and settles in a loop. Every
// write succeeds, the writer went on during each reader, and the ledger verifies after,
// its every write recorded. (By hand, at a million events and with timings:
// TestMeasureReaders.)
func TestReadersDoNotStopTheWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 40,000-event ledger")
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	measureFill(t, path, 20_000)
	for _, r := range measureReaders() {
		if r.name == "idle 2 s" {
			continue
		}
		m := measureOne(t, path, r.run)
		if m.failed != 0 {
			t.Errorf("%s: %d of the writer's %d operations failed", r.name, m.failed, m.ops)
		}
		if m.ops == 0 && r.name != "open" {
			t.Errorf("%s: the writer made no operation while it read", r.name)
		}
	}
	l := openLedger(t, path, Options{})
	if err := l.Verify(t.Context()); err != nil {
		t.Fatalf("after the readers and the writer: %v", err)
	}
	n := 0
	for _, sp := range spends(t, l) {
		if sp.Status != StatusSettled {
			t.Errorf("%s is %s: the writer's settle was not recorded", sp.CallID, sp.Status)
		}
		n++
	}
	if n <= 20_000 {
		t.Errorf("%d spends: the writer's are missing", n)
	}
}
