package exporter_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/minisign"
)

// fixture is a central home with registered clients, and their homes.
type fixture struct {
	t       testing.TB
	ctx     context.Context
	central *home.Home
	c       *store.CentralDB
	clients map[string]*home.Home
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	h, err := home.Init(ctx, filepath.Join(t.TempDir(), "central"), home.RoleCentral)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	chunks, err := blobstore.Open(h.Path(home.ChunksDir))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, central: h, c: &store.CentralDB{DB: h.DB, Chunks: chunks}, clients: map[string]*home.Home{}}
}

// load loads CSV text as the entities of type typ.
func (f *fixture) load(typ taosync.Type, csv string, prune bool) {
	f.t.Helper()
	r, err := load.NewReader(strings.NewReader(csv), string(typ)+".csv", load.CSV, typ)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.c.Load(f.ctx, string(typ)+".csv", typ, r, prune); err != nil {
		f.t.Fatal(err)
	}
}

// register creates a client home and registers it under org.
func (f *fixture) register(id, org string) {
	f.t.Helper()
	h, err := home.Init(f.ctx, filepath.Join(f.t.TempDir(), id), home.RoleClient)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { h.Close() })
	keys, err := h.PublicKeys()
	if err != nil {
		f.t.Fatal(err)
	}
	err = f.c.AddClient(f.ctx, store.RegisteredClient{ID: id, Org: org, AgeRecipient: keys.Age, SignKey: keys.Sign.String(),
		KeyID: keys.Sign.IDString()}, "hash")
	if err != nil {
		f.t.Fatal(err)
	}
	f.clients[id] = h
}

// export writes a data bundle for a client and returns its folder.
func (f *fixture) export(client string, full bool, types ...taosync.Type) *exporter.DataWritten {
	return f.exportChunked(client, full, 3, types...)
}

