package password

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// NewSecret returns a fresh OAuth client secret: 32 random bytes,
// base64url so that it is safe in a shell and a URL.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret is how OAuth client secrets are stored: SHA-256, which
// suffices for the 256-bit random secrets NewSecret makes (there is no
// dictionary to protect against, so no slow hash is needed, unlike Hash
// for the passwords people choose), and lets every check compare in
// constant time.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
