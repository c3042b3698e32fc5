package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/jsonl"
	"github.com/taosync/taosync/internal/sample"
)

// httpConfig is the master data of the HTTP case: one organisation per
// client, each of about takers test takers (about 500 a centre).
func httpConfig(clients, takers int) sample.Config {
	return sample.Config{
		Seed:                 3,
		Orgs:                 clients,
		CentersPerOrg:        max(1, (takers+499)/500),
		TestTakers:           clients * takers,
		ProctorsPerCenter:    3,
		AdminsPerCenter:      1,
		Deliveries:           12,
		TakersPerEligibility: 50,
	}
}

// eligibilitiesByOrg returns the eligibilities of cfg grouped by the
// organisation of their centre, in one pass over the generated data.
func eligibilitiesByOrg(cfg sample.Config) (map[string][]eligibility, error) {
	orgOf := map[string]string{}
	err := sample.Each(cfg, taosync.TestCenter, func(e taosync.Entity) error {
		var tc struct {
			Org string `json:"org_id"`
		}
		if err := json.Unmarshal(e.Data, &tc); err != nil {
			return err
		}
		orgOf[e.ID] = tc.Org
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]eligibility{}
	err = sample.Each(cfg, taosync.Eligibility, func(e taosync.Entity) error {
		var el eligibility
		if err := json.Unmarshal(e.Data, &el); err != nil {
			return err
		}
		org := orgOf[el.TestCenter]
		out[org] = append(out[org], el)
		return nil
	})
	return out, err
}

// loadedCentral makes c's home holding the master data of cfg, generated
// into data and loaded with `central load`; what it logs starts with what.
func (b *bench) loadedCentral(ctx context.Context, what string, c *centralRun, data string, cfg sample.Config) error {
	b.logf("%s: generating master data in %s (%d test takers, %d organisations)", what, data, cfg.TestTakers, cfg.Orgs)
	if _, err := sample.Write(data, cfg, sample.DemoFormat); err != nil {
		return err
	}
	central := c.home
	if _, err := b.cli.run(ctx, central, c.initArgs()...); err != nil {
		return err
	}
	for _, t := range taosync.Types {
		file := filepath.Join(data, string(t)+"."+sample.DemoFormat(t))
		st, err := b.cli.run(ctx, central, "central", "load", "--type", string(t), file)
		if err != nil {
			return err
		}
		b.logf("%s: loaded %s in %.1fs", what, t, st.Seconds())
	}
	return nil
}

// centralExecutions counts the executions central holds (results list),
// in all and by client.
func (b *bench) centralExecutions(ctx context.Context, central string) (int64, map[string]int, error) {
	st, err := b.cli.run(ctx, central, "results", "list", "--json")
	if err != nil {
		return 0, nil, err
	}
	var got int64
	perClient := map[string]int{}
	err = jsonl.EachLine(st.Stdout, func(line []byte) error {
		var e struct {
			Client string `json:"client"`
		}
		got++
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("results list: %v: %.200s", err, line)
		}
		perClient[e.Client]++
		return nil
	})
	return got, perClient, err
}

// server is a running `taosync serve`.
type server struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	errb bytes.Buffer // what it printed on stderr after the address
	done chan struct{}
}

// startServe starts `taosync serve` on a loopback port of the kernel's
// choosing and waits for the address it prints.
func (b *bench) startServe(ctx context.Context, home string) (*server, error) {
	cmd := exec.CommandContext(ctx, b.cli.bin, "--home", home, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TAOSYNC_HOME=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	pr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*kib), 1*mib)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if !found {
				if u, ok := strings.CutPrefix(line, "taosync: serving http://"); ok {
					found = true
					addr <- strings.TrimSpace(u)
					continue
				}
			}
			s.mu.Lock()
			if s.errb.Len() < 1*mib {
				s.errb.WriteString(line + "\n")
			}
			s.mu.Unlock()
		}
		if !found {
			close(addr)
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			cmd.Wait()
			return nil, fmt.Errorf("taosync serve exited before serving: %s", tail(s.stderr(), 5))
		}
		s.addr = a
		return s, nil
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("taosync serve printed no address in 30s: %s", tail(s.stderr(), 5))
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

