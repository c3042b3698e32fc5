// Package pgtest starts a throwaway PostgreSQL cluster for tests and the
// bench: initdb into a temporary folder, the server on a free loopback
// port with its socket in that folder, and everything removed at the end.
// It runs PostgreSQL's own programs (Debian's package postgresql), never a
// mock; when they cannot be found or started, it fails with a hint.
//
// A test binary shares one cluster: its TestMain calls Main, and each test
// takes a fresh database with NewDB.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver "pgx"
)

// Hint follows every failure to start PostgreSQL.
const Hint = "install PostgreSQL's server programs (Debian: apt-get install postgresql), or put initdb and pg_ctl on PATH"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir  string // the temporary folder: data/, the socket, the log
	bin  string // the folder of initdb and pg_ctl
	port int
	cred *syscall.Credential // the user the server runs as, if not this one
	n    atomic.Int64        // databases made
}

// debianBins is where Debian puts PostgreSQL's programs, one folder per
// version, not on PATH.
var debianBins = "/usr/lib/postgresql/*/bin"

// binDir finds the folder holding initdb and pg_ctl: on PATH, or where
// Debian puts them, the newest version first.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob(debianBins)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("initdb and pg_ctl not found on PATH nor in /usr/lib/postgresql/*/bin")
}

// Start initialises and starts a cluster. initdb refuses to run as root:
// as root, the cluster is the postgres user's, in a folder given to it.
// The clusters left by test processes that died without stopping theirs
// are stopped and removed first.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("as root, PostgreSQL runs as the user postgres: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	c.stopStale(ctx)
	if c.dir, err = os.MkdirTemp("", dirPrefix); err != nil {
		return nil, err
	}
	if err := c.init(ctx, uid, gid); err != nil {
		c.Down(context.WithoutCancel(ctx)) // pg_ctl may have given up on a server that started
		os.RemoveAll(c.dir)
		return nil, err
	}
	return c, nil
}

// dirPrefix starts the name of every cluster's temporary folder.
const dirPrefix = "taosync-pg-"

// ownerFile, in a cluster's folder, holds the id of the process that
// started it.
const ownerFile = "owner"

// init fills the cluster's new folder and starts the server.
func (c *Cluster) init(ctx context.Context, uid, gid int) error {
	if err := os.WriteFile(filepath.Join(c.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if uid >= 0 {
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return err
		}
	}
	var err error
	if c.port, err = freePort(); err != nil {
		return err
	}
	// Trust on loopback and the socket: nothing but this test reaches it.
	// C locale: text sorts byte by byte, as taosync's schema asks anyway.
	if err := c.run(ctx, "initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync"); err != nil {
		return err
	}
	return c.start(ctx)
}

// stopStale stops and removes the clusters whose process is gone (a test
// binary killed at its timeout stops nothing).
func (c *Cluster) stopStale(ctx context.Context) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // being made, or not a cluster of ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		stale := &Cluster{dir: dir, bin: c.bin, cred: c.cred}
		stale.Down(ctx) // it may not run
		os.RemoveAll(dir)
	}
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// start starts the server. fsync off: a test's database need not survive
// a power cut (the machine's), and the shared machine's disk is spared.
// Commits stay synchronous: a commit acknowledged survives the server's
// crash (Down), as a restart test requires.
func (c *Cluster) start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
		c.port, c.dir)
	return c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-o", opts)
}

// run runs one of PostgreSQL's programs as the cluster's user.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("%s %s: %w\n%s%s", prog, args[0], err, out.Bytes(), log)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the address of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// Addr is the server's host:port.
func (c *Cluster) Addr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// CreateDB creates an empty database and returns its URL.
func (c *Cluster) CreateDB(ctx context.Context) (string, error) { return c.createDB(ctx, "") }

func (c *Cluster) createDB(ctx context.Context, opts string) (string, error) {
	db, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	name := fmt.Sprintf("t%d", c.n.Add(1))
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+opts); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// CopyDB creates a database as a copy of the one at the URL from, which no
// one may be connected to, and returns its URL.
func (c *Cluster) CopyDB(ctx context.Context, from string) (string, error) {
	src := from[strings.LastIndexByte(from, '/')+1:]
	src = src[:strings.IndexByte(src+"?", '?')]
	return c.createDB(ctx, " TEMPLATE "+src)
}

// Down stops the server at once, dropping every connection as a crash or
// a failover does; Up starts it again on the same port.
func (c *Cluster) Down(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "stop", "-w", "-m", "immediate", "-D", c.data())
}

// PID is the process id of the cluster's server (the postmaster), the
// parent of all its processes.
func (c *Cluster) PID() (int, error) {
	raw, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL's process: %w", err)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL's process: postmaster.pid starts with %q", first)
	}
	return pid, nil
}

// Up starts the server that Down stopped.
func (c *Cluster) Up(ctx context.Context) error { return c.start(ctx) }

// Stop stops the server and removes its folder.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return errors.Join(c.Down(ctx), os.RemoveAll(c.dir))
}

// The test binary's cluster, started by the first test that asks for it.
var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
)

// Main runs a test binary's tests (call it from TestMain), and stops the
// cluster if one was started.
func Main(m *testing.M) { os.Exit(M{m}.Run()) }

// M runs a test binary's tests as m does, and stops the cluster if one was
// started: for a TestMain that hands its *testing.M to another runner
// (testscript.Main).
type M struct{ *testing.M }

// Run runs the tests.
func (m M) Run() int {
	code := m.M.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stop:", err)
		}
	}
	return code
}

// Default returns the test binary's cluster, starting it the first time.
func Default() (*Cluster, error) {
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared, sharedErr = Start(ctx)
		if sharedErr != nil {
			sharedErr = fmt.Errorf("start PostgreSQL: %w\nhint: %s", sharedErr, Hint)
		}
	})
	return shared, sharedErr
}

// Shared returns the test binary's cluster, starting it the first time;
// a test fails if it cannot be started.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewDB returns the URL of a fresh, empty database on the test binary's
// cluster.
func NewDB(t testing.TB) string {
	t.Helper()
	url, err := Shared(t).CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// Engines are the database engines central runs on, for tests that run on
// each: "sqlite" (the home's file) and "postgres".
var Engines = []string{"sqlite", "postgres"}

// Where returns where a test's central keeps its database on engine: ""
// for the home's SQLite file, or the URL of a fresh PostgreSQL database.
func Where(t testing.TB, engine string) string {
	t.Helper()
	switch engine {
	case "sqlite":
		return ""
	case "postgres":
		return NewDB(t)
	}
	t.Fatalf("unknown engine %q", engine)
	return ""
}
