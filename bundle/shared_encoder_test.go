package bundle

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/taosync/taosync/manifest"
)

// TestWritersAtOnce: the bundles written at once, more of them than the
// process has zstd encoders (one a CPU, shared by every writer) and each
// with more workers than that, each read back as exactly its own bytes:
// no writer waits forever for an encoder, and no chunk of one bundle ends
// up in another's.
func TestWritersAtOnce(t *testing.T) {
	w := newWorld(t)
	n, workers := 2*runtime.GOMAXPROCS(0)+1, 2*runtime.GOMAXPROCS(0)
	type want struct {
		records []string
		blob    []byte
	}
	wants := make([]want, n)
	for i := range wants {
		for j := range 300 {
			wants[i].records = append(wants[i].records, fmt.Sprintf(`{"bundle":%d,"record":%d}`, i, j))
		}
		// Over zstd's 128 KiB block, so that a chunk takes several.
		wants[i].blob = append(bytes.Repeat([]byte(fmt.Sprintf("bundle %d ", i)), 20000), randomBytes(uint64(i), 50000)...)
	}
	parent := t.TempDir()
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			dirs[i], errs[i] = writeOne(w, parent, uint64(i+1), workers, wants[i].records, wants[i].blob)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("bundle %d: %v", i, errs[i])
		}
		b, err := Open(dirs[i], w.trust(w.a))
		if err != nil {
			t.Fatal(err)
		}
		var records, blob []byte
		for _, p := range readAll(t, b, w.a.id) {
			if p.Section.Kind == manifest.Records {
				records = append(records, p.Data...)
			} else {
				blob = append(blob, p.Data...)
			}
		}
		var wantRecords []byte
		for _, r := range wants[i].records {
			wantRecords = append(append(wantRecords, r...), '\n')
		}
		if !bytes.Equal(records, wantRecords) || !bytes.Equal(blob, wants[i].blob) {
			t.Fatalf("bundle %d read back as %d bytes of records and %d of blob, not its own %d and %d",
				i, len(records), len(blob), len(wantRecords), len(wants[i].blob))
		}
	}
}

// writeOne writes a bundle of a records section, 100 records a chunk, and
// a blob section, with the given number of workers.
func writeOne(w *world, parent string, seq uint64, workers int, records []string, blob []byte) (string, error) {
	wr, err := Create(parent, w.header(w.a, seq), Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv,
		ChunkRecords: 100, Workers: workers})
	if err != nil {
		return "", err
	}
	if err := wr.BeginRecords("records"); err != nil {
		return "", err
	}
	for _, r := range records {
		if err := wr.Record([]byte(r), false); err != nil {
			return "", err
		}
	}
	if err := wr.BeginBlob("blob"); err != nil {
		return "", err
	}
	if err := wr.Blob(blob); err != nil {
		return "", err
	}
	res, err := wr.Commit()
	if err != nil {
		return "", err
	}
	return res.Dir, nil
}