func (s *server) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errb.String()
}

// stop ends the server with SIGTERM (a graceful shutdown), then SIGKILL
// after 10s.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.AfterFunc(10*time.Second, func() { syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) })
	defer t.Stop()
	<-s.done
	return s.cmd.Wait()
}

// httpClient is one client home of the HTTP case and what it measured.
type httpClient struct {
	id, org, home string
	results       string // the executions file for results add
	data, send    time.Duration
	failed        error
}

// percentile is the nearest-rank percentile p (0 to 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// http measures target 7 on each setup of the run (engine, replicas):
// central serving on loopback, and clients of their own organisations each
// running `sync data`, `results add` and `sync results`, all at once.
func (b *bench) http(ctx context.Context) error {
	for _, s := range b.o.setups() {
		if err := b.httpOn(ctx, s); err != nil {
			return fmt.Errorf("http, %s: %w", s, err)
		}
	}
	return nil
}

func (b *bench) httpOn(ctx context.Context, s setup) error {
	n, takers, nres := b.o.httpClients, b.o.httpTakers, b.o.httpResults
	dir := filepath.Join(b.work, "http", s.slug())
	cfg := httpConfig(n, takers)
	cen, err := b.newCentral(ctx, s, dir)
	if err != nil {
		return err
	}
	defer b.closeCentral(cen)
	central := cen.home
	what := "http, " + s.String()
	if err := b.loadedCentral(ctx, what, cen, filepath.Join(dir, "data"), cfg); err != nil {
		return err
	}
	els, err := eligibilitiesByOrg(cfg)
	if err != nil {
		return err
	}
	if err := b.startCentral(ctx, cen); err != nil {
		return err
	}
	b.logf("%s: serving on %s", what, cen.url)
	if _, err := b.cli.run(ctx, central, "config", "set", "server.url", cen.url); err != nil {
		return err
	}

	// The client homes: init and keys at once (bounded by the CPUs), then
	// registered on central one by one.
	clients := make([]*httpClient, n)
	for i := range clients {
		id := fmt.Sprintf("centre-%d", i+1)
		clients[i] = &httpClient{id: id, org: fmt.Sprintf("org-%d", i+1), home: filepath.Join(dir, id),
			results: filepath.Join(dir, id+"-executions.jsonl")}
	}
	keys := make([]keysReport, n)
	if err := parallel(ctx, 4, n, func(i int) error {
		c := clients[i]
		if _, err := b.cli.run(ctx, c.home, "init", "--role", "client"); err != nil {
			return err
		}
		if _, err := b.cli.json(ctx, &keys[i], c.home, "keys"); err != nil {
			return err
		}
		_, err := writeExecutions(c.results, c.id+"-", els[c.org], nres, uint64(i+1))
		return err
	}); err != nil {
		return err
	}
	b.logf("%s: %d client homes initialised", what, n)
	for i, c := range clients {
		var cr struct {
			Command string `json:"command"`
		}
		if _, err := b.cli.json(ctx, &cr, central, "central", "client", "add", c.id, "--org", c.org,
			"--client-key", keys[i].ClientKey, "--cmd", "--client-home", c.home); err != nil {
			return err
		}
		args, ok := strings.CutPrefix(cr.Command, "taosync ")
		if !ok {
			return fmt.Errorf("central client add --cmd printed %q, not a taosync command", cr.Command)
		}
		if _, err := b.cli.run(ctx, c.home, strings.Fields(args)...); err != nil {
			return err
		}
	}
	b.logf("%s: %d clients registered; syncing all at once", what, n)

	// All clients at once.
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			st, err := b.cli.run(ctx, c.home, "sync", "data")
			if err != nil {
				c.failed = fmt.Errorf("sync data: %w", err)
				return
			}
			c.data = st.Took
			var added struct {
				Added int64 `json:"added"`
			}
			if _, err := b.cli.json(ctx, &added, c.home, "results", "add", c.results); err != nil {
				c.failed = fmt.Errorf("results add: %w", err)
				return
			}
			if added.Added != int64(nres) {
				c.failed = fmt.Errorf("results add took in %d executions, want %d", added.Added, nres)
				return
			}
			st, err = b.cli.run(ctx, c.home, "sync", "results")
			if err != nil {
				c.failed = fmt.Errorf("sync results: %w", err)
				return
			}
			c.send = st.Took
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}

	var dataTimes, sendTimes []time.Duration
	var failures []string
	for _, c := range clients {
		if c.failed != nil {
			failures = append(failures, c.id+": "+c.failed.Error())
			b.logf("%s: %s failed: %v", what, c.id, c.failed)
		}
		if c.data > 0 {
			dataTimes = append(dataTimes, c.data)
		}
		if c.send > 0 {
			sendTimes = append(sendTimes, c.send)
		}
	}

	got, perClient, err := b.centralExecutions(ctx, central)
	if err != nil {
		return err
	}
	b.stopServers(cen, what)
	if len(failures) > 0 {
		// What central said about the failures: its errors, as logged.
		b.logf("%s: serve logged: %s", what, serveErrors(cen.serveLog()))
	}

	fig := "HTTP sync [" + s.String() + "]: "
	scope := fmt.Sprintf("%d clients of their own organisation (about %s test takers and %s results each)", n, count(takers), count(nres))
	b.rep.add(Figure{ID: "7", Name: fig + scope + ", all at once: failures (non-zero exits)",
		Value: float64(len(failures)), Unit: "failures", Max: ptr(0), Note: firstFailures(failures, 3)})
	want := int64(n) * int64(nres)
	b.rep.add(Figure{ID: "7", Name: fmt.Sprintf(fig+"executions on central (results list), want %d × %d", n, nres),
		Value: float64(got), Unit: "executions", Min: ptr(float64(want)), Max: ptr(float64(want)),
		Note: fmt.Sprintf("%d clients with executions on central", len(perClient))})
	b.rep.add(b.besideOneReplica(s, "7", Figure{ID: "7", Name: fig + "total wall time, first sync data to last sync results",
		Value: wall.Seconds(), Unit: "s"}))
	b.rep.add(Figure{ID: "7", Name: fmt.Sprintf(fig+"sync data per client, p99 (p50 %.2f s)", percentile(dataTimes, 50).Seconds()),
		Value: percentile(dataTimes, 99).Seconds(), Unit: "s", Note: fmt.Sprintf("%d clients measured", len(dataTimes))})
	b.rep.add(Figure{ID: "7", Name: fmt.Sprintf(fig+"sync results per client, p99 (p50 %.2f s)", percentile(sendTimes, 50).Seconds()),
		Value: percentile(sendTimes, 99).Seconds(), Unit: "s", Note: fmt.Sprintf("%d clients measured", len(sendTimes))})
	b.rep.extra(Figure{ID: "7", Name: fig + "sync data per client, p50", Value: percentile(dataTimes, 50).Seconds(), Unit: "s"})
	b.rep.extra(Figure{ID: "7", Name: fig + "sync results per client, p50", Value: percentile(sendTimes, 50).Seconds(), Unit: "s"})
	b.logf("%s: %d clients in %.1fs, %d failures, %d executions on central", what, n, wall.Seconds(), len(failures), got)
	return nil
}

// firstFailures is the first k failures, their stderr tails included.
func firstFailures(failures []string, k int) string {
	if len(failures) == 0 {
		return ""
	}
	s := strings.Join(failures[:min(k, len(failures))], "; ")
	if len(failures) > k {
		s += fmt.Sprintf("; and %d more", len(failures)-k)
	}
	return s
}

// parallel runs fn(0) ... fn(n-1) on at most workers goroutines and returns
// the first error.
func parallel(ctx context.Context, workers, n int, fn func(int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// serveErrors sums up the errors serve logged: each distinct message
// (its err with client ids left out) with a count, most frequent first.
func serveErrors(log string) string {
	counts := map[string]int{}
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "level=ERROR") {
			continue
		}
		_, msg, _ := strings.Cut(l, " msg=")
		counts[clientIDs.ReplaceAllString(msg, "centre-N")]++
	}
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int { return counts[b] - counts[a] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d × %s", counts[k], k))
	}
	if len(parts) == 0 {
		return "no errors"
	}
	return strings.Join(parts, "\n  ")
}

var clientIDs = regexp.MustCompile(`centre-[0-9]+`)
