package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/procstat"
	"github.com/taosync/taosync/internal/sample"
	"github.com/taosync/taosync/manifest"
)

// The capacity case (target 9) measures central alone: one `taosync serve`
// on loopback, and a load generator in this process that plays N centres
// over HTTP, so that the machine's CPU goes to central rather than to N
// client processes (as in target 7). A centre's pull is the token, the
// pull and the download of every file of its bundle, each hashed and
// discarded; its results are the upload and commit, in one request, of a
// result bundle written before the clock starts, then the download of its
// receipts. Each centre has two result bundles of as many executions: the
// first sent one after another (the baseline), the second at once. The wire types are written out here, as a foreign client
// would: the load generator speaks the documented API (docs/openapi.yaml).

// capCentre is one centre the load generator plays.
type capCentre struct {
	id, org, home string
	secret        string
	token         string
	// results are the result bundles, read before the clock starts: the
	// first is sent one after another, the second at once.
	results [2]capBundle
	// pulled is the bytes of the last bundle pulled.
	pulled int64
	failed error
}

// capBundle is a result bundle as it is uploaded.
type capBundle struct {
	// name names the bundle; stream is its upload stream (the signature,
	// the manifest, the chunks in manifest order).
	name             string
	stream           []byte
	sigSize, manSize int
}

// capFile and capRef are a bundle's files as the pull and the commit name
// them (BundleRef).
type capFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type capRef struct {
	Bundle string    `json:"bundle"`
	Files  []capFile `json:"files"`
}

// capacity measures target 9 on each setup of the run (engine,
// replicas).
func (b *bench) capacity(ctx context.Context) error {
	for _, s := range b.o.setups() {
		if err := b.capacityOn(ctx, s); err != nil {
			return fmt.Errorf("capacity, %s: %w", s, err)
		}
	}
	return nil
}

