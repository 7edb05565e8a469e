package catalog

import (
	"context"
	"errors"
	"testing"
)

func TestParallelMap(t *testing.T) {
	const n, goroutines = 100, 3
	seen := make([][]int, goroutines) // what each goroutine computed: its own slice, no lock
	got, err := parallelMap(t.Context(), n, goroutines, func(w, i int) int {
		seen[w] = append(seen[w], i)
		return i * i
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i*i {
			t.Fatalf("got[%d] = %d, want %d", i, v, i*i)
		}
	}
	total := 0
	for w, is := range seen {
		total += len(is)
		for _, i := range is {
			if i%goroutines != w {
				t.Errorf("goroutine %d computed %d", w, i)
			}
		}
	}
	if total != n {
		t.Errorf("%d calls, want %d", total, n)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	if _, err := parallelMap(ctx, n, 1, func(_, i int) int { calls++; return i }); !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("canceled: %v after %d calls, want context.Canceled after none", err, calls)
	}
}

func TestWorkers(t *testing.T) {
	for _, tt := range []struct{ n, per, most int }{{0, 16, 1}, {15, 16, 1}, {10_000, 16, maxWorkers}, {3, 1, 3}} {
		if got := workers(tt.n, tt.per); got < 1 || got > tt.most {
			t.Errorf("workers(%d, %d) = %d, want 1 to %d", tt.n, tt.per, got, tt.most)
		}
	}
}
