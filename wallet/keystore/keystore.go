package keystore

import (
	"crypto/aes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	gethkeystore "github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/google/uuid"

	"github.com/tollhq/toll/wallet"
)

// Limits for files this package reads. A keystore is about 500 bytes; the
// KDF limits allow 4× the memory and 8× the work of go-ethereum's
// StandardScryptN/P, so a hostile file cannot exhaust the machine.
const (
	maxFileSize       = 64 << 10
	maxPassphraseSize = 64 << 10
	maxScryptMemory   = 1 << 30 // bytes: 128·r·n for scrypt's V plus 128·r·p for its B
	maxScryptWork     = 1 << 24 // n·r·p
	maxPBKDF2Rounds   = 1 << 24
)

// file is a v3 keystore as go-ethereum's DecryptKey reads it: the same JSON
// names, and go-ethereum's own CryptoJSON, whose kdfparams stay a map of
// JSON values exactly as DecryptKey sees them.
type file struct {
	Address string                  `json:"address,omitempty"`
	Crypto  gethkeystore.CryptoJSON `json:"crypto"`
	ID      string                  `json:"id"`
	Version int                     `json:"version"`
}

// Open decrypts the v3 keystore file at path (scrypt or pbkdf2, aes-128-ctr)
// with passphrase. A passphrase that does not match gives an error wrapping
// ErrWrongPassphrase; a file that is malformed, too large or too costly to
// decrypt, one wrapping ErrInvalidKeystore. If the file names an address,
// it must be the key's. Errors never contain the key or the passphrase.
func Open(path, passphrase string, opts wallet.Options) (*wallet.Wallet, error) {
	if wallet.LooksLikeKey(path) {
		return nil, fmt.Errorf("open keystore: %w", &MisplacedKeyError{Field: "Keystore"})
	}
	data, err := readLimited(path, maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("open keystore: %w", err)
	}
	w, err := decrypt(data, passphrase, opts)
	if err != nil {
		return nil, fmt.Errorf("open keystore %s: %w", path, err)
	}
	return w, nil
}

func decrypt(data []byte, passphrase string, opts wallet.Options) (*wallet.Wallet, error) {
	key, err := decryptKey(data, passphrase)
	if err != nil {
		return nil, err
	}
	defer clear(key.D.Bits())
	return wallet.FromKey(key, opts)
}

// decryptKey checks and decrypts a v3 keystore. The caller clears the key's
// scalar when done with it.
func decryptKey(data []byte, passphrase string) (*ecdsa.PrivateKey, error) {
	f, err := parse(data)
	if err != nil {
		return nil, err
	}
	// Hand DecryptKey the re-encoding of what parse checked, so that it cannot
	// read anything parse did not.
	checked, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKeystore, err)
	}
	key, err := gethkeystore.DecryptKey(checked, passphrase)
	if errors.Is(err, gethkeystore.ErrDecrypt) {
		return nil, fmt.Errorf("%w: the passphrase does not decrypt this keystore", ErrWrongPassphrase)
	}
	if err != nil {
		// After parse, only a scalar outside [1, n-1] gets here; go-ethereum's
		// message says which, without the value.
		return nil, fmt.Errorf("%w: it decrypts to an unusable key (%v)", ErrInvalidKeystore, err)
	}
	if f.Address != "" {
		if want := common.HexToAddress(f.Address); want != key.Address {
			clear(key.PrivateKey.D.Bits())
			return nil, fmt.Errorf("%w: it names address %s but its key is for %s; the file may have been altered", ErrInvalidKeystore, want.Hex(), key.Address.Hex())
		}
	}
	return key.PrivateKey, nil
}

// parse decodes a keystore and checks every field DecryptKey reads.
func parse(data []byte) (file, error) {
	var f file
	if len(data) > maxFileSize {
		return f, fmt.Errorf("%w: the file is larger than %d bytes; is it the right file?", ErrInvalidKeystore, maxFileSize)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("%w: not a keystore file: want go-ethereum v3 keystore JSON", ErrInvalidKeystore)
	}
	c := f.Crypto
	switch {
	case f.Version != 3:
		return f, fmt.Errorf("%w: version %d is not supported, want 3", ErrInvalidKeystore, f.Version)
	case c.Cipher != "aes-128-ctr":
		return f, fmt.Errorf("%w: cipher %q is not supported, want aes-128-ctr", ErrInvalidKeystore, c.Cipher)
	case !isHex(c.MAC, 32):
		return f, fmt.Errorf("%w: mac is not 32 bytes of hex", ErrInvalidKeystore)
	case !isHex(c.CipherParams.IV, aes.BlockSize):
		return f, fmt.Errorf("%w: iv is not %d bytes of hex", ErrInvalidKeystore, aes.BlockSize)
	case !isHex(c.CipherText, -1):
		return f, fmt.Errorf("%w: ciphertext is not hex", ErrInvalidKeystore)
	case len(c.CipherText) != 64:
		return f, fmt.Errorf("%w: it holds a %d-byte key, want 32", ErrInvalidKeystore, len(c.CipherText)/2)
	}
	if _, err := uuid.Parse(f.ID); err != nil {
		return f, fmt.Errorf("%w: id is not a UUID", ErrInvalidKeystore)
	}
	if a := f.Address; a != "" && !isHex(strings.TrimPrefix(strings.TrimPrefix(a, "0x"), "0X"), 20) {
		return f, fmt.Errorf("%w: address is not 20 bytes of hex", ErrInvalidKeystore)
	}
	return f, checkKDF(c.KDF, c.KDFParams)
}

