package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/password"
)

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{
		"people.csv":        CSV,
		"dir.v2/PEOPLE.CSV": CSV,
		"a.jsonl":           JSONL,
		"a.JsonL":           JSONL,
		"a.ndjson":          JSONL,
		"/x/y.NDJSON":       JSONL,
	} {
		got, err := FormatOf(path)
		if err != nil || got != want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, path := range []string{"a.json", "a.txt", "csv", "a.csv.gz", "a", ".jsonl.bak"} {
		_, err := FormatOf(path)
		if err == nil || !strings.Contains(err.Error(), "--format") {
			t.Errorf("FormatOf(%q) = %v; want an error telling to pass --format", path, err)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]Format{"csv": CSV, "jsonl": JSONL, "ndjson": JSONL} {
		if got, err := ParseFormat(s); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseFormat("json"); err == nil {
		t.Error("ParseFormat(json) accepted")
	}
}

func TestRowErrorString(t *testing.T) {
	e := &RowError{File: "people.csv", Line: 3, Field: "email", Reason: "invalid UTF-8"}
	if got, want := e.Error(), "people.csv:3: email: invalid UTF-8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e = &RowError{File: "d.jsonl", Line: 12, Reason: "not a JSON object"}
	if got, want := e.Error(), "d.jsonl:12: not a JSON object"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNewReaderErrors(t *testing.T) {
	if _, err := NewReader(strings.NewReader("id\n"), "f", CSV, "person"); err == nil {
		t.Error("unknown type accepted")
	}
	if _, err := NewReader(strings.NewReader("id\n"), "f", "xml", taosync.TestCenter); err == nil {
		t.Error("unknown format accepted")
	}
}

// entities loads in and returns the entities, failing on any error.
func entities(t *testing.T, f Format, typ taosync.Type, in string) []taosync.Entity {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), "f", f, typ)
	if err != nil {
		t.Fatal(err)
	}
	var out []taosync.Entity
	for {
		e, _, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

func TestEOFRepeats(t *testing.T) {
	for _, f := range []Format{CSV, JSONL} {
		in := "id,label,org_id\nc1,L,o\n"
		if f == JSONL {
			in = c1 + "\n"
		}
		r, err := NewReader(strings.NewReader(in), "f", f, taosync.TestCenter)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, _, err := r.Next(); err != io.EOF {
				t.Fatalf("%s: Next after the end = %v, want io.EOF", f, err)
			}
		}
	}
}

const (
	peopleCSV = "id,login,first_name,last_name,email,language,test_centers_note\n" +
		"p1,rené,René,Müller-Lüdenscheidt,rene@example.org,fr,é\n" +
		"p2,straße,Jürgen,Straße,j@example.org,de,ß\n" +
		"p3,kanji,漢字,山田,k@example.org,ja,漢字\n" +
		"p4,omega,Ω,Ωmega,o@example.org,el,Ω\n"
	peopleJSONL = `{"id":"p1","login":"rené","first_name":"René","last_name":"Müller-Lüdenscheidt","email":"rene@example.org","language":"fr","test_centers_note":"é"}` + "\n" +
		`{"id":"p2","login":"straße","first_name":"Jürgen","last_name":"Straße","email":"j@example.org","language":"de","test_centers_note":"ß"}` + "\n" +
		`{"id":"p3","login":"kanji","first_name":"漢字","last_name":"山田","email":"k@example.org","language":"ja","test_centers_note":"漢字"}` + "\n" +
		`{"id":"p4","login":"omega","first_name":"Ω","last_name":"Ωmega","email":"o@example.org","language":"el","test_centers_note":"Ω"}` + "\n"
)

func TestNonASCIIRoundTrip(t *testing.T) {
	want := []map[string]string{
		{"id": "p1", "login": "rené", "first_name": "René", "last_name": "Müller-Lüdenscheidt", "test_centers_note": "é"},
		{"id": "p2", "login": "straße", "first_name": "Jürgen", "last_name": "Straße", "test_centers_note": "ß"},
		{"id": "p3", "login": "kanji", "first_name": "漢字", "last_name": "山田", "test_centers_note": "漢字"},
		{"id": "p4", "login": "omega", "first_name": "Ω", "last_name": "Ωmega", "test_centers_note": "Ω"},
	}
	for _, f := range []Format{CSV, JSONL} {
		in := peopleCSV
		if f == JSONL {
			in = peopleJSONL
		}
		es := entities(t, f, taosync.TestTaker, in)
		if len(es) != len(want) {
			t.Fatalf("%s: %d entities, want %d", f, len(es), len(want))
		}
		for i, e := range es {
			var got map[string]string
			if err := json.Unmarshal(e.Data, &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range want[i] {
				if got[k] != v {
					t.Errorf("%s: entity %d: %s = %q, want %q", f, i, k, got[k], v)
				}
			}
			// UTF-8 is written as such, not as \u escapes.
			if !bytes.Contains(e.Data, []byte(want[i]["first_name"])) {
				t.Errorf("%s: Data %s does not hold %q verbatim", f, e.Data, want[i]["first_name"])
			}
		}
	}
}

// TestSameDataBothFormats checks that a row gives the same bytes whether
// it comes from CSV or JSON Lines, and from one load to the next.
func TestSameDataBothFormats(t *testing.T) {
	csvIn := "id,test_center,delivery,test_takers,proctored,room,note\n" +
		"e1,c1,d1,t1|t2,no,12,<b>&\n" +
		"e2,c1,d1,,,,\n"
	jsonIn := `{"note":"<b>&","room":"12","proctored":false,"test_takers":["t1","t2"],"delivery":"d1","test_center":"c1","id":"e1"}` + "\n" +
		`{"id":"e2","test_center":"c1","delivery":"d1","test_takers":[],"room":"","note":""}` + "\n"
	a := entities(t, CSV, taosync.Eligibility, csvIn)
	b := entities(t, CSV, taosync.Eligibility, csvIn)
	c := entities(t, JSONL, taosync.Eligibility, jsonIn)
	d := entities(t, JSONL, taosync.Eligibility, jsonIn)
	if len(a) != 2 || len(b) != 2 || len(c) != 2 || len(d) != 2 {
		t.Fatalf("got %d, %d, %d, %d entities; want 2 each", len(a), len(b), len(c), len(d))
	}
	for i := range a {
		if !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("CSV loaded twice: %s != %s", a[i].Data, b[i].Data)
		}
		if !bytes.Equal(c[i].Data, d[i].Data) {
			t.Errorf("JSONL loaded twice: %s != %s", c[i].Data, d[i].Data)
		}
		if !bytes.Equal(a[i].Data, c[i].Data) {
			t.Errorf("CSV and JSONL differ:\n%s\n%s", a[i].Data, c[i].Data)
		}
	}
	want := `{"delivery":"d1","id":"e1","note":"<b>&","proctored":false,"room":"12","test_center":"c1","test_takers":["t1","t2"]}`
	if string(a[0].Data) != want {
		t.Errorf("Data = %s\nwant   %s", a[0].Data, want)
	}
}

func TestPasswordsHashed(t *testing.T) {
	const pw = "s3cret-é 漢"
	for _, typ := range []taosync.Type{taosync.Administrator, taosync.Proctor, taosync.TestTaker} {
		for _, f := range []Format{CSV, JSONL} {
			in := "id,login,password\nu1,bob,\"" + pw + "\"\nu2,alice,\"" + pw + "\"\n"
			if f == JSONL {
				in = `{"id":"u1","login":"bob","password":"` + pw + `"}` + "\n" +
					`{"id":"u2","login":"alice","password":"` + pw + `"}` + "\n"
			}
			es := entities(t, f, typ, in)
			if len(es) != 2 {
				t.Fatalf("%s %s: %d entities, want 2", typ, f, len(es))
			}
			var hashes []string
			for _, e := range es {
				var m map[string]any
				if err := json.Unmarshal(e.Data, &m); err != nil {
					t.Fatal(err)
				}
				if _, ok := m["password"]; ok {
					t.Errorf("%s %s: password kept in %s", typ, f, e.Data)
				}
				if bytes.Contains(e.Data, []byte(pw)) {
					t.Errorf("%s %s: clear password in %s", typ, f, e.Data)
				}
				h, _ := m["password_hash"].(string)
				if !strings.HasPrefix(h, "$argon2id$") {
					t.Fatalf("%s %s: password_hash %q is not argon2id", typ, f, h)
				}
				if ok, err := password.Verify(pw, h); !ok || err != nil {
					t.Errorf("%s %s: Verify(right password) = %v, %v", typ, f, ok, err)
				}
				if ok, err := password.Verify(pw+"x", h); ok || err != nil {
					t.Errorf("%s %s: Verify(wrong password) = %v, %v", typ, f, ok, err)
				}
				hashes = append(hashes, h)
			}
			if hashes[0] == hashes[1] {
				t.Errorf("%s %s: two users with one password got the same hash (no salt?)", typ, f)
			}
		}
	}
}

func TestLongLine(t *testing.T) {
	row := func(id string, size int) string {
		// {"id":"ID","label":"L","org_id":"o","pad":"xxx…"} of exactly size bytes.
		s := `{"id":"` + id + `","label":"L","org_id":"o","pad":""}`
		return s[:len(s)-2] + strings.Repeat("x", size-len(s)) + `"}`
	}
	exact := row("c1", MaxLineLen)
	over := row("c2", MaxLineLen+1)
	if len(exact) != MaxLineLen || len(over) != MaxLineLen+1 {
		t.Fatal("bad test rows")
	}
	in := exact + "\r\n" + over + "\n" + c2 + "\n" + row("c3", 3*MaxLineLen) + "\n" + c1
	r, err := NewReader(strings.NewReader(in), "big.jsonl", JSONL, taosync.TestCenter)
	if err != nil {
		t.Fatal(err)
	}
	e, line, err := r.Next()
	if err != nil || line != 1 || e.ID != "c1" {
		t.Fatalf("line of exactly %d bytes: %v, line %d, id %q", MaxLineLen, err, line, e.ID)
	}
	_, _, err = r.Next()
	if err == nil || err.Error() != "big.jsonl:2: line longer than 16777216 bytes (16 MiB)" {
		t.Fatalf("line too long: got %v", err)
	}
	e, line, err = r.Next()
	if err != nil || line != 3 || e.ID != "c2" {
		t.Fatalf("line after the long one: %v, line %d, id %q", err, line, e.ID)
	}
	_, _, err = r.Next()
	if err == nil || !strings.HasPrefix(err.Error(), "big.jsonl:4: line longer") {
		t.Fatalf("much too long line: got %v", err)
	}
	_, line, err = r.Next()
	var re *RowError
	if !errors.As(err, &re) || line != 5 || re.Field != "id" {
		t.Fatalf("last line: %v, line %d; want duplicate id at line 5", err, line)
	}
}

// failingReader yields data, then fails.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestStreaming checks that rows come out before the input has been read to
// its end, and that an I/O error is final.
func TestStreaming(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, f := range []Format{CSV, JSONL} {
		in := "id,label,org_id\nc1,L,o\nc2,L,o\n"
		if f == JSONL {
			in = c1 + "\n" + c2 + "\n"
		}
		r, err := NewReader(&failingReader{data: []byte(in), err: boom}, "f", f, taosync.TestCenter)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"c1", "c2"} {
			e, _, err := r.Next()
			if err != nil || e.ID != id {
				t.Fatalf("%s: got %q, %v; want %s", f, e.ID, err, id)
			}
		}
		for i := 0; i < 2; i++ {
			if _, _, err := r.Next(); !errors.Is(err, boom) {
				t.Fatalf("%s: got %v, want the I/O error", f, err)
			}
		}
	}
}

// TestManyRows loads a generated file larger than any buffer, through a
// pipe, checking ids and lines as they come.
func TestManyRows(t *testing.T) {
	const n = 20000
	pr, pw := io.Pipe()
	go func() {
		w := io.Writer(pw)
		io.WriteString(w, "id,label,org_id\n")
		for i := 0; i < n; i++ {
			io.WriteString(w, "c"+itoa(i)+",\"label\nof "+itoa(i)+"\",o\n")
		}
		pw.Close()
	}()
	r, err := NewReader(pr, "many.csv", CSV, taosync.TestCenter)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		e, line, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != "c"+itoa(i) || line != 2+2*i {
			t.Fatalf("row %d: id %q line %d", i, e.ID, line)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