func (b *bench) capacityOn(ctx context.Context, s setup) error {
	n, takers, nres := b.o.capClients, b.o.capTakers, b.o.capResults
	dir := filepath.Join(b.work, "capacity", s.slug())
	cfg := httpConfig(n, takers)
	cen, err := b.newCentral(ctx, s, dir)
	if err != nil {
		return err
	}
	defer b.closeCentral(cen)
	central := cen.home
	data := filepath.Join(dir, "data")
	what := "capacity, " + s.String()
	if err := b.loadedCentral(ctx, what, cen, data, cfg); err != nil {
		return err
	}
	els, err := eligibilitiesByOrg(cfg)
	if err != nil {
		return err
	}
	centres, err := b.capCentres(ctx, dir, central, n, nres, els)
	if err != nil {
		return err
	}
	if err := b.startCentral(ctx, cen); err != nil {
		return err
	}
	root := cen.url
	b.logf("%s: serving on %s", what, root)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true}}
	defer hc.CloseIdleConnections()

	// The baseline: the same first pulls, one after another. Each run
	// starts without the snapshots kept by the exports before it.
	if err := b.dropKeptSnapshots(ctx, central, data, dir); err != nil {
		return err
	}
	serialPulls, serialPullWall, serialPullCPU, err := capSerial(cen, centres, func(c *capCentre) (time.Duration, error) {
		return c.pull(ctx, hc, root)
	})
	if err != nil {
		return fmt.Errorf("one after another: %w", err)
	}
	b.logf("%s: %d pulls one after another in %.1fs, central %s", what, n, serialPullWall.Seconds(), serialPullCPU)
	if err := b.dropKeptSnapshots(ctx, central, data, dir); err != nil {
		return err
	}

	pulls, pullWall, pullCPU, err := capPhase(ctx, cen, centres, func(c *capCentre) (time.Duration, error) {
		return c.pull(ctx, hc, root)
	})
	if err != nil {
		return err
	}
	var pullRSS float64
	for _, pid := range cen.pids() {
		rss, err := procstat.PeakRSS(pid)
		if err != nil {
			return err
		}
		pullRSS += rss
	}
	b.logf("%s: %d pulls at once in %.1fs, central %s, peak memory %.0f MiB", what, n, pullWall.Seconds(), pullCPU, pullRSS)

	// The result bundles: the first of each centre one after another,
	// the second at once.
	serialSends, serialSendWall, serialSendCPU, err := capSerial(cen, centres, func(c *capCentre) (time.Duration, error) {
		return c.send(ctx, hc, root, &c.results[0])
	})
	if err != nil {
		return fmt.Errorf("result bundles one after another: %w", err)
	}
	b.logf("%s: %d result bundles one after another in %.1fs, central %s", what, n, serialSendWall.Seconds(), serialSendCPU)
	before, _, err := b.centralExecutions(ctx, central)
	if err != nil {
		return err
	}
	sends, sendWall, sendCPU, err := capPhase(ctx, cen, centres, func(c *capCentre) (time.Duration, error) {
		return c.send(ctx, hc, root, &c.results[1])
	})
	if err != nil {
		return err
	}
	b.logf("%s: %d result bundles at once in %.1fs, central %s", what, n, sendWall.Seconds(), sendCPU)

	want := int64(n) * int64(nres)
	var failures []string
	if before != want {
		failures = append(failures, fmt.Sprintf("central held %d executions after the result bundles one after another, want %d", before, want))
	}
	for _, c := range centres {
		if c.failed != nil {
			failures = append(failures, c.id+": "+c.failed.Error())
		}
	}
	got, perClient, err := b.centralExecutions(ctx, central)
	if err != nil {
		return err
	}
	peakRSS, peakRead := b.stopServers(cen, what)
	peakNote := fmt.Sprintf("%.0f MiB by the end of the pulls", pullRSS)
	if !peakRead {
		peakNote += "; short of a replica that had exited before its peak was read"
	}
	var pulled int64
	for _, c := range centres {
		pulled += c.pulled
	}
	if len(failures) > 0 {
		b.logf("%s: serve logged: %s", what, serveErrors(cen.serveLog()))
	}

	cores := runtime.NumCPU()
	fig := "central's capacity [" + s.String() + "]: "
	scope := fmt.Sprintf("%d centres of their own organisation (about %s test takers and 2 × %s results each)", n, count(takers), count(nres))
	b.rep.add(Figure{ID: "9", Name: fig + scope + ": failures",
		Value: float64(len(failures)), Unit: "failures", Max: ptr(0), Note: firstFailures(failures, 3)})
	b.rep.add(Figure{ID: "9", Name: fmt.Sprintf(fig+"executions the result bundles at once added on central (results list), want %d × %d", n, nres),
		Value: float64(got - before), Unit: "executions", Min: ptr(float64(want)), Max: ptr(float64(want)),
		Note: fmt.Sprintf("%d before them, %d after; %d centres with executions on central", before, got, len(perClient))})
	b.rep.add(Figure{ID: "9", Name: fmt.Sprintf(fig+"%d first pulls at once (token, pull, download), wall time", n),
		Value: pullWall.Seconds(), Unit: "s", RatioMax: ptr(0.6),
		Baseline: &Baseline{Name: "the same pulls one after another", Value: serialPullWall.Seconds(), Unit: "s", Seconds: serialPullWall.Seconds()},
		Note: fmt.Sprintf("%.1f pulls/s at once, %.1f one after another; central's CPU a pull %.3f s at once, %.3f one after another (%.2f cores)",
			float64(n)/pullWall.Seconds(), float64(n)/serialPullWall.Seconds(), pullCPU.total().Seconds()/float64(n),
			serialPullCPU.total().Seconds()/float64(n), serialPullCPU.total().Seconds()/serialPullWall.Seconds())})
	b.rep.add(b.besideOneReplica(s, "9 pulls", Figure{ID: "9", Name: fmt.Sprintf(fig+"pulls per second at once (p50 %.2f s, p99 %.2f s a pull)",
		percentile(pulls, 50).Seconds(), percentile(pulls, 99).Seconds()),
		Value: float64(n) / pullWall.Seconds(), Unit: "pulls/s",
		Note: fmt.Sprintf("one after another: p50 %.3f s a pull; %.2f MiB a bundle", percentile(serialPulls, 50).Seconds(), float64(pulled)/float64(n)/mib)}))
	b.rep.add(Figure{ID: "9", Name: fig + "central's CPU utilisation during the pulls at once" + cen.cpuOf(),
		Value: pullCPU.total().Seconds() / pullWall.Seconds(), Unit: "cores", Min: ptr(0.8 * float64(cores)),
		Note: fmt.Sprintf("%s over %.1f s; target 0.8 of the machine's %d cores", pullCPU, pullWall.Seconds(), cores)})
	// Result imports take turns on SQLite (one writer); on PostgreSQL
	// they are to overlap.
	var sendRatio *float64
	if s.engine == "postgres" {
		sendRatio = ptr(0.6)
	}
	b.rep.add(Figure{ID: "9", Name: fmt.Sprintf(fig+"%d result bundles at once (upload and commit, receipts), wall time", n),
		Value: sendWall.Seconds(), Unit: "s", RatioMax: sendRatio,
		Baseline: &Baseline{Name: "as many result bundles one after another", Value: serialSendWall.Seconds(), Unit: "s", Seconds: serialSendWall.Seconds()},
		Note: fmt.Sprintf("one after another: p50 %.3f s a bundle; central's CPU a bundle %.3f s at once, %.3f one after another (%.2f cores)",
			percentile(serialSends, 50).Seconds(), sendCPU.total().Seconds()/float64(n),
			serialSendCPU.total().Seconds()/float64(n), serialSendCPU.total().Seconds()/serialSendWall.Seconds())})
	b.rep.add(b.besideOneReplica(s, "9 bundles", Figure{ID: "9", Name: fmt.Sprintf(fig+"result bundles per second at once (p50 %.2f s, p99 %.2f s a bundle)",
		percentile(sends, 50).Seconds(), percentile(sends, 99).Seconds()),
		Value: float64(n) / sendWall.Seconds(), Unit: "bundles/s",
		Note: fmt.Sprintf("upload, commit and receipts of %s executions each; central %.2f cores meanwhile (%s)", count(nres), sendCPU.total().Seconds()/sendWall.Seconds(), sendCPU)}))
	b.rep.add(Figure{ID: "9", Name: fig + "central's CPU seconds per centre (a first pull and a result bundle)" + cen.cpuOf(),
		Value: (pullCPU.total() + sendCPU.total()).Seconds() / float64(n), Unit: "CPU-s",
		Note: fmt.Sprintf("pull %.3f, result bundle %.3f; serve alone %.3f", pullCPU.total().Seconds()/float64(n), sendCPU.total().Seconds()/float64(n),
			(pullCPU.serve+sendCPU.serve).Seconds()/float64(n))})
	b.rep.add(Figure{ID: "9", Name: fig + "central's peak memory (serve's maximum resident set, summed over the replicas)",
		Value: peakRSS, Unit: "MiB", Note: peakNote})
	for _, f := range []struct {
		name string
		ds   []time.Duration
		p    float64
	}{{"pull at once, p50", pulls, 50}, {"pull at once, p99", pulls, 99}, {"pull one after another, p50", serialPulls, 50},
		{"result bundle at once, p50", sends, 50}, {"result bundle at once, p99", sends, 99}, {"result bundle one after another, p50", serialSends, 50}} {
		b.rep.extra(Figure{ID: "9", Name: fig + f.name, Value: percentile(f.ds, f.p).Seconds(), Unit: "s"})
	}
	return nil
}

