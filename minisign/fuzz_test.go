package minisign

import (
	"errors"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary signature files and messages to Verify. It must
// never panic, must fail only with one of the sentinel errors, and whatever
// it accepts must really be signed by the trusted key.
func FuzzVerify(f *testing.F) {
	pk, sk := fixedKey(f, 42)
	msg := []byte("fuzz message\n")
	f.Add(mustSign(f, sk, msg, "timestamp:1\tfile:fuzz"), msg)
	legacy, err := sign(sk, algEd, msg, "legacy", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legacy, msg)
	f.Add([]byte(realSig), []byte(realMessage))
	f.Add([]byte(""), []byte(""))
	f.Add([]byte("untrusted comment: \n\ntrusted comment: \n\n"), []byte("x"))
	realPK, err := ParsePublicKeyFile([]byte(realPub))
	if err != nil {
		f.Fatal(err)
	}
	trusted := []PublicKey{pk, realPK}

	f.Fuzz(func(t *testing.T, sig, message []byte) {
		got, tc, err := Verify(sig, message, trusted)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if got.Key != nil || tc != "" {
				t.Fatal("key or comment returned with an error")
			}
			return
		}
		if !got.Equal(pk) && !got.Equal(realPK) {
			t.Fatalf("verified under a key that is not trusted: %s", got.IDString())
		}
		if strings.ContainsAny(tc, "\n") {
			t.Fatalf("trusted comment spans lines: %q", tc)
		}
	})
}

// FuzzParsePublicKeyFile must never panic, and whatever it accepts must
// survive a marshal/parse round trip unchanged.
func FuzzParsePublicKeyFile(f *testing.F) {
	pk, _ := fixedKey(f, 9)
	f.Add(pk.MarshalFile())
	f.Add([]byte(realPub))
	f.Add([]byte(strings.ReplaceAll(realPub, "\n", "\r\n")))
	f.Add([]byte("untrusted comment: \nRWQ=\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePublicKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps no ErrMalformed: %v", err)
			}
			return
		}
		k2, err := ParsePublicKeyFile(k.MarshalFile())
		if err != nil || !k2.Equal(k) {
			t.Fatalf("round trip: %v", err)
		}
		k3, err := ParsePublicKey(k.String())
		if err != nil || !k3.Equal(k) {
			t.Fatalf("line round trip: %v", err)
		}
	})
}

// FuzzParsePrivateKeyFile must never panic; a key it accepts must round
// trip and sign verifiably.
func FuzzParsePrivateKeyFile(f *testing.F) {
	_, sk := fixedKey(f, 3)
	f.Add(sk.MarshalFile())
	f.Add([]byte(realSec))
	f.Add([]byte(realEncryptedSec))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePrivateKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrEncryptedKey) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		k2, err := ParsePrivateKeyFile(k.MarshalFile())
		if err != nil || k2.ID != k.ID || string(k2.Key) != string(k.Key) {
			t.Fatalf("round trip: %v", err)
		}
		sig := mustSign(t, k, []byte("m"), "c")
		if _, _, err := Verify(sig, []byte("m"), []PublicKey{k.Public()}); err != nil {
			t.Fatalf("parsed key does not sign verifiably: %v", err)
		}
	})
}

func TestPublicKeyRoundTripManyKeys(t *testing.T) {
	for i := range 64 {
		pk, _ := fixedKey(t, byte(i))
		got, err := ParsePublicKeyFile(pk.MarshalFile())
		if err != nil || !got.Equal(pk) {
			t.Fatalf("key %d: %v", i, err)
		}
		got, err = ParsePublicKey(pk.String())
		if err != nil || !got.Equal(pk) {
			t.Fatalf("key %d line: %v", i, err)
		}
	}
}
