package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/load"
)

// The master data the fixtures in testdata/results refer to.
var held = map[taosync.Type][]string{
	taosync.Delivery:   {"webdev-1"},
	taosync.TestTaker:  {"tt-0001", "tt-0002", "tt-0003"},
	taosync.TestCenter: {"tc-north"},
}

func knownHeld(t taosync.Type, id string) (bool, error) {
	for _, h := range held[t] {
		if h == id {
			return true, nil
		}
	}
	return false, nil
}

const fixtureDir = "../../testdata/results"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallXML is a minimal valid result document.
const smallXML = `<assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p2"><context/><testResult identifier="webdev-1" datestamp="2025-06-12T10:00:00Z"/></assessmentResult>`

// absent, as a value in rec, leaves the field out.
var absent = new(int)

// rec returns a JSON line for a good finished execution with id, with the
// fields in kv (name, value pairs) changed: a string value replaces the
// field's, absent removes it, any other value is encoded as JSON. Fields are
// written in their usual order, changed ones in place, new ones last.
func rec(id string, kv ...any) string {
	names := append([]string(nil), fieldNames...)
	vals := map[string]any{
		"id": id, "delivery": "webdev-1", "test_taker": "tt-0001", "test_center": "tc-north",
		"status": "finished", "started_at": "2025-06-12T09:30:00+02:00",
		"finished_at": "2025-06-12T10:14:52+02:00", "result_xml": smallXML,
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if _, ok := vals[k]; !ok {
			names = append(names, k)
		}
		vals[k] = kv[i+1]
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range names {
		v := vals[k]
		if v == absent {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(marshal(k))
		b.WriteByte(':')
		b.Write(marshal(v))
	}
	b.WriteString("}\n")
	return b.String()
}

// readAll reads every line of in as "r.jsonl", returning for each Next up
// to io.EOF either "ok ID LINE" or the error's text.
func readAll(t *testing.T, in string, known Known) []string {
	t.Helper()
	r := NewReader(strings.NewReader(in), "r.jsonl", known)
	var got []string
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("Next never returns io.EOF")
		}
		e, line, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			var re *load.RowError
			if !errors.As(err, &re) {
				got = append(got, "final: "+err.Error())
				return got
			}
			if re.Line != line {
				t.Errorf("RowError on line %d, Next says line %d", re.Line, line)
			}
			got = append(got, err.Error())
			continue
		}
		got = append(got, "ok "+e.ID+" "+itoa(line))
	}
}

// marshal encodes v without HTML escaping, so that XML can be changed in
// the line with strings.Replace.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestFixtures(t *testing.T) {
	doc := readFixture(t, "assessmentResult.xml")
	if err := ValidateResultXML(doc); err != nil {
		t.Fatalf("assessmentResult.xml: %v", err)
	}
	data := readFixture(t, "executions.jsonl")
	r := NewReader(bytes.NewReader(data), "executions.jsonl", knownHeld)
	fixture := func(id, testTaker, status, started, finished string) taosync.Execution {
		return taosync.Execution{ID: id, Delivery: "webdev-1", TestTaker: testTaker, TestCenter: "tc-north",
			Status: status, StartedAt: started, FinishedAt: finished, ResultXML: string(doc)}
	}
	want := []taosync.Execution{
		fixture("exec-0001", "tt-0001", "finished", "2025-06-12T09:30:00+02:00", "2025-06-12T10:14:52+02:00"),
		fixture("exec-0002", "tt-0002", "finished", "2025-06-12T09:30:05+02:00", "2025-06-12T10:21:18+02:00"),
		fixture("exec-0003", "tt-0003", "terminated", "2025-06-12T09:31:40+02:00", "2025-06-12T09:58:03+02:00"),
	}
	for i, w := range want {
		e, line, err := r.Next()
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if line != i+1 {
			t.Errorf("execution %d on line %d", i+1, line)
		}
		if e != w {
			t.Errorf("line %d:\n got %+v\nwant %+v", line, e, w)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the fixtures: %v, want io.EOF", err)
	}
}

