package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/faultfs"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestUploadFaults: a full or failing disk on central at any durable write
// of a result upload (its folder, the parts, the files kept, their renames
// and fsyncs) answers 500 and stores no result; the same upload once the
// fault clears commits, with every result once.
func TestUploadFaults(t *testing.T) {
	f := newFaultUpload(t)
	count := &faultfs.Injector{Kind: faultfs.IOError, Under: f.inbox}
	clear := faultfs.Install(t, count)
	f.put(t, http.StatusOK)
	clear()
	ops := count.Seen()
	if ops == 0 {
		t.Fatal("no durable write of an upload went through the seam")
	}
	for _, kind := range faultfs.Kinds {
		for n := 1; n <= ops; n++ {
			t.Run(fmt.Sprintf("%s/%d", kind.Name, n), func(t *testing.T) {
				f := newFaultUpload(t)
				in := &faultfs.Injector{Kind: kind, Under: f.inbox, N: n}
				clear := faultfs.Install(t, in)
				st := f.put(t, 0)
				clear()
				if in.Failed() == "" {
					return // this kind cannot hit the nth operation
				}
				if st != http.StatusInternalServerError {
					t.Errorf("%s failed: answered %d, want 500", in.Failed(), st)
				}
				if got := f.ExecutionsOf(); got["ca"] != 0 {
					t.Errorf("%s failed: central holds %v", in.Failed(), got)
				}
				f.put(t, http.StatusOK)
				if got := f.ExecutionsOf(); got["ca"] != 2 {
					t.Errorf("after %s failed, then the same upload: central holds %v, want 2 of ca", in.Failed(), got)
				}
			})
		}
	}
}

type faultUpload struct {
	*testfixture.Fixture
	inbox, name, tok string
	stream           []byte
	sig, man         int
}

func newFaultUpload(t *testing.T) *faultUpload {
	f := testfixture.New(t)
	f.Start(nil)
	dir, tok := resultBundle(t, f, 2)
	u := &faultUpload{Fixture: f, inbox: filepath.Join(f.C.Home.Dir, "inbox"), name: filepath.Base(dir), tok: tok}
	u.stream, u.sig, u.man = testfixture.Stream(t, dir)
	return u
}

// offset asks central how much of the upload it holds.
func (u *faultUpload) offset(t *testing.T) int64 {
	t.Helper()
	st, b := u.API(http.MethodGet, api.Prefix+"/results/"+u.name, u.tok, nil, "")
	var us api.UploadStatus
	if st != http.StatusOK || json.Unmarshal(b, &us) != nil {
		t.Fatalf("upload status: %d %s", st, b)
	}
	return us.Offset
}

// put sends the rest of the stream from the offset central holds, and
// commits; want, if not 0, is the answer expected.
func (u *faultUpload) put(t *testing.T, want int) int {
	t.Helper()
	// From the offset central holds: a failed request may have kept a part.
	off := u.offset(t)
	st, _, b := u.PutStream(u.tok, u.name, off, u.stream[off:], u.sig, u.man, true)
	if want != 0 && (st != want || (want == http.StatusOK && !strings.Contains(string(b), `"committed"`))) {
		t.Fatalf("upload: %d %s, want %d", st, b, want)
	}
	return st
}
