package taosync

import (
	"encoding/json"
	"os"
	"testing"
	"unicode/utf8"
)

// executionLines are execution records as AppendExecution writes them, with
// every character encoding/json escapes.
func executionLines(t testing.TB) [][]byte {
	doc, err := os.ReadFile("testdata/results/assessmentResult.xml")
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, x := range []OutgoingExecution{
		{Execution: Execution{ID: "e1", Delivery: "d1", TestTaker: "t1", TestCenter: "c1", Status: "finished",
			StartedAt: "2027-06-14T08:30:00Z", FinishedAt: "2027-06-14T09:30:00Z", ResultXML: string(doc)}, Revision: 3},
		{Execution: Execution{ID: "e\"2\\", Delivery: "d<&>", Status: "active", StartedAt: "x",
			ResultXML: "\x00\x01\b\t\n\f\r\x1f\x7f \u2028\u2029 \ufffd é 漢字 😀 </>"}, Revision: 0},
		{Execution: Execution{ID: "漢", ResultXML: ""}, Revision: 123456789012345678},
	} {
		x.ContentHash = x.Execution.ContentHash()
		lines = append(lines, AppendExecution(nil, x))
	}
	return lines
}

// TestParseExecutionFast checks that what AppendExecution writes takes the
// fast path, and reads as the full decoder reads it, with the same hash.
func TestParseExecutionFast(t *testing.T) {
	for _, line := range executionLines(t) {
		if _, _, ok := fastExecution(line); !ok {
			t.Errorf("%s: not on the fast path", line)
		}
		x, hash, ok := ParseExecution(line)
		var want OutgoingExecution
		if err := json.Unmarshal(line, &want); err != nil {
			t.Fatal(err)
		}
		if !ok || x != want || hash != want.ContentHash {
			t.Errorf("%s: parsed as %+v, %s, %v", line, x, hash, ok)
		}
	}
}

