package importer

import (
	"encoding/json"
	"testing"

	"github.com/taosync/taosync/exporter"
)

// TestParseRecordRoundTrip checks that what the exporter writes, the
// importer reads back, on the fast path and off it.
func TestParseRecordRoundTrip(t *testing.T) {
	for _, r := range []exporter.Record{
		{ID: "t1", Version: 7, Data: []byte(`{"id":"t1","first_name":"Zoë"}`), Change: exporter.Created},
		{ID: "t\"2", Version: 1, Data: []byte(`{"id":"t\"2"}`), Change: exporter.Updated},
		{ID: "漢字", Version: 123456789, Change: exporter.Deleted},
		{ID: `back\slash`, Version: 0, Data: []byte(`{"a":{"b":[1,2,{}]}}`), Change: exporter.Updated},
	} {
		line := exporter.AppendRecord(nil, r)
		got, ok := parseRecord(line)
		if !ok || got.ID != r.ID || got.V != r.Version || got.Deleted != (r.Change == exporter.Deleted) || string(got.Data) != string(r.Data) {
			t.Errorf("%s: parsed as %+v, %v", line, got, ok)
		}
	}
}

func TestParseRecordRefuses(t *testing.T) {
	for _, line := range []string{
		``, `{}`, `{"id":""}`, `{"id":"x","v":1}`, `{"id":"x","v":1,"data":`, `{"id":"x","v":1,"data":{"a":}}`,
		`{"id":"x","v":1,"data":{"a":1},"deleted":true}`, `[1]`, `{"id":"x","v":-1,"data":{}}x`,
	} {
		if r, ok := parseRecord([]byte(line)); ok {
			t.Errorf("%q accepted as %+v", line, r)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"id":"t1","v":7,"data":{"id":"t1"}}`))
	f.Add([]byte(`{"id":"t1","v":7,"deleted":true}`))
	f.Add([]byte(`{"id":"t\u00e91","v":7,"data":{}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, ok := parseRecord(line)
		if !ok {
			return
		}
		if r.ID == "" || (!r.Deleted && !json.Valid(r.Data)) {
			t.Fatalf("accepted %q as %+v", line, r)
		}
		// What is accepted means the same as the full decoder reads.
		var full record
		if err := json.Unmarshal(line, &full); err == nil && (full.ID != r.ID || full.Deleted != r.Deleted) {
			t.Fatalf("%q: fast path %+v, decoder %+v", line, r, full)
		}
	})
}
