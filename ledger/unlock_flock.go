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
