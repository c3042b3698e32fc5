package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/jsonl"
	"github.com/taosync/taosync/internal/sample"
)

// pair is a central home and a client home registered with it, under dir.
type pair struct {
	dir             string
	central, client string
	clientID        string
	cfg             sample.Config
	clientKeys      keysReport
	centralKeys     keysReport
}

// keysReport is what `taosync keys --json` prints.
type keysReport struct {
	AgeRecipient    string `json:"age_recipient"`
	ClientKey       string `json:"client_key"`
	AgeIdentityFile string `json:"age_identity_file"`
}

// exportReport is what `taosync export data --json` prints.
type exportReport struct {
	Bundle string                    `json:"bundle"`
	Seq    uint64                    `json:"seq"`
	Full   bool                      `json:"full"`
	Counts map[string]taosync.Counts `json:"counts"`
	Chunks int                       `json:"chunks"`
	Bytes  int64                     `json:"bytes"`
}

// importLine is one line of `taosync import --json`.
type importLine struct {
	Bundle  string `json:"bundle"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
}

// applied checks that an import applied exactly the bundle folders given.
func applied(out []byte, bundles ...string) error {
	want := map[string]bool{}
	for _, b := range bundles {
		want[filepath.Base(b)] = true
	}
	n := 0
	err := jsonl.EachLine(out, func(line []byte) error {
		var l importLine
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("import output: %v: %.200s", err, line)
		}
		if want[filepath.Base(l.Bundle)] {
			if l.Outcome != "applied" {
				return fmt.Errorf("bundle %s was %s: %s", filepath.Base(l.Bundle), l.Outcome, l.Reason)
			}
			n++
		}
		return nil
	})
	if err == nil && n != len(want) {
		err = fmt.Errorf("import applied %d of the %d bundles expected: %s", n, len(want), out)
	}
	return err
}

// setup writes cfg's master data into dir, initialises a central and a
// client home, and loads the data on central; with rates, each load's rate
// is reported.
func (b *bench) setup(ctx context.Context, dir string, cfg sample.Config, rates bool) (*pair, error) {
	p := &pair{dir: dir, central: filepath.Join(dir, "central"), client: filepath.Join(dir, "client"),
		clientID: "centre-1", cfg: cfg}
	data := filepath.Join(dir, "data")
	b.logf("generating master data in %s (%d test takers, %d organisations)", data, cfg.TestTakers, cfg.Orgs)
	if _, err := sample.Write(data, cfg, sample.DemoFormat); err != nil {
		return nil, err
	}
	for _, h := range []struct{ home, role string }{{p.central, "central"}, {p.client, "client"}} {
		if _, err := b.cli.run(ctx, h.home, "init", "--role", h.role); err != nil {
			return nil, err
		}
	}
	for _, t := range taosync.Types {
		file := filepath.Join(data, string(t)+"."+sample.DemoFormat(t))
		var res struct {
			Created int64 `json:"created"`
		}
		st, err := b.cli.json(ctx, &res, p.central, "central", "load", "--type", string(t), file)
		if err != nil {
			return nil, err
		}
		b.logf("loaded %d %s in %.1fs", res.Created, t, st.Seconds())
		if rates {
			note := ""
			if t == taosync.Eligibility {
				note = fmt.Sprintf("%d test takers listed in each", cfg.TakersPerEligibility)
			}
			b.rep.extra(Figure{ID: "setup", Name: fmt.Sprintf("central load --type %s (%s rows, CSV/JSONL as in the demo)", t, count(res.Created)),
				Value: float64(res.Created) / st.Seconds(), Unit: "records/s", Note: note}.of(st))
		}
	}
	return p, nil
}

// register registers the client of benchOrg on central and imports its
// credentials, as an operator and a technician would.
func (b *bench) register(ctx context.Context, p *pair) error {
	if _, err := b.cli.json(ctx, &p.clientKeys, p.client, "keys"); err != nil {
		return err
	}
	if _, err := b.cli.json(ctx, &p.centralKeys, p.central, "keys"); err != nil {
		return err
	}
	var cr struct {
		Key        string `json:"key"`
		Secret     string `json:"secret"`
		TokenURL   string `json:"token_url"`
		RootURL    string `json:"root_url"`
		CentralKey string `json:"central_key"`
	}
	if _, err := b.cli.json(ctx, &cr, p.central, "central", "client", "add", p.clientID, "--org", benchOrg,
		"--client-key", p.clientKeys.ClientKey); err != nil {
		return err
	}
	_, err := b.cli.run(ctx, p.client, "credentials", "import", "-k", cr.Key, "-s", cr.Secret, "-tu", cr.TokenURL,
		"-u", cr.RootURL, "--central-key", cr.CentralKey)
	return err
}

// exportData runs `export data` for the pair's client into out.
func (b *bench) exportData(ctx context.Context, p *pair, out string, extra ...string) (step, exportReport, error) {
	return b.exportFor(ctx, p, p.clientID, out, extra...)
}

// exportFor runs `export data` on the pair's central for client into out.
func (b *bench) exportFor(ctx context.Context, p *pair, client, out string, extra ...string) (step, exportReport, error) {
	var res exportReport
	st, err := b.cli.json(ctx, &res, p.central, append([]string{"export", "data", "--client", client, "--out", out}, extra...)...)
	return st, res, err
}

// registerSecond initialises a second client home and registers it on
// central for benchOrg, as the client of another test centre of the
// organisation, and returns its id.
func (b *bench) registerSecond(ctx context.Context, p *pair) (string, error) {
	const id = "centre-2"
	h := filepath.Join(p.dir, "client-2")
	if _, err := b.cli.run(ctx, h, "init", "--role", "client"); err != nil {
		return "", err
	}
	var keys keysReport
	if _, err := b.cli.json(ctx, &keys, h, "keys"); err != nil {
		return "", err
	}
	_, err := b.cli.run(ctx, p.central, "central", "client", "add", id, "--org", benchOrg, "--client-key", keys.ClientKey)
	return id, err
}

// importInto runs `import` of dir on a home and checks the bundles were
// applied.
func (b *bench) importInto(ctx context.Context, home, dir string, bundles ...string) (step, error) {
	st, err := b.cli.run(ctx, home, "import", dir, "--json")
	if err != nil {
		return st, err
	}
	return st, applied(st.Stdout, bundles...)
}

// records measures targets 1 (full export), 2 (its import) and 4 (a delta
// after 1% of test takers changed), and returns the pair for the results.
func (b *bench) records(ctx context.Context) (*pair, error) {
	cfg := recordsConfig(b.o.takers)
	p, err := b.setup(ctx, filepath.Join(b.work, "records"), cfg, true)
	if err != nil {
		return nil, err
	}
	if err := b.register(ctx, p); err != nil {
		return nil, err
	}
	pristine := filepath.Join(p.dir, "client-pristine")
	if b.o.profile != "" {
		if err := copyDir(p.client, pristine); err != nil {
			return nil, err
		}
	}

	// 1. The full export.
	stick := filepath.Join(p.dir, "stick-full")
	b.logf("exporting the full snapshot")
	st, full, err := b.exportData(ctx, p, stick)
	if err != nil {
		return nil, err
	}
	if !full.Full {
		return nil, fmt.Errorf("the first export of %s is not a full snapshot", p.clientID)
	}
	m, err := readManifest(full.Bundle)
	if err != nil {
		return nil, err
	}
	n := recordCount(m, taosync.ReceiptsSection)

	// Baseline: the same records, decrypted back out of the bundle, as one
	// JSON Lines stream through zstd and age.
	records := filepath.Join(p.dir, "records.jsonl")
	w, err := createJSONL(records)
	if err != nil {
		return nil, err
	}
	var rows [][]any
	err = decryptRecords(full.Bundle, p.clientKeys.AgeIdentityFile, taosync.ReceiptsSection, func(section string, payload []byte) error {
		if _, err := w.Write(payload); err != nil {
			return err
		}
		return jsonl.EachLine(payload, func(line []byte) error {
			row, err := entityRow(section, line)
			rows = append(rows, row)
			return err
		})
	})
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, err
	}
	if int64(len(rows)) != n {
		return nil, fmt.Errorf("the bundle's chunks hold %d records, its manifest says %d", len(rows), n)
	}
	jsonlSize := fileSize(records)
	base, err := shell(ctx, `zstd -3 -T1 -q -c -- "$1" | age -r "$2" > /dev/null`, records, p.clientKeys.AgeRecipient)
	if err != nil {
		return nil, err
	}
	zstdAge := &Baseline{Name: "zstd -3 -T1 | age -r, same records as JSON Lines", Value: float64(n) / base.Seconds(), Unit: "records/s", Seconds: base.Seconds(), CPUSeconds: base.CPU.Seconds()}
	// The organisation's first full export reads its scope from the
	// database, which the baseline does not: its target is a rate, and
	// its ratio to the baseline is shown as information.
	b.rep.add(Figure{ID: "1", Name: fmt.Sprintf("export data, full snapshot, the organisation's first: %s records (%s test takers and their eligibilities)",
		count(n), count(full.Counts[string(taosync.TestTaker)].Created)),
		Value: float64(n) / st.Seconds(), Unit: "records/s", Min: ptr(250_000),
		Baseline: zstdAge,
		Note:     fmt.Sprintf("%s of JSON Lines; bundle %s bytes in %d chunks; the ratio is information", mibs(jsonlSize), count(full.Bytes), full.Chunks)}.of(st))
	b.rep.extra(Figure{ID: "1", Name: "peak memory, export data full", Value: st.RSSMiB(), Unit: "MiB"}.of(st))

	// 1, for the client of another test centre of the organisation: central
	// sends the snapshot the first export kept, encrypted for it, as it does
	// for every further full export of the same snapshot. That is the
	// baseline's work on the same bytes, so its target is the baseline's
	// speed.
	second, err := b.registerSecond(ctx, p)
	if err != nil {
		return nil, err
	}
	b.logf("exporting the full snapshot for %s", second)
	st2, full2, err := b.exportFor(ctx, p, second, filepath.Join(p.dir, "stick-full-2"))
	if err != nil {
		return nil, err
	}
	m2, err := readManifest(full2.Bundle)
	if err != nil {
		return nil, err
	}
	if n2 := recordCount(m2, taosync.ReceiptsSection); !full2.Full || n2 != n {
		return nil, fmt.Errorf("the export for %s holds %d records (full: %v), the first %d", second, n2, full2.Full, n)
	}
	b.rep.add(Figure{ID: "1", Name: fmt.Sprintf("export data, full snapshot, a further one of the same snapshot, for a second client of the organisation: %s records (the snapshot kept by the first export, encrypted for it)", count(n)),
		Value: float64(n) / st2.Seconds(), Unit: "records/s", RatioMin: ptr(1),
		Baseline: zstdAge,
		Note:     fmt.Sprintf("bundle %s bytes in %d chunks", count(full2.Bytes), full2.Chunks)}.of(st2))

	// 2. Its import into the fresh client.
	b.logf("importing the full snapshot")
	imp, err := b.importInto(ctx, p.client, stick, full.Bundle)
	if err != nil {
		return nil, err
	}
	sb, err := sqliteInserts(ctx, filepath.Join(p.dir, "baseline-entities.db"), entitiesInsert, rows)
	if err != nil {
		return nil, err
	}
	rows = nil
	debug.FreeOSMemory()
	b.rep.add(Figure{ID: "2", Name: fmt.Sprintf("import data, full snapshot into a fresh client: %s records, end to end", count(n)),
		Value: float64(n) / imp.Seconds(), Unit: "records/s", Min: ptr(100_000), RatioMin: ptr(0.6),
		Baseline: &Baseline{Name: "SQLite: prepared INSERTs of the same rows, one transaction, same pragmas", Value: float64(n) / sb.Seconds(),
			Unit: "records/s", Seconds: sb.Seconds(), CPUSeconds: sb.CPU.Seconds()}}.of(imp))
	b.rep.extra(Figure{ID: "2", Name: "peak memory, import data full", Value: imp.RSSMiB(), Unit: "MiB"}.of(imp))

	// 4. A delta after 1% of the test takers changed.
	changes := filepath.Join(p.dir, "test-taker-changes.jsonl")
	changed, err := writeChanges(changes, cfg)
	if err != nil {
		return nil, err
	}
	ld, err := b.cli.run(ctx, p.central, "central", "load", "--type", string(taosync.TestTaker), changes)
	if err != nil {
		return nil, err
	}
	b.logf("changed %d test takers in %.1fs", changed, ld.Seconds())
	deltaStick := filepath.Join(p.dir, "stick-delta")
	dst, delta, err := b.exportData(ctx, p, deltaStick)
	if err != nil {
		return nil, err
	}
	if delta.Full {
		return nil, fmt.Errorf("the export after the changes is a full snapshot, not a delta")
	}
	updated := delta.Counts[string(taosync.TestTaker)].Updated
	dimp, err := b.importInto(ctx, p.client, deltaStick, delta.Bundle)
	if err != nil {
		return nil, err
	}
	b.rep.add(Figure{ID: "4", Name: fmt.Sprintf("delta after 1%% of test takers changed (%s in scope): bundle size", count(updated)),
		Value: float64(delta.Bytes), Unit: "bytes", RatioMax: ptr(0.03),
		Baseline: &Baseline{Name: "the full snapshot's bundle", Value: float64(full.Bytes), Unit: "bytes"}})
	// 10%: a durable commit of updates scattered over the test takers'
	// pages takes about 55 ms by itself on the reference machine, 5% of
	// the full import.
	b.rep.add(Figure{ID: "4", Name: "delta after 1% of test takers changed: import time",
		Value: dimp.Seconds(), Unit: "s", RatioMax: ptr(0.10),
		Baseline: &Baseline{Name: "the full snapshot's import", Value: imp.Seconds(), Unit: "s", Seconds: imp.Seconds(), CPUSeconds: imp.CPU.Seconds()}}.of(dimp))
	b.rep.extra(Figure{ID: "4", Name: fmt.Sprintf("export data, delta of %s changed test takers", count(updated)),
		Value: dst.Seconds(), Unit: "s"}.of(dst))

	if b.o.profile != "" {
		if err := b.profileDataExport(ctx, p, "records-export"); err != nil {
			return nil, err
		}
		if err := b.profileDataImport(ctx, pristine, stick, "records-import"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// results measures target 6: executions handed in on the client, exported,
// and imported on central.
func (b *bench) results(ctx context.Context, p *pair) error {
	els, err := scopeEligibilities(p.cfg, benchOrg)
	if err != nil {
		return err
	}
	file := filepath.Join(p.dir, "executions.jsonl")
	meanXML, err := writeExecutions(file, "", els, b.o.executions, 3)
	if err != nil {
		return err
	}
	var added struct {
		Added int64 `json:"added"`
	}
	st, err := b.cli.json(ctx, &added, p.client, "results", "add", file)
	if err != nil {
		return err
	}
	if added.Added != int64(b.o.executions) {
		return fmt.Errorf("results add took in %d executions, want %d", added.Added, b.o.executions)
	}
	b.logf("results add: %d executions in %.1fs", added.Added, st.Seconds())
	b.rep.extra(Figure{ID: "setup", Name: fmt.Sprintf("results add (%s executions, assessmentResult of %s bytes on average)", count(added.Added), count(int64(meanXML))),
		Value: float64(added.Added) / st.Seconds(), Unit: "executions/s"}.of(st))

	stick := filepath.Join(p.dir, "stick-results")
	var exp struct {
		Bundle     string `json:"bundle"`
		BundleID   string `json:"bundle_id"`
		Executions int64  `json:"executions"`
		Bytes      int64  `json:"bytes"`
	}
	est, err := b.cli.json(ctx, &exp, p.client, "export", "results", "--out", stick)
	if err != nil {
		return err
	}
	if exp.Executions != added.Added {
		return fmt.Errorf("export results sent %d executions, want %d", exp.Executions, added.Added)
	}
	n := float64(exp.Executions)

	// Baselines: the bundle's executions, decrypted with central's key, as
	// one JSON Lines stream through zstd and age; and as rows of SQLite.
	records := filepath.Join(p.dir, "results.jsonl")
	w, err := createJSONL(records)
	if err != nil {
		return err
	}
	var rows [][]any
	now := time.Now().UTC().Format(time.RFC3339Nano)
	err = decryptRecords(exp.Bundle, p.centralKeys.AgeIdentityFile, "", func(_ string, payload []byte) error {
		if _, err := w.Write(payload); err != nil {
			return err
		}
		return jsonl.EachLine(payload, func(line []byte) error {
			row, err := executionRow(line, p.clientID, exp.BundleID, now)
			rows = append(rows, row)
			return err
		})
	})
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return err
	}
	base, err := shell(ctx, `zstd -3 -T1 -q -c -- "$1" | age -r "$2" > /dev/null`, records, p.centralKeys.AgeRecipient)
	if err != nil {
		return err
	}
	b.rep.add(Figure{ID: "6", Name: fmt.Sprintf("export results on the client: %s executions, assessmentResult of %s bytes on average", count(exp.Executions), count(int64(meanXML))),
		Value: n / est.Seconds(), Unit: "executions/s", Min: ptr(20_000),
		Baseline: &Baseline{Name: "zstd -3 -T1 | age -r, same executions as JSON Lines", Value: n / base.Seconds(), Unit: "executions/s", Seconds: base.Seconds(), CPUSeconds: base.CPU.Seconds()},
		Note:     fmt.Sprintf("%s of JSON Lines; bundle %s bytes", mibs(fileSize(records)), count(exp.Bytes))}.of(est))

	centralCopy := filepath.Join(p.dir, "central-before-results")
	if b.o.profile != "" {
		if err := copyDir(p.central, centralCopy); err != nil {
			return err
		}
	}
	ist, err := b.importInto(ctx, p.central, stick, exp.Bundle)
	if err != nil {
		return err
	}
	sb, err := sqliteInserts(ctx, filepath.Join(p.dir, "baseline-executions.db"), executionsInsert, rows)
	if err != nil {
		return err
	}
	rows = nil
	debug.FreeOSMemory()
	b.rep.add(Figure{ID: "6", Name: fmt.Sprintf("import results on central: %s executions, receipts written back", count(exp.Executions)),
		Value: n / ist.Seconds(), Unit: "executions/s", Min: ptr(20_000),
		Baseline: &Baseline{Name: "SQLite: prepared INSERTs of the same rows, one transaction, same pragmas", Value: n / sb.Seconds(),
			Unit: "executions/s", Seconds: sb.Seconds(), CPUSeconds: sb.CPU.Seconds()}}.of(ist))

	if b.o.profile != "" {
		if err := b.profileResultsExport(ctx, p, "results-export"); err != nil {
			return err
		}
		if err := b.profileResultsImport(ctx, centralCopy, stick, exp.Bundle, "results-import"); err != nil {
			return err
		}
	}
	return nil
}

// pkgCase is one measured package case.
type pkgCase struct {
	nominal         int64 // the size asked for
	size            int64 // bytes of the published ZIP files
	count           int
	export, imp     step
	baseExp, baseIm step
	bundleBytes     int64
}

// packages measures one QTI package case: packages of size bytes in all,
// published on a central of little master data, exported for the client
// and imported.
func (b *bench) packages(ctx context.Context, size int64) (*pkgCase, error) {
	dir := filepath.Join(b.work, fmt.Sprintf("packages-%dMiB", size/mib))
	if !b.o.keep {
		defer os.RemoveAll(dir)
	}
	cfg := packageConfig()
	p, err := b.setup(ctx, dir, cfg, false)
	if err != nil {
		return nil, err
	}
	dels, err := scopeDeliveries(cfg, benchOrg)
	if err != nil {
		return nil, err
	}
	dels = dels[:min(4, len(dels))]
	pc := &pkgCase{nominal: size, count: len(dels)}
	pkgDir := filepath.Join(dir, "packages")
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		return nil, err
	}
	var zips []string
	var publish step
	for i, d := range dels {
		zip := filepath.Join(pkgDir, d+".zip")
		n, err := writePackage(zip, uint64(i+1), size/int64(len(dels)))
		if err != nil {
			return nil, err
		}
		st, err := b.cli.run(ctx, p.central, "central", "publish", "--delivery", d, zip)
		if err != nil {
			return nil, err
		}
		publish = publish.plus(st)
		pc.size += n
		zips = append(zips, zip)
	}
	b.logf("published %d packages, %s, in %.1fs", len(zips), mibs(pc.size), publish.Seconds())
	if err := b.register(ctx, p); err != nil {
		return nil, err
	}
	pristine := filepath.Join(dir, "client-pristine")
	if b.o.profile != "" {
		if err := copyDir(p.client, pristine); err != nil {
			return nil, err
		}
	}
	stick := filepath.Join(dir, "stick")
	st, res, err := b.exportData(ctx, p, stick)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(res.Bundle)
	if err != nil {
		return nil, err
	}
	if got := blobBytes(m); got != pc.size {
		return nil, fmt.Errorf("the bundle carries %d bytes of packages, %d were published", got, pc.size)
	}
	pc.export, pc.bundleBytes = st, res.Bytes
	args := append([]string{p.clientKeys.AgeRecipient}, zips...)
	if pc.baseExp, err = shell(ctx, `zstd -T0 -3 -q -c -- "${@:2}" | age -r "$1" > /dev/null`, args...); err != nil {
		return nil, err
	}
	sealed := filepath.Join(dir, "packages.zst.age")
	if _, err := shell(ctx, `out=$1; shift; zstd -T0 -3 -q -c -- "${@:2}" | age -r "$1" > "$out"`, append([]string{sealed}, args...)...); err != nil {
		return nil, err
	}
	if pc.imp, err = b.importInto(ctx, p.client, stick, res.Bundle); err != nil {
		return nil, err
	}
	if pc.baseIm, err = shell(ctx, `age -d -i "$1" "$2" | zstd -d -q -c > /dev/null`, p.clientKeys.AgeIdentityFile, sealed); err != nil {
		return nil, err
	}
	os.Remove(sealed)
	b.logf("packages %s: export %.1fs (baseline %.1fs), import %.1fs (baseline %.1fs)", mibs(pc.size),
		pc.export.Seconds(), pc.baseExp.Seconds(), pc.imp.Seconds(), pc.baseIm.Seconds())
	b.rep.extra(Figure{ID: "setup", Name: fmt.Sprintf("central publish (%d packages, %s)", len(zips), mibs(pc.size)),
		Value: float64(pc.size) / mib / publish.Seconds(), Unit: "MiB/s"}.of(publish))
	if b.o.profile != "" {
		name := fmt.Sprintf("packages-%dMiB-", size/mib)
		if err := b.profileDataExport(ctx, p, name+"export"); err != nil {
			return nil, err
		}
		if err := b.profileDataImport(ctx, pristine, stick, name+"import"); err != nil {
			return nil, err
		}
	}
	return pc, nil
}

// packageFigures reports targets 3 (speed of the largest case) and 5 (peak
// memory of every case, and its growth from the smallest to the largest).
func (b *bench) packageFigures(cases []*pkgCase) {
	if len(cases) == 0 {
		return
	}
	big, small := cases[len(cases)-1], cases[0]
	// Half the pipelines' speed: taosync writes 1 GiB durably where they
	// write to /dev/null, and checks what the format requires (the
	// payloads' hashes, the packages' hashes) on two cores.
	mbs := func(bytes int64, s step) float64 { return float64(bytes) / mib / s.Seconds() }
	label := func(c *pkgCase) string {
		return fmt.Sprintf("%s (%s bytes) in %d packages", mibs(c.nominal), count(c.size), c.count)
	}
	b.rep.add(Figure{ID: "3", Name: "export data with QTI packages: " + label(big),
		Value: mbs(big.size, big.export), Unit: "MiB/s", RatioMin: ptr(0.5),
		Baseline: &Baseline{Name: "zstd -T0 -3 | age -r, same ZIP bytes", Value: mbs(big.size, big.baseExp), Unit: "MiB/s", Seconds: big.baseExp.Seconds(), CPUSeconds: big.baseExp.CPU.Seconds()},
		Note:     fmt.Sprintf("bundle %s bytes", count(big.bundleBytes))}.of(big.export))
	b.rep.add(Figure{ID: "3", Name: "import data with QTI packages: " + label(big),
		Value: mbs(big.size, big.imp), Unit: "MiB/s", RatioMin: ptr(0.5),
		Baseline: &Baseline{Name: "age -d | zstd -d, same bytes", Value: mbs(big.size, big.baseIm), Unit: "MiB/s", Seconds: big.baseIm.Seconds(), CPUSeconds: big.baseIm.CPU.Seconds()}}.of(big.imp))
	for _, c := range cases[:len(cases)-1] {
		b.rep.extra(Figure{ID: "3", Name: "export data with QTI packages: " + label(c), Value: mbs(c.size, c.export), Unit: "MiB/s",
			Baseline: &Baseline{Name: "zstd -T0 -3 | age -r", Value: mbs(c.size, c.baseExp), Unit: "MiB/s", Seconds: c.baseExp.Seconds(), CPUSeconds: c.baseExp.CPU.Seconds()}}.of(c.export))
		b.rep.extra(Figure{ID: "3", Name: "import data with QTI packages: " + label(c), Value: mbs(c.size, c.imp), Unit: "MiB/s",
			Baseline: &Baseline{Name: "age -d | zstd -d", Value: mbs(c.size, c.baseIm), Unit: "MiB/s", Seconds: c.baseIm.Seconds(), CPUSeconds: c.baseIm.CPU.Seconds()}}.of(c.imp))
	}
	for _, dir := range []string{"export", "import"} {
		pick := func(c *pkgCase) step {
			if dir == "export" {
				return c.export
			}
			return c.imp
		}
		for _, c := range cases {
			f := Figure{ID: "5", Name: fmt.Sprintf("peak memory (max RSS), %s data with QTI packages: %s", dir, label(c)),
				Value: pick(c).RSSMiB(), Unit: "MiB", Max: ptr(150)}.of(pick(c))
			if c == big && len(cases) > 1 {
				// "Memory does not grow with bundle size", read as: a bundle
				// four times larger takes at most 20% more memory.
				f.Baseline = &Baseline{Name: "the same at " + mibs(small.nominal), Value: pick(small).RSSMiB(), Unit: "MiB"}
				f.RatioMax = ptr(1.2)
			}
			b.rep.add(f)
		}
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// mibs formats a byte count in MiB or GiB.
func mibs(n int64) string {
	if n >= gib && n%(gib/4) == 0 {
		return fmt.Sprintf("%g GiB", float64(n)/gib)
	}
	if n >= 10*mib {
		return fmt.Sprintf("%.0f MiB", float64(n)/mib)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/mib)
}

// copyDir copies a home (closed: no process has it open) to dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