func TestReader(t *testing.T) {
	long := strings.Repeat("x", 257)
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"good", rec("e1") + rec("e2", "status", "active", "finished_at", absent, "result_xml", ""),
			[]string{"ok e1 1", "ok e2 2"}},
		{"empty file", "", nil},
		{"blank lines and CRLF", "\n  \t\r\n" + strings.ReplaceAll(rec("e1"), "\n", "\r\n") + "\n" + strings.TrimSuffix(rec("e2"), "\n"),
			[]string{"ok e1 3", "ok e2 5"}},
		{"byte order mark", "\uFEFF" + rec("e1"), []string{"ok e1 1"}},
		{"paused, finished_at empty, no result", rec("e1", "status", "paused", "finished_at", "", "result_xml", absent),
			[]string{"ok e1 1"}},
		{"terminated", rec("e1", "status", "terminated"), []string{"ok e1 1"}},
		{"finished_at equal to started_at", rec("e1", "finished_at", "2025-06-12T07:30:00Z"), []string{"ok e1 1"}},
		{"fractional seconds", rec("e1", "started_at", "2025-06-12T09:30:00.25Z", "finished_at", "2025-06-12T09:30:00.5Z"), []string{"ok e1 1"}},
		{"escaped key", strings.Replace(rec("e1"), `"id"`, `"i\u0064"`, 1), []string{"ok e1 1"}},

		// Syntax.
		{"not JSON", "id=e1\n", []string{"r.jsonl:1: invalid JSON: invalid character 'i' looking for beginning of value"}},
		{"not an object", "[1]\n", []string{"r.jsonl:1: not a JSON object"}},
		{"object across lines", "{\"id\":\n\"e1\"}\n", []string{
			"r.jsonl:1: invalid JSON: the line ends inside the object (JSON Lines needs one whole object a line)",
			"r.jsonl:2: not a JSON object",
		}},
		{"two objects on a line", strings.TrimSuffix(rec("e1"), "\n") + rec("e2"),
			[]string{"r.jsonl:1: unexpected data after the JSON object"}},
		{"unknown field", rec("e1", "colour", "blue"),
			[]string{"r.jsonl:1: colour: unknown field (an execution has only id, delivery, test_taker, test_center, status, started_at, finished_at, result_xml)"}},
		{"field names are case-sensitive", rec("e1", "ID", "x"),
			[]string{"r.jsonl:1: ID: unknown field (an execution has only id, delivery, test_taker, test_center, status, started_at, finished_at, result_xml)"}},
		{"empty field name", rec("e1", "", "x"),
			[]string{`r.jsonl:1: "": unknown field (an execution has only id, delivery, test_taker, test_center, status, started_at, finished_at, result_xml)`}},
		{"odd field name quoted", rec("e1", "a\nb: c", "x"),
			[]string{`r.jsonl:1: "a\nb: c": unknown field (an execution has only id, delivery, test_taker, test_center, status, started_at, finished_at, result_xml)`}},
		{"duplicate key", strings.Replace(rec("e1"), `"status":"finished"`, `"status":"active","status":"finished"`, 1),
			[]string{"r.jsonl:1: status: field given twice"}},
		{"duplicate key by escape", strings.Replace(rec("e1"), `"delivery"`, `"i\u0064":"e2","delivery"`, 1),
			[]string{"r.jsonl:1: id: field given twice"}},
		{"number", rec("e1", "status", 3), []string{"r.jsonl:1: status: must be a string, not a number"}},
		{"null", rec("e1", "finished_at", nil), []string{"r.jsonl:1: finished_at: must be a string, not null"}},
		{"object", rec("e1", "result_xml", map[string]string{}), []string{"r.jsonl:1: result_xml: must be a string, not an object"}},
		{"invalid UTF-8 in a value", strings.Replace(rec("e1"), "tt-0001", "tt-\xff", 1),
			[]string{"r.jsonl:1: test_taker: invalid UTF-8"}},
		{"invalid UTF-8 in the XML", strings.Replace(rec("e1"), "<context/>", "<context>\xc3</context>", 1),
			[]string{"r.jsonl:1: result_xml: invalid UTF-8"}},
		{"lone surrogate", strings.Replace(rec("e1"), "tc-north", `tc-\ud800`, 1),
			[]string{"r.jsonl:1: test_center: invalid UTF-8"}},
		{"low surrogate first", strings.Replace(rec("e1"), "tc-north", `tc-\udc00\ud800`, 1),
			[]string{"r.jsonl:1: test_center: invalid UTF-8"}},
		{"surrogate pair is fine", strings.Replace(rec("e1"), "e1", `e\ud83d\ude00`, 1),
			[]string{"ok e\U0001F600 1"}},
		{"escaped backslash before u", strings.Replace(rec("e1"), "e1", `e\\ud800`, 1),
			[]string{`ok e\ud800 1`}},
		{"invalid UTF-8 in a key", strings.Replace(rec("e1"), "{", "{\"x\xffy\":\"z\",", 1),
			[]string{"r.jsonl:1: x\uFFFDy: invalid UTF-8"}},

		// id.
		{"id missing", rec("e1", "id", absent), []string{"r.jsonl:1: id: required field is missing"}},
		{"id empty", rec(""), []string{"r.jsonl:1: id: required field is empty"}},
		{"id too long", rec(long), []string{"r.jsonl:1: id: longer than 256 bytes"}},
		{"id 256 bytes", rec(long[:256]), []string{"ok " + long[:256] + " 1"}},
		{"id with a control character", rec("e\t1"), []string{"r.jsonl:1: id: contains a control character (U+0009)"}},
		{"duplicate id", rec("e1") + rec("e2") + "\n" + rec("e1"),
			[]string{"ok e1 1", "ok e2 2", `r.jsonl:4: id: duplicate id "e1" (first on line 1)`}},
		{"duplicate of a bad line's id", rec("e1", "status", "done") + rec("e1"),
			[]string{`r.jsonl:1: status: must be one of active, paused, finished, terminated, not "done"`, `r.jsonl:2: id: duplicate id "e1" (first on line 1)`}},

		// References.
		{"delivery missing", rec("e1", "delivery", absent), []string{"r.jsonl:1: delivery: required field is missing"}},
		{"test_taker empty", rec("e1", "test_taker", ""), []string{"r.jsonl:1: test_taker: required field is empty"}},
		{"test_center missing", rec("e1", "test_center", absent), []string{"r.jsonl:1: test_center: required field is missing"}},
		{"unknown delivery", rec("e1", "delivery", "maths-9"), []string{`r.jsonl:1: delivery: unknown delivery "maths-9" (not held locally)`}},
		{"unknown test taker", rec("e1", "test_taker", "tt-9999"), []string{`r.jsonl:1: test_taker: unknown test-taker "tt-9999" (not held locally)`}},
		{"unknown test centre", rec("e1", "test_center", "tc-south"), []string{`r.jsonl:1: test_center: unknown test-center "tc-south" (not held locally)`}},
		{"a known id of the wrong type", rec("e1", "delivery", "tc-north"), []string{`r.jsonl:1: delivery: unknown delivery "tc-north" (not held locally)`}},
		{"reference too long", rec("e1", "test_taker", long), []string{"r.jsonl:1: test_taker: longer than 256 bytes"}},
		{"reference with a control character", rec("e1", "delivery", "web\ndev"), []string{"r.jsonl:1: delivery: contains a control character (U+000A)"}},

		// status.
		{"status missing", rec("e1", "status", absent), []string{"r.jsonl:1: status: required field is missing"}},
		{"status unknown", "\n" + rec("e1", "status", "done"),
			[]string{`r.jsonl:2: status: must be one of active, paused, finished, terminated, not "done"`}},
		{"status in capitals", rec("e1", "status", "Finished"),
			[]string{`r.jsonl:1: status: must be one of active, paused, finished, terminated, not "Finished"`}},

		// Times.
		{"started_at missing", rec("e1", "started_at", absent), []string{"r.jsonl:1: started_at: required field is missing"}},
		{"started_at not RFC 3339", rec("e1", "started_at", "12/06/2025 09:30"),
			[]string{`r.jsonl:1: started_at: not an RFC 3339 time (like 2025-06-12T09:30:00Z): "12/06/2025 09:30"`}},
		{"started_at without zone", rec("e1", "started_at", "2025-06-12T09:30:00"),
			[]string{`r.jsonl:1: started_at: not an RFC 3339 time (like 2025-06-12T09:30:00Z): "2025-06-12T09:30:00"`}},
		{"finished without finished_at", rec("e1", "finished_at", absent),
			[]string{"r.jsonl:1: finished_at: required when status is finished"}},
		{"terminated with empty finished_at", rec("e1", "status", "terminated", "finished_at", ""),
			[]string{"r.jsonl:1: finished_at: required when status is terminated"}},
		{"finished_at not RFC 3339", rec("e1", "finished_at", "2025-06-12T25:00:00Z"),
			[]string{`r.jsonl:1: finished_at: not an RFC 3339 time (like 2025-06-12T10:30:00Z): "2025-06-12T25:00:00Z"`}},
		{"finished_at before started_at", rec("e1", "finished_at", "2025-06-12T09:29:59+02:00"),
			[]string{"r.jsonl:1: finished_at: 2025-06-12T09:29:59+02:00 is before started_at 2025-06-12T09:30:00+02:00"}},
		{"finished_at before started_at across zones", rec("e1", "finished_at", "2025-06-12T08:00:00+01:00"),
			[]string{"r.jsonl:1: finished_at: 2025-06-12T08:00:00+01:00 is before started_at 2025-06-12T09:30:00+02:00"}},
		{"active with finished_at", rec("e1", "status", "active"),
			[]string{"r.jsonl:1: finished_at: must be empty while status is active"}},
		{"paused with finished_at", rec("e1", "status", "paused", "finished_at", "not even a time"),
			[]string{"r.jsonl:1: finished_at: must be empty while status is paused"}},

		// result_xml.
		{"finished without result", rec("e1", "result_xml", absent),
			[]string{"r.jsonl:1: result_xml: required when status is finished"}},
		{"terminated with empty result", rec("e1", "status", "terminated", "result_xml", ""),
			[]string{"r.jsonl:1: result_xml: required when status is terminated"}},
		{"bad result", rec("e1", "result_xml", "<assessmentResult/>"),
			[]string{"r.jsonl:1: result_xml: assessmentResult is in no namespace, not http://www.imsglobal.org/xsd/imsqti_result_v2p1, http://www.imsglobal.org/xsd/imsqti_result_v2p2, http://www.imsglobal.org/xsd/imsqti_result_v3p0"}},
		{"bad result while active is still checked", rec("e1", "status", "active", "finished_at", absent, "result_xml", "<x"),
			[]string{"r.jsonl:1: result_xml: not well-formed XML: line 1: unexpected EOF"}},
		{"DOCTYPE in a result", rec("e1", "result_xml", `<!DOCTYPE r [<!ENTITY a "b">]>`+smallXML),
			[]string{"r.jsonl:1: result_xml: a document type declaration (<!DOCTYPE) is not allowed"}},

		// Every bad line is reported and the good ones still read.
		{"carry on after bad lines", rec("e1", "status", "x") + "{\n" + rec("e2") + rec("e3", "delivery", "nope") + rec("e4"),
			[]string{
				`r.jsonl:1: status: must be one of active, paused, finished, terminated, not "x"`,
				"r.jsonl:2: invalid JSON: the line ends inside the object (JSON Lines needs one whole object a line)",
				"ok e2 3",
				`r.jsonl:4: delivery: unknown delivery "nope" (not held locally)`,
				"ok e4 5",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, tt.in, knownHeld)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestExact checks that what is returned is what was given, byte for byte.
func TestExact(t *testing.T) {
	xml := "<?xml version='1.0'?>\n<assessmentResult   xmlns='http://www.imsglobal.org/xsd/imsqti_result_v2p1'>\r\n\t<context/><testResult identifier='é' datestamp='x'/>\n</assessmentResult>\n<!-- end -->\n"
	in := rec("é\u2028", "test_taker", "tt-0002", "started_at", "2025-06-12T07:30:00.123456789Z", "finished_at", "2025-06-12T09:30:00.5+02:00", "result_xml", xml)
	r := NewReader(strings.NewReader(in), "r.jsonl", knownHeld)
	e, _, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := taosync.Execution{ID: "é\u2028", Delivery: "webdev-1", TestTaker: "tt-0002", TestCenter: "tc-north", Status: "finished",
		StartedAt: "2025-06-12T07:30:00.123456789Z", FinishedAt: "2025-06-12T09:30:00.5+02:00", ResultXML: xml}
	if e != want {
		t.Fatalf("got %+v\nwant %+v", e, want)
	}
}

func TestKnownCalls(t *testing.T) {
	var calls []string
	known := func(typ taosync.Type, id string) (bool, error) {
		calls = append(calls, string(typ)+" "+id)
		return true, nil
	}
	readAll(t, rec("e1")+rec("e2", "status", "bad"), known)
	want := "delivery webdev-1|test-taker tt-0001|test-center tc-north"
	if got := strings.Join(calls, "|"); got != want {
		t.Fatalf("Known called with %s, want %s (and not for a line already bad)", got, want)
	}
}

func TestKnownErrorIsFinal(t *testing.T) {
	boom := errors.New("database is locked")
	known := func(typ taosync.Type, id string) (bool, error) {
		if typ == taosync.TestTaker {
			return false, boom
		}
		return true, nil
	}
	r := NewReader(strings.NewReader(rec("e1")+rec("e2")), "r.jsonl", known)
	for i := 0; i < 2; i++ {
		_, _, err := r.Next()
		if !errors.Is(err, boom) {
			t.Fatalf("Next %d: %v, want the Known error", i+1, err)
		}
		var re *load.RowError
		if errors.As(err, &re) {
			t.Fatalf("a Known error is a RowError: %v", err)
		}
		if want := `r.jsonl:1: looking up test-taker "tt-0001": database is locked`; err.Error() != want {
			t.Fatalf("got %q, want %q", err, want)
		}
	}
}

func TestReadErrorIsFinal(t *testing.T) {
	boom := errors.New("stick pulled out")
	in := io.MultiReader(strings.NewReader(rec("e1")+`{"id":`), iotest.ErrReader(boom))
	r := NewReader(in, "r.jsonl", knownHeld)
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, _, err := r.Next()
		if !errors.Is(err, boom) || err.Error() != "read r.jsonl: stick pulled out" {
			t.Fatalf("got %v, want the read error", err)
		}
	}
}

