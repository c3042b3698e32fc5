// Package sample generates realistic, fictional exam master data: test
// centres, administrators, proctors, test takers, deliveries and
// eligibilities, for the demo (testdata/demo) and for benchmarks.
//
// It promises:
//   - Determinism: the same Config (Seed included) gives byte-identical
//     files and entities, on every machine and Go version this module
//     builds with (math/rand/v2's PCG is specified, not an implementation
//     detail). Another Seed gives other people, places and assignments.
//   - Streaming: rows are written as they are generated. Memory is bounded
//     by the number of distinct name pairs (for unique logins), never by the
//     number of rows, so 200,000 test takers cost no more memory than 200.
//   - Files that load cleanly with "taosync central load" when loaded in
//     the order of taosync.Types: every reference names an entity of an
//     earlier file, every id is unique within its type, every login is
//     unique across administrators, proctors and test takers.
//   - Every test taker is in at least one eligibility, at a centre of the
//     organisation whose centre registered them. When there are two
//     organisations or more, test taker "tt-1" (registered at "tc-1", in
//     "org-1") is also eligible for delivery "webdev-1" at the first centre
//     of "org-2": a test taker two organisations' clients must both get.
//   - Delivery "webdev-1" ("Web Developer Test 1", for the real QTI package
//     WebDeveloperTest1.zip) exists in every Config and is taken at the
//     first centre of every organisation.
//
// The people are fictional: first and last names are drawn independently
// from lists of common names in ten languages.
package sample

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/taosync/taosync"
)

// Config sizes the generated data.
type Config struct {
	Seed                 int64
	Orgs                 int // organisations, ids "org-1", "org-2", ...
	CentersPerOrg        int // test centres per organisation
	TestTakers           int // in all, spread evenly over the centres
	ProctorsPerCenter    int
	AdminsPerCenter      int
	Deliveries           int // each taken at several centres
	TakersPerEligibility int // an eligibility lists at most this many of its centre's test takers
}

// Demo is the configuration of testdata/demo: two organisations of three
// centres, 300 test takers, about 370 entities in all.
func Demo() Config {
	return Config{
		Seed:                 1,
		Orgs:                 2,
		CentersPerOrg:        3,
		TestTakers:           300,
		ProctorsPerCenter:    2,
		AdminsPerCenter:      1,
		Deliveries:           4,
		TakersPerEligibility: 20,
	}
}

// DemoFormat is the format of each file of testdata/demo: mixed on purpose,
// so the demo loads both.
func DemoFormat(t taosync.Type) string {
	switch t {
	case taosync.Administrator, taosync.Eligibility:
		return "jsonl"
	}
	return "csv"
}

// Bench scales a configuration to testTakers test takers: about 500 per
// centre (a large school), 20 centres per organisation, two deliveries per
// organisation and eligibilities of 50 (a few exam rooms).
func Bench(testTakers int) Config {
	centres := max(2, (testTakers+499)/500)
	orgs := max(2, (centres+19)/20)
	return Config{
		Seed:                 1,
		Orgs:                 orgs,
		CentersPerOrg:        (centres + orgs - 1) / orgs,
		TestTakers:           testTakers,
		ProctorsPerCenter:    3,
		AdminsPerCenter:      1,
		Deliveries:           max(4, 2*orgs),
		TakersPerEligibility: 50,
	}
}

func (c Config) check() error {
	switch {
	case c.Orgs < 1:
		return fmt.Errorf("sample: Orgs is %d, want at least 1", c.Orgs)
	case c.CentersPerOrg < 1:
		return fmt.Errorf("sample: CentersPerOrg is %d, want at least 1", c.CentersPerOrg)
	case c.Deliveries < 1:
		return fmt.Errorf("sample: Deliveries is %d, want at least 1 (webdev-1)", c.Deliveries)
	case c.TakersPerEligibility < 1:
		return fmt.Errorf("sample: TakersPerEligibility is %d, want at least 1", c.TakersPerEligibility)
	case c.TestTakers < 0 || c.ProctorsPerCenter < 0 || c.AdminsPerCenter < 0:
		return errors.New("sample: negative count in Config")
	}
	return nil
}

