package store_test

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// TestResultsExactlyOnce drives the real result exchange (client outbox,
// result bundles, central import, receipt bundles, data bundles carrying
// receipts) on real SQLite homes through random sequences of adds, updates,
// exports, losses, duplicates, reorderings and kills, and checks that every
// result reaches central exactly once, and nothing is lost, after every step
// and after a final drain.
//
// TAOSYNC_RESULTS_SEED=N replays one seed (with -v: its step log);
// TAOSYNC_RESULTS_SEEDS=N sets how many seeds run (default 200, 24 with
// -short), from TAOSYNC_RESULTS_FIRST_SEED (default 1), each of
// TAOSYNC_RESULTS_STEPS random steps (default 30). With -v the test also
// tells what the seeds exercised.
func TestResultsExactlyOnce(t *testing.T) {
	seeds := []uint64{}
	if s := os.Getenv("TAOSYNC_RESULTS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TAOSYNC_RESULTS_SEED: %v", err)
		}
		seeds = append(seeds, n)
	} else {
		count := 200
		if testing.Short() {
			count = 24
		}
		if s := os.Getenv("TAOSYNC_RESULTS_SEEDS"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("TAOSYNC_RESULTS_SEEDS: %v", err)
			}
			count = n
		}
		first := uint64(1)
		if s := os.Getenv("TAOSYNC_RESULTS_FIRST_SEED"); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("TAOSYNC_RESULTS_FIRST_SEED: %v", err)
			}
			first = n
		}
		for i := range count {
			seeds = append(seeds, first+uint64(i))
		}
	}
	steps := 30
	if s := os.Getenv("TAOSYNC_RESULTS_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("TAOSYNC_RESULTS_STEPS: %v", err)
		}
		steps = n
	}
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { resultsExactlyOnce(t, engine, seeds, steps) })
	}
}

func resultsExactlyOnce(t *testing.T, engine string, seeds []uint64, steps int) {
	var seen tally
	template, msg := buildTemplate(t, engine)
	if msg != "" {
		t.Fatalf("template homes: %s", msg)
	}
	// The seeds are bound by fsync latency (synchronous=FULL), not CPU: they
	// run on more workers than -parallel would give them. A failing seed is
	// reported as a subtest of its own.
	workers := min(10, len(seeds))
	jobs := make(chan uint64)
	type outcome struct {
		seed uint64
		msg  string
		log  []string
	}
	results := make(chan outcome)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range jobs {
				msg, log := runSeed(t, engine, template, seed, steps, &seen)
				results <- outcome{seed, msg, log}
			}
		}()
	}
	go func() {
		for _, s := range seeds {
			jobs <- s
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	var failed []outcome
	for r := range results {
		if r.msg != "" {
			failed = append(failed, r)
		}
		if len(seeds) == 1 && testing.Verbose() {
			t.Logf("seed %d step log:\n%s", r.seed, strings.Join(r.log, "\n"))
		}
	}
	if testing.Verbose() {
		t.Logf("exercised over %d seeds:\n%s", len(seeds), seen.String())
	}
	slices.SortFunc(failed, func(a, b outcome) int { return cmp.Compare(a.seed, b.seed) })
	for _, f := range failed {
		t.Run(fmt.Sprintf("seed=%d", f.seed), func(t *testing.T) { t.Error(f.msg) })
	}
	if len(failed) > 0 {
		var ss []string
		for _, f := range failed {
			ss = append(ss, strconv.FormatUint(f.seed, 10))
		}
		t.Errorf("%d of %d seeds failed: %s", len(failed), len(seeds), strings.Join(ss, " "))
	}
}

// tally counts what the seeds exercised, shown with -v: a property test
// is only as good as the paths it reaches.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (t *tally) add(what string, n int) {
	if n == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[what] += n
}

func (t *tally) get(what string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[what]
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for k, v := range t.m {
		out = append(out, fmt.Sprintf("%6d  %s", v, k))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// failure is how a world stops a seed: failf panics with it, runSeed
// recovers it (testing.T.Fatal may only be called from the test's
// goroutine).
type failure struct{ msg string }

// runSeed runs one random sequence and returns why it failed, if it did,
// and its step log.
func runSeed(t *testing.T, engine, template string, seed uint64, steps int, seen *tally) (msg string, log []string) {
	w := &world{t: t, seed: seed, engine: engine, tally: seen}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				f = failure{w.report(fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))}
			}
			msg = f.msg
		}
		w.close()
		log = w.log
	}()
	w.setup(template)
	for i := range steps {
		w.step = i + 1
		w.randomStep()
		w.check()
	}
	w.step = 0
	w.drain(w.c1)
	w.check()
	w.checkFinal()
	w.checkReceiptsHome()
	w.checkLatest()
	// The conflict phase brings in the second client: every other seed
	// runs it, every fourth with -short.
	if seed%2 == 0 && (!testing.Short() || seed%4 == 0) {
		w.conflictPhase()
	}
	return "", nil
}

const (
	org1     = "org-1"
	org2     = "org-2"
	delivery = "d-1"
	expiry   = 30 * 24 * time.Hour
)

// side is one home: central or a client.
type side struct {
	name   string
	h      *home.Home
	signer minisign.PrivateKey
	keys   home.PublicKeys
	id     *age.X25519Identity
	chunks *blobstore.Store
}

type clientSide struct {
	*side
	local   *store.ClientDB
	central manifest.Party
	center  string
	takers  []string
	dasEver bool // deleteAfterSend was on at some time
}

// modelExec is what the test-delivery app handed the client for one id.
type modelExec struct {
	cur    taosync.Execution
	hashes map[string]bool     // every content it ever had
	past   []taosync.Execution // those contents, in order
}

// pastOf lists the contents it had with this status.
func (m *modelExec) pastOf(status string) []taosync.Execution {
	var out []taosync.Execution
	for _, e := range m.past {
		if e.Status == status {
			out = append(out, e)
		}
	}
	return out
}

type world struct {
	t       *testing.T
	ctx     context.Context
	seed    uint64
	engine  string // central's database engine (pgtest.Engines)
	rng     *rand.Rand
	dir     string
	central *side
	c       *store.CentralDB
	c1      *clientSide
	model   map[string]*modelExec
	ids     []string
	sticks  []string
	nDirs   int
	nExec   int
	nXML    int
	step    int
	log     []string
	discard *slog.Logger
	homes   []*home.Home
	tally   *tally
	// scenario names a fixed sequence (TestResultsScenarios).
	scenario string
	// fullOdds, if not 0, makes one data export in fullOdds a forced full
	// snapshot; chunk, if not 0, is the records per chunk of every data
	// export (else 1 to 3 at random).
	fullOdds int
	chunk    int
}

func (w *world) init() {
	w.ctx = w.t.Context()
	w.rng = rand.New(rand.NewPCG(w.seed, w.seed*0x9e3779b97f4a7c15))
	w.dir = w.t.TempDir()
	w.model = map[string]*modelExec{}
	w.discard = slog.New(slog.DiscardHandler)
}