// checkKDF checks the key-derivation parameters against the limits, in the
// JSON types go-ethereum reads them as (strings, and numbers as float64).
func checkKDF(kdf string, params map[string]any) error {
	if salt, ok := params["salt"].(string); !ok || salt == "" || !isHex(salt, -1) {
		return fmt.Errorf("%w: kdfparams.salt is not hex", ErrInvalidKeystore)
	}
	dklen, err := intParam(params, "dklen")
	if err != nil {
		return err
	}
	if dklen < 32 || dklen > 64 {
		return fmt.Errorf("%w: kdfparams.dklen %d, want 32", ErrInvalidKeystore, dklen)
	}
	switch kdf {
	case "scrypt":
		return checkScrypt(params)
	case "pbkdf2":
		if prf, _ := params["prf"].(string); prf != "hmac-sha256" {
			return fmt.Errorf("%w: pbkdf2 prf %q is not supported, want hmac-sha256", ErrInvalidKeystore, prf)
		}
		c, err := intParam(params, "c")
		if err != nil {
			return err
		}
		if c <= 0 || c > maxPBKDF2Rounds {
			return fmt.Errorf("%w: pbkdf2 rounds c=%d, want 1 to %d", ErrInvalidKeystore, c, maxPBKDF2Rounds)
		}
		return nil
	}
	return fmt.Errorf("%w: kdf %q is not supported, want scrypt or pbkdf2", ErrInvalidKeystore, kdf)
}

func checkScrypt(params map[string]any) error {
	var v [3]uint64
	for i, name := range []string{"n", "r", "p"} {
		n, err := intParam(params, name)
		if err != nil {
			return err
		}
		v[i] = n
	}
	n, r, p := v[0], v[1], v[2]
	if n <= 1 || n&(n-1) != 0 || r == 0 || p == 0 {
		return fmt.Errorf("%w: scrypt parameters n=%d r=%d p=%d, want n a power of 2 above 1 and r, p > 0", ErrInvalidKeystore, n, r, p)
	}
	// Each factor is below 2^32, so the products are checked in steps that
	// cannot overflow.
	if n > maxScryptWork || r > maxScryptWork || p > maxScryptWork || n*r > maxScryptWork || n*r*p > maxScryptWork ||
		128*r*(n+p) > maxScryptMemory {
		return fmt.Errorf("%w: scrypt parameters n=%d r=%d p=%d exceed the limit (%d MiB of memory, n·r·p ≤ %d)",
			ErrInvalidKeystore, n, r, p, maxScryptMemory>>20, maxScryptWork)
	}
	return nil
}

// intParam returns kdfparams[name] as go-ethereum reads it: a JSON number,
// here required to be a whole number in [0, 2^32).
func intParam(params map[string]any, name string) (uint64, error) {
	f, ok := params[name].(float64)
	if !ok || f < 0 || f >= 1<<32 || f != math.Trunc(f) {
		return 0, fmt.Errorf("%w: kdfparams.%s is not a whole number below 2^32", ErrInvalidKeystore, name)
	}
	return uint64(f), nil
}

// isHex reports whether s is hex digits for n bytes (any length if n < 0).
func isHex(s string, n int) bool {
	if n >= 0 && len(s) != 2*n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Create generates a fresh key from crypto/rand, writes it encrypted with
// passphrase to a new v3 keystore file at path, and returns its wallet.
// light selects go-ethereum's LightScryptN/P (4 MiB, for tests and demos);
// otherwise StandardScryptN/P (256 MiB, about a second to open). It refuses
// an empty passphrase (ErrNoPassphrase) and an existing file (fs.ErrExist;
// nothing is overwritten); the directory must exist.
func Create(path, passphrase string, light bool, opts wallet.Options) (*wallet.Wallet, error) {
	if wallet.LooksLikeKey(path) {
		return nil, fmt.Errorf("create keystore: %w", &MisplacedKeyError{Field: "Keystore"})
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("create keystore: generate key: %w", err)
	}
	defer clear(key.D.Bits())
	if err := write(path, key, passphrase, light); err != nil {
		return nil, err
	}
	return wallet.FromKey(key, opts)
}

// write encrypts key into a new keystore file at path, as Create describes.
func write(path string, key *ecdsa.PrivateKey, passphrase string, light bool) error {
	if passphrase == "" {
		return fmt.Errorf("create keystore %s: %w: the passphrase is empty; choose one", path, ErrNoPassphrase)
	}
	exists := fmt.Errorf("create keystore %s: %w: a keystore is never overwritten; choose another path", path, fs.ErrExist)
	if _, err := os.Lstat(path); err == nil {
		return exists // before spending a second on scrypt; the link below decides
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return fmt.Errorf("create keystore: key id: %w", err)
	}
	n, p := gethkeystore.StandardScryptN, gethkeystore.StandardScryptP
	if light {
		n, p = gethkeystore.LightScryptN, gethkeystore.LightScryptP
	}
	data, err := gethkeystore.EncryptKey(&gethkeystore.Key{Id: id, Address: crypto.PubkeyToAddress(key.PublicKey), PrivateKey: key}, passphrase, n, p)
	if err != nil {
		return fmt.Errorf("create keystore: %w", err)
	}
	err = writeNew(path, data)
	if errors.Is(err, fs.ErrExist) {
		return exists
	}
	if err != nil {
		return fmt.Errorf("create keystore: %w", err)
	}
	return nil
}

// writeNew publishes data at path only if nothing is there, whole or not at
// all: it writes and syncs a temporary file (mode 0600) in the same
// directory, hard-links it to path (which fails if path exists), removes the
// temporary name and syncs the directory.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a new directory entry durable where the platform allows it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync() // unsupported on some platforms; the file itself is synced
	d.Close()
}

// readLimited reads a small file whole, or its first limit+1 bytes: the
// caller refuses a result longer than limit.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}
