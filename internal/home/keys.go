package home

import (
	"fmt"
	"strings"

	"filippo.io/age"

	"github.com/taosync/taosync/minisign"
)

// PublicKeys are a home's two public keys: the age recipient others encrypt
// to, and the minisign key its signatures verify with.
type PublicKeys struct {
	Age  string
	Sign minisign.PublicKey
}

// keyPrefix starts the one-string form of PublicKeys and versions it.
const keyPrefix = "taosync1"

// String is the one-string form, "taosync1:AGE_RECIPIENT:MINISIGN_KEY",
// that a client gives central on registration (its client_key) and central
// gives the client (its central_key). Neither part holds a colon, and the
// whole needs no quoting in a shell.
func (k PublicKeys) String() string {
	return keyPrefix + ":" + k.Age + ":" + k.Sign.String()
}

// ParsePublicKeys parses the one-string form.
func ParsePublicKeys(s string) (PublicKeys, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 3 || parts[0] != keyPrefix {
		return PublicKeys{}, fmt.Errorf("key %q is not of the form %s:AGE_RECIPIENT:SIGNING_KEY (as `taosync keys` prints it)", s, keyPrefix)
	}
	if _, err := age.ParseX25519Recipient(parts[1]); err != nil {
		return PublicKeys{}, fmt.Errorf("key: age recipient: %w", err)
	}
	sign, err := minisign.ParsePublicKey(parts[2])
	if err != nil {
		return PublicKeys{}, fmt.Errorf("key: signing key: %w", err)
	}
	return PublicKeys{Age: parts[1], Sign: sign}, nil
}

// Recipient is the age recipient to encrypt to.
func (k PublicKeys) Recipient() age.Recipient {
	r, err := age.ParseX25519Recipient(k.Age)
	if err != nil {
		panic(err) // ParsePublicKeys and PublicKeys have checked it
	}
	return r
}
