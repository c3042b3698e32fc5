package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

func TestRoundTrip(t *testing.T) {
	w := newWorld(t)
	records := func(n, from int) []string {
		rs := make([]string, n)
		for i := range rs {
			rs[i] = fmt.Sprintf(`{"id":%d,"name":"learner %d","grade":%d}`, from+i, from+i, (from+i)%12)
		}
		return rs
	}
	every7 := func(n int) map[int]bool {
		d := map[int]bool{}
		for i := 0; i < n; i += 7 {
			d[i] = true
		}
		return d
	}
	tests := []struct {
		name         string
		chunkRecords int
		sections     []section
		chunks       []int // chunks per section
	}{
		{name: "no sections"},
		{name: "records section without records",
			sections: []section{{name: "learners", kind: manifest.Records}},
			chunks:   []int{0}},
		{name: "empty sections of both kinds around one record", chunkRecords: 10,
			sections: []section{
				{name: "a", kind: manifest.Records},
				{name: "b", kind: manifest.Blob},
				{name: "c", kind: manifest.Records, records: []string{`{"only":1}`}, deleted: map[int]bool{0: true}},
			},
			chunks: []int{0, 0, 1}},
		{name: "one record",
			sections: []section{{name: "learners", kind: manifest.Records, records: []string{`{"id":1}`}}},
			chunks:   []int{1}},
		{name: "chunk boundary exactly", chunkRecords: 4,
			sections: []section{{name: "learners", kind: manifest.Records, records: records(8, 0)}},
			chunks:   []int{2}},
		{name: "12345 records in three sections", chunkRecords: 1000,
			sections: []section{
				{name: "learners", kind: manifest.Records, records: records(5000, 0), deleted: every7(5000)},
				{name: "groups", kind: manifest.Records, records: records(7000, 5000), deleted: every7(7000)},
				{name: "results", kind: manifest.Records, records: records(345, 12000)},
			},
			chunks: []int{5, 7, 1}},
		{name: "blob sections",
			sections: []section{
				{name: "pkg-1", kind: manifest.Blob, blobs: [][]byte{
					bytes.Repeat([]byte("compressible "), 100000), // 1.3 MB
					randomBytes(1, 300000),
					{}, // an empty chunk is still a chunk
					[]byte("x"),
				}},
				{name: "learners", kind: manifest.Records, records: records(3, 0)},
				{name: "pkg-2", kind: manifest.Blob, blobs: [][]byte{randomBytes(2, 70000)}},
			},
			chunks: []int{4, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			res := w.write(t, parent, w.a, 7, tt.chunkRecords, tt.sections)
			m := res.Manifest

			// The folder name: KIND-CLIENT-SEQ-ID8, under parent.
			if want := filepath.Join(parent, "data-school-a-000007-"+m.ID[:8]); res.Dir != want || Name(m) != filepath.Base(want) {
				t.Fatalf("bundle folder %s (Name %s), want %s", res.Dir, Name(m), want)
			}
			if dirs, err := Find(parent); err != nil || !reflect.DeepEqual(dirs, []string{res.Dir}) {
				t.Fatalf("Find(parent) = %v, %v", dirs, err)
			}
			if dirs, err := Find(res.Dir); err != nil || !reflect.DeepEqual(dirs, []string{res.Dir}) {
				t.Fatalf("Find(bundle) = %v, %v", dirs, err)
			}

			// The folder holds exactly the manifest, its signature and the
			// listed chunks: no temporary file is left behind.
			raw, err := os.ReadFile(filepath.Join(res.Dir, manifest.FileName))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{manifest.FileName, manifest.SigName}
			var total int64
			for _, s := range m.Sections {
				for _, c := range s.Chunks {
					want = append(want, c.Hash)
					total += c.Size
				}
			}
			slices.Sort(want)
			if got := listDir(t, res.Dir); !slices.Equal(got, want) {
				t.Fatalf("bundle folder holds %v, want %v", got, want)
			}
			if res.Hash != HashManifest(raw) {
				t.Errorf("Result.Hash %s is not the manifest file's hash", res.Hash)
			}

			// Section and chunk counts.
			if len(m.Sections) != len(tt.sections) {
				t.Fatalf("%d sections, want %d", len(m.Sections), len(tt.sections))
			}
			for i, s := range m.Sections {
				in := tt.sections[i]
				if s.Name != in.name || s.Kind != in.kind || len(s.Chunks) != tt.chunks[i] {
					t.Errorf("section %d = %s/%s with %d chunks, want %s/%s with %d", i, s.Name, s.Kind, len(s.Chunks), in.name, in.kind, tt.chunks[i])
				}
				if s.Records != int64(len(in.records)) || s.Deleted != int64(len(in.deleted)) {
					t.Errorf("section %s: records %d deleted %d, want %d and %d", s.Name, s.Records, s.Deleted, len(in.records), len(in.deleted))
				}
			}

			b, err := Open(res.Dir, w.trust(w.a))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if b.Hash != res.Hash || !b.Signer.Equal(w.central.pub) || b.Name() != filepath.Base(res.Dir) {
				t.Errorf("Open: hash %s signer %s name %s", b.Hash, b.Signer.IDString(), b.Name())
			}
			sig, _ := os.ReadFile(filepath.Join(res.Dir, manifest.SigName))
			if want := int64(len(raw)+len(sig)) + total; b.Bytes != want {
				t.Errorf("Bytes = %d, want %d", b.Bytes, want)
			}
			if a, c := mustMarshal(t, b.Manifest), mustMarshal(t, m); !bytes.Equal(a, c) || !bytes.Equal(a, raw) {
				t.Errorf("opened manifest differs from the written one")
			}
			if err := b.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}

			// Read gives back exactly what was written, in order.
			payloads := readAll(t, b, w.a.id)
			if len(payloads) != m.Chunks() {
				t.Fatalf("Read gave %d payloads, want %d", len(payloads), m.Chunks())
			}
			got := map[string][]string{}
			gotBlobs := map[string][][]byte{}
			for i, p := range payloads {
				sum := sha256.Sum256(p.Data)
				if int64(len(p.Data)) != p.Chunk.ContentSize || hex.EncodeToString(sum[:]) != p.Chunk.ContentHash {
					t.Errorf("payload %d does not match its chunk", i)
				}
				switch p.Section.Kind {
				case manifest.Records:
					lines := strings.Split(strings.TrimSuffix(string(p.Data), "\n"), "\n")
					if !bytes.HasSuffix(p.Data, []byte("\n")) || int64(len(lines)) != p.Chunk.Records {
						t.Errorf("records chunk %d: %d lines, manifest says %d", i, len(lines), p.Chunk.Records)
					}
					got[p.Section.Name] = append(got[p.Section.Name], lines...)
				case manifest.Blob:
					gotBlobs[p.Section.Name] = append(gotBlobs[p.Section.Name], p.Data)
				}
			}
			for _, s := range tt.sections {
				switch s.kind {
				case manifest.Records:
					if !slices.Equal(got[s.name], s.records) {
						t.Errorf("section %s: records differ (%d read, %d written)", s.name, len(got[s.name]), len(s.records))
					}
				case manifest.Blob:
					if len(gotBlobs[s.name]) != len(s.blobs) {
						t.Fatalf("section %s: %d blobs read, %d written", s.name, len(gotBlobs[s.name]), len(s.blobs))
					}
					for i := range s.blobs {
						if !bytes.Equal(gotBlobs[s.name][i], s.blobs[i]) {
							t.Errorf("section %s: blob %d differs", s.name, i)
						}
					}
				}
			}

			// Reading one section gives only that section.
			if len(tt.sections) > 1 {
				last := tt.sections[len(tt.sections)-1].name
				for _, p := range readAll(t, b, w.a.id, last) {
					if p.Section.Name != last {
						t.Fatalf("Read(%s) gave a chunk of %s", last, p.Section.Name)
					}
				}
			}
		})
	}
}

