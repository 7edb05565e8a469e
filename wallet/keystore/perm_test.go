package keystore

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExposures(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits do not say who may read a file on Windows; Exposures reports nothing there")
	}
	dir := t.TempDir()
	file := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(testPassphrase+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is cut by the umask
			t.Fatal(err)
		}
		return p
	}
	private, private400 := file("private.json", 0o600), file("private400.txt", 0o400)
	world, group := file("world.json", 0o644), file("group.txt", 0o640)
	groupWrite, otherWrite := file("groupw.txt", 0o620), file("otherw.txt", 0o602)
	tests := []struct {
		name string
		src  Source
		want []Exposure
	}{
		{"both private", Source{Keystore: private, PassphraseFile: private400}, nil},
		{"keystore readable by all", Source{Keystore: world, PassphraseFile: private}, []Exposure{{world, "keystore", 0o644}}},
		{"passphrase file readable by the group", Source{Keystore: private, PassphraseFile: group}, []Exposure{{group, "passphrase file", 0o640}}},
		{"both", Source{Keystore: world, PassphraseFile: group}, []Exposure{{world, "keystore", 0o644}, {group, "passphrase file", 0o640}}},
		{"writable by the group", Source{PassphraseFile: groupWrite}, []Exposure{{groupWrite, "passphrase file", 0o620}}},
		{"writable by others", Source{Keystore: otherWrite}, []Exposure{{otherWrite, "keystore", 0o602}}},
		{"missing file", Source{Keystore: filepath.Join(dir, "absent.json")}, nil},
		{"a directory", Source{Keystore: dir}, nil},
		{"a path that looks like a key", Source{Keystore: hardhatKey}, nil},
		{"nothing", Source{RawKeyEnv: "KEY", AllowRawKey: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Exposures(tt.src)); diff != "" {
				t.Errorf("Exposures (-want +got):\n%s", diff)
			}
		})
	}
}