var (
	takers1 = []string{"tt-1", "tt-2", "tt-3"}
	takers2 = []string{"tt-9"}
)

// buildTemplate makes, once, the homes every seed starts from: central
// (home.Init) with the master data of two organisations, client c1
// (home.Init, registered on central, trusting central) holding its first
// data bundle, and client c2 of the other organisation, alike, which stays
// silent until the conflict phase. Copying them is much cheaper than
// making them: a seed's time goes to fsyncs.
func buildTemplate(t *testing.T, engine string) (dir, msg string) {
	w := &world{t: t, engine: engine, tally: &tally{}}
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
			if f, ok := r.(failure); ok {
				msg = f.msg
			}
		}
		w.close()
	}()
	w.init()
	w.central = w.initSide("central", home.RoleCentral)
	w.c = &store.CentralDB{DB: w.central.h.DB, Chunks: w.central.chunks}
	w.load(org1, "tc-1", takers1, "el-1")
	w.load(org2, "tc-2", takers2, "el-2")
	w.c1 = w.initClient("c1", "tc-1", takers1)
	w.register(w.c1, org1)
	w.dataBundle(w.c1, importKillNone)
	var n int
	if err := w.c1.h.DB.QueryRowContext(w.ctx, "SELECT COUNT(*) FROM entities").Scan(&n); err != nil || n != 6 {
		w.failf("client c1 holds %d entities after its first data bundle (err %v), want 6", n, err)
	}
	c2 := w.initClient("c2", "tc-2", takers2)
	w.register(c2, org2)
	w.dataBundle(c2, importKillNone)
	return w.dir, ""
}

// setup copies the template homes into the seed's own folder and opens
// them.
func (w *world) setup(template string) {
	w.init()
	for _, name := range []string{"central", "c1", "c2"} {
		w.must(os.CopyFS(filepath.Join(w.dir, name), os.DirFS(filepath.Join(template, name))), "copy template home "+name)
	}
	if w.engine == "postgres" {
		// The copied home names the template's database: it gets a copy.
		urlFile := filepath.Join(w.dir, "central", home.DBURLFile)
		from, err := os.ReadFile(urlFile)
		w.must(err, "read the template's database")
		url, err := pgtest.Shared(w.t).CopyDB(w.ctx, strings.TrimSpace(string(from)))
		w.must(err, "copy the template's database")
		w.must(os.WriteFile(urlFile, []byte(url), 0o600), "name the copy")
	}
	w.central = w.openSide("central")
	w.c = &store.CentralDB{DB: w.central.h.DB, Chunks: w.central.chunks}
	w.c1 = w.openClient("c1", "tc-1", takers1)
	w.logf("setup: central with %s and %s, client c1 of %s holding its first data bundle", org1, org2, org1)
}

// close closes the homes of the world.
func (w *world) close() {
	for _, h := range w.homes {
		h.Close()
	}
}

func (w *world) logf(format string, args ...any) {
	w.log = append(w.log, fmt.Sprintf("%3d ", w.step)+fmt.Sprintf(format, args...))
}

func (w *world) report(msg string) string {
	if w.scenario != "" {
		return fmt.Sprintf("scenario %s: %s\nstep log:\n%s", w.scenario, msg, strings.Join(w.log, "\n"))
	}
	return fmt.Sprintf("seed %d, step %d: %s\nreplay: TAOSYNC_RESULTS_SEED=%d go test ./internal/store -run TestResultsExactlyOnce -count=1 -v\nstep log:\n%s",
		w.seed, w.step, msg, w.seed, strings.Join(w.log, "\n"))
}

// failf stops the seed.
func (w *world) failf(format string, args ...any) {
	panic(failure{w.report(fmt.Sprintf(format, args...))})
}

func (w *world) must(err error, what string) {
	if err != nil {
		w.failf("%s: %v", what, err)
	}
}

func (w *world) initSide(name string, role home.Role) *side {
	where := ""
	if role == home.RoleCentral {
		where = pgtest.Where(w.t, w.engine)
	}
	h, err := home.InitAt(w.ctx, filepath.Join(w.dir, name), role, where)
	w.must(err, "init "+name)
	return w.side(name, h)
}

func (w *world) openSide(name string) *side {
	h, err := home.Open(w.ctx, filepath.Join(w.dir, name))
	w.must(err, "open "+name)
	return w.side(name, h)
}

func (w *world) side(name string, h *home.Home) *side {
	w.homes = append(w.homes, h)
	s := &side{name: name, h: h}
	var err error
	s.signer, err = h.Signer()
	w.must(err, "signer")
	s.keys, err = h.PublicKeys()
	w.must(err, "public keys")
	s.id, err = h.Identity()
	w.must(err, "identity")
	s.chunks, err = blobstore.Open(h.Path(home.ChunksDir))
	w.must(err, "chunk store")
	return s
}

// load loads one organisation's master data on central, as `central load`
// would: a test centre, test takers, the delivery, an eligibility.
func (w *world) load(org, center string, takers []string, elig string) {
	ent := func(t taosync.Type, id, data string) taosync.Entity {
		return taosync.Entity{Type: t, ID: id, Data: []byte(data)}
	}
	var tts []taosync.Entity
	for _, tt := range takers {
		tts = append(tts, ent(taosync.TestTaker, tt, fmt.Sprintf(`{"id":%q,"login":%q,"language":"en"}`, tt, tt)))
	}
	list := `"` + strings.Join(takers, `","`) + `"`
	files := []struct {
		t  taosync.Type
		es []taosync.Entity
	}{
		{taosync.TestCenter, []taosync.Entity{ent(taosync.TestCenter, center,
			fmt.Sprintf(`{"id":%q,"label":"Centre %s","org_id":%q}`, center, center, org))}},
		{taosync.Delivery, []taosync.Entity{ent(taosync.Delivery, delivery,
			fmt.Sprintf(`{"id":%q,"label":"Exam","max_executions":0}`, delivery))}},
		{taosync.TestTaker, tts},
		{taosync.Eligibility, []taosync.Entity{ent(taosync.Eligibility, elig,
			fmt.Sprintf(`{"id":%q,"test_center":%q,"delivery":%q,"test_takers":[%s],"proctored":true}`, elig, center, delivery, list))}},
	}
	for _, f := range files {
		_, err := w.c.Load(w.ctx, string(f.t)+".jsonl", f.t, &entitySource{es: f.es}, false)
		w.must(err, "load "+string(f.t))
	}
}

// initClient initialises a client home and stores central's key as
// `credentials import` does.
func (w *world) initClient(name, center string, takers []string) *clientSide {
	s := w.initSide(name, home.RoleClient)
	ck := w.central.keys
	err := s.h.DB.Tx(w.ctx, func(tx *sql.Tx) error {
		if err := store.SetMeta(w.ctx, tx, "client_id", name); err != nil {
			return err
		}
		return store.AddTrustedKey(w.ctx, tx, store.TrustedKey{KeyID: ck.Sign.IDString(), Party: "central",
			SignKey: ck.Sign.String(), AgeRecipient: ck.Age})
	})
	w.must(err, "credentials of "+name)
	return w.client(s, center, takers)
}

