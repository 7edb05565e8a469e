package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tollhq/toll/tools/money"
)

// Price is what an operation advertises it costs in x402, read from the
// spec. toll pays at most Amount for one call, whatever a 402 response asks;
// for a price set at call time (Mode PriceAtCall) there is no such bound, and
// only the caps bound what toll pays.
type Price struct {
	Amount  money.Amount  // the most toll pays per call (the fixed amount, or the maximum of a dynamic range); zero for PriceAtCall
	Min     *money.Amount // the lower bound of a dynamic price (zero when the spec gives none); nil for a fixed price
	Asset   string        // "USDC"
	Network string        // the network the spec pins (e.g. "eip155:84532"); "" when it names none, or several
	Scheme  string        // x402 scheme: "exact" unless the spec names another
	PayTo   string        // the recipient the spec pins; "" when it names none, or several
	Mode    string        // PriceFixed, PriceDynamic or PriceAtCall
	Source  string        // where the price came from: PriceFromSpec, PriceFromConfig, PriceFromProbe, PriceFromDiscovery or PriceFromResponse
	// AssetAddress is the token contract the price names (a probe, a
	// discovery entry, or x-payment-info giving a token address); "" when
	// it names none. It is recorded, not enforced: the policy's allowed
	// tokens decide what toll pays with.
	AssetAddress string `json:",omitzero"`
	// ObservedAt is when a probed or discovered price was seen; zero for
	// the others.
	ObservedAt time.Time `json:",omitzero"`
}

// Price modes.
const (
	PriceFixed   = "fixed"
	PriceDynamic = "dynamic"
	// PriceAtCall: the operation declares a 402 response and advertises no
	// price; the amount is the one its 402 (or a probe) asks, and toll pays
	// it within its caps, the per-call cap first.
	PriceAtCall = "at call"
)

// Where a price came from, in order of precedence: the config overrides a
// probe, which overrides the spec (or the discovery entry).
const (
	PriceFromConfig    = "config"         // Options.Prices
	PriceFromProbe     = "probe"          // Options.Probes
	PriceFromSpec      = "x-payment-info" // the operation's x-payment-info, or the document's endpoints map
	PriceFromDiscovery = "discovery"      // the accepts of an x402 discovery entry
	PriceFromResponse  = "402 response"   // a declared 402 response and no price: set at call time
)

// The only asset a price can be in today: USD prices are paid in USDC.
const assetUSDC = "USDC"

// Display writes the price for people: "0.001 USDC", for a dynamic price
// the range "0.001–0.01 USDC", for a price set at call time "set at call
// time".
func (p *Price) Display() string {
	if p == nil {
		return "free"
	}
	if p.Mode == PriceAtCall {
		return "set at call time"
	}
	amount := p.Amount.String()
	if p.Mode == PriceDynamic && p.Min != nil {
		amount = p.Min.String() + "–" + amount
	}
	return amount + " " + p.Asset
}

// Line is the sentence a tool description ends with (see
// Operation.ToolDescription): "Price: 0.001 USDC per call (x402,
// eip155:84532)", or without a pinned network "Price: 0.001 USDC per call
// (x402)"; for a price set at call time "Price: set at call time by the
// API's 402 response, at most toll's per-call cap (x402)"; for a nil Price,
// "Price: free".
func (p *Price) Line() string {
	if p == nil {
		return "Price: free"
	}
	how := "x402"
	if p.Network != "" {
		how += ", " + p.Network
	}
	if p.Mode == PriceAtCall {
		return "Price: set at call time by the API's 402 response, at most toll's per-call cap (" + how + ")"
	}
	return "Price: " + p.Display() + " per call (" + how + ")"
}

