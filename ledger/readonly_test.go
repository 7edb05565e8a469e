//go:build linux

package ledger

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// readOnlyEnv runs TestReadOnlyAccess as its worker, on the ledger it names.
const readOnlyEnv = "TOLL_LEDGER_TEST_READONLY"

// nobody is the user the test runs its worker as, when it runs as root (root reads and
// writes whatever the file's mode says).
const nobody = 65534

// A user who may read the ledger but not write it (a 0444 file in a 0555 directory) can
// list, export, verify and read the recent spends; a write fails, saying why; the file
// is left as it was. As root, the worker runs as user nobody, for whom the modes hold.
func TestReadOnlyAccess(t *testing.T) {
	if path := os.Getenv(readOnlyEnv); path != "" {
		readOnlyWorker(t, path)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	l := openLedger(t, path, Options{})
	fill(t, l, 20, func(i int) bool { return i == 7 })
	before := fileHash(t, path)
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if os.Geteuid() != 0 {
		readOnlyWorker(t, path)
	} else {
		runAsNobody(t, path)
	}
	if fileHash(t, path) != before {
		t.Error("the ledger file changed")
	}
}

// runAsNobody runs this test's worker as user nobody, from a copy of the test binary that
// user can run, in a directory it can reach.
func runAsNobody(t *testing.T, path string) {
	for d := filepath.Dir(filepath.Dir(path)); d != "/" && d != "."; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
	binDir := filepath.Join(filepath.Dir(filepath.Dir(path)), "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "ledger.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestReadOnlyAccess$", "-test.v")
	cmd.Dir = binDir
	cmd.Env = []string{readOnlyEnv + "=" + path, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("the worker, as user nobody: %v\n%s", err, out)
	}
	t.Logf("the worker, as user nobody:\n%s", out)
}

func readOnlyWorker(t *testing.T, path string) {
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		f.Close()
		t.Fatalf("%s opens for writing: this user can write it, and the test proves nothing", path)
	}
	ctx := t.Context()
	for _, opts := range []Options{{NoCreate: true}, {}} {
		l, err := Open(path, opts)
		if err != nil {
			t.Fatalf("Open(%+v): %v", opts, err)
		}
		if n := len(scanSpends(t, l, Filter{})); n != 20 {
			t.Errorf("ScanSpends: %d spends, want 20", n)
		}
		var buf bytes.Buffer
		if err := l.ExportJSONL(ctx, &buf, Filter{}); err != nil {
			t.Errorf("ExportJSONL: %v", err)
		}
		if _, err := VerifyJSONL(&buf); err != nil {
			t.Errorf("VerifyJSONL(export): %v", err)
		}
		if err := l.Verify(ctx); err != nil {
			t.Errorf("Verify: %v", err)
		}
		if sp, err := l.Recent(ctx, SpendFilter{}, 1); err != nil || len(sp) != 1 {
			t.Errorf("Recent: %v, %v", sp, err)
		}
		_, err = l.Reserve(ctx, intent("x", 1), Caps{})
		if !errors.Is(err, os.ErrPermission) {
			t.Errorf("Reserve on a read-only file: %v, want a permission error", err)
		}
	}
}
