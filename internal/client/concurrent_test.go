package client_test

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
)

// statusCounter counts the answers of a handler by status.
type statusCounter struct {
	h  http.Handler
	mu sync.Mutex
	n  map[int]int
	// bad lists the requests answered with a 5xx.
	bad []string
}

func (c *statusCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	c.h.ServeHTTP(rec, r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[int]int{}
	}
	code := rec.code
	if code == 0 {
		code = http.StatusOK
	}
	c.n[code]++
	if code >= 500 {
		c.bad = append(c.bad, fmt.Sprintf("%s %s: %d", r.Method, r.URL.Path, code))
	}
}

// TestConcurrentClients: 100 clients, each with its own home, sync data
// and results at once against one server: all succeed, no 5xx, and central
// holds each client's results exactly once, without gaps.
func TestConcurrentClients(t *testing.T) {
	if testing.Short() {
		t.Skip("100 clients: not with -short")
	}
	t.Parallel()
	const clients, perClient = 100, 2
	f := testfixture.New(t)
	counter := &statusCounter{}
	f.Start(func(h http.Handler) http.Handler { counter.h = h; return counter })
	start := time.Now()
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%03d", i)
		f.Register(ids[i], "A")
	}
	t.Logf("registered %d clients in %v", clients, time.Since(start))
	start = time.Now()

	type outcome struct {
		id    string
		err   error
		step  string
		data  []importer.Line
		rcpts []importer.Line
	}
	results := make(chan outcome, clients)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := outcome{id: id}
			defer func() { results <- o }()
			cl := f.Clients[id]
			s, err := cl.NewSyncer(f.Ctx, false)
			if err != nil {
				o.step, o.err = "syncer", err
				return
			}
			if o.data, err = s.Data(f.Ctx, nil, false); err != nil {
				o.step, o.err = "data", err
				return
			}
			var xs testfixture.Executions
			for i := 1; i <= perClient; i++ {
				xs = append(xs, testfixture.Execution(fmt.Sprintf("%s-x%d", id, i), "a1", "d1", "t1"))
			}
			if _, err := cl.Local.AddExecutions(f.Ctx, "test.jsonl", &xs); err != nil {
				o.step, o.err = "add", err
				return
			}
			if o.rcpts, err = s.Results(f.Ctx); err != nil {
				o.step, o.err = "results", err
				return
			}
			if _, err := s.Receipts(f.Ctx); err != nil {
				o.step, o.err = "receipts", err
				return
			}
		}()
	}
	wg.Wait()
	close(results)
	t.Logf("%d clients synced in %v; answers %v", clients, time.Since(start), counter.n)
	for o := range results {
		if o.err != nil {
			t.Errorf("%s: %s: %v", o.id, o.step, o.err)
			continue
		}
		if len(o.data) != 1 || o.data[0].Outcome != importer.Applied {
			t.Errorf("%s: data %+v", o.id, o.data)
		}
		if len(o.rcpts) != 1 || o.rcpts[0].Kind != "receipts" || o.rcpts[0].Outcome != importer.Applied {
			t.Errorf("%s: receipts %+v", o.id, o.rcpts)
		}
	}
	if len(counter.bad) > 0 {
		sort.Strings(counter.bad)
		t.Errorf("%d answers 5xx: %v", len(counter.bad), counter.bad)
	}
	// Central: each client's results exactly once, one bundle, no gap, and
	// one history row of results in for each.
	got := f.ExecutionsOf()
	for _, id := range ids {
		if got[id] != perClient {
			t.Errorf("central holds %d executions of %s, want %d", got[id], id, perClient)
		}
	}
	status, err := f.C.Store.Status(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != clients {
		t.Errorf("%d clients in the status", len(status))
	}
	for _, s := range status {
		if s.Bundles != 1 || s.Received != perClient || len(s.Gaps) != 0 || s.Conflicts != 0 || s.DataSeq != 1 || s.ReceiptSeq != 1 {
			t.Errorf("%s: %d bundles, %d received, %d conflicts, gaps %v, data seq %d, receipt seq %d",
				s.ID, s.Bundles, s.Received, s.Conflicts, s.Gaps, s.DataSeq, s.ReceiptSeq)
		}
	}
	history, err := store.History(f.Ctx, f.C.Home.DB, store.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]int{}
	for _, e := range history {
		if e.Direction == "in" && e.Kind == "results" {
			in[e.Peer]++
			if e.Transport != "http" {
				t.Errorf("%s: results came by %s", e.Peer, e.Transport)
			}
		}
	}
	for _, id := range ids {
		if in[id] != 1 {
			t.Errorf("%s: %d history rows of results in, want 1", id, in[id])
		}
	}
	// Each client: its executions acknowledged.
	for _, id := range ids {
		outbox, err := f.Clients[id].Local.Outbox(f.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range outbox {
			if e.State != store.Acknowledged {
				t.Errorf("%s: %s is %s", id, e.ID, e.State)
			}
		}
	}
}
