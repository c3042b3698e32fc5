package store_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
)

// scopeModel is what the test loaded on central, live entities only: the
// oracle a client's data is compared with.
type scopeModel struct {
	centres map[string]string   // id -> org
	staff   map[string][]string // administrator or proctor "type/id" -> centres
	takers  map[string]bool
	deliv   map[string]bool
	elig    map[string]modelElig
}

type modelElig struct {
	centre, delivery string
	takers           []string
}

// scope lists the "type/id" of every entity in org's scope.
func (m *scopeModel) scope(org string) []string {
	var out []string
	in := map[string]bool{}
	for c, o := range m.centres {
		if o == org {
			in[c] = true
			out = append(out, "test-center/"+c)
		}
	}
	for k, cs := range m.staff {
		if slices.ContainsFunc(cs, func(c string) bool { return in[c] }) {
			out = append(out, k)
		}
	}
	reached := map[string]bool{}
	for id, e := range m.elig {
		if !in[e.centre] {
			continue
		}
		out = append(out, "eligibility/"+id)
		if m.deliv[e.delivery] {
			reached["delivery/"+e.delivery] = true
		}
		for _, tt := range e.takers {
			if m.takers[tt] {
				reached["test-taker/"+tt] = true
			}
		}
	}
	out = append(out, slices.Collect(maps.Keys(reached))...)
	slices.Sort(out)
	return out
}

// TestDataFollowsScope: random loads on central (centres moving between
// organisations, staff and eligibilities changing their references,
// entities pruned and loaded again), each followed by a data export for
// two clients, one per organisation, and its import. After every import
// the client holds exactly its organisation's scope as the model computes
// it, with central's data: the scopes central keeps, the lists of what each
// client holds and the deltas computed from them never drift.
func TestDataFollowsScope(t *testing.T) {
	for _, engine := range pgtest.Engines {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprint(engine, "/", seed), func(t *testing.T) {
				withCentral(t, engine, seed, func(w *world) { scopeSeed(t, w) })
			})
		}
	}
}

// withCentral runs fn on a new world of the given seed with central set up,
// its failures failing t.
func withCentral(t *testing.T, engine string, seed uint64, fn func(w *world)) {
	w := &world{t: t, seed: seed, engine: engine, tally: &tally{}}
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(failure); ok {
				t.Fatal(f.msg)
			}
			panic(r)
		}
	}()
	defer w.close()
	w.init()
	w.central = w.initSide("central", home.RoleCentral)
	w.c = &store.CentralDB{DB: w.central.h.DB, Chunks: w.central.chunks}
	fn(w)
}

// TestKeptSnapshot: a full snapshot written for one client is sent again to
// another client of its organisation while the data is unchanged, and never
// after a change: of an entity's data alone, or of the scope.
func TestKeptSnapshot(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testKeptSnapshot(t, engine) })
	}
}

