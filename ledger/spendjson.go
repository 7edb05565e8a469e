package ledger

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends s's JSON form to b, indented: exactly what
// json.MarshalIndent(s, prefix, indent) returns (MarshalJSON's fields, in its order,
// HTML characters escaped as encoding/json escapes them), written directly instead of
// through MarshalJSON, json's check and compaction of its result and the indentation of
// it: a list of a million spends spends its time reading the ledger, not encoding.
// TestSpendAppendJSON holds it to json.MarshalIndent for every field of Spend.
func (s *Spend) AppendJSON(b []byte, prefix, indent string) []byte {
	w := jsonObject{b: append(b, '{'), prefix: prefix, indent: indent}
	s.writeJSON(&w)
	return w.end()
}

// appendCompactJSON appends what MarshalJSON returns (compact): the stored form of a
// call record's spend, which Verify rebuilds for every call.
func (s *Spend) appendCompactJSON(b []byte) []byte {
	w := jsonObject{b: append(b, '{'), compact: true}
	s.writeJSON(&w)
	return w.end()
}

// writeJSON writes the fields of MarshalJSON, in its order.
func (s *Spend) writeJSON(w *jsonObject) {
	w.str("call_id", s.CallID, false)
	w.str("status", string(s.Status), false)
	w.str("agent", s.Agent, true)
	w.str("session", s.Session, true)
	w.str("api", s.API, true)
	w.str("tool", s.Tool, true)
	w.str("url", s.URL, true)
	w.str("network", s.Network, true)
	w.str("asset", s.Asset, true)
	w.str("amount", s.Amount.AtomicString(), false)
	w.str("pay_to", s.PayTo, true)
	w.str("payer", s.Payer, true)
	w.str("nonce", s.Nonce, true)
	w.time("valid_before", s.ValidBefore, true)
	w.str("tx_hash", s.TxHash, true)
	w.str("reason", s.Reason, true)
	w.str("payment_id", s.PaymentID, true)
	w.str("method", s.Method, true)
	if s.HTTPStatus != 0 {
		w.key("http_status")
		w.b = strconv.AppendInt(w.b, int64(s.HTTPStatus), 10)
	}
	w.time("reserved_at", s.ReservedAt, false)
	w.time("updated_at", s.UpdatedAt, false)
}

// jsonObject writes one JSON object of string fields, one level deep, as
// json.MarshalIndent lays it out, or json.Marshal when compact.
type jsonObject struct {
	b              []byte
	prefix, indent string
	compact        bool
	n              int // fields written
}

// key starts the field name.
func (w *jsonObject) key(name string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	if w.compact {
		w.b = append(w.b, '"')
		w.b = append(w.b, name...)
		w.b = append(w.b, `":`...)
		return
	}
	w.b = append(w.b, '\n')
	w.b = append(w.b, w.prefix...)
	w.b = append(w.b, w.indent...)
	w.b = append(w.b, '"')
	w.b = append(w.b, name...) // names are plain ASCII
	w.b = append(w.b, `": `...)
}

// str writes the field name: v, unless v is empty and omitEmpty is set.
func (w *jsonObject) str(name, v string, omitEmpty bool) {
	if v == "" && omitEmpty {
		return
	}
	w.key(name)
	w.b = appendJSONString(w.b, v)
}

// time writes t as fmtTime does: RFC 3339 in UTC with nanoseconds (nothing to escape),
// "" for the zero time.
func (w *jsonObject) time(name string, t time.Time, omitEmpty bool) {
	if t.IsZero() {
		w.str(name, "", omitEmpty)
		return
	}
	w.key(name)
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

func (w *jsonObject) end() []byte {
	if w.n > 0 && !w.compact {
		w.b = append(w.b, '\n')
		w.b = append(w.b, w.prefix...)
	}
	return append(w.b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json escapes it by
// default: '"', '\\' and control characters, '<', '>' and '&' (HTML), U+2028 and U+2029
// (JavaScript), and each byte of invalid UTF-8 written as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
