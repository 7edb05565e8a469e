package tools

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// DefaultMaxWindow is the longest an authorization stays valid when Policy.MaxWindow is zero.
const DefaultMaxWindow = 10 * time.Minute

// Policy is what the user allows toll to pay. No tool, argument or response can change it.
type Policy struct {
	// Caps are checked by the ledger in the same transaction that records the intent.
	Caps ledger.Caps
	// Networks the user allows payments on, as CAIP-2 ids ("eip155:8453") or x402 v1 names
	// ("base"). Empty allows none: every payment is refused.
	Networks []string
	// Assets are token contracts allowed besides the known USDC of each allowed network.
	Assets []Asset
	// MaxWindow is the longest an authorization may stay valid (validBefore - now);
	// a server's longer maxTimeoutSeconds is cut to it. Zero: DefaultMaxWindow.
	MaxWindow time.Duration
	// Agents are the agents toll pays for, by name, each with its own caps inside Caps.
	// Empty: calls name no agent and only Caps apply. Non-empty: every Call names one of
	// them (Call.Agent), or it is refused before anything is sent.
	Agents map[string]AgentPolicy
	// Approval says which payments need a person's yes first (Call.Approver asks);
	// the zero value: none.
	Approval ApprovalRule
}

// Asset is a token contract allowed for payment on one network.
type Asset struct {
	Network string // CAIP-2 id or v1 name; "" means every allowed network
	Address string // 0x token address
}

// compiledPolicy is a Policy with its networks and assets resolved to chain ids and
// addresses, so the paid path does no parsing of its own configuration.
type compiledPolicy struct {
	caps      ledger.Caps
	chains    map[string]bool            // chain id (decimal) → allowed
	assets    map[string]map[string]bool // chain id → lower-case address → allowed
	anyAssets map[string]bool            // lower-case addresses allowed on every allowed chain
	names     []string                   // allowed networks as configured, for messages
	maxWindow time.Duration
	agents    map[string]AgentPolicy
}

func compilePolicy(p Policy) (*compiledPolicy, error) {
	cp := &compiledPolicy{
		caps:      p.Caps,
		chains:    map[string]bool{},
		assets:    map[string]map[string]bool{},
		anyAssets: map[string]bool{},
		maxWindow: p.MaxWindow,
	}
	if cp.maxWindow == 0 {
		cp.maxWindow = DefaultMaxWindow
	}
	if cp.maxWindow < 0 {
		return nil, fmt.Errorf("policy: negative authorization window %s", cp.maxWindow)
	}
	if err := p.Approval.check(); err != nil {
		return nil, err
	}
	for _, n := range p.Networks {
		id, err := x402.ChainID(n)
		if err != nil {
			return nil, fmt.Errorf("policy: allowed network: %w", err)
		}
		key := id.String()
		cp.chains[key] = true
		cp.names = append(cp.names, n)
		if usdc, ok := x402.USDC(id.Int64()); ok && id.IsInt64() {
			cp.allowAsset(key, usdc.Address)
		}
	}
	for _, a := range p.Assets {
		addr, err := wallet.ParseAddress(a.Address)
		if err != nil {
			return nil, fmt.Errorf("policy: allowed asset %q: %w", a.Address, err)
		}
		if a.Network == "" {
			cp.anyAssets[strings.ToLower(addr.Hex())] = true
			continue
		}
		id, err := x402.ChainID(a.Network)
		if err != nil {
			return nil, fmt.Errorf("policy: allowed asset %s: %w", a.Address, err)
		}
		if !cp.chains[id.String()] {
			return nil, &PolicyError{Network: a.Network, Asset: addr.Hex(), Allowed: cp.names, Err: ErrAssetNetworkNotAllowed}
		}
		cp.allowAsset(id.String(), addr.Hex())
	}
	if err := cp.payable(p.Networks); err != nil {
		return nil, err
	}
	var err error
	if cp.agents, err = agentsOf(p); err != nil {
		return nil, err
	}
	return cp, nil
}

// payable checks that each allowed network has a token toll may pay with: its known USDC,
// a token allowed on it, or one allowed on every network.
func (cp *compiledPolicy) payable(networks []string) error {
	if len(cp.anyAssets) > 0 {
		return nil
	}
	for _, n := range networks {
		id, _ := x402.ChainID(n) // parsed above
		if len(cp.assets[id.String()]) == 0 {
			return &PolicyError{Network: n, Allowed: cp.names, Err: ErrNoPayableAsset}
		}
	}
	return nil
}

