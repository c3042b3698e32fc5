package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/taosync/taosync/internal/balancer"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/procstat"
	"github.com/taosync/taosync/internal/s3test"
)

// setup is how a case that runs serve (7, 9) runs central: on which
// engine, as how many replicas, and how the balancer in front of them
// spreads the requests.
type setup struct {
	engine   string // sqlite or postgres
	replicas int
	balance  balancer.Mode
}

// String names the setup in the figures: "SQLite", "PostgreSQL", or
// "PostgreSQL, 2 replicas, round-robin".
func (s setup) String() string {
	name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[s.engine]
	if s.replicas > 1 {
		name += fmt.Sprintf(", %d replicas, %s", s.replicas, s.balance)
	}
	return name
}

// slug names the setup's folder.
func (s setup) slug() string {
	if s.replicas == 1 {
		return s.engine
	}
	return fmt.Sprintf("%s-%d-%s", s.engine, s.replicas, s.balance)
}

// setups are the setups of a run, in order: each engine as one replica,
// then as more, side by side in the table. Replicas need PostgreSQL: a
// SQLite file is one process's.
func (o options) setups() []setup {
	var out []setup
	for _, e := range o.engines {
		for _, r := range o.replicas {
			if r == 1 || e == "postgres" {
				out = append(out, setup{engine: e, replicas: r, balance: o.balance})
			}
		}
	}
	return out
}

// centralRun is the central of one setup while a case runs: its home, its
// database and blobs, its serve processes, and the balancer in front of
// them when more than one.
type centralRun struct {
	setup
	home string
	db   string // the PostgreSQL database's URL, or "" for the home's SQLite
	// dbPID is the throwaway PostgreSQL cluster's server process, whose
	// CPU time is central's too; 0 on SQLite and with -db.
	dbPID   int
	s3      *s3test.Server
	servers []*server
	bal     *balancer.Balancer
	// url is where clients reach central: the balancer, or the one serve.
	url     string
	stopped bool
}

