package sample

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/password"
)

var update = flag.Bool("update", false, "rewrite the generated files in testdata/demo")

const demoDir = "../../testdata/demo"

func allCSV(taosync.Type) string   { return "csv" }
func allJSONL(taosync.Type) string { return "jsonl" }

// odd is a configuration with uneven divisions: centres with one test taker
// more than others, a last eligibility shorter than the rest, more
// deliveries than a centre takes.
var odd = Config{
	Seed: 42, Orgs: 3, CentersPerOrg: 2, TestTakers: 97,
	ProctorsPerCenter: 2, AdminsPerCenter: 2, Deliveries: 5, TakersPerEligibility: 7,
}

func write(t testing.TB, c Config, format func(taosync.Type) string) (string, map[taosync.Type]int) {
	t.Helper()
	dir := t.TempDir()
	counts, err := Write(dir, c, format)
	if err != nil {
		t.Fatal(err)
	}
	return dir, counts
}

func fileOf(dir string, t taosync.Type, format func(taosync.Type) string) string {
	return filepath.Join(dir, string(t)+"."+format(t))
}

// loaded is a data set read back with the loader "taosync central load" uses.
type loaded map[taosync.Type][]map[string]any

// loadBack reads every file of dir with internal/load, failing on any row
// it refuses, and returns the entities and their raw Data.
func loadBack(t *testing.T, dir string, format func(taosync.Type) string) (loaded, map[taosync.Type][][]byte) {
	t.Helper()
	out := loaded{}
	raw := map[taosync.Type][][]byte{}
	for _, typ := range taosync.Types {
		path := fileOf(dir, typ, format)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := load.NewReader(f, path, load.Format(format(typ)), typ)
		if err != nil {
			t.Fatal(err)
		}
		for {
			e, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the loader refuses a generated row: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(e.Data, &m); err != nil {
				t.Fatal(err)
			}
			out[typ] = append(out[typ], m)
			raw[typ] = append(raw[typ], e.Data)
		}
		f.Close()
	}
	return out, raw
}

func strList(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

func TestSameSeedSameBytes(t *testing.T) {
	for _, format := range []func(taosync.Type) string{DemoFormat, allCSV, allJSONL} {
		a, _ := write(t, odd, format)
		b, _ := write(t, odd, format)
		for _, typ := range taosync.Types {
			x, err := os.ReadFile(fileOf(a, typ, format))
			if err != nil {
				t.Fatal(err)
			}
			y, err := os.ReadFile(fileOf(b, typ, format))
			if err != nil {
				t.Fatal(err)
			}
			if len(x) == 0 || !bytes.Equal(x, y) {
				t.Errorf("%s.%s: two runs with the same seed differ (or are empty)", typ, format(typ))
			}
		}
	}
}

// Each must give the entities Write writes, in the same order.
func TestEachMatchesWrite(t *testing.T) {
	for _, c := range []Config{Demo(), odd} {
		dir, _ := write(t, c, allJSONL)
		for _, typ := range taosync.Types {
			file, err := os.ReadFile(fileOf(dir, typ, allJSONL))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			err = Each(c, typ, func(e taosync.Entity) error {
				if e.Type != typ || !bytes.HasPrefix(e.Data, []byte(`{"id":"`+e.ID+`"`)) {
					t.Fatalf("%s: entity %q of type %q has Data %s", typ, e.ID, e.Type, e.Data)
				}
				got.Write(e.Data)
				got.WriteByte('\n')
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), file) {
				t.Errorf("seed %d, %s: Each differs from the file Write wrote", c.Seed, typ)
			}
		}
	}
}

func TestEachStopsOnError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Each(Demo(), taosync.TestTaker, func(taosync.Entity) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("Each returned %v after %d calls, want the callback's error after 3", err, n)
	}
}

