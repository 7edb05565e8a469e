package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/server"
)

const catalogUsage = `Usage:
  toll catalog list  [--config F] [SPEC...]                 a table: tool, method and path, price, where the price came from
  toll catalog tools [--config F] [--format json] [SPEC...] exactly the tools/list an MCP host gets, on stdout
  toll catalog check [--config F] [SPEC...]                 what was changed, shortened, cut or refused in each spec, and why
  toll catalog probe [--config F] [--op NAME] [--args NAME=JSON] [--out probes.json] [SPEC...]
                                                            send operations unpaid and record the terms of their 402 (pays nothing)

SPEC is a spec file, a folder of specs or an https URL; --config adds the apis of toll.yaml.
`

// runCatalog is "toll catalog ...".
func runCatalog(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, catalogUsage)
		return usagef("toll catalog needs a subcommand: list, tools or check")
	}
	sub, rest := args[0], args[1:]
	if sub != "list" && sub != "tools" && sub != "check" && sub != "probe" {
		fmt.Fprint(stderr, catalogUsage)
		return usagef("unknown catalog subcommand %q", sub)
	}
	fs := flag.NewFlagSet("toll catalog "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "toll.yaml whose apis to load (default $TOLL_CONFIG)")
	baseURL := fs.String("base-url", "", "base URL for the specs given as arguments")
	probes := fs.String("probes", "", "prices recorded by toll catalog probe --out (default: the config's probes)")
	load := func(specs []string) (*catalog.Catalog, []error, []catalog.SourceConfig, error) {
		if *configPath == "" {
			*configPath = getenv("TOLL_CONFIG")
		}
		var sources []catalog.SourceConfig
		if *configPath != "" {
			cfg, err := loadConfig(*configPath)
			if err != nil {
				return nil, nil, nil, err
			}
			for _, a := range cfg.APIs {
				sources = append(sources, a.SourceConfig)
			}
			if *probes == "" {
				*probes = cfg.Probes
			}
		}
		for _, sp := range specs {
			sources = append(sources, catalog.SourceConfig{Spec: sp, Options: catalog.Options{BaseURL: *baseURL}})
		}
		if len(sources) == 0 {
			return nil, nil, nil, usagef("toll catalog %s needs specs: toll catalog %s api.yaml (or --config toll.yaml)", sub, sub)
		}
		if err := attachProbes(*probes, sources); err != nil {
			return nil, nil, nil, err
		}
		cat, errs := catalog.LoadAll(ctx, sources)
		return cat, errs, sources, nil
	}
	if sub == "probe" {
		return runProbe(ctx, fs, rest, stdout, stderr, getenv, load)
	}
	format := fs.String("format", "", "tools: json (the default and only format); check: text (default) or json")
	lazy := fs.String("lazy", "auto", "tools: auto, on or off, as toll serve --lazy")
	lazyMax := fs.Int("lazy-threshold", server.DefaultLazyThreshold, "tools: as toll serve --lazy-threshold")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	cat, errs, _, err := load(fs.Args())
	if err != nil {
		return err
	}
	var loadErr error
	if len(errs) > 0 {
		loadErr = fmt.Errorf("%d of the specs did not load", len(errs))
	}
	switch sub {
	case "list":
		for _, e := range errs {
			fmt.Fprintln(stderr, "toll:", e)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOOL\tOPERATION\tPRICE\tPRICE FROM")
		for _, op := range cat.Operations() {
			from := "-"
			if op.Price != nil {
				from = op.Price.Source
			}
			fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", op.Name, op.Method, op.Path, op.Price.Display(), from)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return loadErr
	case "tools":
		if *format != "" && *format != "json" {
			return usagef("--format %q: tools are written as json", *format)
		}
		if loadErr != nil {
			return fmt.Errorf("%w: %w", loadErr, errors.Join(errs...))
		}
		mode, err := parseLazy(*lazy)
		if err != nil {
			return err
		}
		out, err := server.ToolsList(ctx, cat.Operations(), server.Options{Version: version(), Lazy: mode, LazyThreshold: *lazyMax})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return err
	default:
		type report struct {
			Source     string   `json:"source"`
			API        string   `json:"api,omitempty"`
			Operations int      `json:"operations"`
			Warnings   []string `json:"warnings,omitempty"`
			Error      string   `json:"error,omitempty"`
		}
		var reports []report
		for _, api := range cat.APIs {
			reports = append(reports, report{Source: api.Source, API: api.Name, Operations: len(api.Operations), Warnings: api.Warnings})
		}
		for _, e := range errs {
			reports = append(reports, report{Error: e.Error()})
		}
		switch *format {
		case "json":
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(reports); err != nil {
				return err
			}
		case "", "text":
			for _, r := range reports {
				if r.Error != "" {
					fmt.Fprintf(stdout, "FAILED %s\n", r.Error)
					continue
				}
				fmt.Fprintf(stdout, "%s: API %s, %d tools, %d notes\n", r.Source, r.API, r.Operations, len(r.Warnings))
				for _, w := range r.Warnings {
					fmt.Fprintf(stdout, "  - %s\n", w)
				}
			}
		default:
			return usagef("--format %q: want text or json", *format)
		}
		return loadErr
	}
}
