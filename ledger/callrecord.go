package ledger

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
)

// The stored call record. From format 3 it holds only what the events of the call
// changed since its reservation, and refers to the reserved event by its position for
// the intent (which is in the chain already):
//
//	callCompact ‖ fields, each a uvarint length and its bytes:
//	  seq of the reserved event, seq of the last event (decimal), status,
//	  updated time (encTime), tx hash, reason, HTTP status (encStatus)
//	  and, only when the call has them, its artifacts (Spend.Artifacts)
//
// about 100 bytes for a settled call, instead of the 700 or so of the whole Spend as
// JSON that formats 1 and 2 stored (and that a file of those formats still holds until
// its first write upgrades it: format.go). Reading a record reads the reserved event
// too, and checks that it is the reservation of that call.
const callCompact = 0x03 // a JSON record starts with '{'

// callFields is the number of fields of a compact call record; a record with artifacts
// has one more.
const callFields = 7

// marshal returns the stored form of r in the current format.
func (r *callRecord) marshal() []byte {
	s := &r.Spend
	fields := []string{
		strconv.FormatUint(r.Seq, 10), strconv.FormatUint(r.Last, 10), string(s.Status),
		encTime(s.UpdatedAt), s.TxHash, s.Reason, encStatus(s.HTTPStatus),
	}
	if s.Artifacts != "" {
		fields = append(fields, s.Artifacts)
	}
	return encodeFields(callCompact, fields)
}

// marshalJSON returns the stored form of r in formats 1 and 2: json.Marshal(r), written
// directly (Spend.appendCompactJSON writes what Spend.MarshalJSON returns, which
// json.Marshal would only check and copy).
func (r *callRecord) marshalJSON() []byte {
	v := make([]byte, 0, 512)
	v = append(v, `{"spend":`...)
	v = r.Spend.appendCompactJSON(v)
	v = append(v, `,"seq":`...)
	v = strconv.AppendUint(v, r.Seq, 10)
	v = append(v, `,"last":`...)
	v = strconv.AppendUint(v, r.Last, 10)
	return append(v, '}')
}

// stored returns r as b's file stores it: compact from format 3, JSON before.
func (b buckets) stored(r *callRecord) []byte {
	if b.format >= 3 {
		return r.marshal()
	}
	return r.marshalJSON()
}

// decodeCall decodes the stored record v of call id, in either form; a compact one is
// completed with the intent of its reserved event.
func (b buckets) decodeCall(id string, v []byte) (*callRecord, error) {
	if len(v) == 0 || v[0] != callCompact {
		var rec callRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, tampered(0, "call record %q is damaged: %v", clip(id), err)
		}
		return &rec, nil
	}
	var f [callFields + 1]string
	rest := v[1:]
	for i := range f {
		if i == callFields && len(rest) == 0 {
			break // no artifacts
		}
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, tampered(0, "call record %q is damaged: truncated", clip(id))
		}
		f[i] = string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
	}
	seq, err1 := strconv.ParseUint(f[0], 10, 64)
	last, err2 := strconv.ParseUint(f[1], 10, 64)
	updated, err3 := decTime(f[3])
	status, err4 := decStatus(f[6])
	if len(rest) != 0 || err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return nil, tampered(0, "call record %q is damaged", clip(id))
	}
	e, err := decodeRecord(b.events.Get(u64(seq)))
	if err != nil || e.Seq != seq || e.Kind != KindReserved || e.CallID != id {
		return nil, tampered(seq, "call record %q does not refer to its reservation (event %d)", clip(id), seq)
	}
	rec := &callRecord{Spend: reservedSpend(&e), Seq: seq, Last: last}
	s := &rec.Spend
	s.Status, s.UpdatedAt, s.TxHash, s.Reason, s.HTTPStatus = Status(f[2]), updated, f[4], f[5], status
	s.Artifacts = f[callFields]
	return rec, nil
}
