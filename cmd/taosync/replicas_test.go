//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/balancer"
	"github.com/taosync/taosync/internal/bucket"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/s3test"
)

// Central as two `serve` replicas, each with a home of its own (the same
// keys), on one PostgreSQL database and one S3 bucket (versitygw), behind
// a round-robin balancer: consecutive requests of a client land on
// different replicas, as on two machines. One replica is killed (SIGKILL)
// in the middle of 200 clients' `sync all`, and started again. Every
// command the test runs is bounded in time: one that hangs fails the test
// with what it printed.

const (
	// replicaClients is how many clients sync at once, as many as the
	// bench plays.
	replicaClients = 200
	// replicaResults is how many results each client sends: two, so that
	// a client's results may span two requests.
	replicaResults = 2
	// replicaSetups is how many clients are set up at once.
	replicaSetups = 4
)

// replica is one running `taosync serve`.
type replica struct {
	cmd *exec.Cmd
	url string
	// results counts the requests of result uploads and commits it
	// logged.
	results atomic.Int64
	done    chan struct{}
}

// startReplica starts `taosync serve` on addr (a loopback port of the
// kernel's choosing for 127.0.0.1:0) and waits for the address it prints.
func startReplica(t *testing.T, c *cliRunner, home, addr string) *replica {
	t.Helper()
	cmd := c.command("--home", home, "serve", "--addr", addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() { r.kill() })
	printed := make(chan string, 1)
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "taosync: serving "); ok && r.url == "" {
				printed <- strings.TrimSpace(u)
				continue
			}
			if strings.Contains(sc.Text(), "route="+api.Prefix+"/results/") {
				r.results.Add(1)
			}
		}
		close(printed)
		io.Copy(io.Discard, pr)
	}()
	select {
	case u, ok := <-printed:
		if !ok {
			t.Fatal("taosync serve exited before serving")
		}
		r.url = u
	case <-time.After(30 * time.Second):
		t.Fatal("taosync serve printed no address in 30s")
	}
	return r
}

// kill SIGKILLs the replica and waits for it to be gone.
func (r *replica) kill() {
	r.cmd.Process.Kill()
	<-r.done
	r.cmd.Wait()
}

