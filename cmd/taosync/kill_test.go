//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/pgtest"
)

// The kill tests run the real CLI in a subprocess and SIGKILL it at many
// points of an import or an export: afterwards the homes must be as if the
// run had happened whole or not at all, and the next run must finish the
// job (docs/operations.md: writes are atomic, and a kill at any moment
// converges).
//
// The subprocess is this test binary under the name "taosync": TestMain
// (script_test.go) has testscript put it in $PATH under that name.

// Sizes of the generated data: enough for an import or export to take a
// few hundred milliseconds and to write dozens of chunks.
const (
	killTestTakers    = 4000
	killEligibilities = 40
	killChunkRecords  = 100
)

// killTypes are the six types, as `list` names them.
var killTypes = []string{"test-center", "administrator", "proctor", "test-taker", "eligibility", "delivery"}

// taosyncBin finds the taosync command testscript installed in $PATH, or
// makes one from this test binary.
func taosyncBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("taosync"); err == nil && strings.Contains(p, "testscript-main") {
		return p
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "taosync")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// cliRunner runs taosync commands in a work folder.
type cliRunner struct {
	t   *testing.T
	bin string
	dir string
}

func (c *cliRunner) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "TAOSYNC_HOME=")
	return cmd
}

// commandTimeout bounds each command a test runs: one still running then
// is killed, and the test fails with what it printed.
const commandTimeout = 3 * time.Minute

// run runs a command to its end (or commandTimeout) and returns its output
// and exit code.
func (c *cliRunner) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	o := c.runBounded(args...)
	if o.err != nil {
		c.t.Fatal(o.failed())
	}
	return o.stdout, o.stderr, o.code
}

// outcome is how a command ended.
type outcome struct {
	args           []string
	code           int
	stdout, stderr string
	err            error // it did not start, or ran for commandTimeout and was killed
}

// failed says how the command failed, with what it printed, or nil if it
// exited 0.
func (o outcome) failed() error {
	why := o.err
	if why == nil && o.code != 0 {
		why = fmt.Errorf("exit %d", o.code)
	}
	if why == nil {
		return nil
	}
	return fmt.Errorf("taosync %s: %w\nstdout:\n%s\nstderr:\n%s", strings.Join(o.args, " "), why, o.stdout, o.stderr)
}

// runBounded runs a command for at most commandTimeout, then kills it.
// Unlike run it never ends the test, so that any goroutine may call it.
func (c *cliRunner) runBounded(args ...string) outcome {
	o := outcome{args: args}
	cmd := c.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		o.err = err
		return o
	}
	timer := time.AfterFunc(commandTimeout, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	o.stdout, o.stderr = out.String(), errb.String()
	var ee *exec.ExitError
	switch {
	case !timer.Stop():
		o.err = fmt.Errorf("still running after %v: killed", commandTimeout)
	case errors.As(err, &ee):
		o.code = ee.ExitCode()
	case err != nil:
		o.err = err
	}
	return o
}

// must runs a command that must succeed within commandTimeout and returns
// its stdout.
func (c *cliRunner) must(args ...string) string {
	c.t.Helper()
	o := c.runBounded(args...)
	if err := o.failed(); err != nil {
		c.t.Fatal(err)
	}
	return o.stdout
}

// killed is how a run that was to be killed ended.
type killed struct {
	finished bool // it exited by itself before the kill
	code     int
	stdout   string
	stderr   string
}

// runKilled starts a command and SIGKILLs it after d, unless it ends first.
func (c *cliRunner) runKilled(d time.Duration, args ...string) killed {
	c.t.Helper()
	cmd := c.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var k killed
	select {
	case err := <-done:
		k.finished = true
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			k.code = ee.ExitCode()
		} else if err != nil {
			c.t.Fatal(err)
		}
	case <-time.After(d):
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.t.Fatal(err)
		}
		err := <-done
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			// It exited by itself between the timer and the kill.
			k.finished, k.code = true, ee.ExitCode()
		} else if err == nil {
			k.finished = true
		}
	}
	k.stdout, k.stderr = out.String(), errb.String()
	return k
}

