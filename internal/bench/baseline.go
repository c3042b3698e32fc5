package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	// The same SQLite build as internal/store.
	_ "github.com/mattn/go-sqlite3"

	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// readManifest reads a bundle's manifest (its signature was checked by the
// import that the figures measure).
func readManifest(dir string) (*manifest.Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		return nil, err
	}
	return manifest.Parse(raw)
}

// recordCount is the number of records of the bundle's data sections
// (receipts aside).
func recordCount(m *manifest.Manifest, skip string) int64 {
	var n int64
	for _, s := range m.Sections {
		if s.Kind == manifest.Records && s.Name != skip {
			n += s.Records
		}
	}
	return n
}

// blobBytes is the payload size of the bundle's blob sections.
func blobBytes(m *manifest.Manifest) int64 {
	var n int64
	for _, s := range m.Sections {
		if s.Kind == manifest.Blob {
			for _, c := range s.Chunks {
				n += c.ContentSize
			}
		}
	}
	return n
}

// decryptRecords opens the records chunks of a bundle with the age
// identity in identityFile, as an operator would with age -d | zstd -d, and
// calls fn with each section's name and each payload (JSON Lines), in
// manifest order. Sections named in skip are left out.
func decryptRecords(dir, identityFile string, skip string, fn func(section string, payload []byte) error) error {
	m, err := readManifest(dir)
	if err != nil {
		return err
	}
	keyFile, err := os.Open(identityFile)
	if err != nil {
		return err
	}
	ids, err := age.ParseIdentities(keyFile)
	keyFile.Close()
	if err != nil {
		return err
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		return err
	}
	defer dec.Close()
	for _, s := range m.Sections {
		if s.Kind != manifest.Records || s.Name == skip {
			continue
		}
		for _, c := range s.Chunks {
			sealed, err := os.ReadFile(filepath.Join(dir, c.Hash))
			if err != nil {
				return err
			}
			r, err := age.Decrypt(bytes.NewReader(sealed), ids...)
			if err != nil {
				return fmt.Errorf("decrypt chunk %s: %w", c.Hash, err)
			}
			compressed, err := io.ReadAll(r)
			if err != nil {
				return fmt.Errorf("decrypt chunk %s: %w", c.Hash, err)
			}
			payload, err := dec.DecodeAll(compressed, nil)
			if err != nil {
				return fmt.Errorf("decompress chunk %s: %w", c.Hash, err)
			}
			if err := fn(s.Name, payload); err != nil {
				return err
			}
		}
	}
	return nil
}

// sqliteInserts is the raw SQLite baseline: a fresh database opened as
// internal/store opens a home's (the same pragmas, the same schema, by its
// migrations), then, timed, one transaction of one prepared INSERT per row,
// and the commit. Only the transaction is timed: opening the database
// and decoding the rows are not.
//
// It runs in the bench's process: its CPU time is the process's during the
// transaction, and ctx is not passed down, so that go-sqlite3 runs each
// statement on the calling goroutine (with a context that can be
// cancelled it starts a goroutine per statement).
func sqliteInserts(ctx context.Context, path, insert string, rows [][]any) (step, error) {
	db, err := store.Open(ctx, path, true)
	if err != nil {
		return step{}, err
	}
	defer db.Close()
	ctx = context.WithoutCancel(ctx)
	cpu0, psi0 := processCPU(), pressureTotal("cpu")
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return step{}, err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, insert)
	if err != nil {
		return step{}, err
	}
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return step{}, err
		}
	}
	st.Close()
	if err := tx.Commit(); err != nil {
		return step{}, err
	}
	s := step{Took: time.Since(start), CPU: processCPU() - cpu0}
	if psi := pressureTotal("cpu"); psi0 >= 0 && psi >= psi0 {
		s.CPUPressure = min(1, float64(psi-psi0)/float64(s.Took.Microseconds()))
	}
	return s, nil
}

// processCPU is the user and system time of the bench process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// entitiesInsert writes a row of the client's entities table.
const entitiesInsert = "INSERT INTO entities (type, id, data, version) VALUES (?, ?, ?, ?)"

// entityRow decodes one record of a data bundle's section typ into a row of
// the entities baseline.
func entityRow(typ string, line []byte) ([]any, error) {
	var r struct {
		ID   string          `json:"id"`
		V    int64           `json:"v"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, err
	}
	return []any{typ, r.ID, []byte(r.Data), r.V}, nil
}

// executionsInsert writes a row of central's executions table.
const executionsInsert = `INSERT INTO executions (id, content_hash, revision, client, delivery, test_taker, test_center,
    status, started_at, finished_at, result_xml, state, bundle_id, received_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// executionRow decodes one execution of a result bundle into a row of the
// executions baseline.
func executionRow(line []byte, client, bundleID, now string) ([]any, error) {
	var x struct {
		execution
		Revision    int64  `json:"revision"`
		ContentHash string `json:"content_hash"`
	}
	if err := json.Unmarshal(line, &x); err != nil {
		return nil, err
	}
	return []any{x.ID, x.ContentHash, x.Revision, client, x.Delivery, x.TestTaker, x.TestCenter,
		x.Status, x.StartedAt, x.FinishedAt, x.ResultXML, "received", bundleID, now}, nil
}

// jsonlWriter collects payloads into a file, for the zstd | age baseline.
type jsonlWriter struct {
	f *os.File
	w *bufio.Writer
}

func createJSONL(path string) (*jsonlWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &jsonlWriter{f: f, w: bufio.NewWriterSize(f, mib)}, nil
}

func (j *jsonlWriter) Write(p []byte) (int, error) { return j.w.Write(p) }

func (j *jsonlWriter) Close() error {
	if err := j.w.Flush(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}
