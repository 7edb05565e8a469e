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

// waitLock does not wait where bbolt does not lock with flock: lock polls instead.
func waitLock(context.Context, *os.File, bool, time.Time) error { return errNoWait }