// runKilledWhen starts a command and SIGKILLs it as soon as cond holds
// (polled), unless it ends first.
func (c *cliRunner) runKilledWhen(cond func() bool, args ...string) killed {
	c.t.Helper()
	cmd := c.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var k killed
	var err error
poll:
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case err = <-done:
			k.finished = true
			break poll
		default:
		}
		if cond() {
			// Stop it at once, then kill it: the kill lands where the
			// stop did.
			cmd.Process.Signal(syscall.SIGSTOP)
			if kerr := cmd.Process.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
				c.t.Fatal(kerr)
			}
			err = <-done
			break poll
		}
	}
	if !k.finished && err == nil {
		k.finished = true // it ended by itself just before the kill
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		k.finished, k.code = true, ee.ExitCode()
	}
	k.stdout, k.stderr = out.String(), errb.String()
	return k
}

// homeState is what a client holds, as the CLI shows it: every type's
// listing, and the history without its times and row ids.
func homeState(c *cliRunner, home string) string {
	c.t.Helper()
	var b strings.Builder
	for _, typ := range killTypes {
		fmt.Fprintf(&b, "== %s\n%s", typ, c.must("--home", home, "list", typ, "--json"))
	}
	b.WriteString("== history\n")
	for _, line := range strings.Split(strings.TrimSpace(c.must("--home", home, "history", "--json")), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			c.t.Fatalf("history line %q: %v", line, err)
		}
		for _, k := range []string{"id", "at", "duration_ms"} {
			delete(m, k)
		}
		j, err := json.Marshal(m)
		if err != nil {
			c.t.Fatal(err)
		}
		b.Write(append(j, '\n'))
	}
	return b.String()
}

// killFixture is a central with a few thousand test takers and a published
// package, and a registered client with its credentials, as pristine homes
// that each trial copies.
type killFixture struct {
	c       *cliRunner
	work    string
	central string // pristine central home
	client  string // pristine client home
	pkg     string // the published ZIP
}

// newKillFixture makes the pristine homes, central's database on SQLite.
func newKillFixture(t *testing.T) *killFixture { return newKillFixtureOn(t, "sqlite") }

