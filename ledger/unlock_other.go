//go:build windows || plan9 || solaris || aix || android

package ledger

import "os"

// unlockFile does nothing where bbolt locks with fcntl or LockFileEx: closing the file
// releases those locks.
func unlockFile(*os.File) {}
