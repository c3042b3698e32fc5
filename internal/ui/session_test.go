package ui_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/ui"
)

// TestSessionTableFull: a login into a full session table first lets the
// expired sessions go and, if all are live, the oldest one: every other
// operator keeps theirs, and the one who logs in gets in.
func TestSessionTableFull(t *testing.T) {
	f, u := setupOn(t, "sqlite", false, nil, nil)
	hash, err := f.C.Store.OperatorHash(f.Ctx, operator)
	if err != nil {
		t.Fatal(err)
	}
	// Session i expires i minutes after the first: s0000 is the oldest.
	name := func(i int) string { return fmt.Sprintf("s%04d", i) }
	start := time.Now().Add(time.Hour)
	for i := range ui.MaxSessions {
		if err := u.PutSession(name(i), operator, hash, start.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	opens := func(id string) bool {
		t.Helper()
		resp, _ := newBrowser(t, f).do(http.MethodGet, "/ui/", nil, http.Header{"Cookie": {"taosync_session=" + id}})
		return resp.StatusCode == http.StatusOK
	}
	if !opens(name(0)) {
		t.Fatal("a session put in the table opens nothing: the test proves nothing")
	}
	login := func(what string) {
		t.Helper()
		b := newBrowser(t, f)
		if status := b.login(operator, secret); status != http.StatusSeeOther {
			t.Fatalf("%s: login status %d, want 303", what, status)
		}
		if resp, _ := b.do(http.MethodGet, "/ui/", nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: the new session: status %d, want 200", what, resp.StatusCode)
		}
		if n := u.Sessions(); n != ui.MaxSessions {
			t.Fatalf("%s: %d sessions held, want %d", what, n, ui.MaxSessions)
		}
	}

	// All live: the oldest goes, the next oldest and the newest stay.
	login("a full table of live sessions")
	if opens(name(0)) {
		t.Errorf("the oldest session still opens the view after a login into a full table")
	}
	for _, i := range []int{1, ui.MaxSessions - 1} {
		if !opens(name(i)) {
			t.Errorf("session %s was let go, not the oldest", name(i))
		}
	}

	// One expired: it goes, and the oldest live one stays.
	if err := u.PutSession(name(7), operator, hash, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	login("a full table with an expired session")
	if !opens(name(1)) {
		t.Errorf("the oldest live session was let go though an expired one could go")
	}
	if opens(name(7)) {
		t.Errorf("the expired session opens the view")
	}
}
