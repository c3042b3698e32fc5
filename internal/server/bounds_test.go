package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// extremes are JSON values a hostile client sends for a number or a
// string: the edges of the integer types, past them, negative, not
// integers, of another type, huge.
var extremes = []string{
	"0", "1", "9223372036854775807", "9223372036854775808", "18446744073709551615",
	"18446744073709551616", "-1", "-9223372036854775808", "1e30", "1.5",
	`"1"`, `""`, "null", "true", "[]", "{}", `"` + strings.Repeat("f", 32<<10) + `"`,
	`"` + strings.Repeat("0", 32) + `"`, `["test-taker","test-taker"]`, `["` + strings.Repeat("x", 1000) + `"]`,
}

// outOfRange: the extremes that are numbers no client can hold.
var outOfRange = map[string]bool{"9223372036854775807": true, "9223372036854775808": true, "18446744073709551615": true}

// centralState is what central holds of a client: its row, its result
// bundles and executions, and the history of its bundles.
type centralState struct {
	Client     store.RegisteredClient
	Bundles    int64
	Received   int64
	Refusals   int
	Executions map[string]int
}

func stateOf(f *testfixture.Fixture, id string) centralState {
	f.T.Helper()
	var s centralState
	cl, err := f.C.Store.GetClient(f.Ctx, f.C.Store.DB, id)
	if err != nil {
		f.T.Fatal(err)
	}
	s.Client = cl
	status, err := f.C.Store.Status(f.Ctx)
	if err != nil {
		f.T.Fatal(err)
	}
	for _, st := range status {
		if st.ID == id {
			s.Bundles, s.Received = st.Bundles, st.Received
		}
	}
	history, err := store.History(f.Ctx, f.C.Home.DB, store.HistoryFilter{})
	if err != nil {
		f.T.Fatal(err)
	}
	for _, h := range history {
		if h.Outcome == taosync.OutcomeRefused {
			s.Refusals++
		}
	}
	s.Executions = f.ExecutionsOf()
	return s
}

