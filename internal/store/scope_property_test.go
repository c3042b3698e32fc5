package store_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/home"
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
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runScopeSeed(t, seed) })
	}
}

func runScopeSeed(t *testing.T, seed uint64) {
	w := &world{t: t, seed: seed, tally: &tally{}}
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
	w.central = w.initSide("central", home.Central)
	w.c = &store.Central{DB: w.central.h.DB, Chunks: w.central.chunks}
	m := &scopeModel{centres: map[string]string{}, staff: map[string][]string{}, takers: map[string]bool{},
		deliv: map[string]bool{}, elig: map[string]modelElig{}}
	orgs := []string{"org-a", "org-b"}
	clients := []*clientSide{w.initClient("ca", "", nil), w.initClient("cb", "", nil)}
	for i, c := range clients {
		w.register(c, orgs[i])
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
			w.dataBundle(c, importKillNone)
			w.checkScope(c, m.scope(orgs[i]))
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
