package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Summarize's time and peak heap on large ledgers, run by hand as TestMeasureReaders is
// (same environment, same ledgers, built in DIR when missing):
//
//	TOLL_LEDGER_MEASURE=DIR TOLL_LEDGER_MEASURE_EVENTS=1000000 go test -run TestMeasureSummarize -v -timeout 2h ./ledger
//
// with the writer of measureOne going, as toll serve would be.
func TestMeasureSummarize(t *testing.T) {
	dir := os.Getenv(measureEnv)
	if dir == "" {
		t.Skip("set " + measureEnv + "=DIR to measure Summarize on large ledgers")
	}
	sizes := os.Getenv(measureEventsEnv)
	if sizes == "" {
		sizes = "100000"
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("ledger-%d.db", n))
		measureFill(t, path, n/2)
		var sum *Summary
		m := measureOne(t, path, func(ctx context.Context, l *Ledger) error {
			var err error
			sum, err = l.Summarize(ctx, Filter{})
			return err
		})
		t.Logf("%d events: summarize %6.2f s, peak heap %4d MB; writer: %d ops, slowest %v, %d failed; %d calls settled, %d days, %d APIs, %d tools",
			n, m.took.Seconds(), m.heap>>20, m.ops, m.slowest.Round(time.Millisecond), m.failed,
			sum.Total.Settled.Count, len(sum.Days), len(sum.APIs), len(sum.Tools))
	}
}
