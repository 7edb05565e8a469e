package catalog

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
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

// TestParallelLoad loads a JSON spec large enough for every parallel path of a load (the
// path items decoded on several goroutines, the operations built on several), with shared
// components, a price and a config price, twice: the two APIs are the same. CI runs it
// under the race detector (.ci/run), where the large-spec tests would take minutes.
func TestParallelLoad(t *testing.T) {
	const n = 96
	var b strings.Builder
	b.WriteString(`{"openapi":"3.0.3","info":{"title":"Par","version":"1"},"servers":[{"url":"https://par.example.com"}],"paths":{`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"/items/%d/{id}":{"parameters":[{"$ref":"#/components/parameters/Id"}],`+
			`"get":{"operationId":"get%d","summary":"Item %d","x-payment-info":{"price":{"mode":"fixed","amount":"0.001"}},"responses":{"200":{"description":"OK"}}},`+
			`"post":{"operationId":"post%d","requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Item"}}}},"responses":{"200":{"description":"OK"}}}}`, i, i, i, i)
	}
	b.WriteString(`},"components":{"parameters":{"Id":{"name":"id","in":"path","required":true,"schema":{"type":"string"}}},` +
		`"schemas":{"Item":{"type":"object","properties":{"name":{"type":"string"},"tags":{"type":"array","items":{"$ref":"#/components/schemas/Tag"}}}},` +
		`"Tag":{"allOf":[{"type":"object","properties":{"k":{"type":"string"}}},{"type":"object","properties":{"v":{"type":"string"}}}]}}}}`)
	if workers(n, 1) < 2 && runtime.GOMAXPROCS(0) > 1 {
		t.Fatalf("workers(%d, 1) = %d: the test does not run the path items in parallel", n, workers(n, 1))
	}
	opts := Options{Prices: map[string]money.Amount{"post7": money.USDC(2000)}}
	first, err := Load(t.Context(), []byte(b.String()), "par.json", opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Operations) != 2*n {
		t.Fatalf("%d operations, want %d", len(first.Operations), 2*n)
	}
	again, err := Load(t.Context(), []byte(b.String()), "par.json", opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again, cmpMoney); diff != "" {
		t.Errorf("two loads of one spec differ (-first +again):\n%s", diff)
	}
	if p := operation(t, first, "par_post7").Price; p == nil || p.Amount.Cmp(money.USDC(2000)) != 0 {
		t.Errorf("post7 price %v, want the config's 0.002", p)
	}
}