// newCentral prepares the central of s in dir: a fresh PostgreSQL database
// (on the cluster the bench starts, or -db), and for replicas a versitygw
// bucket for their blobs. Nothing is initialised yet: see initArgs.
func (b *bench) newCentral(ctx context.Context, s setup, dir string) (*centralRun, error) {
	c := &centralRun{setup: s, home: filepath.Join(dir, "central")}
	if s.engine == "postgres" {
		switch {
		case b.o.db != "":
			c.db = b.o.db
		default:
			if b.pg == nil {
				b.logf("starting PostgreSQL (a throwaway cluster)")
				pg, err := pgtest.Start(ctx)
				if err != nil {
					return nil, fmt.Errorf("start PostgreSQL: %w\nhint: %s", err, pgtest.Hint)
				}
				b.pg = pg
			}
			var err error
			if c.db, err = b.pg.CreateDB(ctx); err != nil {
				return nil, err
			}
			if c.dbPID, err = b.pg.PID(); err != nil {
				return nil, err
			}
		}
	}
	if s.replicas > 1 {
		folder := filepath.Join(dir, "s3", "buckets")
		if err := os.MkdirAll(folder, 0o700); err != nil {
			return nil, err
		}
		srv, err := s3test.Start(folder)
		if err != nil {
			return nil, fmt.Errorf("start versitygw: %w\nhint: %s", err, s3test.Hint)
		}
		c.s3 = srv
		// serve and the commands that open central read the store's
		// credentials from the AWS environment, as an operator's would.
		for _, kv := range s3test.Env() {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	}
	return c, nil
}

// initArgs is the command that makes central's home: its database and,
// for replicas, its blobs in the bucket.
func (c *centralRun) initArgs() []string {
	args := []string{"init", "--role", "central"}
	if c.db != "" {
		args = append(args, "--db", c.db)
	}
	if c.s3 != nil {
		args = append(args, "--blobs", c.s3.URL())
	}
	return args
}

// start starts the replicas and, for more than one, the balancer. Each
// replica but the first has a home of its own, as on another machine: the
// same database, keys and settings (linked), its own working folders.
func (b *bench) startCentral(ctx context.Context, c *centralRun) error {
	var backends []string
	for i := range c.replicas {
		home := c.home
		if i > 0 {
			home = fmt.Sprintf("%s-replica-%d", c.home, i+1)
			if err := replicaHome(c.home, home); err != nil {
				return err
			}
		}
		srv, err := b.startServe(ctx, home)
		if err != nil {
			return err
		}
		c.servers = append(c.servers, srv)
		backends = append(backends, "http://"+srv.addr)
	}
	c.url = backends[0]
	if c.replicas > 1 {
		bal, err := balancer.Start(backends, c.balance)
		if err != nil {
			return err
		}
		c.bal, c.url = bal, bal.URL
		b.logf("%s: balancer %s in front of %s", c.setup, bal.URL, strings.Join(backends, ", "))
	}
	return nil
}

// replicaHome makes dst a home of another replica of the central in src:
// links to src's files (database URL, keys, settings), and its own spool,
// inbox and package store folders.
func replicaHome(src, dst string) error {
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if n == "spool" || n == "inbox" || n == "store" {
			err = os.Mkdir(filepath.Join(dst, n), 0o700)
		} else {
			err = os.Symlink(filepath.Join(src, n), filepath.Join(dst, n))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pids are the serve processes' ids.
func (c *centralRun) pids() []int {
	var out []int
	for _, s := range c.servers {
		out = append(out, s.cmd.Process.Pid)
	}
	return out
}

// cpuTime is central's CPU time (user and system): its serve processes'
// and, on the throwaway PostgreSQL cluster, the database server's; and,
// not central's, that of this process, which plays the centres.
type cpuTime struct{ serve, db, gen time.Duration }

// total is central's.
func (t cpuTime) total() time.Duration { return t.serve + t.db }

func (t cpuTime) minus(u cpuTime) cpuTime {
	return cpuTime{t.serve - u.serve, t.db - u.db, t.gen - u.gen}
}

func (t cpuTime) String() string {
	db := ""
	if t.db != 0 {
		db = fmt.Sprintf(" and PostgreSQL %.1f", t.db.Seconds())
	}
	return fmt.Sprintf("serve %.1f%s CPU-s (the centres' generator %.1f)", t.serve.Seconds(), db, t.gen.Seconds())
}

// cpu reads central's CPU time so far, and this process's.
func (c *centralRun) cpu() (cpuTime, error) {
	var t cpuTime
	var err error
	if t.gen, err = procstat.CPU(os.Getpid()); err != nil {
		return t, err
	}
	if t.serve, err = procstat.CPUs(c.pids()); err != nil || c.dbPID == 0 {
		return t, err
	}
	t.db, err = procstat.TreeCPU(c.dbPID)
	return t, err
}

// cpuOf says, for a figure's name, whose CPU time central's is.
func (c *centralRun) cpuOf() string {
	switch {
	case c.dbPID != 0:
		return ", serve's and PostgreSQL's processes"
	case c.db != "":
		return ", serve's only (the database runs elsewhere)"
	}
	return ", serve's (SQLite's work within)"
}

// stopServers stops the balancer and the replicas, and returns how much
// memory the replicas peaked at, summed; ok is false when a replica's
// could not be read (it had exited), and the sum is then short of it.
func (b *bench) stopServers(c *centralRun, what string) (rss float64, ok bool) {
	c.stopped = true
	if c.bal != nil {
		b.logf("%s: requests per replica %v", what, c.bal.Counts())
		c.bal.Close()
		c.bal = nil
	}
	ok = true
	for _, s := range c.servers {
		// Read while it runs: /proc's peak is serve's own. Its rusage
		// once it exited is not: Go starts it with vfork semantics, and
		// Linux counts the bench's memory at exec into it (helperMain).
		peak, err := procstat.PeakRSS(s.cmd.Process.Pid)
		if err != nil {
			b.logf("%s: serve's peak memory: %v", what, err)
			ok = false
		}
		rss += peak
		if err := s.stop(); err != nil && !errors.Is(err, context.Canceled) {
			b.logf("%s: serve exited: %v", what, err)
		}
	}
	return rss, ok
}

// closeCentral stops whatever still runs: the servers, then the object
// store.
func (b *bench) closeCentral(c *centralRun) {
	if !c.stopped {
		b.stopServers(c, c.setup.String())
	}
	if c.s3 != nil {
		c.s3.Stop()
	}
}

// serveLog is what the replicas logged, one after another.
func (c *centralRun) serveLog() string {
	var s strings.Builder
	for _, srv := range c.servers {
		s.WriteString(srv.stderr())
	}
	return s.String()
}

// besideOneReplica gives f, measured on s, the same figure of one replica
// on the same engine as its baseline when s has more than one; of one
// replica, f is kept as the baseline of the others (the setups of an
// engine run one replica first).
func (b *bench) besideOneReplica(s setup, key string, f Figure) Figure {
	key += " " + s.engine
	if s.replicas == 1 {
		b.oneReplica[key] = f.Value
	} else if one, ok := b.oneReplica[key]; ok {
		f.Baseline = &Baseline{Name: setup{engine: s.engine, replicas: 1}.String() + ", one replica", Value: one, Unit: f.Unit}
	}
	return f
}
