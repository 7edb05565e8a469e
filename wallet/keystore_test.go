package wallet

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/google/uuid"
)

func TestScryptParamsMatchGoEthereum(t *testing.T) {
	if standardScryptN != keystore.StandardScryptN || standardScryptP != keystore.StandardScryptP ||
		lightScryptN != keystore.LightScryptN || lightScryptP != keystore.LightScryptP {
		t.Errorf("scrypt parameters differ from go-ethereum's keystore package")
	}
}

func TestKeystoreRoundTrip(t *testing.T) {
	w, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.json")
	if err := w.WriteKeystore(path, testPassphrase, true); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("keystore mode = %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "keystore file", string(data), keyHex(w))

	var ks keystoreJSON
	if err := json.Unmarshal(data, &ks); err != nil {
		t.Fatal(err)
	}
	if ks.Version != 3 || ks.Crypto.KDF != "scrypt" || ks.Crypto.KDFParams.N != keystore.LightScryptN ||
		ks.Crypto.KDFParams.P != keystore.LightScryptP || ks.Crypto.KDFParams.R != 8 || ks.Crypto.Cipher != "aes-128-ctr" {
		t.Errorf("keystore header = %+v, want v3 scrypt with light parameters", ks)
	}
	if _, err := uuid.Parse(ks.ID); err != nil {
		t.Errorf("keystore id %q is not a UUID: %v", ks.ID, err)
	}
	if ks.Address != strings.ToLower(w.Address().Hex()[2:]) {
		t.Errorf("keystore address = %q, want %s without 0x in lower case", ks.Address, w.Address())
	}

	opened, err := OpenKeystore(path, testPassphrase, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opened.Address() != w.Address() || keyHex(opened) != keyHex(w) {
		t.Errorf("OpenKeystore gave %s, want %s", opened.Address(), w.Address())
	}

	_, err = OpenKeystore(path, otherPassphrase, Options{})
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: error = %v, want ErrWrongPassphrase", err)
	}
	assertErrNoSecret(t, err, keyHex(w))
	_, err = OpenKeystore(path, "", Options{})
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("empty passphrase: error = %v, want ErrWrongPassphrase", err)
	}
}

func TestWriteKeystoreRefuses(t *testing.T) {
	w, err := FromHex(hardhatKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	t.Run("existing keystore", func(t *testing.T) {
		path := filepath.Join(dir, "key.json")
		if err := w.WriteKeystore(path, testPassphrase, true); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(path)
		err := w.WriteKeystore(path, otherPassphrase, true)
		if err == nil || !strings.Contains(err.Error(), "never overwritten") {
			t.Fatalf("second WriteKeystore error = %v, want a refusal to overwrite", err)
		}
		assertErrNoSecret(t, err)
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Error("the existing keystore changed")
		}
		if _, err := OpenKeystore(path, testPassphrase, Options{}); err != nil {
			t.Errorf("the original keystore no longer opens: %v", err)
		}
	})
	t.Run("existing other file", func(t *testing.T) {
		path := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteKeystore(path, testPassphrase, true); err == nil {
			t.Fatal("WriteKeystore overwrote an unrelated file")
		}
		if got, _ := os.ReadFile(path); string(got) != "keep me" {
			t.Errorf("unrelated file now holds %q", got)
		}
	})
	t.Run("empty passphrase", func(t *testing.T) {
		path := filepath.Join(dir, "empty.json")
		err := w.WriteKeystore(path, "", true)
		if err == nil || !strings.Contains(err.Error(), "passphrase is empty") {
			t.Fatalf("WriteKeystore error = %v, want an empty-passphrase refusal", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a file was created: %v", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		err := w.WriteKeystore(filepath.Join(dir, "nope", "key.json"), testPassphrase, true)
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("WriteKeystore error = %v, want os.ErrNotExist", err)
		}
		assertErrNoSecret(t, err)
	})
}

// TestWriteKeystoreStandard checks that light=false uses go-ethereum's
// standard parameters (this costs one 256 MiB scrypt, about a second).
func TestWriteKeystoreStandard(t *testing.T) {
	t.Parallel()
	w, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.json")
	if err := w.WriteKeystore(path, testPassphrase, false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var ks keystoreJSON
	if err := json.Unmarshal(data, &ks); err != nil {
		t.Fatal(err)
	}
	if p := ks.Crypto.KDFParams; p.N != keystore.StandardScryptN || p.P != keystore.StandardScryptP || p.R != 8 {
		t.Errorf("scrypt n=%d r=%d p=%d, want go-ethereum's standard %d/8/%d", p.N, p.R, p.P, keystore.StandardScryptN, keystore.StandardScryptP)
	}
}

// TestKeystoreGoEthereumCompat checks both directions against go-ethereum's
// accounts/keystore.
func TestKeystoreGoEthereumCompat(t *testing.T) {
	w, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	t.Run("ours opens in go-ethereum", func(t *testing.T) {
		path := filepath.Join(dir, "ours.json")
		if err := w.WriteKeystore(path, testPassphrase, true); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		k, err := keystore.DecryptKey(data, testPassphrase)
		if err != nil {
			t.Fatalf("go-ethereum DecryptKey: %v", err)
		}
		if Address(k.Address) != w.Address() || k.PrivateKey.D.Cmp(w.key.D) != 0 {
			t.Errorf("go-ethereum decrypted %s, want %s", k.Address.Hex(), w.Address())
		}
		if _, err := keystore.DecryptKey(data, otherPassphrase); !errors.Is(err, keystore.ErrDecrypt) {
			t.Errorf("go-ethereum with the wrong passphrase: %v", err)
		}
	})
	t.Run("go-ethereum's opens here", func(t *testing.T) {
		data, err := keystore.EncryptKey(&keystore.Key{Id: uuid.New(), Address: common.Address(w.Address()), PrivateKey: w.key},
			testPassphrase, keystore.LightScryptN, keystore.LightScryptP)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "geth.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := OpenKeystore(path, testPassphrase, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Address() != w.Address() {
			t.Errorf("OpenKeystore = %s, want %s", got.Address(), w.Address())
		}
		_, err = OpenKeystore(path, otherPassphrase, Options{})
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("wrong passphrase: %v, want ErrWrongPassphrase", err)
		}
	})
}

