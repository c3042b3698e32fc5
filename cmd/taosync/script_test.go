package main

import (
	"archive/zip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/s3test"
	"github.com/taosync/taosync/internal/testlink"
)

// TestMain lets the test binary act as the taosync command in scripts, so
// that they run the real CLI in a subprocess without a separate build.
func TestMain(m *testing.M) {
	testscript.Main(pgtest.M{M: m}, map[string]func(){
		"taosync": func() {
			// A script plays an older release with TAOSYNC_TEST_RELEASE.
			if v := os.Getenv("TAOSYNC_TEST_RELEASE"); v != "" {
				release = v
			}
			os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the end-to-end CLI scripts in testdata/script: each is a
// user's session, checked step by step.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("..", "..", "testdata", "script"),
		Setup: func(env *testscript.Env) error {
			root, err := filepath.Abs(filepath.Join("..", ".."))
			if err != nil {
				return err
			}
			env.Setenv("TESTDATA", filepath.Join(root, "testdata"))
			env.Setenv("CI", os.Getenv("CI"))
			env.Values[linksKey{}] = map[string]*testlink.Line{}
			env.Values[s3Key{}] = &s3Server{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport":   cmdFreePort,
			"jsonfield":  cmdJSONField,
			"link":       cmdLink,
			"lockhome":   cmdLockHome,
			"pgdb":       cmdPGDB,
			"s3":         cmdS3,
			"sql":        cmdSQL,
			"unlockhome": cmdUnlockHome,
			"zip":        cmdZip,
		},
		Condition:           condition,
		RequireExplicitExec: true,
	})
}

// freeport VAR... sets each VAR to a different loopback port that was free a
// moment ago: all are held open until the last is found, then closed.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: freeport VAR...")
	}
	for _, name := range args {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		defer l.Close()
		ts.Setenv(name, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
}

// jsonfield FILE FIELD VAR sets VAR to the string FIELD of the JSON object
// in FILE (a file in the script's work folder, such as stdout).
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: jsonfield FILE FIELD VAR")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &m); err != nil {
		ts.Fatalf("jsonfield: %v", err)
	}
	v, ok := m[args[1]]
	if !ok {
		ts.Fatalf("jsonfield: no field %q", args[1])
	}
	ts.Setenv(args[2], fmt.Sprint(v))
}

// pgdb VAR sets VAR to the URL of a new, empty PostgreSQL database on the
// test binary's throwaway cluster (internal/pgtest).
func cmdPGDB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgdb VAR")
	}
	c, err := pgtest.Default()
	ts.Check(err)
	url, err := c.CreateDB(context.Background())
	ts.Check(err)
	ts.Setenv(args[0], url)
}

// heldLocks are the home locks lockhome took, by home folder.
var heldLocks sync.Map

// lockhome HOME takes HOME's writer lock in the test process, as another
// command writing to the home would, until unlockhome HOME.
func cmdLockHome(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lockhome HOME")
	}
	dir := ts.MkAbs(args[0])
	unlock, err := (&home.Home{Dir: dir}).Lock(context.Background(), "sync", 0, nil)
	ts.Check(err)
	heldLocks.Store(dir, unlock)
	ts.Defer(func() {
		if u, ok := heldLocks.LoadAndDelete(dir); ok {
			u.(func())()
		}
	})
}

// unlockhome HOME lets go of the lock lockhome took.
func cmdUnlockHome(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: unlockhome HOME")
	}
	u, ok := heldLocks.LoadAndDelete(ts.MkAbs(args[0]))
	if !ok {
		ts.Fatalf("unlockhome: %s is not locked", args[0])
	}
	u.(func())()
}

// zip OUT DIR writes the ZIP archive OUT of the files under DIR (in the
// script's work folder), named relative to DIR, in lexical order: a script
// builds a QTI package from the files of its archive.
func cmdZip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: zip OUT DIR")
	}
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	w := zip.NewWriter(f)
	root := ts.MkAbs(args[1])
	ts.Check(filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fw, err := w.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = fw.Write(data)
		return err
	}))
	ts.Check(w.Close())
	ts.Check(f.Close())
}

