package onchain_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// fakeNode answers eth_blockNumber and eth_getLogs like a hosted provider that refuses
// ranges wider than maxRange blocks, with one AuthorizationUsed log at block logAt.
type fakeNode struct {
	head, logAt, maxRange uint64

	mu     sync.Mutex
	ranges [][2]uint64 // the ranges asked, in order (refused ones included)
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage   `json:"id"`
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	reply := func(result any, rpcErr any) {
		msg := map[string]any{"jsonrpc": "2.0", "id": req.ID}
		if rpcErr != nil {
			msg["error"] = rpcErr
		} else {
			msg["result"] = result
		}
		json.NewEncoder(w).Encode(msg)
	}
	switch req.Method {
	case "eth_blockNumber":
		reply(fmt.Sprintf("%#x", f.head), nil)
	case "eth_getLogs":
		var q struct {
			FromBlock, ToBlock string
			Topics             []json.RawMessage
		}
		json.Unmarshal(req.Params[0], &q)
		from, _ := strconv.ParseUint(strings.TrimPrefix(q.FromBlock, "0x"), 16, 64)
		to, _ := strconv.ParseUint(strings.TrimPrefix(q.ToBlock, "0x"), 16, 64)
		f.mu.Lock()
		f.ranges = append(f.ranges, [2]uint64{from, to})
		f.mu.Unlock()
		if to-from+1 > f.maxRange {
			reply(nil, map[string]any{"code": -32005, "message": fmt.Sprintf("block range too large, max %d", f.maxRange)})
			return
		}
		logs := []any{}
		if from <= f.logAt && f.logAt <= to && len(q.Topics) >= 2 {
			var topics []string
			for _, t := range q.Topics {
				var one []string
				json.Unmarshal(t, &one)
				topics = append(topics, one[0])
			}
			if len(topics) == 2 { // a search by authorizer alone: the log has its nonce
				topics = append(topics, "0x"+strings.Repeat("03", 32))
			}
			logs = append(logs, map[string]any{
				"address": "0x0000000000000000000000000000000000000001", "topics": topics, "data": "0x",
				"blockNumber": fmt.Sprintf("%#x", f.logAt), "transactionHash": "0x" + strings.Repeat("ab", 32),
				"transactionIndex": "0x0", "blockHash": "0x" + strings.Repeat("cd", 32), "logIndex": "0x0", "removed": false,
			})
		}
		reply(logs, nil)
	default:
		reply(nil, map[string]any{"code": -32601, "message": "method not found"})
	}
}

// asked returns the block ranges asked for so far, in order.
func (f *fakeNode) asked() [][2]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ranges)
}

// dial serves f over HTTP and returns a client dialed to it; both close when the test
// ends.
func (f *fakeNode) dial(t *testing.T) *onchain.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := onchain.Dial(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestFindAuthorizationWindows(t *testing.T) {
	token, payer := wallet.Address{1}, wallet.Address{2}
	t.Run("found after narrowing the window", func(t *testing.T) {
		f := &fakeNode{head: 10_000, logAt: 6_000, maxRange: 500}
		c := f.dial(t)
		tx, found, err := c.FindAuthorization(t.Context(), token, payer, [32]byte{3})
		if err != nil || !found || tx != "0x"+strings.Repeat("ab", 32) {
			t.Fatalf("FindAuthorization = %q, %v, %v", tx, found, err)
		}
		// 2000 → 1000 → 500 refused twice, then newest-first windows of 500 down to 6000.
		ranges := f.asked()
		if got := ranges[:3]; got[0] != [2]uint64{8_001, 10_000} || got[2] != [2]uint64{9_501, 10_000} {
			t.Errorf("first ranges = %v", got)
		}
		last := ranges[len(ranges)-1]
		if last != [2]uint64{5_501, 6_000} {
			t.Errorf("last range = %v, want the window holding block 6000", last)
		}
	})
	t.Run("bounded search", func(t *testing.T) {
		f := &fakeNode{head: 10_000_000, logAt: 1, maxRange: onchain.LogWindow}
		c := f.dial(t)
		_, found, err := c.FindAuthorization(t.Context(), token, payer, [32]byte{3})
		if err != nil || found {
			t.Fatalf("FindAuthorization = %v, %v; want not found", found, err)
		}
		ranges := f.asked()
		if n, want := len(ranges), onchain.SearchBlocks/onchain.LogWindow; n != want {
			t.Errorf("%d eth_getLogs requests, want %d", n, want)
		}
		if low := ranges[len(ranges)-1][0]; low != 10_000_000-onchain.SearchBlocks+1 {
			t.Errorf("search went down to block %d, want %d", low, 10_000_000-onchain.SearchBlocks+1)
		}
	})
	t.Run("provider refuses every range", func(t *testing.T) {
		f := &fakeNode{head: 10_000, logAt: 1, maxRange: 0}
		c := f.dial(t)
		_, _, err := c.FindAuthorization(t.Context(), token, payer, [32]byte{3})
		if err == nil || !strings.Contains(err.Error(), "block range too large") {
			t.Errorf("err = %v, want the provider's refusal", err)
		}
		// Each refusal halves the window, until one of at most 16 blocks is refused too.
		var widths, want []uint64
		for _, r := range f.asked() {
			widths = append(widths, r[1]-r[0]+1)
		}
		for w := uint64(onchain.LogWindow); ; w /= 2 {
			want = append(want, w)
			if w <= 16 {
				break
			}
		}
		if !slices.Equal(widths, want) {
			t.Errorf("windows asked = %v, want %v", widths, want)
		}
	})
}

// TestAuthorizationsUsedWindows: the audit's search reads every block from..head, oldest
// first, narrowing its window when the provider refuses one, and finds the log.
func TestAuthorizationsUsedWindows(t *testing.T) {
	f := &fakeNode{head: 10_000, logAt: 6_000, maxRange: 500}
	c := f.dial(t)
	used, to, err := c.AuthorizationsUsed(t.Context(), wallet.Address{1}, wallet.Address{2}, 100, 0)
	if err != nil || to != 10_000 || len(used) != 1 || used[0].Block != 6_000 || used[0].Nonce != [32]byte(bytesOf(0x03)) {
		t.Fatalf("AuthorizationsUsed = %+v, %d, %v", used, to, err)
	}
	var next uint64 = 100
	for _, r := range f.asked() {
		if r[1]-r[0]+1 > 500 {
			continue // refused
		}
		if r[0] != next {
			t.Fatalf("range %v does not follow block %d: a gap or an overlap", r, next-1)
		}
		next = r[1] + 1
	}
	if next != 10_001 {
		t.Errorf("the search stopped at block %d, want 10000", next-1)
	}
	refusing := &fakeNode{head: 10_000, maxRange: 0}
	if _, _, err := refusing.dial(t).AuthorizationsUsed(t.Context(), wallet.Address{1}, wallet.Address{2}, 0, 0); err == nil {
		t.Error("a provider that refuses every range gave no error")
	}
}

func bytesOf(b byte) []byte { return []byte(strings.Repeat(string([]byte{b}), 32)) }