func (w *world) openClient(name, center string, takers []string) *clientSide {
	return w.client(w.openSide(name), center, takers)
}

func (w *world) client(s *side, center string, takers []string) *clientSide {
	c := &clientSide{side: s, center: center, takers: takers, local: &store.ClientDB{DB: s.h.DB, Chunks: s.chunks}}
	var err error
	c.central, err = s.h.Central(w.ctx)
	w.must(err, "central of "+s.name)
	return c
}

// register registers a client on central from its public keys, as
// `central client add` does.
func (w *world) register(c *clientSide, org string) {
	err := w.c.AddClient(w.ctx, store.RegisteredClient{ID: c.name, Org: org, AgeRecipient: c.keys.Age,
		SignKey: c.keys.Sign.String(), KeyID: c.keys.Sign.IDString()}, "not-a-real-secret-hash")
	w.must(err, "register "+c.name)
}

func (w *world) newDir(prefix string) string {
	w.nDirs++
	d := filepath.Join(w.dir, fmt.Sprintf("%s-%02d", prefix, w.nDirs))
	w.must(os.MkdirAll(d, 0o755), "mkdir")
	return d
}

// pickStick returns an existing stick, or a new one with probability pNew.
func (w *world) pickStick(pNew float64) string {
	if len(w.sticks) == 0 || w.rng.Float64() < pNew {
		s := w.newDir("stick")
		w.sticks = append(w.sticks, s)
		return s
	}
	return w.sticks[w.rng.IntN(len(w.sticks))]
}

func base(dir string) string { return filepath.Base(dir) }

// randomStep runs one step, chosen by weight.
func (w *world) randomStep() {
	steps := []struct {
		weight int
		fn     func()
	}{
		{18, w.stepAdd},
		{14, w.stepUpdate},
		{14, func() { w.stepExport(exportKillNone) }},
		{6, func() { w.stepExport(1 + w.rng.IntN(exportKillCount-1)) }},
		{4, w.stepExportInterleaved},
		{12, w.stepImportCentral},
		{5, w.stepReorder},
		{5, w.stepDuplicate},
		{5, w.stepLose},
		{10, w.stepCarryHome},
		{5, w.stepDataBundle},
		{3, w.stepToggleDAS},
	}
	total := 0
	for _, s := range steps {
		total += s.weight
	}
	r := w.rng.IntN(total)
	for _, s := range steps {
		if r < s.weight {
			s.fn()
			return
		}
		r -= s.weight
	}
}

func (w *world) newXML(id string) string {
	w.nXML++
	return fmt.Sprintf(`<assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p1"><context sourcedId=%q/><!-- v%d --></assessmentResult>`, id, w.nXML)
}

func finishedAt(minute int) string { return fmt.Sprintf("2026-06-01T10:%02d:00Z", minute%60) }

// stepAdd takes in one to three new executions in one file.
func (w *world) stepAdd() {
	var xs []taosync.Execution
	for range 1 + w.rng.IntN(3) {
		w.nExec++
		id := fmt.Sprintf("x%03d", w.nExec)
		e := taosync.Execution{ID: id, Delivery: delivery, TestTaker: w.c1.takers[w.rng.IntN(len(w.c1.takers))],
			TestCenter: w.c1.center, StartedAt: "2026-06-01T09:00:00Z", ResultXML: w.newXML(id)}
		switch r := w.rng.IntN(10); {
		case r < 6:
			e.Status = taosync.StatusFinished
		case r < 8:
			e.Status = taosync.StatusTerminated
		default:
			e.Status = taosync.StatusActive
		}
		if e.Status != taosync.StatusActive {
			e.FinishedAt = finishedAt(w.rng.IntN(60))
		}
		xs = append(xs, e)
	}
	w.addExecutions(w.c1, xs, "add")
}

// stepUpdate changes one or two existing executions: their result, their
// finish time, an active one's status, or nothing at all.
func (w *world) stepUpdate() {
	if len(w.ids) == 0 {
		w.stepAdd()
		return
	}
	var xs []taosync.Execution
	picked := map[string]bool{}
	for range 1 + w.rng.IntN(2) {
		id := w.ids[w.rng.IntN(len(w.ids))]
		if picked[id] {
			continue
		}
		picked[id] = true
		e := w.model[id].cur
		switch r := w.rng.IntN(10); {
		case e.Status == taosync.StatusActive && r < 5:
			e.Status = taosync.StatusFinished
			if r == 0 {
				e.Status = taosync.StatusTerminated
			}
			e.FinishedAt = finishedAt(w.rng.IntN(60))
			e.ResultXML = w.newXML(id)
		case r < 5:
			e.ResultXML = w.newXML(id)
		case r < 8 && e.Status != taosync.StatusActive:
			e.FinishedAt = finishedAt(w.rng.IntN(60))
		case r < 8:
			e.ResultXML = w.newXML(id)
		case r == 8 && len(w.model[id].pastOf(e.Status)) > 1:
			// A correction undone: an earlier content again (of the same
			// status: a finished sitting does not become active again).
			past := w.model[id].pastOf(e.Status)
			e = past[w.rng.IntN(len(past))]
		default:
			// the same content again
		}
		xs = append(xs, e)
	}
	w.addExecutions(w.c1, xs, "update")
}

// addExecutions runs ClientDB.AddExecutions and checks its counts against the
// outbox states before it (docs/cli.md, results add: an id again updates
// it while it has not been sent; after, a changed one is a new revision).
func (w *world) addExecutions(c *clientSide, xs []taosync.Execution, what string) {
	before := w.outbox(c)
	var want store.ExecutionsAdded
	var desc []string
	for _, e := range xs {
		prev, ok := before[e.ID]
		switch {
		case !ok:
			want.Added++
		case prev.ContentHash == e.ContentHash():
			want.Unchanged++
		case prev.State == store.Queued:
			want.Updated++
		default:
			want.Revised++
		}
		desc = append(desc, fmt.Sprintf("%s(%s,%s)", e.ID, e.Status, e.ContentHash()[:6]))
	}
	// The executions name entities the client holds, as `results add`
	// checks.
	for _, e := range xs {
		for t, id := range map[taosync.Type]string{taosync.Delivery: e.Delivery, taosync.TestTaker: e.TestTaker, taosync.TestCenter: e.TestCenter} {
			var one int
			if err := c.h.DB.QueryRowContext(w.ctx, "SELECT 1 FROM entities WHERE type = ? AND id = ?", string(t), id).Scan(&one); err != nil {
				w.failf("%s: execution %s names %s %s, which client %s does not hold: %v", what, e.ID, t, id, c.name, err)
			}
		}
	}
	res, err := c.local.AddExecutions(w.ctx, what+".jsonl", &execSource{xs: xs})
	w.must(err, what)
	w.logf("%s on %s: %s -> added %d updated %d revised %d unchanged %d", what, c.name, strings.Join(desc, " "),
		res.Added, res.Updated, res.Revised, res.Unchanged)
	w.tally.add("executions added", int(res.Added))
	w.tally.add("executions updated in place (queued)", int(res.Updated))
	w.tally.add("executions revised (after packaged)", int(res.Revised))
	w.tally.add("executions handed in unchanged", int(res.Unchanged))
	res.File = ""
	if res != want {
		w.failf("%s: AddExecutions counted %+v, want %+v (states before: %v)", what, res, want, states(before))
	}
	if c != w.c1 {
		return
	}
	for _, e := range xs {
		m := w.model[e.ID]
		if m == nil {
			m = &modelExec{hashes: map[string]bool{}}
			w.model[e.ID] = m
			w.ids = append(w.ids, e.ID)
		}
		m.cur = e
		if !m.hashes[e.ContentHash()] {
			m.past = append(m.past, e)
		}
		m.hashes[e.ContentHash()] = true
	}
}

