package bundle

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestKeepAndRecordChunk: the records chunks a writer keeps, written again
// into a bundle for another recipient, read back as the same records, with
// the same chunk list but for the stored bytes.
func TestKeepAndRecordChunk(t *testing.T) {
	w := newWorld(t)
	var rs []string
	for i := range 7 {
		rs = append(rs, fmt.Sprintf(`{"id":"r%d","name":"Zoë %d"}`, i, i))
	}
	wr, err := Create(t.TempDir(), w.header(w.a, 1), Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv, ChunkRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(wr.BeginRecords("learners"))
	must(wr.Keep())
	for _, r := range rs {
		must(wr.Record([]byte(r), false))
	}
	must(wr.BeginRecords("other")) // not kept
	must(wr.Record([]byte(`{"id":"x"}`), false))
	if _, ok := wr.Kept("learners"); ok {
		t.Error("Kept before CommitChunks")
	}
	first, err := wr.Commit()
	must(err)
	kept := keptChunks(t, wr, "learners", 3)
	if _, ok := wr.Kept("other"); ok {
		t.Error("a section Keep was not called for was kept")
	}

	// For b: one record of its own first, then the kept chunks.
	wr2, err := Create(t.TempDir(), w.header(w.b, 1), Options{Recipient: w.b.id.Recipient(), Signer: w.central.priv, ChunkRecords: 3})
	must(err)
	must(wr2.BeginRecords("learners"))
	must(wr2.Record([]byte(`{"id":"own"}`), false))
	for _, c := range kept {
		must(wr2.RecordChunk(c))
	}
	second, err := wr2.Commit()
	must(err)
	s1, s2 := first.Manifest.Sections[0], second.Manifest.Sections[0]
	if s2.Records != 8 || len(s2.Chunks) != 4 {
		t.Fatalf("second bundle: %d records in %d chunks, want 8 in 4", s2.Records, len(s2.Chunks))
	}
	for i, c := range s1.Chunks {
		d := s2.Chunks[i+1]
		if c.ContentHash != d.ContentHash || c.ContentSize != d.ContentSize || c.Records != d.Records || c.Hash == d.Hash {
			t.Errorf("chunk %d: %+v written again as %+v", i, c, d)
		}
	}
	b, err := Open(second.Dir, w.trust(w.b))
	must(err)
	var got []string
	for _, p := range readAll(t, b, w.b.id) {
		if p.Section.Name == "learners" {
			got = append(got, strings.Split(strings.TrimSuffix(string(p.Data), "\n"), "\n")...)
		}
	}
	if want := append([]string{`{"id":"own"}`}, rs...); !slices.Equal(got, want) {
		t.Errorf("read back %q, want %q", got, want)
	}
}

// keptChunks returns the n chunks wr kept of section.
func keptChunks(t *testing.T, wr *Writer, section string, n int) []Compressed {
	t.Helper()
	kept, ok := wr.Kept(section)
	if !ok || len(kept) != n {
		t.Fatalf("kept %d chunks of %s (%v), want %d", len(kept), section, ok, n)
	}
	return kept
}

// TestKeepRefusals: what a writer will not keep, or take as a compressed
// chunk.
func TestKeepRefusals(t *testing.T) {
	w := newWorld(t)
	wr, err := Create(t.TempDir(), w.header(w.a, 1), Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv, ChunkRecords: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Abort()
	if err := wr.Keep(); err == nil {
		t.Error("Keep outside a section succeeded")
	}
	if err := wr.RecordChunk(Compressed{Payload: []byte{1}, ContentHash: strings.Repeat("0", 64), ContentSize: 1, Records: 1}); err == nil {
		t.Error("RecordChunk outside a section succeeded")
	}
	if err := wr.BeginRecords("r"); err != nil {
		t.Fatal(err)
	}
	if err := wr.Record([]byte(`{}`), false); err != nil {
		t.Fatal(err)
	}
	if err := wr.Keep(); err == nil {
		t.Error("Keep after a record succeeded")
	}
	for _, c := range []Compressed{
		{Payload: []byte{1}, ContentHash: strings.Repeat("0", 64), ContentSize: 1},
		{Payload: []byte{1}, ContentHash: "00", ContentSize: 1, Records: 1},
		{Payload: []byte{1}, ContentHash: strings.Repeat("0", 64), ContentSize: MaxRecordChunkBytes + 1, Records: 1},
	} {
		if err := wr.RecordChunk(c); err == nil {
			t.Errorf("RecordChunk(%d records, hash %q, size %d) succeeded", c.Records, c.ContentHash, c.ContentSize)
		}
	}
	if err := wr.BeginBlob("b"); err != nil {
		t.Fatal(err)
	}
	if err := wr.Keep(); err == nil {
		t.Error("Keep in a blob section succeeded")
	}
}

// TestKeptNotWhole: a kept section that took a deletion or a compressed
// chunk is not kept: its chunks would not be the whole section.
func TestKeptNotWhole(t *testing.T) {
	w := newWorld(t)
	wr, err := Create(t.TempDir(), w.header(w.a, 1), Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv, ChunkRecords: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return wr.BeginRecords("deletions") },
		wr.Keep,
		func() error { return wr.Record([]byte(`{"id":"a"}`), false) },
		func() error { return wr.Record([]byte(`{"id":"b","deleted":true}`), true) },
		func() error { return wr.BeginRecords("mixed") },
		wr.Keep,
		func() error { return wr.Record([]byte(`{"id":"c"}`), false) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := wr.CommitChunks(); err != nil {
		t.Fatal(err)
	}
	kept := keptChunks(t, wr, "mixed", 1)
	if _, ok := wr.Kept("deletions"); ok {
		t.Error("a section with a deletion was kept")
	}

	wr2, err := Create(t.TempDir(), w.header(w.a, 2), Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv, ChunkRecords: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer wr2.Abort()
	for _, step := range []func() error{
		func() error { return wr2.BeginRecords("mixed") },
		wr2.Keep,
		func() error { return wr2.Record([]byte(`{"id":"d"}`), false) },
		func() error { return wr2.RecordChunk(kept[0]) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := wr2.CommitChunks(); err != nil {
		t.Fatal(err)
	}
	if _, ok := wr2.Kept("mixed"); ok {
		t.Error("a section that took a compressed chunk was kept")
	}
}

// TestKeepBounded: past MaxKeptBytes of compressed chunks, a writer keeps
// none, and says so; the bundle itself is whole.
func TestKeepBounded(t *testing.T) {
	w := newWorld(t)
	wr, err := Create(t.TempDir(), w.header(w.a, 1), Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv, ChunkRecords: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.BeginRecords("big"); err != nil {
		t.Fatal(err)
	}
	if err := wr.Keep(); err != nil {
		t.Fatal(err)
	}
	// Records of random base64, which compresses to about 3/4: enough of
	// them for the compressed chunks to pass the bound.
	raw := randomBytes(7, 3<<19)
	var n int64
	for i := int64(0); n < MaxKeptBytes*3/2; i++ {
		line := []byte(fmt.Sprintf(`{"id":"r%d","b":"%s"}`, i, base64.StdEncoding.EncodeToString(raw[i%7:])))
		n += int64(len(line))
		if err := wr.Record(line, false); err != nil {
			t.Fatal(err)
		}
	}
	res, err := wr.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if kept, ok := wr.Kept("big"); ok || kept != nil {
		t.Errorf("kept %d chunks of %d MiB of records", len(kept), n>>20)
	}
	if res.Manifest.StoredBytes() < MaxKeptBytes {
		t.Errorf("the bundle holds %d bytes, not past the bound", res.Manifest.StoredBytes())
	}
}
