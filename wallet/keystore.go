package wallet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"
	"golang.org/x/crypto/scrypt"
)

// The Web3 Secret Storage (keystore v3) format as go-ethereum writes it,
// implemented here on golang.org/x/crypto/scrypt because go-ethereum's
// accounts/keystore imports core/types and with it the KZG and gnark
// libraries (see deps.md §1). Tests check both directions against
// accounts/keystore.
const (
	// Parameters of go-ethereum's keystore.StandardScryptN/P and
	// LightScryptN/P: 256 MiB and about 0.6 s per unlock, or 4 MiB and
	// about 50 ms.
	standardScryptN = 1 << 18
	standardScryptP = 1
	lightScryptN    = 1 << 12
	lightScryptP    = 6
	scryptR         = 8
	scryptDKLen     = 32

	keystoreVersion = 3
	keystoreCipher  = "aes-128-ctr"

	// Limits for files we read. A keystore is about 500 bytes; the KDF
	// limits allow 4× the memory and 8× the work of the standard
	// parameters, so a hostile file cannot exhaust the machine.
	maxKeystoreSize   = 64 << 10
	maxScryptMemory   = 1 << 30 // 128·r·N bytes
	maxScryptWork     = 1 << 24 // N·r·p
	maxPBKDF2Rounds   = 1 << 24
	maxPassphraseSize = 64 << 10
)

type keystoreJSON struct {
	Address string     `json:"address"`
	Crypto  cryptoJSON `json:"crypto"`
	ID      string     `json:"id"`
	Version int        `json:"version"`
}

type cryptoJSON struct {
	Cipher       string       `json:"cipher"`
	CipherText   string       `json:"ciphertext"`
	CipherParams cipherParams `json:"cipherparams"`
	KDF          string       `json:"kdf"`
	KDFParams    kdfParams    `json:"kdfparams"`
	MAC          string       `json:"mac"`
}

type cipherParams struct {
	IV string `json:"iv"`
}

type kdfParams struct {
	DKLen int    `json:"dklen"`
	Salt  string `json:"salt"`
	// scrypt
	N int `json:"n,omitempty"`
	R int `json:"r,omitempty"`
	P int `json:"p,omitempty"`
	// pbkdf2
	C   int    `json:"c,omitempty"`
	PRF string `json:"prf,omitempty"`
}

// OpenKeystore decrypts the go-ethereum v3 keystore file at path (scrypt or
// pbkdf2 KDF, aes-128-ctr) with passphrase. A passphrase that does not match
// gives an error wrapping ErrWrongPassphrase. If the file names an address,
// it must be the key's. Errors never contain the key or the passphrase.
func OpenKeystore(path, passphrase string, opts Options) (*Wallet, error) {
	data, err := readLimited(path, maxKeystoreSize)
	if err != nil {
		return nil, fmt.Errorf("open keystore: %w", err)
	}
	w, err := decryptKeystore(data, passphrase, opts)
	if err != nil {
		return nil, fmt.Errorf("open keystore %s: %w", path, err)
	}
	return w, nil
}

func decryptKeystore(data []byte, passphrase string, opts Options) (*Wallet, error) {
	var ks keystoreJSON
	if err := json.Unmarshal(data, &ks); err != nil {
		return nil, errors.New("not a keystore file: want go-ethereum v3 keystore JSON")
	}
	if ks.Version != keystoreVersion {
		return nil, fmt.Errorf("keystore version %d is not supported, want 3", ks.Version)
	}
	c := ks.Crypto
	if c.Cipher != keystoreCipher {
		return nil, fmt.Errorf("cipher %q is not supported, want %s", c.Cipher, keystoreCipher)
	}
	mac, err := hex.DecodeString(c.MAC)
	if err != nil || len(mac) != 32 {
		return nil, errors.New("malformed keystore: mac is not 32 bytes of hex")
	}
	iv, err := hex.DecodeString(c.CipherParams.IV)
	if err != nil || len(iv) != aes.BlockSize {
		return nil, errors.New("malformed keystore: iv is not 16 bytes of hex")
	}
	cipherText, err := hex.DecodeString(c.CipherText)
	if err != nil {
		return nil, errors.New("malformed keystore: ciphertext is not hex")
	}
	if len(cipherText) != 32 {
		return nil, fmt.Errorf("keystore holds a %d-byte key, want 32", len(cipherText))
	}
	derived, err := deriveKey(c.KDF, c.KDFParams, passphrase)
	if err != nil {
		return nil, err
	}
	defer clear(derived)
	if subtle.ConstantTimeCompare(crypto.Keccak256(derived[16:32], cipherText), mac) != 1 {
		return nil, fmt.Errorf("%w: the passphrase does not decrypt this keystore", ErrWrongPassphrase)
	}
	plain, err := aesCTR(derived[:16], iv, cipherText)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	w, err := fromBytes(plain, opts)
	if err != nil {
		return nil, errors.New("keystore decrypts to an invalid private key")
	}
	if ks.Address != "" {
		s := ks.Address
		if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
			s = "0x" + s
		}
		want, err := ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("malformed keystore: address field: %v", err)
		}
		if want != w.addr {
			return nil, fmt.Errorf("keystore names address %s but its key is for %s; the file may have been altered", want.Hex(), w.addr.Hex())
		}
	}
	return w, nil
}

