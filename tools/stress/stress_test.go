package stress

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

const (
	usdc  = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
	payTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
)

// randomPriceAPI answers each unpaid request with a 402 at a random price around the
// caps and settles every payment at once, recording each nonce it is paid with.
type randomPriceAPI struct {
	mu     sync.Mutex
	nonces map[string]int
	paid   atomic.Int64
}

func (a *randomPriceAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := r.Header.Get(x402.HeaderXPayment); h != "" {
		var p x402.PaymentPayloadV1
		if err := x402.DecodeHeader(h, &p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		a.mu.Lock()
		a.nonces[p.Payload.Authorization.Nonce]++
		a.mu.Unlock()
		v, _ := new(big.Int).SetString(p.Payload.Authorization.Value, 10)
		a.paid.Add(v.Int64())
		sr, _ := x402.EncodeHeader(x402.SettlementResponse{Success: true, Transaction: "0x" + strings.TrimPrefix(p.Payload.Authorization.Nonce, "0x"), Network: "base-sepolia"})
		w.Header().Set(x402.HeaderXPaymentResponse, sr)
		w.Write([]byte(`{}`))
		return
	}
	price := 1 + rand.IntN(1200) // around the per-call cap (1000) and the advertised 1100
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusPaymentRequired)
	json.NewEncoder(w).Encode(x402.PaymentRequiredV1{X402Version: 1, Accepts: []x402.RequirementV1{{
		Scheme: "exact", Network: "base-sepolia", MaxAmountRequired: fmt.Sprint(price), Resource: "x",
		PayTo: payTo, MaxTimeoutSeconds: 60, Asset: usdc, Extra: json.RawMessage(`{"name":"USDC","version":"2"}`),
	}}})
}