// Check reports what New would find wrong with p, without a wallet or a ledger: a network
// or an asset toll cannot read, an asset on a network p does not allow, an allowed network
// with nothing toll could pay there (*PolicyError). A front end calls it first, so that a
// configuration that cannot work stops it at start.
func (p Policy) Check() error {
	_, err := compilePolicy(p)
	return err
}

func (cp *compiledPolicy) allowAsset(chain, addr string) {
	if cp.assets[chain] == nil {
		cp.assets[chain] = map[string]bool{}
	}
	cp.assets[chain][strings.ToLower(addr)] = true
}

// choice is the requirement toll decided to pay, resolved for signing.
type choice struct {
	option  x402.Option
	chainID *big.Int
	asset   wallet.Address
	payTo   wallet.Address
	window  time.Duration
}

// choose picks the cheapest requirement of c that the policy and the operation's
// advertised price allow. An operation whose price is set at call time
// (catalog.PriceAtCall) has no advertised bound: every other rule holds, and it is paid
// only under a per-call cap. When none fits it returns a *RefusedError with one reason per
// requirement.
func (cp *compiledPolicy) choose(op *catalog.Operation, c *x402.Challenge) (*choice, error) {
	if op.Price == nil {
		return nil, &RefusedError{
			Rule: RuleAdvertisedPrice,
			Msg: fmt.Sprintf("%s advertises no price, and toll pays only what the catalog advertises; "+
				"add an x-payment-info price to the operation in its OpenAPI spec if you mean to pay for it", op.Name),
			Err: ErrNoAcceptableRequirement,
		}
	}
	if op.Price.Mode == catalog.PriceAtCall && cp.caps.PerCall == nil {
		return nil, &RefusedError{
			Rule: RuleCap,
			Cap:  ledger.CapPerCall,
			Msg: fmt.Sprintf("the price of %s is set at call time, by its 402 response, and no per-call cap bounds what toll would pay; "+
				"set a per-call cap to pay it, or a price for it in the API's config; nothing was signed", op.Name),
			Err: ErrNoAcceptableRequirement,
		}
	}
	var (
		best    *choice
		reasons []string
		rules   []Rule
		asked   *money.Amount // the least amount the per-call cap refused
	)
	for _, o := range c.Options {
		ch, rule, why := cp.weigh(op, o)
		if ch == nil {
			reasons = append(reasons, fmt.Sprintf("requirement %d (%s %s on %s): %s", o.Index+1, amountText(o.Amount), o.Scheme, o.Network, why))
			if !slices.Contains(rules, rule) {
				rules = append(rules, rule)
			}
			if rule == RuleCap && (asked == nil || o.Amount.Cmp(*asked) < 0) {
				asked = &o.Amount
			}
			continue
		}
		if best == nil || ch.option.Amount.Cmp(best.option.Amount) < 0 {
			best = ch
		}
	}
	if best != nil {
		return best, nil
	}
	refused := &RefusedError{
		Rule:    RulePolicy,
		Msg:     fmt.Sprintf("none of the %d payment requirements of %s fits toll's policy; nothing was signed", len(c.Options), op.Name),
		Reasons: reasons,
		Err:     ErrNoAcceptableRequirement,
	}
	if len(rules) == 1 {
		refused.Rule = rules[0]
	}
	if refused.Rule == RuleCap {
		refused.Cap, refused.Amount, refused.Limit = ledger.CapPerCall, *asked, *cp.caps.PerCall
	}
	return nil, refused
}

