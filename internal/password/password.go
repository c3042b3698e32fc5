// Package password hashes and verifies passwords, and makes and hashes the
// OAuth secrets central gives its clients (secret.go).
//
// It promises:
//   - Hash returns an argon2id hash in the PHC string format
//     "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>" (salt and key in
//     unpadded standard base64), with a fresh 16-byte random salt and a
//     32-byte key. The clear password is never kept.
//   - Verify accepts that format with any parameters within sane bounds, and
//     bcrypt hashes ("$2a$", "$2b$", "$2y$"). Parameters that would let a
//     hostile hash exhaust memory or CPU are refused with an error before any
//     work is done.
//   - Keys are compared in constant time.
//   - Verify reports a wrong password as (false, nil) and a hash it cannot
//     use (unknown, malformed, out of bounds) as (false, error).
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Parameters of new hashes. They are the first of the OWASP Password
// Storage Cheat Sheet's argon2id configurations: 19 MiB of memory, 2
// passes, 1 lane. OWASP rates it equivalent in strength to its
// higher-memory options while keeping each hash at 19 MiB, which matters
// here: hashes are computed for every loaded person with a password, and
// verified on small test-centre machines that may serve many logins at once.
const (
	memoryKiB = 19456 // m: 19 MiB
	passes    = 2     // t
	lanes     = 1     // p
	saltLen   = 16
	keyLen    = 32
)

// Bounds on the parameters Verify accepts. A hash is data (it may come from a
// loaded file), so its parameters must not be trusted: m=4194304 would make
// each verification allocate 4 GiB. The bounds admit what common libraries
// produce (libsodium "moderate" uses 256 MiB; argon2-cffi, PHP and node use
// 64 MiB) and nothing much beyond.
const (
	maxMemoryKiB  = 256 * 1024 // 256 MiB
	maxPasses     = 10
	maxLanes      = 16
	minSaltLen    = 8 // the PHC/RFC 9106 minimum
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
	minBcryptCost = bcrypt.MinCost
	// maxBcryptCost bounds CPU rather than memory: every step doubles the
	// work, and cost 31 (bcrypt's own limit) takes days. Cost 16 takes a few
	// seconds.
	maxBcryptCost = 16
)

// Errors returned by Verify, wrapped with details.
var (
	// ErrUnknownHash: the hash is neither argon2id nor bcrypt.
	ErrUnknownHash = errors.New("unknown password hash format")
	// ErrMalformedHash: the hash looks like a known format but does not parse.
	ErrMalformedHash = errors.New("malformed password hash")
	// ErrHashParameters: the hash parses but its parameters are out of the
	// accepted bounds.
	ErrHashParameters = errors.New("password hash parameters out of bounds")
)

var b64 = base64.RawStdEncoding.Strict()

// Hash returns an argon2id hash of password in PHC string format.
func Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, passes, memoryKiB, lanes, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, passes, lanes,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches hash, an argon2id PHC string or a
// bcrypt hash. A mismatch is (false, nil); a hash that cannot be used is
// (false, err) with err wrapping ErrUnknownHash, ErrMalformedHash or
// ErrHashParameters.
//
// As with every bcrypt implementation, only the first 72 bytes of the
// password count against a bcrypt hash.
func Verify(password, hash string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(password, hash)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return verifyBcrypt(password, hash)
	}
	return false, ErrUnknownHash
}

type argon2Params struct {
	memory, passes uint32
	lanes          uint8
	salt, key      []byte
}

