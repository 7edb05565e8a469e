package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
)

// sourceFlags say which APIs a command loads: the specs given as arguments, the apis of
// toll.yaml, a base URL for the arguments, and the prices recorded by probes. serve and
// every catalog command share them.
type sourceFlags struct {
	config    string
	baseURL   string
	probes    string
	discovery discoveryFlags
	maxSpec   byteSize
	// onDemand lists the operations of JSON specs from a light read and builds each when
	// it is described or called (catalog.Options.OnDemand): for --lazy on. Not a flag.
	onDemand bool
}

func (s *sourceFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.config, "config", "", "toll.yaml whose settings and apis to use (default $"+envConfig+")")
	fs.StringVar(&s.baseURL, "base-url", "", "send the requests of the specs given as arguments to this base URL instead of their servers[0].url")
	fs.StringVar(&s.probes, "probes", "", "prices recorded by toll catalog probe --out; they come after the config's prices and before the spec's (default: probes: of the config)")
	s.discovery.register(fs)
	fs.Var(&s.maxSpec, "max-spec-bytes", fmt.Sprintf("largest spec read, in bytes, for the specs given as arguments and the apis whose max_spec_bytes is not set (0: %d, %d MiB)", catalog.MaxSpecBytes, catalog.MaxSpecBytes>>20))
}

// sourceOptions applies the settings of the flags that every source shares.
func (s *sourceFlags) sourceOptions(sources []catalog.SourceConfig) {
	for i := range sources {
		o := &sources[i].Options
		if o.MaxSpecBytes == 0 {
			o.MaxSpecBytes = int64(s.maxSpec)
		}
		o.OnDemand = s.onDemand
	}
}

// readConfig reads the toll.yaml of --config or $TOLL_CONFIG; it returns nil when there is
// none.
func (s *sourceFlags) readConfig(e env) (*fileConfig, string, error) {
	path := e.configPath(s.config)
	if path == "" {
		return nil, "", nil
	}
	cfg, err := loadConfig(path)
	return cfg, path, err
}

// loaded is a catalog and what it was loaded from.
type loaded struct {
	cat     *catalog.Catalog
	errs    []error // one per spec that did not load
	sources []catalog.SourceConfig
}

// load loads the apis of cfg (which may be nil) and the specs, with their probed prices.
// cmd names the command for the error that says it needs specs.
func (s *sourceFlags) load(ctx context.Context, cfg *fileConfig, specs []string, cmd string) (*loaded, error) {
	var sources []catalog.SourceConfig
	probes := s.probes
	if cfg != nil {
		sources = append(sources, cfg.APIs...)
		probes = first(probes, cfg.Probes)
	}
	for _, sp := range specs {
		sources = append(sources, catalog.SourceConfig{Spec: sp, Options: catalog.Options{BaseURL: s.baseURL}})
	}
	if len(sources) == 0 && len(s.discovery.facilitators) == 0 {
		return nil, usagef("%s needs OpenAPI specs: %s api.yaml (or apis: in a toll.yaml given with --config, or a Bazaar with --discovery URL)", cmd, cmd)
	}
	s.sourceOptions(sources)
	if probes != "" {
		recs, err := catalog.ReadProbes(probes)
		if err != nil {
			return nil, fmt.Errorf("%w (toll catalog probe --out writes a probes file)", err)
		}
		catalog.AttachProbes(sources, recs)
	}
	cat, errs := catalog.LoadAll(ctx, sources)
	ld := &loaded{cat: cat, errs: errs, sources: sources}
	s.discovery.load(ctx, ld)
	return ld, nil
}

// loadErr is the error of a command whose specs did not all load.
func (l *loaded) loadErr() error {
	if len(l.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of the specs did not load (toll catalog check shows every problem)", len(l.errs))
}

// openLedger opens the ledger of --ledger (flag), toll.yaml (fromConfig), $TOLL_LEDGER or
// the default place, and returns the path it used. Unless create is set, a missing ledger
// is an error and no file is created.
func (a *app) openLedger(flag, fromConfig string, create bool) (*ledger.Ledger, string, error) {
	return a.openLedgerWith(flag, fromConfig, ledger.Options{NoCreate: !create})
}

// openLedgerWith is openLedger with the ledger's options given whole.
func (a *app) openLedgerWith(flag, fromConfig string, opts ledger.Options) (*ledger.Ledger, string, error) {
	path, err := a.env.ledgerPath(flag, fromConfig)
	if err != nil {
		return nil, "", err
	}
	led, err := openLedgerStore(path, opts)
	if errors.Is(err, ledger.ErrNoLedger) {
		return nil, "", fmt.Errorf("no ledger at %s: toll serve creates it with the first paid call; check --ledger, $%s or ledger: in toll.yaml", ledgerName(path), envLedger)
	}
	if err != nil {
		return nil, "", err
	}
	return led, ledgerName(path), nil
}