// TestConcurrencyProperty: 64 goroutines make 1,000 paid calls in all, for two agents with
// their own caps, at random prices around the caps, over two ledger handles on one file. Afterwards no cap was ever exceeded
// at any point of the ledger's history, every settled spend was paid exactly once with its
// own nonce, and the ledger, the API and the totals agree.
func TestConcurrencyProperty(t *testing.T) {
	api := &randomPriceAPI{nonces: map[string]int{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "ledger.db")
	caps := ledger.Caps{
		PerCall:    ptr(money.USDC(1000)),
		PerSession: ptr(money.USDC(150_000)),
		PerDay:     ptr(money.USDC(280_000)),
		Total:      ptr(money.USDC(300_000)),
		PerAPI:     map[string]money.Amount{"a": money.USDC(200_000)},
		PerTool:    map[string]money.Amount{"a_get": money.USDC(120_000)},
	}
	agents := map[string]tools.AgentPolicy{
		"alice": {Caps: ledger.AgentCaps{Total: ptr(money.USDC(100_000)), PerDay: ptr(money.USDC(90_000)), PerCall: ptr(money.USDC(900))}},
		"bob":   {Caps: ledger.AgentCaps{Total: ptr(money.USDC(250_000)), PerAPI: map[string]money.Amount{"b": money.USDC(40_000)}}},
	}
	agentNames := []string{"alice", "bob"}
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var clients []*tools.Client
	var handles []*ledger.Ledger
	for range 2 {
		led, err := ledger.Open(path, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer led.Close()
		handles = append(handles, led)
		c, err := tools.New(tools.Config{Wallet: w, Ledger: led, Policy: tools.Policy{Networks: []string{"eip155:84532"}, Caps: caps, Agents: agents}})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	op := func(api, name string) *catalog.Operation {
		return &catalog.Operation{
			API: api, Name: name, Method: "GET", ServerURL: srv.URL, Path: "/x",
			InputSchema: json.RawMessage(`{"type":"object"}`),
			Price:       &catalog.Price{Amount: money.USDC(1100), Asset: "USDC", Scheme: "exact", Mode: "fixed"},
		}
	}
	ops := []*catalog.Operation{op("a", "a_get"), op("a", "a_list"), op("b", "b_get")}
	sessions := []string{"s1", "s2", "s3"}

	const workers, calls = 64, 1000
	var next atomic.Int64
	var settled, refused, other atomic.Int64
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > calls {
					return
				}
				c := clients[(g+int(i))%len(clients)]
				res, err := c.Call(t.Context(), tools.Call{
					Op: ops[int(i)%len(ops)], Session: sessions[int(i)%len(sessions)], Agent: agentNames[int(i/3)%len(agentNames)],
				})
				switch {
				case err == nil && res.Payment != nil && res.Payment.Status == ledger.StatusSettled:
					settled.Add(1)
				case errors.Is(err, tools.ErrRefused):
					refused.Add(1)
				default:
					other.Add(1)
					t.Errorf("call %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	// An outcome rides the handle's next commit (ledger.RecordLater): closing the handles
	// commits what still waits, as toll serve does when it stops.
	for _, h := range handles {
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d calls: %d settled, %d refused, %d other", calls, settled.Load(), refused.Load(), other.Load())
	if settled.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("the prices did not exercise both sides of the caps: %d settled, %d refused", settled.Load(), refused.Load())
	}

	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	if err := led.Verify(t.Context()); err != nil {
		t.Fatal(err)
	}
	events, err := led.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Replay the history: after every event, what counts stays within every cap.
	type key struct{ kind, name string }
	counted := map[key]money.Amount{}
	limit := map[key]*money.Amount{{"total", ""}: caps.Total, {"day", ""}: caps.PerDay, {"api", "a"}: ptr(caps.PerAPI["a"]), {"tool", "a_get"}: ptr(caps.PerTool["a_get"])}
	for _, s := range sessions {
		limit[key{"session", s}] = caps.PerSession
	}
	for name, a := range agents {
		limit[key{"agent", name}], limit[key{"agent day", name}] = a.Caps.Total, a.Caps.PerDay
		for api, v := range a.Caps.PerAPI {
			limit[key{"agent api", name + "/" + api}] = &v
		}
	}
	amounts := map[string]ledger.Event{}
	agentRefusals := map[string]int{}
	for _, e := range events {
		var sign int64
		switch e.Kind {
		case ledger.KindRefused:
			if strings.HasPrefix(e.Cap, "agent ") {
				agentRefusals[e.Agent]++
			}
			continue
		case ledger.KindReserved:
			amounts[e.CallID] = e
			if e.Amount.Cmp(*caps.PerCall) > 0 {
				t.Errorf("event %d reserves %s, above the per-call cap", e.Seq, e.Amount)
			}
			if l := agents[e.Agent].Caps.PerCall; e.Agent == "" || (l != nil && e.Amount.Cmp(*l) > 0) {
				t.Errorf("event %d reserves %s for agent %q, above its per-call cap", e.Seq, e.Amount, e.Agent)
			}
			sign = 1
		case ledger.KindReleased, ledger.KindVoided:
			sign = -1
		default:
			continue
		}
		r := amounts[e.CallID]
		for _, k := range []key{{"total", ""}, {"day", ""}, {"session", r.Session}, {"api", r.API}, {"tool", r.Tool},
			{"agent", r.Agent}, {"agent day", r.Agent}, {"agent api", r.Agent + "/" + r.API}} {
			if sign > 0 {
				counted[k] = counted[k].Add(*r.Amount)
			} else {
				counted[k] = counted[k].Sub(*r.Amount)
			}
			if l := limit[k]; l != nil && counted[k].Cmp(*l) > 0 {
				t.Fatalf("after event %d the %s %q count %s exceeds its cap %s", e.Seq, k.kind, k.name, counted[k], l)
			}
		}
	}
	t.Logf("refused by an agent's own cap: %v", agentRefusals)
	for _, name := range agentNames {
		if agentRefusals[name] == 0 {
			t.Errorf("no call of %s was refused by its own caps: the prices did not reach them", name)
		}
	}
	spends, err := led.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var sum money.Amount
	for _, s := range spends {
		if s.Status != ledger.StatusSettled {
			t.Errorf("spend %s is %s", s.CallID, s.Status)
		}
		if n := api.nonces[s.Nonce]; n != 1 {
			t.Errorf("nonce %s was paid %d times", s.Nonce, n)
		}
		sum = sum.Add(s.Amount)
	}
	if len(spends) != int(settled.Load()) || len(api.nonces) != len(spends) {
		t.Errorf("%d spends, %d settled calls, %d distinct nonces paid", len(spends), settled.Load(), len(api.nonces))
	}
	if sum.Cmp(money.USDC(api.paid.Load())) != 0 {
		t.Errorf("ledger settled %s, the API was paid %d", sum, api.paid.Load())
	}
	tot, err := led.Totals(t.Context(), "", "")
	if err != nil || tot.Total.Cmp(sum) != 0 {
		t.Errorf("Totals.Total = %v (%v), want %s", tot.Total, err, sum)
	}
}

func ptr[T any](v T) *T { return &v }
