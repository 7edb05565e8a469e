package ledger

import (
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// keyCounter counts the keys of a bucket by reading the headers of its pages from the
// file with plain reads, instead of bbolt's Bucket.Stats, which walks the mapped file:
// every page it touches stays in the process's memory (its resident set) until the
// file is unmapped, which for the calls of a million-event ledger is most of the file.
// It is used inside a read transaction, under the file lock, so the pages it reads are
// those of the transaction's view: no writer commits meanwhile.
type keyCounter struct {
	f        io.ReaderAt
	pageSize int64
	pages    uint64 // pages in the file: a walk that reads more is going round in circles
	buf      []byte
}

// openKeyCounter opens the file at path for counting the keys of tx's buckets. The
// caller closes the file it returns.
func openKeyCounter(path string, tx *bolt.Tx) (*keyCounter, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	ps := int64(tx.DB().Info().PageSize)
	return &keyCounter{f: f, pageSize: ps, pages: uint64(tx.Size() / ps), buf: make([]byte, ps)}, f, nil
}

// count returns the number of keys of bkt.
func (c *keyCounter) count(bkt *bolt.Bucket) (int, error) {
	root := uint64(bkt.Root())
	if root == 0 {
		return bkt.Stats().KeyN, nil // an inline bucket: one small page, read already
	}
	n, visited := 0, uint64(0)
	stack := []uint64{root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited++; visited > c.pages || id < 2 || id >= c.pages {
			return 0, tampered(0, "bucket pages out of the file's range (page %d)", id)
		}
		h := c.buf[:pageHeaderSize]
		if _, err := c.f.ReadAt(h, int64(id)*c.pageSize); err != nil {
			return 0, fmt.Errorf("read page %d: %w", id, err)
		}
		flags, elems := ne.Uint16(h[8:]), int(ne.Uint16(h[10:]))
		switch {
		case ne.Uint64(h) != id:
			return 0, tampered(0, "page %d says it is page %d", id, ne.Uint64(h))
		case flags == flagLeaf:
			n += elems
		case flags == flagBranch:
			kids, err := c.children(id, elems)
			if err != nil {
				return 0, err
			}
			stack = append(stack, kids...)
		default:
			return 0, tampered(0, "page %d of a bucket is of kind %#x", id, flags)
		}
	}
	return n, nil
}

// children reads the child page ids of branch page id, of elems elements.
func (c *keyCounter) children(id uint64, elems int) ([]uint64, error) {
	size := pageHeaderSize + elems*elementSize
	if len(c.buf) < size {
		c.buf = make([]byte, size)
	}
	b := c.buf[:size]
	if _, err := c.f.ReadAt(b, int64(id)*c.pageSize); err != nil {
		return nil, fmt.Errorf("read page %d: %w", id, err)
	}
	kids := make([]uint64, elems)
	for i := range elems {
		kids[i] = ne.Uint64(b[pageHeaderSize+i*elementSize+8:])
	}
	return kids, nil
}
