package central_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/procstat"
	"github.com/taosync/taosync/internal/sample"
)

var (
	pullOrgs   = flag.Int("pulls.orgs", 20, "BenchmarkFirstPulls: organisations, one client each")
	pullTakers = flag.Int("pulls.takers", 5000, "BenchmarkFirstPulls: test takers of each organisation")
)

// BenchmarkFirstPulls measures the first pulls of target 9 in process:
// central holds -pulls.orgs organisations of -pulls.takers test takers
// (the bench's master data, one client each), and each run makes a full
// export for every client, one after another and then all at once, after
// an empty load has dropped the snapshots kept. Besides the time, it
// reports per pull the CPU of this process and, on PostgreSQL, that of
// the server's processes (a throwaway cluster of this test binary alone):
//
//	go test ./internal/central -run '^$' -bench FirstPulls -benchtime 1x -pulls.orgs 200
func BenchmarkFirstPulls(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) { benchFirstPulls(b, engine) })
	}
}

func benchFirstPulls(b *testing.B, engine string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	dir := filepath.Join(b.TempDir(), "central")
	h, err := home.InitAt(ctx, dir, home.RoleCentral, pgtest.Where(b, engine))
	if err != nil {
		b.Fatal(err)
	}
	h.Close()
	c, err := central.Open(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	orgs := *pullOrgs
	cfg := sample.Config{Seed: 3, Orgs: orgs, CentersPerOrg: max(1, (*pullTakers+499)/500), TestTakers: orgs * *pullTakers,
		ProctorsPerCenter: 3, AdminsPerCenter: 1, Deliveries: 12, TakersPerEligibility: 50}
	data := b.TempDir()
	if _, err := sample.Write(data, cfg, sample.DemoFormat); err != nil {
		b.Fatal(err)
	}
	for _, t := range taosync.Types {
		format := sample.DemoFormat(t)
		loadFile(ctx, b, c, t, filepath.Join(data, string(t)+"."+format), load.Format(format))
	}
	clients := make([]string, orgs)
	for i := range clients {
		k, err := home.Init(ctx, filepath.Join(b.TempDir(), "client"), home.RoleClient)
		if err != nil {
			b.Fatal(err)
		}
		keys, err := k.PublicKeys()
		k.Close()
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = fmt.Sprintf("c%d", i+1)
		if _, err := c.AddClient(ctx, clients[i], fmt.Sprintf("org-%d", i+1), keys); err != nil {
			b.Fatal(err)
		}
	}
	server := func() time.Duration { return 0 }
	if engine == "postgres" {
		// As a central that has served a while: its tables vacuumed, not
		// by autovacuum during the pulls, whose CPU would count as theirs.
		if _, err := c.Home.DB.ExecContext(ctx, "VACUUM (ANALYZE)"); err != nil {
			b.Fatal(err)
		}
		postmaster, err := pgtest.Shared(b).PID()
		if err != nil {
			b.Fatal(err)
		}
		server = func() time.Duration {
			t, err := procstat.TreeCPU(postmaster)
			if err != nil {
				b.Fatal(err)
			}
			return t
		}
	}
	empty := filepath.Join(data, "empty.csv")
	if err := os.WriteFile(empty, []byte("id,label,org_id\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	pull := func(i int) {
		if _, err := c.ExportData(ctx, clients[i], filepath.Join(out, clients[i]), central.ExportOptions{Full: true, Transport: "http"}); err != nil {
			b.Error(err)
		}
	}
	var wall, own, db [2]time.Duration
	b.ResetTimer()
	for range b.N {
		for phase, run := range []func(){
			func() {
				for i := range clients {
					pull(i)
				}
			},
			func() {
				var wg sync.WaitGroup
				for i := range clients {
					wg.Go(func() { pull(i) })
				}
				wg.Wait()
			},
		} {
			b.StopTimer()
			loadFile(ctx, b, c, taosync.TestCenter, empty, load.CSV)
			if err := os.RemoveAll(out); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			w0, o0, d0 := time.Now(), processCPU(), server()
			run()
			wall[phase] += time.Since(w0)
			own[phase] += processCPU() - o0
			db[phase] += server() - d0
		}
	}
	pulls := float64(b.N * orgs)
	for phase, name := range []string{"serial", "at-once"} {
		b.ReportMetric(wall[phase].Seconds()*1000/pulls, name+"-ms/pull")
		b.ReportMetric(own[phase].Seconds()*1000/pulls, name+"-cpu-ms/pull")
		if engine == "postgres" {
			b.ReportMetric(db[phase].Seconds()*1000/pulls, name+"-pg-cpu-ms/pull")
		}
	}
}

// loadFile loads the entities of type t from the file name, in format.
func loadFile(ctx context.Context, b *testing.B, c *central.Central, t taosync.Type, name string, format load.Format) {
	b.Helper()
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := load.NewReader(f, name, format, t)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Store.Load(ctx, name, t, r, false); err != nil {
		b.Fatal(err)
	}
}

// processCPU is this process's user and system time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