// The Web3 Secret Storage definition's test vectors (also in go-ethereum's
// accounts/keystore/testdata/v3_test_vector.json).
func TestKeystoreSpecVectors(t *testing.T) {
	t.Parallel()
	const priv = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d"
	vectors := map[string]string{
		"scrypt": `{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"83dbcc02d8ccb40e466191a123791e0e"},
			"ciphertext":"d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c","kdf":"scrypt",
			"kdfparams":{"dklen":32,"n":262144,"r":1,"p":8,"salt":"ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"},
			"mac":"2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"},
			"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}`,
		"pbkdf2": `{"Crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},
			"ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46","kdf":"pbkdf2",
			"kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256","salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},
			"mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},
			"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}`,
	}
	want, err := FromHex(priv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, js := range vectors {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "v.json")
			if err := os.WriteFile(path, []byte(js), 0o600); err != nil {
				t.Fatal(err)
			}
			w, err := OpenKeystore(path, "testpassword", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if keyHex(w) != priv || w.Address() != want.Address() {
				t.Errorf("decrypted %s, want %s", w.Address(), want.Address())
			}
			_, err = OpenKeystore(path, "testpassworD", Options{})
			if !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("wrong passphrase: %v", err)
			}
			assertErrNoSecret(t, err, priv)
		})
	}
}

func TestOpenKeystoreMalformed(t *testing.T) {
	w, err := FromHex(hardhatKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := w.WriteKeystore(good, testPassphrase, true); err != nil {
		t.Fatal(err)
	}
	goodData, _ := os.ReadFile(good)
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(goodData, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cryptoOf := func(m map[string]any) map[string]any { return m["crypto"].(map[string]any) }
	kdfOf := func(m map[string]any) map[string]any { return cryptoOf(m)["kdfparams"].(map[string]any) }
	other, _ := Generate(Options{})

	tests := []struct {
		name, content, want string
	}{
		{"raw hex key instead of a keystore", hardhatKey + "\n", "not a keystore file"},
		{"raw 0x key", "0x" + hardhatKey, "not a keystore file"},
		{"empty", "", "not a keystore file"},
		{"version 1", edit(func(m map[string]any) { m["version"] = 1 }), "version 1 is not supported"},
		{"version string", edit(func(m map[string]any) { m["version"] = "3" }), "not a keystore file"},
		{"cipher", edit(func(m map[string]any) { cryptoOf(m)["cipher"] = "aes-128-cbc" }), `cipher "aes-128-cbc" is not supported`},
		{"kdf", edit(func(m map[string]any) { cryptoOf(m)["kdf"] = "argon2" }), `kdf "argon2" is not supported`},
		{"prf", edit(func(m map[string]any) {
			cryptoOf(m)["kdf"] = "pbkdf2"
			kdfOf(m)["prf"] = "hmac-sha1"
			kdfOf(m)["c"] = 10
		}), "prf"},
		{"huge scrypt n", edit(func(m map[string]any) { kdfOf(m)["n"] = 1 << 30 }), "exceed toll's limit"},
		{"huge scrypt p", edit(func(m map[string]any) { kdfOf(m)["p"] = 1 << 20 }), "exceed toll's limit"},
		{"n not a power of 2", edit(func(m map[string]any) { kdfOf(m)["n"] = 4000 }), "scrypt parameters"},
		{"short dklen", edit(func(m map[string]any) { kdfOf(m)["dklen"] = 16 }), "dklen 16"},
		{"bad mac", edit(func(m map[string]any) { cryptoOf(m)["mac"] = "zz" }), "mac"},
		{"bad iv", edit(func(m map[string]any) { cryptoOf(m)["cipherparams"] = map[string]any{"iv": "00"} }), "iv"},
		{"short ciphertext", edit(func(m map[string]any) { cryptoOf(m)["ciphertext"] = "00ff" }), "2-byte key"},
		{"swapped address", edit(func(m map[string]any) { m["address"] = strings.ToLower(other.Address().Hex()[2:]) }), "may have been altered"},
		{"address 0x", edit(func(m map[string]any) { m["address"] = w.Address().Hex() }), ""},
		{"no address", edit(func(m map[string]any) { delete(m, "address") }), ""},
		{"too large", string(goodData) + strings.Repeat(" ", maxKeystoreSize), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := OpenKeystore(path, testPassphrase, Options{})
			if tt.want == "" {
				if err != nil || got.Address() != w.Address() {
					t.Fatalf("OpenKeystore = %v, %v; want %s", got, err, w.Address())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenKeystore error = %v, want one containing %q", err, tt.want)
			}
			if errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("malformed file reported as a wrong passphrase: %v", err)
			}
			assertErrNoSecret(t, err, keyHex(other))
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := OpenKeystore(filepath.Join(dir, "absent.json"), testPassphrase, Options{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error = %v, want os.ErrNotExist", err)
		}
	})
}