// TestParseExecutionSlow checks lines AppendExecution does not write: valid
// ones are read as the full decoder reads them, hashed as Execution's
// encoding; invalid ones are refused.
func TestParseExecutionSlow(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{`{"id":"e1","revision":1,"content_hash":"h"}`, true},
		{`{"id":"e1","delivery":"d","test_taker":"","test_center":"","status":"","started_at":"","finished_at":"","result_xml":"\u003c","revision":1,"content_hash":"h"}`, true},
		{`{"id":"e1","delivery":"d","test_taker":"","test_center":"","status":"","started_at":"","result_xml":"\u003C\/","revision":1,"content_hash":"h"}`, true},
		{`{"id":"e1","delivery":"d","test_taker":"","test_center":"","status":"","started_at":"","result_xml":"<\u0041\ud83d\ude00","revision":1,"content_hash":"h"}`, true},
		{`{"id":"e1","delivery":"d","test_taker":"","test_center":"","status":"","started_at":"","result_xml":"","revision":1,"content_hash":"h"}` + "\r", true},
		{`{"ID":"e1","Revision":-2}`, true},
		{`{"id":"e1","delivery":"d","test_taker":"","test_center":"","status":"","started_at":"","result_xml":"","revision":01,"content_hash":"h"}`, false},
		{`{"id":"e1","delivery":"d","test_taker":"","test_center":"","status":"","started_at":"","result_xml":"` + "\x01" + `","revision":1,"content_hash":"h"}`, false},
		{`{"id":"","revision":1}`, false},
		{`{"id":"e1"`, false},
		{`{"id":"e1"}x`, false},
		{`[]`, false},
		{``, false},
	} {
		x, hash, ok := ParseExecution([]byte(tc.line))
		if ok != tc.ok {
			t.Errorf("%s: ok %v, want %v", tc.line, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		var want OutgoingExecution
		if err := json.Unmarshal([]byte(tc.line), &want); err != nil {
			t.Fatal(err)
		}
		if x != want || hash != want.Execution.ContentHash() {
			t.Errorf("%s: parsed as %+v, %s", tc.line, x, hash)
		}
	}
}

// TestCanonicalString: a JSON string is read only when it is exactly as
// encoding/json writes it, escapes cut short at the end included.
func TestCanonicalString(t *testing.T) {
	for _, tc := range []struct {
		in, want, rest string
		ok             bool
	}{
		{`"plain"x`, "plain", "x", true},
		{`"a\"b\\c"`, `a"b\c`, "", true},
		{`"\u003c\u003e\u0026"}`, "<>&", "}", true},
		{`"\n\t\r\b\f\u001f\u0000"`, "\n\t\r\b\f\x1f\x00", "", true},
		{`"\u2028\u2029 é 漢"`, "\u2028\u2029 é 漢", "", true},
		{`""`, "", "", true},
		{`"\`, "", "", false},
		{`"a\`, "", "", false},
		{`"\u00`, "", "", false},
		{`"\u003`, "", "", false},
		{`"\u003c`, "", "", false},
		{`"\u003C"`, "", "", false}, // upper-case hex
		{`"\u00e9"`, "", "", false}, // é is written as it is
		{`"\u000a"`, "", "", false}, // a new line is \n
		{`"\/"`, "", "", false},
		{`"<"`, "", "", false},
		{"\"\u2028\"", "", "", false},
		{"\"\x01\"", "", "", false},
		{"\"\xff\"", "", "", false},
		{`"no end`, "", "", false},
		{`x"`, "", "", false},
		{``, "", "", false},
	} {
		s, rest, ok := canonicalString([]byte(tc.in))
		if ok != tc.ok || (ok && (s != tc.want || string(rest) != tc.rest)) {
			t.Errorf("%q: %q, rest %q, %v; want %q, rest %q, %v", tc.in, s, rest, ok, tc.want, tc.rest, tc.ok)
		}
	}
}

// FuzzExecution: an execution written reads back the same, with its
// content hash; any line the fast path accepts means the same to the full
// decoder, with the same content hash (receipts and the clients' outboxes
// compare it); any line read, written again, reads back the same.
func FuzzExecution(f *testing.F) {
	for _, line := range executionLines(f) {
		f.Add(line, "e", "d", "<&>\u2028", "2027-06-14T08:30:00Z", "", int64(2))
	}
	f.Add([]byte(`{"id":"e","delivery":"","test_taker":"","test_center":"","status":"","started_at":"","finished_at":"f","result_xml":"\u00e9\u001f\n","revision":0,"content_hash":""}`),
		"漢", "", "\x00\x7f", "", "f", int64(-1))
	f.Fuzz(func(t *testing.T, line []byte, id, delivery, doc, started, finished string, revision int64) {
		if id != "" && validUTF8(id, delivery, doc, started, finished) {
			want := OutgoingExecution{Execution: Execution{ID: id, Delivery: delivery, ResultXML: doc, StartedAt: started, FinishedAt: finished}, Revision: revision}
			want.ContentHash = want.Execution.ContentHash()
			written := AppendExecution(nil, want)
			if got, hash, ok := ParseExecution(written); !ok || got != want || hash != want.ContentHash {
				t.Fatalf("%+v written as %s, read as %+v, %s, %v", want, written, got, hash, ok)
			}
		}
		x, hash, ok := ParseExecution(line)
		if !ok {
			return
		}
		if again, hash2, ok := ParseExecution(AppendExecution(nil, x)); !ok || again != x || hash2 != hash {
			t.Fatalf("%q read as %+v, written again read as %+v, %s, %v", line, x, again, hash2, ok)
		}
		x, end, ok := fastExecution(line)
		if !ok {
			return
		}
		var want OutgoingExecution
		if err := json.Unmarshal(line, &want); err != nil || want.ID == "" {
			t.Fatalf("%q accepted, the decoder says %v", line, err)
		}
		if x != want {
			t.Fatalf("%q: fast path %+v, decoder %+v", line, x, want)
		}
		enc, err := json.Marshal(&want.Execution)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(line[:end]) + "}"; got != string(enc) {
			t.Fatalf("%q: hashed %q, the encoding is %q", line, got, enc)
		}
	})
}

func BenchmarkParseExecution(b *testing.B) {
	line := executionLines(b)[0]
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, _, ok := ParseExecution(line); !ok {
			b.Fatal("refused")
		}
	}
}

// validUTF8 reports whether every string is valid UTF-8 (encoding/json
// writes any other with U+FFFD in place of the invalid bytes).
func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
