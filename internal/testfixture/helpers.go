package testfixture

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/manifest"
)

// Entities lists the ids a client home holds, by type.
func Entities(t *testing.T, cl *client.Client) map[taosync.Type][]string {
	t.Helper()
	rows, err := cl.Home.DB.QueryContext(context.Background(), "SELECT type, id FROM entities WHERE deleted = 0 ORDER BY type, id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[taosync.Type][]string{}
	for rows.Next() {
		var typ, id string
		if err := rows.Scan(&typ, &id); err != nil {
			t.Fatal(err)
		}
		out[taosync.Type(typ)] = append(out[taosync.Type(typ)], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}

// ToStrings turns ids by type into ids by type name, for comparisons.
func ToStrings(m map[taosync.Type][]string) map[string][]string {
	out := map[string][]string{}
	for t, ids := range m {
		out[string(t)] = ids
	}
	return out
}

// SmallXML is a minimal valid result document.
const SmallXML = `<assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p2"><context/><testResult identifier="d1" datestamp="2025-06-12T10:00:00Z"/></assessmentResult>`

// Executions is an ExecutionSource over a slice.
type Executions []taosync.Execution

// Next hands out the first execution left, on line 1.
func (e *Executions) Next() (taosync.Execution, int, error) {
	if len(*e) == 0 {
		return taosync.Execution{}, 0, io.EOF
	}
	x := (*e)[0]
	*e = (*e)[1:]
	return x, 1, nil
}

// Execution is a finished execution with a valid result document.
func Execution(id, center, delivery, taker string) taosync.Execution {
	return taosync.Execution{ID: id, Delivery: delivery, TestTaker: taker, TestCenter: center,
		Status: "finished", StartedAt: "2025-06-12T09:30:00Z", FinishedAt: "2025-06-12T10:14:52Z", ResultXML: SmallXML}
}

// AddResults hands n finished executions to a client of org A (which holds
// a1, d1 and t1), with ids prefix-1...
func AddResults(t *testing.T, cl *client.Client, prefix string, n int) {
	t.Helper()
	AddResultsAt(t, cl, prefix, n, "a1", "d1", "t1")
}

// AddResultsAt hands n finished executions at a test centre to a client.
func AddResultsAt(t *testing.T, cl *client.Client, prefix string, n int, center, delivery, taker string) {
	t.Helper()
	var xs Executions
	for i := 1; i <= n; i++ {
		xs = append(xs, Execution(fmt.Sprintf("%s-%d", prefix, i), center, delivery, taker))
	}
	if _, err := cl.Local.AddExecutions(context.Background(), "test.jsonl", &xs); err != nil {
		t.Fatal(err)
	}
}

// ExportResults writes a result bundle of the client's queued executions
// into a new folder and returns the bundle's folder.
func ExportResults(t *testing.T, cl *client.Client) string {
	t.Helper()
	out := t.TempDir()
	res, _, err := cl.ExportResults(context.Background(), out, false, "folder")
	if err != nil {
		t.Fatal(err)
	}
	return res.Dir
}

// BundleFiles lists a bundle's files in upload order: chunks, signature,
// manifest.
func BundleFiles(t *testing.T, dir string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, s := range m.Sections {
		for _, c := range s.Chunks {
			files = append(files, c.Hash)
		}
	}
	return append(files, manifest.SigName, manifest.FileName)
}