func states(m map[string]store.OutboxEntry) string {
	var out []string
	for id, e := range m {
		out = append(out, id+"="+e.State)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func (w *world) outbox(c *clientSide) map[string]store.OutboxEntry {
	es, err := c.local.Outbox(w.ctx)
	w.must(err, "outbox")
	m := map[string]store.OutboxEntry{}
	for _, e := range es {
		m[e.ID] = e
	}
	return m
}

func (w *world) stepExport(kill int) {
	w.exportResults(w.c1, w.pickStick(0.3), w.rng.IntN(2) == 0, kill, nil)
}

// stepExportInterleaved exports while another command runs in the middle
// of the export: `results add` changing executions, or an import bringing
// receipts home.
func (w *world) stepExportInterleaved() {
	stick := w.pickStick(0.3)
	during := &interleave{at: -2, fn: func() {
		w.logf("  (in the middle of the export:)")
		if w.rng.IntN(2) == 0 || len(w.sticks) == 0 {
			w.tally.add("exports with an update in the middle", 1)
			w.stepUpdate()
			return
		}
		w.tally.add("exports with receipts imported in the middle", 1)
		w.importClient(w.c1, w.sticks[w.rng.IntN(len(w.sticks))], importKillNone)
	}}
	w.exportResults(w.c1, stick, w.rng.IntN(2) == 0, exportKillNone, during)
}

// interleave is another command's work run in the middle of an export:
// before the executions are read (at -1), after the at-th is read, or
// before the commit (at >= the count); at -2 picks one at random.
type interleave struct {
	at int
	fn func()
}

// exportResults mirrors runExportResults (cmd/taosync/export.go), with an
// optional kill, or another command's work in the middle.
func (w *world) exportResults(c *clientSide, stick string, resend bool, kill int, during *interleave) {
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	state, err := c.local.ClientState(ctx)
	w.must(err, "client state")
	state.Version, state.FreeDisk, state.Clock = "test", -1, time.Now().UTC()
	id := bundle.NewID()
	ex, err := c.local.BeginResultExport(ctx, id, []string{taosync.StatusFinished}, resend)
	w.must(err, "begin result export")
	if resend {
		w.tally.add("result exports with --resend", 1)
	}
	what := fmt.Sprintf("export results of %s to %s (resend %v, kill %s, receipt_seq %d)", c.name, base(stick), resend,
		exportKillNames[kill], state.ReceiptSeq)
	opts := exporter.ResultOptions{
		Client: c.name, ChunkRecords: 1 + w.rng.IntN(3), Expiry: expiry,
		Signer: c.signer, AgeRecipient: c.keys.Age, Central: c.central, State: state, Now: time.Now(),
	}
	if ex.Count() == 0 {
		// On a stick, nothing to send is a bundle of the readiness report
		// only, which central answers with a receipt naming it.
		w.tally.add("result exports of the report only", 1)
		opts.ReportOnly = true
		res, err := exporter.Results(ctx, ex, stick, id, opts)
		w.must(err, what)
		w.logf("%s: nothing to send: %s seq %d, the report only", what, base(res.Dir), res.Manifest.Seq)
		return
	}
	w.tally.add("result exports, kill "+exportKillNames[kill], 1)
	if kill == exportKillAbandon {
		w.logf("%s: %d packaged, then the process died", what, ex.Count())
		return
	}
	var wrapped taosync.ResultExport = ex
	ke := &killExport{ResultExport: ex, mode: kill, after: w.rng.IntN(int(ex.Count())), cancel: cancel, stick: stick, id: id}
	if kill == exportKillInEach || kill == exportKillBeforeCommit || kill == exportKillAfterPublish {
		wrapped = ke
	}
	if during != nil {
		ke.during, ke.at = during.fn, during.at
		if ke.at == -2 {
			ke.at = w.rng.IntN(int(ex.Count())+2) - 1
		}
		wrapped = ke
	}
	res, err := exporter.Results(ctx, wrapped, stick, id, opts)
	if errors.Is(err, exporter.ErrNothingToSend) && kill != exportKillInEach {
		// Everything packaged changed since (another command's update):
		// no bundle, and the executions wait for the next export.
		w.tally.add("result exports whose packaged executions all changed", 1)
		w.logf("%s: %d packaged, all changed since: no bundle", what, ex.Count())
		if d := findBundle(stick, id); d != "" {
			w.failf("%s: an export with nothing left to send wrote %s", what, base(d))
		}
		return
	}
	switch kill {
	case exportKillNone, exportKillNoManifest:
		w.must(err, what)
		w.logf("%s: %s seq %d, %d executions (%d packaged)", what, base(res.Dir), res.Manifest.Seq,
			res.Manifest.Section(taosync.ResultsSection).Records, ex.Count())
		if kill == exportKillNoManifest {
			w.must(os.Remove(filepath.Join(res.Dir, manifest.FileName)), "remove manifest")
		}
	default:
		if err == nil {
			w.failf("%s: the export succeeded though the process was killed", what)
		}
		if d := findBundle(stick, id); d != "" {
			w.failf("%s: a killed export left %s on the stick", what, base(d))
		}
		if kill == exportKillAfterPublish {
			if ke.stash == "" {
				w.failf("%s: the bundle was never published", what)
			}
			dst := filepath.Join(stick, strings.TrimPrefix(base(ke.stash), "stash-"))
			w.must(os.Rename(ke.stash, dst), "restore published bundle")
			w.logf("%s: %d executions, %s published, outbox not committed: %v", what, ex.Count(), base(dst), err)
		} else {
			w.logf("%s: %d packaged, no bundle: %v", what, ex.Count(), err)
		}
	}
}

func (w *world) randomImportKill() int {
	if w.rng.IntN(5) == 0 {
		return 1 + w.rng.IntN(importKillCount-1)
	}
	return importKillNone
}

func (w *world) stepImportCentral() {
	if len(w.sticks) == 0 {
		return
	}
	stick := w.sticks[w.rng.IntN(len(w.sticks))]
	w.importCentral(stick, w.randomImportKill())
	if w.rng.IntN(3) == 0 {
		w.importCentral(stick, importKillNone)
	}
}

// stepReorder imports several sticks on central in random order.
func (w *world) stepReorder() {
	if len(w.sticks) == 0 {
		return
	}
	order := w.rng.Perm(len(w.sticks))[:1+w.rng.IntN(len(w.sticks))]
	for _, i := range order {
		w.importCentral(w.sticks[i], importKillNone)
	}
}

// allResultBundles lists the result bundle folders on every stick.
func (w *world) allResultBundles() []string {
	var out []string
	for _, s := range w.sticks {
		out = append(out, bundleDirs(s, string(manifest.KindResults))...)
	}
	return out
}

// stepDuplicate copies a result bundle onto a second stick and imports both
// on central, in either order.
func (w *world) stepDuplicate() {
	all := w.allResultBundles()
	if len(all) == 0 {
		return
	}
	src := all[w.rng.IntN(len(all))]
	var other string
	for range 3 {
		other = w.pickStick(0.5)
		if other != filepath.Dir(src) {
			break
		}
	}
	if other == filepath.Dir(src) {
		other = w.newDir("stick")
		w.sticks = append(w.sticks, other)
	}
	dst := filepath.Join(other, base(src))
	if _, err := os.Stat(dst); err == nil {
		w.logf("duplicate %s: already on %s", base(src), base(other))
	} else {
		w.must(os.CopyFS(dst, os.DirFS(src)), "copy bundle")
		w.tally.add("result bundles duplicated onto another stick", 1)
		w.logf("duplicate %s from %s to %s", base(src), base(filepath.Dir(src)), base(other))
	}
	pair := []string{filepath.Dir(src), other}
	w.rng.Shuffle(2, func(i, j int) { pair[i], pair[j] = pair[j], pair[i] })
	for _, s := range pair {
		w.importCentral(s, importKillNone)
	}
}

// stepLose deletes a result bundle from its stick.
func (w *world) stepLose() {
	all := w.allResultBundles()
	if len(all) == 0 {
		return
	}
	d := all[w.rng.IntN(len(all))]
	w.must(os.RemoveAll(d), "lose bundle")
	w.tally.add("result bundles lost", 1)
	w.logf("lose %s from %s", base(d), base(filepath.Dir(d)))
}

func (w *world) stepToggleDAS() {
	w.c1.local.DeleteAfterSend = !w.c1.local.DeleteAfterSend
	w.c1.dasEver = w.c1.dasEver || w.c1.local.DeleteAfterSend
	w.logf("deleteAfterSend = %v", w.c1.local.DeleteAfterSend)
}

// stepCarryHome imports a stick on the client, its receipt bundles perhaps
// lost on the way.
func (w *world) stepCarryHome() {
	if len(w.sticks) == 0 {
		return
	}
	stick := w.sticks[w.rng.IntN(len(w.sticks))]
	if w.rng.IntN(4) == 0 {
		for _, d := range bundleDirs(stick, string(manifest.KindReceipts)) {
			if w.rng.IntN(2) == 0 {
				w.must(os.RemoveAll(d), "lose receipts")
				w.tally.add("receipt bundles lost", 1)
				w.logf("lose %s from %s", base(d), base(stick))
			}
		}
	}
	w.importClient(w.c1, stick, w.randomImportKill())
}

func (w *world) stepDataBundle() { w.dataBundle(w.c1, w.randomImportKill()) }

// importCentral mirrors importResults (cmd/taosync/import.go) on central:
// importer.Results, then the receipt bundles written beside.
func (w *world) importCentral(stick string, kill int) []importer.ResultLine {
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	trust, err := w.central.h.Trust(ctx, time.Now())
	w.must(err, "central trust")
	var target taosync.ResultTarget = w.c
	var k *killer
	if kill != importKillNone {
		k = &killer{mode: kill, n: w.rng.IntN(2), cancel: cancel}
		target = &killResultTarget{ResultTarget: w.c, k: k}
	}
	lines, err := importer.Results(ctx, stick, target, importer.Options{Trust: trust, Identity: w.central.id,
		Transport: "folder", Log: w.discard})
	w.must(err, "import results on central from "+base(stick))
	killed := k != nil && k.fired
	var desc []string
	for _, l := range lines {
		desc = append(desc, fmt.Sprintf("%s:%s%s", base(l.Bundle), l.Outcome, countsString(l.Counts, l.Batch)))
		if l.Outcome == importer.Refused && !killed && !errors.Is(l.Err(), bundle.ErrIncomplete) {
			w.failf("central refused %s from %s: %s", base(l.Bundle), base(stick), l.Reason)
		}
	}
	if killed {
		w.tally.add("central imports killed "+importKillNames[kill], 1)
	}
	for _, l := range lines {
		w.tally.add("central: result bundle "+l.Outcome, 1)
		w.tally.add("central: execution revisions stored", int(l.Counts[taosync.ResultsSection].Created))
		w.tally.add("central: conflicts stored", int(l.Counts["conflicts"].Created))
	}
	w.logf("import %s on central (kill %s, fired %v): %s", base(stick), importKillNames[kill], killed, strings.Join(desc, " "))
	if killed {
		return lines // the process died: no receipts written
	}
	for _, l := range lines {
		if l.Batch == 0 {
			continue
		}
		if d := w.writeReceipts(ctx, stick, l.Client, l.Batch); d != "" {
			w.logf("  wrote %s", base(d))
		}
	}
	return lines
}

func countsString(c map[string]taosync.Counts, batch uint64) string {
	if len(c) == 0 && batch == 0 {
		return ""
	}
	var parts []string
	for k, v := range c {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v.Created+v.Updated))
	}
	slices.Sort(parts)
	if batch > 0 {
		parts = append(parts, fmt.Sprintf("batch=%d", batch))
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// writeReceipts mirrors writeReceipts (cmd/taosync/import.go).
func (w *world) writeReceipts(ctx context.Context, dir, client string, batch uint64) string {
	existing, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("receipts-%s-%06d-*", client, batch), manifest.FileName))
	if len(existing) > 0 {
		return ""
	}
	res, err := exporter.Receipts(ctx, w.c, dir, exporter.ReceiptOptions{Client: client, Batch: batch,
		Expiry: expiry, Signer: w.central.signer, AgeRecipient: w.central.keys.Age, Now: time.Now()})
	w.must(err, "write receipts")
	m := res.Manifest
	err = store.AddHistory(ctx, w.central.h.DB, taosync.HistoryEntry{Direction: "out", Transport: "folder", Peer: client,
		BundleID: m.ID, Bundle: filepath.Base(res.Dir), Kind: string(m.Kind), Stream: m.Stream, Seq: m.Seq,
		Counts: map[string]taosync.Counts{taosync.ReceiptsSection: {Created: m.Section(taosync.ReceiptsSection).Records}},
		Bytes:  res.Bytes(), Outcome: taosync.OutcomeOK})
	w.must(err, "receipt history")
	return res.Dir
}

