package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/taosync/taosync/minisign"
)

// Errors of signature verification.
var (
	// ErrBadSignature: the signature does not verify, or the manifest
	// names a signer other than the key that signed it.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownSigner: the manifest is signed by a key not trusted here.
	ErrUnknownSigner = errors.New("unknown signer")
)

// Sign encodes m and returns the manifest bytes and their detached minisign
// signature. The trusted comment repeats the bundle's id, kind and sequence
// so that `minisign -V` shows what was verified.
func Sign(m *Manifest, key minisign.PrivateKey) (raw, sig []byte, err error) {
	if !strings.EqualFold(m.Sender.KeyID, key.Public().IDString()) {
		return nil, nil, fmt.Errorf("sign manifest: sender key id %s is not the signing key %s", m.Sender.KeyID, key.Public().IDString())
	}
	raw, err = Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	trusted := fmt.Sprintf("taosync bundle %s kind:%s stream:%s seq:%d", m.ID, m.Kind, m.Stream, m.Seq)
	sig, err = minisign.Sign(key, raw, trusted, "signature from taosync")
	if err != nil {
		return nil, nil, fmt.Errorf("sign manifest: %w", err)
	}
	return raw, sig, nil
}

// Verify checks, in this order, the format version, the signature against
// the trusted keys, then the manifest's fields, and that the manifest names
// the key that signed it as its sender. It returns the manifest and the key.
func Verify(raw, sig []byte, trusted []minisign.PublicKey) (*Manifest, minisign.PublicKey, error) {
	if err := CheckVersion(raw); err != nil {
		return nil, minisign.PublicKey{}, err
	}
	key, _, err := minisign.Verify(sig, raw, trusted)
	switch {
	case errors.Is(err, minisign.ErrUnknownKey):
		return nil, key, fmt.Errorf("%w: %v", ErrUnknownSigner, err)
	case err != nil:
		return nil, key, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	m, err := Parse(raw)
	if err != nil {
		return nil, key, err
	}
	if !strings.EqualFold(m.Sender.KeyID, key.IDString()) {
		return nil, key, fmt.Errorf("%w: signed by key %s but names sender key %s", ErrBadSignature, key.IDString(), m.Sender.KeyID)
	}
	return m, key, nil
}
