package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/tollhq/toll/tools/money"
)

// Kind is the kind of an event in the chain.
type Kind string

const (
	KindReserved Kind = "reserved" // an intent was recorded; the call's amount counts
	KindSettled  Kind = "settled"  // reserved|unknown → settled
	KindUnknown  Kind = "unknown"  // reserved → unknown
	KindReleased Kind = "released" // reserved → released
	KindVoided   Kind = "voided"   // reserved|unknown → voided
	KindRefused  Kind = "refused"  // a refusal: over a cap in Reserve, or a policy refusal (Refuse)

	// Approval: a payment that needs a person's yes asks (what, why), then a
	// decision is recorded with who made it (By). None changes a total.
	KindApprovalAsked Kind = "approval-asked"
	KindApproved      Kind = "approved"
	KindDenied        Kind = "denied"

	// KindSignedHead signs the chain as it stands before it (signed.go): the head's
	// position and hash (its PrevHash) and the counted total (Amount), with the
	// payer's key (Payer, Signature). It changes no total.
	KindSignedHead Kind = "signed-head"
)

// callless says whether events of kind k are about no call's money: approvals and
// signed heads, which change no spend and no total. (A refusal is about a call that
// was never reserved: it changes no total either, but has a row of its own.)
func (k Kind) callless() bool {
	switch k {
	case KindApprovalAsked, KindApproved, KindDenied, KindSignedHead:
		return true
	}
	return false
}

// Event is one entry of the append-only chain. Which fields are set depends
// on Kind: reserved events carry the intent; refused events carry what was
// asked and, for a cap refusal, Cap, Limit and Used; settled events carry
// TxHash; unknown, released and voided events carry Reason. Agent is the agent
// (toll.yaml agents:) the call was made for, on every event that has a call
// behind it; By is who decided an approval. PaymentID is the idempotency key sent
// with the payment (x402's payment-identifier extension), recorded with the intent
// before anything is signed; Artifacts is what the server signed about the payment
// (offer-receipt extension: the offer and receipt as received, and what toll found
// when it checked them), as JSON. Signature is a signed head's signature (never a
// payment's: the ledger holds no authorization signature).
//
// Method is the request's method on a reserved event (and a refusal's, when known):
// free text, an HTTP method such as "GET" for a paid HTTP request, or what names the
// call in another protocol (a paid MCP call has no HTTP method; "tools/call"). HTTPStatus
// is the HTTP status the paid request was answered with, on a settled, unknown or
// released event; 0 when there was no answer (the request failed, nothing was sent, or
// the outcome came from elsewhere, such as a reconciliation against the chain).
//
// Hash is hex(sha256(prev || canonical encoding of the event without its
// hashes)), where prev is the previous event's hash as 32 raw bytes (32 zero
// bytes before the first event). PrevHash is hex(prev).
type Event struct {
	Seq    uint64 // position in the chain, from 1
	Time   time.Time
	Kind   Kind
	CallID string

	Session     string
	API         string
	Tool        string
	URL         string
	Network     string
	Asset       string
	Amount      *money.Amount // nil when the event has none; at Decimals
	PayTo       string
	Payer       string
	Nonce       string
	ValidBefore time.Time

	TxHash string
	Reason string
	Cap    string
	Limit  *money.Amount
	Used   *money.Amount

	Agent     string
	By        string
	PaymentID string
	Artifacts string
	Signature string

	Method     string
	HTTPStatus int

	PrevHash string
	Hash     string
}

// Canonical encodings. Version 1 has the first 20 fields; version 2 appends
// Agent, By, PaymentID, Artifacts and Signature; version 3 appends Method and
// HTTPStatus. An event is written in the lowest version that holds its fields, so
// events written before a version existed hash as they did.
const (
	canonV1 = 1
	canonV2 = 2
	canonV3 = 3

	canonMaxFields = 27 // the fields of the newest version
)

var genesis [sha256.Size]byte

func validKind(k Kind) bool {
	switch k {
	case KindReserved, KindSettled, KindUnknown, KindReleased, KindVoided, KindRefused,
		KindApprovalAsked, KindApproved, KindDenied, KindSignedHead:
		return true
	}
	return false
}

