package minisign

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/blake2b"
)

// Sign returns the bytes of a .minisig file for message, in the prehashed
// "ED" format that current minisign writes by default: the Ed25519
// signature covers BLAKE2b-512(message), and a second, global signature
// covers that signature followed by the trusted comment.
//
// Both comments must be single lines. The trusted comment is signed and is
// what Verify returns; the untrusted comment is not signed and defaults to
// minisign's "signature from minisign secret key" when empty.
func Sign(k PrivateKey, message []byte, trustedComment, untrustedComment string) ([]byte, error) {
	return sign(k, algPrehashed, message, trustedComment, untrustedComment)
}

// sign makes a signature file with the given algorithm: algPrehashed, or
// algEd for the legacy format (kept for tests of Verify).
func sign(k PrivateKey, alg [2]byte, message []byte, trustedComment, untrustedComment string) ([]byte, error) {
	if len(k.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("minisign: sign: private key has %d bytes, want %d", len(k.Key), ed25519.PrivateKeySize)
	}
	if untrustedComment == "" {
		untrustedComment = defaultUntrustedComment
	}
	if err := checkComment("untrusted comment", untrustedComment, maxUntrustedComment); err != nil {
		return nil, err
	}
	if err := checkComment("trusted comment", trustedComment, maxTrustedComment); err != nil {
		return nil, err
	}

	signed := message
	if alg == algPrehashed {
		// minisign prehashes with libsodium's crypto_generichash at its
		// maximum output size: unkeyed BLAKE2b with a 64-byte digest.
		h := blake2b.Sum512(message)
		signed = h[:]
	}
	sig := make([]byte, 0, signatureSize)
	sig = append(sig, alg[:]...)
	sig = append(sig, k.ID[:]...)
	sig = append(sig, ed25519.Sign(k.Key, signed)...)

	// The global signature binds the trusted comment to this signature:
	// it covers the 64 raw signature bytes (without algorithm or key id)
	// followed by the trusted comment bytes (without prefix or newline).
	global := ed25519.Sign(k.Key, globalMessage(sig[2+keyIDSize:], trustedComment))

	var b strings.Builder
	b.WriteString(untrustedPrefix + untrustedComment + "\n")
	b.WriteString(base64.StdEncoding.EncodeToString(sig) + "\n")
	b.WriteString(trustedPrefix + trustedComment + "\n")
	b.WriteString(base64.StdEncoding.EncodeToString(global) + "\n")
	return []byte(b.String()), nil
}

func globalMessage(edSig []byte, trustedComment string) []byte {
	m := make([]byte, 0, len(edSig)+len(trustedComment))
	m = append(m, edSig...)
	return append(m, trustedComment...)
}

// checkComment rejects comments minisign could not read back: it reads
// files line by line into C strings, so CR, LF and NUL would cut the
// comment short, and longer lines than its buffers would be split.
func checkComment(what, c string, limit int) error {
	if strings.ContainsAny(c, "\r\n\x00") {
		return fmt.Errorf("minisign: sign: %s must be a single line without CR, LF or NUL", what)
	}
	if len(c) > limit {
		return fmt.Errorf("minisign: sign: %s is %d bytes, at most %d allowed", what, len(c), limit)
	}
	return nil
}

// signature is a parsed .minisig file.
type signature struct {
	alg            [2]byte
	keyID          [keyIDSize]byte
	sig            []byte // Ed25519 signature over the message or its hash
	trustedComment string
	global         []byte // Ed25519 signature over sig || trustedComment
}

func parseSignature(b []byte) (*signature, error) {
	lines, err := splitFile(b, MaxSignatureFileSize, 4)
	if err != nil {
		return nil, fmt.Errorf("%w: signature file: %v", ErrMalformed, err)
	}
	if !strings.HasPrefix(lines[0], untrustedPrefix) {
		return nil, fmt.Errorf("%w: signature file: line 1 does not start with %q", ErrMalformed, untrustedPrefix)
	}
	raw, err := decodeBase64(lines[1], signatureSize)
	if err != nil {
		return nil, fmt.Errorf("%w: signature file: line 2: %v", ErrMalformed, err)
	}
	tc, ok := strings.CutPrefix(lines[2], trustedPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: signature file: line 3 does not start with %q", ErrMalformed, trustedPrefix)
	}
	global, err := decodeBase64(lines[3], ed25519.SignatureSize)
	if err != nil {
		return nil, fmt.Errorf("%w: signature file: line 4: %v", ErrMalformed, err)
	}
	s := &signature{
		alg:            [2]byte(raw[0:2]),
		keyID:          [keyIDSize]byte(raw[2 : 2+keyIDSize]),
		sig:            raw[2+keyIDSize:],
		trustedComment: tc,
		global:         global,
	}
	if s.alg != algPrehashed && s.alg != algEd {
		return nil, fmt.Errorf("%w: signature file: unsupported signature algorithm %q", ErrMalformed, raw[0:2])
	}
	return s, nil
}

// Verify checks sig (a .minisig file) over message against the trusted keys
// and returns the key that signed it and the trusted comment. It accepts the
// prehashed "ED" format and the legacy "Ed" format, and requires both the
// signature over the message and the global signature over the trusted
// comment to verify. Trusted keys whose Key is not 32 bytes are ignored.
//
// Errors wrap ErrMalformed (sig cannot be parsed), ErrUnknownKey (no trusted
// key has the signature's key id) or ErrBadSignature.
func Verify(sig, message []byte, trusted []PublicKey) (PublicKey, string, error) {
	s, err := parseSignature(sig)
	if err != nil {
		return PublicKey{}, "", err
	}
	signed := message
	if s.alg == algPrehashed {
		h := blake2b.Sum512(message)
		signed = h[:]
	}
	global := globalMessage(s.sig, s.trustedComment)

	var lastErr error
	for _, k := range trusted {
		if k.ID != s.keyID || len(k.Key) != ed25519.PublicKeySize {
			continue
		}
		// Several trusted keys may share a key id (ids are random, not
		// derived from the key); any one of them that verifies will do.
		if !ed25519.Verify(k.Key, signed, s.sig) {
			lastErr = fmt.Errorf("%w: signature over the message does not verify with key %s", ErrBadSignature, k.IDString())
			continue
		}
		if !ed25519.Verify(k.Key, global, s.global) {
			lastErr = fmt.Errorf("%w: trusted comment signature does not verify with key %s", ErrBadSignature, k.IDString())
			continue
		}
		return k, s.trustedComment, nil
	}
	if lastErr != nil {
		return PublicKey{}, "", lastErr
	}
	return PublicKey{}, "", fmt.Errorf("%w: signature key id %s is not among the %d trusted keys", ErrUnknownKey, keyIDString(s.keyID), len(trusted))
}
