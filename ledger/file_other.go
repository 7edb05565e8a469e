//go:build windows || plan9 || solaris || aix || android

package ledger

import (
	"context"
	"os"
	"time"
)

// keepFiles: a handle closes its file after each operation, which releases the lock:
// here the lock is not a flock that the open file can release and take again.
const keepFiles = false

// unlockFile does nothing where bbolt locks with fcntl or LockFileEx: closing the file
// releases those locks.
func unlockFile(*os.File) {}

// waitLock does not wait where bbolt does not lock with flock: lock polls instead.
func waitLock(context.Context, *os.File, bool, time.Time) error { return errNoWait }
