package bundle

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	agetest "c2sp.org/CCTV/age"
	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/taosync/taosync/manifest"
)

// ageVector is one file of the age community test vectors (C2SP CCTV): a
// header of "key: value" lines, an empty line, then the age file.
type ageVector struct {
	expect      string
	payloadHash string // hex SHA-256 of the plaintext, when given
	identities  []string
	passphrase  bool
	armored     bool
	file        []byte
}

func parseAgeVector(t *testing.T, raw []byte) ageVector {
	t.Helper()
	var v ageVector
	zlibbed := false
	for {
		line, rest, ok := bytes.Cut(raw, []byte("\n"))
		if !ok {
			t.Fatal("vector has no empty line before the file")
		}
		raw = rest
		if len(line) == 0 {
			break
		}
		key, value, _ := strings.Cut(string(line), ": ")
		switch key {
		case "expect":
			v.expect = value
		case "payload":
			v.payloadHash = value
		case "identity":
			v.identities = append(v.identities, value)
		case "passphrase":
			v.passphrase = true
		case "armored":
			v.armored = true
		case "compressed":
			if value != "zlib" {
				t.Fatalf("unknown compression %q", value)
			}
			zlibbed = true
		case "file key", "comment":
		default:
			t.Fatalf("unknown vector header %q", key)
		}
	}
	v.file = raw
	if zlibbed {
		zr, err := zlib.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if v.file, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// TestAgeVectors runs the age community test vectors through the bundle's
// decryption step. A bundle chunk is a binary age file to one X25519
// recipient, opened with one X25519 identity, so only those vectors apply:
// armored vectors are skipped (a chunk is never armored, and the reader
// never strips armor), as are scrypt (passphrase) vectors and vectors for
// other recipient types (ML-KEM hybrid), whose identities a bundle reader
// never holds. Every other vector runs, including those whose file holds
// stanzas of other types next to the X25519 one.
func TestAgeVectors(t *testing.T) {
	entries, err := fs.ReadDir(agetest.Vectors, ".")
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, e := range entries {
		raw, err := fs.ReadFile(agetest.Vectors, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		t.Run(e.Name(), func(t *testing.T) {
			v := parseAgeVector(t, raw)
			switch {
			case v.armored:
				t.Skip("armored: a bundle chunk is binary age")
			case v.passphrase:
				t.Skip("scrypt: a bundle chunk is encrypted to an X25519 recipient")
			case len(v.identities) != 1 || !strings.HasPrefix(v.identities[0], "AGE-SECRET-KEY-1"):
				t.Skip("not one X25519 identity: a bundle reader holds exactly one")
			}
			id, err := age.ParseX25519Identity(v.identities[0])
			if err != nil {
				t.Fatal(err)
			}
			ran[v.expect]++

			plain, err := decrypt(v.file, id, nil)
			if v.expect == "success" {
				if err != nil {
					t.Fatalf("decrypt: %v", err)
				}
				sum := sha256.Sum256(plain)
				if hex.EncodeToString(sum[:]) != v.payloadHash {
					t.Fatalf("payload SHA-256 %x, want %s", sum, v.payloadHash)
				}
				return
			}
			if err == nil {
				t.Fatalf("decrypt succeeded (%d bytes), want %s", len(plain), v.expect)
			}
			if v.expect == "no match" {
				var nm *age.NoIdentityMatchError
				if !errors.As(err, &nm) {
					t.Errorf("decrypt = %v, want a no-match error", err)
				}
			}

			// The same file as a chunk whose size and hash check out: the
			// reader refuses it as a chunk that does not decrypt.
			dir := t.TempDir()
			sum := sha256.Sum256(v.file)
			c := manifest.Chunk{Hash: hex.EncodeToString(sum[:]), Size: int64(len(v.file)),
				ContentHash: strings.Repeat("0", 64), ContentSize: 1}
			if err := os.WriteFile(filepath.Join(dir, c.Hash), v.file, 0o644); err != nil {
				t.Fatal(err)
			}
			dec, err := zstd.NewReader(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			b := &Bundle{Dir: dir}
			data, err := b.open(c, id, dec, nil)
			if !errors.Is(err, ErrDecrypt) || data != nil {
				t.Fatalf("open = %d bytes, %v; want ErrDecrypt", len(data), err)
			}
			if !strings.Contains(err.Error(), c.Hash) {
				t.Errorf("error %q does not name the chunk", err)
			}
		})
	}
	total := 0
	for _, n := range ran {
		total += n
	}
	t.Logf("ran %d X25519 vectors: %v", total, ran)
	// Guard against a vector set (or a parser) that silently skips all.
	if ran["success"] < 10 || ran["header failure"] < 20 || ran["payload failure"] < 10 || ran["no match"] < 2 {
		t.Errorf("too few X25519 vectors ran: %v", ran)
	}
}
