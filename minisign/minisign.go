// Package minisign reads and writes Ed25519 keys and signatures in the exact
// file formats of the minisign tool (https://jedisct1.github.io/minisign/).
//
// What it promises:
//
//   - A signature file made by Sign verifies with the real `minisign -V`, and
//     a signature file made by the real `minisign -S` (prehashed "ED", the
//     default, or legacy "Ed" made with -l) verifies with Verify.
//   - Public key files and the base64 public key line are interchangeable
//     with the tool's, and the unencrypted secret key files that
//     `minisign -G -W` writes are read by ParsePrivateKeyFile; the files
//     PrivateKey.MarshalFile writes are read by `minisign -S` without a
//     password prompt.
//   - Verify succeeds only if both the signature over the message and the
//     global signature over the trusted comment verify under a trusted key.
//   - Parsers never panic, bound their input (64 KiB for a signature file,
//     4 KiB for a key file) and report every failure through one of the
//     sentinel errors ErrMalformed, ErrUnknownKey, ErrBadSignature or
//     ErrEncryptedKey, wrapped with context.
//
// Password-protected (scrypt-encrypted) secret keys are not supported: they
// are refused with ErrEncryptedKey.
//
// Parsing is stricter than the tool in two ways: lines may end in LF or
// CRLF and trailing blank lines are ignored, but any other line after the
// expected ones makes a file malformed (minisign ignores it), and base64
// must be canonical.
//
// The package is public because bundle, manifest and exporter take its keys
// in their exported API. It is ours rather than aead.dev/minisign (v0.3.0)
// because that library accepts non-canonical base64, base64 split by CR or
// LF, inputs of any size and secret keys whose public half or checksum is
// wrong; its Verify says only true or false (no unknown key id against a bad
// signature), its signer writes the legacy "Ed" form unless the message is
// streamed through a Reader, and it signs comments that contain a newline.
package minisign

import (
	"bytes"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/blake2b"
)

// Sentinel errors. Every error returned by this package wraps at most one of
// them, with context; callers branch with errors.Is.
var (
	// ErrMalformed: a key or signature file (or line) cannot be parsed.
	ErrMalformed = errors.New("minisign: malformed input")
	// ErrUnknownKey: the signature was made by a key id that is not among
	// the trusted keys.
	ErrUnknownKey = errors.New("minisign: signature key is not trusted")
	// ErrBadSignature: the signature over the message, or the global
	// signature over the trusted comment, does not verify.
	ErrBadSignature = errors.New("minisign: bad signature")
	// ErrEncryptedKey: the secret key file is password-protected, which
	// this package does not support.
	ErrEncryptedKey = errors.New("minisign: secret key is password-protected, which is not supported")
)

// Limits on input sizes. Real files are far smaller (a signature file with
// the longest trusted comment minisign accepts is under 8.5 KiB, a key file
// under 300 bytes); the limits exist so that a hostile input cannot make a
// parser allocate or scan without bound.
const (
	MaxSignatureFileSize = 64 << 10
	MaxKeyFileSize       = 4 << 10
)

// Comment limits, taken from how minisign reads its files: it reads each
// line with fgets into a fixed buffer (1024 bytes for the untrusted comment,
// 8192 for the trusted comment), so a longer line is silently split and the
// rest of the file misread. The buffer has to hold the prefix, the comment,
// the newline and the terminating NUL.
const (
	maxUntrustedComment = 1024 - len(untrustedPrefix) - 2 // 1003
	maxTrustedComment   = 8192 - len(trustedPrefix) - 2   // 8173
)

const (
	untrustedPrefix = "untrusted comment: "
	trustedPrefix   = "trusted comment: "

	// defaultUntrustedComment is what minisign writes when no -c is given.
	defaultUntrustedComment = "signature from minisign secret key"
)

