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
// the previous hash, and the history the events tell (each call reserved with a positive
// amount, then only the transitions the ledger allows: no event after a final one). It
// returns the head of the file's chain. It cannot tell whether events were cut from the
// end: compare the head with one kept elsewhere (toll ledger verify prints the ledger's).
// A failure is a *TamperError naming the event; a line that is not an event is an error
// naming the line. A file with a sequence number missing fails: VerifyFile checks what
// can be checked of a filtered export.
//
// Its memory grows with the calls open at a time (reserved or unknown), not with the
// file: a call is forgotten once final, so a call id reserved again after its call was
// final is not found here (Verify finds it in the ledger, where each call has one record).
func VerifyJSONL(r io.Reader) (Head, error) {
	rep, err := verifyFile(r, nil, false)
	if err != nil {
		return Head{}, err
	}
	return Head{Seq: rep.Events, Hash: rep.Head}, nil
}

// FileReport is what VerifyFile found in an export.
type FileReport struct {
	// Report: the file's events (Events counts those in the file), its last event (Head),
	// and the signed heads in it.
	Report
	Seq      uint64 // position of the file's last event in the chain
	Complete bool   // the file holds every event from 1 to Seq: its history and totals were checked
	Missing  uint64 // positions from 1 to Seq that the file lacks
	Gaps     []Gap  // the runs of missing positions, in order; only the first maxGaps
	// Covered counts the events of the file that a signed head in it covers: those linked
	// without a gap to the event a signed head signs (checked with a RecoverFunc).
	Covered uint64
}

// Gap is a run of positions missing from a file: From to To, both included.
type Gap struct{ From, To uint64 }

// maxGaps is how many gaps a FileReport lists.
const maxGaps = 100

// VerifyFile checks, streaming, an export written by ExportJSONL, filtered or not, and
// says what it found. While the file holds every event from the first, it checks what
// VerifyJSONL checks, and each signed head against the replayed total. From the first
// sequence number missing on (a filtered export, or lines removed: Complete is false and
// Gaps says which), it checks what the events present can show: each event's hash
// against its contents and the previous hash it states, the link between events with
// consecutive sequence numbers, the order, and each signed head's signature over the
// position, hash and total it states (with recover; nil checks no signature). The history
// and totals are not checked then: the events missing would be needed. A failure is a
// *TamperError naming the event; a line that is not an event is an error naming the line.
func VerifyFile(r io.Reader, recover RecoverFunc) (FileReport, error) {
	return verifyFile(r, recover, true)
}

// fileCheck is VerifyFile's state.
type fileCheck struct {
	v        *verifier // the full replay, while the file is whole from event 1; nil after
	recover  RecoverFunc
	rep      FileReport
	lastHash [sha256.Size]byte
	runStart uint64 // first position of the run of consecutive events the last one ends
	covered  uint64 // the last position a signed head covers
}

func verifyFile(r io.Reader, recover RecoverFunc, partial bool) (FileReport, error) {
	fc := newFileCheck(recover)
	if err := fc.read(r, partial); err != nil {
		return FileReport{}, err
	}
	return fc.report(), nil
}

func newFileCheck(recover RecoverFunc) *fileCheck {
	fc := &fileCheck{v: &verifier{ch: newChain(), doneIDs: map[string]*callRecord{}}, recover: recover}
	fc.v.ch.recover = recover
	fc.v.stored = func(string) (*callRecord, error) { return nil, nil }
	return fc
}

// read checks the events of r, one a line; with partial, a gap in their sequence numbers
// is recorded rather than reported.
func (fc *fileCheck) read(r io.Reader, partial bool) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	for line := 1; ; line++ {
		var e Event
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read jsonl: event %d: %w", line, err)
		}
		if !partial || fc.v != nil && e.Seq == fc.rep.Seq+1 {
			err = fc.whole(&e)
		} else {
			err = fc.part(&e)
		}
		if err != nil {
			return err
		}
		fc.rep.Events++
		fc.rep.Seq, fc.rep.Head = e.Seq, e.Hash
	}
	return nil
}

