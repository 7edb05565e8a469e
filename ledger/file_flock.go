//go:build !windows && !plan9 && !solaris && !aix && !android

package ledger

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

// keepFiles: a handle keeps its file open between operations, releasing only the flock
// (keep.go).
const keepFiles = true

// unlockFile releases the flock bbolt took on f (the platforms where bbolt locks with
// flock). Closing f alone would not: the lock belongs to the open file, which a mapping
// of it keeps open.
func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// waitLock takes on f the flock bbolt takes (exclusive to write, else shared), waiting
// in the kernel until it is free, deadline passes (bolterrors.ErrTimeout) or ctx is done.
// Waiters are woken when the lock is released, not after a sleep: no polling. bbolt's own
// attempt on f then succeeds at once (the lock is f's open file's).
//
// A blocking flock cannot be cancelled: the wait runs on a duplicate of f's descriptor,
// which shares f's lock, in a goroutine. When the caller gives up, it closes f and the
// goroutine stays blocked until the lock is free, then closes the duplicate, which
// releases the lock at once.
func waitLock(ctx context.Context, f *os.File, exclusive bool, deadline time.Time) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	fd := int(f.Fd())
	err := syscall.Flock(fd, how|syscall.LOCK_NB)
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return err // nil: taken at once
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		return err
	}
	got := make(chan error, 1)
	go func() {
		var err error = syscall.EINTR
		for errors.Is(err, syscall.EINTR) {
			err = syscall.Flock(dup, how)
		}
		syscall.Close(dup)
		got <- err
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-got:
		return err
	case <-timer.C:
		return bolterrors.ErrTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}