// Passwords are the clear passwords of the sample people: person number N
// (adm-N, pr-N or tt-N) has Passwords[(N-1) % len(Passwords)].
var Passwords = [...]string{"taosync-demo-1", "taosync-demo-2", "taosync-demo-3", "taosync-demo-4"}

// passwordHashes are Passwords hashed once with password.Hash, then frozen
// here: a hash per row would take hours for 200,000 test takers (argon2id
// costs 19 MiB and tens of milliseconds by design), and password.Hash draws
// a fresh salt, so hashing at run time would make the files differ from one
// run to the next. TestPasswordHashes checks each against its password.
var passwordHashes = [len(Passwords)]string{
	"$argon2id$v=19$m=19456,t=2,p=1$NnGRybrSXsn1z5azkkb1Nw$SWHaYXC7DG5U8XtJ/JcP+HJi0GkN2w+2lGj3+qEqXGE",
	"$argon2id$v=19$m=19456,t=2,p=1$SyRlOgWhNgWSpxdwgPQwoQ$+nU8+8uRwdlDzB+g32tB2w+5BorcIKz/Ehvwf5acBU4",
	"$argon2id$v=19$m=19456,t=2,p=1$Lt+wJx4LB5vfLoep0pfoeg$c3Tr/5RZqSDdIqIylwXDvYxks7BOlNWsHCuKLjMGHj0",
	"$argon2id$v=19$m=19456,t=2,p=1$qMkUj6LYNopBIoQxEus5xQ$fI1Qy0jS7V7Niwqdg0bQNUnIfK+6GAdHDGjCUYUz5xU",
}

func passwordHash(n int) string { return passwordHashes[(n-1)%len(passwordHashes)] }

// VisitorID is the test taker eligible in two organisations (see the
// package comment) when there are two or more.
const VisitorID = "tt-1"

// WebDevID is the delivery every Config has, for the real QTI package.
const WebDevID = "webdev-1"

// column is one column of a type's files, after "id".
type column struct {
	name string
	kind taosync.FieldKind
}

// columns gives the columns of each type: the contract's fields
// (taosync.Fields, in its order), then fields of our own that the contract
// does not know, which sync must carry unchanged.
var columns = map[taosync.Type][]column{
	taosync.TestCenter: {
		{"label", taosync.String}, {"org_id", taosync.String},
		{"address", taosync.String}, // extra; commas and quotes exercise CSV quoting
	},
	taosync.Administrator: {
		{"login", taosync.String}, {"password_hash", taosync.String},
		{"first_name", taosync.String}, {"last_name", taosync.String},
		{"email", taosync.String}, {"test_centers", taosync.List},
	},
	taosync.Proctor: {
		{"login", taosync.String}, {"password_hash", taosync.String},
		{"first_name", taosync.String}, {"last_name", taosync.String},
		{"email", taosync.String}, {"test_centers", taosync.List},
	},
	taosync.TestTaker: {
		{"login", taosync.String}, {"password_hash", taosync.String},
		{"first_name", taosync.String}, {"last_name", taosync.String},
		{"email", taosync.String}, {"language", taosync.String},
		{"registration_number", taosync.String}, // extra
	},
	taosync.Delivery: {
		{"label", taosync.String}, {"max_executions", taosync.Int},
		{"start", taosync.Time}, {"end", taosync.Time},
	},
	taosync.Eligibility: {
		{"test_center", taosync.String}, {"delivery", taosync.String},
		{"test_takers", taosync.List}, {"proctored", taosync.Bool},
	},
}

// value is one field of a record; absent fields are left out of JSON and
// empty in CSV.
type value struct {
	present bool
	s       string
	list    []string
	b       bool
	n       int
}

// record is one row, its values in the order of columns[typ]. Generators
// fill it in place and the sinks encode it before the next row.
type record struct {
	typ  taosync.Type
	id   string
	vals []value
}

