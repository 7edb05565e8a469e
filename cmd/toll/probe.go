package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools"
)

// probeCmd is "toll catalog probe": send operations unpaid and record the terms of their 402.
type probeCmd struct {
	catalogCmd
	ops  listFlag
	args repeated
	out  string
}

func (a *app) catalogProbeCommand() *cobra.Command {
	p := &probeCmd{catalogCmd: catalogCmd{app: a}}
	c := p.command("probe", "send operations unpaid and record the terms of their 402 (pays nothing)", p.run)
	fs := c.Flags()
	fs.Var(&p.ops, "op", "probe this operation (tool name or operationId); repeatable. Default: every GET and HEAD operation")
	fs.Var(&p.args, "args", "arguments of an operation, as NAME='{\"city\":\"Oslo\"}'; repeatable")
	fs.StringVar(&p.out, "out", "", "record the terms in this probes file (merged with what it holds); serve reads it with --probes")
	c.Example = `  toll catalog probe --out probes.json --args getWeather='{"city":"Oslo"}' api.yaml`
	return c
}

func (p *probeCmd) run(ctx context.Context, ld *loaded) error {
	opArgs := map[string]json.RawMessage{}
	for _, a := range p.args {
		name, js, ok := strings.Cut(a, "=")
		if !ok || !json.Valid([]byte(js)) {
			return usagef("--args %q: want NAME=JSON object", a)
		}
		opArgs[name] = json.RawMessage(js)
	}
	for _, e := range ld.errs {
		fmt.Fprintln(p.stderr, "toll:", e)
	}
	tw := tabwriter.NewWriter(p.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tANSWER\tTERMS")
	entries, probed := p.probeAll(ctx, ld, opArgs, tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	if probed == 0 {
		return usagef("no operation to probe: name them with --op (no GET or HEAD operation found)")
	}
	if p.out != "" {
		if err := catalog.WriteProbes(p.out, entries); err != nil {
			return err
		}
		fmt.Fprintf(p.stderr, "%d terms recorded in %s; toll serve --probes %s uses them\n", len(entries), p.out, p.out)
	}
	return ld.loadErr()
}

// probeAll probes the selected operations, writes a line for each to tw, and returns the
// terms to record and how many operations it probed.
func (p *probeCmd) probeAll(ctx context.Context, ld *loaded, opArgs map[string]json.RawMessage, tw io.Writer) ([]catalog.ProbeRecord, int) {
	want := map[string]bool{}
	for _, o := range p.ops {
		want[o] = true
	}
	var entries []catalog.ProbeRecord
	probed, total := 0, 0
	selected := func(op *catalog.Operation) bool {
		if len(want) == 0 {
			return op.Method == "GET" || op.Method == "HEAD"
		}
		return want[op.Name] || want[op.OperationID]
	}
	for _, op := range ld.cat.Operations() {
		if selected(op) {
			total++
		}
	}
	prog := p.newProgress()
	defer prog.done()
	for _, api := range ld.cat.APIs {
		for _, op := range api.Operations {
			if !selected(op) {
				continue
			}
			probed++
			prog.show(probed == total, "probing %d/%d: %s", probed, total, op.Name)
			a := opArgs[op.Name]
			if a == nil {
				a = opArgs[op.OperationID]
			}
			entries = append(entries, p.probeOne(ctx, api.Config.Spec, op, a, tw)...)
		}
	}
	return entries, probed
}

// probeOne probes one operation and writes its line.
func (p *probeCmd) probeOne(ctx context.Context, spec string, op *catalog.Operation, args json.RawMessage, tw io.Writer) []catalog.ProbeRecord {
	res, err := tools.Probe(ctx, op, args, tools.ProbeOptions{Getenv: p.env})
	if err != nil {
		fmt.Fprintf(tw, "%s\terror\t%v\n", op.Name, oneLine(err.Error()))
		return nil
	}
	if res.Version == 0 {
		fmt.Fprintf(tw, "%s\t%d\tno payment asked\n", op.Name, res.Status)
		return nil
	}
	var entries []catalog.ProbeRecord
	var terms []string
	for _, t := range res.Terms {
		terms = append(terms, fmt.Sprintf("%s %s on %s to %s", t.Amount, t.Scheme, t.Network, t.PayTo))
		entries = append(entries, catalog.ProbeRecord{Spec: spec, ProbedPrice: catalog.ProbedPrice{Operation: t.Operation, Amount: t.Amount,
			Network: t.Network, Asset: t.Asset, PayTo: t.PayTo, Scheme: t.Scheme, ObservedAt: t.ObservedAt}})
	}
	for _, s := range res.Skipped {
		terms = append(terms, "skipped "+s)
	}
	fmt.Fprintf(tw, "%s\t402 (x402 v%d)\t%s\n", op.Name, res.Version, strings.Join(terms, "; "))
	return entries
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:160]) + "…"
	}
	return s
}
