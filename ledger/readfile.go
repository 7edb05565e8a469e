package ledger

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Head is the position and hash of the last event of a chain.
type Head struct {
	Seq  uint64 // the number of events; 0 for an empty chain
	Hash string // hex sha256 of the last event (64 zeros for an empty chain)
}

// VerifyJSONL checks, streaming, an export written by ExportJSONL with the zero Filter:
// one event a line, sequence numbers from 1, every hash against the event's contents and
// the previous hash, and the history the events tell (each call reserved once with a
// positive amount, then only the transitions the ledger allows: no event after a final
// one). It returns the head of the file's chain. It cannot tell whether events were cut
// from the end: compare the head with one kept elsewhere (toll ledger verify prints the
// ledger's). A failure is a *TamperError naming the event; a line that is not an event
// is an error naming the line.
//
// Besides the open calls (reserved or unknown) it keeps 16 bytes per call id seen, to
// find a call reserved twice: memory grows with the calls in the file, by that much.
func VerifyJSONL(r io.Reader) (Head, error) {
	v := &verifier{ch: newChain(), doneIDs: map[string]*callRecord{}}
	v.stored = func(string) (*callRecord, error) { return nil, nil }
	seen := map[[16]byte]struct{}{}
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	for line := 1; ; line++ {
		var e Event
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Head{}, fmt.Errorf("read jsonl: event %d: %w", line, err)
		}
		if err := v.ch.links.add(&e); err != nil {
			return Head{}, err
		}
		if err := fileCall(seen, v.ch.st, &e); err != nil {
			return Head{}, err
		}
		if err := v.replay(&e); err != nil {
			return Head{}, err
		}
		v.done = v.done[:0] // no stored records to compare them with
		clear(v.doneIDs)
	}
	return Head{Seq: v.ch.n, Hash: hex.EncodeToString(v.ch.prev[:])}, nil
}

// fileCall finds, with the ids seen, what the replay cannot once a final call is
// forgotten: a call reserved again, or changed after its final event.
func fileCall(seen map[[16]byte]struct{}, st *derived, e *Event) error {
	var id [16]byte
	h := sha256.Sum256([]byte(e.CallID))
	copy(id[:], h[:])
	_, was := seen[id]
	switch e.Kind {
	case KindReserved:
		if was {
			return tampered(e.Seq, "call %q reserved twice", clip(e.CallID))
		}
		seen[id] = struct{}{}
	case KindSettled, KindUnknown, KindReleased, KindVoided:
		if was && st.calls[e.CallID] == nil {
			return tampered(e.Seq, "%s event for call %q, which was final already", e.Kind, clip(e.CallID))
		}
	}
	return nil
}