func (f *fixture) exportChunked(client string, full bool, chunkRecords int, types ...taosync.Type) *exporter.DataWritten {
	f.t.Helper()
	signer, err := f.central.Signer()
	if err != nil {
		f.t.Fatal(err)
	}
	keys, err := f.central.PublicKeys()
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := exporter.Data(f.ctx, f.c, f.t.TempDir(), exporter.DataOptions{
		Client: client, Types: types, Full: full, ChunkRecords: chunkRecords, Expiry: time.Hour,
		Signer: signer, AgeRecipient: keys.Age, Now: time.Now(), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// decoded is a data bundle as its recipient reads it.
type decoded struct {
	upserts map[taosync.Type][]string // ids
	deletes map[taosync.Type][]string
	blobs   []string // content hashes
	data    map[string]json.RawMessage
}

// open decrypts a data bundle with the client's identity.
func (f *fixture) open(client string, res *exporter.DataWritten) decoded {
	f.t.Helper()
	h := f.clients[client]
	id, err := h.Identity()
	if err != nil {
		f.t.Fatal(err)
	}
	keys, err := f.central.PublicKeys()
	if err != nil {
		f.t.Fatal(err)
	}
	own, err := h.PublicKeys()
	if err != nil {
		f.t.Fatal(err)
	}
	b, err := bundle.Open(res.Dir, bundle.Trust{Keys: []minisign.PublicKey{keys.Sign}, Self: bundle.Self{Role: "client", Client: client, AgeRecipient: own.Age}, Now: time.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	d := decoded{upserts: map[taosync.Type][]string{}, deletes: map[taosync.Type][]string{}, data: map[string]json.RawMessage{}}
	err = b.Read(f.ctx, id, nil, func(p bundle.Payload) error {
		if p.Section.Kind == "blob" {
			d.blobs = append(d.blobs, p.Chunk.ContentHash)
			return nil
		}
		if p.Section.Name == taosync.ReceiptsSection {
			return nil
		}
		t := taosync.Type(p.Section.Name)
		for _, line := range bytes.Split(bytes.TrimSpace(p.Data), []byte("\n")) {
			var r struct {
				ID      string          `json:"id"`
				Data    json.RawMessage `json:"data"`
				Deleted bool            `json:"deleted"`
			}
			if err := json.Unmarshal(line, &r); err != nil {
				return err
			}
			if r.Deleted {
				d.deletes[t] = append(d.deletes[t], r.ID)
			} else {
				d.upserts[t] = append(d.upserts[t], r.ID)
				d.data[string(t)+"/"+r.ID] = r.Data
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// twoOrgs loads master data of two organisations. t3 is eligible in both;
// adm-ab administers a centre of each; t5 and d3 are in no eligibility.
func (f *fixture) twoOrgs() {
	f.load(taosync.TestCenter, "id,label,org_id\na1,Lycée A1,A\na2,Lycée A2,A\nb1,Schule B1,B\n", false)
	f.load(taosync.Administrator, "id,login,test_centers\nadm-a,a,a1\nadm-ab,ab,a2|b1\nadm-b,b,b1\n", false)
	f.load(taosync.Proctor, "id,login,test_centers\np-a,pa,a1\np-b,pb,b1\n", false)
	f.load(taosync.TestTaker, "id,login,first_name\nt1,t1,Zoë\nt2,t2,Jürgen\nt3,t3,Łukasz\nt4,t4,Ayşe\nt5,t5,Ωmega\n", false)
	f.load(taosync.Delivery, "id,label\nd1,Maths\nd2,Physics\nd3,Unused\n", false)
	f.load(taosync.Eligibility, "id,test_center,delivery,test_takers\ne-a1,a1,d1,t1|t2\ne-a2,a2,d2,t3\ne-b1,b1,d1,t3|t4\n", false)
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	return out
}

func TestScopeTwoOrganisations(t *testing.T) {
	f := newFixture(t)
	f.twoOrgs()
	f.register("ca", "A")
	f.register("cb", "B")
	want := map[string]map[taosync.Type][]string{
		"ca": {
			taosync.TestCenter: {"a1", "a2"}, taosync.Administrator: {"adm-a", "adm-ab"}, taosync.Proctor: {"p-a"},
			taosync.TestTaker: {"t1", "t2", "t3"}, taosync.Delivery: {"d1", "d2"}, taosync.Eligibility: {"e-a1", "e-a2"},
		},
		"cb": {
			taosync.TestCenter: {"b1"}, taosync.Administrator: {"adm-ab", "adm-b"}, taosync.Proctor: {"p-b"},
			taosync.TestTaker: {"t3", "t4"}, taosync.Delivery: {"d1"}, taosync.Eligibility: {"e-b1"},
		},
	}
	for client, types := range want {
		res := f.export(client, false)
		if !res.Manifest.Full() {
			t.Errorf("%s: first export is a delta, want a full snapshot", client)
		}
		d := f.open(client, res)
		for _, typ := range taosync.Types {
			if got := sorted(d.upserts[typ]); !slices.Equal(got, types[typ]) {
				t.Errorf("%s: %s = %v, want %v", client, typ, got, types[typ])
			}
		}
		if got := res.Counts[string(taosync.TestTaker)].Created; got != int64(len(types[taosync.TestTaker])) {
			t.Errorf("%s: counted %d test takers created", client, got)
		}
	}
}

func TestDeltaCarriesExactlyTheChanges(t *testing.T) {
	f := newFixture(t)
	f.twoOrgs()
	f.register("ca", "A")
	first := f.export("ca", false)
	// t1 changes; t2 leaves the scope (no eligibility names it any more);
	// adm-a is deleted; t4 (org B only) changes, which is none of ca's
	// business.
	f.load(taosync.TestTaker, "id,login,first_name,email\nt1,t1,Zoë,zoe@example.org\nt4,t4,Ayşe,new@example.org\n", false)
	f.load(taosync.Eligibility, "id,test_center,delivery,test_takers\ne-a1,a1,d1,t1\n", false)
	f.load(taosync.Administrator, "id,login,test_centers\nadm-ab,ab,a2|b1\nadm-b,b,b1\n", true)
	res := f.export("ca", false)
	if res.Manifest.Full() || res.Manifest.Base.ID != first.Manifest.ID || res.Manifest.Prev != first.Hash {
		t.Fatalf("second export: base %v prev %s, want a delta on %s", res.Manifest.Base, res.Manifest.Prev, first.Manifest.ID)
	}
	d := f.open("ca", res)
	wantUp := map[taosync.Type][]string{taosync.TestTaker: {"t1"}, taosync.Eligibility: {"e-a1"}}
	wantDel := map[taosync.Type][]string{taosync.TestTaker: {"t2"}, taosync.Administrator: {"adm-a"}}
	for _, typ := range taosync.Types {
		if got := sorted(d.upserts[typ]); !slices.Equal(got, wantUp[typ]) {
			t.Errorf("upserts of %s = %v, want %v", typ, got, wantUp[typ])
		}
		if got := sorted(d.deletes[typ]); !slices.Equal(got, wantDel[typ]) {
			t.Errorf("deletions of %s = %v, want %v", typ, got, wantDel[typ])
		}
	}
	if !bytes.Contains(d.data["test-taker/t1"], []byte("zoe@example.org")) {
		t.Errorf("t1 carries %s, want the new email", d.data["test-taker/t1"])
	}
	// Nothing changed since: the next delta is empty.
	d = f.open("ca", f.export("ca", false))
	for _, typ := range taosync.Types {
		if len(d.upserts[typ])+len(d.deletes[typ]) > 0 {
			t.Errorf("an export without changes carries %s: %v %v", typ, d.upserts[typ], d.deletes[typ])
		}
	}
	// --full sends the whole scope again.
	d = f.open("ca", f.export("ca", true))
	if got := sorted(d.upserts[taosync.TestTaker]); !slices.Equal(got, []string{"t1", "t3"}) {
		t.Errorf("full export test takers = %v", got)
	}
}

func TestTypeRestrictsTheBundle(t *testing.T) {
	f := newFixture(t)
	f.twoOrgs()
	f.register("ca", "A")
	res := f.export("ca", false, taosync.TestTaker, taosync.TestCenter)
	var names []string
	for _, s := range res.Manifest.Sections {
		names = append(names, s.Name)
	}
	want := []string{"test-center", "test-taker", taosync.ReceiptsSection}
	if !slices.Equal(names, want) {
		t.Fatalf("sections %v, want %v", names, want)
	}
	// The types left out are still to come: a later export of all types
	// carries them, and nothing of the two types sent.
	d := f.open("ca", f.export("ca", false))
	if len(d.upserts[taosync.TestTaker]) != 0 || len(d.upserts[taosync.Eligibility]) != 2 {
		t.Errorf("after a test-taker-only export, the next carries test takers %v and eligibilities %v",
			d.upserts[taosync.TestTaker], d.upserts[taosync.Eligibility])
	}
}

// qtiZip builds a content package with incompressible media files, stored
// uncompressed so that a changed file changes only its own bytes.
func qtiZip(t *testing.T, media [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(name string, body []byte) {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	files := `<file href="test.xml"/>`
	for i := range media {
		files += fmt.Sprintf(`<file href="media/%d.bin"/>`, i)
	}
	add("imsmanifest.xml", []byte(`<?xml version="1.0"?><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="m"><organizations/><resources><resource identifier="t" type="imsqti_test_xmlv2p1" href="test.xml">`+files+`</resource></resources></manifest>`))
	add("test.xml", []byte(`<assessmentTest xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="t" title="T"/>`))
	for i, m := range media {
		add(fmt.Sprintf("media/%d.bin", i), m)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (f *fixture) publish(delivery string, pkg []byte) *blobstore.Snapshot {
	f.t.Helper()
	snap, err := f.c.Chunks.Add(bytes.NewReader(pkg))
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.c.Publish(f.ctx, delivery, store.PackageRef{Snapshot: *snap, Test: "test.xml"}); err != nil {
		f.t.Fatal(err)
	}
	return snap
}

func TestRepublishSendsOnlyChangedChunks(t *testing.T) {
	f := newFixture(t)
	f.twoOrgs()
	f.register("ca", "A")
	rng := rand.New(rand.NewPCG(1, 2))
	media := make([][]byte, 8)
	for i := range media {
		media[i] = make([]byte, 1<<20)
		for j := range media[i] {
			media[i][j] = byte(rng.Uint32())
		}
	}
	old := f.publish("d1", qtiZip(t, media))
	first := f.open("ca", f.export("ca", false))
	if !slices.Equal(sorted(first.blobs), sorted(hashes(old))) {
		t.Fatalf("first export sends %d chunks, want the package's %d", len(first.blobs), len(old.Chunks))
	}
	// One media file in the middle changes.
	media[4] = slices.Clone(media[4])
	media[4][1000] ^= 0xff
	snap := f.publish("d1", qtiZip(t, media))
	d := f.open("ca", f.export("ca", false))
	t.Logf("a one-file change: %d of %d chunks sent (first export sent %d)", len(d.blobs), len(snap.Chunks), len(first.blobs))
	if len(d.blobs) == 0 || len(d.blobs) > 3 || len(d.blobs) >= len(snap.Chunks)/2 {
		t.Fatalf("after a one-file change the delta sends %d of %d chunks", len(d.blobs), len(snap.Chunks))
	}
	for _, h := range d.blobs {
		if slices.Contains(hashes(old), h) {
			t.Errorf("chunk %s, which the client has, is sent again", h)
		}
		if !slices.Contains(hashes(snap), h) {
			t.Errorf("chunk %s is not in the new snapshot", h)
		}
	}
	if got := d.upserts[taosync.Delivery]; !slices.Equal(got, []string{"d1"}) {
		t.Errorf("delta deliveries %v, want d1 with its new package", got)
	}
	// Publishing again the same bytes changes nothing.
	res, err := f.c.Publish(f.ctx, "d1", store.PackageRef{Snapshot: *snap, Test: "test.xml"})
	if err != nil || !res.Unchanged {
		t.Errorf("republishing the same package: %+v, %v", res, err)
	}
}

func hashes(s *blobstore.Snapshot) []string {
	var out []string
	for _, c := range s.Chunks {
		out = append(out, c.Hash)
	}
	return out
}

func TestRevokedClientGetsNoBundle(t *testing.T) {
	f := newFixture(t)
	f.twoOrgs()
	f.register("ca", "A")
	if err := f.c.RevokeClient(f.ctx, "ca"); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	signer, _ := f.central.Signer()
	_, err := exporter.Data(f.ctx, f.c, out, exporter.DataOptions{Client: "ca", Signer: signer, Expiry: time.Hour,
		Now: time.Now(), Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("export for a revoked client: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a refused export left %d entries in the folder", len(entries))
	}
}

func TestClientReportedBehindGetsFullSnapshot(t *testing.T) {
	f := newFixture(t)
	f.twoOrgs()
	f.register("ca", "A")
	f.export("ca", false)
	second := f.export("ca", false)
	if second.Manifest.Full() {
		t.Fatal("second export is full, want a delta")
	}
	// A result bundle written after the second export reports that the
	// client still holds seq 1: bundle 2 was lost.
	later := time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
	if _, err := f.c.DB.Exec("UPDATE clients SET acked_seq = 1, acked_at = ? WHERE id = 'ca'", later); err != nil {
		t.Fatal(err)
	}
	if third := f.export("ca", false); !third.Manifest.Full() {
		t.Errorf("a client that reported an older state gets a delta on seq %d, want a full snapshot", third.Manifest.Base.Seq)
	}
	// Once it reports the new state, deltas resume.
	if _, err := f.c.DB.Exec("UPDATE clients SET acked_seq = data_seq, acked_at = ? WHERE id = 'ca'", later); err != nil {
		t.Fatal(err)
	}
	if fourth := f.export("ca", false); fourth.Manifest.Full() {
		t.Error("a client up to date gets a full snapshot, want a delta")
	}
}

// BenchmarkChunkRecords exports and imports the same scope with several
// records-per-chunk settings: the measurement behind the default of
// sync.chunkSize (docs/performance.md).
func BenchmarkChunkRecords(b *testing.B) {
	f := newFixture(b)
	var sb strings.Builder
	sb.WriteString("id,login,first_name,last_name,email,language,password_hash\n")
	ids := make([]string, 20000)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%05d", i)
		fmt.Fprintf(&sb, "%s,%s,Zoë,Müller-Łukasiewicz,%s@example.org,de,$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g\n", ids[i], ids[i], ids[i])
	}
	f.load(taosync.TestCenter, "id,label,org_id\nc1,Centre,A\n", false)
	f.load(taosync.TestTaker, strings.ReplaceAll(sb.String(), "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", `"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"`), false)
	f.load(taosync.Delivery, "id,label\nd1,D\n", false)
	f.load(taosync.Eligibility, "id,test_center,delivery,test_takers\ne1,c1,d1,"+strings.Join(ids, "|")+"\n", false)
	for _, n := range []int{100, 1000, 5000, 20000} {
		id := fmt.Sprintf("c%d", n)
		f.register(id, "A")
		var res *exporter.DataWritten
		b.Run(fmt.Sprintf("export/records=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				// Every export reads the records: a load, even of nothing
				// new, drops the snapshot the one before kept.
				b.StopTimer()
				f.load(taosync.TestCenter, "id,label,org_id\nc1,Centre,A\n", false)
				b.StartTimer()
				res = f.exportChunked(id, true, n)
			}
			b.ReportMetric(float64(res.Bytes()), "bundle-bytes")
			b.ReportMetric(20003*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run(fmt.Sprintf("import/records=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				local, opts := f.client(b, id)
				b.StartTimer()
				lines, err := importer.Data(f.ctx, res.Dir, local, opts)
				if err != nil || lines[0].Outcome != importer.Applied {
					b.Fatalf("import: %v %+v", err, lines)
				}
			}
			b.ReportMetric(20003*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// client makes a fresh home holding the keys of client id, ready to import
// its bundles.
func (f *fixture) client(tb testing.TB, id string) (*store.ClientDB, importer.Options) {
	tb.Helper()
	src := f.clients[id]
	dir := filepath.Join(tb.TempDir(), "home")
	h, err := home.Init(f.ctx, dir, home.RoleClient)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	for _, name := range []string{home.AgeKeyFile, home.SignKeyFile, home.SignPubFile} {
		b, err := os.ReadFile(src.Path(name))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(h.Path(name), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	ck, _ := f.central.PublicKeys()
	if err := store.SetMeta(f.ctx, h.DB, "client_id", id); err != nil {
		tb.Fatal(err)
	}
	if err := store.AddTrustedKey(f.ctx, h.DB, store.TrustedKey{KeyID: ck.Sign.IDString(), Party: "central", SignKey: ck.Sign.String(), AgeRecipient: ck.Age}); err != nil {
		tb.Fatal(err)
	}
	trust, err := h.Trust(f.ctx, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	ident, err := h.Identity()
	if err != nil {
		tb.Fatal(err)
	}
	chunks, err := blobstore.Open(h.Path(home.ChunksDir))
	if err != nil {
		tb.Fatal(err)
	}
	return &store.ClientDB{DB: h.DB, Chunks: chunks}, importer.Options{Trust: trust, Identity: ident, Transport: "folder", Log: slog.New(slog.DiscardHandler)}
}

// FuzzAppendRecordID: a record's id is written exactly as json.Marshal
// writes it, on AppendRecord's fast path and off it.
func FuzzAppendRecordID(f *testing.F) {
	for _, id := range []string{"tt-000123", `a"b`, `a\b`, "<&>", "Zoë", "漢字", "\u2028", "\x7f", "\xff", ""} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		want, _ := json.Marshal(id)
		line := taosync.AppendRecord(nil, taosync.Record{ID: id, Version: 1, Change: taosync.Deleted})
		if got := string(line); got != `{"id":`+string(want)+`,"v":1,"deleted":true}` {
			t.Fatalf("id %q written as %s, json.Marshal writes %s", id, got, want)
		}
	})
}

// TestCorruptPackageChunkFailsExport: a package chunk that no longer
// matches its name in central's store (a disk fault) fails the export with
// a one-line error naming it, leaves no bundle, and records nothing: the
// next export is still a full snapshot (with the next sequence number:
// numbers are never reused).
func TestCorruptPackageChunkFailsExport(t *testing.T) {
	f := newFixture(t)
	f.twoOrgs()
	f.register("ca", "A")
	media := [][]byte{bytes.Repeat([]byte("m"), 3<<20)}
	snap := f.publish("d1", qtiZip(t, media))
	bad := snap.Chunks[len(snap.Chunks)/2].Hash
	p := filepath.Join(f.central.Path(home.ChunksDir), bad[:2], bad)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	signer, _ := f.central.Signer()
	keys, _ := f.central.PublicKeys()
	_, err = exporter.Data(f.ctx, f.c, out, exporter.DataOptions{Client: "ca", Signer: signer, AgeRecipient: keys.Age,
		Expiry: time.Hour, Now: time.Now(), Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "export packages") || !strings.Contains(err.Error(), bad) ||
		!errors.Is(err, blobstore.ErrCorrupt) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("export with a corrupt chunk: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a failed export left %d entries in the folder", len(entries))
	}
	// Mended, the export is a full snapshot.
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	res := f.export("ca", false)
	if res.Manifest.Base != nil || res.Manifest.Seq != 2 {
		t.Errorf("the export after the failed one: seq %d, base %v; want a full snapshot, seq 2", res.Manifest.Seq, res.Manifest.Base)
	}
}
