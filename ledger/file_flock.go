//go:build !windows && !plan9 && !solaris && !aix && !android

package ledger

import (
	"os"
	"syscall"
)

// unlockFile releases the flock bbolt took on f (the platforms where bbolt locks with
// flock). Closing f alone would not: the lock belongs to the open file, which a mapping
// of it keeps open.
func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// readPages returns the first n bytes of f, mapped read-only (no copy: the page walk
// reads each page once), and the function that unmaps them. The caller holds the lock
// and has checked that f is at least n bytes long.
func readPages(f *os.File, n int64) ([]byte, func(), error) {
	data, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}
