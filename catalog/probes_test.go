package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

func probeRecord(spec, op string, atomic int64) ProbeRecord {
	return ProbeRecord{Spec: spec, ProbedPrice: ProbedPrice{Operation: op, Amount: money.USDC(atomic), Network: "base-sepolia",
		Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", PayTo: "0x" + strings.Repeat("1", 40), Scheme: "exact",
		ObservedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}}
}

// TestProbesFile writes records, merges newer ones over them, and reads them back: a newer
// record replaces the older of the same operation of the same spec, the cheapest of one
// operation's records is kept, and the file keeps the format toll has written so far.
func TestProbesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probes.json")
	if recs, err := ReadProbes(path); err != nil || recs != nil {
		t.Fatalf("ReadProbes of a missing file = %v, %v; want no record", recs, err)
	}
	if err := WriteProbes(path, []ProbeRecord{probeRecord("a.yaml", "getWeather", 3000), probeRecord("a.yaml", "getReport", 5000)}); err != nil {
		t.Fatal(err)
	}
	if err := WriteProbes(path, []ProbeRecord{probeRecord("a.yaml", "getWeather", 2000), probeRecord("a.yaml", "getWeather", 1000),
		probeRecord("b.yaml", "getWeather", 7000)}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadProbes(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []ProbeRecord{probeRecord("a.yaml", "getReport", 5000), probeRecord("a.yaml", "getWeather", 1000), probeRecord("b.yaml", "getWeather", 7000)}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b money.Amount) bool { return a.Cmp(b) == 0 && a.Decimals() == b.Decimals() })); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"probes": [`, `"spec": "a.yaml"`, `"operation": "getWeather"`, `"amount": "1000"`, `"payTo": "0x1111`, `"observedAt": "2025-01-02T03:04:05Z"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("probes file lacks %s:\n%s", key, data)
		}
	}

	sources := []SourceConfig{{Spec: "a.yaml"}, {Spec: "c.yaml"}}
	AttachProbes(sources, got)
	if len(sources[0].Probes) != 2 || len(sources[1].Probes) != 0 || sources[0].Probes[1].Amount.AtomicString() != "1000" {
		t.Errorf("AttachProbes: %+v", sources)
	}
}

func TestReadProbesErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		body, want string
	}{
		{"not json", "invalid character"},
		{`{"probes": [{"spec": "a.yaml", "operation": "x", "amount": "-1"}]}`, "amount"},
		{`{"probes": [{"spec": "a.yaml", "operation": "", "amount": "1"}]}`, "probes[0]"},
		{`{"probes": [{"spec": "a.yaml", "operation": "x", "amount": "1", "payTo": "not an address!"}]}`, "payTo"},
	} {
		path := filepath.Join(dir, "probes.json")
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadProbes(path)
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadProbes(%s) = %v, want ErrInvalidOptions naming the file and %q", tc.body, err, tc.want)
		}
	}
}
