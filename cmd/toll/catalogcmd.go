package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools/money"
)

func (a *app) catalogCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "catalog",
		Short: "show what the model will see of specs, and what was changed in them",
		Long: `Load specs as toll serve does and show the result. SPEC is a spec file, a folder of specs or an
https URL; --config adds the apis of a toll.yaml, --discovery the resources of a facilitator's
Bazaar. Only probe, discover and --discovery send anything, and they pay nothing; discover writes a
catalog file of a Bazaar.`,
		Args: cobra.ArbitraryArgs,
		RunE: group("toll catalog", "a command: list, tools, check, probe or discover"),
	}
	c.AddCommand(a.catalogListCommand(), a.catalogToolsCommand(), a.catalogCheckCommand(), a.catalogProbeCommand(), a.catalogDiscoverCommand())
	return c
}

// catalogCmd is what the catalog commands share: where the specs come from.
type catalogCmd struct {
	*app
	sources sourceFlags
}

// load loads the specs of the arguments and of the config.
func (c *catalogCmd) load(ctx context.Context, specs []string, name string) (*loaded, error) {
	cfg, _, err := c.sources.readConfig(c.env)
	if err != nil {
		return nil, err
	}
	return c.sources.load(ctx, cfg, specs, name)
}

// command is a catalog subcommand with the shared flags; run gets the loaded specs.
func (c *catalogCmd) command(use, short string, run func(context.Context, *loaded) error) *cobra.Command {
	name := "toll catalog " + use
	cc := &cobra.Command{
		Use:   use + " [flags] [SPEC...]",
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cc *cobra.Command, args []string) error {
			ld, err := c.load(cc.Context(), args, name)
			if err != nil {
				return err
			}
			return run(cc.Context(), ld)
		},
	}
	c.sources.register(newFlags(cc))
	return cc
}

// listRow is one operation in toll catalog list --format json.
type listRow struct {
	Tool        string        `json:"tool"`
	API         string        `json:"api"`
	OperationID string        `json:"operationId,omitempty"`
	Method      string        `json:"method"`
	Path        string        `json:"path"`
	Price       *money.Amount `json:"price,omitempty"` // atomic units; absent: free
	Decimals    int           `json:"decimals,omitempty"`
	Display     string        `json:"display"`
	PriceFrom   string        `json:"priceFrom,omitempty"`
}

func (a *app) catalogListCommand() *cobra.Command {
	c := &catalogCmd{app: a}
	f := newFormat("text", "text", "json")
	cc := c.command("list", "each tool: its operation, its price and where the price came from", func(_ context.Context, ld *loaded) error {
		for _, e := range ld.errs {
			fmt.Fprintln(a.stderr, "toll:", e)
		}
		rows := []listRow{}
		for _, op := range ld.cat.Operations() {
			r := listRow{Tool: op.Name, API: op.API, OperationID: op.OperationID, Method: op.Method, Path: op.Path, Display: op.PriceDisplay()}
			if op.Price != nil {
				r.Price, r.Decimals, r.PriceFrom = &op.Price.Amount, op.Price.Amount.Decimals(), op.Price.Source
			}
			rows = append(rows, r)
		}
		var err error
		if f.value == "json" {
			err = writeJSON(a.stdout, rows)
		} else {
			err = writeListTable(a.stdout, rows)
		}
		return errors.Join(err, ld.loadErr())
	})
	cc.Flags().Var(f, "format", "text: a table for people; json: the operations")
	return cc
}

func writeListTable(w io.Writer, rows []listRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tOPERATION\tPRICE\tPRICE FROM")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", r.Tool, r.Method, r.Path, r.Display, first(r.PriceFrom, "-"))
	}
	return tw.Flush()
}

func (a *app) catalogToolsCommand() *cobra.Command {
	c := &catalogCmd{app: a}
	f := newFormat("json", "json")
	var lazy lazyMode
	var lazyMax count
	cc := c.command("tools", "exactly the tools/list an MCP host gets, as JSON", func(ctx context.Context, ld *loaded) error {
		if err := ld.loadErr(); err != nil {
			return fmt.Errorf("%w: %w", err, errors.Join(ld.errs...))
		}
		out, err := server.ToolsList(ctx, ld.cat.Operations(), server.Options{Version: version(), Lazy: server.Lazy(lazy), LazyThreshold: int(lazyMax)})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", out)
		return err
	})
	cc.PreRun = func(*cobra.Command, []string) { c.sources.onDemand = server.Lazy(lazy) == server.LazyOn }
	fs := cc.Flags()
	fs.Var(f, "format", "json, the only format: the tools/list result")
	fs.Var(&lazy, "lazy", "as toll serve --lazy: auto, on or off")
	fs.Var(&lazyMax, "lazy-threshold", "as toll serve --lazy-threshold")
	return cc
}

// checkReport is one spec in toll catalog check.
type checkReport struct {
	Source     string   `json:"source"`
	API        string   `json:"api,omitempty"`
	Operations int      `json:"operations"`
	Warnings   []string `json:"warnings,omitempty"`
	Error      string   `json:"error,omitempty"`
}

func (a *app) catalogCheckCommand() *cobra.Command {
	c := &catalogCmd{app: a}
	f := newFormat("text", "text", "json")
	cc := c.command("check", "what was changed, shortened, cut or refused in each spec, and why", func(_ context.Context, ld *loaded) error {
		reports := []checkReport{}
		for _, api := range ld.cat.APIs {
			reports = append(reports, checkReport{Source: api.Source, API: api.Name, Operations: len(api.Operations), Warnings: api.Warnings})
		}
		for _, e := range ld.errs {
			reports = append(reports, checkReport{Error: e.Error()})
		}
		unservable := servable(ld)
		if unservable != nil {
			reports = append(reports, checkReport{Error: unservable.Error()})
		}
		var err error
		if f.value == "json" {
			err = writeJSON(a.stdout, reports)
		} else {
			err = writeCheck(a.stdout, reports)
		}
		return errors.Join(err, ld.loadErr(), unservable)
	})
	cc.Flags().Var(f, "format", "text: for people; json: one report per spec")
	return cc
}

// servable says why toll serve and toll catalog tools would refuse the catalog: a tool
// named as one of toll's own (server.CheckNames).
func servable(ld *loaded) error {
	if err := server.CheckNames(ld.cat.Operations()); err != nil {
		return fmt.Errorf("toll serve refuses this catalog: %w", err)
	}
	return nil
}

func writeCheck(w io.Writer, reports []checkReport) error {
	for _, r := range reports {
		if r.Error != "" {
			if _, err := fmt.Fprintf(w, "FAILED %s\n", r.Error); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(w, "%s: API %s, %d tools, %d notes\n", r.Source, r.API, r.Operations, len(r.Warnings))
		for _, n := range r.Warnings {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	return nil
}