func verifyArgon2id(password, hash string) (bool, error) {
	p, err := parseArgon2id(hash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.passes, p.memory, p.lanes, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$SALT$KEY" strictly: the
// parameters in that order, decimal without sign or leading zeros, base64
// without padding or line breaks.
func parseArgon2id(hash string) (argon2Params, error) {
	var p argon2Params
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: want $argon2id$v=19$m=M,t=T,p=P$SALT$KEY", ErrMalformedHash)
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return p, fmt.Errorf("%w: missing version", ErrMalformedHash)
	}
	version, err := decimal(v)
	if err != nil {
		return p, fmt.Errorf("%w: version: %v", ErrMalformedHash, err)
	}
	if version != argon2.Version {
		return p, fmt.Errorf("%w: unsupported argon2 version %d (want %d)", ErrHashParameters, version, argon2.Version)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, fmt.Errorf("%w: want parameters m=M,t=T,p=P", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		s, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return p, fmt.Errorf("%w: want parameters m=M,t=T,p=P", ErrMalformedHash)
		}
		if vals[i], err = decimal(s); err != nil {
			return p, fmt.Errorf("%w: parameter %s %v", ErrMalformedHash, name, err)
		}
	}
	m, t, l := vals[0], vals[1], vals[2]
	switch {
	case l < 1 || l > maxLanes:
		return p, fmt.Errorf("%w: p=%d (want 1 to %d)", ErrHashParameters, l, maxLanes)
	case t < 1 || t > maxPasses:
		return p, fmt.Errorf("%w: t=%d (want 1 to %d)", ErrHashParameters, t, maxPasses)
	case m < 8*l || m > maxMemoryKiB:
		return p, fmt.Errorf("%w: m=%d (want %d to %d)", ErrHashParameters, m, 8*l, maxMemoryKiB)
	}
	p.memory, p.passes, p.lanes = uint32(m), uint32(t), uint8(l)
	if p.salt, err = decodeB64(parts[4]); err != nil {
		return p, fmt.Errorf("%w: salt: %v", ErrMalformedHash, err)
	}
	if p.key, err = decodeB64(parts[5]); err != nil {
		return p, fmt.Errorf("%w: key: %v", ErrMalformedHash, err)
	}
	if len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen {
		return p, fmt.Errorf("%w: salt of %d bytes (want %d to %d)", ErrHashParameters, len(p.salt), minSaltLen, maxSaltLen)
	}
	if len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
		return p, fmt.Errorf("%w: key of %d bytes (want %d to %d)", ErrHashParameters, len(p.key), minKeyLen, maxKeyLen)
	}
	return p, nil
}

// decimal parses a non-negative decimal number without sign or leading
// zeros, of at most 10 digits.
func decimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad number %q", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("bad number %q", s)
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// decodeB64 decodes unpadded standard base64, refusing the line breaks the
// standard decoder would skip and non-zero trailing bits.
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("bad base64 character %q", c)
		}
	}
	return b64.DecodeString(s)
}

// bcrypt hashes are "$2X$CC$" followed by 22 characters of salt and 31 of
// hash in bcrypt's own base64 alphabet: 60 characters in all.
const bcryptLen = 60

func verifyBcrypt(password, hash string) (bool, error) {
	if len(hash) != bcryptLen || hash[6] != '$' {
		return false, fmt.Errorf("%w: a bcrypt hash is $2b$CC$ and 53 characters", ErrMalformedHash)
	}
	for i := 7; i < len(hash); i++ {
		c := hash[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return false, fmt.Errorf("%w: bad bcrypt character %q", ErrMalformedHash, c)
		}
	}
	cost, err := decimal2(hash[4:6])
	if err != nil {
		return false, fmt.Errorf("%w: cost: %v", ErrMalformedHash, err)
	}
	if cost < minBcryptCost || cost > maxBcryptCost {
		return false, fmt.Errorf("%w: bcrypt cost %d (want %d to %d)", ErrHashParameters, cost, minBcryptCost, maxBcryptCost)
	}
	// CompareHashAndPassword compares in constant time.
	switch err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: %v", ErrMalformedHash, err)
	}
}

// decimal2 parses bcrypt's two-digit cost.
func decimal2(s string) (int, error) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, fmt.Errorf("bad cost %q", s)
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), nil
}