func deriveKey(kdf string, p kdfParams, passphrase string) ([]byte, error) {
	salt, err := hex.DecodeString(p.Salt)
	if err != nil || len(salt) == 0 {
		return nil, errors.New("malformed keystore: salt is not hex")
	}
	if p.DKLen < 32 || p.DKLen > 64 {
		return nil, fmt.Errorf("malformed keystore: dklen %d, want 32", p.DKLen)
	}
	switch kdf {
	case "scrypt":
		if p.N <= 1 || p.N&(p.N-1) != 0 || p.R <= 0 || p.P <= 0 {
			return nil, fmt.Errorf("malformed keystore: scrypt parameters n=%d r=%d p=%d", p.N, p.R, p.P)
		}
		if uint64(p.N)*uint64(p.R) > maxScryptMemory/128 || uint64(p.N)*uint64(p.R)*uint64(p.P) > maxScryptWork {
			return nil, fmt.Errorf("keystore scrypt parameters n=%d r=%d p=%d exceed toll's limit (%d MiB, n·r·p ≤ %d)", p.N, p.R, p.P, maxScryptMemory>>20, maxScryptWork)
		}
		k, err := scrypt.Key([]byte(passphrase), salt, p.N, p.R, p.P, p.DKLen)
		if err != nil {
			return nil, fmt.Errorf("scrypt: %v", err)
		}
		return k, nil
	case "pbkdf2":
		if p.PRF != "hmac-sha256" {
			return nil, fmt.Errorf("pbkdf2 prf %q is not supported, want hmac-sha256", p.PRF)
		}
		if p.C <= 0 || p.C > maxPBKDF2Rounds {
			return nil, fmt.Errorf("malformed keystore: pbkdf2 rounds c=%d", p.C)
		}
		k, err := pbkdf2.Key(sha256.New, passphrase, salt, p.C, p.DKLen)
		if err != nil {
			return nil, fmt.Errorf("pbkdf2: %v", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("kdf %q is not supported, want scrypt or pbkdf2", kdf)
}

func aesCTR(key, iv, in []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %v", err)
	}
	out := make([]byte, len(in))
	cipher.NewCTR(block, iv).XORKeyStream(out, in)
	return out, nil
}

// WriteKeystore encrypts the key with passphrase into a new go-ethereum v3
// keystore file at path, mode 0600, and syncs it to disk. It refuses an
// empty passphrase and an existing file (nothing is overwritten); the
// directory must exist. light selects go-ethereum's LightScryptN/P (4 MiB,
// for tests); otherwise StandardScryptN/P (256 MiB, about 0.6 s to open).
func (w *Wallet) WriteKeystore(path, passphrase string, light bool) error {
	if passphrase == "" {
		return fmt.Errorf("write keystore %s: the passphrase is empty; choose one", path)
	}
	n, p := standardScryptN, standardScryptP
	if light {
		n, p = lightScryptN, lightScryptP
	}
	data, err := w.encryptKeystore(passphrase, n, p)
	if err != nil {
		return fmt.Errorf("write keystore %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("write keystore %s: the file exists and is never overwritten; choose another path", path)
	}
	if err != nil {
		return fmt.Errorf("write keystore: %w", err)
	}
	err = f.Chmod(0o600) // in case the umask is unusual; umask only removes bits
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write keystore: %w", err)
	}
	syncDir(filepath.Dir(path))
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

func (w *Wallet) encryptKeystore(passphrase string, n, p int) ([]byte, error) {
	salt := make([]byte, 32)
	iv := make([]byte, aes.BlockSize)
	var id [16]byte
	rand.Read(salt)
	rand.Read(iv)
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40 // UUID version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant

	derived, err := scrypt.Key([]byte(passphrase), salt, n, scryptR, p, scryptDKLen)
	if err != nil {
		return nil, fmt.Errorf("scrypt: %v", err)
	}
	defer clear(derived)
	plain := w.key.D.FillBytes(make([]byte, 32))
	defer clear(plain)
	cipherText, err := aesCTR(derived[:16], iv, plain)
	if err != nil {
		return nil, err
	}
	return json.Marshal(keystoreJSON{
		Address: hex.EncodeToString(w.addr[:]),
		Crypto: cryptoJSON{
			Cipher:       keystoreCipher,
			CipherText:   hex.EncodeToString(cipherText),
			CipherParams: cipherParams{IV: hex.EncodeToString(iv)},
			KDF:          "scrypt",
			KDFParams:    kdfParams{DKLen: scryptDKLen, Salt: hex.EncodeToString(salt), N: n, R: scryptR, P: p},
			MAC:          hex.EncodeToString(crypto.Keccak256(derived[16:32], cipherText)),
		},
		ID:      fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:]),
		Version: keystoreVersion,
	})
}

// readLimited reads a whole small file, refusing one larger than limit.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; is it the right file?", path, limit)
	}
	return data, nil
}
