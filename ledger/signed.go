package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Signed heads. The hash chain proves that no event was changed only to someone who
// trusts the file's last hash: whoever can write the file can rewrite an event and every
// hash after it. A signed head closes that: with Options.Signer set (serve sets the
// payer's wallet), every settlement is followed, in the same transaction, by a
// signed-head event that signs the chain as it stands (the position and hash of the
// settled event, and the counted total) with the payer's key (EIP-191 personal message,
// https://eips.ethereum.org/EIPS/eip-191), and SignHead adds one when serve stops.
// Anyone who knows only the payer's address can then check, with VerifyReport and a
// RecoverFunc, that no event up to the last signed head was changed, inserted or removed:
// a rewritten event changes every later hash, and no one without the key can sign the new
// ones. What the signatures cannot show is events cut from the end after the last signed
// head; a head hash kept elsewhere (VerifyReport's Head, toll ledger verify
// --expect-head) or the chain itself (AuthorizationUsed events) shows that.

// HeadSigner signs the text of a signed head (HeadText) with the payer's key.
type HeadSigner interface {
	// SignerAddress is the 0x address whose key signs.
	SignerAddress() string
	// SignHead returns the 65-byte EIP-191 personal-message signature of text.
	SignHead(text []byte) ([]byte, error)
}

// RecoverFunc returns the 0x address that signed text (EIP-191 personal message) with
// the 65-byte signature sig.
type RecoverFunc func(text, sig []byte) (string, error)

// headTextPrefix starts every signed head's text; a signer may refuse anything else.
const headTextPrefix = "toll ledger head\n"

// HeadText is the text a signed head signs: the position and hash of the last event
// before it, and the counted total in atomic units, each on its own line.
func HeadText(seq uint64, hash string, total *big.Int) []byte {
	return []byte(headTextPrefix + "seq: " + strconv.FormatUint(seq, 10) + "\nhash: " + hash +
		"\ncounted total: " + total.String() + " (atomic units, " + strconv.Itoa(Decimals) + " decimals)\n")
}

// IsHeadText reports whether text is shaped as HeadText writes it, so that a signer can
// refuse to sign anything else with the payer's key.
func IsHeadText(text []byte) bool {
	s, ok := strings.CutPrefix(string(text), headTextPrefix)
	return ok && strings.HasPrefix(s, "seq: ") && strings.Count(s, "\n") == 3 && strings.HasSuffix(s, " decimals)\n")
}

// errSign marks a signer's failure: the head is left unsigned (the next signed head
// covers it), and the write it followed stands.
var errSign = errors.New("sign the head")

// signHeadTx appends a signed-head event for the chain as it stands in b, unless the last
// event is one already.
func signHeadTx(b buckets, s HeadSigner, now time.Time) error {
	seq, head, err := readHead(b.meta)
	if err != nil {
		return err
	}
	if seq > 0 {
		last, err := decodeRecord(b.events.Get(u64(seq)))
		if err != nil {
			return tampered(seq, "%v", err)
		}
		if last.Kind == KindSignedHead {
			return nil
		}
	}
	total, err := b.sum(sumTotal)
	if err != nil {
		return err
	}
	hash := hex.EncodeToString(head[:])
	sig, err := s.SignHead(HeadText(seq, hash, total))
	if err != nil {
		return fmt.Errorf("%w: %w", errSign, err)
	}
	amount := fromAtomic(total)
	e := Event{Time: now, Kind: KindSignedHead, Amount: &amount, Payer: s.SignerAddress(), Signature: "0x" + hex.EncodeToString(sig)}
	return b.appendEvent(&e)
}

// SignHead signs the chain as it stands (see Options.Signer), unless its last event is a
// signed head already. Serve calls it when it stops. Without a signer it does nothing.
func (l *Ledger) SignHead(ctx context.Context) error {
	if l.signer == nil {
		return nil
	}
	err := l.update(ctx, func(b buckets) error { return signHeadTx(b, l.signer, l.now().UTC()) })
	if err != nil {
		return fmt.Errorf("sign the head of %s: %w", l.path, err)
	}
	return nil
}

// replaySignedHead checks a signed-head event against the replayed state before it: its
// amount is the counted total, and with a RecoverFunc its signature is its signer's.
func (ch *chain) replaySignedHead(e *Event) error {
	total := ch.st.sums[string(sumTotal)]
	if total == nil {
		total = new(big.Int)
	}
	if e.Amount == nil || e.Amount.Atomic().Cmp(total) != 0 {
		return tampered(e.Seq, "signed head states a counted total of %s, the events give %s", encInt(e.Amount), total)
	}
	return ch.signedBy(e, total)
}

// signedBy checks that signed head e is signed by its Payer over its position, its
// PrevHash and total (with a RecoverFunc; without one, only that it has a signature),
// and records it in the report.
func (ch *chain) signedBy(e *Event, total *big.Int) error {
	if e.Payer == "" || e.Signature == "" {
		return tampered(e.Seq, "signed head without signer or signature")
	}
	ch.report.SignedHeads++
	ch.report.LastSigned = e.Seq - 1
	if ch.recover == nil {
		return nil
	}
	sig, err := hex.DecodeString(strings.TrimPrefix(e.Signature, "0x"))
	if err != nil {
		return tampered(e.Seq, "signed head: the signature is not hex")
	}
	who, err := ch.recover(HeadText(e.Seq-1, e.PrevHash, total), sig)
	if err != nil {
		return tampered(e.Seq, "signed head: %v", err)
	}
	if !strings.EqualFold(who, e.Payer) {
		return tampered(e.Seq, "signed head: signed by %s, not by %s as it says: the events before it were changed", who, e.Payer)
	}
	if !slices.ContainsFunc(ch.report.Signers, func(s string) bool { return strings.EqualFold(s, who) }) {
		ch.report.Signers = append(ch.report.Signers, e.Payer)
	}
	return nil
}

// Report is what VerifyReport found besides the chain being whole.
type Report struct {
	Events      uint64   // events in the chain
	Head        string   // hash of the last event (hex)
	SignedHeads int      // signed-head events
	LastSigned  uint64   // position of the last event a signed head covers; 0: none
	Signers     []string // who signed heads, as recovered (only with a RecoverFunc)
	// UnsignedSettled counts settlements after the last signed head: with a signer
	// configured there are none unless the process stopped between the two writes, or
	// events were cut and the tail rewritten.
	UnsignedSettled int
	// Found is the position in the chain of each hash asked for (VerifyReport's find)
	// that is the hash of an event; a hash that is not has no entry.
	Found map[string]uint64
}

// VerifyReport is Verify, which it runs (streaming, as Verify does), with what it found:
// the head, and the signed heads, each checked with recover (nil checks only that each
// states the counted total); and where in the chain the event hashes find are (lower-case
// hex, as Event.Hash), in the same pass: a head kept elsewhere is looked up without
// reading the chain again.
func (l *Ledger) VerifyReport(ctx context.Context, recover RecoverFunc, find ...string) (Report, error) {
	v := &verifier{ch: newChain(), doneIDs: map[string]*callRecord{}, find: map[string]bool{}, found: map[string]uint64{}}
	for _, h := range find {
		v.find[h] = true
	}
	v.ch.recover = recover
	if err := l.verifyStream(ctx, v); err != nil {
		return Report{}, fmt.Errorf("verify %s: %w", l.path, err)
	}
	rep := v.ch.report
	rep.Events, rep.Head, rep.Found = v.ch.n, hex.EncodeToString(v.ch.prev[:]), v.found
	return rep, nil
}
