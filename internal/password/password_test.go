package password

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashFormat(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !phc.MatchString(h) {
		t.Fatalf("hash %q is not argon2id PHC with the OWASP parameters, 16-byte salt and 32-byte key", h)
	}
	h2, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse", "", "é ß 漢字 Ω", strings.Repeat("x", 200)} {
		h, err := Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := Verify(pw, h)
		if err != nil || !ok {
			t.Errorf("Verify(%q, Hash(%q)) = %v, %v; want true, nil", pw, pw, ok, err)
		}
	}
}

func TestWrongPassword(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"correct hors", "correct horse ", "Correct horse", ""} {
		ok, err := Verify(pw, h)
		if err != nil || ok {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

// flip replaces the character at i by another of the same base64 alphabet.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestTamperedHash(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, "$")
	saltAt := len(h) - len(parts[5]) - 1 - len(parts[4])
	keyAt := len(h) - len(parts[5])
	cases := map[string]string{
		"salt changed": flip(h, saltAt+3),
		"key changed":  flip(h, keyAt+10),
		"t changed":    strings.Replace(h, "t=2", "t=3", 1),
		"m changed":    strings.Replace(h, "m=19456", "m=19457", 1),
		"key cut":      h[:keyAt+20],
	}
	for name, bad := range cases {
		if bad == h {
			t.Fatalf("%s: tampering did nothing", name)
		}
		ok, _ := Verify("correct horse", bad)
		if ok {
			t.Errorf("%s: tampered hash %q accepted", name, bad)
		}
	}
	// Trailing bits of the last base64 character that decode to nothing
	// must not be accepted either (strict decoding).
	last := h[len(h)-1]
	alt := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", last) ^ 1
	bad := h[:len(h)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[alt])
	if ok, _ := Verify("correct horse", bad); ok {
		t.Errorf("hash with changed trailing bits accepted")
	}
}

func TestMalformed(t *testing.T) {
	good, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	cases := []struct {
		hash string
		want error
	}{
		{"", ErrUnknownHash},
		{"plain text", ErrUnknownHash},
		{"$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, ErrUnknownHash},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt, ErrMalformedHash},
		{"$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "=$" + key, ErrMalformedHash},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key[:10] + "\n" + key[10:], ErrMalformedHash},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$", ErrMalformedHash},
		{"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, ErrHashParameters},
		{"$2b$10$short", ErrMalformedHash},
		{"$2b$1x$" + strings.Repeat("a", 53), ErrMalformedHash},
		{"$2b$10$" + strings.Repeat("!", 53), ErrMalformedHash},
	}
	for _, c := range cases {
		ok, err := Verify("pw", c.hash)
		if ok || !errors.Is(err, c.want) {
			t.Errorf("Verify(%q) = %v, %v; want false, %v", c.hash, ok, err, c.want)
		}
	}
}

func TestAbsurdParametersRefused(t *testing.T) {
	good, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, params := range []string{
		"m=4294967295,t=2,p=1", // 4 TiB
		"m=4194304,t=2,p=1",    // 4 GiB
		"m=262145,t=1,p=1",     // just over 256 MiB
		"m=19456,t=4294967295,p=1",
		"m=19456,t=11,p=1",
		"m=19456,t=0,p=1",
		"m=19456,t=2,p=0",
		"m=19456,t=2,p=255",
		"m=19456,t=2,p=17",
		"m=7,t=2,p=1", // below 8*p
		"m=99999999999,t=2,p=1",
	} {
		h := "$argon2id$v=19$" + params + "$" + salt + "$" + key
		ok, err := Verify("pw", h)
		if ok || err == nil {
			t.Errorf("Verify with %s = %v, %v; want refused", params, ok, err)
		}
	}
	// Salt and key lengths out of bounds.
	short := "AAAAAAAAAA"           // 7 bytes
	long := strings.Repeat("A", 88) // 66 bytes
	for _, h := range []string{
		"$argon2id$v=19$m=19456,t=2,p=1$" + short + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + long + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + short,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + long,
	} {
		if ok, err := Verify("pw", h); ok || !errors.Is(err, ErrHashParameters) {
			t.Errorf("Verify(%q) = %v, %v; want ErrHashParameters", h, ok, err)
		}
	}
	// bcrypt costs beyond the bound would burn CPU for hours.
	b, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, cost := range []string{"17", "31", "99", "03"} {
		h := string(b[:4]) + cost + string(b[6:])
		if ok, err := Verify("pw", h); ok || !errors.Is(err, ErrHashParameters) {
			t.Errorf("bcrypt cost %s: Verify = %v, %v; want ErrHashParameters", cost, ok, err)
		}
	}
}

func TestOtherArgon2Parameters(t *testing.T) {
	// A hash with other sane parameters (as other libraries produce) is
	// accepted: RFC 9106's second recommendation, m=64 MiB, t=3, p=4.
	// Vector computed with golang.org/x/crypto/argon2 directly.
	h := otherParamsHash(t)
	ok, err := Verify("hunter2", h)
	if err != nil || !ok {
		t.Fatalf("Verify(%q) = %v, %v; want true", h, ok, err)
	}
	if ok, _ := Verify("hunter3", h); ok {
		t.Fatal("wrong password accepted")
	}
}

func TestBcrypt(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("s3cret é"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "$2a$") {
		t.Fatalf("unexpected bcrypt prefix in %q", b)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		h := prefix + string(b[4:])
		ok, err := Verify("s3cret é", h)
		if err != nil || !ok {
			t.Errorf("%s: Verify = %v, %v; want true, nil", prefix, ok, err)
		}
		ok, err = Verify("s3cret e", h)
		if err != nil || ok {
			t.Errorf("%s: wrong password: Verify = %v, %v; want false, nil", prefix, ok, err)
		}
	}
	bad := string(b[:40]) + flip(string(b[40:]), 5)
	if ok, _ := Verify("s3cret é", bad); ok {
		t.Error("tampered bcrypt hash accepted")
	}
	if ok, err := Verify("s3cret é", "$2x$"+string(b[4:])); ok || !errors.Is(err, ErrUnknownHash) {
		t.Errorf("$2x$: Verify = %v, %v; want ErrUnknownHash", ok, err)
	}
}

// otherParamsHash builds an argon2id PHC string with parameters other than
// ours, computed with golang.org/x/crypto/argon2 directly.
func otherParamsHash(t *testing.T) string {
	t.Helper()
	salt := []byte("0123456789abcdef0123")
	key := argon2.IDKey([]byte("hunter2"), salt, 3, 64*1024, 4, 24)
	enc := base64.RawStdEncoding
	return "$argon2id$v=19$m=65536,t=3,p=4$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key)
}
