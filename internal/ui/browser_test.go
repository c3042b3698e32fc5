package ui_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/internal/version"
)

var update = flag.Bool("update", false, "write the screenshots into docs/img")

// chromium starts Debian's chromium, headless, with a profile of its own,
// and returns a browser context bounded in time. A missing chromium fails
// the test: the view is tested as a person uses it, or not at all.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: apt-get install chromium (.ci/run installs it)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	ctx, stop := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(stop)
	ctx, closeTab := chromedp.NewContext(ctx)
	t.Cleanup(closeTab)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// centres sets up, by real syncs over HTTP, a centre in each state: ready,
// behind (a data bundle not applied), never seen, results missing (a
// result bundle lost on the way), and too old (refused by the gate).
func centres(t *testing.T, f *testfixture.Fixture) {
	t.Helper()
	pkg, err := os.Open(filepath.Join("..", "..", "testdata", "qti", "WebDeveloperTest1.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	snap, err := f.C.Store.Chunks.Add(pkg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"d1", "d2"} {
		if _, err := f.C.Store.Publish(f.Ctx, d, store.PackageRef{Snapshot: *snap, Test: "WebDeveloperTest1"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := config.Set(f.Ctx, f.C.Home.DB, "clients.minVersion", "1.4.0"); err != nil {
		t.Fatal(err)
	}
	sync := func(id string) {
		t.Helper()
		if _, err := f.Syncer(id).Data(f.Ctx, nil, false); err != nil {
			t.Fatalf("sync %s: %v", id, err)
		}
	}
	f.Register("a-ready", "A")
	sync("a-ready")

	f.Register("a-behind", "A")
	sync("a-behind")
	if _, err := f.C.ExportData(f.Ctx, "a-behind", t.TempDir(), central.ExportOptions{Full: true, Transport: "folder"}); err != nil {
		t.Fatal(err)
	}

	f.Register("b-never", "B")

	gap := f.Register("a-gap", "A")
	sync("a-gap")
	stick := [2]string{t.TempDir(), t.TempDir()}
	for i, dir := range stick {
		testfixture.AddResults(t, gap, "x"+string(rune('1'+i)), 1)
		if _, _, err := gap.ExportResults(f.Ctx, dir, false, "folder"); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := f.C.Home.ImportOptions(f.Ctx, "folder", f.Log)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.C.ImportResults(f.Ctx, stick[1], opts, stick[1]); err != nil {
		t.Fatal(err)
	}

	f.Register("a-old", "A")
	// One process plays central and the centre: both are 1.3.0 for this
	// sync, which the gate measures against the minimum.
	version.Current = "1.3.0"
	t.Cleanup(func() { version.Current = version.Devel })
	if _, err := f.Syncer("a-old").Data(f.Ctx, nil, false); err == nil || !strings.Contains(err.Error(), "older than 1.4.0") {
		t.Fatalf("a 1.3.0 client synced: %v", err)
	}
	version.Current = version.Devel
}

// TestBrowser: an operator, in a real browser, logs in, sees the centres
// in each state, opens one, revokes its credential with the confirmation
// (and its next sync is refused), rotates its secret with the
// confirmation (the old secret is refused, the one shown once works), sees
// the deliveries, and logs out. Each
// page is photographed; with -update the photographs go to docs/img.
func TestBrowser(t *testing.T) {
	ctx := chromium(t)
	f := setup(t, false)
	centres(t, f)
	shots := t.TempDir()
	if *update {
		shots = filepath.Join("..", "..", "docs", "img")
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, "ui-"+name+".png"), png, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	location := func() string {
		t.Helper()
		url, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return url
	}

	// Log in: the view sends a stranger to the login page first.
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if url := location(); !strings.HasSuffix(url, "/ui/login") {
		t.Errorf("a stranger at /ui/ is at %s, want the login page", url)
	}
	err = chromedp.Do(ctx,
		shot("login"),
		chromedp.SendKeys(chromedp.ID("name"), operator),
		chromedp.SendKeys(chromedp.ID("password"), secret),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("centres")),
		shot("centres"),
	)
	if err != nil {
		t.Fatal(err)
	}
	for state, want := range map[string]string{
		central.StateReady: "1", central.StateBehind: "2", central.StateNeverSeen: "1", central.StateUpgrade: "1", central.StateNotReady: "0",
	} {
		if got := text("#count-" + state); got != want {
			t.Errorf("count of %s: %s, want %s", state, got, want)
		}
	}
	for centre, want := range map[string]string{
		"a-ready": "ready", "a-behind": "1 behind", "b-never": "never seen", "a-gap": "1 bundle(s)", "a-old": "below 1.4.0",
	} {
		if row := text(`tr[data-centre="` + centre + `"]`); !strings.Contains(row, want) {
			t.Errorf("the row of %s says %q, want %q in it", centre, row, want)
		}
	}
	// What needs attention first: the old version leads, the ready one
	// comes last.
	first, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#centres tbody tr:first-child"), "data-centre"))
	if err != nil {
		t.Fatal(err)
	}
	last, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#centres tbody tr:last-child"), "data-centre"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Value != "a-old" || last.Value != "a-ready" {
		t.Errorf("rows from %s to %s, want a-old first and a-ready last", first.Value, last.Value)
	}

	// On a phone the page fits the screen's width; the table scrolls
	// inside it.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), shot("centres-phone")); err != nil {
		t.Fatal(err)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	if err != nil {
		t.Fatal(err)
	}
	if width > 390 {
		t.Errorf("on a phone the centres page is %d pixels wide, wider than the screen's 390", width)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateReset()); err != nil {
		t.Fatal(err)
	}

	// A centre, then revoke its credential, confirming.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr[data-centre="a-ready"] a`)),
		chromedp.WaitVisible(chromedp.ID("state")),
		shot("centre"),
		chromedp.Click(chromedp.ID("revoke")),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		shot("revoke"),
		chromedp.SendKeys(chromedp.ID("confirm"), "a-ready"),
		chromedp.Click(chromedp.ID("confirm-revoke")),
		chromedp.WaitVisible(chromedp.ID("credential")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text("#credential"); !strings.HasPrefix(got, "revoked") {
		t.Errorf("after revoking, the credential is %q", got)
	}
	if got := text("#last-used"); !strings.Contains(got, "UTC") {
		t.Errorf("a-ready's credential last used %q", got)
	}
	if got := text("#ready"); got != "yes" {
		t.Errorf("a-ready's report says ready %q", got)
	}
	if _, err := f.Syncer("a-ready").Data(f.Ctx, nil, false); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("the revoked centre's next sync: %v, want refused", err)
	}

	// Rotate its secret, confirming: the new one is shown once, the old
	// one is refused, and the centre syncs again with the new one.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("rotate")),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		shot("rotate"),
		chromedp.SendKeys(chromedp.ID("confirm"), "a-ready"),
		chromedp.Click(chromedp.ID("confirm-rotate")),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	if err != nil {
		t.Fatal(err)
	}
	rotated := text("#secret")
	if rotated == "" || rotated == f.Secrets["a-ready"] {
		t.Fatalf("the rotated page shows %q", rotated)
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("gone"))); err != nil {
		t.Fatalf("the rotated page, reloaded: %v", err)
	}
	if _, err := f.Syncer("a-ready").Data(f.Ctx, nil, false); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("a sync with the old secret after the rotation: %v, want refused", err)
	}
	if err := store.SetMeta(f.Ctx, f.Clients["a-ready"].Home.DB, "oauth_secret", rotated); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Syncer("a-ready").Data(f.Ctx, nil, false); err != nil {
		t.Errorf("a sync with the new secret: %v", err)
	}

	// The deliveries, then log out.
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.URL+"/ui/deliveries"),
		chromedp.WaitVisible(chromedp.ID("deliveries")),
		shot("deliveries"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if row := text(`#deliveries`); !strings.Contains(row, "WebDeveloperTest1") {
		t.Errorf("deliveries: %q", row)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.Navigate(f.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if url := location(); !strings.HasSuffix(url, "/ui/login") {
		t.Errorf("after logging out /ui/ is at %s, want the login page", url)
	}
}