// TestReplicaKilled: every client completes through the balancer, central
// holds each result once, every client has its receipts back, and nothing
// of the uploads is left in the bucket.
func TestReplicaKilled(t *testing.T) {
	work := t.TempDir()
	c := &cliRunner{t: t, bin: taosyncBin(t), dir: work}
	central := filepath.Join(work, "central")
	blobs := s3test.ForTest(t) // and the AWS environment, which the replicas inherit
	c.must("--home", central, "init", "--role", "central", "--db", pgtest.Where(t, "postgres"), "--blobs", blobs.URL())
	var tt strings.Builder
	tt.WriteString("id,login,first_name\n")
	var ids []string
	for i := range replicaResults {
		fmt.Fprintf(&tt, "tt%03d,login%d,Anna %d\n", i, i, i)
		ids = append(ids, fmt.Sprintf("tt%03d", i))
	}
	files := map[string]string{
		"test-center": "id,label,org_id\ntc1,Aarau,orgA\n",
		"test-taker":  tt.String(),
		"delivery":    "id,label\nd1,Web Developer Test 1\n",
		"eligibility": "id,test_center,delivery,test_takers\ne1,tc1,d1," + strings.Join(ids, "|") + "\n",
	}
	for _, typ := range []string{"test-center", "test-taker", "delivery", "eligibility"} {
		p := filepath.Join(work, typ+".csv")
		if err := os.WriteFile(p, []byte(files[typ]), 0o644); err != nil {
			t.Fatal(err)
		}
		c.must("--home", central, "central", "load", "--type", typ, p)
	}

	// The second replica's home: the first's keys and database URL, its
	// own folders; what it lacks it finds in the bucket.
	second := filepath.Join(work, "central-2")
	if err := os.CopyFS(second, os.DirFS(central)); err != nil {
		t.Fatal(err)
	}
	replicas := []*replica{startReplica(t, c, central, "127.0.0.1:0"), startReplica(t, c, second, "127.0.0.1:0")}
	front, err := balancer.Start([]string{replicas[0].url, replicas[1].url}, balancer.RoundRobin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { front.Close() })

	ids = make([]string, replicaClients)
	homes := make([]string, replicaClients)
	for i := range homes {
		ids[i] = fmt.Sprintf("k%03d", i)
		homes[i] = filepath.Join(work, ids[i])
	}
	began := time.Now()
	if err := eachClient(func(i int) error { return addClient(c, central, homes[i], ids[i], front.URL) }); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d clients set up in %v", replicaClients, time.Since(began).Round(time.Second))

	// Something for each client to pull as well.
	p := filepath.Join(work, "test-taker.csv")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(files["test-taker"], "Anna", "Anne")), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("--home", central, "central", "load", "--type", "test-taker", p)

	// Every client's sync at once; replica 0 is killed once it has served
	// a quarter as many requests of result uploads as there are clients (a
	// client sends one or two, each to either replica): in the middle of
	// the results, pulls still running for some. Then it is started again.
	began = time.Now()
	outcomes := make([]outcome, len(homes))
	var wg sync.WaitGroup
	var finished atomic.Int64
	for i, h := range homes {
		wg.Go(func() {
			defer finished.Add(1)
			outcomes[i] = c.runBounded("--home", h, "sync", "all")
		})
	}
	for replicas[0].results.Load() < replicaClients/4 {
		if finished.Load() == int64(len(homes)) {
			t.Fatalf("the syncs ended before replica 0 served %d requests of results", replicaClients/4)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if finished.Load() == int64(len(homes)) {
		t.Fatal("the syncs ended before the kill")
	}
	replicas[0].kill()
	t.Logf("replica 0 killed after %d requests of results, %d of %d syncs finished", replicas[0].results.Load(), finished.Load(), len(homes))
	// Started again where the balancer sends its share of the requests.
	replicas[0] = startReplica(t, c, central, strings.TrimPrefix(replicas[0].url, "http://"))
	wg.Wait()
	t.Logf("%d clients' sync all in %v", replicaClients, time.Since(began).Round(time.Second))

	for i, o := range outcomes {
		if err := o.failed(); err != nil {
			t.Errorf("client %s: %v", ids[i], err)
		}
	}
	// Each result once on central, from its client; each acknowledged on
	// its client.
	held := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(c.must("--home", central, "results", "list", "--json")), "\n") {
		var x struct{ ID, Client string }
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			t.Fatalf("central's results list: %v: %s", err, line)
		}
		if !strings.HasPrefix(x.ID, x.Client+"-") {
			t.Errorf("result %s held from %s", x.ID, x.Client)
		}
		held[x.ID]++
	}
	if len(held) != replicaClients*replicaResults {
		t.Errorf("central holds %d results, want %d", len(held), replicaClients*replicaResults)
	}
	for id, n := range held {
		if n != 1 {
			t.Errorf("result %s held %d times", id, n)
		}
	}
	// Every upload was committed and removed from the bucket; a copy left
	// there (by a replica killed between a commit and the removal, or
	// copied back by one that lost its claim on the upload) would hold
	// its client's quota. (A result sent twice is held once whatever
	// happens: its key is its id and content.)
	objects, err := bucket.Open(t.Context(), blobs.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer objects.Close()
	if left, err := objects.List(t.Context(), "inbox/", ""); err != nil || len(left) != 0 {
		t.Errorf("left in the bucket's inbox: %v %v", left, err)
	}
	err = eachClient(func(i int) error {
		o := c.runBounded("--home", homes[i], "results", "list", "--json")
		if err := o.failed(); err != nil {
			return err
		}
		if n := strings.Count(o.stdout, `"state":"acknowledged"`); n != replicaResults {
			return fmt.Errorf("client %s: %d results acknowledged, want %d:\n%s", ids[i], n, replicaResults, o.stdout)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// addClient makes the client's home, registers it on central, imports its
// credentials for the balancer's address, pulls central's data and queues
// the client's results, which name it.
func addClient(c *cliRunner, central, home, id, front string) error {
	o := c.runBounded("--home", home, "init", "--role", "client", "--json")
	if err := o.failed(); err != nil {
		return err
	}
	var ini struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &ini); err != nil {
		return fmt.Errorf("client %s: init's report: %v: %s", id, err, o.stdout)
	}
	o = c.runBounded("--home", central, "central", "client", "add", id, "--org", "orgA", "--client-key", ini.Key, "--json")
	if err := o.failed(); err != nil {
		return err
	}
	var cr struct {
		Secret     string `json:"secret"`
		CentralKey string `json:"central_key"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &cr); err != nil {
		return fmt.Errorf("client %s: central client add's report: %v: %s", id, err, o.stdout)
	}
	var results strings.Builder
	for j := range replicaResults {
		fmt.Fprintf(&results, `{"id":"%s-x%d","delivery":"d1","test_taker":"tt%03d","test_center":"tc1","status":"finished",`+
			`"started_at":"2025-06-12T09:30:00Z","finished_at":"2025-06-12T10:14:52Z",`+
			`"result_xml":"<assessmentResult xmlns=\"http://www.imsglobal.org/xsd/imsqti_result_v2p1\"><context sourcedId=\"tt%03d\"/>`+
			`<testResult identifier=\"d1\" datestamp=\"2025-06-12T10:14:52Z\"/></assessmentResult>"}`+"\n", id, j, j, j)
	}
	p := home + ".jsonl"
	if err := os.WriteFile(p, []byte(results.String()), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"credentials", "import", "-k", id, "-s", cr.Secret, "-tu", front + "/oauth2/token", "-u", front, "--central-key", cr.CentralKey},
		// The results name a test taker, a delivery and a centre the
		// client must hold.
		{"sync", "data"},
		{"results", "add", p},
	} {
		if err := c.runBounded(append([]string{"--home", home}, args...)...).failed(); err != nil {
			return err
		}
	}
	return nil
}

// eachClient calls f for each client, replicaSetups at a time; after an
// error it starts no more, and returns the errors.
func eachClient(f func(i int) error) error {
	errs := make([]error, replicaClients)
	var failed atomic.Bool
	sem := make(chan struct{}, replicaSetups)
	var wg sync.WaitGroup
	for i := range errs {
		sem <- struct{}{}
		if failed.Load() {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if errs[i] = f(i); errs[i] != nil {
				failed.Store(true)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
