package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server"
)

// approveCmd is "toll approve": the person's side of the approval queue.
type approveCmd struct {
	ledgerFlags
	list    bool
	deny    bool
	reason  string
	watch   bool
	history bool   // list past requests and their decisions
	since   string // with --history
	agent   string // only this agent's payments (the queue and --history)
	format  *format
	now     func() time.Time
	user    func() (string, error) // the OS user who decides
}

func (a *app) approveCommand() *cobra.Command {
	p := &approveCmd{ledgerFlags: ledgerFlags{app: a}, format: newFormat("text", "text", "json"), now: time.Now, user: osUser}
	c := &cobra.Command{
		Use:   "approve [ID] [flags]",
		Short: "approve or deny the payments waiting in the approval queue",
		Long: `Payments that need a person's approval (approval: in toll.yaml) wait in the ledger's approval
queue when approval.mode is queue, or when the MCP client cannot show an approval form. toll approve
decides them, from any terminal: the serving toll reads the decision and pays, or refuses.

  toll approve                 on a terminal: each pending call in turn, approve or deny
  toll approve --list          the pending calls (--format json for programs)
  toll approve ID              approve one call
  toll approve --deny ID       deny one call (--reason says why)
  --watch                      keep waiting for new calls (with --list: print them as they come)
  toll approve --history       every request for approval and its decision: who, when, why
                               (--since DATE, --format json)
  --agent NAME                 only the payments of this agent (toll.yaml agents:), in the queue
                               and in --history

Decisions are recorded in the ledger with the OS user who made them.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return p.run(c.Context(), args) },
	}
	fs := newFlags(c)
	p.register(fs)
	fs.BoolVar(&p.list, "list", false, "list the pending calls and decide nothing")
	fs.BoolVar(&p.deny, "deny", false, "deny the call ID instead of approving it")
	fs.StringVar(&p.reason, "reason", "", "with --deny: why, recorded in the ledger and told to the agent")
	fs.BoolVar(&p.watch, "watch", false, "keep waiting for new pending calls until interrupted")
	fs.BoolVar(&p.history, "history", false, "list past requests for approval and their decisions, oldest first")
	fs.StringVar(&p.since, "since", "", "with --history: from this time on: RFC 3339 or a date (UTC)")
	fs.StringVar(&p.agent, "agent", "", "only the payments of this agent (toll.yaml agents:): in the queue, --list, --watch and --history")
	fs.Var(p.format, "format", "with --list or --history: text for people, json for programs")
	return c
}

func osUser() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("who is deciding: %w", err)
	}
	return u.Username, nil
}

func (p *approveCmd) run(ctx context.Context, args []string) error {
	switch {
	case len(args) == 1 && (p.list || p.watch):
		return usagef("toll approve ID decides one call; --list and --watch take no ID")
	case len(args) == 0 && p.deny:
		return usagef("--deny needs the ID of the call to deny (toll approve --list shows them)")
	case p.reason != "" && !p.deny:
		return usagef("--reason goes with --deny")
	case p.history && (len(args) == 1 || p.list || p.watch || p.deny):
		return usagef("--history lists past decisions and takes no ID, --list, --watch or --deny")
	case p.since != "" && !p.history:
		return usagef("--since goes with --history")
	case p.agent != "" && len(args) == 1:
		return usagef("--agent narrows the queue and --history; toll approve ID decides the one call ID, whatever its agent")
	case p.format.value == "json" && !p.list && !p.history:
		return usagef("--format json goes with --list or --history")
	}
	since, err := parseWhen("--since", p.since, false)
	if err != nil {
		return err
	}
	led, _, err := p.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	if p.history {
		records, err := p.readHistory(ctx, led, since)
		if err != nil {
			return err
		}
		return p.printHistory(records)
	}
	if len(args) == 1 {
		return p.decide(ctx, led, args[0], !p.deny, p.reason, 0)
	}
	if !p.list && !stdinIsTerminal(p.stdin, osTerminal()) {
		fmt.Fprintln(p.stderr, "toll approve: stdin is not a terminal, so nothing is asked; decide with toll approve ID or toll approve --deny ID.")
		p.list = true
	}
	seen := map[string]bool{}
	in := bufio.NewReader(p.stdin)
	for {
		pending, err := p.pending(ctx, led, seen)
		if err != nil {
			return err
		}
		if p.list {
			err = p.print(pending, len(seen) == len(pending))
		} else {
			err = p.ask(ctx, led, in, pending)
		}
		if err != nil || !p.watch {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(server.ApprovalPoll):
		}
	}
}

// pending are the calls waiting for a decision now that seen does not hold; they are
// added to it.
func (p *approveCmd) pending(ctx context.Context, led *ledger.Ledger, seen map[string]bool) ([]ledger.Approval, error) {
	all, err := led.Approvals(ctx)
	if err != nil {
		return nil, err
	}
	var out []ledger.Approval
	now := p.now()
	for _, a := range all {
		key := fmt.Sprintf("%s/%d", a.CallID, a.Seq)
		if a.Open(now) && !seen[key] && (p.agent == "" || a.Agent == p.agent) {
			seen[key] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// print lists pending calls; first says it is the first listing (a header, and a line
// when there are none).
func (p *approveCmd) print(pending []ledger.Approval, first bool) error {
	if p.format.value == "json" {
		if pending == nil {
			pending = []ledger.Approval{}
		}
		if p.watch && !first && len(pending) == 0 {
			return nil
		}
		return writeJSON(p.stdout, pending)
	}
	if len(pending) == 0 {
		if first && !p.watch {
			_, err := fmt.Fprintln(p.stdout, p.noneWaits())
			return err
		}
		return nil
	}
	tw := tabwriter.NewWriter(p.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAMOUNT (USDC)\tPAY TO\tAPI\tTOOL\tAGENT\tAGE\tWHY")
	for _, a := range pending {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.CallID, a.Amount, a.PayTo, a.API, a.Tool, orDash(a.Agent),
			p.now().Sub(a.AskedAt).Round(time.Second), strings.Join(a.Reasons, "; "))
	}
	return tw.Flush()
}

// noneWaits says that the queue (of --agent's payments) is empty.
func (p *approveCmd) noneWaits() string {
	if p.agent != "" {
		return "No payment of agent " + p.agent + " waits for approval."
	}
	return "No payment waits for approval."
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ask shows each pending call and reads the person's answer: approve, deny or skip.
func (p *approveCmd) ask(ctx context.Context, led *ledger.Ledger, in *bufio.Reader, pending []ledger.Approval) error {
	if len(pending) == 0 && !p.watch {
		_, err := fmt.Fprintln(p.stdout, p.noneWaits())
		return err
	}
	for _, a := range pending {
		fmt.Fprintf(p.stdout, "\nCall %s (%s ago)\n  pay %s USDC to %s on %s\n  API %s, tool %s, agent %s\n  %s\n  why: %s\n",
			a.CallID, p.now().Sub(a.AskedAt).Round(time.Second), a.Amount, a.PayTo, a.Network, a.API, a.Tool, orDash(a.Agent), a.URL, strings.Join(a.Reasons, "; "))
		for {
			fmt.Fprint(p.stdout, "Approve? [y]es, [n]o, [s]kip: ")
			line, err := in.ReadString('\n')
			if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
				return fmt.Errorf("read the answer: %w", err)
			}
			switch strings.ToLower(strings.TrimSpace(line)) {
			case "y", "yes":
				err = p.decide(ctx, led, a.CallID, true, "", a.Seq)
			case "n", "no":
				err = p.decide(ctx, led, a.CallID, false, "denied in toll approve", a.Seq)
			case "s", "skip":
			default:
				continue
			}
			if err != nil {
				fmt.Fprintln(p.stderr, "toll:", err)
			}
			break
		}
	}
	return nil
}

// decide records the OS user's decision on one call; seq, when not zero, is the ask it
// answers.
func (p *approveCmd) decide(ctx context.Context, led *ledger.Ledger, id string, approve bool, reason string, seq uint64) error {
	name, err := p.user()
	if err != nil {
		return err
	}
	a, err := led.DecideApproval(ctx, ledger.Decision{CallID: id, Approved: approve, By: "os-user:" + name, Reason: reason, Person: true, Seq: seq})
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return fmt.Errorf("no call waits for approval with id %s; toll approve --list shows the pending ones", id)
	case errors.Is(err, ledger.ErrApprovalClosed):
		return fmt.Errorf("call %s no longer waits for approval: %w", id, err)
	case err != nil:
		return err
	}
	verb := "Approved"
	if !approve {
		verb = "Denied"
	}
	_, err = fmt.Fprintf(p.stdout, "%s %s: %s USDC to %s (%s).\n", verb, id, a.Amount, a.PayTo, a.Tool)
	return err
}