// Two-byte algorithm tags of the minisign formats.
var (
	// algEd tags public keys, secret keys and legacy signatures, which sign
	// the raw message.
	algEd = [2]byte{'E', 'd'}
	// algPrehashed tags signatures over BLAKE2b-512(message); current
	// minisign writes these by default.
	algPrehashed = [2]byte{'E', 'D'}
	// kdfNone marks an unencrypted secret key (minisign -W).
	kdfNone = [2]byte{0, 0}
	// kdfScrypt marks a secret key encrypted with a key derived from a
	// password by scrypt (scryptsalsa208sha256).
	kdfScrypt = [2]byte{'S', 'c'}
	// chkBlake2b names the secret key checksum: BLAKE2b-256.
	chkBlake2b = [2]byte{'B', '2'}
)

// Binary layouts, in bytes.
const (
	keyIDSize = 8

	// public key: sig_alg(2) || key_id(8) || ed25519 public key(32)
	publicKeySize = 2 + keyIDSize + ed25519.PublicKeySize // 42

	// secret key: sig_alg(2) || kdf_alg(2) || chk_alg(2) || kdf_salt(32) ||
	// kdf_opslimit(8, LE) || kdf_memlimit(8, LE) || key_id(8) ||
	// ed25519 secret key(64) || checksum(32)
	kdfSaltSize  = 32
	checksumSize = 32 // BLAKE2b-256 output
	// 158 bytes in all; the key id starts at byte 54.
	secretKeySize  = 2 + 2 + 2 + kdfSaltSize + 8 + 8 + keyIDSize + ed25519.PrivateKeySize + checksumSize
	secretKeyIDOff = 2 + 2 + 2 + kdfSaltSize + 8 + 8

	// signature: sig_alg(2) || key_id(8) || ed25519 signature(64)
	signatureSize = 2 + keyIDSize + ed25519.SignatureSize // 74
)

// PublicKey is a minisign public key: an Ed25519 public key and the random
// 8-byte key id that names it in signatures.
type PublicKey struct {
	ID  [8]byte
	Key ed25519.PublicKey
}

// PrivateKey is a minisign secret key: an Ed25519 private key (seed ||
// public key, as crypto/ed25519 stores it) and its key id.
type PrivateKey struct {
	ID  [8]byte
	Key ed25519.PrivateKey
}

// GenerateKey makes a new key pair with a random key id, reading the key id
// and then the Ed25519 seed from rand (crypto/rand if rand is nil). Reading
// the seed ourselves, rather than calling ed25519.GenerateKey, keeps the
// output a deterministic function of rand, which tests rely on.
func GenerateKey(rand io.Reader) (PublicKey, PrivateKey, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	var id [keyIDSize]byte
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return PublicKey{}, PrivateKey{}, fmt.Errorf("minisign: generate key id: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return PublicKey{}, PrivateKey{}, fmt.Errorf("minisign: generate key seed: %w", err)
	}
	sk := PrivateKey{ID: id, Key: ed25519.NewKeyFromSeed(seed)}
	clear(seed)
	return sk.Public(), sk, nil
}

// Public returns the public key of k. If k.Key is not a 64-byte Ed25519
// private key, the returned key has a nil Key.
func (k PrivateKey) Public() PublicKey {
	if len(k.Key) != ed25519.PrivateKeySize {
		return PublicKey{ID: k.ID}
	}
	pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
	copy(pub, k.Key[ed25519.SeedSize:])
	return PublicKey{ID: k.ID, Key: pub}
}

// Equal reports whether k and o have the same key id and Ed25519 key.
func (k PublicKey) Equal(o PublicKey) bool {
	return k.ID == o.ID && bytes.Equal(k.Key, o.Key)
}

// String returns the base64 public key line ("RW..."), as printed by
// `minisign -G` and accepted by `minisign -P`.
func (k PublicKey) String() string {
	b := make([]byte, 0, publicKeySize)
	b = append(b, algEd[:]...)
	b = append(b, k.ID[:]...)
	b = append(b, k.Key...)
	return base64.StdEncoding.EncodeToString(b)
}

