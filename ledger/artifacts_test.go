package ledger

import (
	"errors"
	"testing"
)

// TestOutcomeArtifacts: the artifacts recorded with an outcome are in its event, in the
// call's stored record (read back by Spend) and in the spends a stream replays, and the
// chain verifies; artifacts that are not a JSON object, or on a void, are refused.
func TestOutcomeArtifacts(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	art := Artifacts{Receipt: &Artifact{Format: "eip712", Raw: []byte(`{"format":"eip712"}`), Verified: true, Signer: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"}}.JSON()
	if _, err := l.Reserve(ctx, intent("c1", 1000), Caps{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, Outcome{CallID: "c1", Kind: KindUnknown, Reason: "no answer"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, Outcome{CallID: "c1", Kind: KindSettled, TxHash: "0x01", HTTPStatus: 200, Artifacts: art}); err != nil {
		t.Fatal(err)
	}
	sp, err := l.Spend(ctx, "c1")
	if err != nil || sp.Artifacts != art {
		t.Fatalf("Spend: artifacts %q, %v; want %q", sp.Artifacts, err, art)
	}
	evs, err := l.Events(ctx)
	if err != nil || evs[len(evs)-1].Artifacts != art {
		t.Fatalf("last event %+v, %v: want the artifacts", evs[len(evs)-1], err)
	}
	var streamed []Spend
	if err := l.ScanSpends(ctx, Filter{}, func(s *Spend) error { streamed = append(streamed, *s); return nil }); err != nil || len(streamed) != 1 || streamed[0].Artifacts != art {
		t.Fatalf("ScanSpends: %+v, %v; want the artifacts", streamed, err)
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, err := ParseArtifacts(sp.Artifacts)
	if err != nil || got.Receipt == nil || !got.Receipt.Verified || got.Offer != nil {
		t.Errorf("ParseArtifacts = %+v, %v", got, err)
	}

	if _, err := l.Reserve(ctx, intent("c2", 1000), Caps{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Outcome{
		{CallID: "c2", Kind: KindUnknown, Artifacts: "[1]"},
		{CallID: "c2", Kind: KindVoided, Artifacts: art},
	} {
		if err := l.Record(ctx, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("Record(%s, %q) = %v, want ErrInvalid", o.Kind, o.Artifacts, err)
		}
	}
}
