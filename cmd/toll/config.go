package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v4"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/wallet"
)

// maxConfigBytes bounds toll.yaml.
const maxConfigBytes = 1 << 20

// fileConfig is toll.yaml. Every field is optional; a flag given on the command line wins
// over the file. Amounts are decimal USDC strings ("0.05") or "none", durations are Go
// durations ("10m"); each is read by the same type as its flag (flags.go), so a value
// means the same in both places.
//
//	ledger: /home/me/.config/toll/ledger.db   # or postgres://toll@db.example/toll (password: PGPASSWORD or ~/.pgpass)
//	ledger_migrate: false      # true: toll serve applies a PostgreSQL ledger's schema migrations
//	wallet:
//	  keystore: /home/me/.config/toll/key.json
//	  passphrase_file: /home/me/.config/toll/pass.txt
//	networks: [eip155:8453]
//	assets: []                 # more tokens: ADDRESS or NETWORK=ADDRESS
//	caps: {per_call: "0.05", per_session: "0.50", per_day: "5", total: none}
//	rpc:                       # JSON-RPC endpoint of each network: wallet balance, reconcile
//	  eip155:8453: https://mainnet.base.org
//	max_window: 10m
//	terms_ttl: 0s
//	lazy: auto                 # auto, on or off
//	lazy_threshold: 100
//	max_result_bytes: 100000   # larger bodies: first part inline, whole as an MCP resource
//	agents:                    # each agent's token (a file or a variable) and its own caps
//	  - name: research
//	    token_file: /home/me/.config/toll/research.token
//	    per_call: "0.05"
//	    per_day: "1"
//	    total: "20"
//	    per_api: {wx: "1.00"}
//	agent: research            # the agent toll serve pays for on stdio (or --agent)
//	approval:                  # payments that need a person's yes (see approvalConfig)
//	  threshold: "0.50"
//	  new_payee: true
//	  mode: elicit             # elicit, queue (toll approve) or deny
//	  timeout: 5m
//	  fallback: queue          # for clients that cannot show a form: queue or deny
//	http:                      # toll serve --http: bearer tokens clients must send
//	  token_file: /home/me/.config/toll/http-tokens   # one a line
//	  token_env: TOLL_HTTP_TOKEN                      # a variable's name, not the token
//	apis:
//	  - spec: ./specs/weather.yaml
//	    namespace: wx
//	    max_total: "1.00"     # cap on everything this API is paid
//	    pay_to: "0x…"          # pay no one else for this API's operations
//	    tool_caps: {getWeather: "0.20"}   # by operationId: cap on everything that operation is paid
//	    max_result_bytes: 400000          # this API's bodies inline up to this size
//	    approval_threshold: "0.20"        # this API's payments over it need approval
//	    # and every catalog key: base_url, prices, credentials, include, exclude, ...
type fileConfig struct {
	Ledger        string                 `yaml:"ledger"`
	LedgerMigrate bool                   `yaml:"ledger_migrate"` // serve applies a PostgreSQL ledger's migrations
	Wallet        walletConfig           `yaml:"wallet"`
	Networks      []string               `yaml:"networks"`
	Assets        []asset                `yaml:"assets"`
	RPC           map[string]string      `yaml:"rpc"` // network → JSON-RPC URL
	Caps          capsConfig             `yaml:"caps"`
	MaxWindow     *duration              `yaml:"max_window"`
	TermsTTL      *duration              `yaml:"terms_ttl"`
	Lazy          *lazyMode              `yaml:"lazy"`
	LazyThreshold *count                 `yaml:"lazy_threshold"`
	HTTP          httpConfig             `yaml:"http"`
	Agents        agentsConfig           `yaml:"agents"`
	Agent         string                 `yaml:"agent"` // the stdio agent: --agent
	Approval      approvalConfig         `yaml:"approval"`
	Probes        string                 `yaml:"probes"` // prices recorded by toll catalog probe --out
	APIs          []catalog.SourceConfig `yaml:"apis"`
	MCPServers    []mcpServerConfig      `yaml:"mcp_servers"` // mcpservers.go

	// MaxResultBytes is --max-result-bytes: the largest body a tool result carries inline.
	MaxResultBytes *count `yaml:"max_result_bytes"`
}

type walletConfig struct {
	Keystore       string `yaml:"keystore"`
	PassphraseFile string `yaml:"passphrase_file"`
}

// capsConfig are the caps of toll.yaml; nil is a cap the file does not set.
type capsConfig struct {
	PerCall    *limit `yaml:"per_call"`
	PerSession *limit `yaml:"per_session"`
	PerDay     *limit `yaml:"per_day"`
	Total      *limit `yaml:"total"`
}

// loadConfig reads and checks toll.yaml. Errors name the file, the key or line, and the fix.
func loadConfig(path string) (*fileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, maxConfigBytes)
	}
	var c fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %v (see README.md, \"Configuration file\", for the keys)", path, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

// check reports what the types of the fields do not: each API's entry, the rpc endpoints,
// the agents.
func (c *fileConfig) check() error {
	if _, err := c.endpoints(); err != nil {
		return err
	}
	if err := c.checkAgents(); err != nil {
		return err
	}
	if err := c.Approval.check(c.APIs); err != nil {
		return err
	}
	if err := c.checkMCPServers(); err != nil {
		return err
	}
	for i, a := range c.APIs {
		where := fmt.Sprintf("apis[%d]", i)
		if err := a.Check(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if a.PayTo != "" {
			if _, err := wallet.ParseAddress(a.PayTo); err != nil {
				return fmt.Errorf("%s.pay_to: %q: %v", where, a.PayTo, err)
			}
		}
	}
	return nil
}