// IDString returns the key id as taosync shows and stores it: the 8 id
// bytes read as a little-endian 64-bit integer, printed as 16 upper-case
// hex digits (minisign's own comments leave out leading zeros).
func (k PublicKey) IDString() string { return keyIDString(k.ID) }

func keyIDString(id [keyIDSize]byte) string {
	return fmt.Sprintf("%016X", binary.LittleEndian.Uint64(id[:]))
}

// ParsePublicKey parses the base64 public key line ("RW...").
func ParsePublicKey(s string) (PublicKey, error) {
	if len(s) > MaxKeyFileSize {
		return PublicKey{}, fmt.Errorf("%w: public key longer than %d bytes", ErrMalformed, MaxKeyFileSize)
	}
	b, err := decodeBase64(s, publicKeySize)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	if [2]byte(b[:2]) != algEd {
		return PublicKey{}, fmt.Errorf("%w: public key: unsupported signature algorithm %q", ErrMalformed, b[:2])
	}
	var k PublicKey
	copy(k.ID[:], b[2:2+keyIDSize])
	k.Key = ed25519.PublicKey(bytes.Clone(b[2+keyIDSize:]))
	return k, nil
}

// MarshalFile returns the contents of a minisign public key file, byte for
// byte as minisign writes it: its comment prints the id without leading
// zeros (minisign 0.11 formats it with PRIX64, not %016).
func (k PublicKey) MarshalFile() []byte {
	id := fmt.Sprintf("%X", binary.LittleEndian.Uint64(k.ID[:]))
	return []byte(untrustedPrefix + "minisign public key " + id + "\n" + k.String() + "\n")
}

// ParsePublicKeyFile parses a minisign public key file: an untrusted
// comment line and the base64 public key line.
func ParsePublicKeyFile(b []byte) (PublicKey, error) {
	lines, err := splitFile(b, MaxKeyFileSize, 2)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: public key file: %v", ErrMalformed, err)
	}
	if !strings.HasPrefix(lines[0], untrustedPrefix) {
		return PublicKey{}, fmt.Errorf("%w: public key file: first line does not start with %q", ErrMalformed, untrustedPrefix)
	}
	return ParsePublicKey(lines[1])
}

// MarshalFile returns the contents of an unencrypted minisign secret key
// file, in the layout `minisign -G -W` writes. Keep it secret.
func (k PrivateKey) MarshalFile() []byte {
	b := make([]byte, 0, secretKeySize)
	b = append(b, algEd[:]...)
	b = append(b, kdfNone[:]...)
	b = append(b, chkBlake2b[:]...)
	// The key is not encrypted, so there is no KDF: salt, opslimit and
	// memlimit stay zero, as minisign -W leaves them, and minisign ignores
	// them when kdf_alg is zero.
	b = append(b, make([]byte, kdfSaltSize+8+8)...)
	b = append(b, k.ID[:]...)
	b = append(b, k.Key...)
	// minisign -W leaves the checksum zero, but we fill it in: it costs
	// nothing, minisign does not check it on unencrypted keys, and it lets
	// ParsePrivateKeyFile detect a corrupted file.
	sum := secretKeyChecksum(k.ID, k.Key)
	b = append(b, sum[:]...)
	return []byte(untrustedPrefix + "minisign secret key\n" + base64.StdEncoding.EncodeToString(b) + "\n")
}

// secretKeyChecksum is minisign's secret key checksum:
// BLAKE2b-256(sig_alg || key_id || ed25519 secret key), unkeyed.
func secretKeyChecksum(id [keyIDSize]byte, sk []byte) [checksumSize]byte {
	h, err := blake2b.New256(nil)
	if err != nil {
		panic("minisign: blake2b.New256 without a key cannot fail: " + err.Error())
	}
	h.Write(algEd[:])
	h.Write(id[:])
	h.Write(sk)
	var sum [checksumSize]byte
	h.Sum(sum[:0])
	return sum
}