// importClient mirrors runImport on a client: importer.Data.
func (w *world) importClient(c *clientSide, dir string, kill int) []importer.Line {
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	trust, err := c.h.Trust(ctx, time.Now())
	w.must(err, "client trust")
	var target taosync.DataTarget = c.local
	var k *killer
	if kill != importKillNone {
		k = &killer{mode: kill, n: w.rng.IntN(2), cancel: cancel}
		target = &killDataTarget{DataTarget: c.local, k: k}
	}
	lines, err := importer.Data(ctx, dir, target, importer.Options{Trust: trust, Identity: c.id,
		Transport: "folder", Log: w.discard})
	w.must(err, "import on "+c.name+" from "+base(dir))
	killed := k != nil && k.fired
	var desc []string
	for _, l := range lines {
		desc = append(desc, fmt.Sprintf("%s:%s%s", base(l.Bundle), l.Outcome, countsString(l.Counts, 0)))
		if l.Outcome == importer.Refused && !killed && !errors.Is(l.Err(), bundle.ErrIncomplete) {
			w.failf("client %s refused %s from %s: %s", c.name, base(l.Bundle), base(dir), l.Reason)
		}
	}
	if killed {
		w.tally.add("client imports killed "+importKillNames[kill], 1)
	}
	for _, l := range lines {
		w.tally.add(fmt.Sprintf("client: %s bundle %s", l.Kind, l.Outcome), 1)
		if l.Outcome == importer.Applied {
			w.tally.add(fmt.Sprintf("client: receipts applied from %s bundles", l.Kind), int(l.Counts[taosync.ReceiptsSection].Updated))
		}
	}
	w.logf("import %s on %s (das %v, kill %s, fired %v): %s", base(dir), c.name, c.local.DeleteAfterSend,
		importKillNames[kill], killed, strings.Join(desc, " "))
	return lines
}