func mustMarshal(t testing.TB, m *manifest.Manifest) []byte {
	t.Helper()
	b, err := manifest.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestName(t *testing.T) {
	w := newWorld(t)
	m := w.header(w.b, 42)
	m.ID = "89abcdef0123456789abcdef01234567"
	if got, want := Name(m), "data-school_b_2-000042-89abcdef"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	// A result bundle goes from the client: it is named by the sender.
	m.Sender, m.Recipient, m.Kind = w.b.manifestParty(), w.central.manifestParty(), manifest.KindResults
	m.Seq = 1234567
	if got, want := Name(m), "results-school_b_2-1234567-89abcdef"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if ok, _ := regexp.MatchString(`^[A-Za-z0-9._-]+$`, Name(m)); !ok {
		t.Errorf("Name %q is not FAT-safe", Name(m))
	}
	// Names sort by sequence within a stream.
	m1, m2 := w.header(w.a, 9), w.header(w.a, 10)
	if !(Name(m1) < Name(m2)) {
		t.Errorf("%s does not sort before %s", Name(m1), Name(m2))
	}
}

func TestRecordsChunkByteLimit(t *testing.T) {
	w := newWorld(t)
	// Records of 1 MiB (with the newline) close a chunk on its byte size
	// long before ChunkRecords.
	line := `{"blob":"` + strings.Repeat("x", 1<<20-12) + `"}`
	var rs []string
	for i := range 20 {
		rs = append(rs, strings.Replace(line, "xxxx", fmt.Sprintf("%04d", i), 1))
	}
	res := w.write(t, t.TempDir(), w.a, 1, 1000, []section{{name: "big", kind: manifest.Records, records: rs}})
	s := res.Manifest.Sections[0]
	var counts []int64
	for _, c := range s.Chunks {
		if c.ContentSize > MaxRecordChunkBytes {
			t.Errorf("chunk payload %d bytes exceeds %d", c.ContentSize, MaxRecordChunkBytes)
		}
		counts = append(counts, c.Records)
	}
	if !slices.Equal(counts, []int64{8, 8, 4}) {
		t.Errorf("records per chunk %v, want [8 8 4]", counts)
	}
	b, err := Open(res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range readAll(t, b, w.a.id) {
		got = append(got, strings.Split(strings.TrimSuffix(string(p.Data), "\n"), "\n")...)
	}
	if !slices.Equal(got, rs) {
		t.Error("records differ after the round trip")
	}
}

func TestWriterRefusals(t *testing.T) {
	w := newWorld(t)
	parent := t.TempDir()
	opts := Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv}

	wr, err := Create(parent, w.header(w.a, 1), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.Record([]byte(`{}`), false); err == nil {
		t.Error("Record outside a section succeeded")
	}
	if err := wr.Blob([]byte("x")); err == nil {
		t.Error("Blob outside a section succeeded")
	}
	if err := wr.BeginRecords("r"); err != nil {
		t.Fatal(err)
	}
	if err := wr.Blob([]byte("x")); err == nil {
		t.Error("Blob in a records section succeeded")
	}
	if err := wr.Record([]byte("{\n}"), false); err == nil {
		t.Error("a record holding a newline was accepted")
	}
	if err := wr.Record(make([]byte, MaxRecordChunkBytes), false); err == nil {
		t.Error("a record of MaxRecordChunkBytes was accepted")
	}
	if err := wr.BeginBlob("b"); err != nil {
		t.Fatal(err)
	}
	if err := wr.Record([]byte(`{}`), false); err == nil {
		t.Error("Record in a blob section succeeded")
	}
	if err := wr.Blob(make([]byte, manifest.MaxChunkPayload+1)); err == nil {
		t.Error("a blob chunk over MaxChunkPayload was accepted")
	}
	wr.Abort()
	if _, err := os.Stat(wr.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Abort left %s: %v", wr.Dir(), err)
	}

	// A second bundle of the same name is refused, the first untouched.
	res := w.write(t, parent, w.a, 2, 0, smallSections())
	before := snapshot(t, parent)
	if _, err := Create(parent, res.Manifest, opts); err == nil {
		t.Error("Create over an existing bundle succeeded")
	}
	sameSnapshot(t, before, snapshot(t, parent))

	if _, err := Create(parent, w.header(w.a, 3), Options{Signer: w.central.priv}); err == nil {
		t.Error("Create without a recipient succeeded")
	}

	// A signer that is not the manifest's sender: Commit fails and
	// leaves no bundle.
	wr, err = Create(parent, w.header(w.a, 4), Options{Recipient: w.a.id.Recipient(), Signer: w.b.priv})
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.BeginRecords("r"); err != nil {
		t.Fatal(err)
	}
	if err := wr.Record([]byte(`{}`), false); err != nil {
		t.Fatal(err)
	}
	if _, err := wr.Commit(); err == nil {
		t.Fatal("Commit signed by a key other than the sender's succeeded")
	}
	if _, err := os.Stat(wr.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Commit left %s: %v", wr.Dir(), err)
	}
	sameSnapshot(t, before, snapshot(t, parent))
}

// TestCreateValidatesHeader: a manifest header that could never be signed
// is refused by Create, before anything is written, and without a panic.
func TestCreateValidatesHeader(t *testing.T) {
	w := newWorld(t)
	parent := t.TempDir()
	for name, mutate := range map[string]func(m *manifest.Manifest){
		"empty bundle id": func(m *manifest.Manifest) { m.ID = "" },
		"short bundle id": func(m *manifest.Manifest) { m.ID = "abc" },
		"seq 0":           func(m *manifest.Manifest) { m.Seq = 0 },
		"expired at birth": func(m *manifest.Manifest) {
			m.Expires = m.Created
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := w.header(w.a, 1)
			mutate(m)
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Create panicked: %v", r)
					}
				}()
				_, err = Create(parent, m, Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv})
			}()
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Create = %v, want ErrMalformed", err)
			}
			if names := listDir(t, parent); len(names) != 0 {
				t.Fatalf("Create left %v", names)
			}
		})
	}
}

