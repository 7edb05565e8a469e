package tools

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

func usdc(n int64) *money.Amount { a := money.USDC(n); return &a }

func TestApprovalReasons(t *testing.T) {
	rule := ApprovalRule{
		Threshold: usdc(500000),
		PerAPI:    map[string]money.Amount{"cheap": money.USDC(10000)},
		NewPayee:  true,
		Agents:    map[string]ApprovalRule{"trusted": {Threshold: usdc(5000000)}},
	}
	tests := []struct {
		name     string
		agent    string
		api      string
		amount   int64
		newPayee bool
		want     []string
	}{
		{"under the threshold", "", "wx", 400000, false, nil},
		{"exactly at the threshold", "", "wx", 500000, false, nil},
		{"one unit over", "", "wx", 500001, false, []string{"0.500001 USDC is over the approval threshold 0.5 USDC"}},
		{"the API's own threshold is lower", "", "cheap", 20000, false, []string{"0.02 USDC is over the approval threshold 0.01 USDC of API cheap"}},
		{"the API's own threshold wins over a lower global one", "", "cheap", 10000, false, nil},
		{"new payee", "", "wx", 1000, true, []string{"toll has never paid " + testPayTo + " before"}},
		{"both", "", "wx", 600000, true, []string{"0.6 USDC is over the approval threshold 0.5 USDC", "toll has never paid " + testPayTo + " before"}},
		{"an agent's own rule replaces the rule", "trusted", "wx", 600000, true, nil},
		{"an unknown agent follows the rule", "other", "wx", 600000, false, []string{"0.6 USDC is over the approval threshold 0.5 USDC"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rule.For(tc.agent).Reasons(tc.api, money.USDC(tc.amount), testPayTo, tc.newPayee)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Reasons (-want +got):\n%s", diff)
			}
		})
	}
	if (ApprovalRule{}).On() || !(ApprovalRule{Agents: map[string]ApprovalRule{"a": {NewPayee: true}}}).On() {
		t.Error("On: the zero rule asks, or a rule whose only agent asks does not")
	}
	if err := (Policy{Networks: []string{"eip155:84532"}, Approval: ApprovalRule{Threshold: usdc(-1)}}).Check(); err == nil {
		t.Error("Policy.Check accepted a negative approval threshold")
	}
}

// testApprover answers every ask with its decision and remembers what it was asked.
type testApprover struct {
	mu       sync.Mutex
	decision Decision
	answered *Decision // what Answered returns when the terms are covered by cover
	cover    *ledger.Approval
	asked    []ledger.Approval
	onAsk    func() // runs during Ask (a test changes the 402 there)
}

func (a *testApprover) Answered(req *ledger.Approval) *Decision {
	if a.answered != nil && a.cover != nil && ApprovalCovers(a.cover, req) {
		return a.answered
	}
	return nil
}

func (a *testApprover) Ask(_ context.Context, req *ledger.Approval) (Decision, error) {
	a.mu.Lock()
	a.asked = append(a.asked, *req)
	a.mu.Unlock()
	if a.onAsk != nil {
		a.onAsk()
	}
	return a.decision, nil
}

