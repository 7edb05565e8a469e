package keystore

import (
	"io/fs"
	"os"
	"runtime"

	"github.com/tollhq/toll/wallet"
)

// Exposure is a file holding a secret (a keystore or a passphrase file) that
// users other than its owner may read or write.
type Exposure struct {
	Path string      // as the Source names it
	What string      // "keystore" or "passphrase file"
	Mode fs.FileMode // its permission bits
}

// Exposures reports the files of src, its keystore and its passphrase file,
// whose permission bits let group or others read or write them (mode&0o077
// is not zero), for a front end to warn about; it prints nothing. It reads
// the files' modes only. A file that cannot be examined is left out (Load
// says what is wrong with it), and so is a path that looks like a private key
// (Load refuses it). On Windows, whose permission bits do not say who may
// read a file, it reports nothing.
func Exposures(src Source) []Exposure {
	if runtime.GOOS == "windows" {
		return nil
	}
	var out []Exposure
	for _, f := range []struct{ path, what string }{
		{src.Keystore, "keystore"},
		{src.PassphraseFile, "passphrase file"},
	} {
		if f.path == "" || wallet.LooksLikeKey(f.path) {
			continue
		}
		fi, err := os.Stat(f.path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			out = append(out, Exposure{Path: f.path, What: f.what, Mode: perm})
		}
	}
	return out
}