// TestAbortAfterCommit: the usual `defer w.Abort()` must not panic once
// Commit has closed the workers.
func TestAbortAfterCommit(t *testing.T) {
	w := newWorld(t)
	parent := t.TempDir()
	wr, err := Create(parent, w.header(w.a, 1), Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv})
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.BeginRecords("r"); err != nil {
		t.Fatal(err)
	}
	if err := wr.Record([]byte(`{"a":1}`), false); err != nil {
		t.Fatal(err)
	}
	if _, err := wr.Commit(); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("Abort after Commit panicked: %v", r)
			}
		}()
		wr.Abort()
	}()
}

// TestOwnBundle: a home opens a bundle it signed itself (central checking
// what it wrote for a client) although it is not the bundle's recipient.
func TestOwnBundle(t *testing.T) {
	w := newWorld(t)
	res := w.write(t, t.TempDir(), w.a, 1, 0, smallSections())
	own := w.central.pub
	trust := Trust{Keys: []minisign.PublicKey{own}, Own: &own, Self: w.central.self(), Now: w.now}
	b, err := Open(res.Dir, trust)
	if err != nil {
		t.Fatalf("central opening its own bundle: %v", err)
	}
	if err := b.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Without Own, central is just another reader, and not the recipient.
	trust.Own = nil
	if _, err := Open(res.Dir, trust); !errors.Is(err, ErrWrongRecipient) {
		t.Fatalf("Open without Own = %v, want ErrWrongRecipient", err)
	}
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	newRand(seed).Read(b)
	return b
}

