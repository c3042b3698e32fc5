package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the whole CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestLoadInvalidUTF8 feeds central load files with bytes that are not
// UTF-8 (which a testscript archive, being text, cannot hold well): each is
// refused whole with exit 4 and one line naming the file, line and field,
// and nothing of it is applied.
func TestLoadInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "central")
	if code, _, errs := runCLI(t, "--home", home, "init", "--role", "central"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errs)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("tc.csv", "id,label,org_id\ntc1,Zürich,orgA\ntc2,Genève,orgA\n")
	if code, out, errs := runCLI(t, "--home", home, "central", "load", "--type", "test-center", good); code != 0 ||
		!strings.Contains(out, "2 created") {
		t.Fatalf("good load: exit %d: %s%s", code, out, errs)
	}
	list := func() string {
		t.Helper()
		code, out, errs := runCLI(t, "--home", home, "list", "test-center", "--json")
		if code != 0 {
			t.Fatalf("list: exit %d: %s", code, errs)
		}
		return out
	}
	before := list()
	if !strings.Contains(before, `"label":"Zürich"`) {
		t.Fatalf("list before: %s", before)
	}

	for _, tc := range []struct {
		name, content string
		// want is the error after "taosync: error: FILE:".
		want string
		// header: the CSV header is bad, which is reported without the
		// "(nothing of FILE was loaded)" that follows a bad row.
		header bool
	}{
		{"cell.csv", "id,label,org_id\ntc1,Changed,orgA\ntc3,New,orgA\ntc4,Bad\xffName,orgA\n",
			"4: label: invalid UTF-8", false},
		{"latin1.csv", "id,label,org_id\ntc3,Gen\xe8ve,orgA\n",
			"2: label: invalid UTF-8", false},
		{"id.csv", "id,label,org_id\ntc3,New,orgA\ntc\xc3,Bad id,orgA\n",
			"3: id: invalid UTF-8", false},
		{"header.csv", "id,la\xffbel,label,org_id\ntc3,x,New,orgA\n",
			"1: la\uFFFDbel: invalid UTF-8 in column name", true},
		{"value.jsonl", "{\"id\":\"tc1\",\"label\":\"Changed\",\"org_id\":\"orgA\"}\n{\"id\":\"tc3\",\"label\":\"Bad\xfe\",\"org_id\":\"orgA\"}\n",
			"2: label: invalid UTF-8", false},
		{"key.jsonl", "{\"id\":\"tc3\",\"label\":\"New\",\"org_id\":\"orgA\",\"no\xffte\":\"x\"}\n",
			"1: no\uFFFDte: invalid UTF-8", false},
		{"surrogate.jsonl", "{\"id\":\"tc3\",\"label\":\"New\",\"org_id\":\"orgA\"}\n{\"id\":\"tc4\",\"label\":\"Half \\ud800 pair\",\"org_id\":\"orgA\"}\n",
			"2: label: invalid UTF-8", false},
		{"overlong.jsonl", "{\"id\":\"tc3\",\"label\":\"\xc0\xaf\",\"org_id\":\"orgA\"}\n",
			"1: label: invalid UTF-8", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(tc.name, tc.content)
			code, out, errs := runCLI(t, "--home", home, "central", "load", "--type", "test-center", p)
			if code != exitRefused {
				t.Errorf("exit %d, want %d", code, exitRefused)
			}
			if out != "" {
				t.Errorf("stdout: %q, want nothing", out)
			}
			want := "taosync: error: " + p + ":" + tc.want
			if !tc.header {
				want += " (nothing of " + p + " was loaded)"
			}
			if errs != want+"\n" {
				t.Errorf("stderr:\n got %q\nwant %q", errs, want+"\n")
			}
			if after := list(); after != before {
				t.Errorf("the test centres changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestLoadBOM checks that a spreadsheet's UTF-8 byte order mark does not
// become part of the first column's name.
func TestLoadBOM(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "central")
	if code, _, errs := runCLI(t, "--home", home, "init", "--role", "central"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errs)
	}
	p := filepath.Join(dir, "tc.csv")
	if err := os.WriteFile(p, []byte("\xef\xbb\xbfid,label,org_id\r\ntc1,Zürich,orgA\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(t, "--home", home, "central", "load", "--type", "test-center", p); code != 0 ||
		!strings.Contains(out, "1 created") {
		t.Fatalf("load: exit %d: %s%s", code, out, errs)
	}
	_, out, _ := runCLI(t, "--home", home, "list", "test-center", "--json")
	if want := `{"id":"tc1","label":"Zürich","org_id":"orgA"}` + "\n"; out != want {
		t.Errorf("list: got %q, want %q", out, want)
	}
}
