package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// JSON forms: snake_case names, amounts as decimal strings (exact in any
// JSON reader), times as RFC 3339 in UTC with nanoseconds; empty fields are
// left out.

type eventJSON struct {
	Seq         uint64 `json:"seq"`
	Time        string `json:"time"`
	Kind        Kind   `json:"kind"`
	CallID      string `json:"call_id,omitempty"`
	Session     string `json:"session,omitempty"`
	API         string `json:"api,omitempty"`
	Tool        string `json:"tool,omitempty"`
	URL         string `json:"url,omitempty"`
	Network     string `json:"network,omitempty"`
	Asset       string `json:"asset,omitempty"`
	Amount      string `json:"amount,omitempty"`
	PayTo       string `json:"pay_to,omitempty"`
	Payer       string `json:"payer,omitempty"`
	Nonce       string `json:"nonce,omitempty"`
	ValidBefore string `json:"valid_before,omitempty"`
	TxHash      string `json:"tx_hash,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Cap         string `json:"cap,omitempty"`
	Limit       string `json:"limit,omitempty"`
	Used        string `json:"used,omitempty"`
	Agent       string `json:"agent,omitempty"`
	By          string `json:"by,omitempty"`
	PaymentID   string `json:"payment_id,omitempty"`
	Artifacts   string `json:"artifacts,omitempty"`
	Signature   string `json:"signature,omitempty"`
	Method      string `json:"method,omitempty"`
	HTTPStatus  int    `json:"http_status,omitempty"`
	PrevHash    string `json:"prev_hash"`
	Hash        string `json:"hash"`
}

// MarshalJSON encodes amounts as decimal strings.
func (e Event) MarshalJSON() ([]byte, error) { return json.Marshal(e.jsonForm()) }

// jsonForm is e's JSON form. An encoder given it directly writes what MarshalJSON
// returns, without checking and compacting it again.
func (e *Event) jsonForm() eventJSON {
	return eventJSON{
		Seq: e.Seq, Time: fmtTime(e.Time), Kind: e.Kind, CallID: e.CallID,
		Session: e.Session, API: e.API, Tool: e.Tool, URL: e.URL, Network: e.Network, Asset: e.Asset,
		Amount: encInt(e.Amount), PayTo: e.PayTo, Payer: e.Payer, Nonce: e.Nonce,
		ValidBefore: fmtTime(e.ValidBefore), TxHash: e.TxHash, Reason: e.Reason, Cap: e.Cap,
		Limit: encInt(e.Limit), Used: encInt(e.Used), Agent: e.Agent, By: e.By,
		PaymentID: e.PaymentID, Artifacts: e.Artifacts, Signature: e.Signature, PrevHash: e.PrevHash, Hash: e.Hash,
		Method: e.Method, HTTPStatus: e.HTTPStatus,
	}
}

// UnmarshalJSON is the inverse of MarshalJSON. Unknown fields are an error:
// an event must hash to what was exported.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	out := Event{
		Seq: j.Seq, Kind: j.Kind, CallID: j.CallID, Session: j.Session, API: j.API, Tool: j.Tool,
		URL: j.URL, Network: j.Network, Asset: j.Asset, PayTo: j.PayTo, Payer: j.Payer, Nonce: j.Nonce,
		TxHash: j.TxHash, Reason: j.Reason, Cap: j.Cap, Agent: j.Agent, By: j.By,
		PaymentID: j.PaymentID, Artifacts: j.Artifacts, Signature: j.Signature, PrevHash: j.PrevHash, Hash: j.Hash,
		Method: j.Method, HTTPStatus: j.HTTPStatus,
	}
	var err error
	if out.Time, err = parseTime(j.Time); err != nil {
		return err
	}
	if out.ValidBefore, err = parseTime(j.ValidBefore); err != nil {
		return err
	}
	if out.Amount, err = decInt(j.Amount); err != nil {
		return err
	}
	if out.Limit, err = decInt(j.Limit); err != nil {
		return err
	}
	if out.Used, err = decInt(j.Used); err != nil {
		return err
	}
	*e = out
	return nil
}

type spendJSON struct {
	CallID      string `json:"call_id"`
	Status      Status `json:"status"`
	Agent       string `json:"agent,omitempty"`
	Session     string `json:"session,omitempty"`
	API         string `json:"api,omitempty"`
	Tool        string `json:"tool,omitempty"`
	URL         string `json:"url,omitempty"`
	Network     string `json:"network,omitempty"`
	Asset       string `json:"asset,omitempty"`
	Amount      string `json:"amount"`
	PayTo       string `json:"pay_to,omitempty"`
	Payer       string `json:"payer,omitempty"`
	Nonce       string `json:"nonce,omitempty"`
	ValidBefore string `json:"valid_before,omitempty"`
	TxHash      string `json:"tx_hash,omitempty"`
	Reason      string `json:"reason,omitempty"`
	PaymentID   string `json:"payment_id,omitempty"`
	Method      string `json:"method,omitempty"`
	HTTPStatus  int    `json:"http_status,omitempty"`
	Artifacts   string `json:"artifacts,omitempty"`
	ReservedAt  string `json:"reserved_at"`
	UpdatedAt   string `json:"updated_at"`
}

// MarshalJSON encodes amounts as decimal strings.
func (s Spend) MarshalJSON() ([]byte, error) {
	return json.Marshal(spendJSON{
		CallID: s.CallID, Status: s.Status, Agent: s.Agent, Session: s.Session, API: s.API, Tool: s.Tool, URL: s.URL,
		Network: s.Network, Asset: s.Asset, Amount: s.Amount.AtomicString(), PayTo: s.PayTo, Payer: s.Payer,
		Nonce: s.Nonce, ValidBefore: fmtTime(s.ValidBefore), TxHash: s.TxHash, Reason: s.Reason,
		PaymentID: s.PaymentID, ReservedAt: fmtTime(s.ReservedAt), UpdatedAt: fmtTime(s.UpdatedAt),
		Method: s.Method, HTTPStatus: s.HTTPStatus, Artifacts: s.Artifacts,
	})
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (s *Spend) UnmarshalJSON(b []byte) error {
	var j spendJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Spend{
		Intent: Intent{
			CallID: j.CallID, Agent: j.Agent, Session: j.Session, API: j.API, Tool: j.Tool, URL: j.URL,
			Network: j.Network, Asset: j.Asset, PayTo: j.PayTo, Payer: j.Payer, Nonce: j.Nonce,
			PaymentID: j.PaymentID, Method: j.Method,
		},
		Status: j.Status, TxHash: j.TxHash, Reason: j.Reason, HTTPStatus: j.HTTPStatus, Artifacts: j.Artifacts,
	}
	a, err := money.ParseAtomic(j.Amount, Decimals)
	if err != nil {
		return fmt.Errorf("spend %q: amount: %w", j.CallID, err)
	}
	out.Amount = a
	for _, t := range []struct {
		s   string
		dst *time.Time
	}{{j.ValidBefore, &out.ValidBefore}, {j.ReservedAt, &out.ReservedAt}, {j.UpdatedAt, &out.UpdatedAt}} {
		if *t.dst, err = parseTime(t.s); err != nil {
			return err
		}
	}
	*s = out
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// ExportJSONL writes the events that f matches, one JSON object per line, in order,
// hashes included, streaming (see ScanEvents): with the zero Filter, the whole chain up
// to the head at its start, which VerifyJSONL checks without the ledger file. The chain
// is checked as it is written: an event that does not hash to its contents or link to
// the one before stops the export with a *TamperError. No lock is held while w is
// written. Amounts are atomic units; '&', '<' and '>' are written as they are.
func (l *Ledger) ExportJSONL(ctx context.Context, w io.Writer, f Filter) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := l.ScanEvents(ctx, f, func(e *Event) error { return enc.Encode(e.jsonForm()) })
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("export jsonl: %w", err)
	}
	return nil
}

// ReadJSONL reads events written by ExportJSONL.
func ReadJSONL(r io.Reader) ([]Event, error) {
	dec := json.NewDecoder(r)
	var evs []Event
	for {
		var e Event
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read jsonl: event %d: %w", len(evs)+1, err)
		}
		evs = append(evs, e)
	}
}

// CSVOptions are the options of ExportCSV; the zero value writes plain CSV (RFC 4180
// quoting, LF line ends, no byte order mark).
type CSVOptions struct {
	// Excel starts the file with a UTF-8 byte order mark, ends lines with CRLF and writes
	// times with a space for the T, as Microsoft Excel expects to read UTF-8 text and times.
	Excel bool
}

// csvHeader is the header row of ExportCSV.
var csvHeader = []string{
	"seq", "hash", "call_id", "status", "rule", "time_utc", "updated_utc", "agent", "session", "api",
	"tool", "method", "http_status", "url", "network", "asset", "symbol", "decimals", "amount", "amount_atomic", "pay_to",
	"payer", "nonce", "valid_before_utc", "tx_hash", "reason", "payment_id",
	"offer_signer", "receipt_signer", "receipt_verified",
}

// How ExportCSV writes times: UTC, to the millisecond, in the form each spreadsheet reads
// as a date and time with its default import options: ISO 8601 for LibreOffice Calc (and
// Google Sheets, and programs), a space for the T for Excel, which reads ISO 8601 as text
// (LibreOffice reads the space form as text unless "detect special numbers" is on).
const (
	csvTime      = "2006-01-02T15:04:05.000"
	csvTimeExcel = "2006-01-02 15:04:05.000"
)

// ExportCSV writes one row per reserved call and per refusal that f matches, after a
// header row, for spreadsheets (the columns are described in csvHeader's order):
//
//   - seq, hash: the position and hash of the row's last event in the chain (the
//     reservation's latest transition, or the refused event), as jsonl and verify print them;
//   - call_id; status: reserved, unknown, settled, released, voided or refused; rule: for a
//     refusal, the cap it would have exceeded (per-call, per-day, ...) or "policy";
//   - time_utc: when the call was reserved (or refused); updated_utc: when its status last
//     changed; valid_before_utc: the end of the authorization's validity. Times are UTC,
//     to the millisecond: 2006-01-02T15:04:05.000 (ISO 8601), or with Excel set
//     2006-01-02 15:04:05.000, which spreadsheets read as a date and time (see csvTime);
//   - agent, session, api, tool; method: the paid request's method (GET, POST...; free
//     text, "tools/call" for a paid MCP call); http_status: the status the paid request
//     was answered with, empty when there was no answer (or for a refusal);
//   - url, network, asset (the token's address), symbol (USDC
//     for the USDC toll knows on that network, else empty), decimals;
//   - amount as a decimal (0.027367) and amount_atomic (27367) in the token's atomic units;
//     both, and decimals, are empty for a refusal that named no amount;
//   - pay_to, payer, nonce, tx_hash, reason (the latest reason given: why the call was
//     released, voided or unknown, or refused; empty on a settled row), payment_id (the
//     idempotency key sent with the payment, x402's payment-identifier extension);
//   - offer_signer: the address that signed the offer of the terms paid, when its
//     signature verified; receipt_signer: the address that signed the settlement's
//     receipt; receipt_verified: yes when the receipt's signature and fields (payer,
//     network, resource) verified, no when not, empty without a receipt (x402's
//     offer-receipt extension; the artifacts themselves are in the jsonl export).
//
// A text cell that starts with =, +, -, @, a tab or a carriage return starts with a single
// quote as well, so that no spreadsheet reads it as a formula (CSV injection:
// https://owasp.org/www-community/attacks/CSV_Injection). The rows come from the events
// alone, streaming (see spendRows for their order and ScanSpends for the checks); no lock
// is held while w is written. A Filter.Status of "refused" selects the refusals.
func (l *Ledger) ExportCSV(ctx context.Context, w io.Writer, f Filter, opt CSVOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if opt.Excel {
		bw.WriteString("\uFEFF")
	}
	cw := csv.NewWriter(bw)
	cw.UseCRLF = opt.Excel
	err := cw.Write(csvHeader)
	row := make([]string, 0, len(csvHeader))
	layout := csvTime
	if opt.Excel {
		layout = csvTimeExcel
	}
	var sym symbols
	if err == nil {
		err = l.scanRows(ctx, f, true, func(rec *spendRow) error {
			row = csvRow(row[:0], rec, layout, sym.of(rec.Spend.Network, rec.Spend.Asset))
			return cw.Write(row)
		})
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("export csv: %w", err)
	}
	return nil
}

// csvRow appends rec's cells to row, with times in layout and the asset's symbol.
func csvRow(row []string, rec *spendRow, layout, symbol string) []string {
	s := &rec.Spend
	status, rule, reason := string(s.Status), "", s.Reason
	amount, atomic := s.Amount.String(), s.Amount.AtomicString()
	decimals := strconv.Itoa(Decimals)
	switch {
	case rec.refused != nil:
		rule = "policy"
		if rec.refused.Cap != "" {
			rule = rec.refused.Cap
		}
		if rec.refused.Amount == nil {
			amount, atomic, decimals = "", "", ""
		}
	case s.Status == StatusSettled:
		reason = "" // a failure before the settlement is history, not the row's state
	}
	t := cellText
	offerSigner, receiptSigner, receiptVerified := csvArtifacts(s.Artifacts)
	return append(row,
		strconv.FormatUint(rec.Last, 10), rec.lastHash, t(s.CallID), status, rule,
		csvTimeOf(s.ReservedAt, layout), csvTimeOf(s.UpdatedAt, layout), t(s.Agent), t(s.Session), t(s.API),
		t(s.Tool), t(s.Method), encStatus(s.HTTPStatus), t(s.URL), t(s.Network), t(s.Asset), symbol, decimals, amount, atomic, t(s.PayTo),
		t(s.Payer), t(s.Nonce), csvTimeOf(s.ValidBefore, layout), t(s.TxHash), t(reason), t(s.PaymentID),
		t(offerSigner), t(receiptSigner), receiptVerified,
	)
}

func csvTimeOf(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(layout)
}

// cellText is s as a spreadsheet cell that is text, never a formula: with a single quote
// before a leading =, +, -, @, tab or carriage return.
func cellText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// statusRefused is the status of a refusal's row (ExportCSV, the journals): no call was
// reserved, so it is no Status a spend can have.
const statusRefused Status = "refused"

// refusedSpend is the row of a refused event: what was asked, at the time it was refused.
func refusedSpend(e *Event) Spend {
	s := Spend{
		Intent: Intent{
			CallID: e.CallID, Agent: e.Agent, Session: e.Session, API: e.API, Tool: e.Tool, URL: e.URL,
			Network: e.Network, Asset: e.Asset, PayTo: e.PayTo, Payer: e.Payer, PaymentID: e.PaymentID,
			Method: e.Method,
		},
		Status: statusRefused, Reason: e.Reason, ReservedAt: e.Time, UpdatedAt: e.Time,
	}
	if e.Amount != nil {
		s.Amount = *e.Amount
	}
	return s
}

// scanRows calls fn with every row that f matches: the spends as ScanSpends reads them
// and, with refusals, the refusals (f.Status "refused" selects only those).
func (l *Ledger) scanRows(ctx context.Context, f Filter, refusals bool, fn func(*spendRow) error) error {
	check := f
	if refusals && f.Status == string(statusRefused) {
		check.Status = ""
	}
	if err := check.validate(false); err != nil {
		st := Filter{Status: check.Status}
		if refusals && st.validate(false) != nil {
			err = invalid("status %q is not a row status: reserved, unknown, settled, released, voided or refused", clip(f.Status))
		}
		return fmt.Errorf("rows: %w", err)
	}
	rows := newSpendRows(func(rec *spendRow) error {
		if !f.matchesSpend(&rec.Spend) {
			return nil
		}
		return fn(rec)
	})
	rows.refusals = refusals
	if _, err := l.scan(ctx, rows.add); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	if err := rows.end(); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	return nil
}

// symbols remembers the last symbol AssetSymbol gave: the rows of an export mostly pay
// one token on one network.
type symbols struct{ network, asset, symbol string }

func (c *symbols) of(network, asset string) string {
	if network != c.network || asset != c.asset {
		c.network, c.asset, c.symbol = network, asset, AssetSymbol(network, asset)
	}
	return c.symbol
}

// AssetSymbol is the symbol of the token asset on network, as recorded in the ledger
// (a CAIP-2 id such as eip155:8453, or an x402 v1 name such as base): "USDC" for the USDC
// contract of a chain toll knows, else "" (the ledger records no symbol of its own).
func AssetSymbol(network, asset string) string {
	id, err := x402.ChainID(network)
	if err != nil || !id.IsInt64() {
		return ""
	}
	if usdc, ok := x402.USDC(id.Int64()); ok && strings.EqualFold(usdc.Address, asset) {
		return "USDC"
	}
	return ""
}
