package keystore

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollhq/toll/wallet"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	ks := writeHardhat(t, dir, "key.json")
	writeFile := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	passFile := writeFile("pass.txt", testPassphrase+"\n")
	passFileCRLF := writeFile("pass-crlf.txt", testPassphrase+"\r\nsecond line\r\n")
	passFileNoNL := writeFile("pass-nonl.txt", testPassphrase)
	wrongFile := writeFile("wrong.txt", otherPassphrase+"\n")
	emptyFile := writeFile("empty.txt", "\nsomething on line two\n")
	hugeFile := writeFile("huge.txt", strings.Repeat("x", maxPassphraseSize+1))

	tests := []struct {
		name    string
		src     Source
		env     map[string]string
		wantErr error    // nil: success with the Hardhat address
		text    []string // substrings the error must contain
	}{
		{"keystore, passphrase from TOLL_PASSPHRASE",
			Source{Keystore: ks}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, nil, nil},
		{"keystore, passphrase from a named variable",
			Source{Keystore: ks, PassphraseEnv: "MY_PASS"}, map[string]string{"MY_PASS": testPassphrase, "TOLL_PASSPHRASE": otherPassphrase}, nil, nil},
		{"keystore, passphrase file",
			Source{Keystore: ks, PassphraseFile: passFile}, nil, nil, nil},
		{"keystore, passphrase file with CRLF and more lines",
			Source{Keystore: ks, PassphraseFile: passFileCRLF}, nil, nil, nil},
		{"keystore, passphrase file without newline",
			Source{Keystore: ks, PassphraseFile: passFileNoNL}, nil, nil, nil},
		{"passphrase file wins over the variable",
			Source{Keystore: ks, PassphraseFile: passFile}, map[string]string{"TOLL_PASSPHRASE": otherPassphrase}, nil, nil},
		{"keystore wins over a raw key that is not allowed",
			Source{Keystore: ks, RawKeyEnv: "KEY"}, map[string]string{"TOLL_PASSPHRASE": testPassphrase, "KEY": "0x" + hardhatKey}, nil, nil},

		{"missing passphrase",
			Source{Keystore: ks}, nil, ErrNoPassphrase, []string{ks, "$TOLL_PASSPHRASE", "passphrase file"}},
		{"missing passphrase, named variable",
			Source{Keystore: ks, PassphraseEnv: "MY_PASS"}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, ErrNoPassphrase, []string{"$MY_PASS"}},
		{"empty first line in passphrase file",
			Source{Keystore: ks, PassphraseFile: emptyFile}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, ErrNoPassphrase, []string{emptyFile}},
		{"missing passphrase file",
			Source{Keystore: ks, PassphraseFile: filepath.Join(dir, "absent.txt")}, nil, os.ErrNotExist, []string{"absent.txt"}},
		{"huge passphrase file",
			Source{Keystore: ks, PassphraseFile: hugeFile}, nil, nil, []string{"huge.txt", "larger than 65536 bytes"}},
		{"wrong passphrase from the variable",
			Source{Keystore: ks}, map[string]string{"TOLL_PASSPHRASE": otherPassphrase}, ErrWrongPassphrase, []string{"$TOLL_PASSPHRASE", ks}},
		{"wrong passphrase from a file",
			Source{Keystore: ks, PassphraseFile: wrongFile}, nil, ErrWrongPassphrase, []string{"file " + wrongFile}},
		{"missing keystore",
			Source{Keystore: filepath.Join(dir, "absent.json")}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, os.ErrNotExist, []string{"absent.json"}},
		{"not a keystore",
			Source{Keystore: passFile}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, ErrInvalidKeystore, []string{"pass.txt", "not a keystore file"}},
		{"keystore and an allowed raw key",
			Source{Keystore: ks, RawKeyEnv: "KEY", AllowRawKey: true}, map[string]string{"TOLL_PASSPHRASE": testPassphrase, "KEY": hardhatKey}, nil, []string{"use one"}},

		{"raw key allowed",
			Source{RawKeyEnv: "KEY", AllowRawKey: true}, map[string]string{"KEY": "0x" + hardhatKey}, nil, nil},
		{"raw key allowed, bare hex",
			Source{RawKeyEnv: "KEY", AllowRawKey: true}, map[string]string{"KEY": strings.ToUpper(hardhatKey) + "\n"}, nil, nil},
		{"raw key not allowed",
			Source{RawKeyEnv: "KEY"}, map[string]string{"KEY": "0x" + hardhatKey}, ErrRawKeyNotAllowed, []string{"$KEY", "opt-in", "keystore"}},
		{"raw key not allowed, variable unset",
			Source{RawKeyEnv: "KEY"}, nil, ErrRawKeyNotAllowed, []string{"$KEY"}},
		{"raw key allowed, variable unset",
			Source{RawKeyEnv: "KEY", AllowRawKey: true}, nil, ErrNoKey, []string{"$KEY"}},
		{"raw key allowed, malformed",
			Source{RawKeyEnv: "KEY", AllowRawKey: true}, map[string]string{"KEY": "0x" + hardhatKey[:63] + "q"}, nil, []string{"$KEY", "not hexadecimal"}},
		{"raw key allowed, too long",
			Source{RawKeyEnv: "KEY", AllowRawKey: true}, map[string]string{"KEY": hardhatKey + hardhatKey}, nil, []string{"$KEY", "got 128 hex digits"}},
		{"raw key allowed, no variable named",
			Source{AllowRawKey: true}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, ErrNoKey, []string{"no environment variable"}},

		{"keystore path is a key",
			Source{Keystore: hardhatKey}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, ErrMisplacedKey, []string{"keystore path looks like a private key"}},
		{"keystore path holds a 0x key",
			Source{Keystore: filepath.Join(dir, "0x"+hardhatKey)}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, ErrMisplacedKey, []string{"keystore path"}},
		{"passphrase file path is a key",
			Source{Keystore: ks, PassphraseFile: hardhatKey}, nil, ErrMisplacedKey, []string{"passphrase file path"}},
		{"passphrase variable name is a key",
			Source{Keystore: ks, PassphraseEnv: hardhatKey}, map[string]string{hardhatKey: testPassphrase}, ErrMisplacedKey, []string{"passphrase variable's name"}},
		{"raw key variable name is the key",
			Source{RawKeyEnv: "0x" + hardhatKey, AllowRawKey: true}, nil, ErrMisplacedKey, []string{"raw key's variable name"}},
		{"raw key variable name is the key, not allowed",
			Source{RawKeyEnv: hardhatKey}, nil, ErrMisplacedKey, []string{"raw key's variable name"}},
		{"raw key variable name is the key, beside a keystore",
			Source{Keystore: ks, RawKeyEnv: hardhatKey}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, ErrMisplacedKey, []string{"raw key's variable name"}},

		{"keystore, passphrase at the prompt",
			Source{Keystore: ks, Prompt: func() (string, error) { return testPassphrase, nil }}, nil, nil, nil},
		{"the variable wins over the prompt",
			Source{Keystore: ks, Prompt: func() (string, error) { return otherPassphrase, nil }}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, nil, nil},
		{"the file wins over the prompt",
			Source{Keystore: ks, PassphraseFile: passFile, Prompt: func() (string, error) { return otherPassphrase, nil }}, nil, nil, nil},
		{"wrong passphrase at the prompt",
			Source{Keystore: ks, Prompt: func() (string, error) { return otherPassphrase, nil }}, nil, ErrWrongPassphrase, []string{"taken from the prompt"}},
		{"empty passphrase at the prompt",
			Source{Keystore: ks, Prompt: func() (string, error) { return "", nil }}, nil, ErrNoPassphrase, []string{"prompt is empty"}},
		{"prompt fails",
			Source{Keystore: ks, Prompt: func() (string, error) { return "", io.ErrUnexpectedEOF }}, nil, io.ErrUnexpectedEOF, []string{"read passphrase at the prompt"}},

		{"nothing configured",
			Source{}, map[string]string{"TOLL_PASSPHRASE": testPassphrase}, ErrNoKey, []string{"keystore", "raw key"}},
		{"passphrase alone is not a key",
			Source{PassphraseFile: passFile}, nil, ErrNoKey, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			got, err := Load(tt.src, getenv, wallet.Options{})
			if tt.wantErr == nil && len(tt.text) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got.Address().Hex() != hardhatAddr {
					t.Fatalf("Load gave %s, want %s", got.Address(), hardhatAddr)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load = %v, want an error", got)
			}
			if got != nil {
				t.Errorf("Load returned a wallet with an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Load error = %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load error = %q, want it to mention %q", err, s)
				}
			}
			assertErrNoSecret(t, err)
		})
	}
}

