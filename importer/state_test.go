package importer_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/taosync/taosync/importer"
)

var stateCases = []struct {
	state string
	ok    bool
}{
	{`{}`, true},
	{`{"data_seq":3,"data_bundle":"0123456789abcdef0123456789abcdef","receipt_seq":2,"taosync_version":"v1.2.0","free_disk_bytes":-1,"clock":"2026-01-02T03:04:05Z"}`, true},
	{`{"data_seq":3,"data_bundle":"0123456789ABCDEF0123456789ABCDEF"}`, false},
	{`{"data_seq":3,"data_bundle":"../../etc"}`, false},
	{`{"data_seq":3}`, false},
	{`{"data_bundle":"0123456789abcdef0123456789abcdef"}`, false},
	{`{"data_seq":-1}`, false},
	{`{"data_seq":18446744073709551616}`, false},
	{`{"receipt_seq":"1"}`, false},
	{`{"taosync_version":"` + strings.Repeat("v", 65) + `"}`, false},
	{`{"taosync_version":"v1\n"}`, false},
	{`{"free_disk_bytes":-2}`, false},
	{`{"clock":"` + strings.Repeat("f", 10000) + `"}`, false},
	{`[]`, false},
}

// TestParseClientState: a result bundle's client state is read only in
// shape; the message of a refusal is one short line.
func TestParseClientState(t *testing.T) {
	for _, tc := range stateCases {
		_, err := importer.ParseClientState([]byte(tc.state))
		if (err == nil) != tc.ok {
			t.Errorf("%.80s: %v, want ok %v", tc.state, err, tc.ok)
		}
		if err != nil && (len(err.Error()) > 300 || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%.80s: a message of %d bytes: %.300q", tc.state, len(err.Error()), err)
		}
	}
}

// FuzzParseClientState: any bytes are parsed or refused, never a panic;
// a state taken is taken again, the same, once encoded.
func FuzzParseClientState(f *testing.F) {
	for _, tc := range stateCases {
		f.Add([]byte(tc.state))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := importer.ParseClientState(raw)
		if err != nil {
			return
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := importer.ParseClientState(b)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("%s taken as %+v, its encoding %s as %+v, %v", raw, s, b, again, err)
		}
	})
}
