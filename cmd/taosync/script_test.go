package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/taosync/taosync/internal/home"
)

// TestMain lets the test binary act as the taosync command in scripts, so
// that they run the real CLI in a subprocess without a separate build.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
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
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonfield":  cmdJSONField,
			"lockhome":   cmdLockHome,
			"unlockhome": cmdUnlockHome,
		},
		Condition:           condition,
		RequireExplicitExec: true,
	})
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
