package load

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/taosync/taosync"
)

var csvSeeds = map[taosync.Type]string{
	taosync.TestCenter:    "id,label,org_id\nc1,Centre é,org1\n\"c2\",\"two\nlines\",org1\n",
	taosync.Administrator: "\uFEFFid,login,first_name,test_centers\na1,admin,Ω,c1|c2\n",
	taosync.Proctor:       "id,login,password_hash,test_centers,extra\np1,proc,$2b$10$x,c1,\n",
	taosync.TestTaker:     "id,login,email,language,password\nt1,漢字,t@example.org,ja,\nt2,ß,,de,\n",
	taosync.Eligibility:   "id,test_center,delivery,test_takers,proctored\ne1,c1,d1,t1|t2,no\ne2,c1,d1,,\n",
	taosync.Delivery:      "id,label,max_executions,start,end\r\nd1,Maths,3,2026-03-01T09:00:00Z,2026-03-01T17:00:00+02:00\r\nd2,L,,,\r\n",
}

var jsonlSeeds = map[taosync.Type]string{
	taosync.TestCenter:    `{"id":"c1","label":"Centre é","org_id":"org1","extra":{"a":[1,2.5,null]}}` + "\n",
	taosync.Administrator: `{"id":"a1","login":"admin","first_name":"Ω","test_centers":["c1","c2"]}` + "\n\n",
	taosync.Proctor:       `{"id":"p1","login":"proc","password_hash":"$2b$10$x","test_centers":[]}` + "\r\n",
	taosync.TestTaker:     `{"id":"t1","login":"漢字","email":"t@example.org","language":"ja"}` + "\n" + `{"id":"t2","login":"ß","email":""}`,
	taosync.Eligibility:   `{"id":"e1","test_center":"c1","delivery":"d1","test_takers":["t1"],"proctored":false}` + "\n",
	taosync.Delivery:      `{"id":"d1","label":"Maths","max_executions":3,"start":"2026-03-01T09:00:00Z","end":"2026-03-01T17:00:00+02:00"}` + "\n",
}

func FuzzCSV(f *testing.F)   { fuzz(f, CSV, csvSeeds) }
func FuzzJSONL(f *testing.F) { fuzz(f, JSONL, jsonlSeeds) }

func fuzz(f *testing.F, format Format, seeds map[taosync.Type]string) {
	for i, typ := range taosync.Types {
		f.Add(uint8(i), []byte(seeds[typ]))
	}
	f.Fuzz(func(t *testing.T, ti uint8, data []byte) {
		typ := taosync.Types[int(ti)%len(taosync.Types)]
		first := loadChecked(t, format, typ, data)
		// With the hash made deterministic, nothing is random: a second
		// load gives the same bytes.
		second := loadChecked(t, format, typ, data)
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("two loads differ:\n%q\n%q", first, second)
		}
	})
}

// loadChecked loads data, checking every outcome, and returns the Data of
// the entities.
func loadChecked(t *testing.T, format Format, typ taosync.Type, data []byte) [][]byte {
	r, err := NewReader(bytes.NewReader(data), "fuzz", format, typ)
	if err != nil {
		var re *RowError
		if !errors.As(err, &re) {
			t.Fatalf("NewReader: %v is not a *RowError", err)
		}
		return nil
	}
	// argon2id at 19 MiB per password would slow fuzzing to a crawl, and
	// its randomness would defeat the determinism check; password hashing
	// itself is tested in TestPasswordsHashed and in package password.
	r.hash = fakeHash
	var out [][]byte
	for i := 0; ; i++ {
		if i > len(data)+2 {
			t.Fatal("Next makes no progress")
		}
		e, line, err := r.Next()
		if err == io.EOF {
			return out
		}
		if line < 1 {
			t.Fatalf("line %d", line)
		}
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) || re.Line != line {
				t.Fatalf("Next: %v (%T), line %d", err, err, line)
			}
			continue
		}
		checkEntity(t, typ, e)
		out = append(out, e.Data)
	}
}

// checkEntity parses Data, checks what Reader promises of it, encodes it
// again and checks the result parses to the same thing.
func checkEntity(t *testing.T, typ taosync.Type, e taosync.Entity) {
	t.Helper()
	if e.Type != typ {
		t.Fatalf("type %q, want %q", e.Type, typ)
	}
	if !utf8.Valid(e.Data) || !json.Valid(e.Data) {
		t.Fatalf("Data is not valid UTF-8 JSON: %q", e.Data)
	}
	parse := func(b []byte) map[string]any {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("Data %q: %v", b, err)
		}
		if dec.More() {
			t.Fatalf("Data %q: more than one value", b)
		}
		return m
	}
	m := parse(e.Data)
	again, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encoding %q again: %v", e.Data, err)
	}
	if m2 := parse(again); !reflect.DeepEqual(m, m2) {
		t.Fatalf("parse-encode-parse differs: %v, %v", m, m2)
	}
	id, ok := m["id"].(string)
	if !ok || id != e.ID {
		t.Fatalf("Data id %v, Entity.ID %q", m["id"], e.ID)
	}
	if id == "" || len(id) > MaxIDLen {
		t.Fatalf("bad id %q", id)
	}
	for _, c := range id {
		if unicode.IsControl(c) {
			t.Fatalf("control character in id %q", id)
		}
	}
	for _, bad := range []string{"password", taosync.PackageField} {
		if _, ok := m[bad]; ok {
			t.Fatalf("Data has %q: %s", bad, e.Data)
		}
	}
	for _, f := range taosync.Fields[typ] {
		v, ok := m[f.Name]
		if !ok {
			if f.Required || f.Default != nil {
				t.Fatalf("field %s missing from %s", f.Name, e.Data)
			}
			continue
		}
		switch f.Kind {
		case taosync.String, taosync.Time:
			s, ok := v.(string)
			if !ok || s == "" {
				t.Fatalf("field %s = %#v, want a non-empty string", f.Name, v)
			}
		case taosync.List:
			l, ok := v.([]any)
			if !ok {
				t.Fatalf("field %s = %#v, want a list", f.Name, v)
			}
			for _, x := range l {
				if s, ok := x.(string); !ok || s == "" {
					t.Fatalf("field %s element %#v, want a non-empty string", f.Name, x)
				}
			}
		case taosync.Bool:
			if _, ok := v.(bool); !ok {
				t.Fatalf("field %s = %#v, want a boolean", f.Name, v)
			}
		case taosync.Int:
			n, ok := v.(json.Number)
			if !ok {
				t.Fatalf("field %s = %#v, want a number", f.Name, v)
			}
			if i, err := n.Int64(); err != nil || i < 0 {
				t.Fatalf("field %s = %s, want a non-negative integer", f.Name, n)
			}
		}
	}
}

// fakeHash stands for password.Hash in fuzzing: cheap, deterministic, and
// not holding the password in clear.
func fakeHash(pw string) (string, error) {
	sum := sha256.Sum256([]byte(pw))
	return "$fake$" + hex.EncodeToString(sum[:]), nil
}
