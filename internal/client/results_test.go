package client_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestAddResults: executions naming what the client holds are taken in; a
// file with one naming a test centre it does not hold is refused whole, at
// that line, and takes nothing in.
func TestAddResults(t *testing.T) {
	f := testfixture.New(t)
	f.Start(nil)
	cl := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	jsonl := func(centers ...string) *bytes.Buffer {
		var b bytes.Buffer
		for i, c := range centers {
			if err := json.NewEncoder(&b).Encode(testfixture.Execution(string(rune('a'+i)), c, "d1", "t1")); err != nil {
				t.Fatal(err)
			}
		}
		return &b
	}
	_, err := cl.AddResults(f.Ctx, "bad.jsonl", jsonl("a1", "b1"))
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl") || !strings.Contains(err.Error(), `"b1"`) {
		t.Fatalf("an execution at b1: %v, want a refusal naming the file and b1", err)
	}
	if lines, err := cl.Outbox(f.Ctx); err != nil || len(lines) != 0 {
		t.Fatalf("outbox after the refusal: %+v, %v; want empty", lines, err)
	}
	res, err := cl.AddResults(f.Ctx, "good.jsonl", jsonl("a1", "a2"))
	if err != nil || res.Added != 2 {
		t.Fatalf("executions at a1 and a2: %+v, %v; want 2 added", res, err)
	}
}

// TestOutboxShownState: a queued execution not on its way says why (in
// progress, or terminated and kept by results.sendStatuses); the JSON form
// keeps the stored state.
func TestOutboxShownState(t *testing.T) {
	f := testfixture.New(t)
	cl := f.Register("ca", "A")
	var xs testfixture.Executions
	for _, s := range []string{"finished", "active", "paused", "terminated"} {
		x := testfixture.Execution("x-"+s, "a1", "d1", "t1")
		x.Status = s
		xs = append(xs, x)
	}
	// Added without the file reader, which checks the references
	// against data this client has not pulled.
	if _, err := cl.Local.AddExecutions(f.Ctx, "test.jsonl", &xs); err != nil {
		t.Fatal(err)
	}
	lines, err := cl.Outbox(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"x-finished": "queued", "x-active": "in progress", "x-paused": "in progress", "x-terminated": "kept (terminated)"}
	for _, l := range lines {
		if l.Shown != want[l.ID] {
			t.Errorf("%s: shown %q, want %q", l.ID, l.Shown, want[l.ID])
		}
		if b, err := json.Marshal(l); err != nil || !bytes.Contains(b, []byte(`"state":"queued"`)) || bytes.Contains(b, []byte("Shown")) {
			t.Errorf("%s as JSON: %s, %v; want the stored state alone", l.ID, b, err)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d lines, want %d", len(lines), len(want))
	}
	// Sent when the setting says so: then it is on its way.
	if _, err := config.Set(f.Ctx, cl.Home.DB, "results.sendStatuses", "finished,terminated"); err != nil {
		t.Fatal(err)
	}
	if lines, err = cl.Outbox(f.Ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if l.ID == "x-terminated" && l.Shown != "queued" {
			t.Errorf("terminated, sent by the setting: shown %q, want queued", l.Shown)
		}
	}
}
