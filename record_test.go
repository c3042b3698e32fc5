package taosync_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/taosync/taosync"
)

// TestParseRecordRoundTrip checks that what AppendRecord writes,
// ParseRecord reads back, on the fast path and off it.
func TestParseRecordRoundTrip(t *testing.T) {
	for _, r := range []taosync.Record{
		{ID: "t1", Version: 7, Data: []byte(`{"id":"t1","first_name":"Zoë"}`), Change: taosync.Updated},
		{ID: "t\"2", Version: 1, Data: []byte(`{"id":"t\"2"}`), Change: taosync.Updated},
		{ID: "漢字", Version: 123456789, Change: taosync.Deleted},
		{ID: `back\slash`, Version: 0, Data: []byte(`{"a":{"b":[1,2,{}]}}`), Change: taosync.Updated},
		{ID: "<&>", Version: -3, Data: []byte(`{}`), Change: taosync.Updated},
	} {
		line := taosync.AppendRecord(nil, r)
		got, ok := taosync.ParseRecord(line)
		if !ok || !sameRecord(got, r) {
			t.Errorf("%s: parsed as %+v, %v", line, got, ok)
		}
	}
}

// TestAppendRecordChanges: created, updated and unchanged records are
// written alike, with their data; a deleted one without it.
func TestAppendRecordChanges(t *testing.T) {
	for _, tc := range []struct {
		change taosync.Change
		want   string
	}{
		{taosync.Unchanged, `{"id":"a","v":2,"data":{"x":1}}`},
		{taosync.Created, `{"id":"a","v":2,"data":{"x":1}}`},
		{taosync.Updated, `{"id":"a","v":2,"data":{"x":1}}`},
		{taosync.Deleted, `{"id":"a","v":2,"deleted":true}`},
	} {
		got := taosync.AppendRecord([]byte("kept"), taosync.Record{ID: "a", Version: 2, Data: []byte(`{"x":1}`), Change: tc.change})
		if string(got) != "kept"+tc.want {
			t.Errorf("change %d: %s, want %s", tc.change, got, tc.want)
		}
	}
}

func TestParseRecordRefuses(t *testing.T) {
	for _, line := range []string{
		``, `{}`, `{"id":""}`, `{"id":"x","v":1}`, `{"id":"x","v":1,"data":`, `{"id":"x","v":1,"data":{"a":}}`,
		`{"id":"x","v":1,"data":{"a":1},"deleted":true}`, `[1]`, `{"id":"x","v":-1,"data":{}}x`,
	} {
		if r, ok := taosync.ParseRecord([]byte(line)); ok {
			t.Errorf("%q accepted as %+v", line, r)
		}
	}
}

// sameRecord reports whether a record read is the one written: the same
// id, version and data, deleted or not.
func sameRecord(got, want taosync.Record) bool {
	if (got.Change == taosync.Deleted) != (want.Change == taosync.Deleted) {
		return false
	}
	return got.ID == want.ID && got.Version == want.Version &&
		(want.Change == taosync.Deleted || bytes.Equal(got.Data, want.Data))
}

// FuzzRecord: a record written reads back the same; any line is read or
// refused, never a panic, a line read means what the full decoder reads,
// and the record read, written again, reads back the same.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"id":"t1","v":7,"data":{"id":"t1"}}`), "t1", int64(7), []byte(`{"id":"t1"}`), false)
	f.Add([]byte(`{"id":"t1","v":7,"deleted":true}`), "漢字", int64(-1), []byte(nil), true)
	f.Add([]byte(`{"id":"t\u00e91","v":7,"data":{}}`), `a"\<`, int64(1<<62), []byte(`{"a":[1,{}]}`), false)
	f.Fuzz(func(t *testing.T, line []byte, id string, v int64, data []byte, deleted bool) {
		// An entity's id is valid UTF-8 and its data a JSON object.
		if id != "" && utf8.ValidString(id) && (deleted || isObject(data)) {
			want := taosync.Record{ID: id, Version: v, Data: data, Change: taosync.Updated}
			if deleted {
				want = taosync.Record{ID: id, Version: v, Change: taosync.Deleted}
			}
			written := taosync.AppendRecord(nil, want)
			if got, ok := taosync.ParseRecord(written); !ok || !sameRecord(got, want) {
				t.Fatalf("%+v written as %s, read as %+v, %v", want, written, got, ok)
			}
		}
		r, ok := taosync.ParseRecord(line)
		if !ok {
			return
		}
		if r.ID == "" || (r.Change != taosync.Deleted && (r.Change != taosync.Updated || !json.Valid(r.Data))) {
			t.Fatalf("accepted %q as %+v", line, r)
		}
		var full struct {
			ID      string `json:"id"`
			Deleted bool   `json:"deleted"`
		}
		if err := json.Unmarshal(line, &full); err == nil && (full.ID != r.ID || full.Deleted != (r.Change == taosync.Deleted)) {
			t.Fatalf("%q: read as %+v, the decoder says %+v", line, r, full)
		}
		again := taosync.AppendRecord(nil, r)
		if got, ok := taosync.ParseRecord(again); !ok || !sameRecord(got, r) {
			t.Fatalf("%q read as %+v, written as %s, read back as %+v, %v", line, r, again, got, ok)
		}
	})
}

// isObject reports whether b is one compact-ended JSON object, as an
// entity's data is stored.
func isObject(b []byte) bool {
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}' && json.Valid(b)
}