// dataBundle exports a data bundle for a client from central (it carries
// the client's outstanding receipts) and imports it there; a killed import
// is run again, as the technician would.
// keptSnapshot counts the data exports that found a full snapshot kept.
const keptSnapshot = "data exports with a kept snapshot"

func (w *world) dataBundle(c *clientSide, kill int) *exporter.DataWritten {
	dir := w.newDir("data")
	chunk := 1 + w.rng.IntN(3)
	if w.chunk > 0 {
		chunk = w.chunk
	}
	full := w.fullOdds > 0 && w.rng.IntN(w.fullOdds) == 0
	// A full snapshot kept for the client's organisation (of the data as
	// it is: a change drops them), in chunks of this size, is sent again by
	// a full export (dataExport.Snapshot).
	var kept int
	err := w.central.h.DB.QueryRowContext(w.ctx, `SELECT count(*) FROM snapshots s JOIN clients c ON c.org = s.org
		WHERE c.id = ? AND s.chunk_records = ?`, c.name, chunk).Scan(&kept)
	w.must(err, "kept snapshots")
	res, err := exporter.Data(w.ctx, w.c, dir, exporter.DataOptions{Client: c.name, ChunkRecords: chunk, Full: full,
		Expiry: expiry, Signer: w.central.signer, AgeRecipient: w.central.keys.Age, Now: time.Now(), Log: w.discard})
	w.must(err, "export data")
	if kept > 0 && res.Manifest.Base == nil {
		w.tally.add(keptSnapshot, 1)
	}
	w.logf("export data for %s: %s (%d receipts)", c.name, base(res.Dir), res.Manifest.Section(taosync.ReceiptsSection).Records)
	lines := w.importClient(c, dir, kill)
	if kill != importKillNone {
		lines = w.importClient(c, dir, importKillNone)
	}
	if len(lines) != 1 || (lines[0].Outcome != importer.Applied && lines[0].Outcome != importer.Skipped) {
		w.failf("data bundle %s not applied on %s: %+v", base(res.Dir), c.name, lines)
	}
	return res
}

// centralRows lists central's executions by (id, content hash), failing on
// a duplicate.
func (w *world) centralRows() (map[[2]string]store.ExecutionEntry, []store.ExecutionEntry) {
	rows, err := w.c.Executions(w.ctx)
	w.must(err, "central executions")
	m := map[[2]string]store.ExecutionEntry{}
	for _, r := range rows {
		k := [2]string{r.ID, r.ContentHash}
		if _, dup := m[k]; dup {
			w.failf("central holds execution %s content %s twice", r.ID, r.ContentHash[:8])
		}
		m[k] = r
	}
	return m, rows
}

// check tests the invariants that hold after every step.
func (w *world) check() {
	byKey, rows := w.centralRows()
	for _, r := range rows {
		if r.Client != w.c1.name {
			continue
		}
		m := w.model[r.ID]
		if m == nil {
			w.failf("central holds execution %s that client %s never had", r.ID, r.Client)
		}
		if !m.hashes[r.ContentHash] {
			w.failf("central holds execution %s with content %s that client %s never had", r.ID, r.ContentHash[:8], r.Client)
		}
		if r.Status != taosync.StatusFinished {
			w.failf("central holds execution %s with status %s: only finished ones are sent", r.ID, r.Status)
		}
		if r.State != store.Received {
			w.failf("central holds execution %s (revision %d, content %s) as %s in a single-client run", r.ID, r.Revision, r.ContentHash[:8], r.State)
		}
	}
	out := w.outbox(w.c1)
	if len(out) != len(w.model) {
		w.failf("outbox holds %d executions, the app handed in %d", len(out), len(w.model))
	}
	for id, m := range w.model {
		e, ok := out[id]
		if !ok {
			w.failf("outbox lost execution %s", id)
		}
		if want := m.cur.ContentHash(); e.ContentHash != want {
			w.failf("outbox holds %s with content %s, its latest is %s", id, e.ContentHash[:8], want[:8])
		}
		if !e.Payload {
			w.tally.add("payload-less executions seen (deleteAfterSend)", 1)
		}
		if !e.Payload && e.State != store.Acknowledged {
			w.failf("execution %s lost its result payload while %s (deleteAfterSend %v)", id, e.State, w.c1.local.DeleteAfterSend)
		}
		if !e.Payload && !w.c1.dasEver {
			w.failf("execution %s lost its result payload though deleteAfterSend was never on", id)
		}
		if e.State == store.Acknowledged {
			if _, ok := byKey[[2]string{id, e.ContentHash}]; !ok {
				w.failf("execution %s is acknowledged but central does not hold its content %s", id, e.ContentHash[:8])
			}
		}
		if e.Status != taosync.StatusFinished && e.State != store.Queued {
			w.failf("execution %s with status %s is %s: only finished ones are sent", id, e.Status, e.State)
		}
	}
}

