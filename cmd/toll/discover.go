package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollhq/toll/catalog"
)

// discoverCmd is "toll catalog discover": read a facilitator's Bazaar into a catalog file.
type discoverCmd struct {
	*app
	opts         catalog.DiscoverOptions
	typ          *format
	maxPages     count
	maxResources count
	out          string
}

func (a *app) catalogDiscoverCommand() *cobra.Command {
	d := &discoverCmd{app: a, typ: newFormat("", "http", "mcp")}
	c := &cobra.Command{
		Use:   "discover --facilitator URL [--query WORDS] [--network N] [--type http|mcp] [--out FILE]",
		Short: "write a catalog file of the resources a facilitator's Bazaar lists",
		Long: `Read the x402 resources a facilitator lists (GET /discovery/resources, every page; with --query,
GET /discovery/search) into a catalog file that toll serve and the catalog commands load as a
spec: each resource a tool, its arguments from the bazaar extension, its price from its payment
requirements. stdout carries only the file (unless --out); what was read and left out goes to
stderr, and toll catalog check FILE shows every note.`,
		Example: `  toll catalog discover --facilitator https://x402.org/facilitator --network eip155:8453 --out bazaar.json
  toll serve --keystore key.json --network eip155:8453 bazaar.json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return d.run(c.Context()) },
	}
	fs := newFlags(c)
	fs.StringVar(&d.opts.Facilitator, "facilitator", "", "the facilitator's URL: https, or http to this machine (required)")
	fs.StringVar(&d.opts.Query, "query", "", "search for these words (GET /discovery/search) instead of listing every resource")
	fs.StringVar(&d.opts.Network, "network", "", "only resources payable on this network, e.g. eip155:8453")
	fs.Var(d.typ, "type", "only resources of this type (toll calls http resources; mcp ones are listed, not served)")
	fs.StringVar(&d.out, "out", "", "write the catalog file here instead of stdout")
	registerDiscoverBounds(fs, &d.maxPages, &d.maxResources)
	return c
}

// registerDiscoverBounds adds the flags that bound a discovery.
func registerDiscoverBounds(fs *pflag.FlagSet, pages, resources *count) {
	fs.Var(pages, "max-pages", fmt.Sprintf("read at most this many pages of a Bazaar (0: %d)", catalog.DefaultDiscoverPages))
	fs.Var(resources, "max-resources", fmt.Sprintf("keep at most this many resources of a Bazaar (0: %d)", catalog.DefaultDiscoverResources))
}

func (d *discoverCmd) run(ctx context.Context) error {
	if d.opts.Facilitator == "" {
		return usagef("toll catalog discover needs --facilitator URL, e.g. --facilitator https://x402.org/facilitator")
	}
	d.opts.Type, d.opts.MaxPages, d.opts.MaxResources = d.typ.value, int(d.maxPages), int(d.maxResources)
	prog := d.newProgress()
	d.opts.OnPage = func(pages, kept int) { prog.show(false, "reading the Bazaar: %d pages, %d resources", pages, kept) }
	found, err := catalog.Discover(ctx, d.opts)
	prog.done()
	if err != nil {
		return fmt.Errorf("%w (check --facilitator: toll reads GET <facilitator>/discovery/resources)", err)
	}
	name := first(d.out, "the catalog file")
	api, err := catalog.Load(ctx, found.Document, name, catalog.Options{})
	if err != nil {
		return fmt.Errorf("what %s answered does not load: %w", found.Source, err)
	}
	if d.out == "" {
		if _, err := d.stdout.Write(found.Document); err != nil {
			return err
		}
	} else if err := writeFileAtomic(d.out, found.Document); err != nil {
		return err
	}
	d.summary(found, api)
	return nil
}

// summary tells on stderr what was read, kept and left out, and what loads of it.
func (d *discoverCmd) summary(found *catalog.Discovered, api *catalog.API) {
	pages := "pages"
	if found.Pages == 1 {
		pages = "page"
	}
	fmt.Fprintf(d.stderr, "toll: read %d resources in %d %s of %s: %d kept, %d left out\n",
		found.Read, found.Pages, pages, found.Source, found.Kept, found.LeftOut)
	for _, n := range found.Notes {
		fmt.Fprintf(d.stderr, "  - %s\n", n)
	}
	check := "toll catalog check " + first(d.out, "FILE")
	fmt.Fprintf(d.stderr, "toll: %s loads as %d tools (API %s) with %d notes; %s shows them\n",
		first(d.out, "the file"), len(api.Operations), api.Name, len(api.Warnings), check)
	if len(api.Operations) == 0 {
		fmt.Fprintln(d.stderr, "toll: no resource of it is a tool toll can serve")
	}
}

// writeFileAtomic writes data to path through a file beside it, renamed into place, so
// that path never holds half a file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	tmp := f.Name()
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(0o644), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	return nil
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// discoveryFlags are --discovery, which serve and the catalog commands share: Bazaars
// whose resources are loaded live, as toll catalog discover would write them.
type discoveryFlags struct {
	facilitators repeated
}

func (d *discoveryFlags) register(fs *pflag.FlagSet) {
	fs.Var(&d.facilitators, "discovery", "also load the resources a facilitator's Bazaar lists, read at start (as toll catalog discover --facilitator URL writes them); repeatable")
}

// load loads the Bazaars into ld, after its specs: one API each, or an error in ld.errs
// naming the Bazaar.
func (d *discoveryFlags) load(ctx context.Context, ld *loaded) {
	for _, f := range d.facilitators {
		found, err := catalog.Discover(ctx, catalog.DiscoverOptions{Facilitator: f})
		if err == nil {
			_, err = ld.cat.AddDiscovered(ctx, found, catalog.Options{})
		}
		if err != nil {
			ld.errs = append(ld.errs, err)
		}
	}
}
