package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/taosync/taosync"
)

// readAll loads in and describes each outcome: "LINE DATA" for an entity,
// the error text for a bad row (or for NewReader's error).
func readAll(t *testing.T, f Format, typ taosync.Type, file, in string) []string {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), file, f, typ)
	if err != nil {
		var re *RowError
		if !errors.As(err, &re) {
			t.Fatalf("NewReader: %v is not a *RowError", err)
		}
		return []string{err.Error()}
	}
	var out []string
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("Next never returns io.EOF")
		}
		e, line, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("Next: %v is not a *RowError", err)
			}
			if re.Line != line {
				t.Errorf("RowError line %d, Next line %d", re.Line, line)
			}
			out = append(out, err.Error())
			continue
		}
		if e.Type != typ {
			t.Errorf("entity type %q, want %q", e.Type, typ)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(e.Data))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("Data %s: %v", e.Data, err)
		}
		if m["id"] != e.ID {
			t.Errorf("Data id %v, Entity.ID %q", m["id"], e.ID)
		}
		out = append(out, fmt.Sprintf("%d %s", line, e.Data))
	}
}

type loadCase struct {
	name string
	typ  taosync.Type
	in   string
	want []string
}

func runCases(t *testing.T, f Format, file string, cases []loadCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := readAll(t, f, c.typ, file, c.in)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("input:\n%s\ngot:\n%s\nwant:\n%s", c.in, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

const (
	c1 = `{"id":"c1","label":"L","org_id":"o"}`
	c2 = `{"id":"c2","label":"L","org_id":"o"}`
)

var long256 = strings.Repeat("x", 256)

func TestCSV(t *testing.T) {
	tc, tt, el, dl := taosync.TestCenter, taosync.TestTaker, taosync.Eligibility, taosync.Delivery
	hdr := "id,label,org_id\n"
	runCases(t, CSV, "f.csv", []loadCase{
		// Header.
		{"ok", tc, hdr + "c1,L,o\n", []string{"2 " + c1}},
		{"no final newline", tc, hdr + "c1,L,o", []string{"2 " + c1}},
		{"header trimmed, BOM, CRLF", tc, "\uFEFF id ,label , org_id\r\nc1,L,o\r\n", []string{"2 " + c1}},
		{"column order free", tc, "org_id,id,label\no,c1,L\n", []string{"2 " + c1}},
		{"empty file", tc, "", []string{"f.csv:1: empty file: a header row naming the columns is required"}},
		{"BOM only", tc, "\uFEFF", []string{"f.csv:1: empty file: a header row naming the columns is required"}},
		{"header only", tc, hdr, nil},
		{"empty column name", tc, "id,,label,org_id\n", []string{"f.csv:1: column 2 has no name"}},
		{"blank column name", tc, "id,label,org_id, \n", []string{"f.csv:1: column 4 has no name"}},
		{"duplicate column", tc, "id,label, label,org_id\n", []string{"f.csv:1: label: duplicate column"}},
		{"no id column", tc, "label,org_id\nL,o\n", []string{"f.csv:1: id: required column is missing"}},
		{"id column is case-sensitive", tc, "ID,label,org_id\nc1,L,o\n", []string{"f.csv:1: id: required column is missing"}},
		{"required column missing", tc, "id,label\nc1,L\n", []string{"f.csv:1: org_id: required column is missing"}},
		{"package column", tc, "id,label,org_id,package\n", []string{"f.csv:1: package: set by central on publish; a loaded file may not give it"}},
		{"package column delivery", dl, "id,label,package\n", []string{"f.csv:1: package: set by central on publish; a loaded file may not give it"}},
		{"password column not allowed", tc, "id,label,org_id,password\n", []string{"f.csv:1: password: not allowed for type test-center (only administrator, proctor, test-taker)"}},
		{"password column not allowed delivery", dl, "id,label,password\n", []string{"f.csv:1: password: not allowed for type delivery (only administrator, proctor, test-taker)"}},
		{"invalid UTF-8 column name", tc, "id,label,org_id,x\xff\n", []string{"f.csv:1: x\uFFFD: invalid UTF-8 in column name"}},
		{"malformed header", tc, "id,la\"bel,org_id\n", []string{"f.csv:1: malformed CSV at line 1, column 6: bare \" in non-quoted-field"}},

		// Rows.
		{"column count", tc, hdr + "c1,L\nc2,L,o,x\nc3,L,o\n", []string{
			"f.csv:2: row has 2 columns, the header 3",
			"f.csv:3: row has 4 columns, the header 3",
			`4 {"id":"c3","label":"L","org_id":"o"}`,
		}},
		{"id empty", tc, hdr + ",L,o\n", []string{"f.csv:2: id: required field is empty"}},
		{"id 256 bytes", tc, hdr + long256 + ",L,o\n", []string{`2 {"id":"` + long256 + `","label":"L","org_id":"o"}`}},
		{"id 257 bytes", tc, hdr + long256 + "y,L,o\n", []string{"f.csv:2: id: longer than 256 bytes"}},
		{"id control character", tc, hdr + "a\tb,L,o\n\"a\nb\",L,o\na\u0085b,L,o\na\x7fb,L,o\n", []string{
			"f.csv:2: id: contains a control character (U+0009)",
			"f.csv:3: id: contains a control character (U+000A)",
			"f.csv:5: id: contains a control character (U+0085)",
			"f.csv:6: id: contains a control character (U+007F)",
		}},
		{"text control character", tc, hdr + "c1,\"L\x00\",o\nc2,L\x1b,o\nc3,L,o\u009b\nc4,\"two\r\nlines\tand a tab\",o\n", []string{
			"f.csv:2: label: contains a control character (U+0000)",
			"f.csv:3: label: contains a control character (U+001B)",
			"f.csv:4: org_id: contains a control character (U+009B)",
			`5 {"id":"c4","label":"two\nlines\tand a tab","org_id":"o"}`,
		}},
		{"id with spaces and non-ASCII kept", tc, hdr + " é 1 ,L,o\n", []string{`2 {"id":" é 1 ","label":"L","org_id":"o"}`}},
		{"duplicate id", tc, hdr + "c1,L,o\nc2,L,o\nc1,L,o\n", []string{"2 " + c1, "3 " + c2, `f.csv:4: id: duplicate id "c1" (first on line 2)`}},
		{"required field empty", tc, hdr + "c1,,o\n", []string{"f.csv:2: label: required field is empty"}},
		{"unknown columns kept as strings", tc, "id,label,org_id,Notes,zz,n\nc1,L,o,,x,007\n", []string{
			`2 {"Notes":"","id":"c1","label":"L","n":"007","org_id":"o","zz":"x"}`,
		}},
		{"HTML characters not escaped", tc, hdr + "c1,<a&b>,o\n", []string{`2 {"id":"c1","label":"<a&b>","org_id":"o"}`}},
		{"malformed row then good row", tc, hdr + "c1,L\"x,o\nc2,L,o\n", []string{
			"f.csv:2: malformed CSV at line 2, column 5: bare \" in non-quoted-field",
			"3 " + c2,
		}},
		{"unterminated quote", tc, hdr + "c1,\"L,o\nc2,L,o\n", []string{
			"f.csv:2: malformed CSV at line 3, column 8: extraneous or missing \" in quoted-field",
		}},
		{"embedded newlines keep line numbers", tc, hdr + "c1,\"two\nlines\",o\nc2,L,o\n\"c3\",\"a\r\nb\r\nc\",o\nc1,L,o\n", []string{
			`2 {"id":"c1","label":"two\nlines","org_id":"o"}`,
			"4 " + c2,
			`5 {"id":"c3","label":"a\nb\nc","org_id":"o"}`,
			`f.csv:8: id: duplicate id "c1" (first on line 2)`,
		}},
		{"blank lines skipped", tc, hdr + "\nc1,L,o\n\n\nc2,L,o\n", []string{"3 " + c1, "6 " + c2}},
		{"quoted values", tc, hdr + "\"c1\",\"L, \"\"quoted\"\"\",o\n", []string{`2 {"id":"c1","label":"L, \"quoted\"","org_id":"o"}`}},

		// UTF-8.
		{"invalid UTF-8", tt, "id,login,email\nt1,a,a@x\nt2,b,\xff@x\n", []string{
			`2 {"email":"a@x","id":"t1","login":"a"}`,
			"f.csv:3: email: invalid UTF-8",
		}},
		{"invalid UTF-8 in id", tt, "id,login\nt\xc3,a\n", []string{"f.csv:2: id: invalid UTF-8"}},
		{"invalid UTF-8 in unknown column", tt, "id,login,Extra\nt1,a,\xed\xa0\x80\n", []string{"f.csv:2: Extra: invalid UTF-8"}},

		// Strings and passwords.
		{"empty optional strings absent", tt, "id,login,password_hash,first_name,last_name,email,language\nt1,bob,,,,,\n", []string{`2 {"id":"t1","login":"bob"}`}},
		{"password_hash taken as is", tt, "id,login,password_hash\nt1,bob,$2b$whatever\n", []string{`2 {"id":"t1","login":"bob","password_hash":"$2b$whatever"}`}},
		{"password and password_hash", tt, "id,login,password,password_hash\nt1,bob,pw,h\nt2,bob,,h\nt3,bob,,\n", []string{
			"f.csv:2: password: both password and password_hash given (give one)",
			`3 {"id":"t2","login":"bob","password_hash":"h"}`,
			`4 {"id":"t3","login":"bob"}`,
		}},
		{"required login empty", tt, "id,login\nt1,\n", []string{"f.csv:2: login: required field is empty"}},

		// Lists and booleans.
		{"lists", el, "id,test_center,delivery,test_takers\ne1,c1,d1,t1|t 2|t3\ne2,c1,d1,\ne3,c1,d1,t1\n", []string{
			`2 {"delivery":"d1","id":"e1","proctored":true,"test_center":"c1","test_takers":["t1","t 2","t3"]}`,
			`3 {"delivery":"d1","id":"e2","proctored":true,"test_center":"c1","test_takers":[]}`,
			`4 {"delivery":"d1","id":"e3","proctored":true,"test_center":"c1","test_takers":["t1"]}`,
		}},
		{"empty list elements", el, "id,test_center,delivery,test_takers\ne1,c1,d1,t1||t2\ne2,c1,d1,|t1\ne3,c1,d1,t1|\ne4,c1,d1,|\n", []string{
			"f.csv:2: test_takers: element 2 of the list is empty",
			"f.csv:3: test_takers: element 1 of the list is empty",
			"f.csv:4: test_takers: element 2 of the list is empty",
			"f.csv:5: test_takers: element 1 of the list is empty",
		}},
		{"booleans", el, "id,test_center,delivery,proctored\na,c,d,TRUE\nb,c,d,False\nc,c,d,1\nd,c,d,0\ne,c,d,yes\nf,c,d,NO\ng,c,d,\nh,c,d,maybe\ni,c,d, true\nj,c,d,2\n", []string{
			`2 {"delivery":"d","id":"a","proctored":true,"test_center":"c"}`,
			`3 {"delivery":"d","id":"b","proctored":false,"test_center":"c"}`,
			`4 {"delivery":"d","id":"c","proctored":true,"test_center":"c"}`,
			`5 {"delivery":"d","id":"d","proctored":false,"test_center":"c"}`,
			`6 {"delivery":"d","id":"e","proctored":true,"test_center":"c"}`,
			`7 {"delivery":"d","id":"f","proctored":false,"test_center":"c"}`,
			`8 {"delivery":"d","id":"g","proctored":true,"test_center":"c"}`,
			`f.csv:9: proctored: not a boolean: "maybe" (want true/false, 1/0 or yes/no)`,
			`f.csv:10: proctored: not a boolean: " true" (want true/false, 1/0 or yes/no)`,
			`f.csv:11: proctored: not a boolean: "2" (want true/false, 1/0 or yes/no)`,
		}},
		{"required reference empty", el, "id,test_center,delivery\ne1,,d\n", []string{"f.csv:2: test_center: required field is empty"}},

		// Integers and times.
		{"delivery", dl, "id,label,max_executions,start,end\nd1,L,5,2026-03-01T09:00:00Z,2026-03-01T17:00:00.5+02:00\nd2,L,,,\n", []string{
			`2 {"end":"2026-03-01T17:00:00.5+02:00","id":"d1","label":"L","max_executions":5,"start":"2026-03-01T09:00:00Z"}`,
			`3 {"id":"d2","label":"L","max_executions":0}`,
		}},
		{"default max_executions without column", dl, "id,label\nd1,L\n", []string{`2 {"id":"d1","label":"L","max_executions":0}`}},
		{"integers", dl, "id,label,max_executions\na,L,+7\nb,L,007\nc,L,-1\nd,L,1.5\ne,L,1e3\nf,L,99999999999999999999\ng,L, 5\nh,L,0x10\ni,L,-0\n", []string{
			`2 {"id":"a","label":"L","max_executions":7}`,
			`3 {"id":"b","label":"L","max_executions":7}`,
			"f.csv:4: max_executions: must not be negative (0 means unlimited): -1",
			`f.csv:5: max_executions: not an integer: "1.5"`,
			`f.csv:6: max_executions: not an integer: "1e3"`,
			`f.csv:7: max_executions: integer out of range: "99999999999999999999"`,
			`f.csv:8: max_executions: not an integer: " 5"`,
			`f.csv:9: max_executions: not an integer: "0x10"`,
			`10 {"id":"i","label":"L","max_executions":0}`,
		}},
		{"times", dl, "id,label,start\na,L,2026-03-01\nb,L,2026-03-01 09:00:00Z\nc,L,2026-03-01T09:00:00\nd,L,2026-13-01T09:00:00Z\n", []string{
			`f.csv:2: start: not an RFC 3339 time: "2026-03-01" (e.g. 2026-03-01T09:00:00Z)`,
			`f.csv:3: start: not an RFC 3339 time: "2026-03-01 09:00:00Z" (e.g. 2026-03-01T09:00:00Z)`,
			`f.csv:4: start: not an RFC 3339 time: "2026-03-01T09:00:00" (e.g. 2026-03-01T09:00:00Z)`,
			`f.csv:5: start: not an RFC 3339 time: "2026-13-01T09:00:00Z" (e.g. 2026-03-01T09:00:00Z)`,
		}},
		{"administrator", taosync.Administrator, "id,login,test_centers\na1,admin,c1|c2\n", []string{
			`2 {"id":"a1","login":"admin","test_centers":["c1","c2"]}`,
		}},
	})
}

func TestJSONL(t *testing.T) {
	tc, tt, el, dl := taosync.TestCenter, taosync.TestTaker, taosync.Eligibility, taosync.Delivery
	runCases(t, JSONL, "f.jsonl", []loadCase{
		{"ok", tc, c1 + "\n", []string{"1 " + c1}},
		{"no final newline", tc, c1, []string{"1 " + c1}},
		{"empty file", tc, "", nil},
		{"blank lines, CRLF, BOM", tc, "\uFEFF\n  \r\n" + c1 + "\r\n\n\t\n" + c2, []string{"3 " + c1, "6 " + c2}},
		{"spaces and key order", tc, ` { "org_id" : "o", "label": "L" ,"id":"c1" } ` + "\n", []string{"1 " + c1}},
		{"spaces around values", el, ` { "id" : "e1" , "test_center" : "c" , "delivery" : "d" , "proctored" : false , "test_takers" : [ "t1" , "t2" ] , "x" : [ 1 , 2 ] } `, []string{
			`1 {"delivery":"d","id":"e1","proctored":false,"test_center":"c","test_takers":["t1","t2"],"x":[1,2]}`,
		}},
		{"not an object", tc, "[1]\n\"x\"\nnull\n5\n", []string{
			"f.jsonl:1: not a JSON object",
			"f.jsonl:2: not a JSON object",
			"f.jsonl:3: not a JSON object",
			"f.jsonl:4: not a JSON object",
		}},
		{"invalid JSON then good", tc, `{"id":"c1",` + "\n" + `{"id" "c1"}` + "\n" + c2 + "\n", []string{
			"f.jsonl:1: invalid JSON: the line ends inside the object (JSON Lines needs one whole object per line)",
			"f.jsonl:2: invalid JSON: expected colon after object key",
			"3 " + c2,
		}},
		{"data after the object", tc, c1 + " " + c2 + "\n" + c1 + "x\n", []string{
			"f.jsonl:1: unexpected data after the JSON object",
			"f.jsonl:2: unexpected data after the JSON object",
		}},
		{"id missing", tc, `{"label":"L","org_id":"o"}`, []string{"f.jsonl:1: id: required field is missing"}},
		{"id not a string", tc, `{"id":1,"label":"L","org_id":"o"}` + "\n" + `{"id":null,"label":"L","org_id":"o"}`, []string{
			"f.jsonl:1: id: must be a string, not a number",
			"f.jsonl:2: id: must be a string, not null",
		}},
		{"id empty", tc, `{"id":"","label":"L","org_id":"o"}`, []string{"f.jsonl:1: id: required field is empty"}},
		{"id 257 bytes", tc, `{"id":"` + long256 + `y","label":"L","org_id":"o"}`, []string{"f.jsonl:1: id: longer than 256 bytes"}},
		{"id control character", tc, `{"id":"a\u0007b","label":"L","org_id":"o"}`, []string{"f.jsonl:1: id: contains a control character (U+0007)"}},
		{"text control character", tc, `{"id":"c1","label":"L\u0000","org_id":"o"}` + "\n" +
			`{"id":"c2","label":"L","org_id":"o","notes":{"a":["\u007f"]}}` + "\n" +
			`{"id":"c3","label":"L","org_id":"o","x\u0001":1}` + "\n" +
			`{"id":"c4","label":"L","org_id":"o","notes":"\\u0000 is text"}`, []string{
			"f.jsonl:1: label: contains a control character (U+0000)",
			"f.jsonl:2: notes: contains a control character (U+007F)",
			"f.jsonl:3: a field name contains a control character (U+0001)",
			`4 {"id":"c4","label":"L","notes":"\\u0000 is text","org_id":"o"}`,
		}},
		{"id escaped", tc, `{"\u0069d":"\u0063\u0031","label":"L","org_id":"o"}`, []string{"1 " + c1}},
		{"duplicate id", tc, c1 + "\n" + c2 + "\n\n" + c1 + "\n", []string{"1 " + c1, "2 " + c2, `f.jsonl:4: id: duplicate id "c1" (first on line 1)`}},
		{"invalid UTF-8 in value", tc, `{"id":"c1","label":"L` + "\xff" + `","org_id":"o"}`, []string{"f.jsonl:1: label: invalid UTF-8"}},
		{"invalid UTF-8 in key", tc, `{"id":"c1","label":"L","org_id":"o","x` + "\xff" + `":1}`, []string{"f.jsonl:1: x\uFFFD: invalid UTF-8"}},
		{"invalid UTF-8 in nested unknown", tc, `{"id":"c1","label":"L","org_id":"o","x":{"y":["` + "\xc0\xaf" + `"]}}`, []string{"f.jsonl:1: x: invalid UTF-8"}},
		{"lone surrogates", tc, strings.Join([]string{
			`{"id":"c1","label":"\ud800","org_id":"o"}`,
			`{"id":"c2","label":"\udc00\ud800","org_id":"o"}`,
			`{"id":"c3","label":"\ud800\u0041","org_id":"o"}`,
			`{"id":"c4","label":"x","org_id":"o","y":"a\ud800"}`,
		}, "\n"), []string{
			"f.jsonl:1: label: invalid UTF-8",
			"f.jsonl:2: label: invalid UTF-8",
			"f.jsonl:3: label: invalid UTF-8",
			"f.jsonl:4: y: invalid UTF-8",
		}},
		{"surrogate pair and escaped backslash", tc, `{"id":"c1","label":"\ud83d\ude00 \\ud800","org_id":"o"}`, []string{
			`1 {"id":"c1","label":"😀 \\ud800","org_id":"o"}`,
		}},
		{"required missing and empty", tc, `{"id":"c1","label":"L"}` + "\n" + `{"id":"c2","label":"L","org_id":""}`, []string{
			"f.jsonl:1: org_id: required field is missing",
			"f.jsonl:2: org_id: required field is empty",
		}},
		{"string of wrong type", tc, strings.Join([]string{
			`{"id":"c1","label":1,"org_id":"o"}`,
			`{"id":"c2","label":null,"org_id":"o"}`,
			`{"id":"c3","label":["L"],"org_id":"o"}`,
			`{"id":"c4","label":{},"org_id":"o"}`,
			`{"id":"c5","label":true,"org_id":"o"}`,
		}, "\n"), []string{
			"f.jsonl:1: label: must be a string, not a number",
			"f.jsonl:2: label: must be a string, not null",
			"f.jsonl:3: label: must be a string, not an array",
			"f.jsonl:4: label: must be a string, not an object",
			"f.jsonl:5: label: must be a string, not a boolean",
		}},
		{"unknown fields kept as given", tc, `{"id":"c1","label":"L","org_id":"o","x":{"b":1, "a":[1.50,"<&>",null,1e400]},"n":12345678901234567890,"s":"","z":null}`, []string{
			`1 {"id":"c1","label":"L","n":12345678901234567890,"org_id":"o","s":"","x":{"b":1,"a":[1.50,"<&>",null,1e400]},"z":null}`,
		}},
		{"empty key", tc, `{"id":"c1","label":"L","org_id":"o","":1}`, []string{"f.jsonl:1: a field has an empty name"}},
		{"duplicate key", tc, `{"id":"c1","label":"L","org_id":"o","label":"M"}` + "\n" + `{"id":"c2","id":"c3","label":"L","org_id":"o"}`, []string{
			"f.jsonl:1: label: field given twice",
			"f.jsonl:2: id: field given twice",
		}},
		{"package refused", tc, `{"id":"c1","label":"L","org_id":"o","package":null}`, []string{"f.jsonl:1: package: set by central on publish; a loaded file may not give it"}},
		{"package refused delivery", dl, `{"id":"d1","label":"L","package":{"hash":"x"}}`, []string{"f.jsonl:1: package: set by central on publish; a loaded file may not give it"}},
		{"password refused", dl, `{"id":"d1","label":"L","password":"pw"}`, []string{"f.jsonl:1: password: not allowed for type delivery (only administrator, proctor, test-taker)"}},

		// Test takers.
		{"invalid UTF-8 named", tt, `{"id":"t1","login":"a","email":"a@x"}` + "\n" + `{"id":"t2","login":"b","email":"` + "\xff" + `@x"}`, []string{
			`1 {"email":"a@x","id":"t1","login":"a"}`,
			"f.jsonl:2: email: invalid UTF-8",
		}},
		{"empty optional strings absent", tt, `{"id":"t1","login":"bob","password_hash":"","first_name":"","last_name":"","email":"","language":""}`, []string{`1 {"id":"t1","login":"bob"}`}},
		{"passwords", tt, strings.Join([]string{
			`{"id":"t1","login":"bob","password":"pw","password_hash":"h"}`,
			`{"id":"t2","login":"bob","password":"","password_hash":"h"}`,
			`{"id":"t3","login":"bob","password":5}`,
			`{"id":"t4","login":"bob","password":null}`,
			`{"id":"t5","login":"bob","password":""}`,
		}, "\n"), []string{
			"f.jsonl:1: password: both password and password_hash given (give one)",
			`2 {"id":"t2","login":"bob","password_hash":"h"}`,
			"f.jsonl:3: password: must be a string, not a number",
			"f.jsonl:4: password: must be a string, not null",
			`5 {"id":"t5","login":"bob"}`,
		}},

		// Lists and booleans.
		{"lists", el, strings.Join([]string{
			`{"id":"e1","test_center":"c1","delivery":"d1","test_takers":["t1","t 2"]}`,
			`{"id":"e2","test_center":"c1","delivery":"d1","test_takers":[]}`,
			`{"id":"e3","test_center":"c1","delivery":"d1"}`,
			`{"id":"e4","test_center":"c1","delivery":"d1","test_takers":"t1"}`,
			`{"id":"e5","test_center":"c1","delivery":"d1","test_takers":[1]}`,
			`{"id":"e6","test_center":"c1","delivery":"d1","test_takers":["t1",""]}`,
			`{"id":"e7","test_center":"c1","delivery":"d1","test_takers":["t1",null]}`,
			`{"id":"e8","test_center":"c1","delivery":"d1","test_takers":null}`,
		}, "\n"), []string{
			`1 {"delivery":"d1","id":"e1","proctored":true,"test_center":"c1","test_takers":["t1","t 2"]}`,
			`2 {"delivery":"d1","id":"e2","proctored":true,"test_center":"c1","test_takers":[]}`,
			`3 {"delivery":"d1","id":"e3","proctored":true,"test_center":"c1"}`,
			"f.jsonl:4: test_takers: must be an array of strings, not a string",
			"f.jsonl:5: test_takers: element 1 of the list must be a string, not a number",
			"f.jsonl:6: test_takers: element 2 of the list is empty",
			"f.jsonl:7: test_takers: element 2 of the list must be a string, not null",
			"f.jsonl:8: test_takers: must be an array of strings, not null",
		}},
		{"booleans", el, strings.Join([]string{
			`{"id":"e1","test_center":"c","delivery":"d","proctored":false}`,
			`{"id":"e2","test_center":"c","delivery":"d","proctored":true}`,
			`{"id":"e3","test_center":"c","delivery":"d","proctored":"false"}`,
			`{"id":"e4","test_center":"c","delivery":"d","proctored":0}`,
			`{"id":"e5","test_center":"c","delivery":"d","proctored":null}`,
		}, "\n"), []string{
			`1 {"delivery":"d","id":"e1","proctored":false,"test_center":"c"}`,
			`2 {"delivery":"d","id":"e2","proctored":true,"test_center":"c"}`,
			"f.jsonl:3: proctored: must be true or false, not a string",
			"f.jsonl:4: proctored: must be true or false, not a number",
			"f.jsonl:5: proctored: must be true or false, not null",
		}},

		// Integers and times.
		{"integers", dl, strings.Join([]string{
			`{"id":"a","label":"L","max_executions":5}`,
			`{"id":"b","label":"L"}`,
			`{"id":"c","label":"L","max_executions":-1}`,
			`{"id":"d","label":"L","max_executions":1.5}`,
			`{"id":"e","label":"L","max_executions":1e3}`,
			`{"id":"f","label":"L","max_executions":1.0}`,
			`{"id":"g","label":"L","max_executions":"5"}`,
			`{"id":"h","label":"L","max_executions":99999999999999999999}`,
			`{"id":"i","label":"L","max_executions":-0}`,
		}, "\n"), []string{
			`1 {"id":"a","label":"L","max_executions":5}`,
			`2 {"id":"b","label":"L","max_executions":0}`,
			"f.jsonl:3: max_executions: must not be negative (0 means unlimited): -1",
			`f.jsonl:4: max_executions: not an integer: "1.5"`,
			`f.jsonl:5: max_executions: not an integer: "1e3"`,
			`f.jsonl:6: max_executions: not an integer: "1.0"`,
			"f.jsonl:7: max_executions: must be an integer, not a string",
			`f.jsonl:8: max_executions: integer out of range: "99999999999999999999"`,
			`9 {"id":"i","label":"L","max_executions":0}`,
		}},
		{"times", dl, strings.Join([]string{
			`{"id":"a","label":"L","start":"2026-03-01T09:00:00Z","end":"2026-03-01T17:00:00+02:00"}`,
			`{"id":"b","label":"L","start":""}`,
			`{"id":"c","label":"L","start":5}`,
			`{"id":"d","label":"L","start":"yesterday"}`,
			`{"id":"e","label":"L","end":null}`,
		}, "\n"), []string{
			`1 {"end":"2026-03-01T17:00:00+02:00","id":"a","label":"L","max_executions":0,"start":"2026-03-01T09:00:00Z"}`,
			`2 {"id":"b","label":"L","max_executions":0}`,
			"f.jsonl:3: start: must be a string, not a number",
			`f.jsonl:4: start: not an RFC 3339 time: "yesterday" (e.g. 2026-03-01T09:00:00Z)`,
			"f.jsonl:5: end: must be a string, not null",
		}},
	})
}
