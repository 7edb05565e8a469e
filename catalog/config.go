package catalog

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollhq/toll/tools/money"
)

// SourceConfig is one API of a catalog: where its spec is, and how it
// becomes tools. It is the entry of an API in toll.yaml; the YAML keys are
// those of Spec and of the embedded Options:
//
//	apis:
//	  - spec: ./specs/weather.yaml      # a file, a folder or an https URL
//	    namespace: wx                   # tool names start with wx_
//	    base_url: https://weather.example.com/v2
//	    max_description: 1024
//	    prices:                         # decimal USDC per call, by operationId or "METHOD /path"
//	      getWeather: "0.002"
//	      "POST /reports": "0.01"
//	    credentials:                    # sent on every call, never tool arguments
//	      - {in: header, name: X-Api-Key, env: WEATHER_API_KEY}
//	    include:                        # keep only what matches every list given
//	      tags: [weather]
//	    exclude:                        # then leave out what matches any entry
//	      methods: [DELETE]
//	      operation_ids: ["admin*"]
//	      paths: [/internal]
//	    allow_external_refs: false
//	    allow_insecure_http: false      # true: pay over plain http to another machine
//	    pay_to: "0x…"                   # pay no one else for this entry's operations
//	    max_total: "1.00"               # cap on everything this entry's APIs are paid
//	    tool_caps: {getWeather: "0.20"} # cap on everything one operation is paid
//	    max_result_bytes: 400000        # larger bodies: first part inline, whole as a resource
//	    approval_threshold: "0.20"      # a payment of more needs a person's yes (over approval.threshold)
//
// Decode it with KnownFields(true) so that a misspelt key is an error.
type SourceConfig struct {
	// Spec is a spec file (YAML or JSON), a folder of them (every *.yaml,
	// *.yml and *.json directly in it, in name order), or a URL: https, or
	// http to a loopback host only.
	Spec    string `yaml:"spec"`
	Options `yaml:",inline"`

	// PayTo pins the recipient of every priced operation of the entry: a
	// 0x address, set on each Price. "" pins none.
	PayTo string `yaml:"pay_to,omitempty"`
	// MaxTotal caps everything the entry's APIs are ever paid, in USDC;
	// ToolCaps caps everything one operation is paid, keyed by operationId
	// or tool name (each key must name an operation of the entry). nil:
	// no cap. The catalog only checks them; the payer enforces them (see
	// API.Config).
	MaxTotal *money.Amount           `yaml:"max_total,omitempty"`
	ToolCaps map[string]money.Amount `yaml:"tool_caps,omitempty"`
	// MaxResultBytes is the largest response body of the entry's operations
	// that a tool result carries inline; a larger one is cut, and kept whole
	// for the session to read as a resource. Zero: the server's default. The
	// catalog only checks it; the server applies it (see API.Config).
	MaxResultBytes int `yaml:"max_result_bytes,omitempty"`
	// ApprovalThreshold: a payment of more, for the entry's APIs, needs a person's
	// approval, instead of the configured approval threshold; nil: that threshold. The
	// catalog only carries it; the payer applies it (see API.Config).
	ApprovalThreshold *money.Amount `yaml:"approval_threshold,omitempty"`
}

// Credential is a value toll sends on every call of an API, read from an
// environment variable: an API key or token of the API itself (x402 needs
// none). A parameter the spec declares with the same location and name is
// not a tool argument. Only the variable's name is kept here, never its
// value; the tools package reads it when it calls.
type Credential struct {
	In   string `yaml:"in" json:"in"`     // "header" or "query"
	Name string `yaml:"name" json:"name"` // the header or query parameter, e.g. "X-Api-Key" or "api_key"
	Env  string `yaml:"env" json:"env"`   // the environment variable holding the value, e.g. "WEATHER_API_KEY"
}

// Filter selects operations. Empty lists select nothing (in Exclude) or
// everything (in Include).
type Filter struct {
	// Tags are operation tags, compared without regard to case.
	Tags []string `yaml:"tags,omitempty"`
	// OperationIDs are operationId patterns in the syntax of path.Match
	// ("repos/list*" or "get*"; '*' does not match '/').
	OperationIDs []string `yaml:"operation_ids,omitempty"`
	// Methods are HTTP methods, compared without regard to case.
	Methods []string `yaml:"methods,omitempty"`
	// Paths are path template prefixes, matched by whole segments: "/admin"
	// matches /admin and /admin/{id}, not /administrators.
	Paths []string `yaml:"paths,omitempty"`
}

