package keystore

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gethkeystore "github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/google/uuid"

	"github.com/tollhq/toll/wallet"
)

// TestOpenHostile feeds Open files of the wrong shape, including ones that
// would make go-ethereum's DecryptKey panic (a missing or mistyped kdfparam,
// a short iv or dklen) or run for hours (huge scrypt or pbkdf2 costs): each
// is refused with ErrInvalidKeystore before any key derivation.
func TestOpenHostile(t *testing.T) {
	dir := t.TempDir()
	goodData, err := os.ReadFile(writeHardhat(t, dir, "good.json"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m, c, kdf map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(goodData, &m); err != nil {
			t.Fatal(err)
		}
		c := m["crypto"].(map[string]any)
		f(m, c, c["kdfparams"].(map[string]any))
		b, _ := json.Marshal(m)
		return string(b)
	}
	pbkdf2 := func(c, kdf map[string]any) {
		c["kdf"] = "pbkdf2"
		kdf["prf"], kdf["c"] = "hmac-sha256", 10
		delete(kdf, "n")
	}
	if !strings.Contains(string(goodData), `"r":8`) {
		t.Fatalf("the decimal-number case below edits nothing in %s", goodData)
	}
	other, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, content string
		want          string // "" means the file opens as the Hardhat key
	}{
		{"raw hex key instead of a keystore", hardhatKey + "\n", "not a keystore file"},
		{"raw 0x key", "0x" + hardhatKey, "not a keystore file"},
		{"empty", "", "not a keystore file"},
		{"kdfparams not an object", edit(func(m, c, kdf map[string]any) { c["kdfparams"] = "n=2" }), "not a keystore file"},
		{"version 1", edit(func(m, c, kdf map[string]any) { m["version"] = 1 }), "version 1 is not supported"},
		{"version string", edit(func(m, c, kdf map[string]any) { m["version"] = "3" }), "not a keystore file"},
		{"no id", edit(func(m, c, kdf map[string]any) { delete(m, "id") }), "id is not a UUID"},
		{"cipher", edit(func(m, c, kdf map[string]any) { c["cipher"] = "aes-128-cbc" }), `cipher "aes-128-cbc" is not supported`},
		{"kdf", edit(func(m, c, kdf map[string]any) { c["kdf"] = "argon2" }), `kdf "argon2" is not supported`},
		{"prf", edit(func(m, c, kdf map[string]any) { pbkdf2(c, kdf); kdf["prf"] = "hmac-sha1" }), `prf "hmac-sha1" is not supported`},
		{"no prf", edit(func(m, c, kdf map[string]any) { pbkdf2(c, kdf); delete(kdf, "prf") }), `prf "" is not supported`},
		{"huge pbkdf2 rounds", edit(func(m, c, kdf map[string]any) { pbkdf2(c, kdf); kdf["c"] = 1 << 30 }), "rounds c=1073741824"},
		{"no pbkdf2 rounds", edit(func(m, c, kdf map[string]any) { pbkdf2(c, kdf); delete(kdf, "c") }), "kdfparams.c is not a whole number"},
		{"huge scrypt n", edit(func(m, c, kdf map[string]any) { kdf["n"] = 1 << 30 }), "exceed the limit"},
		{"huge scrypt r", edit(func(m, c, kdf map[string]any) { kdf["r"] = 1 << 20 }), "exceed the limit"},
		{"huge scrypt p", edit(func(m, c, kdf map[string]any) { kdf["p"] = 1 << 20 }), "exceed the limit"},
		{"scrypt p that costs memory, not work", edit(func(m, c, kdf map[string]any) { kdf["n"], kdf["r"], kdf["p"] = 2, 1, 1<<23 }), "exceed the limit"},
		{"scrypt n beyond 2^32", edit(func(m, c, kdf map[string]any) { kdf["n"] = 1 << 40 }), "kdfparams.n is not a whole number below 2^32"},
		{"n not a power of 2", edit(func(m, c, kdf map[string]any) { kdf["n"] = 4000 }), "scrypt parameters n=4000"},
		{"n fractional", edit(func(m, c, kdf map[string]any) { kdf["n"] = 4096.5 }), "kdfparams.n is not a whole number"},
		{"n a string", edit(func(m, c, kdf map[string]any) { kdf["n"] = "4096" }), "kdfparams.n is not a whole number"},
		{"n in upper case", edit(func(m, c, kdf map[string]any) { kdf["N"] = kdf["n"]; delete(kdf, "n") }), "kdfparams.n is not a whole number"},
		{"negative r", edit(func(m, c, kdf map[string]any) { kdf["r"] = -8 }), "kdfparams.r is not a whole number"},
		{"p zero", edit(func(m, c, kdf map[string]any) { kdf["p"] = 0 }), "scrypt parameters"},
		{"no salt", edit(func(m, c, kdf map[string]any) { delete(kdf, "salt") }), "salt is not hex"},
		{"salt a number", edit(func(m, c, kdf map[string]any) { kdf["salt"] = 12 }), "salt is not hex"},
		{"short dklen", edit(func(m, c, kdf map[string]any) { kdf["dklen"] = 16 }), "dklen 16"},
		{"no dklen", edit(func(m, c, kdf map[string]any) { delete(kdf, "dklen") }), "kdfparams.dklen is not a whole number"},
		{"bad mac", edit(func(m, c, kdf map[string]any) { c["mac"] = "zz" }), "mac is not 32 bytes"},
		{"short iv", edit(func(m, c, kdf map[string]any) { c["cipherparams"] = map[string]any{"iv": "00"} }), "iv is not 16 bytes"},
		{"short ciphertext", edit(func(m, c, kdf map[string]any) { c["ciphertext"] = "00ff" }), "2-byte key"},
		{"ciphertext not hex", edit(func(m, c, kdf map[string]any) { c["ciphertext"] = strings.Repeat("g", 64) }), "ciphertext is not hex"},
		{"address not hex", edit(func(m, c, kdf map[string]any) { m["address"] = "my wallet" }), "address is not 20 bytes"},
		{"swapped address", edit(func(m, c, kdf map[string]any) { m["address"] = strings.ToLower(other.Address().Hex()[2:]) }), "may have been altered"},
		{"zero key", zeroKeyFile(t), "unusable key"},
		{"too large", string(goodData) + strings.Repeat(" ", maxFileSize), "larger than 65536 bytes"},
		{"address with 0x", edit(func(m, c, kdf map[string]any) { m["address"] = hardhatAddr }), ""},
		{"no address", edit(func(m, c, kdf map[string]any) { delete(m, "address") }), ""},
		{"numbers written as decimals", strings.Replace(string(goodData), `"r":8`, `"r":8.0`, 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Open(path, testPassphrase, wallet.Options{})
			if tt.want == "" {
				if err != nil || got.Address().Hex() != hardhatAddr {
					t.Fatalf("Open = %v, %v; want %s", got, err, hardhatAddr)
				}
				return
			}
			if !errors.Is(err, ErrInvalidKeystore) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open error = %v, want ErrInvalidKeystore containing %q", err, tt.want)
			}
			if errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("malformed file reported as a wrong passphrase: %v", err)
			}
			assertErrNoSecret(t, err)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := Open(filepath.Join(dir, "absent.json"), testPassphrase, wallet.Options{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error = %v, want os.ErrNotExist", err)
		}
	})
}

// zeroKeyFile is a well-formed keystore whose ciphertext decrypts, under
// testPassphrase, to the scalar 0, which is no private key.
func zeroKeyFile(t *testing.T) string {
	t.Helper()
	c, err := gethkeystore.EncryptDataV3(make([]byte, 32), []byte(testPassphrase), gethkeystore.LightScryptN, gethkeystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(file{Crypto: c, ID: uuid.NewString(), Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
