package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/sample"
	"github.com/taosync/taosync/internal/testlink"
)

// A thin line: a satellite link's rate and round trip.
const (
	thinRate = 2_000_000 / 8 // bytes per second each way
	thinRTT  = 600 * time.Millisecond
)

// thinLink is a testlink to target with the thin line's rate and delay.
func thinLink(target string) (*testlink.Line, error) {
	l, err := testlink.Start(target)
	if err != nil {
		return nil, err
	}
	l.SetRate(thinRate)
	l.SetDelay(thinRTT / 2)
	return l, nil
}

// thin measures the first `sync data` of the clients of one organisation
// of o.thinTakers test takers over a thin line (internal/testlink in front
// of `taosync serve`), against one plain HTTP GET of as many bytes over
// the same kind of line: what the round trips of a sync cost beyond the
// bytes. The first client's pull waits for central to prepare the
// organisation's bundle; the second's gets the snapshot central kept, so
// its time is the line's and the client's: the target is on it.
func (b *bench) thin(ctx context.Context) error {
	dir := filepath.Join(b.work, "thin")
	cfg := sample.Config{Seed: 5, Orgs: 1, CentersPerOrg: 2, TestTakers: b.o.thinTakers, ProctorsPerCenter: 2,
		AdminsPerCenter: 1, Deliveries: 4, TakersPerEligibility: 50}
	central, data := filepath.Join(dir, "central"), filepath.Join(dir, "data")
	if _, err := sample.Write(data, cfg, sample.DemoFormat); err != nil {
		return err
	}
	if _, err := b.cli.run(ctx, central, "init", "--role", "central"); err != nil {
		return err
	}
	for _, t := range taosync.Types {
		if _, err := b.cli.run(ctx, central, "central", "load", "--type", string(t), filepath.Join(data, string(t)+"."+sample.DemoFormat(t))); err != nil {
			return err
		}
	}
	srv, err := b.startServe(ctx, central)
	if err != nil {
		return err
	}
	defer srv.stop()
	line, err := thinLink(srv.addr)
	if err != nil {
		return err
	}
	defer line.Close()
	if _, err := b.cli.run(ctx, central, "config", "set", "server.url", "http://"+line.Addr()); err != nil {
		return err
	}
	b.logf("thin: first sync data of %d test takers over %d kbit/s and a %v round trip", cfg.TestTakers, thinRate*8/1000, thinRTT)
	var took [2]step
	for i := range took {
		home := filepath.Join(dir, fmt.Sprintf("client-%d", i+1))
		if err := b.thinClient(ctx, central, home, fmt.Sprintf("thin-%d", i+1)); err != nil {
			return err
		}
		if took[i], err = b.cli.run(ctx, home, "sync", "data"); err != nil {
			return err
		}
	}
	size, err := spoolBytes(filepath.Join(central, "spool", "thin-2"))
	if err != nil {
		return err
	}
	get, err := plainGet(ctx, size)
	if err != nil {
		return err
	}
	b.logf("thin: sync data %.1fs and %.1fs, one GET of its %d bytes %.1fs", took[0].Seconds(), took[1].Seconds(), size, get.Seconds())
	base := &Baseline{Name: "one plain HTTP GET of the same bytes over the same line", Value: get.Seconds(), Unit: "s", Seconds: get.Seconds()}
	name := fmt.Sprintf("first sync data over a thin line (2 Mbit/s, 600 ms; %s)", mibs(size))
	b.rep.add(Figure{ID: "8", Name: name + ", a second centre of the organisation", Value: took[1].Seconds(), Unit: "s",
		RatioMax: ptr(1.3), Baseline: base, Note: "central sends the snapshot it kept; applying the bundle included"}.of(took[1]))
	b.rep.extra(Figure{ID: "8", Name: name + ", the organisation's first centre", Value: took[0].Seconds(), Unit: "s",
		Baseline: base, Note: "central prepares the bundle before it answers the pull"}.of(took[0]))

	// 100 results back over the same line: the upload of the result
	// bundle, its commit and the receipts, in one sync.
	els, err := eligibilitiesByOrg(cfg)
	if err != nil {
		return err
	}
	home := filepath.Join(dir, "client-2")
	file := filepath.Join(dir, "results.jsonl")
	if _, err := writeExecutions(file, "thin-", els["org-1"], 100, 8); err != nil {
		return err
	}
	if _, err := b.cli.run(ctx, home, "results", "add", file); err != nil {
		return err
	}
	sent, err := b.cli.run(ctx, home, "sync", "results")
	if err != nil {
		return err
	}
	b.logf("thin: sync results of 100 executions %.1fs", sent.Seconds())
	b.rep.add(Figure{ID: "8", Name: "sync results over a thin line (2 Mbit/s, 600 ms): 100 executions", Value: sent.Seconds(),
		Unit: "s", Max: ptr(3.0), Note: "upload, commit and the receipts"}.of(sent))
	return nil
}

// thinClient makes a client home registered on central as id, of the
// thin case's organisation.
func (b *bench) thinClient(ctx context.Context, central, home, id string) error {
	if _, err := b.cli.run(ctx, home, "init", "--role", "client"); err != nil {
		return err
	}
	var keys keysReport
	if _, err := b.cli.json(ctx, &keys, home, "keys"); err != nil {
		return err
	}
	var cr struct {
		Command string `json:"command"`
	}
	if _, err := b.cli.json(ctx, &cr, central, "central", "client", "add", id, "--org", "org-1",
		"--client-key", keys.ClientKey, "--cmd", "--client-home", home); err != nil {
		return err
	}
	args, ok := strings.CutPrefix(cr.Command, "taosync ")
	if !ok {
		return fmt.Errorf("central client add --cmd printed %q, not a taosync command", cr.Command)
	}
	_, err := b.cli.run(ctx, home, strings.Fields(args)...)
	return err
}

// spoolBytes is the size of the files of the data bundles in a client's
// spool on central: the bytes its first sync downloaded.
func spoolBytes(spool string) (int64, error) {
	var n int64
	err := filepath.WalkDir(spool, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(path, string(filepath.Separator)+"data-") {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("no data bundle in %s", spool)
	}
	return n, err
}

// plainGet times one HTTP GET of size bytes from a loopback server over a
// thin line, connection included.
func plainGet(ctx context.Context, size int64) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.CopyN(w, zeros{}, size)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	line, err := thinLink(ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer line.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+line.Addr()+"/", nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && n != size {
		err = fmt.Errorf("plain GET: got %d of %d bytes", n, size)
	}
	return time.Since(start), err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
