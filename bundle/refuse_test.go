package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// fixture is a committed small bundle: chunks[0] and chunks[1] are the
// records section's, chunks[2] the blob section's.
type fixture struct {
	w      *world
	parent string
	res    *Written
	chunks []manifest.Chunk
	// payloads are the original payloads by chunk hash.
	payloads map[string][]byte
}

func newFixture(t *testing.T, w *world) *fixture {
	t.Helper()
	f := &fixture{w: w, parent: t.TempDir()}
	f.res = w.write(t, f.parent, w.a, 1, 3, smallSections())
	for _, s := range f.res.Manifest.Sections {
		f.chunks = append(f.chunks, s.Chunks...)
	}
	if len(f.chunks) != 3 {
		t.Fatalf("fixture has %d chunks, want 3", len(f.chunks))
	}
	b, err := Open(f.res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	f.payloads = map[string][]byte{}
	for _, p := range readAll(t, b, w.a.id) {
		f.payloads[p.Chunk.Hash] = p.Data
	}
	return f
}

func (f *fixture) path(name string) string { return filepath.Join(f.res.Dir, name) }

// resign replaces the manifest with a modified copy of it, validly signed
// by key, written the way the writer publishes.
func (f *fixture) resign(t *testing.T, key minisign.PrivateKey, mutate func(m *manifest.Manifest)) {
	t.Helper()
	raw, err := os.ReadFile(f.path(manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	mutate(m)
	raw, sig, err := manifest.Sign(m, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(f.res.Dir, raw, sig); err != nil {
		t.Fatal(err)
	}
}

// signRaw signs raw manifest bytes as they are, bypassing manifest.Sign's
// checks, and publishes them.
func (f *fixture) signRaw(t *testing.T, key minisign.PrivateKey, raw []byte) {
	t.Helper()
	sig, err := minisign.Sign(key, raw, "hand-made", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(f.res.Dir, raw, sig); err != nil {
		t.Fatal(err)
	}
}

// sigLine returns line i (0-based) of the signature file and the offset of
// its first byte.
func (f *fixture) sigLine(t *testing.T, i int) (string, int) {
	t.Helper()
	b, err := os.ReadFile(f.path(manifest.SigName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	off := 0
	for _, l := range lines[:i] {
		off += len(l)
	}
	return strings.TrimSuffix(lines[i], "\n"), off
}

// replaceByte sets the byte at off in path to c.
func replaceByte(t *testing.T, path string, off int, c byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b[off] == c {
		t.Fatalf("byte %d of %s is already %q", off, path, c)
	}
	b[off] = c
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// otherB64 returns a base64 digit other than c, so that the signature
// file stays well-formed and only the bytes it encodes change.
func otherB64(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func TestRefusals(t *testing.T) {
	w := newWorld(t)
	otherCentral := newParty(t, "central", "")

	tests := []struct {
		name string
		// tamper changes the bundle and returns the index of the chunk
		// that is bad, or -1 when the refusal is the manifest's.
		tamper func(t *testing.T, f *fixture) int
		trust  func(t Trust) Trust
		id     *party // whose identity Read uses; default client a
		want   error
		// checkOK: the stored bytes are intact, so Check succeeds and only
		// Read, which decrypts, refuses.
		checkOK bool
		// wellFormed: the tampering keeps every file well-formed, so the
		// refusal must not be for malformed input.
		wellFormed bool
	}{
		// Chunks.
		{name: "bit flipped in a chunk", want: ErrChunkHash, tamper: func(t *testing.T, f *fixture) int {
			flipBit(t, f.path(f.chunks[1].Hash), int(f.chunks[1].Size/2), 3)
			return 1
		}},
		{name: "last bit flipped in a chunk", want: ErrChunkHash, tamper: func(t *testing.T, f *fixture) int {
			flipBit(t, f.path(f.chunks[1].Hash), -1, 7)
			return 1
		}},
		{name: "bit flipped in the age header of a chunk", want: ErrChunkHash, tamper: func(t *testing.T, f *fixture) int {
			flipBit(t, f.path(f.chunks[2].Hash), 30, 0)
			return 2
		}},
		{name: "missing chunk", want: ErrMissingChunk, tamper: func(t *testing.T, f *fixture) int {
			if err := os.Remove(f.path(f.chunks[1].Hash)); err != nil {
				t.Fatal(err)
			}
			return 1
		}},
		{name: "truncated chunk", want: ErrChunkSize, tamper: func(t *testing.T, f *fixture) int {
			if err := os.Truncate(f.path(f.chunks[1].Hash), f.chunks[1].Size-1); err != nil {
				t.Fatal(err)
			}
			return 1
		}},
		{name: "empty chunk", want: ErrChunkSize, tamper: func(t *testing.T, f *fixture) int {
			if err := os.Truncate(f.path(f.chunks[1].Hash), 0); err != nil {
				t.Fatal(err)
			}
			return 1
		}},
		{name: "chunk with a byte appended", want: ErrChunkSize, tamper: func(t *testing.T, f *fixture) int {
			p := f.path(f.chunks[1].Hash)
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, append(b, 0), 0o644); err != nil {
				t.Fatal(err)
			}
			return 1
		}},
		// Read does not hash a chunk file before it decrypts it: the
		// payload's hash proves what it reads. A file changed for another
		// that decrypts is still told as changed.
		{name: "chunk sealed again for this recipient, with other content of the same size", want: ErrChunkHash, tamper: func(t *testing.T, f *fixture) int {
			c := f.chunks[2]
			other := bytes.Clone(f.payloads[c.Hash])
			other[0] ^= 0x20 // a letter's case
			sealed := seal(t, other, w.a.id.Recipient())
			if int64(len(sealed)) != c.Size || bytes.Equal(other, f.payloads[c.Hash]) {
				t.Fatalf("the other chunk is %d bytes, the original %d; the payloads must differ", len(sealed), c.Size)
			}
			if err := os.WriteFile(f.path(c.Hash), sealed, 0o644); err != nil {
				t.Fatal(err)
			}
			return 2
		}},
		// A chunk is for one recipient: age would try this identity on
		// every X25519 stanza, a key agreement each.
		{name: "chunk sealed for two recipients, in the signed manifest", want: ErrDecrypt, checkOK: true, tamper: func(t *testing.T, f *fixture) int {
			c := f.chunks[2]
			sealed := seal(t, f.payloads[c.Hash], w.a.id.Recipient(), w.b.id.Recipient())
			sum := sha256.Sum256(sealed)
			c.Hash, c.Size = hex.EncodeToString(sum[:]), int64(len(sealed))
			if err := os.WriteFile(f.path(c.Hash), sealed, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(f.path(f.chunks[2].Hash)); err != nil {
				t.Fatal(err)
			}
			f.resign(t, w.central.priv, func(m *manifest.Manifest) { m.Sections[1].Chunks[0] = c })
			f.payloads[c.Hash], f.chunks[2] = f.payloads[f.chunks[2].Hash], c
			return 2
		}},
		{name: "content hash in the signed manifest does not match", want: ErrChunkHash, checkOK: true, tamper: func(t *testing.T, f *fixture) int {
			f.resign(t, w.central.priv, func(m *manifest.Manifest) {
				m.Sections[0].Chunks[1].ContentHash = strings.Repeat("0", 64)
			})
			return 1
		}},
		{name: "content size in the signed manifest does not match", want: ErrChunkHash, checkOK: true, tamper: func(t *testing.T, f *fixture) int {
			f.resign(t, w.central.priv, func(m *manifest.Manifest) {
				m.Sections[1].Chunks[0].ContentSize++
			})
			return 2
		}},
		{name: "chunk for another identity", want: ErrDecrypt, checkOK: true, id: w.b, tamper: func(t *testing.T, f *fixture) int {
			return 0
		}},

		// The manifest and its signature.
		{name: "bit flipped in manifest.json", want: ErrBadSignature, wellFormed: true, tamper: func(t *testing.T, f *fixture) int {
			raw, _ := os.ReadFile(f.path(manifest.FileName))
			i := bytes.Index(raw, []byte(`"stream": "`)) + len(`"stream": "`)
			flipBit(t, f.path(manifest.FileName), i, 0) // still valid JSON
			return -1
		}},
		{name: "bit flipped in a chunk hash in manifest.json", want: ErrBadSignature, wellFormed: true, tamper: func(t *testing.T, f *fixture) int {
			raw, _ := os.ReadFile(f.path(manifest.FileName))
			flipBit(t, f.path(manifest.FileName), bytes.Index(raw, []byte(f.chunks[0].Hash)), 0)
			return -1
		}},
		{name: "bit flipped in the message signature", want: ErrBadSignature, wellFormed: true, tamper: func(t *testing.T, f *fixture) int {
			line, off := f.sigLine(t, 1)
			replaceByte(t, f.path(manifest.SigName), off+len(line)-10, otherB64(line[len(line)-10]))
			return -1
		}},
		{name: "bit flipped in the trusted comment", want: ErrBadSignature, wellFormed: true, tamper: func(t *testing.T, f *fixture) int {
			line, off := f.sigLine(t, 2)
			flipBit(t, f.path(manifest.SigName), off+len(line)-1, 0)
			return -1
		}},
		{name: "bit flipped in the global signature", want: ErrBadSignature, wellFormed: true, tamper: func(t *testing.T, f *fixture) int {
			line, off := f.sigLine(t, 3)
			replaceByte(t, f.path(manifest.SigName), off+len(line)/2, otherB64(line[len(line)/2]))
			return -1
		}},
		{name: "signature not base64", want: ErrBadSignature, tamper: func(t *testing.T, f *fixture) int {
			_, off := f.sigLine(t, 1)
			replaceByte(t, f.path(manifest.SigName), off+20, '*')
			return -1
		}},
		{name: "signature truncated", want: ErrBadSignature, tamper: func(t *testing.T, f *fixture) int {
			if err := os.Truncate(f.path(manifest.SigName), 50); err != nil {
				t.Fatal(err)
			}
			return -1
		}},
		{name: "signature missing", want: ErrBadSignature, tamper: func(t *testing.T, f *fixture) int {
			if err := os.Remove(f.path(manifest.SigName)); err != nil {
				t.Fatal(err)
			}
			return -1
		}},
		{name: "signature key id changed", want: ErrUnknownSigner, wellFormed: true, tamper: func(t *testing.T, f *fixture) int {
			// Base64 characters 3 to 13 of line 2 encode the key id.
			line, off := f.sigLine(t, 1)
			replaceByte(t, f.path(manifest.SigName), off+6, otherB64(line[6]))
			return -1
		}},
		{name: "signed by another key, which names itself sender", want: ErrUnknownSigner, tamper: func(t *testing.T, f *fixture) int {
			f.resign(t, otherCentral.priv, func(m *manifest.Manifest) { m.Sender = otherCentral.manifestParty() })
			return -1
		}},
		{name: "sender key id is not the signing key", want: ErrBadSignature,
			trust: func(tr Trust) Trust { tr.Keys = append(tr.Keys, otherCentral.pub); return tr },
			tamper: func(t *testing.T, f *fixture) int {
				raw, _ := os.ReadFile(f.path(manifest.FileName))
				m, _ := manifest.Parse(raw)
				m.Sender.KeyID = otherCentral.pub.IDString()
				f.signRaw(t, w.central.priv, mustMarshal(t, m))
				return -1
			}},
		{name: "sender key id is an untrusted key", want: ErrBadSignature, tamper: func(t *testing.T, f *fixture) int {
			raw, _ := os.ReadFile(f.path(manifest.FileName))
			m, _ := manifest.Parse(raw)
			m.Sender.KeyID = otherCentral.pub.IDString()
			f.signRaw(t, w.central.priv, mustMarshal(t, m))
			return -1
		}},
		{name: "signed but malformed", want: ErrMalformed, tamper: func(t *testing.T, f *fixture) int {
			raw, _ := os.ReadFile(f.path(manifest.FileName))
			f.signRaw(t, w.central.priv, bytes.Replace(raw, []byte(`"seq": 1`), []byte(`"seq": 0`), 1))
			return -1
		}},
		{name: "manifest over MaxManifestBytes", want: ErrMalformed, tamper: func(t *testing.T, f *fixture) int {
			raw, _ := os.ReadFile(f.path(manifest.FileName))
			raw = append(raw, bytes.Repeat([]byte(" "), manifest.MaxManifestBytes)...)
			f.signRaw(t, w.central.priv, raw)
			return -1
		}},
		{name: "no manifest", want: ErrIncomplete, tamper: func(t *testing.T, f *fixture) int {
			if err := os.Remove(f.path(manifest.FileName)); err != nil {
				t.Fatal(err)
			}
			return -1
		}},
		{name: "no manifest and no signature", want: ErrIncomplete, tamper: func(t *testing.T, f *fixture) int {
			os.Remove(f.path(manifest.FileName))
			os.Remove(f.path(manifest.SigName))
			return -1
		}},

		// Versions: an unknown major version is refused before the
		// signature is looked at, however it is signed or not.
		{name: "version 2.0, signed", want: ErrUnsupportedVersion, tamper: func(t *testing.T, f *fixture) int {
			f.resign(t, w.central.priv, func(m *manifest.Manifest) { m.Version = "2.0" })
			return -1
		}},
		{name: "version 2.0, signature missing", want: ErrUnsupportedVersion, tamper: func(t *testing.T, f *fixture) int {
			f.resign(t, w.central.priv, func(m *manifest.Manifest) { m.Version = "2.0" })
			os.Remove(f.path(manifest.SigName))
			return -1
		}},
		{name: "version 2.0, bad signature", want: ErrUnsupportedVersion, tamper: func(t *testing.T, f *fixture) int {
			raw, _ := os.ReadFile(f.path(manifest.FileName))
			raw = bytes.Replace(raw, []byte(`"version": "1.0"`), []byte(`"version": "2.0"`), 1)
			if err := os.WriteFile(f.path(manifest.FileName), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			return -1
		}},
		{name: "version 2.0, unknown signer", want: ErrUnsupportedVersion, tamper: func(t *testing.T, f *fixture) int {
			f.resign(t, otherCentral.priv, func(m *manifest.Manifest) {
				m.Version, m.Sender = "2.0", otherCentral.manifestParty()
			})
			return -1
		}},
		{name: "version 2.0 of another shape, unsigned", want: ErrUnsupportedVersion, tamper: func(t *testing.T, f *fixture) int {
			raw := []byte(`{"format":"taosync-bundle","version":"2.0","sig":"inline"}`)
			if err := os.WriteFile(f.path(manifest.FileName), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(f.path(manifest.SigName))
			return -1
		}},
		{name: "version 0.9", want: ErrUnsupportedVersion, tamper: func(t *testing.T, f *fixture) int {
			f.resign(t, w.central.priv, func(m *manifest.Manifest) { m.Version = "0.9" })
			return -1
		}},

		// Trust.
		{name: "wrong recipient", want: ErrWrongRecipient, id: w.b,
			trust:  func(Trust) Trust { return w.trust(w.b) },
			tamper: func(*testing.T, *fixture) int { return -1 }},
		{name: "recipient's age key changed", want: ErrWrongRecipient,
			trust: func(tr Trust) Trust {
				tr.Self.AgeRecipient = w.b.id.Recipient().String()
				return tr
			},
			tamper: func(*testing.T, *fixture) int { return -1 }},
		{name: "recipient role", want: ErrWrongRecipient,
			trust: func(tr Trust) Trust {
				tr.Self.Role = "central"
				return tr
			},
			tamper: func(*testing.T, *fixture) int { return -1 }},
		{name: "unknown signer", want: ErrUnknownSigner,
			trust: func(tr Trust) Trust {
				tr.Keys = []minisign.PublicKey{w.a.pub, otherCentral.pub}
				return tr
			},
			tamper: func(*testing.T, *fixture) int { return -1 }},
		{name: "no trusted keys", want: ErrUnknownSigner,
			trust:  func(tr Trust) Trust { tr.Keys = nil; return tr },
			tamper: func(*testing.T, *fixture) int { return -1 }},
		{name: "expired", want: ErrExpired,
			trust: func(tr Trust) Trust {
				tr.Now = w.now.Add(30*24*time.Hour + time.Second)
				return tr
			},
			tamper: func(*testing.T, *fixture) int { return -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, w)
			bad := tt.tamper(t, f)
			trust := w.trust(w.a)
			if tt.trust != nil {
				trust = tt.trust(trust)
			}
			reader := w.a
			if tt.id != nil {
				reader = tt.id
			}
			name := filepath.Base(f.res.Dir)
			before := snapshot(t, f.parent)
			defer func() { sameSnapshot(t, before, snapshot(t, f.parent)) }()

			checkErr := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s = %v, want %v", what, err, tt.want)
				}
				if !strings.Contains(err.Error(), name) {
					t.Errorf("%s error %q does not name the bundle %s", what, err, name)
				}
				if bad >= 0 && !strings.Contains(err.Error(), f.chunks[bad].Hash) {
					t.Errorf("%s error %q does not name chunk %s", what, err, f.chunks[bad].Hash)
				}
				if tt.wellFormed && strings.Contains(err.Error(), "malformed") {
					t.Errorf("%s error %q: the tampered file should still be well-formed", what, err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("%s error is not one line: %q", what, err)
				}
				var e *Error
				if !errors.As(err, &e) || e.Bundle != name {
					t.Errorf("%s error is not an *Error naming %s: %#v", what, name, err)
				}
			}

			b, err := Open(f.res.Dir, trust)
			if bad < 0 {
				// Only an expired bundle comes back with its error, so
				// that a reader can tell it applied it before.
				if b != nil && !errors.Is(err, ErrExpired) {
					t.Fatal("Open returned a bundle with its error")
				}
				checkErr("Open", err)
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			// Check looks at stored bytes only: it fails exactly when they
			// are wrong, and decrypts nothing.
			if err := b.Check(context.Background()); tt.checkOK {
				if err != nil {
					t.Fatalf("Check = %v, want success: the stored bytes are intact", err)
				}
			} else {
				checkErr("Check", err)
			}

			// Read refuses on its own, without relying on Check, and hands
			// the callback only intact chunks that come before the bad one.
			var passed []int
			err = b.Read(context.Background(), reader.id, nil, func(p Payload) error {
				i := slices.IndexFunc(f.chunks, func(c manifest.Chunk) bool { return c.Hash == p.Chunk.Hash })
				passed = append(passed, i)
				if !bytes.Equal(p.Data, f.payloads[p.Chunk.Hash]) {
					t.Errorf("callback got chunk %d with altered data", i)
				}
				return nil
			})
			checkErr("Read", err)
			for j, i := range passed {
				if i != j || i >= bad {
					t.Fatalf("Read passed chunks %v to the callback; chunk %d is bad", passed, bad)
				}
			}
		})
	}
}

// TestEveryManifestBitFlip flips one bit in every byte of manifest.json:
// each flip is refused by Open with one of the manifest's refusals.
func TestEveryManifestBitFlip(t *testing.T) {
	w := newWorld(t)
	f := newFixture(t, w)
	path := f.path(manifest.FileName)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	trust := w.trust(w.a)
	counts := map[string]int{}
	for i := range orig {
		b := bytes.Clone(orig)
		b[i] ^= 1 << (i % 8)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(f.res.Dir, trust)
		switch {
		case errors.Is(err, ErrBadSignature):
			counts["bad signature"]++
		case errors.Is(err, ErrMalformed):
			counts["malformed"]++
		case errors.Is(err, ErrUnsupportedVersion):
			counts["unsupported version"]++
		default:
			t.Fatalf("flipping bit %d of byte %d (%q): Open = %v", i%8, i, orig[i], err)
		}
	}
	t.Logf("%d flips refused: %v", len(orig), counts)
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f.res.Dir, trust); err != nil {
		t.Fatalf("restored manifest: %v", err)
	}
}

// TestUntrustedCommentIsNotSigned documents minisign's format: the first
// line of the signature file is not covered by the signature, so changing
// it changes nothing.
func TestUntrustedCommentIsNotSigned(t *testing.T) {
	w := newWorld(t)
	f := newFixture(t, w)
	line, off := f.sigLine(t, 0)
	flipBit(t, f.path(manifest.SigName), off+len(line)-1, 0)
	b, err := Open(f.res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatalf("Open after changing the untrusted comment: %v", err)
	}
	if err := b.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestExpiryBoundary(t *testing.T) {
	w := newWorld(t)
	f := newFixture(t, w)
	tr := w.trust(w.a)
	tr.Now = f.res.Manifest.Expires
	if _, err := Open(f.res.Dir, tr); err != nil {
		t.Fatalf("Open at the expiry instant: %v", err)
	}
	tr.Now = tr.Now.Add(time.Nanosecond)
	if _, err := Open(f.res.Dir, tr); !errors.Is(err, ErrExpired) {
		t.Fatalf("Open just after expiry = %v, want ErrExpired", err)
	}
}

// TestExtraFilesIgnored: an unlisted file and folder in the bundle folder,
// and unrelated files and folders beside it, change nothing.
func TestExtraFilesIgnored(t *testing.T) {
	w := newWorld(t)
	f := newFixture(t, w)
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(f.path("README.txt"), "copied by the operator")
	write(f.path(strings.Repeat("ab", 32)), "an unlisted chunk-like file")
	write(f.path("notes/more.txt"), "a folder inside the bundle")
	write(f.path(".DS_Store"), "junk")
	write(filepath.Join(f.parent, "photos", "IMG_0001.JPG"), "not a bundle")
	write(filepath.Join(f.parent, "photos", manifest.FileName+".txt"), "not a manifest either")
	write(filepath.Join(f.parent, "System Volume Information", "IndexerVolumeGuid"), "{guid}")
	write(filepath.Join(f.parent, "todo.txt"), "a file beside the bundle")
	if err := os.Mkdir(filepath.Join(f.parent, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, f.parent)

	dirs, err := Find(f.parent)
	if err != nil || !slices.Equal(dirs, []string{f.res.Dir}) {
		t.Fatalf("Find = %v, %v; want only %s", dirs, err, f.res.Dir)
	}
	b, err := Open(f.res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b, w.a.id); len(got) != 3 {
		t.Fatalf("Read gave %d payloads, want 3", len(got))
	}
	sameSnapshot(t, before, snapshot(t, f.parent))
}

// TestFind: several bundles in one folder are found in name order, and
// unfinished ones (chunks only, or a signature without a manifest, or a
// write cut while publishing) are found so that Open can say they are
// incomplete.
func TestFind(t *testing.T) {
	w := newWorld(t)
	parent := t.TempDir()
	var want []string
	for _, seq := range []uint64{10, 2, 1} {
		want = append(want, w.write(t, parent, w.a, seq, 0, smallSections()).Dir)
	}
	want = append(want, w.write(t, parent, w.b, 1, 0, smallSections()).Dir)

	// Unfinished bundles: copy one, then remove parts of each copy.
	src := want[0]
	unfinished := map[string][]string{
		"data-school-a-000011-chunks00": {manifest.FileName, manifest.SigName},
		"data-school-a-000012-sigonly0": {manifest.FileName},
		// A write cut while the signature's temporary file was written.
		"data-school-a-000013-tmpsig00": {manifest.FileName, manifest.SigName},
	}
	for name, drop := range unfinished {
		dst := filepath.Join(parent, name)
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range listDir(t, src) {
			if slices.Contains(drop, e) {
				continue
			}
			b, _ := os.ReadFile(filepath.Join(src, e))
			if err := os.WriteFile(filepath.Join(dst, e), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if strings.HasSuffix(name, "tmpsig00") {
			if err := os.WriteFile(filepath.Join(dst, "."+manifest.SigName+".123456.tmp"), []byte("untrusted comment: "), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, dst)
	}
	// Not bundles: empty, hidden, and unrelated folders.
	for _, d := range []string{"empty", ".hidden-bundle", "photos"} {
		os.Mkdir(filepath.Join(parent, d), 0o755)
	}
	os.WriteFile(filepath.Join(parent, "photos", "a.jpg"), []byte("x"), 0o644)
	b, _ := os.ReadFile(filepath.Join(src, manifest.FileName))
	os.WriteFile(filepath.Join(parent, ".hidden-bundle", manifest.FileName), b, 0o644)

	slices.Sort(want)
	got, err := Find(parent)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Find =\n%v, %v\nwant\n%v", strings.Join(got, "\n"), err, strings.Join(want, "\n"))
	}
	for name := range unfinished {
		if _, err := Open(filepath.Join(parent, name), w.trust(w.a)); !errors.Is(err, ErrIncomplete) {
			t.Errorf("Open(%s) = %v, want ErrIncomplete", name, err)
		}
	}
	if _, err := Find(filepath.Join(parent, "missing")); err == nil {
		t.Error("Find of a missing folder succeeded")
	}
}

// TestReadCallbackError: an error from the callback stops Read at once and
// is returned as is; a cancelled context stops it too.
func TestReadCallbackError(t *testing.T) {
	w := newWorld(t)
	res := w.write(t, t.TempDir(), w.a, 1, 10, []section{{name: "r", kind: manifest.Records, records: func() []string {
		var rs []string
		for range 1000 {
			rs = append(rs, `{"x":1}`)
		}
		return rs
	}()}})
	b, err := Open(res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop here")
	calls := 0
	err = b.Read(context.Background(), w.a.id, nil, func(Payload) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 3 {
		t.Fatalf("Read = %v after %d calls, want the callback's error after 3", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = b.Read(ctx, w.a.id, nil, func(Payload) error {
		calls++
		if calls == 2 {
			cancel()
		}
		return nil
	})
	if n := len(b.Manifest.Sections[0].Chunks); !errors.Is(err, context.Canceled) || calls >= n {
		t.Fatalf("Read after cancel = %v after %d of %d chunks", err, calls, n)
	}
	if false {
		t.Fatalf("Read after cancel = %v after %d calls", err, calls)
	}
	if err := b.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a cancelled context = %v", err)
	}
}

// TestSenderParty: with Trust.Parties, a bundle must claim as its sender the
// party whose key signed it; a client's key cannot speak for another client
// or for central.
func TestSenderParty(t *testing.T) {
	w := newWorld(t)
	parties := map[string]string{
		w.central.pub.IDString(): "central",
		w.a.pub.IDString():       w.a.client,
		w.b.pub.IDString():       w.b.client,
	}
	central := Trust{Keys: []minisign.PublicKey{w.central.pub, w.a.pub, w.b.pub}, Own: &w.central.pub,
		Parties: parties, Self: w.central.self(), Now: w.now.Add(time.Hour)}

	// results writes a results bundle signed by signer that claims to come
	// from sender.
	results := func(t *testing.T, signer, sender *party) string {
		t.Helper()
		m := w.header(w.a, 1)
		m.Kind, m.Stream = manifest.KindResults, "results/"+sender.client
		m.Sender, m.Recipient = sender.manifestParty(), w.central.manifestParty()
		m.Sender.KeyID = signer.pub.IDString() // Verify binds the key id to the signer
		wr, err := Create(t.TempDir(), m, Options{Recipient: w.central.id.Recipient(), Signer: signer.priv})
		if err != nil {
			t.Fatal(err)
		}
		if err := wr.BeginRecords("executions"); err != nil {
			t.Fatal(err)
		}
		if err := wr.Record([]byte(`{"delivery":"d1"}`), false); err != nil {
			t.Fatal(err)
		}
		res, err := wr.Commit()
		if err != nil {
			t.Fatal(err)
		}
		return res.Dir
	}

	if _, err := Open(results(t, w.a, w.a), central); err != nil {
		t.Fatalf("client a's own results: %v", err)
	}
	for name, dir := range map[string]string{
		"client a's key speaking for client b": results(t, w.a, w.b),
		"client a's key speaking for central":  results(t, w.a, w.central),
	} {
		before := snapshot(t, filepath.Dir(dir))
		if _, err := Open(dir, central); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: Open = %v, want ErrBadSignature", name, err)
		} else if !strings.Contains(err.Error(), filepath.Base(dir)) {
			t.Errorf("%s: error %q does not name the bundle", name, err)
		}
		sameSnapshot(t, before, snapshot(t, filepath.Dir(dir)))
	}
	// Central's data bundle, read by client a knowing central's key.
	res := w.write(t, t.TempDir(), w.a, 1, 0, smallSections())
	tr := w.trust(w.a)
	tr.Parties = map[string]string{w.central.pub.IDString(): "central", w.a.pub.IDString(): w.a.client}
	if _, err := Open(res.Dir, tr); err != nil {
		t.Fatalf("central's bundle with Parties: %v", err)
	}
}