// newKillFixtureOn makes the pristine homes, central's database on engine
// (pgtest.Engines).
func newKillFixtureOn(t *testing.T, engine string) *killFixture {
	t.Helper()
	work := t.TempDir()
	c := &cliRunner{t: t, bin: taosyncBin(t), dir: work}
	f := &killFixture{c: c, work: work, central: filepath.Join(work, "central"), client: filepath.Join(work, "client")}
	f.pkg = filepath.Join("..", "..", "testdata", "qti", "WebDeveloperTest1.zip")
	if abs, err := filepath.Abs(f.pkg); err == nil {
		f.pkg = abs
	}
	if _, err := os.Stat(f.pkg); err != nil {
		t.Fatalf("the QTI package is missing: %v", err)
	}

	if db := pgtest.Where(t, engine); db != "" {
		c.must("--home", f.central, "init", "--role", "central", "--db", db)
	} else {
		c.must("--home", f.central, "init", "--role", "central")
	}
	c.must("--home", f.client, "init", "--role", "client")
	c.must("--home", f.central, "config", "set", "sync.chunkSize", fmt.Sprint(killChunkRecords))

	files := map[string]string{}
	var b strings.Builder
	b.WriteString("id,label,org_id\ntc1,Zürich,orgA\ntc2,Genève,orgA\ntc9,Basel,orgB\n")
	files["test-center"] = b.String()
	files["administrator"] = "id,login,test_centers\nad1,admin,tc1|tc2\nad9,other,tc9\n"
	files["proctor"] = "id,login,test_centers\npr1,proc,tc1\npr9,other,tc9\n"
	files["delivery"] = "id,label,max_executions\nd1,Web developer,1\nd9,Other,0\n"
	b.Reset()
	b.WriteString("id,login,first_name,last_name,email,language,password_hash\n")
	for i := range killTestTakers {
		fmt.Fprintf(&b, "tt%05d,login%d,Zoë%d,Łukasz %d,tt%d@example.org,fr,$2a$10$%022d\n", i, i, i, i, i, i)
	}
	files["test-taker"] = b.String()
	b.Reset()
	b.WriteString("id,test_center,delivery,test_takers,proctored\n")
	per := killTestTakers / killEligibilities
	for e := range killEligibilities {
		ids := make([]string, 0, per)
		for i := e * per; i < (e+1)*per; i++ {
			ids = append(ids, fmt.Sprintf("tt%05d", i))
		}
		tc := []string{"tc1", "tc2"}[e%2]
		fmt.Fprintf(&b, "e%03d,%s,d1,%s,%v\n", e, tc, strings.Join(ids, "|"), e%3 != 0)
	}
	b.WriteString("e999,tc9,d9,tt00000,true\n")
	files["eligibility"] = b.String()
	for _, typ := range []string{"test-center", "administrator", "proctor", "test-taker", "delivery", "eligibility"} {
		p := filepath.Join(work, typ+".csv")
		if err := os.WriteFile(p, []byte(files[typ]), 0o644); err != nil {
			t.Fatal(err)
		}
		c.must("--home", f.central, "central", "load", "--type", typ, p)
	}
	c.must("--home", f.central, "central", "publish", "--delivery", "d1", f.pkg)

	var keys struct {
		ClientKey string `json:"client_key"`
	}
	if err := json.Unmarshal([]byte(c.must("--home", f.client, "keys", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	var cr struct {
		Key        string `json:"key"`
		Secret     string `json:"secret"`
		TokenURL   string `json:"token_url"`
		RootURL    string `json:"root_url"`
		CentralKey string `json:"central_key"`
	}
	if err := json.Unmarshal([]byte(c.must("--home", f.central, "central", "client", "add", "k1",
		"--org", "orgA", "--client-key", keys.ClientKey, "--json")), &cr); err != nil {
		t.Fatal(err)
	}
	c.must("--home", f.client, "credentials", "import", "-k", cr.Key, "-s", cr.Secret, "-tu", cr.TokenURL,
		"-u", cr.RootURL, "--central-key", cr.CentralKey)
	return f
}

// copyHome copies a pristine home to a new folder and returns its path. A
// home on PostgreSQL gets a copy of its database.
func (f *killFixture) copyHome(from, name string) string {
	t := f.c.t
	dst := filepath.Join(f.work, name)
	if err := os.CopyFS(dst, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	urlFile := filepath.Join(dst, home.DBURLFile)
	if url, err := os.ReadFile(urlFile); err == nil {
		copied, err := pgtest.Shared(t).CopyDB(t.Context(), strings.TrimSpace(string(url)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(urlFile, []byte(copied), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// checkPackage checks that the client gives back the published ZIP.
func (f *killFixture) checkPackage(home string) {
	t := f.c.t
	t.Helper()
	out := filepath.Join(f.work, "pkg-"+filepath.Base(home)+".zip")
	f.c.must("--home", home, "package", "d1", "--out", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(f.pkg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: package d1 is not the published ZIP", home)
	}
}

// killDelays are the points a run is killed at: from before it has started
// to work, doubling, until a run finishes by itself; then, while the time
// budget lasts, a finer sweep between the last two doublings, where a short
// run does most of its writing.
func killDelays(budget time.Duration, done func(time.Duration) bool) {
	deadline := time.Now().Add(budget)
	d := 2 * time.Millisecond
	for ; d < 10*time.Second; d *= 2 {
		if done(d) {
			break
		}
	}
	for fine := d / 2; fine < d && time.Now().Before(deadline); fine += d / 8 {
		if done(fine) {
			return
		}
	}
}

// killBudget bounds the finer sweep of each kill test, so that a slow or
// busy machine does not make the suite slow.
const killBudget = 20 * time.Second

func TestKillImport(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real subprocesses; skipped with -short")
	}
	t.Parallel()
	f := newKillFixture(t)
	c := f.c

	// The bundle, and the state of an uninterrupted import.
	centralHome := f.copyHome(f.central, "central-import")
	stick := filepath.Join(f.work, "stick")
	c.must("--home", centralHome, "export", "data", "--client", "k1", "--out", stick)
	empty := homeState(c, f.client)
	ref := f.copyHome(f.client, "client-ref")
	out := c.must("--home", ref, "import", stick)
	if !strings.Contains(out, "applied ") || !strings.Contains(out, fmt.Sprintf("test-taker +%d", killTestTakers)) {
		t.Fatalf("reference import: %s", out)
	}
	want := homeState(c, ref)
	if strings.Contains(want, `"id":"tc9"`) || strings.Contains(want, `"id":"d9"`) {
		t.Fatalf("reference import holds org B's entities:\n%s", want)
	}

	trials := 0
	killDelays(killBudget, func(d time.Duration) bool {
		trials++
		home := f.copyHome(f.client, fmt.Sprintf("client-import-%d", trials))
		k := c.runKilled(d, "--home", home, "import", stick)
		if k.finished {
			if k.code != 0 {
				t.Errorf("import (not killed) exited %d: %s%s", k.code, k.stdout, k.stderr)
			}
			if got := homeState(c, home); got != want {
				t.Errorf("import (not killed): state differs from the reference:\n%s", diffLines(want, got))
			}
			return true
		}
		// Killed: the home holds the bundle whole or not at all.
		got := homeState(c, home)
		applied := got == want
		if !applied && got != empty {
			t.Errorf("import killed after %v left a partial state:\n%s", d, diffLines(want, got))
		}
		// The next run finishes the job.
		out, errs, code := c.run("--home", home, "import", stick)
		if code != 0 {
			t.Errorf("import after a kill at %v: exit %d\n%s%s", d, code, out, errs)
		}
		if applied && !strings.Contains(out, "skipped") {
			t.Errorf("import after a kill at %v (bundle already applied): want skipped, got %s", d, out)
		}
		if got := homeState(c, home); got != want {
			t.Errorf("import after a kill at %v: state differs from the reference:\n%s", d, diffLines(want, got))
		}
		f.checkPackage(home)
		t.Logf("kill at %v: applied before the kill: %v", d, applied)
		return false
	})
	if trials < 4 {
		t.Errorf("only %d trials: the import finished too soon to be killed midway", trials)
	}
	f.checkPackage(ref)
}

// TestImportAfterACrashCutChunksShort: an import stores package chunks
// without a fsync each and fsyncs them only before its commit, so a crash
// of the machine before that can leave chunk files empty, cut short or
// garbled under their names, with nothing referring to them. The next
// import replaces them and gives back the published package.
func TestImportAfterACrashCutChunksShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real subprocesses; skipped with -short")
	}
	t.Parallel()
	f := newKillFixture(t)
	stick := filepath.Join(f.work, "stick")
	f.c.must("--home", f.copyHome(f.central, "central-crash"), "export", "data", "--client", "k1", "--out", stick)
	// Central's chunk files have the names the client's will have.
	chunks := filepath.Join(f.central, home.ChunksDir)
	var names []string
	err := filepath.WalkDir(chunks, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil || len(names) == 0 {
		t.Fatalf("central's chunks: %v, %d files", err, len(names))
	}
	for name, damage := range map[string]func([]byte) []byte{
		"empty":   func([]byte) []byte { return nil },
		"cut":     func(b []byte) []byte { return b[:len(b)/2] },
		"garbled": func(b []byte) []byte { b[len(b)/3] ^= 1; return b },
	} {
		client := f.copyHome(f.client, "client-crash-"+name)
		for _, src := range names {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(chunks, src)
			dst := filepath.Join(client, home.ChunksDir, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if out := f.c.must("--home", client, "import", stick); !strings.Contains(out, "applied ") {
			t.Fatalf("%s chunks: import: %s", name, out)
		}
		f.checkPackage(client)
	}
}

// bundleDirs lists the sub-folders of a stick.
func bundleDirs(t *testing.T, stick string) []string {
	t.Helper()
	entries, err := os.ReadDir(stick)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		// A hidden folder is a bundle still being written: no bundle.
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	return dirs
}

// seqOf reads the sequence number in a data bundle folder's name
// (data-CLIENT-SEQ-ID8).
func seqOf(dir string) uint64 {
	parts := strings.Split(dir, "-")
	if len(parts) < 4 {
		return 0
	}
	var seq uint64
	fmt.Sscanf(parts[len(parts)-2], "%d", &seq)
	return seq
}

// exportChecks are the checks of runExportTrials beyond those that always
// run, and the kills it tries.
type exportChecks struct {
	// delays: kill after delays from 2 ms until an export finishes.
	delays bool
	// atManifest: this many kills as soon as the manifest is on the stick.
	atManifest int
	// stick: after a kill, the stick holds no bundle or a whole valid one,
	// so that `verify` on it passes (a stick pulled out mid-write leaves
	// either no bundle or a whole one).
	stick bool
	// recorded: a whole bundle on the stick is one central recorded as the
	// client's state, so that the import of the stick after a new export,
	// and the following delta, both succeed (docs/operations.md, "A kill
	// during export data").
	recorded bool
}

// runExportTrials kills `export data`, each time on fresh copies of a
// central whose client already holds seq 1 and that has changes to send
// (updates, deletions), and of that client.
//
// Whatever the moment of the kill, it checks that every bundle folder that
// has a manifest verifies, that importing the stick never applies part of a
// bundle, and that a new export imported from the same stick brings the
// client to the state of an uninterrupted run; and what ck asks for.
func runExportTrials(t *testing.T, ck exportChecks) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			runExportTrialsOn(t, engine, ck)
		})
	}
}

func runExportTrialsOn(t *testing.T, engine string, ck exportChecks) {
	f := newKillFixtureOn(t, engine)
	c := f.c

	s1 := filepath.Join(f.work, "stick-seq1")
	c.must("--home", f.central, "export", "data", "--client", "k1", "--out", s1)
	c.must("--home", f.client, "import", s1)
	var b strings.Builder
	b.WriteString("id,login,first_name\n")
	for i := range killTestTakers {
		if i%4 == 3 {
			continue // deleted by --prune
		}
		fmt.Fprintf(&b, "tt%05d,login%d,Changed%d\n", i, i, i%2*i)
	}
	tt2 := filepath.Join(f.work, "test-taker-2.csv")
	if err := os.WriteFile(tt2, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("--home", f.central, "central", "load", "--type", "test-taker", "--prune", tt2)
	before := c.must("--home", f.client, "list", "test-taker", "--json")

	// The reference: an uninterrupted export and import of the delta.
	refCentral := f.copyHome(f.central, "central-ref")
	refClient := f.copyHome(f.client, "client-ref")
	refStick := filepath.Join(f.work, "stick-ref")
	out := c.must("--home", refCentral, "export", "data", "--client", "k1", "--out", refStick)
	if !strings.Contains(out, "data delta seq 2") {
		t.Fatalf("reference export: %s", out)
	}
	c.must("--home", refClient, "import", refStick)
	want := c.must("--home", refClient, "list", "test-taker", "--json")
	if want == before {
		t.Fatal("the reference delta changed nothing")
	}

	n, midway, orphans := 0, 0, 0
	trial := func(d time.Duration) bool {
		n++
		when := fmt.Sprintf("after %v", d)
		if d < 0 {
			when = "as soon as the manifest appeared"
		}
		central := f.copyHome(f.central, fmt.Sprintf("central-export-%d", n))
		client := f.copyHome(f.client, fmt.Sprintf("client-export-%d", n))
		stick := filepath.Join(f.work, fmt.Sprintf("stick-export-%d", n))
		args := []string{"--home", central, "export", "data", "--client", "k1", "--out", stick}
		var k killed
		if d < 0 {
			// The moment between the bundle's publication on the stick
			// and central's record of it.
			var bundleDir string
			k = c.runKilledWhen(func() bool {
				if bundleDir == "" {
					entries, _ := os.ReadDir(stick)
					if len(entries) == 0 {
						return false
					}
					bundleDir = filepath.Join(stick, entries[0].Name())
				}
				_, err := os.Stat(filepath.Join(bundleDir, "manifest.json"))
				return err == nil
			}, args...)
		} else {
			k = c.runKilled(d, args...)
		}
		if k.finished && k.code != 0 {
			t.Errorf("export (not killed) exited %d: %s%s", k.code, k.stdout, k.stderr)
		}

		// What the kill left on the stick.
		dirs := bundleDirs(t, stick)
		var partial, orphan []string
		var cl struct {
			DataSeq uint64 `json:"data_seq"`
		}
		if err := json.Unmarshal([]byte(c.must("--home", central, "central", "client", "list", "--json")), &cl); err != nil {
			t.Fatal(err)
		}
		for _, dir := range dirs {
			if _, err := os.Stat(filepath.Join(stick, dir, "manifest.json")); err != nil {
				partial = append(partial, dir)
				continue
			}
			// A folder with a manifest is a whole, valid bundle.
			if out, errs, code := c.run("--home", client, "verify", filepath.Join(stick, dir)); code != 0 {
				t.Errorf("export killed %s left a bundle with a manifest that does not verify:\n%s%s", when, out, errs)
			}
			if seqOf(dir) > cl.DataSeq {
				orphan = append(orphan, dir)
			}
		}
		if hidden, _ := filepath.Glob(filepath.Join(stick, ".*")); !k.finished && len(dirs)+len(hidden) > 0 {
			midway++
		}
		if len(orphan) > 0 {
			orphans++
		}
		if ck.stick && len(dirs) > 0 {
			// (A bundle folder still empty is no bundle: verify says so.)
			if out, errs, code := c.run("--home", client, "verify", stick); code != 0 && !strings.Contains(errs, "no bundles in") {
				t.Errorf("export killed %s: the stick holds a bundle folder that does not verify (exit %d):\n%s%s", when, code, out, errs)
			}
		}
		// A whole bundle central did not record (the kill fell between
		// the bundle's rename and the commit) is harmless only if the
		// next export does not build on what central recorded: it must
		// be a full snapshot.
		mustBeFull := len(orphan) > 0

		// Importing the stick as it is applies a bundle whole or not at all.
		if len(dirs) > 0 {
			out, errs, _ := c.run("--home", client, "import", stick)
			if got := c.must("--home", client, "list", "test-taker", "--json"); got != before && got != want {
				t.Errorf("export killed %s: importing the stick left a partial state:\n%s\nimport said:\n%s%s",
					when, diffLines(want, got), out, errs)
			}
		}

		// A new export onto the same stick, imported, brings the client
		// to the reference state.
		if !k.finished {
			out := c.must("--home", central, "--json", "export", "data", "--client", "k1", "--out", stick)
			if mustBeFull && !strings.Contains(out, `"full":true`) {
				t.Errorf("export killed %s left %v unrecorded, and the next export is a delta: %s", when, orphan, out)
			}
		}
		out, errs, code := c.run("--home", client, "import", stick)
		if ck.recorded && code != 0 {
			t.Errorf("export killed %s, then exported again: the import of the stick exits %d:\n%s%s", when, code, out, errs)
		}
		if got := c.must("--home", client, "list", "test-taker", "--json"); got != want {
			t.Errorf("export killed %s, exported again and imported: the test takers differ from the reference:\n%s\nimport said:\n%s%s",
				when, diffLines(want, got), out, errs)
		}

		// And the sync goes on: the next delta applies.
		if ck.recorded {
			c.must("--home", central, "central", "load", "--type", "test-taker", filepath.Join(f.work, "test-taker.csv"))
			next := filepath.Join(f.work, fmt.Sprintf("stick-next-%d", n))
			c.must("--home", central, "export", "data", "--client", "k1", "--out", next)
			if out, errs, code := c.run("--home", client, "import", next); code != 0 {
				t.Errorf("export killed %s: the following delta does not apply (exit %d):\n%s%s", when, code, out, errs)
			}
		}
		t.Logf("export killed %s: finished %v, bundle folders %v, unfinished %v, unrecorded %v", when, k.finished, dirs, partial, orphan)
		return k.finished
	}
	if ck.delays {
		killDelays(killBudget, trial)
		if midway == 0 {
			t.Errorf("%d trials, none killed while the bundle was being written", n)
		}
	}
	for range ck.atManifest {
		trial(-1)
	}
	t.Logf("%d trials, %d killed while the bundle was being written, %d left a bundle central did not record", n, midway, orphans)
}

// TestKillExport checks what must hold whatever the moment of the kill (see
// runExportTrials).
func TestKillExport(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real subprocesses; skipped with -short")
	}
	t.Parallel()
	runExportTrials(t, exportChecks{delays: true, atManifest: 3})
}

// TestKillExportLeavesNoUnfinishedBundle: an export killed while it writes
// its chunks leaves no folder that looks like a bundle (they are written in
// a hidden folder, renamed when whole): verify passes on the stick.
func TestKillExportLeavesNoUnfinishedBundle(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real subprocesses; skipped with -short")
	}
	t.Parallel()
	runExportTrials(t, exportChecks{delays: true, stick: true})
}

// TestKillExportRecordsWhatItPublished: an export killed around the moment
// its bundle appears may leave a whole bundle central did not record. The
// next export is then a full snapshot, the client applies it whatever it
// imported, and the deltas after it apply.
func TestKillExportRecordsWhatItPublished(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real subprocesses; skipped with -short")
	}
	t.Parallel()
	runExportTrials(t, exportChecks{atManifest: 5, recorded: true})
}

// diffLines shows the lines only in want (-) and only in got (+), at most a
// few of each.
func diffLines(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	n := 0
	for _, l := range strings.Split(want, "\n") {
		if !g[l] && n < 5 {
			fmt.Fprintf(&b, "- %s\n", l)
			n++
		}
	}
	n = 0
	for _, l := range strings.Split(got, "\n") {
		if !w[l] && n < 5 {
			fmt.Fprintf(&b, "+ %s\n", l)
			n++
		}
	}
	return b.String()
}

// killResults is how many executions the result bundle of
// TestKillImportResults holds: enough for central's import to take a while.
const killResults = 2000

// TestKillImportResults: central's import of a result bundle, killed at any
// point, on each engine, leaves the bundle received whole or not at all;
// the next import finishes the job, and central holds every execution
// once, with no conflict.
func TestKillImportResults(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real subprocesses; skipped with -short")
	}
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			killImportResults(t, engine)
		})
	}
}