// forge writes, into a new folder of dir, the result bundle in src again
// with another id and the client state state, signed with the client's
// key: what a client that lies about itself sends.
func forge(t *testing.T, cl *client.Client, src, dir string, state json.RawMessage) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(src, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	m.ID, m.State = bundle.NewID(), state
	signer, err := cl.Home.Signer()
	if err != nil {
		t.Fatal(err)
	}
	raw, sig, err := manifest.Sign(m, signer)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, bundle.Name(m))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range testfixture.BundleFiles(t, src) {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case manifest.FileName:
			b = raw
		case manifest.SigName:
			b = sig
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestHostileNumbers: extreme values in every field of every API request
// and of a result bundle's signed state, by HTTP and by stick, get a 4xx
// or a refusal, never a 5xx; a refused one changes nothing on central;
// a number central never made is refused; and the client syncs as before
// afterwards.
func TestHostileNumbers(t *testing.T) { testfixture.OnEngines(t, testHostileNumbers) }

func testHostileNumbers(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	a := f.Register("ca", "A")
	sync := f.Syncer("ca")
	if _, err := sync.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 2)
	if _, err := sync.Results(f.Ctx); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "y", 1)
	src := testfixture.ExportResults(t, a)
	tok := f.TokenFor("ca")
	ref := f.Pull(tok)
	api := api.Prefix

	// check sends one hostile request: never a 5xx, nor a long refusal; a
	// number out of range is refused; a refusal changes nothing but, where
	// recorded (a bundle, a number out of range), adds a refusal to the
	// history.
	check := func(name string, refused, recorded bool, send func() (int, string)) {
		t.Helper()
		before := stateOf(f, "ca")
		st, answer := send()
		switch {
		case st >= 500:
			t.Errorf("%s: %d %.200s", name, st, answer)
		case st >= 400 && len(answer) > 1000:
			t.Errorf("%s: answered %d bytes: %.200s", name, len(answer), answer)
		case refused && st < 400:
			t.Errorf("%s: %d %.200s, want it refused", name, st, answer)
		}
		if st < 400 {
			return
		}
		after := stateOf(f, "ca")
		if recorded {
			before.Refusals++
		}
		if !reflect.DeepEqual(after, before) {
			t.Errorf("%s: refused (%d %.200s), but central changed:\n%+v\nwas\n%+v", name, st, answer, after, before)
		}
	}
	request := func(method, path, body string) func() (int, string) {
		return func() (int, string) {
			st, b := f.API(method, path, tok, strings.NewReader(body), "application/json")
			return st, string(b)
		}
	}

	for _, v := range extremes {
		for _, field := range []string{"data_seq", "receipt_seq", "data_bundle", "types", "full"} {
			body := fmt.Sprintf(`{%q:%s}`, field, v)
			if field == "data_seq" {
				// With the bundle id a client holding that seq names.
				body = fmt.Sprintf(`{"data_seq":%s,"data_bundle":%q}`, v, ref.ID)
			}
			number := outOfRange[v] && (field == "data_seq" || field == "receipt_seq")
			check("pull "+field+"="+clipped(v), number, number, request("POST", api+"/data/pull", body))
		}
		after := strings.Trim(v, `"`)
		check("receipts after="+clipped(v), outOfRange[v], outOfRange[v], request("GET", api+"/receipts?after="+url.QueryEscape(after), ""))
		for _, form := range []url.Values{{"grant_type": {after}}, {"grant_type": {"client_credentials"}, "client_id": {after}, "client_secret": {after}}} {
			check("token "+clipped(v), true, false, func() (int, string) {
				st, _, m := f.PostToken(form.Encode(), "application/x-www-form-urlencoded", "", "")
				return st, fmt.Sprint(m)
			})
		}
		check("download "+clipped(v), true, false, request("GET", api+"/bundles/"+ref.Bundle+"-"+url.PathEscape(after)+"/"+manifest.FileName, ""))
		check("upload "+clipped(v), false, false, request("PUT", api+"/results/results-ca-"+url.PathEscape(after)+"-00000000/"+manifest.FileName, v))
		check("commit "+clipped(v), true, false, request("POST", api+"/results/results-ca-"+url.PathEscape(after)+"-00000000/commit", ""))
	}
	for _, rng := range []string{"bytes=0-18446744073709551615", "bytes=-9223372036854775808", "bytes=9223372036854775807-", "bytes=-18446744073709551616", "bytes=-0"} {
		check("download Range "+rng, false, false, func() (int, string) {
			req, _ := http.NewRequestWithContext(f.Ctx, "GET", f.URL+api+"/bundles/"+ref.Bundle+"/"+manifest.FileName, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Range", rng)
			st, _, _ := f.Do(req)
			return st, ""
		})
	}

	// The signed state of a result bundle, each field in turn, by HTTP and
	// by stick.
	var base map[string]json.RawMessage
	raw, err := os.ReadFile(filepath.Join(src, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.State, &base); err != nil {
		t.Fatal(err)
	}
	stick := t.TempDir()
	for _, field := range []string{"data_seq", "data_bundle", "receipt_seq", "taosync_version", "free_disk_bytes", "clock"} {
		for i, v := range extremes {
			state := map[string]json.RawMessage{}
			for k, x := range base {
				state[k] = x
			}
			state[field] = json.RawMessage(v)
			raw, err := json.Marshal(state)
			if err != nil {
				t.Fatal(err)
			}
			name := "state " + field + "=" + clipped(v)
			refused := outOfRange[v] && (field == "data_seq" || field == "receipt_seq")
			dir := forge(t, a, src, t.TempDir(), raw)
			if i%2 == 0 {
				check(name+" by HTTP", refused, true, func() (int, string) {
					f.Upload(tok, filepath.Base(dir), dir)
					st, _, b := f.Commit(tok, filepath.Base(dir))
					return st, string(b)
				})
				continue
			}
			check(name+" by stick", refused, true, func() (int, string) {
				in := filepath.Join(stick, fmt.Sprint(i, field))
				if err := os.MkdirAll(in, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(dir, filepath.Join(in, filepath.Base(dir))); err != nil {
					t.Fatal(err)
				}
				lines := usbImport(f, in)
				if len(lines) != 1 {
					t.Fatalf("%s: %+v", name, lines)
				}
				if lines[0].Outcome == importer.Refused {
					if strings.Contains(lines[0].Reason, "\n") {
						t.Errorf("%s: a reason of more than one line: %q", name, lines[0].Reason)
					}
					return http.StatusUnprocessableEntity, lines[0].Reason
				}
				return http.StatusOK, lines[0].Outcome
			})
		}
	}

	// The client syncs as before: new results, then data.
	before := stateOf(f, "ca")
	testfixture.AddResults(t, a, "z", 2)
	if _, err := sync.Results(f.Ctx); err != nil {
		t.Fatalf("results after the hostile requests: %v", err)
	}
	if _, err := sync.Data(f.Ctx, nil, false); err != nil {
		t.Fatalf("data after the hostile requests: %v", err)
	}
	after := stateOf(f, "ca")
	held, err := a.Local.DataState(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Client.ReceiptSeq <= before.Client.ReceiptSeq || after.Executions["ca"] != before.Executions["ca"]+2 ||
		held.Seq != after.Client.DataSeq {
		t.Errorf("after a sync, central: %+v\nclient holds data seq %d\nbefore: %+v", after, held.Seq, before)
	}
	if after.Client.AckedReceiptSeq > after.Client.ReceiptSeq || after.Client.AckedSeq > after.Client.DataSeq {
		t.Errorf("central records the client holding what it never made: %+v", after.Client)
	}
}

func clipped(v string) string {
	if len(v) > 24 {
		return v[:24] + "…"
	}
	return v
}

// TestReceiptsBoundedAnswer: a client whose word moved its receipt batches
// far up (within the window a restore from a backup needs) makes central
// write no more than MaxReceiptsPerAnswer receipt bundles per request; the
// next request goes on from there.
func TestReceiptsBoundedAnswer(t *testing.T) { testfixture.OnEngines(t, testReceiptsBoundedAnswer) }

func testReceiptsBoundedAnswer(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	jump := fmt.Sprintf(`{"data_seq":0,"data_bundle":"","receipt_seq":%d}`, 1000)
	if st, b := f.API(http.MethodPost, api.Prefix+"/data/pull", tok, strings.NewReader(jump), "application/json"); st >= 300 {
		t.Fatalf("pull: %d %s", st, b)
	}
	// The client's word is kept: its next batch is numbered above it.
	cl, err := f.C.Store.GetClient(f.Ctx, f.C.Store.DB, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if cl.AckedReceiptSeq != 1000 {
		t.Fatalf("acked receipt seq %d, want 1000", cl.AckedReceiptSeq)
	}
	// Make central's last batch far above what the client holds, as after
	// a restore: 1000 batches the client asks for from 0.
	if _, err := f.C.Store.DB.ExecContext(f.Ctx, "UPDATE clients SET receipt_seq = 1000 WHERE id = 'ca'"); err != nil {
		t.Fatal(err)
	}
	for _, after := range []int{0, server.MaxReceiptsPerAnswer} {
		st, b := f.API(http.MethodGet, fmt.Sprintf("%s/receipts?after=%d", api.Prefix, after), tok, nil, "")
		if st != http.StatusOK {
			t.Fatalf("receipts after %d: %d %s", after, st, b)
		}
		var list struct {
			Bundles []api.BundleRef `json:"bundles"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Bundles) != server.MaxReceiptsPerAnswer || list.Bundles[0].Seq != uint64(after+1) {
			t.Fatalf("receipts after %d: %d bundles from %d, want %d from %d", after, len(list.Bundles), list.Bundles[0].Seq, server.MaxReceiptsPerAnswer, after+1)
		}
	}
	entries, err := os.ReadDir(filepath.Join(f.C.Home.Dir, "spool", "ca"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 2*server.MaxReceiptsPerAnswer+1 {
		t.Errorf("%d bundles in the spool after two requests", len(entries))
	}
}
