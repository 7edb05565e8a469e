package ledger

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bbolt store: the ledger's transactions on a bbolt file (kv.go). The file's own
// machinery (the flock, the page checks, reading a damaged file safely) is in
// ledger.go and file.go; this file adapts bbolt's transactions to the interface.

// boltStore runs the transactions of l on its file: each takes the file's lock
// (exclusive for a write, shared for a read) on the file kept open from the last one, or
// on the file opened again (keep.go), and releases it.
type boltStore struct{ l *Ledger }

func (s boltStore) run(ctx context.Context, write bool, deadline time.Time, fn func(tx kvTx) error) error {
	l := s.l
	return l.guard(func() error {
		f, err := l.acquire(ctx, write, deadline)
		if err != nil {
			return err
		}
		// A panic (bbolt read a damaged page) leaves ok false: the file is closed.
		ok := false
		defer func() { l.release(f, ok) }()
		txFn := func(tx *bolt.Tx) error {
			f.txid = uint64(tx.ID()) // a write's, once committed; a read's, the file's last
			return fn(boltTx{tx: tx, path: l.path})
		}
		if write {
			err = f.db.Update(txFn)
		} else {
			err = f.db.View(txFn)
		}
		ok = err == nil
		return err
	})
}

// boltTx is a bbolt transaction. path, when set, is the file's path: countKeys then
// reads the pages from the file (keycount.go) instead of through the mapping.
type boltTx struct {
	tx   *bolt.Tx
	path string
}

func (t boltTx) bucket(name []byte) kvBucket {
	b := t.tx.Bucket(name)
	if b == nil {
		return nil
	}
	if t.tx.Writable() && (bytes.Equal(name, bucketEvents) || bytes.Equal(name, bucketWindow)) {
		// Events and rolling-day entries are only appended (their keys grow): pages split
		// full rather than half full. The file is read the same either way.
		b.FillPercent = appendFill
	}
	return boltBucket{b}
}

func (t boltTx) createBucket(name []byte) (kvBucket, error) {
	if _, err := t.tx.CreateBucketIfNotExists(name); err != nil {
		return nil, err
	}
	return t.bucket(name), nil
}

func (t boltTx) writable() bool { return t.tx.Writable() }

func (t boltTx) countKeys(bkt kvBucket) (int, error) {
	bb, ok := bkt.(boltBucket)
	if !ok {
		return 0, fmt.Errorf("count keys: %T is not a bucket of this bbolt transaction", bkt)
	}
	if t.path == "" {
		return bb.Stats().KeyN, nil
	}
	c, f, err := openKeyCounter(t.path, t.tx)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return c.count(bb.Bucket)
}

// boltBucket is a bbolt bucket; its cursor is bbolt's.
type boltBucket struct{ *bolt.Bucket }

func (b boltBucket) Cursor() kvCursor { return b.Bucket.Cursor() }

// openBuckets opens the buckets of a bbolt transaction (see openKV).
func openBuckets(tx *bolt.Tx) (buckets, error) { return openKV(boltTx{tx: tx}) }