// capCentres makes the client homes of the centres, registers them on
// central, and has each write its two result bundles of nres executions,
// read into memory.
func (b *bench) capCentres(ctx context.Context, dir, central string, n, nres int, els map[string][]eligibility) ([]*capCentre, error) {
	centres := make([]*capCentre, n)
	keys := make([]keysReport, n)
	for i := range centres {
		id := fmt.Sprintf("centre-%d", i+1)
		centres[i] = &capCentre{id: id, org: fmt.Sprintf("org-%d", i+1), home: filepath.Join(dir, id)}
	}
	if err := parallel(ctx, 4, n, func(i int) error {
		c := centres[i]
		if _, err := b.cli.run(ctx, c.home, "init", "--role", "client"); err != nil {
			return err
		}
		_, err := b.cli.json(ctx, &keys[i], c.home, "keys")
		return err
	}); err != nil {
		return nil, err
	}
	for i, c := range centres {
		var cr struct {
			Secret  string `json:"secret"`
			Command string `json:"command"`
		}
		if _, err := b.cli.json(ctx, &cr, central, "central", "client", "add", c.id, "--org", c.org,
			"--client-key", keys[i].ClientKey, "--cmd", "--client-home", c.home); err != nil {
			return nil, err
		}
		args, ok := strings.CutPrefix(cr.Command, "taosync ")
		if !ok {
			return nil, fmt.Errorf("central client add --cmd printed %q, not a taosync command", cr.Command)
		}
		if _, err := b.cli.run(ctx, c.home, strings.Fields(args)...); err != nil {
			return nil, err
		}
		c.secret = cr.Secret
	}
	// Each centre needs its data to take in results: a folder exported
	// for all of them, each imported.
	stick := filepath.Join(dir, "stick")
	if _, err := b.cli.run(ctx, central, "export", "data", "--all", "--out", stick); err != nil {
		return nil, err
	}
	b.logf("capacity: %d centres registered; importing their data, writing their result bundles", n)
	if err := parallel(ctx, 4, n, func(i int) error {
		c := centres[i]
		if _, err := b.cli.run(ctx, c.home, "import", filepath.Join(stick, c.id)); err != nil {
			return err
		}
		// Two bundles of as many executions, each of its own: the
		// second export sends only the executions added since the first.
		for j := range c.results {
			name := fmt.Sprintf("%s-%d", c.id, j+1)
			file := filepath.Join(dir, name+"-executions.jsonl")
			if _, err := writeExecutions(file, name+"-", els[c.org], nres, uint64(2*i+j+1)); err != nil {
				return err
			}
			if _, err := b.cli.run(ctx, c.home, "results", "add", file); err != nil {
				return err
			}
			out := filepath.Join(dir, name+"-out")
			if _, err := b.cli.run(ctx, c.home, "export", "results", "--out", out); err != nil {
				return err
			}
			if err := c.results[j].read(out); err != nil {
				return fmt.Errorf("%s: %w", c.id, err)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return centres, nil
}

// read reads the one result bundle in out as its upload stream.
func (rb *capBundle) read(out string) error {
	found, err := filepath.Glob(filepath.Join(out, "results-*", manifest.FileName))
	if err != nil || len(found) != 1 {
		return fmt.Errorf("want one result bundle in %s, found %d (%v)", out, len(found), err)
	}
	bdir := filepath.Dir(found[0])
	raw, err := os.ReadFile(found[0])
	if err != nil {
		return err
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", bdir, err)
	}
	sig, err := os.ReadFile(filepath.Join(bdir, manifest.SigName))
	if err != nil {
		return err
	}
	rb.name, rb.sigSize, rb.manSize = filepath.Base(bdir), len(sig), len(raw)
	rb.stream = append(sig, raw...)
	for _, s := range m.Sections {
		for _, ch := range s.Chunks {
			b, err := os.ReadFile(filepath.Join(bdir, ch.Hash))
			if err != nil {
				return err
			}
			rb.stream = append(rb.stream, b...)
		}
	}
	return nil
}

// dropKeptSnapshots loads one test taker again, unchanged: a load drops
// every snapshot kept for full exports.
func (b *bench) dropKeptSnapshots(ctx context.Context, central, data, dir string) error {
	raw, err := os.ReadFile(filepath.Join(data, string(taosync.TestTaker)+"."+sample.DemoFormat(taosync.TestTaker)))
	if err != nil {
		return err
	}
	format := sample.DemoFormat(taosync.TestTaker)
	var one []byte
	switch format {
	case "csv": // the header and the first row
		lines := bytes.SplitAfterN(raw, []byte("\n"), 3)
		one = bytes.Join(lines[:min(2, len(lines))], nil)
	default:
		one, _, _ = bytes.Cut(raw, []byte("\n"))
	}
	file := filepath.Join(dir, "one-test-taker."+format)
	if err := os.WriteFile(file, one, 0o644); err != nil {
		return err
	}
	_, err = b.cli.run(ctx, central, "central", "load", "--type", string(taosync.TestTaker), file)
	return err
}

// capSerial runs do for every centre, one after another, and returns each
// one's time, the wall time, and central's CPU time meanwhile. A centre
// that fails fails the run: the baseline has no failures to leave out.
func capSerial(cen *centralRun, centres []*capCentre, do func(*capCentre) (time.Duration, error)) ([]time.Duration, time.Duration, cpuTime, error) {
	cpu0, err := cen.cpu()
	if err != nil {
		return nil, 0, cpuTime{}, err
	}
	start := time.Now()
	times := make([]time.Duration, len(centres))
	for i, c := range centres {
		if times[i], err = do(c); err != nil {
			return nil, 0, cpuTime{}, fmt.Errorf("%s: %w", c.id, err)
		}
	}
	wall := time.Since(start)
	cpu1, err := cen.cpu()
	return times, wall, cpu1.minus(cpu0), err
}

// capPhase runs do for every centre at once and returns each one's time,
// the wall time, and central's CPU time meanwhile. A centre that fails is
// marked failed and left out of the times.
func capPhase(ctx context.Context, cen *centralRun, centres []*capCentre, do func(*capCentre) (time.Duration, error)) ([]time.Duration, time.Duration, cpuTime, error) {
	cpu0, err := cen.cpu()
	if err != nil {
		return nil, 0, cpuTime{}, err
	}
	start := time.Now()
	times := make([]time.Duration, len(centres))
	var wg sync.WaitGroup
	for i, c := range centres {
		wg.Go(func() {
			if c.failed != nil {
				return
			}
			times[i], c.failed = do(c)
		})
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, err := cen.cpu()
	if err != nil {
		return nil, 0, cpuTime{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, cpuTime{}, err
	}
	var ok []time.Duration
	for i, c := range centres {
		if c.failed == nil {
			ok = append(ok, times[i])
		}
	}
	return ok, wall, cpu1.minus(cpu0), nil
}

// pull is a centre's first pull: a token, the pull (a full snapshot,
// whatever central recorded), and every file downloaded and checked.
func (c *capCentre) pull(ctx context.Context, hc *http.Client, root string) (time.Duration, error) {
	start := time.Now()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, root+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := exchange(hc, req, &tok); err != nil {
		return 0, fmt.Errorf("token: %w", err)
	}
	c.token = tok.AccessToken
	body := `{"data_seq":0,"data_bundle":"","receipt_seq":0,"full":true}`
	var ref capRef
	if err := c.call(ctx, hc, http.MethodPost, root+"/api/v1/data/pull", strings.NewReader(body), nil, &ref); err != nil {
		return 0, fmt.Errorf("pull: %w", err)
	}
	if c.pulled, err = c.download(ctx, hc, root, ref); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// send uploads and commits one of the centre's result bundles in one
// request, then downloads its receipts.
func (c *capCentre) send(ctx context.Context, hc *http.Client, root string, rb *capBundle) (time.Duration, error) {
	start := time.Now()
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Upload-Signature-Size", strconv.Itoa(rb.sigSize))
	h.Set("Upload-Manifest-Size", strconv.Itoa(rb.manSize))
	var st struct {
		State   string  `json:"state"`
		Outcome string  `json:"outcome"`
		Receipt *capRef `json:"receipt"`
	}
	err := c.call(ctx, hc, http.MethodPut, root+"/api/v1/results/"+rb.name+"?commit=true", bytes.NewReader(rb.stream), h, &st)
	if err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	if st.State != "committed" || st.Receipt == nil {
		return 0, fmt.Errorf("upload: central answered %q (outcome %q), without receipts", st.State, st.Outcome)
	}
	if _, err := c.download(ctx, hc, root, *st.Receipt); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// download fetches every file of a bundle, checks its size and hash, and
// discards it. It returns the bytes fetched.
func (c *capCentre) download(ctx context.Context, hc *http.Client, root string, ref capRef) (int64, error) {
	var total int64
	for _, f := range ref.Files {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+"/api/v1/bundles/"+ref.Bundle+"/"+f.Name, nil)
		if err != nil {
			return total, err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := hc.Do(req)
		if err != nil {
			return total, fmt.Errorf("download %s: %w", f.Name, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			return total, fmt.Errorf("download %s: %w", f.Name, err)
		case resp.StatusCode != http.StatusOK:
			return total, fmt.Errorf("download %s: %s", f.Name, resp.Status)
		case n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256:
			return total, fmt.Errorf("download %s: %d bytes not of its hash %.8s (want %d)", f.Name, n, f.SHA256, f.Size)
		}
		total += n
	}
	return total, nil
}

// call sends an authorised request and decodes its JSON answer into v.
func (c *capCentre) call(ctx context.Context, hc *http.Client, method, u string, body io.Reader, h http.Header, v any) error {
	// Central says "102 Processing" while a commit waits for its turn:
	// seen here, it resets the transport's limit on header bytes.
	trace := &httptrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error { return nil }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u, body)
	if err != nil {
		return err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return exchange(hc, req, v)
}

// exchange does req and decodes a 200 answer's JSON into v; any other
// status is an error with the answer's first bytes.
func exchange(hc *http.Client, req *http.Request, v any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16*mib))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %.200s", resp.Status, bytes.TrimSpace(raw))
	}
	return json.Unmarshal(raw, v)
}
