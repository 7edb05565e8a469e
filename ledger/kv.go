package ledger

import (
	"context"
	"time"
)

// The ledger's storage interface. Everything the ledger does (caps, the chain, outcomes,
// approvals, signed heads, verify, the readers) is written once, against these ordered
// key-value transactions; a store runs them. Two stores do: a bbolt file (boltstore.go,
// the default) and a PostgreSQL database (pgstore.go). So the semantics are the same on
// both by construction, and the ledger's tests, run against each store, hold them.
//
// A store's transaction is either a read (a consistent snapshot that never blocks a
// writer) or a write; the writes of all handles and processes sharing a ledger are
// serialized, so every check a write makes (the caps) sees every write committed before
// it, and a write returns only once its commit is durable.

// store runs transactions on a ledger's storage.
type store interface {
	// run runs fn in one transaction, a write one (committed durably when fn returns
	// nil, rolled back otherwise) when write is set, waiting for the storage until
	// deadline or ctx is done (ErrBusy after the deadline).
	run(ctx context.Context, write bool, deadline time.Time, fn func(tx kvTx) error) error
}

// kvTx is one transaction of a store.
type kvTx interface {
	// bucket returns the bucket called name, or nil (a nil interface) when there is none.
	bucket(name []byte) kvBucket
	// createBucket returns the bucket called name, creating it when there is none
	// (write transactions only).
	createBucket(name []byte) (kvBucket, error)
	// writable says whether this is a write transaction.
	writable() bool
	// countKeys returns the number of keys of bkt, a bucket of this transaction.
	countKeys(bkt kvBucket) (int, error)
}

// kvBucket is an ordered map of byte keys to byte values, inside one transaction. A
// value returned by Get or by a cursor is valid only until the transaction ends or the
// bucket is changed, as in bbolt. A store whose reads can fail (a network) keeps the
// first such error, answers nil meanwhile, and fails the transaction with that error
// whatever fn returns, so a read error can never be taken for a missing key.
type kvBucket interface {
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Cursor() kvCursor
	ForEach(fn func(k, v []byte) error) error
}

// kvCursor walks a bucket in key order (bytewise). Each method returns the key and value
// it moved to, or a nil key past either end. A cursor is placed again (First, Seek)
// after the bucket under it changed.
type kvCursor interface {
	First() (key, value []byte)
	Last() (key, value []byte)
	Seek(key []byte) (key2, value []byte)
	Next() (key, value []byte)
	Prev() (key, value []byte)
}
