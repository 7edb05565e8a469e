package catalog

import (
	"context"
	"runtime"
	"sync"
)

// maxWorkers is the most goroutines one step of a load fans out to.
const maxWorkers = 8

// workers is how many goroutines to give n independent pieces of work, at
// least per pieces each: one per CPU, at most maxWorkers, at least one.
func workers(n, per int) int {
	return max(1, min(runtime.GOMAXPROCS(0), maxWorkers, n/per))
}

// parallelMap returns fn(w, i) for every i in [0, n), computed on
// goroutines goroutines: goroutine w (0 ≤ w < goroutines) takes i = w,
// w+goroutines, …, so fn may keep state of its own per w. Once ctx is done
// no further i is started, and parallelMap returns ctx.Err().
func parallelMap[T any](ctx context.Context, n, goroutines int, fn func(w, i int) T) ([]T, error) {
	out := make([]T, n)
	var wg sync.WaitGroup
	for w := range goroutines {
		wg.Go(func() {
			for i := w; i < n; i += goroutines {
				if ctx.Err() != nil {
					return
				}
				out[i] = fn(w, i)
			}
		})
	}
	wg.Wait()
	return out, ctx.Err()
}
