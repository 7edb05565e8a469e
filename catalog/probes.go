package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxProbesBytes bounds a probes file.
const maxProbesBytes = 16 << 20

// ProbeRecord is one entry of a probes file: the terms an operation of a spec asked for
// when it was sent unpaid. A probes file is a JSON document,
//
//	{"probes": [{"spec": "./weather.yaml", "operation": "getWeather", "amount": "1000",
//	  "network": "base-sepolia", "asset": "0x…", "payTo": "0x…", "scheme": "exact",
//	  "observedAt": "2025-01-02T03:04:05Z"}]}
//
// with the amount in atomic units, as x402 writes it. Spec is the spec as the entry gives
// it (a file, a folder or a URL), so that the record finds its entry again.
type ProbeRecord struct {
	Spec string `json:"spec"`
	ProbedPrice
}

type probesFile struct {
	Probes []ProbeRecord `json:"probes"`
}

// ReadProbes reads a probes file. A file that does not exist holds no record. Every
// record is checked as Options.Probes are.
func ReadProbes(path string) ([]ProbeRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("probes %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProbesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("probes %s: %w", path, err)
	}
	if len(data) > maxProbesBytes {
		return nil, fmt.Errorf("probes %s: %w: larger than %d bytes", path, ErrInvalidOptions, maxProbesBytes)
	}
	var pf probesFile
	if err := json.Unmarshal(data, &pf); err != nil {
		return nil, fmt.Errorf("probes %s: %w: %v", path, ErrInvalidOptions, err)
	}
	for i, r := range pf.Probes {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("probes %s: %w: probes[%d] (%s): %v", path, ErrInvalidOptions, i, clip(r.Operation), err)
		}
	}
	return pf.Probes, nil
}

// WriteProbes merges recs into the probes file at path, creating it if need be: they
// replace the records of the same operation of the same spec, and of several records of
// one operation the cheapest is kept (a 402 may list several exact requirements). The
// file is replaced atomically.
func WriteProbes(path string, recs []ProbeRecord) error {
	old, err := ReadProbes(path)
	if err != nil {
		return err
	}
	key := func(r ProbeRecord) string { return r.Spec + "\x00" + r.Operation }
	fresh := map[string]bool{}
	for _, r := range recs {
		fresh[key(r)] = true
	}
	var kept []ProbeRecord
	for _, r := range old {
		if !fresh[key(r)] {
			kept = append(kept, r)
		}
	}
	at := map[string]int{} // key → index in kept of the new record
	for _, r := range recs {
		if i, ok := at[key(r)]; ok {
			if r.Amount.Cmp(kept[i].Amount) < 0 {
				kept[i] = r
			}
			continue
		}
		at[key(r)] = len(kept)
		kept = append(kept, r)
	}
	data, err := json.MarshalIndent(probesFile{Probes: kept}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("probes %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("probes %s: %w", path, err)
	}
	return nil
}

// AttachProbes gives each source the probed prices recorded for its spec.
func AttachProbes(sources []SourceConfig, recs []ProbeRecord) {
	for i := range sources {
		for _, r := range recs {
			if r.Spec == sources[i].Spec {
				sources[i].Probes = append(sources[i].Probes, r.ProbedPrice)
			}
		}
	}
}