func killImportResults(t *testing.T, engine string) {
	f := newKillFixtureOn(t, engine)
	c := f.c
	data := filepath.Join(f.work, "stick-data")
	c.must("--home", f.central, "export", "data", "--client", "k1", "--out", data)
	c.must("--home", f.client, "import", data)
	var b strings.Builder
	per := killTestTakers / killEligibilities
	for i := range killResults {
		tc := []string{"tc1", "tc2"}[(i/per)%2]
		fmt.Fprintf(&b, `{"id":"x%05d","delivery":"d1","test_taker":"tt%05d","test_center":"%s","status":"finished",`+
			`"started_at":"2025-06-12T09:30:00Z","finished_at":"2025-06-12T10:14:52Z","result_xml":%q}`+"\n",
			i, i, tc, `<assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p2"><context/><testResult identifier="d1" datestamp="2025-06-12T10:00:00Z"/></assessmentResult>`)
	}
	jsonl := filepath.Join(f.work, "results.jsonl")
	if err := os.WriteFile(jsonl, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("--home", f.client, "results", "add", jsonl)
	stick := filepath.Join(f.work, "stick-results")
	c.must("--home", f.client, "export", "results", "--out", stick)

	// received counts the executions central holds, and checks that none
	// is a conflict.
	received := func(home string) int {
		t.Helper()
		out := c.must("--home", home, "results", "list", "--json")
		if strings.Contains(out, `"conflict"`) {
			t.Errorf("%s: a conflict among the executions received", home)
		}
		return strings.Count(out, "\n")
	}
	trials := 0
	killDelays(killBudget, func(d time.Duration) bool {
		trials++
		central := f.copyHome(f.central, fmt.Sprintf("central-results-%d", trials))
		k := c.runKilled(d, "--home", central, "import", stick)
		if k.finished && k.code != 0 {
			t.Errorf("import (not killed) exited %d: %s%s", k.code, k.stdout, k.stderr)
		}
		before := received(central)
		if before != 0 && before != killResults {
			t.Errorf("import killed after %v left %d executions of %d", d, before, killResults)
		}
		out, errs, code := c.run("--home", central, "import", stick)
		if code != 0 {
			t.Errorf("import after a kill at %v: exit %d\n%s%s", d, code, out, errs)
		}
		if n := received(central); n != killResults {
			t.Errorf("import after a kill at %v: %d executions, want %d", d, n, killResults)
		}
		t.Logf("kill at %v: finished %v, %d executions received before the next import", d, k.finished, before)
		return k.finished
	})
	if trials < 3 {
		t.Errorf("only %d trials: the import finished too soon to be killed midway", trials)
	}
}
