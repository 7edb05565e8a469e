package catalog

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/tollhq/toll/tools/money"
)

// This file reads the shapes of x-payment-info that describe offers rather
// than a price object: one flat offer, a list of them, and the document's map
// of prices by endpoint.

// Bounds on what an offer list is read for.
const (
	maxOffers      = 32 // offers of one operation read; the rest are left out with a note
	maxOtherLabels = 8  // other methods listed for people
)

// payMethodPattern matches a payment method's name as toll shows it:
// "stripe", "tempo", "mpp", "l402".
var payMethodPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

// isOffer reports whether x-payment-info m is one flat offer
// ({"intent":..,"method":..,"amount":..,"currency":..}) rather than a price
// object or the older pricingMode form.
func isOffer(m map[string]any) bool {
	for _, k := range []string{"price", "pricingMode"} {
		if _, ok := m[k]; ok {
			return false
		}
	}
	for _, k := range []string{"method", "intent", "amount"} {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// readOffers reads a flat offer, or the list of them in m["offers"], as the
// payment discovery draft writes them
// (https://paymentauth.org/draft-payment-discovery-00.html): "method" names
// how to pay ("x402", "stripe", "tempo"…; none means x402), "intent" the kind
// of payment ("charge", or for x402 "exact", is one payment per call),
// "amount" a string of base units of "currency" (cents of "USD", the atomic
// units of "USDC" or of a token named by its address; "decimals" may say
// how many), or, when written with a decimal point, an amount of the
// currency itself. An x402 offer may pin network, payTo (or recipient),
// scheme and asset. toll pays up to the largest x402 amount; the other
// methods are listed in info.others, not paid.
func readOffers(m map[string]any) (paymentInfo, error) {
	list := []any{m}
	if v, ok := m["offers"]; ok {
		l, ok := v.([]any)
		if !ok {
			return paymentInfo{}, fmt.Errorf("offers is %s, not a list", kindOf(v))
		}
		list = l
	}
	var (
		info   paymentInfo
		pins   x402Pins
		lo, hi *money.Amount
	)
	for i, item := range list {
		if i == maxOffers {
			info.notes = append(info.notes, fmt.Sprintf("only the first %d of %d offers are read", maxOffers, len(list)))
			break
		}
		o, ok := item.(map[string]any)
		if !ok {
			return info, fmt.Errorf("offers entry is %s, not an object", kindOf(item))
		}
		method, intent, err := offerKind(o)
		if err != nil {
			return info, err
		}
		if method != "x402" || (intent != "" && intent != "charge" && intent != "exact") {
			info.others = addOther(info.others, otherLabel(method, intent, o))
			continue
		}
		a, err := readOffer(o, &pins)
		if err != nil {
			return info, err
		}
		if lo == nil || a.Cmp(*lo) < 0 {
			lo = &a
		}
		if hi == nil || a.Cmp(*hi) > 0 {
			hi = &a
		}
	}
	if hi == nil {
		return info, noX402("no x402 offer", info.others)
	}
	p := &Price{Amount: *hi, Asset: assetUSDC, Scheme: "exact", Mode: PriceFixed, Source: PriceFromSpec}
	if lo.Cmp(*hi) != 0 {
		p.Mode, p.Min = PriceDynamic, lo
	}
	notes, err := p.pin(pins)
	if err != nil {
		return info, err
	}
	info.notes = append(info.notes, notes...)
	info.price = p
	return info, nil
}

// offerKind reads an offer's method (none means x402) and intent, lower
// case.
func offerKind(o map[string]any) (method, intent string, err error) {
	method = "x402"
	for _, f := range []struct {
		key  string
		dest *string
	}{{"method", &method}, {"intent", &intent}} {
		v, ok := o[f.key]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return "", "", fmt.Errorf("offer %s is %s, not a string", f.key, kindOf(v))
		}
		*f.dest = strings.ToLower(strings.TrimSpace(s))
	}
	return method, intent, nil
}

// readOffer reads an x402 offer: its amount as USDC, and what it pins.
func readOffer(o map[string]any, pins *x402Pins) (money.Amount, error) {
	code, decimals, addr, err := offerCurrency(o)
	if err != nil {
		return money.Amount{}, err
	}
	a, err := offerAmount(o["amount"], code, decimals)
	if err != nil {
		return money.Amount{}, err
	}
	if err := pins.readFields(o, "x402 offer"); err != nil {
		return money.Amount{}, err
	}
	if addr != "" {
		pins.assets = append(pins.assets, addr)
	}
	return a, nil
}

// offerCurrency reads an offer's currency: "USD" (the default; base units
// are cents), "USDC", or a token address or CAIP-19 id (base units are
// atomic units in "decimals", or USDC's). It returns the currency's code
// for amounts written with a decimal point, the decimals of base units, and
// the token address if one was given.
func offerCurrency(o map[string]any) (code string, decimals int, addr string, err error) {
	v, ok := o["currency"]
	if !ok || v == nil {
		return "USD", 2, "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", 0, "", fmt.Errorf("currency is %s, not a string", kindOf(v))
	}
	switch up := strings.ToUpper(strings.TrimSpace(s)); up {
	case "USD":
		return "USD", 2, "", nil
	case assetUSDC:
		return assetUSDC, money.USDCDecimals, "", nil
	}
	addr, err = assetAddress(s)
	if err != nil || addr == "" {
		return "", 0, "", fmt.Errorf("%w: currency %q (toll pays USD prices in USDC only)", errNoPrice, clip(s))
	}
	decimals = money.USDCDecimals
	d := o["decimals"]
	if md, ok := o["methodDetails"].(map[string]any); ok && d == nil {
		d = md["decimals"]
	}
	if d != nil {
		f, ok := d.(float64)
		if n, isInt := d.(int); isInt {
			f, ok = float64(n), true
		}
		if !ok || f != math.Trunc(f) || f < 0 || f > money.MaxDecimals {
			return "", 0, "", fmt.Errorf("offer decimals %s is not a whole number of decimals", clip(fmt.Sprint(d)))
		}
		decimals = int(f)
	}
	return assetUSDC, decimals, addr, nil
}

// offerAmount reads an offer's amount: a string of digits is base units
// with the given decimals; a string with a decimal point is an amount of the
// currency code (see priceAmount); a number must have a fraction, since a
// whole number could be either.
func offerAmount(v any, code string, decimals int) (money.Amount, error) {
	switch x := v.(type) {
	case nil:
		return money.Amount{}, fmt.Errorf("x402 offer without amount")
	case string:
		if strings.ContainsAny(x, ".$") {
			return priceAmount(x, code)
		}
		a, err := money.ParseAtomic(x, decimals)
		if err != nil {
			return money.Amount{}, fmt.Errorf("amount: %w", err)
		}
		if a, err = a.In(money.USDCDecimals); err != nil {
			return money.Amount{}, fmt.Errorf("amount %s: %w", clip(x), err)
		}
		return a, nil
	case float64:
		if x != math.Trunc(x) {
			return priceAmount(x, code)
		}
	case int, int64, uint64:
	default:
		return money.Amount{}, fmt.Errorf("amount is %s, not a decimal string", kindOf(v))
	}
	return money.Amount{}, fmt.Errorf("amount %v is a number without a decimal point, which could be base units or %s; write it as a string of base units (\"10000\") or with a decimal point (\"0.01\")", v, code)
}

// otherLabel is how an offer of another method (or an x402 offer of another
// intent) is shown: its method, its intent when not "charge", and its
// amount when it is in USD or USDC: "stripe 1 USD", "x402 (session)".
func otherLabel(method, intent string, o map[string]any) string {
	label := payMethod(method)
	if intent != "" && intent != "charge" {
		if payMethodPattern.MatchString(intent) {
			label += " (" + intent + ")"
		}
		return label
	}
	if code, decimals, addr, err := offerCurrency(o); err == nil && addr == "" {
		if a, err := offerAmount(o["amount"], code, decimals); err == nil {
			label += " " + a.String() + " " + code
		}
	}
	return label
}

// protocolLabel is how a "protocols" entry of another method is shown: its
// name, and the method its value names, if any: "mpp (tempo)".
func protocolLabel(name string, cfg any) string {
	label := payMethod(name)
	if c, ok := cfg.(map[string]any); ok {
		if m, ok := c["method"].(string); ok && payMethodPattern.MatchString(strings.ToLower(m)) {
			label += " (" + strings.ToLower(m) + ")"
		}
	}
	return label
}

// payMethod is a method's name as toll shows it, lower case, or "another
// method" when the spec's name is not one toll would show.
func payMethod(name string) string {
	if n := strings.ToLower(strings.TrimSpace(name)); payMethodPattern.MatchString(n) {
		return n
	}
	return "another method"
}

// addOther adds a label to the other methods, once, up to maxOtherLabels.
func addOther(others []string, label string) []string {
	if slices.Contains(others, label) || len(others) >= maxOtherLabels {
		return others
	}
	return append(others, label)
}

// endpointsMap is the document's map of prices by endpoint,
// info.x-payment-info.endpoints ({"POST /api/add": {"price_usdc": "0.01"}}),
// and the other members of info.x-payment-info, which every entry takes as
// defaults (network, payTo, asset, protocols…). ok is false when the
// document has none.
func (b *builder) endpointsMap() (eps, defaults map[string]any, ok bool) {
	if b.doc.Info == nil {
		return nil, nil, false
	}
	top, _ := b.doc.Info.Extensions["x-payment-info"].(map[string]any)
	eps, ok = top["endpoints"].(map[string]any)
	if !ok {
		return nil, nil, false
	}
	defaults = maps.Clone(top)
	delete(defaults, "endpoints")
	return eps, defaults, true
}

// endpointKey finds the key of eps that names the operation: "METHOD /path"
// with the method in any case, and the path as the operation's, or with
// the path of its server URL before it ("/api" + "/add").
func endpointKey(eps map[string]any, method, path, serverURL string) (string, bool) {
	paths := []string{path}
	if u, err := url.Parse(serverURL); err == nil && strings.Trim(u.Path, "/") != "" {
		paths = append(paths, strings.TrimRight(u.Path, "/")+path)
	}
	for _, p := range paths {
		for _, m := range []string{method, strings.ToLower(method)} {
			if _, ok := eps[m+" "+p]; ok {
				return m + " " + p, true
			}
		}
	}
	return "", false
}

// endpointPaymentInfo is the x-payment-info the document's endpoints map
// gives the operation: its entry over the map's defaults, with "price_usdc"
// (a USDC amount) read as a fixed price. ok is false when the map has no
// entry for it.
func (b *builder) endpointPaymentInfo(e entry, serverURL string) (any, bool) {
	eps, defaults, ok := b.endpointsMap()
	if !ok {
		return nil, false
	}
	key, ok := endpointKey(eps, e.method, e.path, serverURL)
	if !ok {
		return nil, false
	}
	m := maps.Clone(defaults)
	switch v := eps[key].(type) {
	case map[string]any:
		maps.Copy(m, v)
	case string, float64, int:
		m["price_usdc"] = v
	default:
		return v, true // parsePaymentInfo says what is wrong with it
	}
	if pu, ok := m["price_usdc"]; ok {
		delete(m, "price_usdc")
		m["price"] = map[string]any{"mode": PriceFixed, "amount": pu, "currency": assetUSDC}
	}
	return m, true
}

// noteEndpoints warns about the keys of the document's endpoints map that
// name no operation of the entries.
func (b *builder) noteEndpoints(entries []entry) {
	eps, _, ok := b.endpointsMap()
	if !ok {
		return
	}
	used := make(map[string]bool)
	for _, e := range entries {
		if k, ok := endpointKey(eps, e.method, e.path, b.firstServerURL()); ok {
			used[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(eps)) {
		if !used[k] {
			b.noteAPI(fmt.Sprintf("info.x-payment-info.endpoints: no operation is %q; write \"METHOD /path\" as in the document's paths", clip(k)))
		}
	}
}

// firstServerURL is the URL operations go to by default: Options.BaseURL,
// or the document's first server's.
func (b *builder) firstServerURL() string {
	if b.baseURL != "" {
		return b.baseURL
	}
	if len(b.doc.Servers) > 0 && b.doc.Servers[0] != nil {
		return b.doc.Servers[0].URL
	}
	return ""
}
