package ledger

import (
	"bytes"
	"context"
	"fmt"
)

// Copy copies the ledger of from into to, which must hold no event yet: every record of
// every bucket as it is (the chain with the same events, positions and hashes, and the
// state derived from it), except to's own id. It reads from in one read transaction and
// writes to in one write transaction, so to holds the whole copy or nothing; then it
// verifies to whole and checks that its head is from's. This is how a bbolt ledger moves
// to PostgreSQL (toll ledger copy): stop the toll processes that write from first, or
// what they write after the copy began is not in it.
func Copy(ctx context.Context, to, from *Ledger) (Head, error) {
	var want Head
	err := from.view(ctx, func(src buckets) error {
		seq, hash, err := readHead(src.meta)
		if err != nil {
			return err
		}
		want = Head{Seq: seq, Hash: fmt.Sprintf("%x", hash)}
		return to.update(ctx, func(dst buckets) error { return copyBuckets(dst, src) })
	})
	if err != nil {
		return Head{}, fmt.Errorf("copy %s to %s: %w", from.path, to.path, err)
	}
	got, err := to.VerifyHead(ctx)
	if err != nil {
		return Head{}, fmt.Errorf("copy %s to %s: the copy does not verify: %w", from.path, to.path, err)
	}
	if got != want {
		return Head{}, fmt.Errorf("copy %s to %s: the copy's head is %d %s, the ledger's %d %s", from.path, to.path, got.Seq, got.Hash, want.Seq, want.Hash)
	}
	return got, nil
}

// copyBuckets writes every record of src's buckets into dst's, which hold no event.
func copyBuckets(dst, src buckets) error {
	if seq, _, err := readHead(dst.meta); err != nil || seq != 0 {
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: the destination already holds %d events; copy into an empty ledger", ErrInvalid, seq)
	}
	for _, name := range allBuckets {
		from := src.tx.bucket(name)
		if from == nil {
			continue
		}
		to, err := dst.tx.createBucket(name)
		if err != nil {
			return err
		}
		err = from.ForEach(func(k, v []byte) error {
			if bytes.Equal(name, bucketMeta) && bytes.Equal(k, keyID) {
				return nil // the destination keeps its own id
			}
			return to.Put(k, v)
		})
		if err != nil {
			return fmt.Errorf("copy bucket %s: %w", name, err)
		}
	}
	return nil
}
