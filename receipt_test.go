package taosync_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/taosync/taosync"
)

func TestParseReceipt(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{`{"batch":1,"id":"e1","revision":2,"content_hash":"h","status":"received"}`, true},
		{`{"batch":1,"id":"e1"}`, true},
		{`{"batch":0,"id":"e1"}`, false},
		{`{"batch":1,"id":""}`, false},
		{`{"batch":-1,"id":"e1"}`, false},
		{`{"batch":1,"id":"e1"`, false},
		{`[]`, false},
		{``, false},
	} {
		if r, ok := taosync.ParseReceipt([]byte(tc.line)); ok != tc.ok {
			t.Errorf("%s: read as %+v, %v, want %v", tc.line, r, ok, tc.ok)
		}
	}
}

// FuzzReceipt: a receipt written reads back the same; any line is read or
// refused, never a panic, and a receipt read, written again, reads back
// the same.
func FuzzReceipt(f *testing.F) {
	f.Add([]byte(`{"batch":1,"id":"e1","revision":2,"content_hash":"h","status":"received"}`), uint64(3), "e\"<", int64(-2), "h", "conflict")
	f.Add([]byte(`{"batch":1,"id":"\u00e9"}`), uint64(1), "漢", int64(0), "", "")
	f.Fuzz(func(t *testing.T, line []byte, batch uint64, id string, revision int64, hash, status string) {
		if batch != 0 && id != "" && utf8.ValidString(id) && utf8.ValidString(hash) && utf8.ValidString(status) {
			want := taosync.Receipt{Batch: batch, ID: id, Revision: revision, ContentHash: hash, Status: status}
			written := taosync.AppendReceipt(nil, want)
			if got, ok := taosync.ParseReceipt(written); !ok || got != want {
				t.Fatalf("%+v written as %s, read as %+v, %v", want, written, got, ok)
			}
		}
		r, ok := taosync.ParseReceipt(line)
		if !ok {
			return
		}
		if !json.Valid(line) || r.ID == "" || r.Batch == 0 {
			t.Fatalf("accepted %q as %+v", line, r)
		}
		again := taosync.AppendReceipt(nil, r)
		if got, ok := taosync.ParseReceipt(again); !ok || got != r {
			t.Fatalf("%q read as %+v, written as %s, read back as %+v, %v", line, r, again, got, ok)
		}
	})
}
