package ledger

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkFileSize reports the ledger's size per spend (bytes/spend) after 5,000 paid
// calls recorded as the paid path records them: Reserve, then the settlement. The size
// is bbolt's high-water mark (the pages ever allocated), which a large file's size
// follows; below 16 MB bbolt grows the file itself by doubling.
func BenchmarkFileSize(b *testing.B) {
	const spends = 5000
	for b.Loop() {
		l := openLedger(b, filepath.Join(b.TempDir(), "ledger.db"), Options{})
		for i := range spends {
			cycle(b, l, fmt.Sprintf("call_%024x", i*7919%spends))
		}
		db, err := bolt.Open(l.Path(), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		err = db.View(func(tx *bolt.Tx) error {
			b.ReportMetric(float64(tx.Size())/spends, "bytes/spend")
			return nil
		})
		db.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}
