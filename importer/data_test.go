package importer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestBadRecordRefusesTheBundle checks that a record that does not parse,
// in a bundle that is otherwise valid and signed, refuses the whole bundle:
// the chunks before it are applied in the transaction, which is rolled
// back.
func TestBadRecordRefusesTheBundle(t *testing.T) {
	f := testfixture.New(t)
	cl := f.Register("c1", "org-1")
	ctx := context.Background()
	signer, err := f.C.Home.Signer()
	if err != nil {
		t.Fatal(err)
	}
	own, err := f.C.Home.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cl.Home.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	recipient, err := age.ParseX25519Recipient(keys.Age)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	out := t.TempDir()
	w, err := bundle.Create(out, &manifest.Manifest{
		Format: manifest.Format, Version: fmt.Sprintf("%d.%d", manifest.Major, manifest.Minor),
		ID: bundle.NewID(), Kind: manifest.KindData,
		Sender:    manifest.Party{Role: "central", KeyID: own.Sign.IDString(), AgeRecipient: own.Age},
		Recipient: manifest.Party{Role: "client", Client: "c1", Org: "org-1", KeyID: keys.Sign.IDString(), AgeRecipient: keys.Age},
		Stream:    exporter.Stream("c1"), Seq: 1, Created: now, Expires: now.Add(time.Hour),
	}, bundle.Options{Recipient: recipient, Signer: signer, ChunkRecords: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.BeginRecords("test-taker"); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`{"id":"t1","v":1,"data":{"id":"t1"}}`, `{"id":"t2","v":1,"data":{"id":"t2"}}`,
		`{"id":"t3","v":1,"data":{"id":"t3"}}`, `{"id":"t4","v":1,"data":{"id":}}`,
	} {
		if err := w.Record([]byte(line), false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	opts, err := cl.Options(ctx, "folder")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := cl.Import(ctx, out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].Outcome != importer.Refused || !errors.Is(lines[0].Err(), bundle.ErrMalformed) {
		t.Fatalf("import: %+v; want the bundle refused as malformed", lines)
	}
	var n int
	if err := cl.Home.DB.QueryRowContext(ctx, "SELECT count(*) FROM entities").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d entities after the refusal (%v), want none", n, err)
	}
	if s, err := cl.Local.DataState(ctx); err != nil || s.Seq != 0 {
		t.Fatalf("data state %+v (%v) after the refusal, want none", s, err)
	}
}