// TestReadDecoded checks that decode's results reach the callback with
// their chunks, in order, and that a decode error stops the read at its
// chunk: the chunks before it are passed on, none after.
func TestReadDecoded(t *testing.T) {
	w := newWorld(t)
	res := w.write(t, t.TempDir(), w.a, 1, 3, smallSections())
	b, err := Open(res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	lines := func(p Payload) (any, error) { return bytes.Count(p.Data, []byte("\n")), nil }
	var got []any
	err = b.ReadDecoded(context.Background(), w.a.id, nil, lines, func(p Payload) error {
		if want, _ := lines(p); p.Decoded != want {
			t.Errorf("chunk %s: decoded %v, want %v", p.Chunk.Hash, p.Decoded, want)
		}
		got = append(got, p.Decoded)
		return nil
	})
	if err != nil || len(got) != 3 || got[0] != 3 || got[1] != 2 {
		t.Fatalf("decoded %v, %v; want [3 2 *] and no error", got, err)
	}

	bad := errors.New("bad chunk")
	second := b.Manifest.Sections[0].Chunks[1].Hash
	got = nil
	err = b.ReadDecoded(context.Background(), w.a.id, nil, func(p Payload) (any, error) {
		if p.Chunk.Hash == second {
			return nil, bad
		}
		return lines(p)
	}, func(p Payload) error {
		got = append(got, p.Decoded)
		return nil
	})
	if !errors.Is(err, bad) || len(got) != 1 {
		t.Fatalf("with the second chunk failing to decode: passed on %v, error %v; want 1 chunk and %v", got, err, bad)
	}
}

// TestReadDecodedBlobs: decode sees every blob payload, checked, before fn
// gets it in order (as the importer stores package chunks), and an error
// from decode on the first chunk stops the read before fn sees any.
func TestReadDecodedBlobs(t *testing.T) {
	w := newWorld(t)
	blobs := make([][]byte, 12)
	for i := range blobs {
		blobs[i] = randomBytes(uint64(i), 1000+i)
	}
	res := w.write(t, t.TempDir(), w.a, 1, 0, []section{{name: "packages", kind: manifest.Blob, blobs: blobs}})
	b, err := Open(res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	prepared := map[string]bool{}
	prepare := func(p Payload) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		prepared[p.Chunk.ContentHash] = true
		return nil, nil
	}
	n := 0
	err = b.ReadDecoded(context.Background(), w.a.id, nil, prepare, func(p Payload) error {
		mu.Lock()
		defer mu.Unlock()
		if !prepared[p.Chunk.ContentHash] || !bytes.Equal(p.Data, blobs[n]) {
			t.Errorf("payload %d: prepared %v, the blob given: %v", n, prepared[p.Chunk.ContentHash], bytes.Equal(p.Data, blobs[n]))
		}
		n++
		return nil
	})
	if err != nil || n != len(blobs) {
		t.Fatalf("ReadDecoded: %v after %d payloads of %d", err, n, len(blobs))
	}
	stop := errors.New("stop")
	first := b.Manifest.Sections[0].Chunks[0].Hash
	err = b.ReadDecoded(context.Background(), w.a.id, nil, func(p Payload) (any, error) {
		if p.Chunk.Hash == first {
			return nil, stop
		}
		return nil, nil
	}, func(Payload) error { t.Error("fn called after decode failed on the first chunk"); return nil })
	if !errors.Is(err, stop) {
		t.Errorf("ReadDecoded with a failing decode: %v", err)
	}
}
