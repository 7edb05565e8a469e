package ledger

import (
	"math/big"
	"time"
	"unicode/utf8"
)

// Status is the current state of a reserved call.
type Status string

const (
	// StatusReserved: the intent is recorded and the signature may exist. Counts.
	StatusReserved Status = "reserved"
	// StatusUnknown: the payment was sent but its outcome is unknown. Counts
	// until it is settled or proven void.
	StatusUnknown Status = "unknown"
	// StatusSettled: the payment settled. Counts. Final.
	StatusSettled Status = "settled"
	// StatusReleased: the signature never left toll. Does not count. Final.
	StatusReleased Status = "released"
	// StatusVoided: proven never settled (reconciled). Does not count. Final.
	StatusVoided Status = "voided"
)

// Counts reports whether amounts in this status count against the caps.
func (s Status) Counts() bool {
	return s == StatusReserved || s == StatusUnknown || s == StatusSettled
}

// Final reports whether no further transition is allowed from s.
func (s Status) Final() bool {
	return s == StatusSettled || s == StatusReleased || s == StatusVoided
}

// Intent is what is about to be paid for one tool call. It is recorded before
// the payment is signed. It holds no key and no signature.
type Intent struct {
	CallID      string    // unique per tool call, made by the caller; required
	Session     string    // MCP session id (stdio: one per process run)
	API         string    // namespace of the API, for per-API caps
	Tool        string    // MCP tool name
	URL         string    // the paid resource
	Network     string    // e.g. "eip155:84532" or "base-sepolia"
	Asset       string    // token address
	Amount      *big.Int  // atomic units; required, > 0 and < 2^256
	PayTo       string    // recipient address
	Payer       string    // our address
	Nonce       string    // EIP-3009 nonce, 0x + 64 hex digits; required
	ValidBefore time.Time // end of the authorization's validity; required
}

// Caps are the spending limits one Reserve is checked against, in atomic
// units. A nil cap is no cap; a zero cap admits nothing.
type Caps struct {
	PerCall    *big.Int            // largest single amount
	PerSession *big.Int            // counted total of Intent.Session
	PerDay     *big.Int            // counted total reserved in the 24 h before now (rolling window)
	Total      *big.Int            // counted total of the whole ledger
	PerAPI     map[string]*big.Int // counted total of Intent.API; an absent API has no cap
	PerTool    map[string]*big.Int // counted total of Intent.Tool; an absent tool has no cap
}

// Spend is the current state of one reserved call: its intent and what became
// of it.
type Spend struct {
	Intent
	Status     Status
	TxHash     string    // settlement transaction, once settled
	Reason     string    // the latest reason given (unknown, released, voided)
	ReservedAt time.Time // when the reservation was written (ledger clock)
	UpdatedAt  time.Time // when the status last changed
}

// Refusal is a policy refusal with no reservation behind it: nothing was
// signed. Only Reason is required; record what is known.
type Refusal struct {
	CallID  string
	Session string
	API     string
	Tool    string
	URL     string
	Network string
	Asset   string
	Amount  *big.Int // amount asked, atomic units; nil when unknown
	PayTo   string
	Reason  string // required
}

// Totals are counted amounts (reserved + unknown + settled), in atomic units.
type Totals struct {
	Session *big.Int // of the session asked for
	Day     *big.Int // reserved in the 24 h before now
	Total   *big.Int // the whole ledger
	API     *big.Int // of the API asked for
}

// Field length limits: the ledger refuses to grow without bound on text that
// may come from a remote server.
const (
	maxShort = 1024 // ids, names, addresses, hashes
	maxLong  = 8192 // URL, reason
)

// maxAmount is 2^256 - 1, the largest uint256.
var maxAmount = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

func (in *Intent) validate() error {
	if in.CallID == "" {
		return invalid("empty call id")
	}
	if in.Amount == nil {
		return invalid("call %q: no amount", in.CallID)
	}
	if in.Amount.Sign() <= 0 {
		return invalid("call %q: amount %s is not positive", in.CallID, in.Amount)
	}
	if in.Amount.Cmp(maxAmount) > 0 {
		return invalid("call %q: amount is larger than uint256", in.CallID)
	}
	if !validNonce(in.Nonce) {
		return invalid("call %q: nonce %q is not 0x followed by 64 hex digits", in.CallID, clip(in.Nonce))
	}
	if in.ValidBefore.IsZero() {
		return invalid("call %q: no validBefore", in.CallID)
	}
	if y := in.ValidBefore.Year(); y < 1970 || y > 9999 {
		return invalid("call %q: validBefore %v out of range", in.CallID, in.ValidBefore)
	}
	return checkText([]textField{
		{"call id", in.CallID, maxShort}, {"session", in.Session, maxShort}, {"api", in.API, maxShort},
		{"tool", in.Tool, maxShort}, {"url", in.URL, maxLong}, {"network", in.Network, maxShort},
		{"asset", in.Asset, maxShort}, {"payTo", in.PayTo, maxShort}, {"payer", in.Payer, maxShort},
	})
}

func (r *Refusal) validate() error {
	if r.Reason == "" {
		return invalid("refusal without a reason")
	}
	if r.Amount != nil && (r.Amount.Sign() < 0 || r.Amount.Cmp(maxAmount) > 0) {
		return invalid("refusal amount %s out of range", r.Amount)
	}
	return checkText([]textField{
		{"call id", r.CallID, maxShort}, {"session", r.Session, maxShort}, {"api", r.API, maxShort},
		{"tool", r.Tool, maxShort}, {"url", r.URL, maxLong}, {"network", r.Network, maxShort},
		{"asset", r.Asset, maxShort}, {"payTo", r.PayTo, maxShort}, {"reason", r.Reason, maxLong},
	})
}

func (c *Caps) validate() error {
	for _, cp := range []struct {
		name string
		v    *big.Int
	}{{CapPerCall, c.PerCall}, {CapPerSession, c.PerSession}, {CapPerDay, c.PerDay}, {CapTotal, c.Total}} {
		if cp.v != nil && cp.v.Sign() < 0 {
			return invalid("%s cap %s is negative", cp.name, cp.v)
		}
	}
	for api, v := range c.PerAPI {
		if v != nil && v.Sign() < 0 {
			return invalid("per-api cap of %q is %s, negative", api, v)
		}
	}
	for tool, v := range c.PerTool {
		if v != nil && v.Sign() < 0 {
			return invalid("per-tool cap of %q is %s, negative", tool, v)
		}
	}
	return nil
}

type textField struct {
	name string
	s    string
	max  int
}

func checkText(fields []textField) error {
	for _, f := range fields {
		if len(f.s) > f.max {
			return invalid("%s is %d bytes, longer than %d", f.name, len(f.s), f.max)
		}
		if !utf8.ValidString(f.s) {
			return invalid("%s is not valid UTF-8", f.name)
		}
	}
	return nil
}

func validNonce(s string) bool {
	if len(s) != 66 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// decimal formats an amount; nil is "0".
func decimal(x *big.Int) string {
	if x == nil {
		return "0"
	}
	return x.String()
}

// copyInt returns a copy of x (nil stays nil), so callers never share our values.
func copyInt(x *big.Int) *big.Int {
	if x == nil {
		return nil
	}
	return new(big.Int).Set(x)
}