// whole checks e, the next event of a file whole so far, with the chain's rules.
func (fc *fileCheck) whole(e *Event) error {
	v := fc.v
	if err := v.ch.links.add(e); err != nil {
		return err
	}
	switch e.Kind {
	case KindSettled, KindUnknown, KindReleased, KindVoided:
		if v.ch.st.calls[e.CallID] == nil {
			return tampered(e.Seq, "%s event for call %q, which is not open (never reserved, or final already)", e.Kind, clip(e.CallID))
		}
	}
	if err := v.replay(e); err != nil {
		return err
	}
	v.done = v.done[:0] // no stored records to compare them with
	clear(v.doneIDs)
	fc.lastHash = v.ch.prev
	if e.Kind == KindSignedHead && fc.recover != nil {
		fc.cover(e.Seq)
	}
	return nil
}

// part checks e in a file with events missing before it: its order, its own hash, its
// link to the event before when that is the one before in the chain, and a signed head's
// signature.
func (fc *fileCheck) part(e *Event) error {
	if fc.v != nil { // the first gap: the replay stops here
		n, head := fc.rep.Events, fc.rep.Head
		fc.rep.Report = fc.v.ch.report
		fc.rep.Events, fc.rep.Head = n, head
		fc.v = nil
	}
	last := fc.rep.Seq
	if e.Seq <= last {
		return tampered(e.Seq, "event %d comes after event %d in the file: the file is out of order", e.Seq, last)
	}
	var prev [sha256.Size]byte
	if n, err := hex.Decode(prev[:], []byte(e.PrevHash)); err != nil || n != len(prev) {
		return tampered(e.Seq, "malformed previous hash %q", clip(e.PrevHash))
	}
	h := chainHash(prev[:], e.canonical())
	if e.Hash != hex.EncodeToString(h[:]) {
		return tampered(e.Seq, "hash does not match the event's contents")
	}
	if e.Seq == last+1 && prev != fc.lastHash {
		return tampered(e.Seq, "previous hash does not match event %d", last)
	}
	fc.lastHash = h
	if e.Seq != last+1 {
		fc.gap(last+1, e.Seq-1)
		fc.runStart = e.Seq
	}
	switch e.Kind {
	case KindSettled:
		fc.rep.UnsignedSettled++
	case KindSignedHead:
		if e.Amount == nil {
			return tampered(e.Seq, "signed head without a total")
		}
		ch := chain{recover: fc.recover, report: fc.rep.Report}
		if err := ch.signedBy(e, e.Amount.Atomic()); err != nil {
			return err
		}
		fc.rep.Report = ch.report
		fc.rep.UnsignedSettled = 0
		if fc.recover != nil {
			fc.cover(e.Seq)
		}
	}
	return nil
}

// gap records that positions from..to are missing.
func (fc *fileCheck) gap(from, to uint64) {
	fc.rep.Missing += to - from + 1
	if len(fc.rep.Gaps) < maxGaps {
		fc.rep.Gaps = append(fc.rep.Gaps, Gap{From: from, To: to})
	}
}

// cover counts the events a signed head at seq covers: those of its run of consecutive
// events before it, not counted already.
func (fc *fileCheck) cover(seq uint64) {
	from := max(fc.runStart, fc.covered+1, 1)
	if seq > from {
		fc.rep.Covered += seq - from
	}
	fc.covered = seq - 1
}

// report is the FileReport of the file read.
func (fc *fileCheck) report() FileReport {
	rep := fc.rep
	if fc.v != nil {
		rep.Report = fc.v.ch.report
		rep.Complete = true
	}
	rep.Events, rep.Head = fc.rep.Events, fc.rep.Head
	if rep.Events == 0 {
		rep.Head = hex.EncodeToString(genesis[:])
	}
	return rep
}
