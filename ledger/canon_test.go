package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestCanonicalVersions holds the two event encodings: an event with nothing of
// version 2 encodes exactly as before version 2 existed (the digest below was
// computed by the toll that had only version 1), so old ledgers keep verifying; an
// event with an agent or an approval decision encodes as version 2 and decodes back
// whole.
func TestCanonicalVersions(t *testing.T) {
	in := intent("c1", 27367)
	e := intentEvent(KindReserved, &in, t0)
	e.Seq = 7
	b := e.canonical()
	if b[0] != canonV1 {
		t.Fatalf("an event without agent encodes as version %d, want %d", b[0], canonV1)
	}
	const v1 = "362e78d14cad57a1f3cc121dc32d136229848362a0239404b5dcc2a75d1def4a"
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != v1 {
		t.Errorf("version 1 encoding changed: sha256 %x, want %s", got, v1)
	}

	in.Agent = "research"
	e2 := intentEvent(KindReserved, &in, t0)
	e2.Seq = 8
	b2 := e2.canonical()
	if b2[0] != canonV2 {
		t.Fatalf("an event with an agent encodes as version %d, want %d", b2[0], canonV2)
	}
	got, err := decodeCanonical(b2)
	if err != nil {
		t.Fatal(err)
	}
	if got.Agent != "research" || got.CallID != "c1" || got.Amount.Cmp(in.Amount) != 0 {
		t.Errorf("decoded %+v, want agent research, call c1, amount %v", got, in.Amount)
	}

	d := Event{Seq: 9, Time: t0, Kind: KindApproved, CallID: "c1", By: "os-user:alice"}
	got, err = decodeCanonical(d.canonical())
	if err != nil || got.By != "os-user:alice" || got.Kind != KindApproved {
		t.Errorf("approval decision decoded as %+v, %v", got, err)
	}
	p := Event{Seq: 10, Time: t0, Kind: KindSettled, CallID: "c1", PaymentID: "pay_0123456789abcdef", Artifacts: `{"receipt":{}}`}
	got, err = decodeCanonical(p.canonical())
	if err != nil || got.PaymentID != p.PaymentID || got.Artifacts != p.Artifacts {
		t.Errorf("payment id and artifacts decoded as %+v, %v", got, err)
	}

	bad := append([]byte{canonV3 + 1}, b[1:]...)
	if _, err := decodeCanonical(bad); err == nil {
		t.Error("an encoding of an unknown version decoded")
	}
	// Version 1 bytes relabelled as version 2 lack its two fields.
	if _, err := decodeCanonical(append([]byte{canonV2}, b[1:]...)); err == nil {
		t.Error("version 1 fields under a version 2 byte decoded")
	}
}

