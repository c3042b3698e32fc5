// Command bench measures taosync against the targets of docs/performance.md,
// each beside a baseline measured in the same run on the same bytes:
//
//	go run ./internal/bench -size quick|full [-json PATH] [-markdown PATH] [-profile DIR] [-keep]
//	go run ./internal/bench -cases http,capacity -engine both -replicas 1,2
//
// It builds the CLI once and drives it as a subprocess, as an operator
// would, in homes under a temporary folder: master data generated with a
// seed by internal/sample and loaded with "central load", a client of one
// organisation registered with "central client add", bundles written with
// "export" and applied with "import". Each timed step is one CLI process:
// its wall time from start to exit, and its peak memory from the kernel's
// accounting (the child's rusage ru_maxrss).
//
// The baselines are the standard tools on the same bytes: "zstd | age" as a
// pipeline over the records a bundle carries (decrypted back out of the
// bundle) or the QTI packages published, "age -d | zstd -d" over the same
// packages, and prepared SQLite inserts of the same rows in one transaction
// with the pragmas of internal/store.
//
// It prints a table (figure, value, target, baseline, ratio, pass/miss) on
// stdout and writes it as JSON with -json. It asserts nothing about timings:
// a missed target is reported, not an error. See docs/performance.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/taosync/taosync/internal/balancer"
	"github.com/taosync/taosync/internal/pgtest"
)

func main() {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain(os.Args[1:]))
	}
	os.Exit(cliMain(os.Args[1:], os.Stdout, os.Stderr))
}

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// options are what a run measures and where it writes.
type options struct {
	size string
	// takers is the number of test takers in the client's scope (its
	// organisation's); central holds as many again in another one.
	takers int
	// executions is the number of results sent from the client to central.
	executions int
	// packages are the total sizes of the QTI package cases, smallest
	// first; the targets on speed apply to the largest, the memory target
	// to every one, and memory growth compares the largest to the smallest.
	packages []int64
	// cases are the scenarios to run: records (targets 1, 2, 4), results
	// (6, on the records case's homes) and packages (3, 5).
	cases map[string]bool
	// httpClients, httpTakers and httpResults size the http case (7):
	// clients syncing at once, test takers and results of each.
	httpClients, httpTakers, httpResults int
	bin                                  string // a prebuilt taosync binary, instead of building one
	jsonPath                             string
	mdPath                               string
	keep                                 bool
	work                                 string // where the temporary folder goes
	profile                              string // folder for in-process CPU and allocation profiles
	// profileCtx is the context of the profiled calls: background or
	// cancel (see profile.go).
	profileCtx string
	root       string // the module's root folder

	// thinTakers sizes the thin case (8): the test takers of the one
	// client's organisation, whose first data bundle crosses a thin line.
	thinTakers int
	// capClients, capTakers and capResults size the capacity case (9):
	// centres played at once, test takers and results of each.
	capClients, capTakers, capResults int
	// engines, replicas and balance are how the cases that run serve (7,
	// 9) run central: on each engine (sqlite, postgres), as each number
	// of replicas (more than one on PostgreSQL only, with their blobs in
	// versitygw), behind a balancer in this mode. See setups.
	engines  []string
	replicas []int
	balance  balancer.Mode
	// db is an external PostgreSQL database for them, as `init --role
	// central --db` takes it, instead of a throwaway cluster's: it holds
	// one central, so only one case and one setup may run on it.
	db string
}

// presets are the sizes the targets are set at (full) and the CI smoke run
// (quick).
var presets = map[string]options{
	"full": {takers: 200_000, executions: 100_000, packages: []int64{256 * mib, 1 * gib},
		httpClients: 200, httpTakers: 5_000, httpResults: 500, thinTakers: 90_000,
		capClients: 200, capTakers: 5_000, capResults: 500},
	"quick": {takers: 5_000, executions: 2_000, packages: []int64{5 * mib, 20 * mib},
		httpClients: 10, httpTakers: 100, httpResults: 20, thinTakers: 2_000,
		capClients: 10, capTakers: 200, capResults: 50},
}

func cliMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var takers, executions int
	var packages, cases string
	fs.StringVar(&o.size, "size", "quick", "quick (CI smoke run, about a minute) or full (the targets' sizes)")
	fs.IntVar(&takers, "takers", 0, "test takers in the client's scope (overrides -size)")
	fs.IntVar(&executions, "executions", 0, "executions sent back (overrides -size)")
	fs.StringVar(&packages, "packages", "", "comma-separated total sizes in MiB of the QTI package cases, smallest first (overrides -size)")
	fs.StringVar(&cases, "cases", "records,results,packages", "the scenarios to run: records (targets 1, 2, 4), results (6, needs records), packages (3, 5); http (7), thin (8) and capacity (9) only when named, or all")
	var engine, replicas, balance string
	fs.StringVar(&engine, "engine", "sqlite", "central's database for http and capacity: sqlite (in central's home), postgres (a throwaway cluster the bench starts), or both, side by side")
	fs.StringVar(&replicas, "replicas", "1", "serve replicas for http and capacity, or a comma-separated list side by side (1,2); more than one on postgres only, with their blobs in versitygw, behind a balancer")
	fs.StringVar(&balance, "balance", "round-robin", "how the balancer in front of several replicas spreads requests: round-robin, or sticky (a token's requests to the replica that issued it)")
	fs.StringVar(&o.db, "db", "", "an external PostgreSQL database for http or capacity, as init --role central --db takes it, instead of a throwaway cluster (one case, one setup)")
	fs.StringVar(&o.bin, "bin", "", "use this taosync binary instead of building ./cmd/taosync")
	fs.StringVar(&o.jsonPath, "json", "", "write the results as JSON to this file")
	fs.StringVar(&o.mdPath, "markdown", "", "write the table as Markdown to this file (for docs/performance.md)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder (homes, bundles, generated data)")
	fs.StringVar(&o.work, "work", "", "create the temporary folder in this folder (default $TMPDIR)")
	fs.StringVar(&o.profile, "profile", "", "also run export and import in-process under pprof and write the profiles into this folder")
	fs.StringVar(&o.profileCtx, "profile-ctx", "background", "context of the profiled calls: background (SQLite attributed to its caller) or cancel (as the CLI)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.profileCtx != "background" && o.profileCtx != "cancel" {
		fmt.Fprintf(stderr, "bench: -profile-ctx %q: want background or cancel\n", o.profileCtx)
		return 2
	}
	p, ok := presets[o.size]
	if !ok {
		fmt.Fprintf(stderr, "bench: -size %q: want quick or full\n", o.size)
		return 2
	}
	o.takers, o.executions, o.packages = p.takers, p.executions, p.packages
	o.httpClients, o.httpTakers, o.httpResults = p.httpClients, p.httpTakers, p.httpResults
	o.thinTakers = p.thinTakers
	o.capClients, o.capTakers, o.capResults = p.capClients, p.capTakers, p.capResults
	if takers > 0 {
		o.takers, o.size = takers, "custom"
	}
	if executions > 0 {
		o.executions, o.size = executions, "custom"
	}
	if packages != "" {
		o.packages, o.size = nil, "custom"
		for _, s := range strings.Split(packages, ",") {
			n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || n <= 0 {
				fmt.Fprintf(stderr, "bench: -packages %q: want sizes in MiB such as 256,1024\n", packages)
				return 2
			}
			o.packages = append(o.packages, int64(n*mib))
		}
	}
	o.cases = map[string]bool{}
	for _, c := range strings.Split(cases, ",") {
		switch c = strings.TrimSpace(c); c {
		case "records", "results", "packages", "http", "thin", "capacity":
			o.cases[c] = true
		case "all":
			for _, c := range []string{"records", "results", "packages", "http", "thin", "capacity"} {
				o.cases[c] = true
			}
		default:
			fmt.Fprintf(stderr, "bench: -cases: unknown case %q (want records, results, packages, http, thin, capacity or all)\n", c)
			return 2
		}
	}
	if o.cases["results"] && !o.cases["records"] {
		fmt.Fprintln(stderr, "bench: -cases: results runs on the homes of records: add records")
		return 2
	}
	if cases != "records,results,packages" {
		o.size = "custom"
	}
	if err := o.parseSetups(engine, replicas, balance); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	o.root = root

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, stderr)
	if rep != nil {
		rep.writeTable(stdout)
		if o.jsonPath != "" {
			if werr := rep.writeJSON(o.jsonPath); werr != nil {
				fmt.Fprintf(stderr, "bench: %v\n", werr)
				return 1
			}
			fmt.Fprintf(stderr, "bench: wrote %s\n", o.jsonPath)
		}
		if o.mdPath != "" {
			if werr := rep.writeMarkdown(o.mdPath); werr != nil {
				fmt.Fprintf(stderr, "bench: %v\n", werr)
				return 1
			}
			fmt.Fprintf(stderr, "bench: wrote %s\n", o.mdPath)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

// parseSetups reads -engine, -replicas, -balance and checks -db.
func (o *options) parseSetups(engine, replicas, balance string) error {
	switch engine {
	case "sqlite", "postgres":
		o.engines = []string{engine}
	case "both":
		o.engines = []string{"sqlite", "postgres"}
	default:
		return fmt.Errorf("-engine %q: want sqlite, postgres or both", engine)
	}
	o.replicas = nil
	for _, f := range strings.Split(replicas, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 || r > 8 || slices.Contains(o.replicas, r) {
			return fmt.Errorf("-replicas %q: want distinct counts from 1 to 8, such as 1,2", replicas)
		}
		o.replicas = append(o.replicas, r)
	}
	slices.Sort(o.replicas)
	var err error
	if o.balance, err = balancer.ParseMode(balance); err != nil {
		return fmt.Errorf("-balance: %w", err)
	}
	if o.db != "" {
		o.engines = []string{"postgres"} // -db names a PostgreSQL database
	}
	if len(o.setups()) == 0 {
		return fmt.Errorf("-replicas %s: more than one replica needs -engine postgres or both", replicas)
	}
	if o.db != "" && (len(o.setups()) > 1 || o.cases["http"] && o.cases["capacity"]) {
		return errors.New("-db holds one central: run one of the cases http and capacity, with one -replicas count")
	}
	return nil
}

// moduleRoot finds the folder holding taosync's go.mod, from the working
// folder up: `go run ./internal/bench` runs at the root, `go test` in
// internal/bench.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/taosync/taosync\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the taosync module (no go.mod of github.com/taosync/taosync found)")
		}
		dir = parent
	}
}

