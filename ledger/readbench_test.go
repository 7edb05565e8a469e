package ledger

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Measurements of the readers on large ledgers, run by hand (they take minutes, and
// write ledgers of gigabytes), not in CI:
//
//	TOLL_LEDGER_MEASURE=DIR TOLL_LEDGER_MEASURE_EVENTS=100000,1000000 go test -run TestMeasureReaders -v -timeout 2h ./ledger
//
// builds in DIR (or reuses) a ledger of each size, filled through the ledger's own
// reserve and settle transactions (10,000 calls a transaction), then runs each reader
// on it while a writer on another handle (as toll serve would be) reserves and settles
// in a loop with serve's 5 s lock timeout, and reports per reader: its time, its peak
// Go heap (runtime.ReadMemStats, sampled every 5 ms), the writer's operations, its
// slowest and how many failed.
const (
	measureEnv       = "TOLL_LEDGER_MEASURE"
	measureEventsEnv = "TOLL_LEDGER_MEASURE_EVENTS"
)

func TestMeasureReaders(t *testing.T) {
	dir := os.Getenv(measureEnv)
	if dir == "" {
		t.Skip("set " + measureEnv + "=DIR to measure the readers on large ledgers")
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
		for _, r := range measureReaders() {
			m := measureOne(t, path, r.run)
			fi, _ := os.Stat(path)
			t.Logf("%d events (%d MB file): %-12s %6.2f s, peak heap %4d MB; writer: %d ops, slowest %v, %d failed",
				n, fi.Size()>>20, r.name, m.took.Seconds(), m.heap>>20, m.ops, m.slowest.Round(time.Millisecond), m.failed)
		}
	}
}

type measureReader struct {
	name string
	run  func(ctx context.Context, l *Ledger) error
}

func measureReaders() []measureReader {
	return []measureReader{
		{"idle 2 s", func(context.Context, *Ledger) error { time.Sleep(2 * time.Second); return nil }},
		{"open", func(context.Context, *Ledger) error { return nil }},
		{"export csv", func(ctx context.Context, l *Ledger) error {
			return l.ExportCSV(ctx, io.Discard, Filter{}, CSVOptions{})
		}},
		{"export jsonl", func(ctx context.Context, l *Ledger) error { return l.ExportJSONL(ctx, io.Discard, Filter{}) }},
		{"list json", func(ctx context.Context, l *Ledger) error {
			w := bufio.NewWriter(io.Discard)
			var b []byte
			return l.ScanSpends(ctx, Filter{}, func(s *Spend) error {
				b = s.AppendJSON(b[:0], "  ", "  ") // as toll ledger list --format json
				_, err := w.Write(b)
				return err
			})
		}},
		{"verify", func(ctx context.Context, l *Ledger) error { return l.Verify(ctx) }},
		{"recent", func(ctx context.Context, l *Ledger) error {
			_, err := l.Recent(ctx, SpendFilter{Session: "none"}, MaxRecent)
			return err
		}},
	}
}

// measureFill makes the ledger at path hold calls paid calls (reserved, then settled),
// unless it does already.
func measureFill(t *testing.T, path string, calls int) {
	if _, err := os.Stat(path); err == nil {
		return
	}
	tmp := path + ".part"
	os.Remove(tmp)
	l := openLedger(t, tmp, Options{Timeout: time.Minute})
	start := time.Now()
	const perTx = 10000
	for from := 0; from < calls; from += perTx {
		err := l.update(context.Background(), func(bk buckets) error {
			for i := from; i < min(from+perTx, calls); i++ {
				now := t0.Add(time.Duration(i) * time.Second)
				in := intent(fmt.Sprintf("call-%d", i), int64(1000+i%9000))
				in.Session, in.API, in.Tool = fmt.Sprintf("s%d", i%50), fmt.Sprintf("api%d", i%5), fmt.Sprintf("tool%d", i%20)
				if _, _, err := reserveTx(bk, in, Caps{}, now); err != nil {
					return err
				}
				if err := transitionTx(bk, Outcome{CallID: in.CallID, Kind: KindSettled, TxHash: "0x" + strings.Repeat("ab", 32)}, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %s: %d calls in %v", path, calls, time.Since(start).Round(time.Second))
}

type measurement struct {
	took    time.Duration
	heap    uint64
	ops     int
	slowest time.Duration
	failed  int
}

// measureOne opens the ledger and runs read on it, with the writer and the heap sampler
// going.
func measureOne(t *testing.T, path string, read func(context.Context, *Ledger) error) measurement {
	ctx := context.Background()
	w := openLedger(t, path, Options{Timeout: 5 * time.Second}) // serve's
	var m measurement
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var seq atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("w-%d-%d", time.Now().UnixNano(), seq.Add(1))
			for _, op := range []func() error{
				func() error { _, err := w.Reserve(ctx, intent(id, 10), Caps{}); return err },
				func() error { return w.Settle(ctx, id, "0x1") },
			} {
				start := time.Now()
				err := op()
				d := time.Since(start)
				mu.Lock()
				m.ops++
				m.slowest = max(m.slowest, d)
				if err != nil {
					m.failed++
				}
				mu.Unlock()
				if err != nil {
					break
				}
			}
		}
	})
	runtime.GC()
	var peak atomic.Uint64
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	start := time.Now()
	l, err := Open(path, Options{NoCreate: true})
	if err == nil {
		err = read(ctx, l)
	}
	m.took = time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	m.heap = peak.Load()
	return m
}

// Lock waits with several processes: each of lockProcs processes (this test binary run
// again) reserves and settles lockCycles calls on one ledger and prints how long each
// Reserve took; the parent reports p50, p99 and the maximum over all of them. By hand:
//
//	TOLL_LEDGER_MEASURE_LOCK=1 go test -run TestMeasureLockWaits -v ./ledger
const (
	measureLockEnv       = "TOLL_LEDGER_MEASURE_LOCK"
	measureLockWorkerEnv = "TOLL_LEDGER_MEASURE_LOCK_WORKER"
	lockProcs            = 4
	lockCycles           = 300
)

func TestMeasureLockWaits(t *testing.T) {
	if path := os.Getenv(measureLockWorkerEnv); path != "" {
		lockWorker(t, path)
		return
	}
	if os.Getenv(measureLockEnv) == "" {
		t.Skip("set " + measureLockEnv + "=1 to measure lock waits with several processes")
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	openLedger(t, path, Options{})
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	start := time.Now()
	for range lockProcs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMeasureLockWaits$", "-test.v")
		cmd.Env = append(os.Environ(), measureLockWorkerEnv+"="+path)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	var waits []time.Duration
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("worker %d: %v\n%s", i, err, outs[i])
		}
		for _, line := range strings.Split(outs[i].String(), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "reserve-ns "); ok {
				ns, _ := strconv.ParseInt(v, 10, 64)
				waits = append(waits, time.Duration(ns))
			}
		}
	}
	took := time.Since(start)
	if len(waits) != lockProcs*lockCycles {
		t.Fatalf("%d Reserve times, want %d", len(waits), lockProcs*lockCycles)
	}
	slices.Sort(waits)
	q := func(p float64) time.Duration { return waits[int(p*float64(len(waits)-1))].Round(10 * time.Microsecond) }
	t.Logf("%d processes × %d reserve+settle in %v (%.0f cycles/s, with the processes' start): Reserve p50 %v, p99 %v, max %v",
		lockProcs, lockCycles, took.Round(time.Millisecond), float64(lockProcs*lockCycles)/took.Seconds(), q(0.5), q(0.99), q(1))
}

func lockWorker(t *testing.T, path string) {
	l, err := Open(path, Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pid := os.Getpid()
	for i := range lockCycles {
		id := fmt.Sprintf("p%d-%d", pid, i)
		start := time.Now()
		_, err := l.Reserve(ctx, intent(id, 10), Caps{})
		d := time.Since(start)
		if err == nil {
			err = l.Settle(ctx, id, "0x1")
		}
		if err != nil && !errors.Is(err, ErrCapExceeded) {
			t.Fatal(err)
		}
		fmt.Printf("reserve-ns %d\n", d.Nanoseconds())
	}
}