// drain sends whatever is pending with --resend until nothing is, as an
// operator would after the exam: one round must do.
func (w *world) drain(c *clientSide) {
	w.logf("drain %s", c.name)
	for round := 1; ; round++ {
		var pending []string
		for id, e := range w.outbox(c) {
			if e.Status == taosync.StatusFinished && e.State != store.Acknowledged {
				pending = append(pending, id+"="+e.State)
			}
		}
		if len(pending) == 0 {
			return
		}
		slices.Sort(pending)
		w.tally.add("drains with something pending", 1)
		if round > 1 {
			w.failf("drain round %d: still pending after a clean export, import and receipts: %v", round, pending)
		}
		stick := w.newDir("drain")
		w.exportResults(c, stick, true, exportKillNone, nil)
		w.importCentral(stick, importKillNone)
		w.importClient(c, stick, importKillNone)
	}
}

// checkFinal tests the end state of the single-client run.
func (w *world) checkFinal() {
	byKey, rows := w.centralRows()
	out := w.outbox(w.c1)
	for id, m := range w.model {
		hash := m.cur.ContentHash()
		if m.cur.Status != taosync.StatusFinished {
			for _, r := range rows {
				if r.ID == id {
					w.failf("execution %s is %s on the client but central holds it (%s)", id, m.cur.Status, r.ContentHash[:8])
				}
			}
			continue
		}
		r, ok := byKey[[2]string{id, hash}]
		if !ok {
			w.failf("finished execution %s (content %s) never reached central", id, hash[:8])
		}
		if r.State != store.Received || r.Client != w.c1.name {
			w.failf("execution %s on central is %s from %s, want received from %s", id, r.State, r.Client, w.c1.name)
		}
		if e := out[id]; e.State != store.Acknowledged {
			w.failf("execution %s is on central but %s on the client after the drain", id, e.State)
		}
	}
	st, err := w.c.Status(w.ctx)
	w.must(err, "central status")
	for _, s := range st {
		if s.ID == w.c1.name && (s.Conflicts != 0 || s.Received != int64(len(rows))) {
			w.failf("central status of %s: %d received, %d conflicts; want %d, 0", s.ID, s.Received, s.Conflicts, len(rows))
		}
	}
	w.logf("final: %d executions, %d on central", len(w.model), len(rows))
}

// checkReceiptsHome tests that no receipt batch is stuck on central: one
// data bundle carries every batch the client has not reported holding, and
// after it the client holds them all, without a gap.
func (w *world) checkReceiptsHome() {
	w.dataBundle(w.c1, importKillNone)
	cs, err := w.c1.local.ClientState(w.ctx)
	w.must(err, "client state")
	cl, err := w.c.GetClient(w.ctx, w.c.DB, w.c1.name)
	w.must(err, "client c1")
	if cs.ReceiptSeq != cl.ReceiptSeq {
		w.failf("after a data bundle, client c1 holds every receipt batch up to %d, central made %d", cs.ReceiptSeq, cl.ReceiptSeq)
	}
}

// checkLatest tests that central's current version of each finished
// execution (its highest revision from the client) is the client's latest
// content: central holds the latest content, and holds it as the latest
// (docs/operations.md "Results exactly once": a receipt acknowledges only
// the revision it names).
func (w *world) checkLatest() {
	_, rows := w.centralRows()
	out := w.outbox(w.c1)
	for _, id := range w.ids {
		m := w.model[id]
		hash := m.cur.ContentHash()
		if m.cur.Status != taosync.StatusFinished {
			continue
		}
		var latest store.ExecutionEntry
		var history []string
		for _, r := range rows {
			if r.ID == id && r.Client == w.c1.name {
				history = append(history, fmt.Sprintf("revision %d content %s", r.Revision, r.ContentHash[:6]))
				if r.Revision > latest.Revision {
					latest = r
				}
			}
		}
		if latest.ContentHash != hash {
			w.failf("central's latest revision of %s is revision %d content %s, but the client's latest content is %s (revision %d, %s on the client); central holds %v",
				id, latest.Revision, latest.ContentHash[:6], hash[:6], out[id].Revision, out[id].State, history)
		}
	}
}

// conflictPhase brings in a second client, of another organisation, that
// reuses an execution id of the first with other content: both contents
// kept, and no conflict: an id of one organisation's is not another's
// (store.resultApply.put), so c2's execution is received and c1's stay as
// they were. (Conflicts within an organisation are in importer's tests.)
func (w *world) conflictPhase() {
	w.step = 0
	var finished []string
	for _, id := range w.ids {
		if w.model[id].cur.Status == taosync.StatusFinished {
			finished = append(finished, id)
		}
	}
	if len(finished) == 0 {
		w.nExec++
		id := fmt.Sprintf("x%03d", w.nExec)
		w.addExecutions(w.c1, []taosync.Execution{{ID: id, Delivery: delivery, TestTaker: w.c1.takers[0],
			TestCenter: w.c1.center, Status: taosync.StatusFinished, StartedAt: "2026-06-01T09:00:00Z",
			FinishedAt: finishedAt(1), ResultXML: w.newXML(id)}}, "add")
		w.drain(w.c1)
		w.checkFinal()
		finished = append(finished, id)
	}
	id := finished[w.rng.IntN(len(finished))]
	_, before := w.centralRows()
	c2 := w.openClient("c2", "tc-2", takers2)
	w.tally.add("conflict phases", 1)
	w.logf("conflict phase: client c2 of %s (registered, holding its first data bundle, silent so far) reuses %s", org2, id)
	x := taosync.Execution{ID: id, Delivery: delivery, TestTaker: "tt-9", TestCenter: "tc-2",
		Status: taosync.StatusFinished, StartedAt: "2026-06-01T09:05:00Z", FinishedAt: finishedAt(30), ResultXML: w.newXML(id)}
	w.addExecutions(c2, []taosync.Execution{x}, "add")
	stick := w.newDir("stick-c2")
	w.exportResults(c2, stick, false, exportKillNone, nil)
	lines := w.importCentral(stick, importKillNone)
	var conflicts int64
	for _, l := range lines {
		conflicts += l.Counts["conflicts"].Created
	}
	if conflicts != 0 {
		w.failf("central's import reported %d conflicts, want 0: %+v", conflicts, lines)
	}
	w.importCentral(stick, importKillNone) // again: nothing new
	w.importClient(c2, stick, importKillNone)

	byKey, rows := w.centralRows()
	if len(rows) != len(before)+1 {
		w.failf("central holds %d execution revisions after c2's, want %d", len(rows), len(before)+1)
	}
	for _, r := range before {
		now, ok := byKey[[2]string{r.ID, r.ContentHash}]
		if !ok || now.State != r.State || now.Client != r.Client {
			w.failf("c1's execution %s (%s) changed with c2's: %+v -> %+v", r.ID, r.ContentHash[:8], r, now)
		}
	}
	r, ok := byKey[[2]string{id, x.ContentHash()}]
	if !ok || r.State != store.Received || r.Client != c2.name {
		w.failf("c2's execution %s is not received: %+v (found %v)", id, r, ok)
	}
	st, err := w.c.Status(w.ctx)
	w.must(err, "central status")
	for _, s := range st {
		switch {
		case s.ID == c2.name && (s.Conflicts != 0 || s.Received != 1):
			w.failf("central status of c2: %d received, %d conflicts; want 1, 0", s.Received, s.Conflicts)
		case s.ID == w.c1.name && s.Conflicts != 0:
			w.failf("central status of c1: %d conflicts, want 0", s.Conflicts)
		}
	}
	cl, err := w.c.GetClient(w.ctx, w.c.DB, c2.name)
	w.must(err, "client c2")
	var receipts []taosync.Receipt
	w.must(w.c.Receipts(w.ctx, c2.name, 1, cl.ReceiptSeq, func(r taosync.Receipt) error {
		receipts = append(receipts, r)
		return nil
	}), "receipts of c2")
	for _, r := range receipts {
		if r.ID != id || r.ContentHash != x.ContentHash() || r.Status != taosync.ReceiptReceived {
			w.failf("c2's receipt %+v, want one received receipt for %s", r, id)
		}
	}
	if len(receipts) == 0 {
		w.failf("c2 got no receipt for its execution")
	}
	e := w.outbox(c2)[id]
	w.logf("c2's %s after its receipt: %s", id, e.State)
	w.check()
}