// canonical encodes every field of e except the hashes, in a fixed order, each
// as a uvarint length followed by its bytes, after a version byte. Numbers are
// decimal, times are "unix-seconds.nanoseconds", nil and zero values are empty.
func (e *Event) canonical() []byte {
	fields := []string{
		strconv.FormatUint(e.Seq, 10), encTime(e.Time), string(e.Kind), e.CallID,
		e.Session, e.API, e.Tool, e.URL, e.Network, e.Asset, encInt(e.Amount),
		e.PayTo, e.Payer, e.Nonce, encTime(e.ValidBefore),
		e.TxHash, e.Reason, e.Cap, encInt(e.Limit), encInt(e.Used),
	}
	version := e.canonVersion()
	if version >= canonV2 {
		fields = append(fields, e.Agent, e.By, e.PaymentID, e.Artifacts, e.Signature)
	}
	if version >= canonV3 {
		fields = append(fields, e.Method, encStatus(e.HTTPStatus))
	}
	return encodeFields(version, fields)
}

// encodeFields is tag followed by each field as a uvarint length and its bytes: the
// layout of an event's canonical encoding and of a compact call record.
func encodeFields(tag byte, fields []string) []byte {
	n := 1
	for _, f := range fields {
		n += uvarintLen(uint64(len(f))) + len(f)
	}
	b := make([]byte, 1, n)
	b[0] = tag
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// canonVersion is the lowest encoding version that holds e's fields.
func (e *Event) canonVersion() byte {
	switch {
	case e.Method != "" || e.HTTPStatus != 0:
		return canonV3
	case e.needsV2():
		return canonV2
	}
	return canonV1
}

// needsV2 says whether e has a field version 1 cannot hold.
func (e *Event) needsV2() bool {
	if e.Kind.callless() {
		return true
	}
	return e.Signature != "" || e.Agent != "" || e.By != "" || e.PaymentID != "" || e.Artifacts != ""
}

// canonFields is the number of fields of each encoding version.
func canonFields(version byte) int {
	switch version {
	case canonV1:
		return 20
	case canonV2:
		return 25
	case canonV3:
		return canonMaxFields
	}
	return 0
}

// decodeCanonical is the inverse of canonical, and accepts only what canonical writes:
// every field is checked to be in the one form canonical gives it (decimal numbers
// without leading zeros, times "seconds.nanoseconds" that name the same instant back,
// minimal lengths, the version the event's fields call for), which is exactly
// canonical(decodeCanonical(b)) == b without encoding the event again.
func decodeCanonical(b []byte) (Event, error) {
	nf := 0
	if len(b) > 0 {
		nf = canonFields(b[0])
	}
	if nf == 0 {
		return Event{}, errors.New("unknown event encoding (written by a newer toll?)")
	}
	all := string(b[1:]) // one copy: the fields are substrings of it
	var f [canonMaxFields]string
	rest := all
	for i := range nf {
		n, k := binary.Uvarint([]byte(rest[:min(len(rest), binary.MaxVarintLen64)]))
		if k <= 0 || n > uint64(len(rest)-k) {
			return Event{}, errors.New("truncated event encoding")
		}
		if k != uvarintLen(n) {
			return Event{}, errors.New("event encoding is not canonical")
		}
		f[i] = rest[k : k+int(n)]
		rest = rest[k+int(n):]
	}
	if len(rest) != 0 {
		return Event{}, errors.New("trailing bytes after event")
	}
	e, err := eventFields(&f)
	if err != nil {
		return Event{}, err
	}
	if e.canonVersion() != b[0] {
		return Event{}, errors.New("event encoding is not canonical")
	}
	return e, nil
}

// eventFields builds the event of the decoded fields f, each checked to be canonical.
// The fields a version lacks are "" in f.
func eventFields(f *[canonMaxFields]string) (Event, error) {
	var e Event
	var err error
	if e.Seq, err = strconv.ParseUint(f[0], 10, 64); err != nil {
		return Event{}, fmt.Errorf("seq: %w", err)
	}
	if !canonDigits(f[0]) {
		return Event{}, errors.New("event encoding is not canonical")
	}
	e.Kind, e.CallID = Kind(f[2]), f[3]
	e.Session, e.API, e.Tool, e.URL, e.Network, e.Asset = f[4], f[5], f[6], f[7], f[8], f[9]
	e.PayTo, e.Payer, e.Nonce = f[11], f[12], f[13]
	e.TxHash, e.Reason, e.Cap = f[15], f[16], f[17]
	e.Agent, e.By, e.PaymentID, e.Artifacts, e.Signature = f[20], f[21], f[22], f[23], f[24]
	e.Method = f[25]
	if e.HTTPStatus, err = decStatus(f[26]); err != nil {
		return Event{}, err
	}
	if e.Time, err = decTime(f[1]); err != nil {
		return Event{}, err
	}
	if e.ValidBefore, err = decTime(f[14]); err != nil {
		return Event{}, err
	}
	for _, x := range []struct {
		s   string
		dst **money.Amount
	}{{f[10], &e.Amount}, {f[18], &e.Limit}, {f[19], &e.Used}} {
		if *x.dst, err = decInt(x.s); err != nil {
			return Event{}, err
		}
		if x.s != "" && !canonDigits(x.s) {
			return Event{}, errors.New("event encoding is not canonical")
		}
	}
	return e, nil
}

// canonDigits reports whether s, decimal digits, has no leading zero (but "0").
func canonDigits(s string) bool { return s == "0" || (s != "" && s[0] != '0') }

// canonInt reports whether s, a number strconv.ParseInt read, is written as
// strconv.FormatInt writes it: no "+", no leading zero, no "-0".
func canonInt(s string) bool {
	if strings.HasPrefix(s, "+") {
		return false
	}
	if rest, neg := strings.CutPrefix(s, "-"); neg {
		return rest != "0" && canonDigits(rest)
	}
	return canonDigits(s)
}

// uvarintLen is the length of n's (minimal) uvarint encoding.
func uvarintLen(n uint64) int {
	k := 1
	for ; n >= 0x80; n >>= 7 {
		k++
	}
	return k
}

// chainHash is sha256(prev || canonical).
func chainHash(prev []byte, canon []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canon)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func encTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func decTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	sec, nsec, ok := strings.Cut(s, ".")
	if !ok || len(nsec) != 9 {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseUint(nsec, 10, 32)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	t := time.Unix(a, int64(b)).UTC()
	// Canonical: the seconds written as encTime writes them (no sign, leading zero or
	// "-0"), naming the same instant back, and not the zero time (written "").
	if t.IsZero() || t.Unix() != a || !canonInt(sec) {
		return time.Time{}, fmt.Errorf("time %q is not canonical", s)
	}
	return t, nil
}

// encStatus writes an HTTP status: "" for none (0).
func encStatus(code int) string {
	if code == 0 {
		return ""
	}
	return strconv.Itoa(code)
}

// decStatus is the inverse of encStatus: "" or a canonical number from 1 to 999.
func decStatus(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 999 || strconv.Itoa(n) != s { // one form only: no sign, no leading zero
		return 0, fmt.Errorf("bad HTTP status %q", clip(s))
	}
	return n, nil
}

// encInt writes an optional amount as its atomic units: "" for none.
func encInt(a *money.Amount) string {
	if a == nil {
		return ""
	}
	return a.AtomicString()
}

// decInt is the inverse of encInt.
func decInt(s string) (*money.Amount, error) {
	if s == "" {
		return nil, nil
	}
	var a money.Amount
	var err error
	if len(s) <= 18 && digitsOnly(s) { // below 10^18: no big-number parse
		x, _ := strconv.ParseUint(s, 10, 64)
		a = money.New(new(big.Int).SetUint64(x), Decimals)
	} else if a, err = money.ParseAtomic(s, Decimals); err != nil {
		return nil, fmt.Errorf("bad amount: %w", err)
	}
	return &a, nil
}

// digitsOnly reports whether s is one or more ASCII digits.
func digitsOnly(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// record is the stored form of an event: prev hash, hash, canonical bytes.
func encodeRecord(prev, hash [sha256.Size]byte, canon []byte) []byte {
	v := make([]byte, 0, 2*sha256.Size+len(canon))
	v = append(v, prev[:]...)
	v = append(v, hash[:]...)
	return append(v, canon...)
}

// decodeRecord parses a stored event and checks its own hash. It does not
// check the link to the previous event.
func decodeRecord(v []byte) (Event, error) {
	if len(v) < 2*sha256.Size {
		return Event{}, errors.New("short event record")
	}
	prev, hash, canon := v[:sha256.Size], v[sha256.Size:2*sha256.Size], v[2*sha256.Size:]
	e, err := decodeCanonical(canon)
	if err != nil {
		return Event{}, err
	}
	if got := chainHash(prev, canon); !bytes.Equal(got[:], hash) {
		return Event{}, errors.New("hash does not match the event's contents")
	}
	e.PrevHash, e.Hash = hex.EncodeToString(prev), hex.EncodeToString(hash)
	return e, nil
}
