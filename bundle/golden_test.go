package bundle

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

var update = flag.Bool("update", false, "rewrite the golden bundle in ../testdata/bundle")

// goldenDir holds a version 1.0 bundle written once and committed, with the
// test-only keys that read it. It must stay readable: the compatibility
// promise is that a reader of major version 1 reads every 1.x bundle,
// including those written by earlier versions of this package.
var goldenDir = filepath.Join("..", "testdata", "bundle", "v1.0")

var goldenCreated = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// goldenContent is what the golden bundle carries.
func goldenContent() []section {
	var rs []string
	for i := range 25 {
		rs = append(rs, fmt.Sprintf(`{"id":"learner-%02d","given":"Given %d","family":"Family","group":"g%d"}`, i, i, i%3))
	}
	return []section{
		{name: "learners", kind: manifest.Records, records: rs, deleted: map[int]bool{24: true}},
		{name: "groups", kind: manifest.Records},
		{name: "package-1", kind: manifest.Blob, blobs: [][]byte{randomBytes(2026, 5000), []byte("<assessmentItem/>\n")}},
	}
}

func writeGolden(t *testing.T) {
	central := newParty(t, "central", "")
	client := newParty(t, "client", "school-a")
	if err := os.RemoveAll(goldenDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(goldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	w := &world{central: central, a: client, now: goldenCreated}
	m := w.header(client, 1)
	m.Expires = goldenCreated.Add(365 * 24 * time.Hour)
	wr, err := Create(goldenDir, m, Options{Recipient: client.id.Recipient(), Signer: central.priv, ChunkRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range goldenContent() {
		if s.kind == manifest.Records {
			wr.BeginRecords(s.name)
			for i, r := range s.records {
				if err := wr.Record([]byte(r), s.deleted[i]); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		wr.BeginBlob(s.name)
		for _, b := range s.blobs {
			if err := wr.Blob(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := wr.Commit(); err != nil {
		t.Fatal(err)
	}
	// Test-only keys: they protect nothing but this fixture.
	for name, content := range map[string][]byte{
		"central.pub": central.pub.MarshalFile(),
		"client.key":  []byte(client.id.String() + "\n"),
		"README":      []byte("A taosync bundle of format version 1.0 and the test-only keys that read it.\nWritten by `go test ./bundle -run TestGoldenBundle -update`; see bundle/golden_test.go.\n"),
	} {
		if err := os.WriteFile(filepath.Join(goldenDir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGoldenBundle(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	pubFile, err := os.ReadFile(filepath.Join(goldenDir, "central.pub"))
	if err != nil {
		t.Fatalf("golden bundle missing (run with -update to write it): %v", err)
	}
	pub, err := minisign.ParsePublicKeyFile(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, err := os.ReadFile(filepath.Join(goldenDir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(keyFile)))
	if err != nil {
		t.Fatal(err)
	}

	// Read a copy: the committed fixture must not depend on what a
	// failing reader might do to it.
	tmp := t.TempDir()
	if err := os.CopyFS(tmp, os.DirFS(goldenDir)); err != nil {
		t.Fatal(err)
	}
	dirs, err := Find(tmp)
	if err != nil || len(dirs) != 1 {
		t.Fatalf("Find = %v, %v; want the one golden bundle", dirs, err)
	}
	trust := Trust{Keys: []minisign.PublicKey{pub},
		Self: Self{Role: "client", Client: "school-a", AgeRecipient: id.Recipient().String()},
		Now:  goldenCreated.Add(time.Hour)}
	b, err := Open(dirs[0], trust)
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.Version != "1.0" || Name(b.Manifest) != filepath.Base(dirs[0]) {
		t.Fatalf("golden bundle: version %s, folder %s, Name %s", b.Manifest.Version, filepath.Base(dirs[0]), Name(b.Manifest))
	}
	if err := b.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for _, p := range readAll(t, b, id) {
		got[p.Section.Name] = append(got[p.Section.Name], p.Data...)
	}
	for _, s := range goldenContent() {
		var want []byte
		for _, r := range s.records {
			want = append(append(want, r...), '\n')
		}
		for _, blob := range s.blobs {
			want = append(want, blob...)
		}
		if !bytes.Equal(got[s.name], want) {
			t.Errorf("section %s: read %d bytes, want %d", s.name, len(got[s.name]), len(want))
		}
	}
	// The fixture's keys and times: it expires, like any bundle.
	trust.Now = b.Manifest.Expires.Add(time.Second)
	if _, err := Open(dirs[0], trust); !errors.Is(err, ErrExpired) {
		t.Errorf("golden bundle after its expiry: %v, want ErrExpired", err)
	}
}

// TestFutureMinorVersion: a 1.9 manifest with fields this reader does not
// know is read; the same fields in a 1.0 manifest are refused as malformed.
func TestFutureMinorVersion(t *testing.T) {
	w := newWorld(t)
	for _, tt := range []struct {
		version string
		ok      bool
	}{{"1.9", true}, {"1.0", false}} {
		t.Run(tt.version, func(t *testing.T) {
			f := newFixture(t, w)
			raw, err := os.ReadFile(f.path(manifest.FileName))
			if err != nil {
				t.Fatal(err)
			}
			raw = bytes.Replace(raw, []byte(`"version": "1.0"`), []byte(`"version": "`+tt.version+`"`), 1)
			raw = bytes.Replace(raw, []byte(`"stream":`), []byte(`"resume_hint": {"offset": 12}, "stream":`), 1)
			raw = bytes.Replace(raw, []byte(`"name": "learners",`), []byte(`"name": "learners", "codec": "zstd",`), 1)
			f.signRaw(t, w.central.priv, raw)
			b, err := Open(f.res.Dir, w.trust(w.a))
			if !tt.ok {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Open = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, b, w.a.id); len(got) != 3 {
				t.Fatalf("Read gave %d payloads, want 3", len(got))
			}
		})
	}
}
