package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/store"
)

// TestStatusFlagsAnInvalidPackage: a package with a broken item that a
// central of an older version published (planted here through the store,
// past publish's checks) reaches the client intact, and the client's
// status flags it, with the item, the line and the reason, and is not
// ready for exam day.
func TestStatusFlagsAnInvalidPackage(t *testing.T) {
	dir := t.TempDir()
	c, k := filepath.Join(dir, "central"), filepath.Join(dir, "client")
	must := func(args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	must("--home", c, "init", "--role", "central")
	for _, l := range []struct{ typ, csv string }{
		{"test-center", "id,label,org_id\ntc1,Aarau,orgA\n"},
		{"test-taker", "id,login\ntt1,anna\n"},
		{"delivery", "id,label\nd1,Web developer\nd2,Spare\n"},
		{"eligibility", "id,test_center,delivery,test_takers,proctored\ne1,tc1,d1,tt1,true\ne2,tc1,d2,tt1,true\n"},
	} {
		must("--home", c, "central", "load", "--type", l.typ, write(l.typ+".csv", l.csv))
	}
	must("--home", c, "central", "publish", "--delivery", "d2", filepath.Join("..", "..", "testdata", "qti", "WebDeveloperTest1.zip"))
	plantPackage(t, c, "d1", brokenWebDeveloper(t))

	must("--home", k, "init", "--role", "client")
	var keys struct {
		ClientKey string `json:"client_key"`
	}
	if err := json.Unmarshal([]byte(must("--home", k, "keys", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	var cr map[string]string
	if err := json.Unmarshal([]byte(must("--home", c, "central", "client", "add", "k1", "--org", "orgA", "--client-key", keys.ClientKey, "--json")), &cr); err != nil {
		t.Fatal(err)
	}
	must("--home", k, "credentials", "import", "-k", cr["key"], "-s", cr["secret"], "-tu", cr["token_url"], "-u", cr["root_url"], "--central-key", cr["central_key"])
	usb := filepath.Join(dir, "usb")
	must("--home", c, "export", "data", "--client", "k1", "--out", usb)
	must("--home", k, "import", usb)

	type delivery struct{ ID, Label, Package, Error string }
	var report struct {
		Deliveries []delivery `json:"deliveries"`
		Ready      bool       `json:"ready"`
		Problems   []string   `json:"problems"`
	}
	if err := json.Unmarshal([]byte(must("--home", k, "status", "--json")), &report); err != nil {
		t.Fatal(err)
	}
	const reason = `qti: bad assessmentItem: "question5.xml": line 22: element <p> closed by </div>`
	want := []delivery{
		{ID: "d1", Label: "Web developer", Package: "invalid", Error: reason},
		{ID: "d2", Label: "Spare", Package: "ok"},
	}
	if len(report.Deliveries) != len(want) || report.Deliveries[0] != want[0] || report.Deliveries[1] != want[1] {
		t.Errorf("deliveries %+v\nwant %+v", report.Deliveries, want)
	}
	if report.Ready {
		t.Error("ready for exam day with an invalid package")
	}
	if p := "delivery d1: package invalid: " + reason; len(report.Problems) != 1 || report.Problems[0] != p {
		t.Errorf("problems %q, want [%q]", report.Problems, p)
	}
	// The text wraps the problem at 80 columns, under its dash.
	if out := must("--home", k, "status"); !strings.Contains(strings.Join(strings.Fields(out), " ")+" ", " - delivery d1: package invalid: "+reason+" ") ||
		!strings.Contains(out, "\n  - delivery d1: package invalid: ") {
		t.Errorf("status does not list the problem:\n%s", out)
	}

	// The report a sync sends checks that each package's pieces are all
	// there, and reads none whole: its items are status's to check. A
	// piece gone is said.
	cl, err := client.Open(context.Background(), k, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rep, err := cl.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := packageStates(rep.Packages); got != "d1 ok, d2 ok" {
		t.Errorf("the report's packages: %s, want d1 ok, d2 ok", got)
	}
	ref, err := store.DeliveryPackage(context.Background(), cl.Home.DB, "d2")
	if err != nil {
		t.Fatal(err)
	}
	piece := ref.Snapshot.Chunks[0].Hash
	if err := os.Remove(filepath.Join(k, "store", "chunks", piece[:2], piece)); err != nil {
		t.Fatal(err)
	}
	if rep, err = cl.Report(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := packageStates(rep.Packages); got != "d1 ok, d2 corrupt" || rep.Ready {
		t.Errorf("the report with a piece of d2 gone: %s, ready %v; want d1 ok, d2 corrupt, not ready", got, rep.Ready)
	}
}

func packageStates(ps []taosync.PackageState) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Delivery+" "+p.State)
	}
	return strings.Join(out, ", ")
}

// brokenWebDeveloper is WebDeveloperTest1 with a mismatched tag in the
// middle of its fifth item.
func brokenWebDeveloper(t *testing.T) []byte {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join("..", "..", "testdata", "qti", "WebDeveloperTest1.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == "question5.xml" {
			b = bytes.Replace(b, []byte("<b>Question 5</b></p>"), []byte("<b>Question 5</b></div>"), 1)
		}
		fw, err := w.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(b)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// plantPackage stores pkg as delivery's package on the central home the
// way publish does, but without checking it.
func plantPackage(t *testing.T, home, delivery string, pkg []byte) {
	t.Helper()
	ctx := context.Background()
	cc, err := central.Open(ctx, home, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	snap, err := cc.Store.Chunks.Add(bytes.NewReader(pkg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Store.Publish(ctx, delivery, store.PackageRef{Snapshot: *snap, Test: "template_test1.xml"}); err != nil {
		t.Fatal(err)
	}
}
