package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
)

// probesFile is what `toll catalog probe --out` writes and `--probes` reads: the terms each
// operation asked for when sent unpaid, keyed by the spec as it was given.
type probesFile struct {
	Probes []probeEntry `json:"probes"`
}

type probeEntry struct {
	Spec       string    `json:"spec"`
	Operation  string    `json:"operation"`
	Amount     string    `json:"amount"` // atomic units
	Network    string    `json:"network"`
	Asset      string    `json:"asset"`
	PayTo      string    `json:"payTo"`
	Scheme     string    `json:"scheme"`
	ObservedAt time.Time `json:"observedAt"`
}

func readProbes(path string) (*probesFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &probesFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("probes %s: %w", path, err)
	}
	var pf probesFile
	if err := json.Unmarshal(data, &pf); err != nil {
		return nil, fmt.Errorf("probes %s: %v (write it with toll catalog probe --out)", path, err)
	}
	return &pf, nil
}

// attachProbes gives each source the probed prices recorded for its spec.
func attachProbes(path string, sources []catalog.SourceConfig) error {
	if path == "" {
		return nil
	}
	pf, err := readProbes(path)
	if err != nil {
		return err
	}
	for i := range sources {
		for _, e := range pf.Probes {
			if e.Spec != sources[i].Spec {
				continue
			}
			amount, err := money.ParseAtomic(e.Amount, money.USDCDecimals)
			if err != nil {
				return fmt.Errorf("probes %s: %s %s: %w", path, e.Spec, e.Operation, err)
			}
			sources[i].Probes = append(sources[i].Probes, catalog.ProbedPrice{
				Operation: e.Operation, Amount: amount, Network: e.Network, Asset: e.Asset,
				PayTo: e.PayTo, Scheme: e.Scheme, ObservedAt: e.ObservedAt,
			})
		}
	}
	return nil
}

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
		if err := mergeProbes(p.out, entries); err != nil {
			return err
		}
		fmt.Fprintf(p.stderr, "%d terms recorded in %s; toll serve --probes %s uses them\n", len(entries), p.out, p.out)
	}
	return ld.loadErr()
}

// probeAll probes the selected operations, writes a line for each to tw, and returns the
// terms to record and how many operations it probed.
func (p *probeCmd) probeAll(ctx context.Context, ld *loaded, opArgs map[string]json.RawMessage, tw io.Writer) ([]probeEntry, int) {
	want := map[string]bool{}
	for _, o := range p.ops {
		want[o] = true
	}
	var entries []probeEntry
	probed := 0
	for _, api := range ld.cat.APIs {
		for _, op := range api.Operations {
			selected := want[op.Name] || want[op.OperationID]
			if len(want) == 0 {
				selected = op.Method == "GET" || op.Method == "HEAD"
			}
			if !selected {
				continue
			}
			probed++
			a := opArgs[op.Name]
			if a == nil {
				a = opArgs[op.OperationID]
			}
			entries = append(entries, p.probeOne(ctx, specOf(api, ld.sources), op, a, tw)...)
		}
	}
	return entries, probed
}

// probeOne probes one operation and writes its line.
func (p *probeCmd) probeOne(ctx context.Context, spec string, op *catalog.Operation, args json.RawMessage, tw io.Writer) []probeEntry {
	res, err := tools.Probe(ctx, op, args, tools.ProbeOptions{Getenv: p.env})
	if err != nil {
		fmt.Fprintf(tw, "%s\terror\t%v\n", op.Name, oneLine(err.Error()))
		return nil
	}
	if res.Version == 0 {
		fmt.Fprintf(tw, "%s\t%d\tno payment asked\n", op.Name, res.Status)
		return nil
	}
	var entries []probeEntry
	var terms []string
	for _, t := range res.Terms {
		terms = append(terms, fmt.Sprintf("%s %s on %s to %s", t.Amount, t.Scheme, t.Network, t.PayTo))
		entries = append(entries, probeEntry{Spec: spec, Operation: t.Operation, Amount: t.Amount.AtomicString(),
			Network: t.Network, Asset: t.Asset, PayTo: t.PayTo, Scheme: t.Scheme, ObservedAt: t.ObservedAt})
	}
	for _, s := range res.Skipped {
		terms = append(terms, "skipped "+s)
	}
	fmt.Fprintf(tw, "%s\t402 (x402 v%d)\t%s\n", op.Name, res.Version, strings.Join(terms, "; "))
	return entries
}

// specOf is the source an API came from, as the probes file names it: the spec or folder
// given, not the file in the folder.
func specOf(api *catalog.API, sources []catalog.SourceConfig) string {
	for _, s := range sources {
		if api.Source == s.Spec || strings.HasPrefix(api.Source, strings.TrimSuffix(s.Spec, "/")+"/") {
			return s.Spec
		}
	}
	return api.Source
}

// mergeProbes writes entries into the probes file, replacing older terms of the same
// operation of the same spec.
func mergeProbes(path string, entries []probeEntry) error {
	pf, err := readProbes(path)
	if err != nil {
		return err
	}
	fresh := map[string]bool{}
	for _, e := range entries {
		fresh[e.Spec+"\x00"+e.Operation] = true
	}
	var kept []probeEntry
	for _, e := range pf.Probes {
		if !fresh[e.Spec+"\x00"+e.Operation] {
			kept = append(kept, e)
		}
	}
	// One entry per operation: the cheapest exact requirement the 402 listed.
	best := map[string]int{}
	for _, e := range entries {
		k := e.Spec + "\x00" + e.Operation
		if i, ok := best[k]; ok {
			a, _ := money.ParseAtomic(kept[i].Amount, money.USDCDecimals)
			b, _ := money.ParseAtomic(e.Amount, money.USDCDecimals)
			if b.Cmp(a) < 0 {
				kept[i] = e
			}
			continue
		}
		best[k] = len(kept)
		kept = append(kept, e)
	}
	data, err := json.MarshalIndent(probesFile{Probes: kept}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:160]) + "…"
	}
	return s
}
