package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// FuzzUploadStream feeds a result bundle's upload stream, mutated, in two
// requests cut anywhere, to what the PUT handler runs. Whatever comes, the
// offset central answers is what it holds on disk, and what it keeps as a
// file is a verified head or a chunk matching its hash.
func FuzzUploadStream(f *testing.F) {
	// A fixed key, so that the inputs the fuzzer keeps verify in later runs.
	pub, priv, err := minisign.GenerateKey(bytes.NewReader(make([]byte, 256)))
	if err != nil {
		f.Fatal(err)
	}
	chunks := [][]byte{[]byte("the first chunk's bytes"), []byte("a second")}
	sec := manifest.Section{Name: "executions", Kind: manifest.Blob}
	for _, c := range chunks {
		sum := sha256.Sum256(c)
		h := hex.EncodeToString(sum[:])
		sec.Chunks = append(sec.Chunks, manifest.Chunk{Hash: h, Size: int64(len(c)), ContentHash: h, ContentSize: int64(len(c))})
	}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	m := &manifest.Manifest{Format: manifest.Format, Version: fmt.Sprintf("%d.%d", manifest.Major, manifest.Minor),
		ID: "0123456789abcdef0123456789abcdef", Kind: manifest.KindResults,
		Sender:    manifest.Party{Role: "client", Client: "ca", Org: "A", KeyID: pub.IDString(), AgeRecipient: "age1client"},
		Recipient: manifest.Party{Role: "central", KeyID: pub.IDString(), AgeRecipient: "age1central"},
		Stream:    "results-ca", Seq: 1, Created: now, Expires: now.Add(time.Hour), Sections: []manifest.Section{sec}}
	raw, sig, err := manifest.Sign(m, priv)
	if err != nil {
		f.Fatal(err)
	}
	stream := append(append(bytes.Clone(sig), raw...), bytes.Join(chunks, nil)...)
	head := len(sig) + len(raw)
	f.Add(stream, uint32(len(sig)), uint32(len(raw)), uint32(len(stream)/2))
	f.Add(stream, uint32(len(sig)), uint32(len(raw)), uint32(head+3))
	f.Add(stream, uint32(len(sig)), uint32(len(raw)), uint32(len(sig)/2))
	f.Add(stream[:head+5], uint32(len(sig)), uint32(len(raw)), uint32(head))
	f.Add([]byte("junk"), uint32(2), uint32(2), uint32(1))
	f.Fuzz(func(t *testing.T, body []byte, sigSize, manSize, cut uint32) {
		dir := t.TempDir()
		name := "results-ca-000001-01234567"
		cut = min(cut, uint32(len(body)))
		var from int64
		for _, part := range [][]byte{body[:cut], body[cut:]} {
			st, err := openStream(dir, name, "ca", pub)
			if err != nil {
				t.Fatal(err)
			}
			if st.offset != from {
				t.Fatalf("central answers offset %d, but took %d bytes", st.offset, from)
			}
			if st.m == nil {
				st.sigSize, st.manSize = int64(max(sigSize%(1<<16), 1)), int64(max(manSize%(1<<16), 1))
			}
			st.end = from + int64(len(part))
			err = st.receive(bytes.NewReader(part))
			if err != nil && !isRefusal(err) && err != errShort {
				t.Fatalf("receive: %v", err)
			}
			if isRefusal(err) {
				// The rest of the body is not read: the next request goes
				// on from what central holds.
				from = st.offset
				body = body[:0]
				continue
			}
			from = st.offset
		}
		st, err := openStream(dir, name, "ca", pub)
		if err != nil {
			t.Fatal(err)
		}
		if st.offset != from {
			t.Fatalf("central answers offset %d, holds %d", st.offset, from)
		}
		files, _ := os.ReadDir(dir)
		for _, e := range files {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			switch n := e.Name(); {
			case n == manifest.SigName || n == manifest.FileName:
				if st.m == nil {
					t.Errorf("%s kept without a verified head", n)
				}
			case n[0] == '.':
			default:
				if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != n {
					t.Errorf("chunk %s kept with other bytes", n)
				}
			}
		}
	})
}

func isRefusal(err error) bool {
	_, ok := err.(*refusal)
	return ok
}