// ParsePrivateKeyFile parses an unencrypted minisign secret key file. A
// password-protected key is refused with ErrEncryptedKey.
func ParsePrivateKeyFile(b []byte) (PrivateKey, error) {
	lines, err := splitFile(b, MaxKeyFileSize, 2)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("%w: secret key file: %v", ErrMalformed, err)
	}
	if !strings.HasPrefix(lines[0], untrustedPrefix) {
		return PrivateKey{}, fmt.Errorf("%w: secret key file: first line does not start with %q", ErrMalformed, untrustedPrefix)
	}
	raw, err := decodeBase64(lines[1], secretKeySize)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("%w: secret key file: %v", ErrMalformed, err)
	}
	defer clear(raw)
	if [2]byte(raw[0:2]) != algEd {
		return PrivateKey{}, fmt.Errorf("%w: secret key file: unsupported signature algorithm %q", ErrMalformed, raw[0:2])
	}
	if [2]byte(raw[4:6]) != chkBlake2b {
		return PrivateKey{}, fmt.Errorf("%w: secret key file: unsupported checksum algorithm %q", ErrMalformed, raw[4:6])
	}
	switch [2]byte(raw[2:4]) {
	case kdfNone:
	case kdfScrypt:
		return PrivateKey{}, fmt.Errorf("%w (remove the password with `minisign -C -W -s FILE`, "+
			"or generate a key with `minisign -G -W`)", ErrEncryptedKey)
	default:
		return PrivateKey{}, fmt.Errorf("%w: secret key file: unsupported key derivation algorithm %q", ErrMalformed, raw[2:4])
	}
	var k PrivateKey
	copy(k.ID[:], raw[secretKeyIDOff:secretKeyIDOff+keyIDSize])
	skOff := secretKeyIDOff + keyIDSize
	sk := raw[skOff : skOff+ed25519.PrivateKeySize]
	chk := raw[skOff+ed25519.PrivateKeySize:]
	// minisign -G -W writes an all-zero checksum (it only computes one when
	// encrypting), so zero means "absent"; any other value must match.
	if !allZero(chk) {
		want := secretKeyChecksum(k.ID, sk)
		if subtle.ConstantTimeCompare(chk, want[:]) != 1 {
			return PrivateKey{}, fmt.Errorf("%w: secret key file: checksum mismatch", ErrMalformed)
		}
	}
	// The stored key is seed || public key. Re-deriving the public half
	// from the seed catches corruption even when the checksum is absent,
	// and ed25519.Sign would otherwise silently make invalid signatures.
	k.Key = ed25519.NewKeyFromSeed(sk[:ed25519.SeedSize])
	if subtle.ConstantTimeCompare(k.Key[ed25519.SeedSize:], sk[ed25519.SeedSize:]) != 1 {
		return PrivateKey{}, fmt.Errorf("%w: secret key file: public half does not match the seed", ErrMalformed)
	}
	return k, nil
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// splitFile splits a text file into exactly want lines. Lines end in "\n"
// or "\r\n"; trailing empty lines are ignored, any other extra line is an
// error.
func splitFile(b []byte, limit, want int) ([]string, error) {
	if len(b) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) != want {
		return nil, fmt.Errorf("has %d lines, want %d", len(lines), want)
	}
	return lines, nil
}

// decodeBase64 decodes standard padded base64 that must encode exactly n
// bytes. It accepts only the canonical encoding: the length is checked
// first (encoding/base64 would otherwise skip embedded CR and LF) and
// Strict rejects non-zero padding bits.
func decodeBase64(s string, n int) ([]byte, error) {
	if len(s) != base64.StdEncoding.EncodedLen(n) {
		return nil, fmt.Errorf("base64 text has %d characters, want %d", len(s), base64.StdEncoding.EncodedLen(n))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64")
	}
	if len(b) != n {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), n)
	}
	return b, nil
}
