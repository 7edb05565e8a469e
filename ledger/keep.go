package ledger

import (
	"context"
	"errors"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Keeping the file open between operations.
//
// bbolt holds its file's lock for as long as the file is open, so a handle that must
// share the file with other processes cannot simply keep it open. Opening it for every
// operation costs an open, a mapping of the whole file, a read of bbolt's freelist and a
// close (with the unmapping of every page the operation touched): about a tenth of a
// millisecond on a small ledger, and more the larger the file.
//
// Where the lock is a flock (file_flock.go), a handle instead keeps the bbolt file of
// its last operation open and releases only its lock. The next operation takes the lock
// again on the same open file, then checks that the file is still the one it had
// open and that no transaction was committed to it since this handle's last one (the
// transaction id in bbolt's meta pages, read from the file). Only then is bbolt's
// state in memory (its meta, its freelist, its mapping) the file's, and the kept file
// is used; otherwise it is closed and the file opened afresh, as it always is where
// locks are not flocks. So a ledger written by one process (the common case) is opened
// once, and several processes sharing one still each see every commit of the others.
// A file kept open for reading serves reads only; any error, a panic while bbolt read
// the file, or Close closes it. (Another ledger copied over this one in place, keeping
// its inode, with by chance the same transaction id, is still refused: every
// transaction checks the ledger's id before it reads or writes anything, see inFile.)

// boltFile is a bbolt file open under its lock.
type boltFile struct {
	db    *bolt.DB
	file  *os.File // db's file, whose flock is the lock
	write bool     // db is open for writing
	// txid is the last transaction committed to the file, as this handle last saw it.
	txid uint64
}

// acquire returns the bbolt file open under its lock (exclusive for write, shared
// otherwise) for one operation: the file kept from the last operation when it is still
// current, else the file opened again. The caller holds l.sem and ends the operation
// with release.
func (l *Ledger) acquire(ctx context.Context, write bool, deadline time.Time) (*boltFile, error) {
	if f := l.kept; f != nil {
		l.kept = nil
		if f.write || !write {
			current, err := l.relock(ctx, f, write, deadline)
			if current {
				return f, nil
			}
			f.db.Close()
			if err != nil {
				return nil, err
			}
		} else {
			f.db.Close()
		}
	}
	return l.lock(ctx, write, deadline, false)
}

// relock takes the lock of the kept file f again and says whether f is still current:
// the file at l.path, holding no transaction this handle did not see. When it is not,
// or on an error, the caller closes f (which releases the lock).
func (l *Ledger) relock(ctx context.Context, f *boltFile, write bool, deadline time.Time) (bool, error) {
	if err := waitLock(ctx, f.file, write, deadline); err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return false, l.busy(l.timeout - time.Until(deadline))
		}
		return false, err
	}
	fi, err := f.file.Stat()
	if err != nil {
		return false, nil
	}
	// Gone or replaced: opening the path again says which.
	if pi, err := os.Stat(l.path); err != nil || !os.SameFile(fi, pi) {
		return false, nil
	}
	m, err := checkMeta(f.file, fi.Size(), l.path)
	if err != nil {
		return false, err
	}
	return m.txid == f.txid, nil
}

// release ends the operation on f: kept for the next one, its lock released, when the
// operation succeeded and files can be kept here; closed otherwise.
func (l *Ledger) release(f *boltFile, ok bool) {
	if !keepFiles || !ok {
		f.db.Close()
		return
	}
	unlockFile(f.file)
	l.kept = f
}

// drop closes the kept file, if any. The caller holds l.sem.
func (l *Ledger) drop() {
	if l.kept != nil {
		l.kept.db.Close()
		l.kept = nil
	}
}