// TestResultsScenarios replays, step by step, short fixed sequences behind
// the failures TestResultsExactlyOnce finds, so that each has a
// deterministic witness of a few steps.
func TestResultsScenarios(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { resultsScenarios(t, engine) })
	}
}

func resultsScenarios(t *testing.T, engine string) {
	template, msg := buildTemplate(t, engine)
	if msg != "" {
		t.Fatalf("template homes: %s", msg)
	}
	finished := func(id, result string) taosync.Execution {
		return taosync.Execution{ID: id, Delivery: delivery, TestTaker: "tt-1", TestCenter: "tc-1",
			Status: taosync.StatusFinished, StartedAt: "2026-06-01T09:00:00Z", FinishedAt: "2026-06-01T10:00:00Z",
			ResultXML: `<assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p1"><context/><!-- ` + result + ` --></assessmentResult>`}
	}
	a, b := finished("x001", "A"), finished("x001", "B")
	// send exports what is pending, imports it on central and brings the
	// receipts home, on one stick.
	send := func(w *world) {
		stick := w.newDir("stick")
		w.exportResults(w.c1, stick, false, exportKillNone, nil)
		w.importCentral(stick, importKillNone)
		w.importClient(w.c1, stick, importKillNone)
	}
	for _, sc := range []struct {
		name string
		fn   func(w *world)
	}{
		// `results add` changes an execution after `export results` has
		// packaged it and before it reads it: the bundle holds no
		// execution, central answers it with a receipt batch holding no
		// receipt, which the client can never record; from then on it
		// never reports holding its receipts, and every data bundle
		// carries all of them again.
		{"empty-result-bundle", func(w *world) {
			w.addExecutions(w.c1, []taosync.Execution{a}, "add")
			stick := w.newDir("stick")
			w.exportResults(w.c1, stick, false, exportKillNone, &interleave{at: -1, fn: func() {
				w.addExecutions(w.c1, []taosync.Execution{b}, "update")
			}})
			w.importCentral(stick, importKillNone)
			w.importClient(w.c1, stick, importKillNone)
			w.drain(w.c1)
			w.check()
			w.checkFinal()
			w.checkReceiptsHome()
		}},
		// With nothing to send, the stick carries the readiness report
		// only; central answers it with a receipt batch naming the bundle.
		// Lost on the way, the batch rides the next data bundle; carried
		// home, it is held at once. Either way the client holds every
		// batch central made, and results after it go exactly once.
		{"report-only-bundle", func(w *world) {
			lost := w.newDir("stick")
			w.exportResults(w.c1, lost, false, exportKillNone, nil)
			w.importCentral(lost, importKillNone)
			receipts := bundleDirs(lost, string(manifest.KindReceipts))
			if len(receipts) != 1 {
				w.failf("central answered a bundle of the report only with %d receipt bundles, want 1", len(receipts))
			}
			w.must(os.RemoveAll(receipts[0]), "lose receipts")
			w.checkReceiptsHome()
			send(w)
			cs, err := w.c1.local.ClientState(w.ctx)
			w.must(err, "client state")
			cl, err := w.c.GetClient(w.ctx, w.c.DB, w.c1.name)
			w.must(err, "client c1")
			if cs.ReceiptSeq != 2 || cl.ReceiptSeq != 2 {
				w.failf("after two bundles of the report only, the client holds receipt batches up to %d, central made %d; want 2 and 2", cs.ReceiptSeq, cl.ReceiptSeq)
			}
			w.addExecutions(w.c1, []taosync.Execution{a}, "add")
			send(w)
			w.check()
			w.checkFinal()
			w.checkReceiptsHome()
		}},
		// A correction undone: A is received, then B, then A again as
		// revision 3, which central takes as a duplicate of revision 1.
		// Central's latest revision stays B.
		{"reverted-content-duplicate", func(w *world) {
			w.addExecutions(w.c1, []taosync.Execution{a}, "add")
			send(w)
			w.addExecutions(w.c1, []taosync.Execution{b}, "update")
			send(w)
			w.addExecutions(w.c1, []taosync.Execution{a}, "update")
			send(w)
			w.check()
			w.checkFinal()
			w.checkLatest()
		}},
		// The same, with the receipt of revision 1 coming home late: it
		// acknowledges revision 3 (same content), which never left the
		// client (docs/operations.md: "A receipt for an older revision
		// acknowledges nothing").
		{"reverted-content-old-receipt", func(w *world) {
			w.addExecutions(w.c1, []taosync.Execution{a}, "add")
			first := w.newDir("stick")
			w.exportResults(w.c1, first, false, exportKillNone, nil)
			w.importCentral(first, importKillNone)
			w.addExecutions(w.c1, []taosync.Execution{b}, "update")
			send(w)
			w.addExecutions(w.c1, []taosync.Execution{a}, "update")
			w.importClient(w.c1, first, importKillNone)
			if e := w.outbox(w.c1)[a.ID]; e.State == store.Acknowledged {
				w.failf("the receipt for revision 1 acknowledged revision %d, which never left the client", e.Revision)
			}
			w.drain(w.c1)
			w.checkFinal()
			w.checkLatest()
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			w := &world{t: t, seed: 1, engine: engine, tally: &tally{}, scenario: sc.name}
			defer w.close()
			defer func() {
				if r := recover(); r != nil {
					f, ok := r.(failure)
					if !ok {
						panic(r)
					}
					t.Fatal(f.msg)
				}
			}()
			w.setup(template)
			sc.fn(w)
		})
	}
}
