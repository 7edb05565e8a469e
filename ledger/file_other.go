//go:build windows || plan9 || solaris || aix || android

package ledger

import (
	"context"
	"os"
	"time"
)

// unlockFile does nothing where bbolt locks with fcntl or LockFileEx: closing the file
// releases those locks.
func unlockFile(*os.File) {}

// readPages returns the first n bytes of f, read at once, and a function that does
// nothing.
func readPages(f *os.File, n int64) ([]byte, func(), error) {
	data := make([]byte, n)
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, nil, err
	}
	return data, func() {}, nil
}

// waitLock does not wait where bbolt does not lock with flock: lock polls instead.
func waitLock(context.Context, *os.File, bool, time.Time) error { return errNoWait }
