package importer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestInvalidExecutionRefused: a result bundle correctly signed by client ca
// (organisation A) is refused whole on central when one of its executions
// names what is outside A's scope or is invalid on its own: the good
// execution beside it is not stored either, no receipt is written, and the
// refusal, naming the execution and the field, is in the history.
func TestInvalidExecutionRefused(t *testing.T) {
	tests := []struct {
		name   string
		change func(x *taosync.Execution)
		want   error
		reason string
	}{
		{"another organisation's test centre", func(x *taosync.Execution) { x.TestCenter = "b1" }, taosync.ErrOutOfScope,
			`execution "x-2": test_center: test-center "b1" is not in the scope of client ca (organisation A)`},
		{"another organisation's test taker", func(x *taosync.Execution) { x.TestTaker = "t4" }, taosync.ErrOutOfScope,
			`execution "x-2": test_taker: test-taker "t4" is not in the scope of client ca (organisation A)`},
		{"another organisation's centre, taker and delivery", func(x *taosync.Execution) { x.TestCenter, x.TestTaker, x.Delivery = "b1", "t4", "d3" },
			taosync.ErrOutOfScope, `execution "x-2": delivery: delivery "d3" is not in the scope of client ca (organisation A)`},
		{"unknown delivery", func(x *taosync.Execution) { x.Delivery = "d9" }, taosync.ErrOutOfScope,
			`execution "x-2": delivery: unknown delivery "d9"`},
		{"unknown test centre", func(x *taosync.Execution) { x.TestCenter = "nowhere" }, taosync.ErrOutOfScope,
			`execution "x-2": test_center: unknown test-center "nowhere"`},
		// t3 is in A's scope (eligible for d2 at a2), d1 too, but no
		// eligibility of A names t3 for d1 (B's does).
		{"test taker not eligible for the delivery", func(x *taosync.Execution) { x.TestTaker = "t3" }, taosync.ErrOutOfScope,
			`execution "x-2": test_taker: test-taker "t3" is not eligible for delivery "d1" in organisation A`},
		{"bogus status", func(x *taosync.Execution) { x.Status = "bogus" }, taosync.ErrInvalidExecution,
			`execution "x-2": status: must be one of active, paused, finished, terminated, not "bogus"`},
		{"started_at yesterday", func(x *taosync.Execution) { x.StartedAt = "yesterday" }, taosync.ErrInvalidExecution,
			`execution "x-2": started_at: not an RFC 3339 time (like 2025-06-12T09:30:00Z): "yesterday"`},
		{"finished before started", func(x *taosync.Execution) { x.FinishedAt = "2025-06-12T09:00:00Z" }, taosync.ErrInvalidExecution,
			`execution "x-2": finished_at: 2025-06-12T09:00:00Z is before started_at 2025-06-12T09:30:00Z`},
		{"active with finished_at", func(x *taosync.Execution) { x.Status = taosync.StatusActive }, taosync.ErrInvalidExecution,
			`execution "x-2": finished_at: must be empty while status is active`},
		{"result not XML", func(x *taosync.Execution) { x.ResultXML = "all correct, 10 of 10" }, taosync.ErrInvalidExecution,
			`execution "x-2": result_xml: text before the root element`},
		{"result of a bad item", func(x *taosync.Execution) {
			x.ResultXML = strings.Replace(x.ResultXML, "/></assessmentResult>", `/><itemResult identifier="i1" datestamp="d" sessionStatus="done"/></assessmentResult>`, 1)
		}, taosync.ErrInvalidExecution,
			`execution "x-2": result_xml: itemResult "i1": sessionStatus "done" is not one of final, initial, pendingResponseProcessing, pendingSubmission`},
		{"finished without a result", func(x *taosync.Execution) { x.ResultXML = "" }, taosync.ErrInvalidExecution,
			`execution "x-2": result_xml: required when status is finished`},
		{"id with a control character", func(x *taosync.Execution) { x.ID = "x-2\n" }, taosync.ErrInvalidExecution,
			`execution "x-2\n": id: contains a control character (U+000A)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := testfixture.New(t)
			a := f.Register("ca", "A")
			f.Register("cb", "B")
			bad := outgoing("x-2")
			tt.change(&bad.Execution)
			bad.ContentHash = bad.Execution.ContentHash()
			dir := signResults(t, a, "ca", nil, 1, outgoing("x-1"), bad, outgoing("x-3"))
			checkRefusedFor(t, f, dir, tt.want, tt.reason)
		})
	}
}

// checkRefusedFor is checkRefusedOnCentral of a bundle refused for one of
// its executions, with the reason given.
func checkRefusedFor(t *testing.T, f *testfixture.Fixture, dir string, want error, reason string) {
	t.Helper()
	l := checkRefusedOnCentral(t, f, dir, want)
	var ee *taosync.ExecutionError
	if !errors.As(l.Err(), &ee) {
		t.Fatalf("error %v is not an *taosync.ExecutionError", l.Err())
	}
	if want := "bundle " + l.Bundle[strings.LastIndex(l.Bundle, "/")+1:] + ": " + reason; l.Reason != want {
		t.Errorf("reason\n %s\nwant\n %s", l.Reason, want)
	}
}

// TestOutOfScopeDeepInChunk: central checks the scopes of a chunk's
// executions together; a bundle of 400 executions whose 300th is out of
// scope (and the 350th too) is refused, on both engines, for the 300th,
// with the reason one by one would give, and nothing of it is stored.
func TestOutOfScopeDeepInChunk(t *testing.T) {
	testfixture.OnEngines(t, func(t *testing.T, engine string) {
		for _, tt := range []struct {
			name          string
			center, taker string
			reason        string
		}{
			{"unknown test taker", "a1", "nobody", `execution "x-300": test_taker: unknown test-taker "nobody"`},
			{"another organisation's test centre", "b1", "t1",
				`execution "x-300": test_center: test-center "b1" is not in the scope of client ca (organisation A)`},
			{"test taker not eligible for the delivery", "a1", "t3",
				`execution "x-300": test_taker: test-taker "t3" is not eligible for delivery "d1" in organisation A`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				f := testfixture.NewOn(t, engine)
				a := f.Register("ca", "A")
				f.Register("cb", "B")
				var xs []taosync.OutgoingExecution
				for i := 1; i <= 400; i++ {
					x := outgoing(fmt.Sprintf("x-%d", i))
					switch i {
					case 300:
						x.TestCenter, x.TestTaker = tt.center, tt.taker
					case 350:
						x.TestCenter = "b1"
					}
					x.ContentHash = x.Execution.ContentHash()
					xs = append(xs, x)
				}
				checkRefusedFor(t, f, signResults(t, a, "ca", nil, 1, xs...), taosync.ErrOutOfScope, tt.reason)
			})
		}
	})
}

// TestExecutionIdOfAnotherOrganisation: an execution id is its
// organisation's. A client of A sending an id that B's client uses, first or
// after, neither has B's result set aside as a conflict nor blocks B's later
// revisions of it; and it cannot claim B's execution (and so its receipt)
// by sending B's content, which names B's test centre.
func TestExecutionIdOfAnotherOrganisation(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	b := f.Register("cb", "B")
	at := func(id string, rev int64, center, taker, started string) taosync.OutgoingExecution {
		x := outgoing(id)
		x.TestCenter, x.TestTaker, x.StartedAt, x.Revision = center, taker, started, rev
		x.ContentHash = x.Execution.ContentHash()
		return x
	}
	apply := func(dir, who string, wantReceived, wantConflicts int64) {
		t.Helper()
		lines, written := importOnCentral(t, f.C, dir)
		l := lineOfKind(t, lines, "results")
		if l.Outcome != importer.Applied || written[l.BundleID] == "" {
			t.Fatalf("%s: %+v, receipts %v", who, l, written)
		}
		if got := l.Counts[taosync.ResultsSection].Created; got != wantReceived {
			t.Errorf("%s: %d received, want %d", who, got, wantReceived)
		}
		if got := l.Counts["conflicts"].Created; got != wantConflicts {
			t.Errorf("%s: %d conflicts, want %d", who, got, wantConflicts)
		}
	}

	// A claims x-1 first, at its own centre.
	apply(signResults(t, a, "ca", nil, 1, at("x-1", 1, "a1", "t1", "2025-06-12T09:30:00Z")), "A's x-1", 1, 0)
	// B's own x-1 is received, not a conflict; so is its correction.
	apply(signResults(t, b, "cb", nil, 1, at("x-1", 1, "b1", "t4", "2025-06-12T09:30:00Z")), "B's x-1", 1, 0)
	apply(signResults(t, b, "cb", nil, 2, at("x-1", 2, "b1", "t4", "2025-06-12T09:31:00Z")), "B's x-1 revised", 1, 0)
	// A sending x-1 again, after B, changes nothing for B either.
	apply(signResults(t, a, "ca", nil, 2, at("x-1", 2, "a1", "t1", "2025-06-12T09:32:00Z")), "A's x-1 revised", 1, 0)
	// Within an organisation, the same id from another client is still a
	// conflict, kept aside.
	a2 := f.Register("ca2", "A")
	apply(signResults(t, a2, "ca2", nil, 1, at("x-1", 1, "a1", "t2", "2025-06-12T09:30:00Z")), "A2's x-1", 0, 1)

	// A sending B's x-1 as B sent it, to claim it: refused, nothing stored.
	before := executions(t, f.C)
	lines, written := importOnCentral(t, f.C, signResults(t, a, "ca", nil, 3, at("x-1", 2, "b1", "t4", "2025-06-12T09:31:00Z")))
	if l := lineOfKind(t, lines, "results"); l.Outcome != importer.Refused || !errors.Is(l.Err(), taosync.ErrOutOfScope) || len(written) != 0 {
		t.Fatalf("A claiming B's x-1: %+v, receipts %v", l, written)
	}
	if after := executions(t, f.C); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused claim changed central's executions:\n got %+v\nwant %+v", after, before)
	}

	var states []string
	for _, x := range executions(t, f.C) {
		states = append(states, x.ID+" "+x.Client+" "+x.State+" "+x.StartedAt[11:16])
	}
	sort.Strings(states)
	want := []string{
		"x-1 ca received 09:30", "x-1 ca received 09:32", "x-1 ca2 conflict 09:30",
		"x-1 cb received 09:30", "x-1 cb received 09:31",
	}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("central holds\n %q\nwant\n %q", states, want)
	}
	// B's receipts say received, each time.
	err := f.C.Store.Receipts(context.Background(), "cb", 1, 10, func(r taosync.Receipt) error {
		if r.Status != taosync.ReceiptReceived {
			t.Errorf("B's receipt %+v, want received", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOutOfScopeOverHTTP: the HTTP road refuses the same bundle the same
// way: the commit answers 422 with the reason, and nothing is stored.
func TestOutOfScopeOverHTTP(t *testing.T) {
	f := testfixture.New(t)
	f.Start(nil)
	a := f.Register("ca", "A")
	f.Register("cb", "B")
	planted := outgoing("x-2")
	planted.TestCenter = "b1"
	planted.ContentHash = planted.Execution.ContentHash()
	dir := signResults(t, a, "ca", nil, 1, outgoing("x-1"), planted)
	names := bundlesIn(t, dir, "results-")
	if len(names) != 1 {
		t.Fatalf("bundles %v", names)
	}
	tok := f.TokenFor("ca")
	for _, st := range f.Upload(tok, names[0], filepath.Join(dir, names[0])) {
		if st >= 300 {
			t.Fatalf("upload: %d", st)
		}
	}
	st, _, body := f.Commit(tok, names[0])
	want := `execution \"x-2\": test_center: test-center \"b1\" is not in the scope of client ca (organisation A)`
	if st != http.StatusUnprocessableEntity || !strings.Contains(string(body), want) {
		t.Fatalf("commit: %d %s; want 422 with %s", st, body, want)
	}
	if xs := executions(t, f.C); len(xs) != 0 {
		t.Errorf("central stored %+v from a refused commit", xs)
	}
}

// TestBundleIdOfAnotherClient: a client that sends a bundle under another
// client's bundle id (the manifest on a stick is plain text) first does
// not have the genuine bundle taken for one already received: it is
// applied, and its results stored.
func TestBundleIdOfAnotherClient(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	b := f.Register("cb", "B")
	id := bundle.NewID()
	genuine := signResultsID(t, a, "ca", nil, 1, id, outgoing("x-1"), outgoing("x-2"))
	own := outgoing("y-1")
	own.TestCenter, own.TestTaker = "b1", "t4"
	own.ContentHash = own.Execution.ContentHash()
	lines, _ := importOnCentral(t, f.C, signResultsID(t, b, "cb", nil, 1, id, own))
	if l := lineOfKind(t, lines, "results"); l.Outcome != importer.Applied {
		t.Fatalf("B's bundle: %+v", l)
	}
	lines, written := importOnCentral(t, f.C, genuine)
	l := lineOfKind(t, lines, "results")
	if l.Outcome != importer.Applied || written[l.BundleID] == "" {
		t.Fatalf("A's genuine bundle after B's of the same id: %+v, receipts %v", l, written)
	}
	if got := l.Counts[taosync.ResultsSection].Created; got != 2 {
		t.Errorf("A's bundle: %d received, want 2", got)
	}
}