// Limits on the identifiers a price names; anything else is a malformed price.
var (
	networkPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:_.-]{0,63}$`)
	payToPattern   = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)
	schemePattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	addressPattern = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
)

// errNoPrice marks x-payment-info that is well formed but advertises no price
// toll can pay (another currency, no x402, no maximum).
var errNoPrice = errors.New("no payable price")

// paymentInfo is what x-payment-info says: the price toll may pay (nil when
// it gives none), the ways to pay other than x402 it offers (shown to the
// model, never paid), and notes on what was read.
type paymentInfo struct {
	price  *Price
	others []string
	notes  []string
}

// parsePaymentInfo reads an operation's x-payment-info extension in each
// shape public specs write it (amounts in decimal currency units, USD by
// default, unless said otherwise):
//   - {"price":{"mode":"fixed","amount":..,"currency":..}} or
//     {"price":{"mode":"dynamic","min":..,"max":..}};
//   - the older {"pricingMode":"fixed","price":..}, {"pricingMode":"range",
//     "minPrice":..,"maxPrice":..} and {"pricingMode":"quote","maxPrice":..};
//   - both with "protocols" as objects ({"x402":{"network":..,"payTo":..}},
//     {"mpp":{..}}) or plain strings ("x402", "mpp"), and network, asset,
//     payTo and scheme also at the top of x-payment-info;
//   - a flat offer {"intent":"charge","method":"x402","amount":..,
//     "currency":..}, or a list of them in "offers" (see readOffers).
//
// Methods other than x402 go to info.others, also when there is an error.
// An error says why there is no price; the operation stays, free of any
// advertised price, so toll will refuse to pay it.
func parsePaymentInfo(v any) (paymentInfo, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return paymentInfo{}, fmt.Errorf("x-payment-info is %s, not an object", kindOf(v))
	}
	if isOffer(m) || m["offers"] != nil {
		return readOffers(m)
	}
	var info paymentInfo
	var pins x402Pins
	others, err := readProtocols(m["protocols"], &pins)
	info.others = others
	if err != nil {
		return info, err
	}
	sh, err := readPriceShape(m)
	if err != nil {
		return info, err
	}
	p, err := sh.price()
	if err != nil {
		return info, err
	}
	if err := pins.readFields(m, "x-payment-info"); err != nil {
		return info, err
	}
	if info.notes, err = p.pin(pins); err != nil {
		return info, err
	}
	info.price = p
	return info, nil
}

// priceShape is what x-payment-info says of a price before its amounts are
// read: the mode, the bounds (lo is nil for a fixed price) and the
// currency.
type priceShape struct {
	mode             string
	lo, hi, currency any
}

// price reads the amounts of sh into a Price from the spec.
func (sh priceShape) price() (*Price, error) {
	code := "USD"
	if sh.currency != nil {
		s, ok := sh.currency.(string)
		if !ok {
			return nil, fmt.Errorf("currency is %s, not a string", kindOf(sh.currency))
		}
		code = strings.ToUpper(strings.TrimSpace(s))
	}
	if code != "USD" && code != assetUSDC {
		return nil, fmt.Errorf("%w: currency %q (toll pays USD prices in USDC only)", errNoPrice, clip(code))
	}
	p := &Price{Asset: assetUSDC, Scheme: "exact", Mode: sh.mode, Source: PriceFromSpec}
	if sh.hi == nil {
		return nil, fmt.Errorf("%w: dynamic price without a maximum", errNoPrice)
	}
	var err error
	if p.Amount, err = priceAmount(sh.hi, code); err != nil {
		return nil, err
	}
	if sh.mode == PriceDynamic {
		low := money.USDC(0)
		if sh.lo != nil {
			if low, err = priceAmount(sh.lo, code); err != nil {
				return nil, err
			}
		}
		if low.Cmp(p.Amount) > 0 {
			return nil, fmt.Errorf("minimum %s is above maximum %s", low, p.Amount)
		}
		p.Min = &low
	}
	return p, nil
}

// readPriceShape reads the mode and bounds of x-payment-info m: a price
// object ({"mode":..,"amount":..} or {"mode":"dynamic","min":..,"max":..}),
// or the older pricingMode form.
func readPriceShape(m map[string]any) (priceShape, error) {
	sh := priceShape{currency: m["currency"]}
	pv, ok := m["price"].(map[string]any)
	if !ok {
		return readPricingMode(m, sh)
	}
	sh.mode = PriceFixed
	if s, ok := pv["mode"].(string); ok {
		sh.mode = strings.ToLower(s)
	} else if pv["mode"] != nil {
		return sh, fmt.Errorf("price.mode is %s, not a string", kindOf(pv["mode"]))
	}
	if c, ok := pv["currency"]; ok {
		sh.currency = c
	}
	switch sh.mode {
	case PriceFixed:
		sh.hi = pv["amount"]
		if sh.hi == nil {
			return sh, errors.New("fixed price without amount")
		}
	case PriceDynamic:
		sh.lo, sh.hi = pv["min"], pv["max"]
	default:
		return sh, fmt.Errorf("unknown price.mode %q", clip(sh.mode))
	}
	return sh, nil
}

// readPricingMode reads the older form: {"pricingMode":"fixed","price":..},
// {"pricingMode":"range","minPrice":..,"maxPrice":..} or
// {"pricingMode":"quote","maxPrice":..}; no pricingMode means fixed.
func readPricingMode(m map[string]any, sh priceShape) (priceShape, error) {
	pm, _ := m["pricingMode"].(string)
	if pm == "" && m["pricingMode"] != nil {
		return sh, fmt.Errorf("pricingMode is %s, not a string", kindOf(m["pricingMode"]))
	}
	switch strings.ToLower(pm) {
	case "", PriceFixed:
		if m["price"] == nil {
			return sh, errors.New("no price given")
		}
		sh.mode, sh.hi = PriceFixed, m["price"]
	case "range":
		sh.mode, sh.lo, sh.hi = PriceDynamic, m["minPrice"], m["maxPrice"]
	case "quote":
		sh.mode, sh.hi = PriceDynamic, m["maxPrice"]
	default:
		return sh, fmt.Errorf("unknown pricingMode %q", clip(pm))
	}
	return sh, nil
}

// priceAmount reads a decimal currency amount. A string is parsed exactly (a
// leading "$" is allowed for USD, as x402 middleware writes prices). A YAML
// or JSON number has already been decoded to a float64; it is accepted when
// its shortest decimal form has at most 15 significant digits, which is the
// number the author wrote.
func priceAmount(v any, code string) (money.Amount, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
		if code == "USD" {
			s = strings.TrimPrefix(s, "$")
		}
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
		if significantDigits(s) > 15 {
			return money.Amount{}, fmt.Errorf("amount %s is a number too precise to read exactly; write it as a string", clip(s))
		}
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	default:
		return money.Amount{}, fmt.Errorf("amount is %s, not a decimal string", kindOf(v))
	}
	a, err := money.ParseUSDC(s)
	if err != nil {
		return money.Amount{}, fmt.Errorf("amount: %w", err)
	}
	return a, nil
}

// significantDigits counts the digits of a plain decimal string from the
// first non-zero one.
func significantDigits(s string) int {
	s = strings.TrimLeft(strings.ReplaceAll(s, ".", ""), "0-")
	return len(s)
}

// readProtocols reads "protocols": absent means x402; a list must name
// x402, as a string or as an object key whose value may pin network, payTo,
// scheme and asset (into pins). It returns the other methods the list
// names, for people ("mpp", "mpp (tempo)").
func readProtocols(v any, pins *x402Pins) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("protocols is %s, not a list", kindOf(v))
	}
	var others []string
	found := false
	for _, item := range list {
		switch x := item.(type) {
		case string:
			if strings.EqualFold(x, "x402") {
				found = true
			} else {
				others = addOther(others, payMethod(x))
			}
		case map[string]any:
			for k, cfg := range x {
				if !strings.EqualFold(k, "x402") {
					others = addOther(others, protocolLabel(k, cfg))
					continue
				}
				found = true
				if err := pins.readEntry(cfg); err != nil {
					return others, err
				}
			}
		default:
			return others, fmt.Errorf("protocols entry is %s, not a string or object", kindOf(item))
		}
	}
	if !found {
		return others, noX402("protocols do not include x402", others)
	}
	return others, nil
}

// noX402 says there is no x402 price: why, or the other methods offered.
func noX402(why string, others []string) error {
	if len(others) == 0 {
		return fmt.Errorf("%w: %s", errNoPrice, why)
	}
	return fmt.Errorf("%w: offered only by %s, not by x402, the one method toll pays", errNoPrice, strings.Join(others, ", "))
}

// x402Pins are the networks, recipients, schemes and token addresses the
// x402 parts of x-payment-info name.
type x402Pins struct {
	networks, payTos, schemes, assets []string
}

// readEntry reads the value of an x402 entry of "protocols": nothing, or an
// object that may pin network, payTo, scheme and asset.
func (pins *x402Pins) readEntry(cfg any) error {
	if cfg == nil {
		return nil
	}
	c, ok := cfg.(map[string]any)
	if !ok {
		return fmt.Errorf("protocols x402 entry is %s, not an object", kindOf(cfg))
	}
	return pins.readFields(c, "protocols x402")
}

// readFields reads the network, payTo (or recipient), scheme and asset that
// c names; where says where c is, for messages. An asset is the token's
// address (or a CAIP-19 id ending in it), or USDC.
func (pins *x402Pins) readFields(c map[string]any, where string) error {
	for _, f := range []struct {
		key  string
		re   *regexp.Regexp
		dest *[]string
	}{
		{"network", networkPattern, &pins.networks},
		{"payTo", payToPattern, &pins.payTos},
		{"recipient", payToPattern, &pins.payTos},
		{"scheme", schemePattern, &pins.schemes},
	} {
		fv, ok := c[f.key]
		if !ok || fv == nil {
			continue
		}
		s, ok := fv.(string)
		if !ok || !f.re.MatchString(s) {
			return fmt.Errorf("%s %s %s is malformed", where, f.key, clip(fmt.Sprint(fv)))
		}
		*f.dest = append(*f.dest, s)
	}
	if av, ok := c["asset"]; ok && av != nil {
		s, ok := av.(string)
		if !ok {
			return fmt.Errorf("%s asset is %s, not a string", where, kindOf(av))
		}
		addr, err := assetAddress(s)
		if err != nil {
			return err
		}
		if addr != "" {
			pins.assets = append(pins.assets, addr)
		}
	}
	return nil
}

// assetAddress reads an asset x-payment-info names: a token address, a
// CAIP-19 asset id ending in one ("eip155:8453/erc20:0x…"), or the symbol
// USDC (or USD), which names no address. Another symbol is no price toll
// pays.
func assetAddress(s string) (string, error) {
	t := strings.TrimSpace(s)
	if i := strings.LastIndexByte(t, ':'); i >= 0 {
		t = t[i+1:]
	}
	switch {
	case addressPattern.MatchString(t):
		return t, nil
	case strings.EqualFold(t, assetUSDC), strings.EqualFold(t, "USD"):
		return "", nil
	}
	return "", fmt.Errorf("%w: asset %q (toll pays USDC only)", errNoPrice, clip(s))
}

// pin sets what pins name on p: each of network, payTo and asset when
// every part of x-payment-info that names one names the same (a note says
// when they differ, and nothing is pinned), and the scheme, which must
// agree.
func (p *Price) pin(pins x402Pins) ([]string, error) {
	var notes []string
	p.Network = agreed(pins.networks)
	if p.Network == "" && len(pins.networks) > 0 {
		notes = append(notes, fmt.Sprintf("x402 networks %q differ; no network pinned", pins.networks))
	}
	p.PayTo = agreed(pins.payTos)
	if p.PayTo == "" && len(pins.payTos) > 0 {
		notes = append(notes, fmt.Sprintf("x402 payTo addresses %q differ; no recipient pinned", pins.payTos))
	}
	p.AssetAddress = agreedFold(pins.assets)
	if p.AssetAddress == "" && len(pins.assets) > 0 {
		notes = append(notes, fmt.Sprintf("x402 assets %q differ; no token recorded", pins.assets))
	}
	if s := agreed(pins.schemes); s != "" {
		p.Scheme = s
	} else if len(pins.schemes) > 0 {
		return nil, fmt.Errorf("protocols x402 name several schemes %q", pins.schemes)
	}
	return notes, nil
}

// price is the Price a probe read.
func (p *ProbedPrice) price() *Price {
	scheme := p.Scheme
	if scheme == "" {
		scheme = "exact"
	}
	return &Price{
		Amount:       p.Amount,
		Asset:        assetUSDC,
		Network:      p.Network,
		Scheme:       scheme,
		PayTo:        p.PayTo,
		Mode:         PriceFixed,
		Source:       PriceFromProbe,
		AssetAddress: p.Asset,
		ObservedAt:   p.ObservedAt,
	}
}

// agreedFold is agreed with case ignored (token addresses).
func agreedFold(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	for _, v := range vs[1:] {
		if !strings.EqualFold(v, vs[0]) {
			return ""
		}
	}
	return vs[0]
}

// agreed returns the value when all of vs are the same, else "".
func agreed(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return ""
		}
	}
	return vs[0]
}

// kindOf names the JSON kind of a decoded value, for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64, uint64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// price sets the operation's price: from the config's prices, else from a
// probe, else the spec's (x-payment-info, the document's endpoints map, or
// the discovery entry), else, for an operation that declares a 402
// response, a price set at call time.
func (b *builder) price(p *pending, e entry) {
	spec, specErr := b.specPrice(p, e)
	probed, configured := b.probedPrice(e), b.configuredPrice(e)
	if specErr != nil {
		if configured == nil && probed == nil {
			p.notes = append(p.notes, fmt.Sprintf("x-payment-info: %v; no price is advertised, so toll will not pay for this operation", specErr))
		} else {
			p.notes = append(p.notes, fmt.Sprintf("x-payment-info: %v; the price from the config or a probe is used", specErr))
		}
	}
	replaced := spec
	if probed != nil {
		replaced = probed
	}
	switch {
	case configured != nil:
		if replaced != nil {
			// The config sets the amount; where to pay stays as the
			// probe or the spec pinned it.
			configured.Network, configured.PayTo, configured.AssetAddress = replaced.Network, replaced.PayTo, replaced.AssetAddress
			configured.Scheme = replaced.Scheme
			if replaced.Mode != PriceAtCall && (replaced.Amount.Cmp(configured.Amount) != 0 || replaced.Mode != PriceFixed) {
				p.notes = append(p.notes, fmt.Sprintf("price %s from the config in place of %s from %s", configured.Display(), replaced.Display(), replaced.Source))
			}
		}
		p.op.Price = configured
	case probed != nil:
		if spec != nil && spec.Mode != PriceAtCall && (spec.Amount.Cmp(probed.Amount) != 0 || spec.Mode != PriceFixed) {
			p.notes = append(p.notes, fmt.Sprintf("price %s from a probe in place of %s from %s", probed.Display(), spec.Display(), spec.Source))
		}
		p.op.Price = probed
	default:
		if spec != nil && spec.Mode == PriceAtCall {
			p.notes = append(p.notes, "declares a 402 response and advertises no price: toll pays what its 402 asks, within the per-call cap and the other caps (probe it, or set a price in the config, to fix the amount)")
		}
		p.op.Price = spec
	}
}

// specPrice is the price the document gives: the discovery entry's, else
// the operation's x-payment-info, else the entry of the document's
// endpoints map (info.x-payment-info.endpoints), else, when the operation
// declares a 402 response, a price set at call time, else nil. Notes of
// x-payment-info go on p, and the methods other than x402 it offers on
// p.op.OtherMethods. An error says why x-payment-info gives no price.
func (b *builder) specPrice(p *pending, e entry) (*Price, error) {
	if e.price != nil {
		return e.price, nil
	}
	v, ok := e.op.Extensions["x-payment-info"]
	if !ok {
		v, ok = b.endpointPaymentInfo(e, p.op.ServerURL)
	}
	if !ok {
		if declares402(e.op) {
			return atCallPrice(), nil
		}
		return nil, nil
	}
	info, err := parsePaymentInfo(v)
	p.op.OtherMethods = info.others
	if err != nil {
		return nil, err
	}
	for _, n := range info.notes {
		p.notes = append(p.notes, "x-payment-info: "+n)
	}
	return info.price, nil
}

// declares402 reports whether op declares a 402 Payment Required response.
func declares402(op *openapi3.Operation) bool {
	return op.Responses != nil && op.Responses.Value("402") != nil
}

// atCallPrice is the price of an operation that declares a 402 response and
// advertises none: set at call time.
func atCallPrice() *Price {
	return &Price{Amount: money.USDC(0), Asset: assetUSDC, Scheme: "exact", Mode: PriceAtCall, Source: PriceFromResponse}
}

// configKey returns how m names the operation: "METHOD /path", else its
// operationId; ok is false when m names it neither way.
func configKey[V any](m map[string]V, e entry) (string, bool) {
	k := e.method + " " + e.path
	if _, ok := m[k]; ok {
		return k, true
	}
	if id := e.op.OperationID; id != "" {
		if _, ok := m[id]; ok {
			return id, true
		}
	}
	return "", false
}

// probedPrice is the price a probe read for the operation, or nil.
func (b *builder) probedPrice(e entry) *Price {
	if k, ok := configKey(b.probes, e); ok {
		return b.probes[k].price()
	}
	return nil
}

// configuredPrice is the price the config sets for the operation, or nil.
func (b *builder) configuredPrice(e entry) *Price {
	k, ok := configKey(b.prices, e)
	if !ok {
		return nil
	}
	return &Price{
		Amount: b.prices[k],
		Asset:  assetUSDC,
		Scheme: "exact",
		Mode:   PriceFixed,
		Source: PriceFromConfig,
	}
}