func eventKinds(t *testing.T, l *ledger.Ledger) []ledger.Kind {
	t.Helper()
	evs, err := l.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Kind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func approvalFixture(t *testing.T, rule ApprovalRule, caps ledger.Caps, agent ...ledger.AgentCaps) (*fixture, *hostileAPI) {
	api := &hostileAPI{unpaid: write402(good()), paid: settledOK}
	bot := AgentPolicy{}
	if len(agent) > 0 {
		bot.Caps = agent[0]
	}
	return serveFixture(t, api, Policy{Approval: rule, Caps: caps, Agents: map[string]AgentPolicy{"bot": bot}}), api
}

func (f *fixture) callWith(t *testing.T, ap Approver, id string) (*Result, error) {
	t.Helper()
	return f.client.Call(t.Context(), Call{Op: f.op, Arguments: []byte(`{"id":"42"}`), Session: "s1", ID: id, Agent: "bot", Approver: ap})
}

func TestApprovalDecisions(t *testing.T) {
	over := ApprovalRule{Threshold: usdc(999)} // the 402 asks 1000
	tests := []struct {
		name     string
		rule     ApprovalRule
		caps     ledger.Caps
		agent    ledger.AgentCaps // the calling agent's own caps
		approver *testApprover    // nil: no approver
		paid     bool
		rule_    Rule // the refusal's rule when not paid
		events   []ledger.Kind
		asked    int
	}{
		{"approved pays", over, ledger.Caps{}, ledger.AgentCaps{}, &testApprover{decision: Decision{Approved: true, By: "elicitation"}}, true, "",
			[]ledger.Kind{ledger.KindApprovalAsked, ledger.KindApproved, ledger.KindReserved, ledger.KindSettled}, 1},
		{"declined signs nothing", over, ledger.Caps{}, ledger.AgentCaps{}, &testApprover{decision: Decision{By: "elicitation", Reason: "declined"}}, false, RuleApproval,
			[]ledger.Kind{ledger.KindApprovalAsked, ledger.KindDenied}, 1},
		{"a decision already recorded is not recorded again", over, ledger.Caps{}, ledger.AgentCaps{}, &testApprover{decision: Decision{Approved: true, By: "os-user:ann", Recorded: true}}, true, "",
			[]ledger.Kind{ledger.KindApprovalAsked, ledger.KindReserved, ledger.KindSettled}, 1},
		{"no approver is a refusal", over, ledger.Caps{}, ledger.AgentCaps{}, nil, false, RuleApproval, []ledger.Kind{ledger.KindRefused}, 0},
		{"a cap refuses before anyone is asked", over, ledger.Caps{Total: usdc(998)}, ledger.AgentCaps{}, &testApprover{decision: Decision{Approved: true, By: "elicitation"}}, false, RuleCap,
			[]ledger.Kind{ledger.KindRefused}, 0},
		{"the agent's cap refuses before anyone is asked", over, ledger.Caps{}, ledger.AgentCaps{Total: usdc(998)}, &testApprover{decision: Decision{Approved: true, By: "elicitation"}}, false, RuleCap,
			[]ledger.Kind{ledger.KindRefused}, 0},
		{"under the threshold asks no one", ApprovalRule{Threshold: usdc(1000)}, ledger.Caps{}, ledger.AgentCaps{}, &testApprover{}, true, "",
			[]ledger.Kind{ledger.KindReserved, ledger.KindSettled}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, api := approvalFixture(t, tc.rule, tc.caps, tc.agent)
			var ap Approver
			if tc.approver != nil {
				ap = tc.approver
			}
			res, err := f.callWith(t, ap, "")
			if tc.paid {
				if err != nil || res.Payment == nil {
					t.Fatalf("call: %v, want paid", err)
				}
			} else {
				var refused *RefusedError
				if !errors.As(err, &refused) || refused.Rule != tc.rule_ {
					t.Fatalf("call: %v, want a refusal by %q", err, tc.rule_)
				}
			}
			if got, want := api.count(), map[bool]int{true: 1}[tc.paid]; got != want {
				t.Errorf("payments the API saw: %d, want %d", got, want)
			}
			if diff := cmp.Diff(tc.events, eventKinds(t, f.ledger)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if tc.approver != nil && len(tc.approver.asked) != tc.asked {
				t.Errorf("asked %d times, want %d", len(tc.approver.asked), tc.asked)
			}
		})
	}
}

func TestApprovalRequestContents(t *testing.T) {
	f, _ := approvalFixture(t, ApprovalRule{Threshold: usdc(999)}, ledger.Caps{PerSession: usdc(5000), PerDay: usdc(3000)})
	ap := &testApprover{decision: Decision{Approved: true, By: "elicitation"}}
	if _, err := f.callWith(t, ap, "call_fixed"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.callWith(t, ap, ""); err != nil {
		t.Fatal(err)
	}
	second := ap.asked[1]
	if ap.asked[0].CallID != "call_fixed" || second.Agent != "bot" || second.Session != "s1" || second.Tool != "test_get" {
		t.Fatalf("first ask %+v / second %+v: want the given call id, the agent, the session and the tool", ap.asked[0], second)
	}
	if units := second.SpentSession.Atomic().Int64(); units != 1000 {
		t.Errorf("spent this session: %d, want 1000 (the first call)", units)
	}
	if second.Remaining == nil || second.Remaining.Atomic().Int64() != 2000 || second.RemainingCap != ledger.CapPerDay {
		t.Errorf("remaining %v under %q, want 2000 under the per-day cap", second.Remaining, second.RemainingCap)
	}
	evs, err := f.ledger.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.CallID == "call_fixed" && e.Kind != ledger.KindSettled && e.Agent != "bot" {
			t.Errorf("event %s of call_fixed has agent %q, want bot", e.Kind, e.Agent)
		}
	}
}

// TestApprovalTermsBinding: an answer given for some terms pays the same or lower terms
// on a later round, and asks again for higher ones or another payee; an approval given
// after a wait reads the terms again.
func TestApprovalTermsBinding(t *testing.T) {
	rule := ApprovalRule{Threshold: usdc(500)}
	approvedFor := func(amount int64) *ledger.Approval {
		return &ledger.Approval{Tool: "test_get", Network: "base-sepolia", Asset: testUSDC, PayTo: testPayTo, Amount: money.USDC(amount)}
	}
	tests := []struct {
		name    string
		covered *ledger.Approval
		asked   int
	}{
		{"same terms", approvedFor(1000), 0},
		{"lower terms", approvedFor(5000), 0},
		{"higher terms", approvedFor(999), 1},
		{"another payee", func() *ledger.Approval { a := approvedFor(1000); a.PayTo = otherAddr; return a }(), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, api := approvalFixture(t, rule, ledger.Caps{})
			ap := &testApprover{answered: &Decision{Approved: true, By: "elicitation"}, cover: tc.covered, decision: Decision{By: "elicitation", Reason: "declined"}}
			_, err := f.callWith(t, ap, "")
			if len(ap.asked) != tc.asked {
				t.Fatalf("asked %d times, want %d", len(ap.asked), tc.asked)
			}
			if paid := err == nil; paid != (tc.asked == 0) || api.count() != map[bool]int{true: 1}[paid] {
				t.Fatalf("call: %v, %d payments; want paid exactly when nothing was asked", err, api.count())
			}
		})
	}
	t.Run("a stale approval reads the terms again", func(t *testing.T) {
		var price atomic.Value
		price.Store("1000")
		api := &hostileAPI{paid: settledOK, unpaid: func(w http.ResponseWriter) {
			write402(v1Requirement(price.Load().(string), "base-sepolia", testUSDC, testPayTo, 60, `{"name":"USDC","version":"2"}`))(w)
		}}
		f := serveFixture(t, api, Policy{Approval: rule, Agents: map[string]AgentPolicy{"bot": {}}})
		f.op.Price.Amount = money.USDC(5000)
		ap := &testApprover{decision: Decision{Approved: true, By: "os-user:ann", Stale: true}}
		ap.onAsk = func() { price.Store("2000") } // the terms move while the person decides
		res, err := f.callWith(t, ap, "")
		if err != nil {
			t.Fatal(err)
		}
		amounts := []int64{}
		for _, a := range ap.asked {
			amounts = append(amounts, a.Amount.Atomic().Int64())
		}
		if !slices.Equal(amounts, []int64{1000, 2000}) || res.Payment.Amount.Atomic().Int64() != 2000 {
			t.Fatalf("asked for %v and paid %v; want asked for 1000 then 2000, and 2000 paid", amounts, res.Payment.Amount)
		}
	})
}