func TestDifferentSeedDiffers(t *testing.T) {
	c := Demo()
	a, _ := write(t, c, DemoFormat)
	c.Seed++
	b, _ := write(t, c, DemoFormat)
	for _, typ := range []taosync.Type{taosync.TestCenter, taosync.Administrator, taosync.Proctor, taosync.TestTaker, taosync.Eligibility} {
		x, _ := os.ReadFile(fileOf(a, typ, DemoFormat))
		y, _ := os.ReadFile(fileOf(b, typ, DemoFormat))
		if bytes.Equal(x, y) {
			t.Errorf("%s: seeds %d and %d give the same file", typ, c.Seed-1, c.Seed)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Orgs: 0, CentersPerOrg: 1, Deliveries: 1, TakersPerEligibility: 1},
		{Orgs: 1, CentersPerOrg: 0, Deliveries: 1, TakersPerEligibility: 1},
		{Orgs: 1, CentersPerOrg: 1, Deliveries: 0, TakersPerEligibility: 1},
		{Orgs: 1, CentersPerOrg: 1, Deliveries: 1, TakersPerEligibility: 0},
		{Orgs: 1, CentersPerOrg: 1, Deliveries: 1, TakersPerEligibility: 1, TestTakers: -1},
	} {
		if _, err := Write(t.TempDir(), c, allCSV); err == nil {
			t.Errorf("Write accepted %+v", c)
		}
		if err := Each(c, taosync.TestCenter, func(taosync.Entity) error { return nil }); err == nil {
			t.Errorf("Each accepted %+v", c)
		}
	}
	if _, err := Write(t.TempDir(), Demo(), func(taosync.Type) string { return "xml" }); err == nil {
		t.Error("Write accepted format xml")
	}
}

func TestCounts(t *testing.T) {
	for _, c := range []Config{Demo(), odd, Bench(3000)} {
		dir, counts := write(t, c, DemoFormat)
		centres := c.Orgs * c.CentersPerOrg
		want := map[taosync.Type]int{
			taosync.TestCenter:    centres,
			taosync.Administrator: centres * c.AdminsPerCenter,
			taosync.Proctor:       centres * c.ProctorsPerCenter,
			taosync.TestTaker:     c.TestTakers,
			taosync.Delivery:      c.Deliveries,
		}
		for typ, n := range want {
			if counts[typ] != n {
				t.Errorf("seed %d: %d %s, want %d", c.Seed, counts[typ], typ, n)
			}
		}
		if counts[taosync.Eligibility] == 0 {
			t.Errorf("seed %d: no eligibility", c.Seed)
		}
		// The counts are those of the files.
		got, _ := loadBack(t, dir, DemoFormat)
		for _, typ := range taosync.Types {
			if len(got[typ]) != counts[typ] {
				t.Errorf("seed %d: Write says %d %s, the file has %d", c.Seed, counts[typ], typ, len(got[typ]))
			}
		}
	}
}