func testKeptSnapshot(t *testing.T, engine string) {
	withCentral(t, engine, 1, func(w *world) {
		w.fullOdds, w.chunk = 1, 2
		a, b := w.initClient("ca", "", nil), w.initClient("ca2", "", nil)
		w.register(a, "org-a")
		w.register(b, "org-a")
		load := func(typ taosync.Type, lines ...string) {
			var es []taosync.Entity
			for _, l := range lines {
				var e struct{ ID string }
				w.must(json.Unmarshal([]byte(l), &e), "test entity")
				es = append(es, taosync.Entity{Type: typ, ID: e.ID, Data: []byte(l)})
			}
			_, err := w.c.Load(w.ctx, string(typ)+".jsonl", typ, &entitySource{es: es}, false)
			w.must(err, "load "+string(typ))
			var kept int
			w.must(w.central.h.DB.QueryRowContext(w.ctx, "SELECT (SELECT count(*) FROM snapshots) + (SELECT count(*) FROM snapshot_chunks)").Scan(&kept), "kept")
			if kept != 0 {
				w.failf("a load of %s left %d rows of kept snapshots", typ, kept)
			}
		}
		// rows names the kept chunks' rows: an export that reads the
		// records keeps them anew, under new rowids (on PostgreSQL, by
		// a new transaction: xmin); one that sends them leaves them.
		query := map[string]string{
			"sqlite":   "SELECT group_concat(rowid) FROM snapshot_chunks",
			"postgres": "SELECT string_agg(xmin::text || '.' || n, ',') FROM snapshot_chunks",
		}[engine]
		rows := func() string {
			var r sql.NullString
			w.must(w.central.h.DB.QueryRowContext(w.ctx, query).Scan(&r), "kept rows")
			return r.String
		}
		export := func(c *clientSide, wantKept bool, scope []string) {
			before, kept := w.tally.get(keptSnapshot), rows()
			w.dataBundle(c, importKillNone)
			if got := w.tally.get(keptSnapshot) > before; got != wantKept {
				w.failf("full export for %s found a kept snapshot: %v, want %v", c.name, got, wantKept)
			}
			if sent := rows() == kept; sent != wantKept || rows() == "" {
				w.failf("full export for %s: kept chunks %q before, %q after", c.name, kept, rows())
			}
			w.checkScope(c, scope)
		}
		load(taosync.TestCenter, `{"id":"tc1","label":"L","org_id":"org-a"}`, `{"id":"tc2","label":"L","org_id":"org-a"}`)
		load(taosync.TestTaker, `{"id":"tt1","login":"l0"}`, `{"id":"tt2","login":"l0"}`, `{"id":"tt3","login":"l0"}`)
		load(taosync.Delivery, `{"id":"d1","label":"D","max_executions":0}`)
		load(taosync.Eligibility, `{"id":"e1","test_center":"tc1","delivery":"d1","test_takers":["tt1","tt2"]}`,
			`{"id":"e2","test_center":"tc2","delivery":"d1","test_takers":["tt3"]}`)
		all := []string{"delivery/d1", "eligibility/e1", "eligibility/e2", "test-center/tc1", "test-center/tc2",
			"test-taker/tt1", "test-taker/tt2", "test-taker/tt3"}
		export(a, false, all)
		export(b, true, all)
		export(a, true, all)
		// tt1's login changes, no reference does: the scopes stay.
		load(taosync.TestTaker, `{"id":"tt1","login":"l1"}`)
		export(b, false, all)
		export(a, true, all)
		// tc2 moves to org-b, and e2 and tt3 with it.
		load(taosync.TestCenter, `{"id":"tc2","label":"L","org_id":"org-b"}`)
		export(a, false, []string{"delivery/d1", "eligibility/e1", "test-center/tc1", "test-taker/tt1", "test-taker/tt2"})
	})
}