// weigh checks one requirement. It returns a choice, or the rule that refused it and why.
func (cp *compiledPolicy) weigh(op *catalog.Operation, o x402.Option) (*choice, Rule, string) {
	if o.Problem != "" {
		return nil, RuleMalformed, o.Problem
	}
	if o.Scheme != x402.SchemeExact {
		return nil, RuleScheme, fmt.Sprintf("scheme %q is not supported; toll pays the exact scheme only", o.Scheme)
	}
	id, err := x402.ChainID(o.Network)
	if err != nil {
		return nil, RuleNetwork, fmt.Sprintf("network %q is not an EVM network toll knows", o.Network)
	}
	chain := id.String()
	if !cp.chains[chain] {
		allowed := "none"
		if len(cp.names) > 0 {
			allowed = strings.Join(cp.names, ", ")
		}
		return nil, RuleNetwork, fmt.Sprintf("network %s (eip155:%s) is not allowed (allowed: %s)", o.Network, chain, allowed)
	}
	if op.Price.Network != "" && !x402.SameNetwork(op.Price.Network, o.Network) {
		return nil, RuleAdvertisedPrice, fmt.Sprintf("network %s differs from the advertised %s", o.Network, op.Price.Network)
	}
	asset, err := wallet.ParseAddress(o.Asset)
	if err != nil {
		return nil, RuleAsset, fmt.Sprintf("asset %q is not a token address", o.Asset)
	}
	key := strings.ToLower(asset.Hex())
	if !cp.assets[chain][key] && !cp.anyAssets[key] {
		return nil, RuleAsset, fmt.Sprintf("asset %s is not an allowed token on %s (allowed: that network's USDC and the tokens the user added)", asset.Hex(), o.Network)
	}
	if known, ok := x402.USDC(id.Int64()); ok && id.IsInt64() && strings.EqualFold(known.Address, asset.Hex()) &&
		(o.Domain.Name != known.Name || o.Domain.Version != known.Version) {
		return nil, RuleAsset, fmt.Sprintf("the 402 names USDC's EIP-712 domain as %q version %q, but this token's is %q version %q", o.Domain.Name, o.Domain.Version, known.Name, known.Version)
	}
	payTo, err := wallet.ParseAddress(o.PayTo)
	if err != nil || payTo.IsZero() {
		return nil, RuleMalformed, fmt.Sprintf("payTo %q is not an address", o.PayTo)
	}
	if op.Price.PayTo != "" && !strings.EqualFold(op.Price.PayTo, payTo.Hex()) {
		return nil, RulePayTo, fmt.Sprintf("payTo %s is not the pinned recipient %s", payTo.Hex(), op.Price.PayTo)
	}
	if o.Amount.Sign() == 0 {
		return nil, RuleMalformed, "asks for zero"
	}
	if op.Price.Mode != catalog.PriceAtCall && o.Amount.Cmp(op.Price.Amount) > 0 {
		return nil, RuleAdvertisedPrice, fmt.Sprintf("asks %s, more than the advertised price %s", amountText(o.Amount), amountText(op.Price.Amount))
	}
	if cp.caps.PerCall != nil && o.Amount.Cmp(*cp.caps.PerCall) > 0 {
		return nil, RuleCap, fmt.Sprintf("asks %s, more than the per-call cap %s", amountText(o.Amount), amountText(*cp.caps.PerCall))
	}
	window := time.Duration(o.MaxTimeoutSeconds) * time.Second
	if window > cp.maxWindow || o.MaxTimeoutSeconds > int64(cp.maxWindow/time.Second) {
		window = cp.maxWindow
	}
	return &choice{option: o, chainID: id, asset: asset, payTo: payTo, window: window}, "", ""
}

// amountText writes an amount for people: "0.001 USDC". Every token toll pays is a USD
// stablecoin with USDC's decimals.
func amountText(v money.Amount) string { return v.String() + " USDC" }

// clearTextRefusal refuses a priced operation whose request goes over plain http to a
// host that is not this machine (catalog.InsecureHTTP), unless its API's config allows it
// (catalog.Operation.AllowInsecureHTTP): its payment header would travel in clear text, and
// whoever reads it on the way can settle the authorization and withhold the response. An
// operation with no price is never paid (choose refuses it), so it is not refused here.
func clearTextRefusal(op *catalog.Operation, url string) *RefusedError {
	if op.Price == nil || op.AllowInsecureHTTP || !catalog.InsecureHTTP(url) {
		return nil
	}
	return &RefusedError{
		Rule:   RuleInsecureHTTP,
		Amount: op.Price.Amount,
		Msg: fmt.Sprintf("%s is paid over plain http to another machine (%s), where a payment travels in clear text and whoever reads it on the way "+
			"can settle it and withhold the response; nothing was sent or signed", op.Name, url),
		Err: ErrInsecureHTTP,
	}
}
