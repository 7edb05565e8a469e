package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/tools/money"
)

func approval(id string, amount int64, queued bool) Approval {
	return Approval{
		CallID: id, Agent: "bot", Session: "s1", API: "weather", Tool: "weather_get_forecast",
		URL: "https://api.example.com/forecast", Network: "eip155:84532",
		Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", Amount: money.USDC(amount),
		PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", Reasons: []string{"0.6 USDC is over the approval threshold 0.5 USDC"},
		Queued: queued, Expires: t0.Add(5 * time.Minute),
	}
}

func TestApprovalQueue(t *testing.T) {
	ctx := context.Background()
	l, clk := newLedger(t)
	a, err := l.AskApproval(ctx, approval("c1", 600000, true))
	if err != nil {
		t.Fatal(err)
	}
	if a.State != ApprovalPending || a.Seq != 1 || !a.Open(clk.Now()) {
		t.Fatalf("asked: state %s seq %d open %v, want pending, event 1, open", a.State, a.Seq, a.Open(clk.Now()))
	}
	// A decision for another ask of the same call is refused.
	if _, err := l.DecideApproval(ctx, Decision{CallID: "c1", Approved: true, By: "os-user:ann", Person: true, Seq: 7}); !errors.Is(err, ErrApprovalChanged) {
		t.Fatalf("decision on a stale ask: %v, want ErrApprovalChanged", err)
	}
	got, err := l.DecideApproval(ctx, Decision{CallID: "c1", Approved: true, By: "os-user:ann", Person: true, Seq: a.Seq})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != ApprovalApproved || got.By != "os-user:ann" {
		t.Fatalf("decided: %s by %q, want approved by os-user:ann", got.State, got.By)
	}
	// The server's own timeout after a person decided is refused and says what was decided.
	closed, err := l.DecideApproval(ctx, Decision{CallID: "c1", By: "toll", Reason: "timed out"})
	if !errors.Is(err, ErrApprovalClosed) || closed.State != ApprovalApproved {
		t.Fatalf("second decision: %v (state %s), want ErrApprovalClosed with the approval", err, closed.State)
	}
	if _, err := l.DecideApproval(ctx, Decision{CallID: "nope", By: "os-user:ann", Person: true}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("decision on an unknown call: %v, want ErrNotFound", err)
	}
	evs := events(t, l)
	if len(evs) != 2 || evs[0].Kind != KindApprovalAsked || evs[1].Kind != KindApproved {
		t.Fatalf("events %v, want approval-asked then approved", approvalKinds(evs))
	}
	if evs[1].By != "os-user:ann" || evs[1].Agent != "bot" || evs[1].PayTo != a.PayTo || evs[1].Amount == nil || units(t, *evs[1].Amount) != 600000 {
		t.Fatalf("approved event %+v lacks the decision's terms or who decided", evs[1])
	}
	if evs[0].Reason != a.Reasons[0] {
		t.Fatalf("asked event reason %q, want %q", evs[0].Reason, a.Reasons[0])
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatalf("Verify with a queue: %v", err)
	}
}

func TestApprovalExpires(t *testing.T) {
	ctx := context.Background()
	l, clk := newLedger(t)
	if _, err := l.AskApproval(ctx, approval("c1", 600000, true)); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Minute)
	if _, err := l.DecideApproval(ctx, Decision{CallID: "c1", Approved: true, By: "os-user:ann", Person: true}); !errors.Is(err, ErrApprovalClosed) {
		t.Fatalf("a person's decision after expiry: %v, want ErrApprovalClosed", err)
	}
	// The waiting call records its timeout after expiry.
	a, err := l.DecideApproval(ctx, Decision{CallID: "c1", By: "toll", Reason: "timed out"})
	if err != nil || a.State != ApprovalDenied || a.Reason != "timed out" {
		t.Fatalf("timeout: %v, state %s reason %q", err, a.State, a.Reason)
	}
	// A day after expiry, the next ask drops the entry.
	clk.Add(approvalKeep + time.Minute)
	next := approval("c2", 600000, true)
	next.Expires = clk.Now().Add(time.Minute)
	if _, err := l.AskApproval(ctx, next); err != nil {
		t.Fatal(err)
	}
	all, err := l.Approvals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].CallID != "c2" {
		t.Fatalf("queue %+v, want only c2", all)
	}
}

func TestApprovalNotQueued(t *testing.T) {
	ctx := context.Background()
	l, _ := newLedger(t)
	a := approval("c1", 600000, false)
	if _, err := l.AskApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ApprovalOf(ctx, "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ApprovalOf an elicited approval: %v, want ErrNotFound (not queued)", err)
	}
	if _, err := l.QueueApproval(ctx, a); !errors.Is(err, ErrInvalid) {
		t.Fatalf("QueueApproval of an approval never asked: %v, want ErrInvalid", err)
	}
	if _, err := l.DecideApproval(ctx, Decision{CallID: "c1", By: "elicitation", Reason: "declined", Terms: &a}); err != nil {
		t.Fatal(err)
	}
	evs := events(t, l)
	if len(evs) != 2 || evs[1].Kind != KindDenied || evs[1].Reason != "declined" || evs[1].PayTo != a.PayTo {
		t.Fatalf("events %+v, want a denied event with the terms and the reason", evs)
	}
	for _, bad := range []Approval{{CallID: "", Amount: money.USDC(1), Reasons: []string{"x"}}, {CallID: "c", Reasons: []string{"x"}}, {CallID: "c", Amount: money.USDC(1)}} {
		if _, err := l.AskApproval(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("AskApproval(%+v): %v, want ErrInvalid", bad, err)
		}
	}
}

func TestApprovalOldLedger(t *testing.T) {
	// A ledger made before the queue existed has no approvals bucket: reads see an
	// empty queue and the first queued ask creates it.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openLedger(t, path, Options{Now: newClock().Now})
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketApprovals) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if all, err := l.Approvals(ctx); err != nil || len(all) != 0 {
		t.Fatalf("Approvals on an old ledger: %v %v", all, err)
	}
	if _, err := l.AskApproval(ctx, approval("c1", 600000, true)); err != nil {
		t.Fatal(err)
	}
	if a, err := l.ApprovalOf(ctx, "c1"); err != nil || a.State != ApprovalPending {
		t.Fatalf("ApprovalOf after the first ask: %+v %v", a, err)
	}
}

func TestPaidBefore(t *testing.T) {
	ctx := context.Background()
	l, _ := newLedger(t)
	in := intent("c1", 1000)
	mustReserve(t, l, in, Caps{})
	lower := "0x209693bc6afc0c5328ba36faf03c514ef312287c"
	if ok, err := l.PaidBefore(ctx, lower); err != nil || !ok {
		t.Fatalf("PaidBefore a reserved payee (other case): %v %v, want true", ok, err)
	}
	if err := l.Release(ctx, "c1", "never sent"); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.PaidBefore(ctx, lower); err != nil || ok {
		t.Fatalf("PaidBefore a payee whose only payment was released: %v %v, want false", ok, err)
	}
	if ok, err := l.PaidBefore(ctx, "0x1111111111111111111111111111111111111111"); err != nil || ok {
		t.Fatalf("PaidBefore the payer's address: %v %v, want false", ok, err)
	}
}

func approvalKinds(evs []Event) []Kind {
	var out []Kind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}