func (r *record) reset(id string) { r.id, r.vals = id, r.vals[:0] }
func (r *record) str(s string)    { r.vals = append(r.vals, value{present: s != "", s: s}) }
func (r *record) strs(l []string) { r.vals = append(r.vals, value{present: true, list: l}) }
func (r *record) num(n int)       { r.vals = append(r.vals, value{present: true, n: n}) }
func (r *record) flag(b bool)     { r.vals = append(r.vals, value{present: true, b: b}) }
func (r *record) absent()         { r.vals = append(r.vals, value{}) }

// appendJSON appends r as a JSON object, keys in column order.
func (r *record) appendJSON(buf []byte) []byte {
	buf = append(buf, `{"id":`...)
	buf = appendJSONString(buf, r.id)
	for i, col := range columns[r.typ] {
		v := r.vals[i]
		if !v.present {
			continue
		}
		buf = append(buf, ',')
		buf = appendJSONString(buf, col.name)
		buf = append(buf, ':')
		switch col.kind {
		case taosync.List:
			buf = append(buf, '[')
			for j, e := range v.list {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = appendJSONString(buf, e)
			}
			buf = append(buf, ']')
		case taosync.Bool:
			buf = strconv.AppendBool(buf, v.b)
		case taosync.Int:
			buf = strconv.AppendInt(buf, int64(v.n), 10)
		default:
			buf = appendJSONString(buf, v.s)
		}
	}
	return append(buf, '}')
}

// appendJSONString appends s, valid UTF-8, as a JSON string. Unlike
// encoding/json it leaves <, > and & alone, as the loader does.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendCSV appends r's cells to cells: lists joined with '|', absent
// fields empty (the loader then applies the default).
func (r *record) appendCSV(cells []string) []string {
	cells = append(cells, r.id)
	for i, col := range columns[r.typ] {
		v := r.vals[i]
		switch {
		case !v.present:
			cells = append(cells, "")
		case col.kind == taosync.List:
			cells = append(cells, strings.Join(v.list, "|"))
		case col.kind == taosync.Bool:
			cells = append(cells, strconv.FormatBool(v.b))
		case col.kind == taosync.Int:
			cells = append(cells, strconv.Itoa(v.n))
		default:
			cells = append(cells, v.s)
		}
	}
	return cells
}

// Header returns the CSV header of type t: "id", the contract's fields,
// then the extra fields the generator adds.
func Header(t taosync.Type) []string {
	h := []string{"id"}
	for _, c := range columns[t] {
		h = append(h, c.name)
	}
	return h
}