func TestDemoSize(t *testing.T) {
	total := 0
	for _, typ := range taosync.Types {
		if err := Each(Demo(), typ, func(taosync.Entity) error { total++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if total < 300 || total > 500 {
		t.Errorf("the demo has %d entities, want 300 to 500", total)
	}
}

// TestReferences reads the files back with the loader and checks what
// "taosync central load" in order needs, and what scoping relies on.
func TestReferences(t *testing.T) {
	for _, c := range []Config{Demo(), odd} {
		for _, format := range []func(taosync.Type) string{DemoFormat, allCSV, allJSONL} {
			dir, _ := write(t, c, format)
			d, _ := loadBack(t, dir, format)
			checkReferences(t, c, d)
		}
	}
}

func checkReferences(t *testing.T, c Config, d loaded) {
	t.Helper()
	orgOf := map[string]string{} // centre -> org
	firstCentre := map[string]string{}
	for _, e := range d[taosync.TestCenter] {
		id, org := e["id"].(string), e["org_id"].(string)
		orgOf[id] = org
		if _, ok := firstCentre[org]; !ok {
			firstCentre[org] = id
		}
		if e["address"] == nil {
			t.Errorf("test centre %s lost its address", id)
		}
	}
	if len(firstCentre) != c.Orgs {
		t.Errorf("%d organisations, want %d", len(firstCentre), c.Orgs)
	}
	logins := map[string]string{}
	for _, typ := range []taosync.Type{taosync.Administrator, taosync.Proctor, taosync.TestTaker} {
		for _, e := range d[typ] {
			login := e["login"].(string)
			if other, ok := logins[login]; ok {
				t.Errorf("login %s of %s is also %s's", login, e["id"], other)
			}
			logins[login] = e["id"].(string)
		}
	}
	for _, typ := range []taosync.Type{taosync.Administrator, taosync.Proctor} {
		for _, e := range d[typ] {
			centres := strList(e["test_centers"])
			if len(centres) == 0 || len(centres) > 2 {
				t.Errorf("%s %s has test centres %v, want one or two", typ, e["id"], centres)
			}
			for _, tc := range centres {
				if orgOf[tc] == "" {
					t.Errorf("%s %s: unknown test centre %s", typ, e["id"], tc)
				} else if orgOf[tc] != orgOf[centres[0]] {
					t.Errorf("%s %s works for two organisations: %v", typ, e["id"], centres)
				}
			}
		}
	}
	takers := map[string]bool{}
	for _, e := range d[taosync.TestTaker] {
		takers[e["id"].(string)] = false
		if e["registration_number"] == nil {
			t.Errorf("test taker %s lost its registration_number", e["id"])
		}
	}
	deliveries := map[string]bool{}
	for _, e := range d[taosync.Delivery] {
		deliveries[e["id"].(string)] = true
	}
	if !deliveries[WebDevID] {
		t.Errorf("no delivery %s", WebDevID)
	}
	takerOrgs := map[string]map[string]bool{}
	webdevAt := map[string]bool{}
	for _, e := range d[taosync.Eligibility] {
		id, tc, del := e["id"].(string), e["test_center"].(string), e["delivery"].(string)
		org := orgOf[tc]
		if org == "" {
			t.Errorf("eligibility %s: unknown test centre %s", id, tc)
		}
		if !deliveries[del] {
			t.Errorf("eligibility %s: unknown delivery %s", id, del)
		}
		if del == WebDevID {
			webdevAt[tc] = true
		}
		list := strList(e["test_takers"])
		if len(list) == 0 || len(list) > c.TakersPerEligibility+1 {
			t.Errorf("eligibility %s lists %d test takers (at most %d)", id, len(list), c.TakersPerEligibility)
		}
		for _, tt := range list {
			if _, ok := takers[tt]; !ok {
				t.Errorf("eligibility %s: unknown test taker %s", id, tt)
				continue
			}
			takers[tt] = true
			if takerOrgs[tt] == nil {
				takerOrgs[tt] = map[string]bool{}
			}
			takerOrgs[tt][org] = true
		}
	}
	for tt, eligible := range takers {
		if !eligible {
			t.Errorf("test taker %s is in no eligibility", tt)
		}
	}
	for org, tc := range firstCentre {
		if !webdevAt[tc] {
			t.Errorf("%s is not taken at %s, the first centre of %s", WebDevID, tc, org)
		}
	}
	for tt, orgs := range takerOrgs {
		if len(orgs) > 1 && tt != VisitorID {
			t.Errorf("test taker %s is eligible in %d organisations; only %s should be", tt, len(orgs), VisitorID)
		}
	}
	if c.Orgs >= 2 && len(takerOrgs[VisitorID]) != 2 {
		t.Errorf("%s is eligible in %v, want two organisations", VisitorID, takerOrgs[VisitorID])
	}
}

// The demo's test taker in two organisations, spelled out: tt-1 is
// registered at tc-1 (org-1) and also eligible for webdev-1 at tc-4, the
// first centre of org-2.
func TestDemoTwoOrgTestTaker(t *testing.T) {
	dir, _ := write(t, Demo(), DemoFormat)
	d, _ := loadBack(t, dir, DemoFormat)
	orgOf := map[string]string{}
	for _, e := range d[taosync.TestCenter] {
		orgOf[e["id"].(string)] = e["org_id"].(string)
	}
	orgs := map[string]bool{}
	for _, e := range d[taosync.Eligibility] {
		if e["delivery"] == WebDevID && slices.Contains(strList(e["test_takers"]), VisitorID) {
			orgs[orgOf[e["test_center"].(string)]] = true
		}
	}
	if !orgs["org-1"] || !orgs["org-2"] || len(orgs) != 2 {
		t.Errorf("%s is eligible for %s in %v, want org-1 and org-2", VisitorID, WebDevID, orgs)
	}
}

// CSV and JSON Lines of the same data must load to the same entities (the
// loader promises the same bytes for the same data in either format).
func TestCSVAndJSONLLoadAlike(t *testing.T) {
	a, _ := write(t, odd, allCSV)
	b, _ := write(t, odd, allJSONL)
	_, x := loadBack(t, a, allCSV)
	_, y := loadBack(t, b, allJSONL)
	for _, typ := range taosync.Types {
		if len(x[typ]) != len(y[typ]) {
			t.Fatalf("%s: %d from CSV, %d from JSONL", typ, len(x[typ]), len(y[typ]))
		}
		for i := range x[typ] {
			if !bytes.Equal(x[typ][i], y[typ][i]) {
				t.Errorf("%s row %d:\nCSV   %s\nJSONL %s", typ, i+1, x[typ][i], y[typ][i])
			}
		}
	}
}

func TestCSVParsesBack(t *testing.T) {
	dir, counts := write(t, Demo(), allCSV)
	quoted := false
	for _, typ := range taosync.Types {
		data, err := os.ReadFile(fileOf(dir, typ, allCSV))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatalf("%s.csv: %v", typ, err)
		}
		header := recs[0]
		if !slices.Equal(header, Header(typ)) {
			t.Errorf("%s.csv: header %v, want %v", typ, header, Header(typ))
		}
		// The contract's fields, in its order, right after the id.
		want := []string{"id"}
		for _, f := range taosync.Fields[typ] {
			want = append(want, f.Name)
		}
		if len(header) < len(want) || !slices.Equal(header[:len(want)], want) {
			t.Errorf("%s.csv: header %v does not start with the contract's fields %v", typ, header, want)
		}
		if len(recs)-1 != counts[typ] {
			t.Errorf("%s.csv: %d rows, Write says %d", typ, len(recs)-1, counts[typ])
		}
		for i, rec := range recs[1:] {
			for j, cell := range rec {
				if f, ok := taosync.FieldOf(typ, header[j]); ok && f.Kind == taosync.List {
					for _, e := range strings.Split(cell, "|") {
						if e == "" {
							t.Errorf("%s.csv row %d: %s %q has an empty element", typ, i+2, header[j], cell)
						}
					}
				}
				if header[j] == "address" && strings.Contains(cell, ",") && strings.Contains(cell, `"`) {
					quoted = true
				}
			}
		}
	}
	if !quoted {
		t.Error("no address holds both a comma and a quote: CSV quoting goes unexercised")
	}
}

var (
	loginRE    = regexp.MustCompile(`^[a-z]+(-[a-z]+)*\.[a-z]+(-[a-z]+)*[0-9]*$`)
	languages  = []string{"fr", "de", "pl", "tr", "el", "ru", "ja", "zh", "ar", "en"}
	emailRE    = regexp.MustCompile(`^[a-z0-9.-]+@([a-z0-9-]+\.)?example\.(org|net|com)$`)
	scripts    = map[string]*unicode.RangeTable{"Greek": unicode.Greek, "Cyrillic": unicode.Cyrillic, "Han": unicode.Han, "Arabic": unicode.Arabic}
	diacritics = "éèçäöüßłżśığş"
)

func TestPeople(t *testing.T) {
	c := Demo()
	c.TestTakers = 3000
	seenLang := map[string]bool{}
	seenScript := map[string]bool{}
	seenRune := map[rune]bool{}
	for _, typ := range []taosync.Type{taosync.Administrator, taosync.Proctor, taosync.TestTaker} {
		err := Each(c, typ, func(e taosync.Entity) error {
			var p struct{ Login, First_name, Last_name, Email, Language, Password_hash string }
			if err := json.Unmarshal(e.Data, &p); err != nil {
				return err
			}
			if !loginRE.MatchString(p.Login) {
				t.Errorf("%s: login %q is not folded ASCII first.last", e.ID, p.Login)
			}
			if p.Email != "" && !emailRE.MatchString(p.Email) {
				t.Errorf("%s: email %q", e.ID, p.Email)
			}
			if p.First_name == "" || p.Last_name == "" || !strings.HasPrefix(p.Password_hash, "$argon2id$") {
				t.Errorf("%s: incomplete: %s", e.ID, e.Data)
			}
			if typ == taosync.TestTaker {
				if !slices.Contains(languages, p.Language) {
					t.Errorf("%s: language %q", e.ID, p.Language)
				}
				seenLang[p.Language] = true
			}
			for _, r := range p.First_name + p.Last_name {
				seenRune[unicode.ToLower(r)] = true
				for s, tab := range scripts {
					if unicode.Is(tab, r) {
						seenScript[s] = true
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range languages {
		if !seenLang[l] {
			t.Errorf("no test taker with language %s", l)
		}
	}
	for s := range scripts {
		if !seenScript[s] {
			t.Errorf("no name in %s script", s)
		}
	}
	for _, r := range diacritics {
		if !seenRune[r] {
			t.Errorf("no name with %c", r)
		}
	}
}

func TestFold(t *testing.T) {
	for _, tc := range []struct{ lang, in, want string }{
		{"de", "Müller", "mueller"},
		{"de", "Strauß", "strauss"},
		{"tr", "Öztürk", "ozturk"},
		{"tr", "İbrahim", "ibrahim"},
		{"tr", "Yıldırım", "yildirim"},
		{"pl", "Łukasz", "lukasz"},
		{"pl", "Żak", "zak"},
		{"fr", "D'Amboise", "damboise"},
		{"fr", "Saint-Exupéry", "saint-exupery"},
		{"en", "O'Brien", "obrien"},
	} {
		if got := fold(tc.lang, tc.in); got != tc.want {
			t.Errorf("fold(%s, %q) = %q, want %q", tc.lang, tc.in, got, tc.want)
		}
	}
}

func TestPasswordHashes(t *testing.T) {
	for i, p := range Passwords {
		ok, err := password.Verify(p, passwordHashes[i])
		if err != nil || !ok {
			t.Errorf("hash %d does not verify %q: %v", i, p, err)
		}
		ok, err = password.Verify(p, passwordHashes[(i+1)%len(passwordHashes)])
		if err != nil || ok {
			t.Errorf("hash %d verifies %q too: %v", (i+1)%len(passwordHashes), p, err)
		}
	}
	// The documented rule: person number N has Passwords[(N-1)%4].
	err := Each(Demo(), taosync.TestTaker, func(e taosync.Entity) error {
		if e.ID == "tt-7" {
			var p struct{ Password_hash string }
			json.Unmarshal(e.Data, &p)
			if ok, err := password.Verify(Passwords[(7-1)%len(Passwords)], p.Password_hash); !ok || err != nil {
				t.Errorf("tt-7's password is not %s: %v", Passwords[(7-1)%len(Passwords)], err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeliveries(t *testing.T) {
	windows, open := 0, 0
	err := Each(Demo(), taosync.Delivery, func(e taosync.Entity) error {
		var d struct {
			Label          string
			Max_executions *int
			Start, End     string
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		if d.Label == "" || d.Max_executions == nil || *d.Max_executions < 0 || *d.Max_executions > 2 {
			t.Errorf("%s: %s", e.ID, e.Data)
		}
		if d.Start == "" && d.End == "" {
			open++
			return nil
		}
		windows++
		s, err1 := time.Parse(time.RFC3339, d.Start)
		f, err2 := time.Parse(time.RFC3339, d.End)
		if err1 != nil || err2 != nil || s.Year() != 2027 || !f.After(s) {
			t.Errorf("%s: bad window %s to %s", e.ID, d.Start, d.End)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if windows == 0 || open == 0 {
		t.Errorf("%d deliveries with a window, %d without: want some of each", windows, open)
	}
}

// TestDemoFilesUpToDate checks that testdata/demo is what Demo() generates.
// After changing the generator, refresh it with
//
//	go test ./internal/sample -run TestDemoFilesUpToDate -update
func TestDemoFilesUpToDate(t *testing.T) {
	if *update {
		if _, err := Write(demoDir, Demo(), DemoFormat); err != nil {
			t.Fatal(err)
		}
	}
	fresh, _ := write(t, Demo(), DemoFormat)
	for _, typ := range taosync.Types {
		want, err := os.ReadFile(fileOf(fresh, typ, DemoFormat))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(fileOf(demoDir, typ, DemoFormat))
		if err != nil {
			t.Errorf("%v (regenerate with: go test ./internal/sample -run TestDemoFilesUpToDate -update)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date (regenerate with: go test ./internal/sample -run TestDemoFilesUpToDate -update)", fileOf(demoDir, typ, DemoFormat))
		}
	}
}

func BenchmarkWrite200k(b *testing.B) {
	if testing.Short() {
		b.Skip("200,000 test takers: skipped with -short")
	}
	c := Bench(200_000)
	dir := b.TempDir()
	rows, size := 0, int64(0)
	for b.Loop() {
		counts, err := Write(dir, c, DemoFormat)
		if err != nil {
			b.Fatal(err)
		}
		rows = 0
		for _, n := range counts {
			rows += n
		}
	}
	for _, typ := range taosync.Types {
		if fi, err := os.Stat(fileOf(dir, typ, DemoFormat)); err == nil {
			size += fi.Size()
		}
	}
	b.SetBytes(size)
	b.ReportMetric(float64(rows), "rows/op")
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkEachTestTaker200k(b *testing.B) {
	if testing.Short() {
		b.Skip("200,000 test takers: skipped with -short")
	}
	c := Bench(200_000)
	for b.Loop() {
		if err := Each(c, taosync.TestTaker, func(taosync.Entity) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.TestTakers)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