func TestEOFRepeats(t *testing.T) {
	r := NewReader(strings.NewReader(rec("e1")), "r.jsonl", knownHeld)
	r.Next()
	for i := 0; i < 3; i++ {
		if _, _, err := r.Next(); err != io.EOF {
			t.Fatalf("got %v, want io.EOF", err)
		}
	}
}

func TestLongLine(t *testing.T) {
	// A line of exactly MaxLineBytes (plus "\r\n") is read; one byte more
	// is refused, and the next line is still read.
	fill := func(n int) string {
		s := `{"id":"`
		return s + strings.Repeat("a", n-len(s)-2) + `"}`
	}
	in := fill(MaxLineBytes) + "\r\n" + fill(MaxLineBytes+1) + "\n" + rec("e1")
	got := readAll(t, in, knownHeld)
	want := []string{
		"r.jsonl:1: id: longer than 256 bytes",
		"r.jsonl:2: line longer than 16777216 bytes (16 MiB)",
		"ok e1 3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestLongLineAtEOF(t *testing.T) {
	got := readAll(t, strings.Repeat(" ", MaxLineBytes+1), knownHeld)
	if len(got) != 1 || got[0] != "r.jsonl:1: line longer than 16777216 bytes (16 MiB)" {
		t.Fatalf("got %q", got)
	}
}

// TestTooLargeResult checks that a result over MaxResultXMLBytes is refused
// even though its line is within MaxLineBytes.
func TestTooLargeResult(t *testing.T) {
	pad := strings.Repeat(" ", MaxResultXMLBytes-len(smallXML)+1)
	got := readAll(t, rec("e1", "result_xml", smallXML+pad)+rec("e2", "result_xml", smallXML+pad[1:]), knownHeld)
	want := []string{"r.jsonl:1: result_xml: larger than 4194304 bytes (4 MiB)", "ok e2 2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func BenchmarkReader(b *testing.B) {
	data := bytes.Repeat(readFixture(b, "executions.jsonl"), 100)
	// Unique ids: the fixture's three lines, a hundred times over.
	lines := bytes.SplitAfter(data, []byte("\n"))
	var in bytes.Buffer
	for i, l := range lines {
		in.Write(bytes.Replace(l, []byte(`"exec-000`), []byte(`"exec-`+itoa(i)+`-`), 1))
	}
	b.SetBytes(int64(in.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(in.Bytes()), "bench.jsonl", knownHeld)
		for {
			_, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