// Write writes one file per type into dir (created if need be), named
// TYPE.csv or TYPE.jsonl as format says, in the order of taosync.Types, and
// returns how many entities of each type it wrote.
func Write(dir string, c Config, format func(taosync.Type) string) (map[taosync.Type]int, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	for _, t := range taosync.Types {
		if f := format(t); f != "csv" && f != "jsonl" {
			return nil, fmt.Errorf("sample: format %q for %s (want csv or jsonl)", f, t)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	g := newGen(c)
	counts := make(map[taosync.Type]int, len(taosync.Types))
	for _, t := range taosync.Types {
		path := filepath.Join(dir, string(t)+"."+format(t))
		n, err := g.writeFile(path, t, format(t))
		if err != nil {
			return nil, fmt.Errorf("sample: write %s: %w", path, err)
		}
		counts[t] = n
	}
	return counts, nil
}

func (g *gen) writeFile(path string, t taosync.Type, format string) (n int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	var emit func(*record) error
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(bw)
		if err := cw.Write(Header(t)); err != nil {
			return 0, err
		}
		var cells []string
		emit = func(r *record) error {
			cells = r.appendCSV(cells[:0])
			return cw.Write(cells)
		}
	} else {
		var buf []byte
		emit = func(r *record) error {
			buf = append(r.appendJSON(buf[:0]), '\n')
			_, err := bw.Write(buf)
			return err
		}
	}
	err = g.run(t, func(r *record) error {
		n++
		return emit(r)
	})
	if err != nil {
		return n, err
	}
	if cw != nil {
		if cw.Flush(); cw.Error() != nil {
			return n, cw.Error()
		}
	}
	return n, bw.Flush()
}

// Each calls fn with every entity of type t, as Write would write them.
// Entity.Data is a JSON object holding "id" and every present field (lists
// as arrays, proctored as a boolean, max_executions as a number); each Data
// is a fresh slice the callee may keep. An error from fn stops Each and is
// returned.
func Each(c Config, t taosync.Type, fn func(e taosync.Entity) error) error {
	if err := c.check(); err != nil {
		return err
	}
	if _, ok := columns[t]; !ok {
		return fmt.Errorf("sample: unknown type %q", t)
	}
	g := newGen(c)
	// Logins are unique across the person types, so the types before t
	// must be generated (cheaply: staff are few) to know which are taken.
	switch t {
	case taosync.Proctor:
		if err := g.run(taosync.Administrator, discard); err != nil {
			return err
		}
	case taosync.TestTaker:
		for _, s := range []taosync.Type{taosync.Administrator, taosync.Proctor} {
			if err := g.run(s, discard); err != nil {
				return err
			}
		}
	}
	return g.run(t, func(r *record) error {
		return fn(taosync.Entity{Type: t, ID: r.id, Data: r.appendJSON(nil)})
	})
}

func discard(*record) error { return nil }

// gen holds what generating one data set needs across types: the config
// and the logins taken so far.
type gen struct {
	c        Config
	centres  int
	logins   map[string]int // folded "first.last" -> how many people have it
	takerIDs []string       // reused for eligibility lists
}

func newGen(c Config) *gen {
	return &gen{c: c, centres: c.Orgs * c.CentersPerOrg, logins: make(map[string]int)}
}

// run generates every record of type t, calling emit for each.
func (g *gen) run(t taosync.Type, emit func(*record) error) error {
	// Each type draws from its own stream, so that the test centres do not
	// change when, say, ProctorsPerCenter does.
	h := fnv.New64a()
	h.Write([]byte(t))
	rng := rand.New(rand.NewPCG(uint64(g.c.Seed), h.Sum64()))
	rec := &record{typ: t, vals: make([]value, 0, len(columns[t]))}
	switch t {
	case taosync.TestCenter:
		return g.testCenters(rng, rec, emit)
	case taosync.Administrator:
		return g.staff(rng, rec, emit, "adm-", g.c.AdminsPerCenter, 4)
	case taosync.Proctor:
		return g.staff(rng, rec, emit, "pr-", g.c.ProctorsPerCenter, 3)
	case taosync.TestTaker:
		return g.testTakers(rng, rec, emit)
	case taosync.Delivery:
		return g.deliveries(rng, rec, emit)
	case taosync.Eligibility:
		return g.eligibilities(rng, rec, emit)
	}
	return fmt.Errorf("sample: unknown type %q", t)
}

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

func centreID(j int) string { return "tc-" + strconv.Itoa(j+1) }
func orgID(j int, c Config) string {
	return "org-" + strconv.Itoa(j/c.CentersPerOrg+1)
}

// centreLocale is the main language of centre j, from the seed and j alone
// so that every type agrees on it without remembering it.
func (g *gen) centreLocale(j int) *locale {
	z := uint64(g.c.Seed) + uint64(j+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return &locales[z%uint64(len(locales))]
}

// localeFor picks the locale of a person at centre j: mostly the centre's.
func (g *gen) localeFor(r *rand.Rand, j int, local int) *locale {
	if r.IntN(100) < local {
		return g.centreLocale(j)
	}
	return &locales[r.IntN(len(locales))]
}

func (g *gen) testCenters(r *rand.Rand, rec *record, emit func(*record) error) error {
	for j := range g.centres {
		loc := g.centreLocale(j)
		label := pick(r, loc.institutions) + " — " + loc.room + " " + strconv.Itoa(1+r.IntN(30))
		addr := fmt.Sprintf(loc.address, pick(r, loc.streets), 1+r.IntN(150), pick(r, loc.cities))
		if j%2 == 0 {
			// Every other centre has a quoted building name.
			addr = fmt.Sprintf(loc.building, string(rune('A'+r.IntN(8)))) + addr
		}
		rec.reset(centreID(j))
		rec.str(label)
		rec.str(orgID(j, g.c))
		rec.str(addr)
		if err := emit(rec); err != nil {
			return err
		}
	}
	return nil
}

// person draws a name from loc and derives a login no one has yet.
func (g *gen) person(r *rand.Rand, loc *locale) (first, last, login string) {
	ln := pick(r, loc.last)
	var fn, sn name
	if r.IntN(2) == 0 {
		fn, sn = pick(r, loc.female), ln.fem
	} else {
		fn, sn = pick(r, loc.male), ln.masc
	}
	base := fn.ascii + "." + sn.ascii
	n := g.logins[base] + 1
	g.logins[base] = n
	login = base
	if n > 1 {
		// Names hold no digits, so base+n cannot be another base.
		login += strconv.Itoa(n)
	}
	return fn.native, sn.native, login
}

// staff generates perCentre people for every centre, numbered prefix-1...;
// one in every `shared` (on average) also works at another centre of the
// same organisation.
func (g *gen) staff(r *rand.Rand, rec *record, emit func(*record) error, prefix string, perCentre, shared int) error {
	n := 0
	centres := make([]string, 0, 2)
	for j := range g.centres {
		org := j / g.c.CentersPerOrg
		for range perCentre {
			n++
			first, last, login := g.person(r, g.localeFor(r, j, 80))
			centres = append(centres[:0], centreID(j))
			if g.c.CentersPerOrg > 1 && r.IntN(shared) == 0 {
				local := j % g.c.CentersPerOrg
				other := (local + 1 + r.IntN(g.c.CentersPerOrg-1)) % g.c.CentersPerOrg
				centres = append(centres, centreID(org*g.c.CentersPerOrg+other))
			}
			rec.reset(prefix + strconv.Itoa(n))
			rec.str(login)
			rec.str(passwordHash(n))
			rec.str(first)
			rec.str(last)
			rec.str(login + "@org-" + strconv.Itoa(org+1) + ".example.org")
			rec.strs(centres)
			if err := emit(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// block gives the test takers registered at centre j: indexes start to
// start+n-1 (0-based; ids are tt-(index+1)).
func (g *gen) block(j int) (start, n int) {
	base, extra := g.c.TestTakers/g.centres, g.c.TestTakers%g.centres
	start = j*base + min(j, extra)
	n = base
	if j < extra {
		n++
	}
	return start, n
}

var emailDomains = []string{"example.org", "example.net", "example.com"}

func (g *gen) testTakers(r *rand.Rand, rec *record, emit func(*record) error) error {
	var reg []byte
	for j := range g.centres {
		start, n := g.block(j)
		for i := start; i < start+n; i++ {
			id := i + 1
			loc := g.localeFor(r, j, 75)
			first, last, login := g.person(r, loc)
			lang := loc.lang
			if r.IntN(10) == 0 {
				lang = "en" // takes the test in English
			}
			email := ""
			if r.IntN(25) != 0 { // a few have none
				email = login + "@" + pick(r, emailDomains)
			}
			reg = append(reg[:0], strings.ToUpper(loc.lang)...)
			reg = append(reg, "-2027-"...)
			for d := 100000; d > 1 && id < d; d /= 10 {
				reg = append(reg, '0')
			}
			reg = strconv.AppendInt(reg, int64(id), 10)

			rec.reset("tt-" + strconv.Itoa(id))
			rec.str(login)
			rec.str(passwordHash(id))
			rec.str(first)
			rec.str(last)
			rec.str(email)
			rec.str(lang)
			rec.str(string(reg))
			if err := emit(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

var subjects = []string{
	"Mathématiques — Session de printemps",
	"Deutsch B2 — Leseverstehen",
	"Język polski — egzamin próbny",
	"Türkçe — Deneme Sınavı",
	"Φυσική — Τελική εξέταση",
	"Русский язык — итоговый тест",
	"日本語能力試験 N3 模擬試験",
	"汉语水平考试 HSK 4 模拟",
	"اختبار الرياضيات — الدورة الأولى",
	`English B2 — "Reading & Use of English"`,
	"Informatique, réseaux et sécurité",
	"Chemie — Klausur Oktober",
}

// zones are the offsets of the delivery windows: some in UTC, most local.
var zones = []*time.Location{
	time.UTC,
	time.FixedZone("", 1*3600),
	time.FixedZone("", 2*3600),
	time.FixedZone("", 3*3600),
	time.FixedZone("", 9*3600),
}

func deliveryID(d int) string {
	if d == 0 {
		return WebDevID
	}
	return "dl-" + strconv.Itoa(d+1)
}

func (g *gen) deliveries(r *rand.Rand, rec *record, emit func(*record) error) error {
	for d := range g.c.Deliveries {
		label := "Web Developer Test 1"
		if d > 0 {
			label = subjects[(d-1)%len(subjects)]
			if round := (d - 1) / len(subjects); round > 0 {
				label += " (" + strconv.Itoa(round+1) + ")"
			}
		}
		rec.reset(deliveryID(d))
		rec.str(label)
		rec.num(r.IntN(3)) // 0 (unlimited), 1 or 2 executions
		if d%2 == 1 {
			// Every other delivery has a window in 2027: from a morning
			// to between one and fourteen days later.
			start := time.Date(2027, time.Month(1+r.IntN(11)), 1+r.IntN(28), 8+r.IntN(5), 30*r.IntN(2), 0, 0, pick(r, zones))
			end := start.AddDate(0, 0, 1+r.IntN(14)).Add(time.Duration(8+r.IntN(4)) * time.Hour)
			rec.str(start.Format(time.RFC3339))
			rec.str(end.Format(time.RFC3339))
		} else {
			rec.absent()
			rec.absent()
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
	return nil
}

// centreDeliveries lists the deliveries taken at centre j (indexes): up to
// three consecutive ones from j on, and webdev-1 at the first centre of
// every organisation. All its test takers take the first; each
// eligibility-sized group takes the others with even odds.
func (g *gen) centreDeliveries(j int, dst []int) []int {
	k := min(g.c.Deliveries, 3)
	dst = dst[:0]
	has0 := false
	for m := range k {
		d := (j + m) % g.c.Deliveries
		dst = append(dst, d)
		has0 = has0 || d == 0
	}
	if j%g.c.CentersPerOrg == 0 && !has0 {
		dst[k-1] = 0
	}
	return dst
}

func (g *gen) eligibilities(r *rand.Rand, rec *record, emit func(*record) error) error {
	per := g.c.TakersPerEligibility
	visitorCentre := -1
	if g.c.Orgs >= 2 && g.c.TestTakers >= 1 {
		visitorCentre = g.c.CentersPerOrg // the first centre of org-2
	}
	n := 0
	var dels []int
	for j := range g.centres {
		start, count := g.block(j)
		chunks := max(1, (count+per-1)/per)
		dels = g.centreDeliveries(j, dels)
		for m, d := range dels {
			for ch := range chunks {
				visit := j == visitorCentre && d == 0 && ch == 0
				if m > 0 && !visit && r.IntN(2) == 0 {
					continue
				}
				ids := g.takerIDs[:0]
				for i := start + ch*per; i < min(start+(ch+1)*per, start+count); i++ {
					ids = append(ids, "tt-"+strconv.Itoa(i+1))
				}
				if visit {
					ids = append(ids, VisitorID)
				}
				g.takerIDs = ids
				if len(ids) == 0 {
					continue
				}
				n++
				rec.reset("el-" + strconv.Itoa(n))
				rec.str(centreID(j))
				rec.str(deliveryID(d))
				rec.strs(ids)
				switch x := r.IntN(20); {
				case x < 12:
					rec.flag(true)
				case x < 17:
					rec.absent() // the default, true
				default:
					rec.flag(false)
				}
				if err := emit(rec); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
