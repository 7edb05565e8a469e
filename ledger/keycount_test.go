package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestKeyCounter: counting a bucket's keys from the file's pages gives bbolt's own
// count, for buckets of one inline page, of one page and of several levels of pages.
func TestKeyCounter(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	err := l.update(ctx, func(b buckets) error {
		for i := range 3000 {
			in := intent(fmt.Sprintf("call-%d", i), 1000)
			if _, _, err := reserveTx(b, in, Caps{}, t0.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(l.Path(), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		c, f, err := openKeyCounter(l.Path(), tx)
		if err != nil {
			return err
		}
		defer f.Close()
		for _, name := range allBuckets {
			bkt := tx.Bucket(name)
			got, err := c.count(bkt)
			st := bkt.Stats()
			if err != nil || got != st.KeyN {
				t.Errorf("bucket %s (%d levels, %d leaf pages): counted %d (%v), bbolt counts %d", name, st.Depth, st.LeafPageN, got, err, st.KeyN)
			}
			if string(name) == "calls" && (st.KeyN != 3000 || st.Depth < 2) {
				t.Errorf("calls: %d keys in %d levels; the test wants 3000 in several", st.KeyN, st.Depth)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
