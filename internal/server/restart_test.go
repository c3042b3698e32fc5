package server_test

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestPostgresRestart: central's PostgreSQL goes down under serve, at the
// first pull and at the first result upload, and comes back once a request
// has met it down (a restart, a failover). Those requests fail with 503
// and Retry-After, the client retries, and the run completes: the client
// holds its scope, central every execution once, without a gap.
func TestPostgresRestart(t *testing.T) {
	ctx := t.Context()
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatalf("%v\nhint: %s", err, pgtest.Hint)
	}
	t.Cleanup(func() { cluster.Stop() })
	url, err := cluster.CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := testfixture.NewAt(t, url)
	var mu sync.Mutex
	downAt := map[string]bool{}     // the routes at which the server went down
	unavailable := map[string]int{} // 503s with Retry-After, by route
	f.Start(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			route := ""
			switch {
			case strings.HasSuffix(r.URL.Path, "/data/pull"):
				route = "pull"
			case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/results/"):
				route = "upload"
			}
			mu.Lock()
			defer mu.Unlock()
			down := route != "" && !downAt[route]
			if down {
				downAt[route] = true
				if err := cluster.Down(context.Background()); err != nil {
					t.Error(err)
				}
			}
			rec := &statusRecorder{ResponseWriter: w}
			h.ServeHTTP(rec, r)
			if rec.status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") != "" {
				unavailable[route]++
			}
			if down {
				if err := cluster.Up(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	})
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatalf("sync data across the restart: %v", err)
	}
	if got := testfixture.ToStrings(testfixture.Entities(t, a)); !equalScopes(got, testfixture.ToStrings(testfixture.ScopeA)) {
		t.Errorf("client holds %v, want %v", got, testfixture.ScopeA)
	}
	testfixture.AddResults(t, a, "x", 5)
	if _, err := f.Syncer("ca").Results(f.Ctx); err != nil {
		t.Fatalf("sync results across the restart: %v", err)
	}
	if got := f.ExecutionsOf(); got["ca"] != 5 || len(got) != 1 {
		t.Errorf("central holds executions %v, want 5 of ca", got)
	}
	f.CheckStatus("ca", 1, 5)
	mu.Lock()
	defer mu.Unlock()
	for _, route := range []string{"pull", "upload"} {
		if unavailable[route] == 0 {
			t.Errorf("the %s with the database down was not answered 503 with Retry-After (%v)", route, unavailable)
		}
	}
}

// statusRecorder keeps the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// equalScopes compares ids by type.
func equalScopes(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, ",") != strings.Join(b[k], ",") {
			return false
		}
	}
	return true
}

// TestImportLockTimeout: a result import that waits too long for an
// execution id another transaction holds (PostgreSQL's lock_timeout) is a
// failure of central's, not a refusal of the bundle: its commit is
// answered 500, never 422, the client tries again, and once the id is
// free the bundle is stored, each execution once.
func TestImportLockTimeout(t *testing.T) {
	url := pgtest.NewDB(t)
	f := testfixture.NewAt(t, url+"&lock_timeout=300ms")
	var mu sync.Mutex
	statuses := map[int]int{} // the uploads' answers
	var holder *sql.Tx        // the transaction holding the id, until an upload failed
	f.Start(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w}
			h.ServeHTTP(rec, r)
			if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/results/") {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			statuses[rec.status]++
			if rec.status != http.StatusOK && holder != nil {
				holder.Rollback()
				holder = nil
			}
		})
	})
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if holder, err = db.BeginTx(f.Ctx, nil); err != nil {
		t.Fatal(err)
	}
	// Another import's uncommitted insert of the id.
	if _, err := holder.ExecContext(f.Ctx, "INSERT INTO execution_ids (id) VALUES ('x-3')"); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 5)
	if _, err := f.Syncer("ca").Results(f.Ctx); err != nil {
		t.Fatalf("sync results after the lock timeout: %v", err)
	}
	if got := f.ExecutionsOf(); got["ca"] != 5 || len(got) != 1 {
		t.Errorf("central holds executions %v, want 5 of ca", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if statuses[http.StatusInternalServerError] == 0 || statuses[http.StatusUnprocessableEntity] != 0 || holder != nil {
		t.Errorf("uploads answered %v, want a 500 while the id was held, and no 422", statuses)
	}
}