// run measures everything and returns the report, partial if a step
// failed (the figures measured so far are still worth printing).
func run(ctx context.Context, o options, logw io.Writer) (*report, error) {
	start := time.Now()
	b := &bench{o: o, logw: logw, start: start, oneReplica: map[string]float64{}}
	defer func() {
		if b.pg != nil {
			if err := b.pg.Stop(); err != nil {
				b.logf("stop PostgreSQL: %v", err)
			}
		}
	}()
	work, err := os.MkdirTemp(o.work, "taosync-bench-")
	if err != nil {
		return nil, err
	}
	b.work = work
	if o.keep {
		b.logf("keeping %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	b.rep = newReport(o, work)
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return b.rep, err
		}
	}
	if err := checkTools(ctx); err != nil {
		return b.rep, err
	}
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(work, "taosync")
		b.logf("building %s", bin)
		if err := buildCLI(ctx, o.root, bin); err != nil {
			return b.rep, err
		}
	}
	b.cli = &runner{bin: bin}

	if o.cases["records"] {
		rc, err := b.records(ctx)
		if err != nil {
			return b.finish(err)
		}
		if o.cases["results"] {
			if err := b.results(ctx, rc); err != nil {
				return b.finish(err)
			}
		}
		if !o.keep {
			// The homes of the records case are large at full size: the
			// package cases need the disk.
			os.RemoveAll(rc.dir)
		}
	}
	if o.cases["packages"] {
		var cases []*pkgCase
		for _, size := range o.packages {
			pc, err := b.packages(ctx, size)
			if err != nil {
				return b.finish(err)
			}
			cases = append(cases, pc)
		}
		b.packageFigures(cases)
	}
	if o.cases["http"] {
		if err := b.http(ctx); err != nil {
			return b.finish(err)
		}
	} else {
		b.rep.add(Figure{ID: "7", Name: "HTTP sync (sync data, sync results)", Status: statusNotMeasured,
			Note: "not measured: no HTTP yet in this run (run with -cases http or all)"})
	}
	if o.cases["thin"] {
		if err := b.thin(ctx); err != nil {
			return b.finish(err)
		}
	} else {
		b.rep.add(Figure{ID: "8", Name: "first sync data over a thin line", Status: statusNotMeasured,
			Note: "not measured in this run (run with -cases thin or all)"})
	}
	if o.cases["capacity"] {
		if err := b.capacity(ctx); err != nil {
			return b.finish(err)
		}
	} else {
		b.rep.add(Figure{ID: "9", Name: "central's capacity, measured alone", Status: statusNotMeasured,
			Note: "not measured in this run (run with -cases capacity or all)"})
	}
	return b.finish(nil)
}

func (b *bench) finish(err error) (*report, error) {
	b.rep.Seconds = time.Since(b.start).Seconds()
	b.rep.Contention.finish(time.Since(b.start))
	if err != nil {
		b.rep.Error = err.Error()
	}
	return b.rep, err
}

// bench is one run.
type bench struct {
	o     options
	logw  io.Writer
	start time.Time
	work  string
	cli   *runner
	rep   *report
	// pg is the PostgreSQL cluster the bench started, if a setup needed
	// one; oneReplica keeps figures of one replica for the setups of
	// more (besideOneReplica).
	pg         *pgtest.Cluster
	oneReplica map[string]float64
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.logw, "bench %6.1fs: %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}