// TestCanonicalV3: an event with a method or an HTTP status encodes as version 3 (the
// digest below pins it), decodes back whole, and is refused under any other version byte;
// the same event without them is version 2 and hashes as before version 3 existed.
func TestCanonicalV3(t *testing.T) {
	in := intent("c1", 27367)
	in.Agent = "research"
	e := intentEvent(KindReserved, &in, t0)
	e.Seq = 8
	b2 := e.canonical()
	if b2[0] != canonV2 {
		t.Fatalf("an event with an agent and no method encodes as version %d, want %d", b2[0], canonV2)
	}
	const v2 = "609635352b79ae670c202da71764ad98693b93d6bea86ddf92fe95c1c9267cc4" // computed by the toll that had only versions 1 and 2
	if got := sha256.Sum256(b2); hex.EncodeToString(got[:]) != v2 {
		t.Errorf("version 2 encoding changed: sha256 %x, want %s", got, v2)
	}
	in.Method = "GET"
	r := intentEvent(KindReserved, &in, t0)
	r.Seq = 8
	o := Event{Seq: 9, Time: t0, Kind: KindUnknown, CallID: "c1", Reason: "no settlement proof", HTTPStatus: 502}
	for _, c := range []struct {
		e      Event
		digest string
		method string
		status int
	}{
		{r, "a1681cd917321b16d86b1f3699b6ed40d46ca6309c39bb1b2b1b61bf794ac8dd", "GET", 0},
		{o, "c973084fd95aad342f8e78aa5ecaa52a486993bd1eda3bcd747be7fb4cdd7d46", "", 502},
	} {
		b := c.e.canonical()
		if b[0] != canonV3 {
			t.Fatalf("event %d encodes as version %d, want %d", c.e.Seq, b[0], canonV3)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != c.digest {
			t.Errorf("event %d: version 3 encoding changed: sha256 %x, want %s", c.e.Seq, got, c.digest)
		}
		got, err := decodeCanonical(b)
		if err != nil || got.Method != c.method || got.HTTPStatus != c.status || got.CallID != "c1" {
			t.Errorf("event %d decoded as method %q status %d, %v; want %q, %d", c.e.Seq, got.Method, got.HTTPStatus, err, c.method, c.status)
		}
		if _, err := decodeCanonical(append([]byte{canonV2}, b[1:]...)); err == nil {
			t.Errorf("event %d: version 3 fields under a version 2 byte decoded", c.e.Seq)
		}
	}
	// Version 2 fields relabelled as version 3 lack its two fields; version 3 fields
	// with both empty are not canonical (that event is version 2).
	if _, err := decodeCanonical(append([]byte{canonV3}, b2[1:]...)); err == nil {
		t.Error("version 2 fields under a version 3 byte decoded")
	}
	if _, err := decodeCanonical(append(append([]byte{canonV3}, b2[1:]...), 0, 0)); err == nil {
		t.Error("a version 3 encoding with no method and no status decoded")
	}
	for _, s := range []string{"0", "0200", "+200", "1000", "20x"} {
		b := append(append([]byte{canonV3}, b2[1:]...), 0, byte(len(s)))
		if _, err := decodeCanonical(append(b, s...)); err == nil {
			t.Errorf("HTTP status %q decoded", s)
		}
	}
}

// TestDecodeCanonicalRefuses: an event that decodes to the same values but is not
// written as canonical writes it is refused, field by field.
func TestDecodeCanonicalRefuses(t *testing.T) {
	in := intent("c1", 27367)
	e := intentEvent(KindReserved, &in, t0)
	e.Seq = 7
	fields := func(e *Event) []string {
		return []string{
			strconv.FormatUint(e.Seq, 10), encTime(e.Time), string(e.Kind), e.CallID,
			e.Session, e.API, e.Tool, e.URL, e.Network, e.Asset, encInt(e.Amount),
			e.PayTo, e.Payer, e.Nonce, encTime(e.ValidBefore),
			e.TxHash, e.Reason, e.Cap, encInt(e.Limit), encInt(e.Used),
		}
	}
	encode := func(version byte, fs []string, overlong int) []byte {
		b := []byte{version}
		for i, f := range fs {
			if i == overlong {
				b = append(b, byte(len(f))|0x80, 0) // the same length in two bytes
			} else {
				b = binary.AppendUvarint(b, uint64(len(f)))
			}
			b = append(b, f...)
		}
		return b
	}
	good := fields(&e)
	if got, err := decodeCanonical(encode(canonV1, good, -1)); err != nil || got.Seq != 7 {
		t.Fatalf("the canonical encoding: %+v, %v", got, err)
	}
	sec := strconv.FormatInt(t0.Unix(), 10)
	for _, c := range []struct {
		field    int
		value    string
		overlong bool
		version  byte
		accepted bool // canonical after all
	}{
		{field: 0, value: "07"},
		{field: 1, value: "0" + sec + ".000000000"},
		{field: 1, value: "+" + sec + ".000000000"},
		{field: 1, value: "-0.000000000"},
		{field: 1, value: strconv.FormatInt(time.Time{}.Unix(), 10) + ".000000000"}, // the zero time is written ""
		{field: 10, value: "027367"},
		{field: 18, value: "0", accepted: true}, // a limit of zero is written "0"
		{field: 3, value: "c1", overlong: true},
		{field: 0, value: "7", version: canonV2},
	} {
		fs := slices.Clone(good)
		fs[c.field] = c.value
		version, overlong := byte(canonV1), -1
		if c.version != 0 {
			version = c.version
			fs = append(fs, "", "", "", "", "")
		}
		if c.overlong {
			overlong = c.field
		}
		b := encode(version, fs, overlong)
		got, err := decodeCanonical(b)
		canonical := err == nil && bytes.Equal(got.canonical(), b)
		if err == nil && !canonical {
			t.Errorf("field %d = %q (overlong %v, version %d): decoded a non-canonical encoding", c.field, c.value, c.overlong, version)
		}
		if (err == nil) != c.accepted {
			t.Errorf("field %d = %q (overlong %v, version %d): error %v, want accepted %v", c.field, c.value, c.overlong, version, err, c.accepted)
		}
	}
}