// sql DB STATEMENT runs a statement on a home's database (a file in the
// script's work folder), as a hand with sqlite3 would: a tampered home.
func cmdSQL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sql DB STATEMENT")
	}
	db, err := sql.Open("sqlite3", "file:"+ts.MkAbs(args[0])+"?mode=rw")
	if err != nil {
		ts.Fatalf("sql: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec(args[1]); err != nil {
		ts.Fatalf("sql: %v", err)
	}
}

type linksKey struct{}

// link start NAME HOST:PORT puts a bad line (internal/testlink) in front of
// HOST:PORT and sets NAME to its address; link blackhole NAME DURATION
// loses everything on it for so long, link down NAME DURATION refuses its
// connections for so long, both from now on, while the script goes on.
func cmdLink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: link start NAME HOST:PORT | link blackhole|down NAME DURATION")
	}
	links := ts.Value(linksKey{}).(map[string]*testlink.Line)
	if args[0] == "start" {
		l, err := testlink.Start(args[2])
		ts.Check(err)
		ts.Defer(l.Close)
		links[args[1]] = l
		ts.Setenv(args[1], l.Addr())
		return
	}
	l, ok := links[args[1]]
	if !ok {
		ts.Fatalf("link: no link %s", args[1])
	}
	d, err := time.ParseDuration(args[2])
	ts.Check(err)
	switch args[0] {
	case "blackhole":
		l.BlackHole()
	case "down":
		l.Down()
	default:
		ts.Fatalf("link: unknown action %q", args[0])
	}
	up := time.AfterFunc(d, func() { l.Up() })
	ts.Defer(func() { up.Stop() })
}

// condition answers [have:PROGRAM]: whether one of the real age, zstd or
// minisign programs is installed, for the interop steps. In CI, which
// installs them, a missing program is an error rather than a skip.
func condition(cond string) (bool, error) {
	prog, ok := strings.CutPrefix(cond, "have:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(prog); err != nil {
		if os.Getenv("CI") == "true" {
			return false, fmt.Errorf("%s is not installed; .ci/run installs it", prog)
		}
		return false, nil
	}
	return true, nil
}

type s3Key struct{}

// s3 start runs an S3 server (versitygw) for the script, stopped at its
// end, and sets BLOBS_URL (its bucket as --blobs names it), S3_ENDPOINT,
// S3_DIR (the folder of the bucket's objects) and the AWS environment; s3
// stop and s3 restart stop it and start it again on the same port.
func cmdS3(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: s3 start|stop|restart")
	}
	switch args[0] {
	case "start":
		dir := ts.MkAbs("s3")
		if err := os.Mkdir(dir, 0o700); err != nil {
			ts.Fatalf("%v", err)
		}
		s, err := s3test.Start(dir)
		if err != nil {
			ts.Fatalf("s3test: %v\nhint: %s", err, s3test.Hint)
		}
		ts.Defer(s.Stop)
		ts.Value(s3Key{}).(*s3Server).s = s
		ts.Setenv("BLOBS_URL", s.URL())
		ts.Setenv("S3_ENDPOINT", s.Endpoint)
		ts.Setenv("S3_DIR", filepath.Join(dir, s3test.Bucket))
		for _, kv := range s3test.Env() {
			k, v, _ := strings.Cut(kv, "=")
			ts.Setenv(k, v)
		}
	case "stop":
		ts.Value(s3Key{}).(*s3Server).s.Stop()
	case "restart":
		if err := ts.Value(s3Key{}).(*s3Server).s.Restart(); err != nil {
			ts.Fatalf("%v", err)
		}
	default:
		ts.Fatalf("usage: s3 start|stop|restart")
	}
}

// s3Server holds a script's S3 server.
type s3Server struct{ s *s3test.Server }
