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
	"time"

	"github.com/tollhq/toll/tools/money"
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
			PaymentID: j.PaymentID,
		},
		Status: j.Status, TxHash: j.TxHash, Reason: j.Reason,
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

// csvHeader is the header row of ExportCSV.
var csvHeader = []string{
	"call_id", "status", "amount", "asset", "network", "pay_to", "payer", "session", "api", "tool",
	"url", "nonce", "valid_before", "reserved_at", "updated_at", "tx_hash", "reason",
}

// ExportCSV writes one row per reserved call that f matches, after a header row:
// call_id, status, amount, asset, network, pay_to, payer, session, api, tool, url, nonce,
// valid_before, reserved_at, updated_at, tx_hash, reason. Amounts are atomic units as
// decimal strings; times are RFC 3339 in UTC. The rows come from the events alone,
// streaming (see ScanSpends for their order and checks); no lock is held while w is
// written.
func (l *Ledger) ExportCSV(ctx context.Context, w io.Writer, f Filter) error {
	cw := csv.NewWriter(w)
	err := cw.Write(csvHeader)
	if err == nil {
		err = l.ScanSpends(ctx, f, func(s *Spend) error {
			return cw.Write([]string{
				s.CallID, string(s.Status), s.Amount.AtomicString(), s.Asset, s.Network, s.PayTo, s.Payer,
				s.Session, s.API, s.Tool, s.URL, s.Nonce, fmtTime(s.ValidBefore), fmtTime(s.ReservedAt),
				fmtTime(s.UpdatedAt), s.TxHash, s.Reason,
			})
		})
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err != nil {
		return fmt.Errorf("export csv: %w", err)
	}
	return nil
}