func scopeSeed(t *testing.T, w *world) {
	seed := w.seed
	m := &scopeModel{centres: map[string]string{}, staff: map[string][]string{}, takers: map[string]bool{},
		deliv: map[string]bool{}, elig: map[string]modelElig{}}
	// Two clients share org-a: a full snapshot written for one is kept
	// and sent to the other while the data does not change. One export in
	// two is a forced full snapshot.
	w.fullOdds = 2
	orgs := []string{"org-a", "org-b"}
	clientOrgs := []string{"org-a", "org-b", "org-a"}
	clients := []*clientSide{w.initClient("ca", "", nil), w.initClient("cb", "", nil), w.initClient("ca2", "", nil)}
	for i, c := range clients {
		w.register(c, clientOrgs[i])
	}
	ids := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%d", prefix, i))
		}
		return out
	}
	// some picks a random subset of the live ones, in random order.
	some := func(live []string, max int) []string {
		out := slices.Clone(live)
		w.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out[:min(len(out), w.rng.IntN(max+1))]
	}
	liveOf := func(set map[string]bool) []string {
		var out []string
		for k, ok := range set {
			if ok {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}
	quote := func(xs []string) string {
		if len(xs) == 0 {
			return "[]"
		}
		return `["` + strings.Join(xs, `","`) + `"]`
	}
	for w.step = 1; w.step <= 40; w.step++ {
		// The first steps load every type once, in dependency order.
		types := []taosync.Type{taosync.TestCenter, taosync.TestTaker, taosync.Delivery,
			taosync.Administrator, taosync.Proctor, taosync.Eligibility}
		typ := types[(w.step-1)%len(types)]
		if w.step > len(types) {
			typ = types[w.rng.IntN(len(types))]
		}
		prune := w.step > len(types) && w.rng.IntN(2) == 0
		var es []taosync.Entity
		add := func(id, data string) { es = append(es, taosync.Entity{Type: typ, ID: id, Data: []byte(data)}) }
		centres := slices.Sorted(maps.Keys(m.centres))
		switch typ {
		case taosync.TestCenter:
			for _, id := range some(ids("tc", 5), 5) {
				org := orgs[w.rng.IntN(2)]
				add(id, fmt.Sprintf(`{"id":%q,"label":"L%d","org_id":%q}`, id, w.rng.IntN(2), org))
			}
		case taosync.TestTaker:
			for _, id := range some(ids("tt", 12), 12) {
				add(id, fmt.Sprintf(`{"id":%q,"login":"l%d"}`, id, w.rng.IntN(3)))
			}
		case taosync.Delivery:
			for _, id := range some(ids("d", 3), 3) {
				add(id, fmt.Sprintf(`{"id":%q,"label":"D%d","max_executions":0}`, id, w.rng.IntN(2)))
			}
		case taosync.Administrator, taosync.Proctor:
			for _, id := range some(ids(string(typ)[:1], 4), 4) {
				add(id, fmt.Sprintf(`{"id":%q,"login":%q,"test_centers":%s}`, id, id, quote(some(centres, 2))))
			}
		case taosync.Eligibility:
			deliveries, takers := liveOf(m.deliv), liveOf(m.takers)
			if len(centres) == 0 || len(deliveries) == 0 {
				continue
			}
			for _, id := range some(ids("e", 5), 5) {
				c, d := centres[w.rng.IntN(len(centres))], deliveries[w.rng.IntN(len(deliveries))]
				add(id, fmt.Sprintf(`{"id":%q,"test_center":%q,"delivery":%q,"test_takers":%s}`, id, c, d, quote(some(takers, 4))))
			}
		}
		_, err := w.c.Load(w.ctx, string(typ)+".jsonl", typ, &entitySource{es: es}, prune)
		w.must(err, fmt.Sprintf("load %d %s (prune %v)", len(es), typ, prune))
		w.logf("load %s prune=%v: %d", typ, prune, len(es))
		m.apply(typ, es, prune)
		for i, c := range clients {
			if w.rng.IntN(3) == 0 {
				continue // this client misses a load: the next delta carries both
			}
			want := m.scope(clientOrgs[i])
			held := w.holds(c)
			res := w.dataBundle(c, importKillNone)
			w.checkCounts(c, res.Counts, held, want)
			w.checkScope(c, want)
		}
	}
	if w.tally.get(keptSnapshot) == 0 {
		t.Fatalf("seed %d: no export sent a kept snapshot: the test no longer covers them", seed)
	}
}

// holds lists the "type/id" of every entity the client holds.
func (w *world) holds(c *clientSide) []string {
	rows, err := c.h.DB.QueryContext(w.ctx, "SELECT type || '/' || id FROM entities ORDER BY 1")
	w.must(err, "client entities")
	var out []string
	for rows.Next() {
		var k string
		w.must(rows.Scan(&k), "scan")
		out = append(out, k)
	}
	w.must(rows.Close(), "client entities")
	return out
}

// checkCounts compares what an export says it creates and deletes, per
// type, with the client's holdings before it and its scope: the same
// whether the records were read or a kept snapshot was sent.
func (w *world) checkCounts(c *clientSide, counts map[string]taosync.Counts, held, scope []string) {
	for _, typ := range taosync.Types {
		var want taosync.Counts
		for _, k := range scope {
			if strings.HasPrefix(k, string(typ)+"/") && !slices.Contains(held, k) {
				want.Created++
			}
		}
		for _, k := range held {
			if strings.HasPrefix(k, string(typ)+"/") && !slices.Contains(scope, k) {
				want.Deleted++
			}
		}
		got := counts[string(typ)]
		if got.Created != want.Created || got.Deleted != want.Deleted {
			w.failf("export for %s counts %s: %d created, %d deleted; want %d and %d",
				c.name, typ, got.Created, got.Deleted, want.Created, want.Deleted)
		}
	}
}

// apply records a load in the model.
func (m *scopeModel) apply(t taosync.Type, es []taosync.Entity, prune bool) {
	type parsed struct {
		Org         string   `json:"org_id"`
		TestCenters []string `json:"test_centers"`
		TestCenter  string   `json:"test_center"`
		Delivery    string   `json:"delivery"`
		TestTakers  []string `json:"test_takers"`
	}
	seen := map[string]bool{}
	for _, e := range es {
		var p parsed
		if err := json.Unmarshal(e.Data, &p); err != nil {
			panic(err)
		}
		seen[e.ID] = true
		switch t {
		case taosync.TestCenter:
			m.centres[e.ID] = p.Org
		case taosync.TestTaker:
			m.takers[e.ID] = true
		case taosync.Delivery:
			m.deliv[e.ID] = true
		case taosync.Administrator, taosync.Proctor:
			m.staff[string(t)+"/"+e.ID] = p.TestCenters
		case taosync.Eligibility:
			m.elig[e.ID] = modelElig{centre: p.TestCenter, delivery: p.Delivery, takers: p.TestTakers}
		}
	}
	if !prune {
		return
	}
	switch t {
	case taosync.TestCenter:
		maps.DeleteFunc(m.centres, func(id, _ string) bool { return !seen[id] })
	case taosync.TestTaker:
		maps.DeleteFunc(m.takers, func(id string, _ bool) bool { return !seen[id] })
	case taosync.Delivery:
		maps.DeleteFunc(m.deliv, func(id string, _ bool) bool { return !seen[id] })
	case taosync.Administrator, taosync.Proctor:
		maps.DeleteFunc(m.staff, func(k string, _ []string) bool {
			typ, id, _ := strings.Cut(k, "/")
			return typ == string(t) && !seen[id]
		})
	case taosync.Eligibility:
		maps.DeleteFunc(m.elig, func(id string, _ modelElig) bool { return !seen[id] })
	}
}

// checkScope compares what the client holds with the scope the model
// computes, and each entity's data with central's.
func (w *world) checkScope(c *clientSide, want []string) {
	rows, err := c.h.DB.QueryContext(w.ctx, "SELECT type || '/' || id, data FROM entities ORDER BY 1")
	w.must(err, "client entities")
	var got []string
	data := map[string]string{}
	for rows.Next() {
		var k, d string
		w.must(rows.Scan(&k, &d), "scan")
		got = append(got, k)
		data[k] = d
	}
	w.must(rows.Close(), "client entities")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		w.failf("client %s holds %v, its scope is %v", c.name, got, want)
	}
	for _, k := range got {
		typ, id, _ := strings.Cut(k, "/")
		var d string
		err := w.central.h.DB.QueryRowContext(w.ctx, "SELECT data FROM entities WHERE type = ? AND id = ?", typ, id).Scan(&d)
		w.must(err, "central entity "+k)
		if d != data[k] {
			w.failf("client %s holds %s as %s, central has %s", c.name, k, data[k], d)
		}
	}
}