func TestApprovalNewPayee(t *testing.T) {
	f, api := approvalFixture(t, ApprovalRule{NewPayee: true}, ledger.Caps{})
	ap := &testApprover{decision: Decision{Approved: true, By: "elicitation"}}
	for range 2 {
		if _, err := f.callWith(t, ap, ""); err != nil {
			t.Fatal(err)
		}
	}
	if len(ap.asked) != 1 || api.count() != 2 {
		t.Fatalf("asked %d times for 2 paid calls (%d payments), want asked once: the second payee was paid before", len(ap.asked), api.count())
	}
}

// TestQuoteSaysApproval: a quote says when a payment would wait for a person, and why,
// and asks no one.
func TestQuoteSaysApproval(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule ApprovalRule
		want []string // substrings, one per reason
	}{
		{"over the threshold", ApprovalRule{Threshold: usdc(999)}, []string{"over the approval threshold"}},
		{"a new payee", ApprovalRule{NewPayee: true}, []string{"never paid"}},
		{"both", ApprovalRule{Threshold: usdc(999), NewPayee: true}, []string{"over the approval threshold", "never paid"}},
		{"at the threshold", ApprovalRule{Threshold: usdc(1000)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := approvalFixture(t, tc.rule, ledger.Caps{})
			ap := &testApprover{}
			q, err := f.client.Quote(t.Context(), Call{Op: f.op, Arguments: []byte(`{"id":"42"}`), Session: "s1", Agent: "bot", Approver: ap})
			if err != nil || !q.WouldPay() {
				t.Fatalf("quote: %+v, %v; want it would pay", q, err)
			}
			if len(q.Approval) != len(tc.want) {
				t.Fatalf("approval reasons %q, want %d", q.Approval, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(q.Approval[i], w) {
					t.Errorf("reason %q lacks %q", q.Approval[i], w)
				}
			}
			if len(ap.asked) != 0 || len(eventKinds(t, f.ledger)) != 0 {
				t.Errorf("the quote asked %d times and recorded %v", len(ap.asked), eventKinds(t, f.ledger))
			}
		})
	}
}
