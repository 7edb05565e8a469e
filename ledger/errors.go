package ledger

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tollhq/toll/tools/money"
)

var (
	// ErrCapExceeded is matched (errors.Is) by the *CapError that Reserve returns
	// when an amount would take a counted total over a cap. The refusal has been
	// recorded as a "refused" event; nothing was reserved.
	ErrCapExceeded = errors.New("spending cap exceeded")

	// ErrDuplicateCall is returned by Reserve when the call id has already been
	// reserved. Nothing is written: a call is paid for at most once.
	ErrDuplicateCall = errors.New("call already reserved")

	// ErrNotFound is returned when no reservation exists for a call id.
	ErrNotFound = errors.New("call not found")

	// ErrBadTransition is returned when a status change is not allowed from the
	// current status (settled, released and voided are final).
	ErrBadTransition = errors.New("invalid status transition")

	// ErrTampered is matched (errors.Is) by the *TamperError that Verify and
	// VerifyEvents return when the event chain or the state derived from it does
	// not check out.
	ErrTampered = errors.New("ledger tampered")

	// ErrBusy is returned when the ledger file lock could not be taken within
	// Options.Timeout: another toll process (or another open handle) holds it.
	ErrBusy = errors.New("ledger busy")

	// ErrInvalid is returned for an Intent, Caps or Refusal that cannot be
	// recorded (empty call id, amount not > 0, malformed nonce...). Nothing is written.
	ErrInvalid = errors.New("invalid ledger input")

	// ErrUnavailable is matched (errors.Is) by the error of an operation on a PostgreSQL
	// ledger whose database could not be reached or failed the transaction (the server
	// stopped, the connection broke): nothing of the operation was committed, and a
	// Reserve that fails so means nothing may be signed. Try again once it is back.
	ErrUnavailable = errors.New("ledger database unavailable")

	// ErrPermission is matched by the error of an operation on a PostgreSQL ledger that
	// the database role may not make: a write by a role that may only read (an
	// auditor's). Nothing of the operation was committed, and a Reserve that fails so
	// means nothing may be signed. It is a setup error, not an outage: give toll serve's
	// role write access (README: PostgreSQL).
	ErrPermission = errors.New("ledger database permission denied")

	// ErrSchema is returned when a PostgreSQL ledger's schema is not the one this toll
	// uses: older (run toll ledger migrate, or open with Options.Migrate) or newer (use
	// a newer toll). Nothing was read or written.
	ErrSchema = errors.New("ledger database schema version mismatch")

	// ErrClosed is returned by operations on a closed *Ledger.
	ErrClosed = errors.New("ledger closed")

	// ErrNoLedger is returned by Open with Options.NoCreate when there is no
	// ledger at the path: no file, or a bbolt file that never held one.
	ErrNoLedger = errors.New("no ledger")

	// ErrDamaged is matched (errors.Is) by the *DamageError that Open and every
	// operation return when the ledger file cannot be read whole: emptied, cut
	// short, or with bytes changed where bbolt keeps its structure. Nothing was
	// written to the file.
	ErrDamaged = errors.New("ledger file damaged")
)

// Cap names, as reported in CapError.Cap and in refused events.
const (
	CapPerCall    = "per-call"
	CapPerSession = "per-session"
	CapPerAPI     = "per-api"
	CapPerTool    = "per-tool"
	CapPerDay     = "per-day"
	CapTotal      = "total"
)

// CapError reports the first cap that a reservation would exceed. Used is the
// amount already counted (reserved + unknown + settled) against that cap
// before this reservation; Used + Amount > Limit.
type CapError struct {
	Cap    string       // CapPerCall, CapPerSession, CapPerAPI, CapPerTool, CapPerDay, CapTotal or a CapAgent* name
	Agent  string       // the agent, for a CapAgent* cap
	API    string       // the API namespace (CapPerAPI, CapAgentPerAPI) or the tool name (CapPerTool)
	Limit  money.Amount // the cap, as the caller gave it
	Used   money.Amount // counted before this reservation (zero for CapPerCall)
	Amount money.Amount // the amount asked
}

func (e *CapError) Error() string {
	name := e.Cap
	if e.Cap == CapPerAPI || e.Cap == CapPerTool || e.Cap == CapAgentPerAPI {
		name = fmt.Sprintf("%s %q", e.Cap, e.API)
	}
	if e.Agent != "" {
		name = fmt.Sprintf("agent %q %s", e.Agent, strings.TrimPrefix(name, "agent "))
	}
	return fmt.Sprintf("%s cap exceeded: used %s + asked %s > limit %s",
		name, e.Used, e.Amount, e.Limit)
}

// Unwrap makes errors.Is(err, ErrCapExceeded) true.
func (e *CapError) Unwrap() error { return ErrCapExceeded }

// TamperError reports where a verification failed. Seq is the position in the
// event chain (1 is the first event); for a mismatch in derived state it is
// the reservation event of the call concerned, or 0 when no event applies.
type TamperError struct {
	Seq    uint64
	Detail string
}

func (e *TamperError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("ledger tampered: %s", e.Detail)
	}
	return fmt.Sprintf("ledger tampered at event %d: %s", e.Seq, e.Detail)
}

// Unwrap makes errors.Is(err, ErrTampered) true.
func (e *TamperError) Unwrap() error { return ErrTampered }

// DamageError reports a ledger file that cannot be read whole (ErrDamaged): Detail says
// what is wrong with the file at Path. Its message says what to do: the file was left as
// it was, to be restored from a copy.
type DamageError struct {
	Path   string
	Detail string
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("ledger file %s is damaged: %s. toll did not change it: restore it from a copy, "+
		"or move it aside to start a new ledger (whose caps start again from zero)", e.Path, e.Detail)
}

// Unwrap makes errors.Is(err, ErrDamaged) true.
func (e *DamageError) Unwrap() error { return ErrDamaged }

func tampered(seq uint64, format string, args ...any) error {
	return &TamperError{Seq: seq, Detail: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
