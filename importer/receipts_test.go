package importer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// forged is an taosync.ResultExport over a fixed list of executions, so
// that a client's key can sign a result bundle whose content no outbox
// holds: executions the client does not have, a content hash that does not
// match, another client's name.
type forged struct {
	seq uint64
	xs  []taosync.OutgoingExecution
}

func (f *forged) Seq() uint64                              { return f.seq }
func (f *forged) Count() int64                             { return int64(len(f.xs)) }
func (f *forged) Prev(ctx context.Context) (string, error) { return "", nil }
func (f *forged) Each(ctx context.Context, fn func(taosync.OutgoingExecution) error) error {
	for _, x := range f.xs {
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}
func (f *forged) Commit(ctx context.Context, hash string, h taosync.HistoryEntry, publish func() error) error {
	return publish()
}

// outgoing is execution id of a client of org A (as testfixture.AddResults
// hands them in) at revision 1, with its true content hash.
func outgoing(id string) taosync.OutgoingExecution {
	e := testfixture.Execution(id, "a1", "d1", "t1")
	return taosync.OutgoingExecution{Execution: e, Revision: 1, ContentHash: e.ContentHash()}
}

// signResults writes into a new folder a result bundle signed with cl's key,
// claiming to come from client claim, addressed to the central cl trusts
// (or to to, if set), and returns the folder holding it.
func signResults(t *testing.T, cl *client.Client, claim string, to *manifest.Party, seq uint64, xs ...taosync.OutgoingExecution) string {
	t.Helper()
	return signResultsID(t, cl, claim, to, seq, bundle.NewID(), xs...)
}

// signResultsID is signResults with the bundle id given.
func signResultsID(t *testing.T, cl *client.Client, claim string, to *manifest.Party, seq uint64, id string, xs ...taosync.OutgoingExecution) string {
	t.Helper()
	ctx := context.Background()
	signer, err := cl.Home.Signer()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cl.Home.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	party, err := cl.Home.Central(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if to != nil {
		party = *to
	}
	out := t.TempDir()
	_, err = exporter.Results(ctx, &forged{seq: seq, xs: xs}, out, id, exporter.ResultOptions{
		Client: claim, Signer: signer, AgeRecipient: keys.Age, Central: party, Expiry: 24 * time.Hour, Now: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// importOnCentral imports the result bundles in dir on c, writing receipts
// into dir.
func importOnCentral(t *testing.T, c *central.Central, dir string) ([]importer.ResultLine, map[string]string) {
	t.Helper()
	ctx := context.Background()
	opts, err := c.Home.ImportOptions(ctx, "folder", nil)
	if err != nil {
		t.Fatal(err)
	}
	lines, written, err := c.ImportResults(ctx, dir, opts, dir)
	if err != nil {
		t.Fatal(err)
	}
	return lines, written
}

// importOnClient imports the bundles in dir on a client.
func importOnClient(t *testing.T, cl *client.Client, dir string) []importer.Line {
	t.Helper()
	ctx := context.Background()
	opts, err := cl.Options(ctx, "folder")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := cl.Import(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// lineOfKind returns the only line about a bundle of the kind (by the
// bundle folder's name, which also names refused bundles).
func lineOfKind[L interface{ Base() importer.Line }](t *testing.T, lines []L, kind string) importer.Line {
	t.Helper()
	var found []importer.Line
	for _, x := range lines {
		l := x.Base()
		if strings.HasPrefix(filepath.Base(l.Bundle), kind+"-") {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d lines about %s bundles, want 1: %+v", len(found), kind, lines)
	}
	return found[0]
}

func outbox(t *testing.T, cl *client.Client) []store.OutboxEntry {
	t.Helper()
	entries, err := cl.Local.Outbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func executions(t *testing.T, c *central.Central) []store.ExecutionEntry {
	t.Helper()
	xs, err := c.Store.Executions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

// bundlesIn lists the bundle folders in dir whose names start with prefix.
func bundlesIn(t *testing.T, dir, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// TestReceiptForUnknownExecution: a receipt bundle naming an execution this
// client never had is refused whole: the receipt it holds for an execution
// the client does have acknowledges nothing either.
func TestReceiptForUnknownExecution(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	testfixture.AddResults(t, a, "x", 1)
	testfixture.ExportResults(t, a) // x-1 is sent; central never gets it this way
	before := outbox(t, a)
	if len(before) != 1 || before[0].ID != "x-1" || before[0].State != store.Sent {
		t.Fatalf("outbox before: %+v", before)
	}

	// Central receives, as from ca, x-1 and an execution ca never had, and
	// writes the receipts beside the bundle.
	dir := signResults(t, a, "ca", nil, 7, outgoing("x-1"), outgoing("ghost"))
	lines, written := importOnCentral(t, f.C, dir)
	l := lineOfKind(t, lines, "results")
	if l.Outcome != importer.Applied || written[l.BundleID] == "" {
		t.Fatalf("central: %+v, receipts %v", lines, written)
	}

	got := importOnClient(t, a, dir)
	r := lineOfKind(t, got, "receipts")
	if r.Outcome != importer.Refused || !errors.Is(r.Err(), taosync.ErrUnknownExecution) {
		t.Fatalf("receipts naming ghost: outcome %s, error %v; want refused with ErrUnknownExecution", r.Outcome, r.Err())
	}
	if !strings.Contains(r.Reason, "ghost") {
		t.Errorf("reason %q does not name the unknown execution ghost", r.Reason)
	}
	if res := lineOfKind(t, got, "results"); res.Outcome != importer.NotForUs {
		t.Errorf("the client's own result bundle: %s, want %s", res.Outcome, importer.NotForUs)
	}
	if after := outbox(t, a); !reflect.DeepEqual(after, before) {
		t.Errorf("outbox changed by a refused receipt bundle:\n got %+v\nwant %+v", after, before)
	}
	state, err := a.Local.ClientState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if state.ReceiptSeq != 0 {
		t.Errorf("receipt batch %d recorded as held from a refused bundle", state.ReceiptSeq)
	}

	// The control: receipts for x-1 alone acknowledge it.
	dir2 := signResults(t, a, "ca", nil, 8, outgoing("x-1"))
	importOnCentral(t, f.C, dir2)
	if r := lineOfKind(t, importOnClient(t, a, dir2), "receipts"); r.Outcome != importer.Applied {
		t.Fatalf("receipts for x-1: %+v", r)
	}
	if after := outbox(t, a); len(after) != 1 || after[0].State != store.Acknowledged {
		t.Fatalf("x-1 after its receipt: %+v", after)
	}
}

// TestReceiptsFromAnotherCentral: a receipt bundle signed by a central the
// client does not trust is refused, and acknowledges nothing.
func TestReceiptsFromAnotherCentral(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	testfixture.AddResults(t, a, "x", 1)
	testfixture.ExportResults(t, a)
	before := outbox(t, a)

	// Another central registers ca's keys and answers a result bundle
	// addressed to it.
	f2 := testfixture.New(t)
	keys, err := a.Home.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = f2.C.Store.AddClient(ctx, store.RegisteredClient{ID: "ca", Org: "A", AgeRecipient: keys.Age, SignKey: keys.Sign.String(),
		KeyID: keys.Sign.IDString()}, password.HashSecret(password.NewSecret()))
	if err != nil {
		t.Fatal(err)
	}
	other, err := f2.C.Home.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	to := manifest.Party{Role: "central", KeyID: other.Sign.IDString(), AgeRecipient: other.Age}
	dir := signResults(t, a, "ca", &to, 1, outgoing("x-1"))
	lines, written := importOnCentral(t, f2.C, dir)
	if l := lineOfKind(t, lines, "results"); l.Outcome != importer.Applied || written[l.BundleID] == "" {
		t.Fatalf("other central: %+v, receipts %v", lines, written)
	}
	// Central f, which the client trusts, does not take it.
	if l := lineOfKind(t, importOnCentralNoReceipts(t, f.C, dir), "results"); l.Outcome != importer.NotForUs {
		t.Errorf("a result bundle for another central on this one: %+v", l)
	}

	got := importOnClient(t, a, dir)
	r := lineOfKind(t, got, "receipts")
	if r.Outcome != importer.Refused || !errors.Is(r.Err(), bundle.ErrUnknownSigner) {
		t.Fatalf("receipts of another central: outcome %s, error %v; want refused with ErrUnknownSigner", r.Outcome, r.Err())
	}
	if after := outbox(t, a); !reflect.DeepEqual(after, before) {
		t.Errorf("outbox changed by another central's receipts:\n got %+v\nwant %+v", after, before)
	}
}

func importOnCentralNoReceipts(t *testing.T, c *central.Central, dir string) []importer.ResultLine {
	t.Helper()
	ctx := context.Background()
	opts, err := c.Home.ImportOptions(ctx, "folder", nil)
	if err != nil {
		t.Fatal(err)
	}
	lines, written, err := c.ImportResults(ctx, dir, opts, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 0 {
		t.Errorf("receipts written without a folder for them: %v", written)
	}
	return lines
}

// checkRefusedOnCentral imports dir on central and wants the result bundle
// refused with want, nothing stored for anyone, no receipt written, and the
// refusal in the history. It returns the line about the bundle.
func checkRefusedOnCentral(t *testing.T, f *testfixture.Fixture, dir string, want error) importer.Line {
	t.Helper()
	lines, written := importOnCentral(t, f.C, dir)
	l := lineOfKind(t, lines, "results")
	if l.Outcome != importer.Refused || !errors.Is(l.Err(), want) {
		t.Fatalf("outcome %s, error %v; want refused with %v", l.Outcome, l.Err(), want)
	}
	if len(written) != 0 {
		t.Errorf("receipts written for a refused bundle: %v", written)
	}
	if got := bundlesIn(t, dir, "receipts-"); len(got) != 0 {
		t.Errorf("receipt bundles in the folder: %v", got)
	}
	if xs := executions(t, f.C); len(xs) != 0 {
		t.Errorf("central stored %d executions from a refused bundle: %+v", len(xs), xs)
	}
	status, err := f.C.Store.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if s.Bundles != 0 || s.ReceiptSeq != 0 {
			t.Errorf("client %s: %d result bundles, receipt batch %d after a refused bundle", s.ID, s.Bundles, s.ReceiptSeq)
		}
	}
	hist, err := store.History(context.Background(), f.C.Home.DB, store.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	refusals := 0
	for _, h := range hist {
		switch {
		case h.Outcome == taosync.OutcomeRefused:
			refusals++
		case h.Direction == "in" || h.Kind == string(manifest.KindReceipts):
			t.Errorf("history row %+v after a refused bundle", h)
		}
	}
	if refusals != 1 {
		t.Errorf("%d refusals in central's history, want 1", refusals)
	}
	return l
}

// TestResultBundleClaimingAnotherClient: a result bundle signed by client
// A's key but claiming to come from client B is refused on central.
func TestResultBundleClaimingAnotherClient(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	f.Register("cb", "A")
	dir := signResults(t, a, "cb", nil, 1, outgoing("x-1"))
	checkRefusedOnCentral(t, f, dir, bundle.ErrBadSignature)
}

// TestTamperedResultBundle: a result bundle with a byte of a chunk changed
// is refused on central.
func TestTamperedResultBundle(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	testfixture.AddResults(t, a, "x", 3)
	b := testfixture.ExportResults(t, a)
	raw, err := os.ReadFile(filepath.Join(b, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	sec := m.Section(taosync.ResultsSection)
	if sec == nil || len(sec.Chunks) == 0 {
		t.Fatalf("no chunk in %s", b)
	}
	chunk := filepath.Join(b, sec.Chunks[0].Hash)
	data, err := os.ReadFile(chunk)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(chunk, data, 0o644); err != nil {
		t.Fatal(err)
	}
	checkRefusedOnCentral(t, f, filepath.Dir(b), bundle.ErrChunkHash)
}

// TestResultBundleWithBadContentHash: a properly signed result bundle whose
// execution does not match the content hash it claims is refused whole: the
// good execution beside it is not stored either.
func TestResultBundleWithBadContentHash(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	bad := outgoing("x-2")
	bad.ResultXML = strings.Replace(bad.ResultXML, "<context/>", `<context sourcedId="someone-else"/>`, 1)
	if bad.Execution.ContentHash() == bad.ContentHash {
		t.Fatal("the change did not change the content")
	}
	dir := signResults(t, a, "ca", nil, 1, outgoing("x-1"), bad)
	checkRefusedOnCentral(t, f, dir, importer.ErrBadExecution)
}

// TestConflictKeptAside: the same execution id with other content from
// another client is stored aside as a conflict, never merged into or
// dropped for the first; the same content from it is a duplicate, stored
// once.
func TestConflictKeptAside(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	b := f.Register("cb", "A")
	testfixture.AddResults(t, a, "x", 2)                     // x-1, x-2 by t1
	testfixture.AddResultsAt(t, b, "x", 1, "a1", "d1", "t2") // x-1 by t2: other content
	linesA, _ := importOnCentral(t, f.C, filepath.Dir(testfixture.ExportResults(t, a)))
	if l := lineOfKind(t, linesA, "results"); l.Outcome != importer.Applied {
		t.Fatalf("A's results: %+v", l)
	}
	dirB := filepath.Dir(testfixture.ExportResults(t, b))
	lines, written := importOnCentral(t, f.C, dirB)
	l := lineOfKind(t, lines, "results")
	if l.Outcome != importer.Applied || written[l.BundleID] == "" {
		t.Fatalf("B's results: %+v, receipts %v", l, written)
	}
	if got := l.Counts["conflicts"].Created; got != 1 {
		t.Errorf("B's bundle reports %d conflicts, want 1 (counts %v)", got, l.Counts)
	}
	var states []string
	for _, x := range executions(t, f.C) {
		states = append(states, x.ID+" "+x.Client+" "+x.State+" "+x.TestTaker)
	}
	want := []string{"x-1 ca received t1", "x-1 cb conflict t2", "x-2 ca received t1"}
	sort.Strings(states)
	if !reflect.DeepEqual(states, want) {
		t.Errorf("central holds %q, want %q", states, want)
	}
	status, err := f.C.Store.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		want := map[string][2]int64{"ca": {2, 0}, "cb": {0, 1}}[s.ID]
		if s.Received != want[0] || s.Conflicts != want[1] {
			t.Errorf("%s: %d received, %d conflicts; want %d, %d", s.ID, s.Received, s.Conflicts, want[0], want[1])
		}
	}

	// The same content as A's x-2, sent by B: a duplicate, stored once.
	dup := signResults(t, b, "cb", nil, 9, outgoing("x-2"))
	lines, _ = importOnCentral(t, f.C, dup)
	if l := lineOfKind(t, lines, "results"); l.Outcome != importer.Applied || l.Counts[taosync.ResultsSection].Created != 0 {
		t.Errorf("B sending A's x-2 again: %+v", l)
	}
	if n := len(executions(t, f.C)); n != 3 {
		t.Errorf("central holds %d execution revisions after a duplicate, want 3", n)
	}
}

// TestResultDocumentsStored: central keeps every result document byte for
// byte, compressed (executions.result_zst).
func TestResultDocumentsStored(t *testing.T) {
	f := testfixture.New(t)
	a := f.Register("ca", "A")
	xs := []taosync.OutgoingExecution{outgoing("x-1"), outgoing("x-2"), outgoing("x-3")}
	xs[1].ResultXML = strings.Replace(xs[1].ResultXML, "<context/>", "<context sourcedId=\"é&amp;\u2028漢😀\"/>\t\r\n", 1)
	// An active execution, without a document yet.
	xs[2].Status, xs[2].FinishedAt, xs[2].ResultXML = taosync.StatusActive, "", ""
	for i := range xs {
		xs[i].ContentHash = xs[i].Execution.ContentHash()
	}
	lines, _ := importOnCentral(t, f.C, signResults(t, a, "ca", nil, 1, xs...))
	if l := lineOfKind(t, lines, "results"); l.Outcome != importer.Applied {
		t.Fatalf("results: %+v", l)
	}
	// Stored compressed, and read back as sent.
	docs := map[[2]string]string{}
	err := (&store.CentralDB{DB: f.C.Home.DB}).EachExecution(t.Context(), true, func(e store.ExecutionEntry) error {
		docs[[2]string{e.ID, e.ContentHash}] = *e.ResultXML
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		var legacy string
		var stored []byte
		err := f.C.Home.DB.QueryRow("SELECT result_xml, result_zst FROM executions WHERE id = ? AND content_hash = ?",
			x.ID, x.ContentHash).Scan(&legacy, &stored)
		if err != nil || legacy != "" || len(stored) == 0 {
			t.Errorf("%s: stored %d compressed bytes and %q (%v), want them compressed only", x.ID, len(stored), legacy, err)
		}
		if doc := docs[[2]string{x.ID, x.ContentHash}]; doc != x.ResultXML {
			t.Errorf("%s: read back %q, want %q", x.ID, doc, x.ResultXML)
		}
	}
}

// forgedReceipts is a taosync.ReceiptSource over a fixed list of
// receipts, so that central's key can sign receipts of any shape.
type forgedReceipts struct {
	c  *central.Central
	rs []taosync.Receipt
}

func (f forgedReceipts) Recipient(ctx context.Context, client string) (taosync.Recipient, error) {
	return f.c.Store.Recipient(ctx, client)
}

func (f forgedReceipts) Receipts(ctx context.Context, client string, from, to uint64, fn func(taosync.Receipt) error) error {
	for _, r := range f.rs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// TestMalformedReceiptRefused: a receipt, even signed by central, names
// an execution revision or a result bundle of no execution, never both nor
// neither; any other shape refuses the receipt bundle, and no batch is
// held from it.
func TestMalformedReceiptRefused(t *testing.T) {
	f := testfixture.New(t)
	id := bundle.NewID()
	x := outgoing("x-1")
	for i, tc := range []struct {
		name string
		r    taosync.Receipt
		ok   bool
	}{
		{"a bundle", taosync.Receipt{Batch: 1, Bundle: id, Status: taosync.ReceiptReceived}, true},
		{"no batch", taosync.Receipt{Bundle: id, Status: taosync.ReceiptReceived}, false},
		{"neither", taosync.Receipt{Batch: 1, Status: taosync.ReceiptReceived}, false},
		{"both", taosync.Receipt{Batch: 1, ID: x.ID, Revision: 1, ContentHash: x.ContentHash, Bundle: id, Status: taosync.ReceiptReceived}, false},
		{"a bundle with a revision", taosync.Receipt{Batch: 1, Revision: 1, Bundle: id, Status: taosync.ReceiptReceived}, false},
		{"a bundle with a content hash", taosync.Receipt{Batch: 1, ContentHash: x.ContentHash, Bundle: id, Status: taosync.ReceiptReceived}, false},
		{"not a bundle id", taosync.Receipt{Batch: 1, Bundle: strings.ToUpper(id), Status: taosync.ReceiptReceived}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			name := "c" + strconv.Itoa(i)
			a := f.Register(name, "A")
			signer, err := f.C.Home.Signer()
			if err != nil {
				t.Fatal(err)
			}
			keys, err := f.C.Home.PublicKeys()
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			_, err = exporter.Receipts(ctx, forgedReceipts{f.C, []taosync.Receipt{tc.r}}, dir, exporter.ReceiptOptions{
				Client: name, Batch: 1, Expiry: time.Hour, Signer: signer, AgeRecipient: keys.Age, Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			l := lineOfKind(t, importOnClient(t, a, dir), "receipts")
			state, err := a.Local.ClientState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.ok && (l.Outcome != importer.Applied || state.ReceiptSeq != 1):
				t.Fatalf("%+v: %s (%s), batch held up to %d; want applied, held up to 1", tc.r, l.Outcome, l.Reason, state.ReceiptSeq)
			case !tc.ok && (l.Outcome != importer.Refused || !errors.Is(l.Err(), bundle.ErrMalformed) || state.ReceiptSeq != 0):
				t.Fatalf("%+v: %s (%s), batch held up to %d; want refused as malformed, none held", tc.r, l.Outcome, l.Reason, state.ReceiptSeq)
			}
		})
	}
}