func (f Filter) empty() bool {
	return len(f.Tags)+len(f.OperationIDs)+len(f.Methods)+len(f.Paths) == 0
}

// ProbedPrice is the price an operation asked for when toll sent it
// unpaid (its 402 response), supplied by the caller, who keeps them in a
// probes file (see ProbeRecord). The amount is read in USDC's decimals, the
// only asset toll pays by default.
type ProbedPrice struct {
	// Operation names the operation: its operationId, or its method and
	// path template, "GET /weather/{city}".
	Operation  string       `json:"operation"`
	Amount     money.Amount `json:"amount"`     // as in the requirement's amount (v2) or maxAmountRequired (v1)
	Network    string       `json:"network"`    // as the requirement names it: "eip155:84532" or "base-sepolia"
	Asset      string       `json:"asset"`      // the token contract address
	PayTo      string       `json:"payTo"`      // the recipient
	Scheme     string       `json:"scheme"`     // "exact"; "" means exact
	ObservedAt time.Time    `json:"observedAt"` // when the 402 was read
}

// envPattern matches the name of an environment variable.
var envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Check reports the first problem of the configuration: the key, what is
// wrong, and what to write instead.
func (c SourceConfig) Check() error {
	if strings.TrimSpace(c.Spec) == "" {
		return fmt.Errorf("%w: spec: missing; give a spec file, a folder of specs or an https URL", ErrInvalidOptions)
	}
	if err := c.checkEntry(); err != nil {
		return err
	}
	if c.MaxResultBytes < 0 {
		return badOption("max_result_bytes", "%d is negative; leave it out for the default, or give a number of bytes such as 400000", c.MaxResultBytes)
	}
	return c.Options.check()
}

// check validates the options; errors name the YAML key.
func (o Options) check() error {
	if o.Namespace != "" && (len(o.Namespace) > maxNamespace || !toolNamePattern.MatchString(o.Namespace)) {
		return badOption("namespace", "%q must be 1 to %d letters, digits, '_' or '-'", clip(o.Namespace), maxNamespace)
	}
	if o.MaxDescription < 0 {
		return badOption("max_description", "%d is negative; leave it out for the default of %d characters", o.MaxDescription, defaultMaxDescription)
	}
	if o.MaxSpecBytes < 0 {
		return badOption("max_spec_bytes", "%d is negative; leave it out for the default of %d bytes", o.MaxSpecBytes, MaxSpecBytes)
	}
	if o.BaseURL != "" {
		if _, err := absoluteHTTPURL(o.BaseURL); err != nil {
			return badOption("base_url", "%v; write an absolute URL such as https://api.example.com/v1", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Prices)) {
		key := "prices." + strconv.Quote(clip(k))
		if _, err := operationKey(k); err != nil {
			return badOption(key, "%v", err)
		}
		if o.Prices[k].Sign() < 0 {
			return badOption(key, "%s is negative; write a price in USDC such as \"0.01\"", o.Prices[k])
		}
	}
	if err := checkCredentials(o.Credentials); err != nil {
		return err
	}
	for _, f := range []struct {
		key string
		f   Filter
	}{{"include", o.Include}, {"exclude", o.Exclude}} {
		if err := f.f.check(f.key); err != nil {
			return err
		}
	}
	for i, p := range o.Probes {
		if err := p.check(); err != nil {
			return fmt.Errorf("%w: probed price %d (%s): %v", ErrInvalidOptions, i, clip(p.Operation), err)
		}
	}
	return nil
}

// badOption is the error of an option: the YAML key, and what is wrong.
func badOption(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, key, fmt.Sprintf(format, args...))
}

// checkCredentials validates the credentials; errors name the YAML key.
func checkCredentials(creds []Credential) error {
	seen := make(map[string]int)
	for i, c := range creds {
		key := fmt.Sprintf("credentials[%d]", i)
		switch c.In {
		case "header", "query":
		default:
			return badOption(key+".in", "%q must be \"header\" or \"query\"", clip(c.In))
		}
		if c.Name == "" || (c.In == "header" && !httpToken.MatchString(c.Name)) || strings.ContainsAny(c.Name, "\x00\r\n") {
			return badOption(key+".name", "%q is not a %s name", clip(c.Name), c.In)
		}
		if !envPattern.MatchString(c.Env) {
			return badOption(key+".env", "%q is not an environment variable name (letters, digits and '_', not starting with a digit)", clip(c.Env))
		}
		id := c.In + "\x00" + c.Name
		if c.In == "header" {
			id = c.In + "\x00" + strings.ToLower(c.Name)
		}
		if j, ok := seen[id]; ok {
			return badOption(key, "%s %q is also credentials[%d]; give each header or query parameter once", c.In, clip(c.Name), j)
		}
		seen[id] = i
	}
	return nil
}

