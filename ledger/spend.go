package ledger

import (
	"fmt"
	"math/big"
	"time"
	"unicode/utf8"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
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
	CallID      string       // unique per tool call, made by the caller; required
	Agent       string       // the agent (toll.yaml agents:) the call is made for; "" when none is configured
	Session     string       // MCP session id (stdio: one per process run)
	API         string       // namespace of the API, for per-API caps
	Tool        string       // MCP tool name
	URL         string       // the paid resource
	Network     string       // e.g. "eip155:84532" or "base-sepolia"
	Asset       string       // token address
	Amount      money.Amount // required, > 0; recorded in atomic units of 6 decimals (see Decimals)
	PayTo       string       // recipient address
	Payer       string       // our address
	Nonce       string       // EIP-3009 nonce, 0x + 64 hex digits; required
	ValidBefore time.Time    // end of the authorization's validity; required
	PaymentID   string       // the idempotency key sent with the payment (payment-identifier extension); "" for none
	Method      string       // the paid request's method, free text: "GET" for HTTP, "tools/call" for a paid MCP call; "" when unknown
}

// Caps are the spending limits one Reserve is checked against. A nil cap is no cap; a zero
// cap admits nothing.
type Caps struct {
	PerCall    *money.Amount           // largest single amount
	PerSession *money.Amount           // counted total of Intent.Session
	PerDay     *money.Amount           // counted total reserved in the 24 h before now (rolling window)
	Total      *money.Amount           // counted total of the whole ledger
	PerAPI     map[string]money.Amount // counted total of Intent.API; an absent API has no cap
	PerTool    map[string]money.Amount // counted total of Intent.Tool; an absent tool has no cap
	Agent      AgentCaps               // the caps of Intent.Agent; none for an Intent with no agent
}

// Spend is the current state of one reserved call: its intent and what became
// of it.
type Spend struct {
	Intent
	Status     Status
	TxHash     string    // settlement transaction, once settled
	Reason     string    // the latest reason given (unknown, released, voided)
	HTTPStatus int       // the HTTP status the paid request was answered with; 0 when there was no answer
	Artifacts  string    // the latest artifacts recorded with an outcome (Outcome.Artifacts); "" for none
	ReservedAt time.Time // when the reservation was written (ledger clock)
	UpdatedAt  time.Time // when the status last changed
}

// Refusal is a policy refusal with no reservation behind it: nothing was
// signed. Only Reason is required; record what is known.
type Refusal struct {
	CallID  string
	Agent   string
	Session string
	API     string
	Tool    string
	URL     string
	Network string
	Asset   string
	Amount  *money.Amount // amount asked; nil when unknown
	PayTo   string
	Reason  string // required
	Method  string // the request's method, as Intent.Method; "" when unknown
}

// Totals are counted amounts (reserved + unknown + settled).
type Totals struct {
	Session money.Amount // of the session asked for
	Day     money.Amount // reserved in the 24 h before now
	Total   money.Amount // the whole ledger
	API     money.Amount // of the API asked for
}

// Field length limits: the ledger refuses to grow without bound on text that
// may come from a remote server.
const (
	maxShort = 1024 // ids, names, addresses, hashes
	maxLong  = 8192 // URL, reason
)

// Decimals are the decimals of every amount the ledger records: USDC's. Every token toll
// pays is a 6-decimal stablecoin; an amount given in other decimals is recorded at 6 when
// that is exact, and refused (ErrInvalid) when it is not, so every total adds like units.
const Decimals = money.USDCDecimals

// atomicUnits returns a's atomic units at Decimals, or an error when a cannot be written exactly
// at Decimals.
func atomicUnits(a money.Amount) (*big.Int, error) {
	at, err := a.In(Decimals)
	if err != nil {
		return nil, invalid("amount %s: %v", a, err)
	}
	if !at.FitsUint256() {
		return nil, invalid("amount %s is out of range: more than a token can hold (2^256 atomic units)", a)
	}
	return at.Atomic(), nil
}

// fromAtomic is the inverse of atomicUnits.
func fromAtomic(x *big.Int) money.Amount { return money.New(x, Decimals) }

// normalize rewrites a at Decimals; see atomicUnits.
func normalize(a money.Amount) (money.Amount, error) {
	x, err := atomicUnits(a)
	if err != nil {
		return money.Amount{}, err
	}
	return fromAtomic(x), nil
}

func (in *Intent) validate() error {
	if in.CallID == "" {
		return invalid("empty call id")
	}
	if in.Amount.Sign() <= 0 {
		return invalid("call %q: amount %s is not positive", in.CallID, in.Amount)
	}
	if in.Tool == "" {
		// The per-tool counter of "" would be the total's ("t"): every intent names its tool.
		return invalid("call %q: no tool name", in.CallID)
	}
	a, err := normalize(in.Amount)
	if err != nil {
		return fmt.Errorf("call %q: %w", in.CallID, err)
	}
	in.Amount = a
	if !x402.IsNonce(in.Nonce) {
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
		{"agent", in.Agent, maxShort}, {"method", in.Method, maxShort}, {"payment id", in.PaymentID, maxShort},
	})
}

func (r *Refusal) validate() error {
	if r.Reason == "" {
		return invalid("refusal without a reason")
	}
	if r.Amount != nil {
		if r.Amount.Sign() < 0 {
			return invalid("refusal amount %s is negative", r.Amount)
		}
		a, err := normalize(*r.Amount)
		if err != nil {
			return fmt.Errorf("refusal: %w", err)
		}
		r.Amount = &a
	}
	return checkText([]textField{
		{"call id", r.CallID, maxShort}, {"session", r.Session, maxShort}, {"api", r.API, maxShort},
		{"tool", r.Tool, maxShort}, {"url", r.URL, maxLong}, {"network", r.Network, maxShort},
		{"asset", r.Asset, maxShort}, {"payTo", r.PayTo, maxShort}, {"reason", r.Reason, maxLong},
		{"method", r.Method, maxShort},
	})
}

func (c *Caps) validate() error {
	check := func(name string, v money.Amount) error {
		if v.Sign() < 0 {
			return invalid("%s cap %s is negative", name, v)
		}
		if _, err := atomicUnits(v); err != nil {
			return fmt.Errorf("%s cap: %w", name, err)
		}
		return nil
	}
	for _, cp := range []struct {
		name string
		v    *money.Amount
	}{{CapPerCall, c.PerCall}, {CapPerSession, c.PerSession}, {CapPerDay, c.PerDay}, {CapTotal, c.Total}} {
		if cp.v == nil {
			continue
		}
		if err := check(cp.name, *cp.v); err != nil {
			return err
		}
	}
	for api, v := range c.PerAPI {
		if err := check(fmt.Sprintf("per-api %q", api), v); err != nil {
			return err
		}
	}
	for tool, v := range c.PerTool {
		if err := check(fmt.Sprintf("per-tool %q", tool), v); err != nil {
			return err
		}
	}
	return c.Agent.validate(check)
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

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
