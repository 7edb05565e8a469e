package wallet

// minKeyDigits is the length of the hex run LooksLikeKey takes for a key: a secp256k1
// private key is 32 bytes, 64 hex digits.
const minKeyDigits = 64

// LooksLikeKey reports whether s holds what may be a raw private key: a run of at least
// 64 hex digits, with or without a 0x before it, anywhere in s (a longer hex blob
// counts, and so does a key pasted inside a path or after NAME=). A front end checks
// the values that should hold a name or a path (an environment variable's name, a
// keystore or passphrase file) with it before using them, and never echoes one that
// does: the user may have pasted the key where its name belonged.
func LooksLikeKey(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if _, ok := unhex(s[i]); !ok {
			run = 0
			continue
		}
		if run++; run >= minKeyDigits {
			return true
		}
	}
	return false
}