func (f Filter) check(key string) error {
	bad := func(k string, i int, format string, args ...any) error {
		return badOption(fmt.Sprintf("%s.%s[%d]", key, k, i), format, args...)
	}
	for i, t := range f.Tags {
		if strings.TrimSpace(t) == "" {
			return bad("tags", i, "empty; remove it")
		}
	}
	for i, p := range f.OperationIDs {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			return bad("operation_ids", i, "%q is not a pattern: use letters and '*', '?', '[a-z]' as in path.Match", clip(p))
		}
	}
	for i, m := range f.Methods {
		if !methodPattern.MatchString(strings.ToUpper(m)) {
			return bad("methods", i, "%q is not an HTTP method such as GET or DELETE", clip(m))
		}
	}
	for i, p := range f.Paths {
		if !strings.HasPrefix(p, "/") {
			return bad("paths", i, "%q must start with '/', as in /admin", clip(p))
		}
	}
	return nil
}

func (p ProbedPrice) check() error {
	if _, err := operationKey(p.Operation); err != nil {
		return err
	}
	switch {
	case p.Amount.Sign() < 0:
		return fmt.Errorf("amount %v is negative", p.Amount)
	case p.Network != "" && !networkPattern.MatchString(p.Network):
		return fmt.Errorf("network %q is malformed", clip(p.Network))
	case p.Asset != "" && !payToPattern.MatchString(p.Asset):
		return fmt.Errorf("asset %q is malformed", clip(p.Asset))
	case p.PayTo != "" && !payToPattern.MatchString(p.PayTo):
		return fmt.Errorf("payTo %q is malformed", clip(p.PayTo))
	case p.Scheme != "" && !schemePattern.MatchString(p.Scheme):
		return fmt.Errorf("scheme %q is malformed", clip(p.Scheme))
	}
	return nil
}

// operationKey normalizes how prices and probes name an operation: an
// operationId as written, or "METHOD /path" with the method in upper case.
func operationKey(k string) (string, error) {
	if strings.TrimSpace(k) == "" {
		return "", fmt.Errorf("empty; name an operation by its operationId or as \"METHOD /path\"")
	}
	if m, p, ok := strings.Cut(k, " "); ok && strings.HasPrefix(p, "/") {
		m = strings.ToUpper(m)
		if !methodPattern.MatchString(m) {
			return "", fmt.Errorf("%q does not start with an HTTP method; write \"GET /path\"", clip(k))
		}
		return m + " " + p, nil
	}
	return k, nil
}

// matches reports whether the filter selects the operation, and which entry
// did.
func (f Filter) matches(tags []string, operationID, method, pathTemplate string) (string, bool) {
	for _, t := range f.Tags {
		for _, ot := range tags {
			if strings.EqualFold(t, ot) {
				return "tags " + t, true
			}
		}
	}
	for _, p := range f.OperationIDs {
		if ok, _ := path.Match(p, operationID); ok && operationID != "" {
			return "operation_ids " + p, true
		}
	}
	for _, m := range f.Methods {
		if strings.EqualFold(m, method) {
			return "methods " + strings.ToUpper(m), true
		}
	}
	for _, p := range f.Paths {
		pre := strings.TrimSuffix(p, "/")
		if pathTemplate == p || pre == "" || pathTemplate == pre || strings.HasPrefix(pathTemplate, pre+"/") {
			return "paths " + p, true
		}
	}
	return "", false
}

// selects reports whether an include filter keeps the operation: it must
// match an entry of every list that is not empty.
func (f Filter) selects(tags []string, operationID, method, pathTemplate string) bool {
	for _, part := range []Filter{{Tags: f.Tags}, {OperationIDs: f.OperationIDs}, {Methods: f.Methods}, {Paths: f.Paths}} {
		if part.empty() {
			continue
		}
		if _, ok := part.matches(tags, operationID, method, pathTemplate); !ok {
			return false
		}
	}
	return true
}
