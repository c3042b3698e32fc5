package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// party is one end of an exchange with its keys.
type party struct {
	role   string
	client string
	pub    minisign.PublicKey
	priv   minisign.PrivateKey
	id     *age.X25519Identity
}

func newParty(t testing.TB, role, client string) *party {
	t.Helper()
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &party{role: role, client: client, pub: pub, priv: priv, id: id}
}

func (p *party) manifestParty() manifest.Party {
	org := ""
	if p.client != "" {
		org = "org-1"
	}
	return manifest.Party{Role: p.role, Client: p.client, Org: org, KeyID: p.pub.IDString(),
		AgeRecipient: p.id.Recipient().String()}
}

func (p *party) self() Self {
	return Self{Role: p.role, Client: p.client, AgeRecipient: p.id.Recipient().String()}
}

// world is a central and two clients.
type world struct {
	central, a, b *party
	now           time.Time
}

func newWorld(t testing.TB) *world {
	return &world{
		central: newParty(t, "central", ""),
		a:       newParty(t, "client", "school-a"),
		b:       newParty(t, "client", "school b/2"), // not FAT-safe on purpose
		now:     time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC),
	}
}

// header is the manifest of a data bundle from central to, without sections.
func (w *world) header(to *party, seq uint64) *manifest.Manifest {
	return &manifest.Manifest{
		Format:    manifest.Format,
		Version:   fmt.Sprintf("%d.%d", manifest.Major, manifest.Minor),
		ID:        NewID(),
		Kind:      manifest.KindData,
		Sender:    w.central.manifestParty(),
		Recipient: to.manifestParty(),
		Stream:    "data/" + to.client,
		Seq:       seq,
		Created:   w.now,
		Expires:   w.now.Add(30 * 24 * time.Hour),
	}
}

// trust is what client to checks central's bundles against.
func (w *world) trust(to *party) Trust {
	own := to.pub
	return Trust{Keys: []minisign.PublicKey{own, w.central.pub}, Own: &own, Self: to.self(), Now: w.now.Add(time.Hour)}
}

// section is what a test writes into one section.
type section struct {
	name    string
	kind    manifest.SectionKind
	records []string // records sections
	deleted map[int]bool
	blobs   [][]byte // blob sections
}

// write writes a bundle from central to `to` holding sections under parent.
func (w *world) write(t testing.TB, parent string, to *party, seq uint64, chunkRecords int, sections []section) *Written {
	t.Helper()
	wr, err := Create(parent, w.header(to, seq), Options{Recipient: to.id.Recipient(), Signer: w.central.priv, ChunkRecords: chunkRecords})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sections {
		switch s.kind {
		case manifest.Records:
			if err := wr.BeginRecords(s.name); err != nil {
				t.Fatal(err)
			}
			for i, r := range s.records {
				if err := wr.Record([]byte(r), s.deleted[i]); err != nil {
					t.Fatal(err)
				}
			}
		case manifest.Blob:
			if err := wr.BeginBlob(s.name); err != nil {
				t.Fatal(err)
			}
			for _, b := range s.blobs {
				if err := wr.Blob(b); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	res, err := wr.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// smallSections is a bundle of three chunks in two sections: records
// r0..r4 in chunks of 3 records (3, 2), then one blob chunk.
func smallSections() []section {
	return []section{
		{name: "learners", kind: manifest.Records, records: []string{
			`{"id":"r0"}`, `{"id":"r1"}`, `{"id":"r2"}`, `{"id":"r3"}`, `{"id":"r4","deleted":true}`,
		}, deleted: map[int]bool{4: true}},
		{name: "packages", kind: manifest.Blob, blobs: [][]byte{[]byte("package bytes, not JSON\x00\xff")}},
	}
}

// snapshot describes every file and folder under root: its path, type,
// mode, size and content hash. Two equal snapshots mean nothing changed.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			snap[rel] = "dir " + info.Mode().String()
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		snap[rel] = fmt.Sprintf("%s %d %s %s", info.Mode(), info.Size(), info.ModTime().Format(time.RFC3339Nano), hex.EncodeToString(sum[:]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func sameSnapshot(t testing.TB, before, after map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range before {
		if after[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: %q -> %q", k, v, after[k]))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: new %q", k, v))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("reading changed the folder:\n%s", strings.Join(diffs, "\n"))
	}
}

// readAll reads every chunk of b and returns the payloads in order.
func readAll(t testing.TB, b *Bundle, id age.Identity, names ...string) []Payload {
	t.Helper()
	var got []Payload
	err := b.Read(context.Background(), id, names, func(p Payload) error {
		p.Data = append([]byte(nil), p.Data...)
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return got
}

// listDir lists the names in dir, sorted.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func flipBit(t testing.TB, path string, off int, bit uint) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 1 << bit
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// seal makes a chunk file of payload as the writer does, one zstd frame
// encrypted with age, but to each of recipients.
func seal(t testing.TB, payload []byte, recipients ...age.Recipient) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(enc.EncodeAll(payload, nil)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// publish writes a manifest and its signature into dir, signature first,
// each atomically: a bundle made or changed by hand.
func publish(dir string, raw, sig []byte) error {
	if err := safefile.WriteFile(filepath.Join(dir, manifest.SigName), sig, 0o644); err != nil {
		return err
	}
	return safefile.WriteFile(filepath.Join(dir, manifest.FileName), raw, 0o644)
}
