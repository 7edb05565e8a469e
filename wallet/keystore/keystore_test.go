package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	gethkeystore "github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/google/uuid"

	"github.com/tollhq/toll/wallet"
)

// header is the part of a keystore file the tests look at.
type header struct {
	Address string `json:"address"`
	ID      string `json:"id"`
	Version int    `json:"version"`
	Crypto  struct {
		Cipher    string         `json:"cipher"`
		KDF       string         `json:"kdf"`
		KDFParams map[string]any `json:"kdfparams"`
	} `json:"crypto"`
}

func readHeader(t *testing.T, path string) (header, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h header
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	return h, data
}

func TestCreateOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.json")
	w, err := Create(path, testPassphrase, true, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("keystore mode = %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the keystore (no temporary file left)", len(entries))
	}
	h, data := readHeader(t, path)
	assertNoSecret(t, "keystore file", string(data), keyOf(t, path))
	p := h.Crypto.KDFParams
	if h.Version != 3 || h.Crypto.KDF != "scrypt" || h.Crypto.Cipher != "aes-128-ctr" ||
		p["n"] != float64(gethkeystore.LightScryptN) || p["p"] != float64(gethkeystore.LightScryptP) || p["r"] != float64(8) {
		t.Errorf("keystore header = %+v, want v3 scrypt with go-ethereum's light parameters", h)
	}
	if id, err := uuid.Parse(h.ID); err != nil || id.Version() != 4 {
		t.Errorf("keystore id %q is not a random (version 4) UUID: %v", h.ID, err)
	}
	if h.Address != strings.ToLower(w.Address().Hex()[2:]) {
		t.Errorf("keystore address = %q, want %s without 0x in lower case", h.Address, w.Address())
	}

	opened, err := Open(path, testPassphrase, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opened.Address() != w.Address() {
		t.Errorf("Open gave %s, want %s", opened.Address(), w.Address())
	}
	for _, pass := range []string{otherPassphrase, ""} {
		_, err = Open(path, pass, wallet.Options{})
		if !errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrInvalidKeystore) {
			t.Errorf("passphrase %q: error = %v, want ErrWrongPassphrase alone", pass, err)
		}
		assertErrNoSecret(t, err, keyOf(t, path))
	}
}

func TestCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	t.Run("existing keystore", func(t *testing.T) {
		path := writeHardhat(t, dir, "key.json")
		before, _ := os.ReadFile(path)
		_, err := Create(path, otherPassphrase, true, wallet.Options{})
		if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "never overwritten") {
			t.Fatalf("Create error = %v, want fs.ErrExist and a refusal to overwrite", err)
		}
		assertErrNoSecret(t, err)
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Error("the existing keystore changed")
		}
		if w, err := Open(path, testPassphrase, wallet.Options{}); err != nil || w.Address().Hex() != hardhatAddr {
			t.Errorf("the original keystore opens as %v, %v; want %s", w, err, hardhatAddr)
		}
	})
	t.Run("existing other file", func(t *testing.T) {
		path := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Create(path, testPassphrase, true, wallet.Options{}); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("Create error = %v, want fs.ErrExist", err)
		}
		if got, _ := os.ReadFile(path); string(got) != "keep me" {
			t.Errorf("unrelated file now holds %q", got)
		}
	})
	t.Run("file appears while writing", func(t *testing.T) {
		sub := t.TempDir()
		path := filepath.Join(sub, "late.json")
		if err := os.WriteFile(path, []byte("first"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := writeNew(path, []byte("second")); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("writeNew error = %v, want fs.ErrExist", err)
		}
		if got, _ := os.ReadFile(path); string(got) != "first" {
			t.Errorf("file now holds %q", got)
		}
		if entries, _ := os.ReadDir(sub); len(entries) != 1 {
			t.Errorf("directory holds %d entries, want 1 (no temporary file left)", len(entries))
		}
	})
	t.Run("empty passphrase", func(t *testing.T) {
		path := filepath.Join(dir, "empty.json")
		_, err := Create(path, "", true, wallet.Options{})
		if !errors.Is(err, ErrNoPassphrase) || !strings.Contains(err.Error(), "passphrase is empty") {
			t.Fatalf("Create error = %v, want ErrNoPassphrase", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a file was created: %v", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		_, err := Create(filepath.Join(dir, "nope", "key.json"), testPassphrase, true, wallet.Options{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Create error = %v, want os.ErrNotExist", err)
		}
		assertErrNoSecret(t, err)
	})
}

// TestCreateStandard checks that light=false uses go-ethereum's standard
// parameters (this costs one 256 MiB scrypt, about a second).
func TestCreateStandard(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key.json")
	if _, err := Create(path, testPassphrase, false, wallet.Options{}); err != nil {
		t.Fatal(err)
	}
	h, _ := readHeader(t, path)
	p := h.Crypto.KDFParams
	if p["n"] != float64(gethkeystore.StandardScryptN) || p["p"] != float64(gethkeystore.StandardScryptP) || p["r"] != float64(8) {
		t.Errorf("scrypt n=%v r=%v p=%v, want go-ethereum's standard %d/8/%d", p["n"], p["r"], p["p"], gethkeystore.StandardScryptN, gethkeystore.StandardScryptP)
	}
}

// TestOpenGoEthereumKeystore opens a file written by go-ethereum's own key
// store (StoreKey, as geth account new does).
func TestOpenGoEthereumKeystore(t *testing.T) {
	acc, err := gethkeystore.StoreKey(t.TempDir(), testPassphrase, gethkeystore.LightScryptN, gethkeystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Open(acc.URL.Path, testPassphrase, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Address() != wallet.Address(acc.Address) {
		t.Errorf("Open = %s, want %s", w.Address(), acc.Address.Hex())
	}
	if _, err := Open(acc.URL.Path, otherPassphrase, wallet.Options{}); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
}

// The Web3 Secret Storage definition's test vectors (also in go-ethereum's
// accounts/keystore/testdata/v3_test_vector.json).
func TestOpenSpecVectors(t *testing.T) {
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
	want, err := wallet.FromHex(priv, wallet.Options{})
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
			w, err := Open(path, "testpassword", wallet.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if w.Address() != want.Address() {
				t.Errorf("decrypted %s, want %s", w.Address(), want.Address())
			}
			_, err = Open(path, "testpassworD", wallet.Options{})
			if !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("wrong passphrase: %v", err)
			}
			assertErrNoSecret(t, err, priv)
		})
	}
}