func TestLoadDefaultGetenv(t *testing.T) {
	t.Setenv("TOLL_TEST_RAW_KEY", "0x"+hardhatKey)
	w, err := Load(Source{RawKeyEnv: "TOLL_TEST_RAW_KEY", AllowRawKey: true}, nil, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Address().Hex(); got != hardhatAddr {
		t.Errorf("Load with os.Getenv = %s, want %s", got, hardhatAddr)
	}
}

func TestPassphrase(t *testing.T) {
	t.Setenv("TOLL_TEST_PASSPHRASE", testPassphrase)
	got, err := Passphrase(Source{PassphraseEnv: "TOLL_TEST_PASSPHRASE"}, nil)
	if err != nil || got != testPassphrase {
		t.Errorf("Passphrase with os.Getenv = %q, %v; want the variable's value", got, err)
	}
	_, err = Passphrase(Source{PassphraseEnv: "TOLL_TEST_UNSET_PASSPHRASE"}, func(string) string { return "" })
	if !errors.Is(err, ErrNoPassphrase) || !strings.Contains(err.Error(), "$TOLL_TEST_UNSET_PASSPHRASE") {
		t.Errorf("Passphrase error = %v, want ErrNoPassphrase naming the variable", err)
	}
	assertErrNoSecret(t, err)
}

func TestPassphraseRefusesAKeyAsAName(t *testing.T) {
	for _, src := range []Source{{PassphraseEnv: hardhatKey}, {PassphraseFile: "0x" + hardhatKey}, {Keystore: hardhatKey}} {
		_, err := Passphrase(src, func(string) string { return testPassphrase })
		var mk *MisplacedKeyError
		if !errors.As(err, &mk) || !errors.Is(err, ErrMisplacedKey) {
			t.Errorf("Passphrase(%+v) error = %v, want a *MisplacedKeyError", src, err)
		}
		assertErrNoSecret(t, err)
	}
}

func TestOpenCreateRefuseAKeyAsPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, hardhatKey+".json")
	if _, err := Create(path, testPassphrase, true, wallet.Options{}); !errors.Is(err, ErrMisplacedKey) {
		t.Errorf("Create error = %v, want ErrMisplacedKey", err)
	} else {
		assertErrNoSecret(t, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create wrote %s anyway (stat: %v)", filepath.Base(path)[:8], err)
	}
	if _, err := Open("0x"+hardhatKey, testPassphrase, wallet.Options{}); !errors.Is(err, ErrMisplacedKey) {
		t.Errorf("Open error = %v, want ErrMisplacedKey", err)
	} else {
		assertErrNoSecret(t, err)
	}
}
