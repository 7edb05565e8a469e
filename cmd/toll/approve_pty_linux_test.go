package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// TestApproveOnATerminal runs toll approve with a pseudo-terminal as stdin and two calls
// in the queue: it shows each (amount, payee, API, tool, agent, why) and asks; the first
// is denied, the second approved, and the ledger records both with the OS user.
func TestApproveOnATerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	led := openLedger(t, path)
	for i, id := range []string{"call_first", "call_second"} {
		a := ledger.Approval{CallID: id, Agent: "research", API: "wx", Tool: "wx_getWeather", URL: "https://api.example.com/weather/Oslo",
			Network: "eip155:84532", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", Amount: money.USDC(int64(600000 + i)),
			PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", Reasons: []string{"over the threshold"}, Expires: time.Now().Add(time.Hour)}
		asked, err := led.AskApproval(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := led.QueueApproval(t.Context(), asked); err != nil {
			t.Fatal(err)
		}
	}
	s := startOnTerminal(t, "approve", "--ledger", path)
	for i, answer := range []string{"n\n", "y\n"} {
		poll(t, func() bool { return strings.Count(s.stdout.String(), "Approve? ") == i+1 })
		if _, err := s.master.WriteString(answer); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.wait(t); err != nil {
		t.Fatalf("toll approve: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout.String(), s.stderr.String())
	}
	out := s.stdout.String()
	for _, want := range []string{"pay 0.6 USDC to 0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "API wx, tool wx_getWeather, agent research", "why: over the threshold",
		"Denied call_first", "Approved call_second"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	queue, err := led.Approvals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(queue) != 2 || queue[0].State != ledger.ApprovalDenied || queue[1].State != ledger.ApprovalApproved || !strings.HasPrefix(queue[1].By, "os-user:") {
		t.Fatalf("queue after the answers: %+v", queue)
	}
}
