package client_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/faultfs"
	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestSyncDataFaults fails each file system operation of a client's data
// sync in turn (the downloaded bundle's folder and part files): the sync
// fails with the disk's error, not retried, and the next one applies the
// bundle, ending where a client that met no fault does. A part file whose
// fsync failed is removed.
func TestSyncDataFaults(t *testing.T) {
	f := testfixture.New(t)
	f.Start(nil)
	whole := f.Register("whole", "A")
	if _, err := f.Syncer("whole").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	want := holdings(t, whole)
	for _, kind := range faultfs.Kinds {
		// A clean sync of a new client, counting its operations.
		id := "count-" + strings.ToLower(kind.Name)
		counter := &faultfs.Injector{Kind: kind, Under: f.Register(id, "A").Home.Dir}
		clear := faultfs.Install(t, counter)
		_, err := f.Syncer(id).Data(f.Ctx, nil, false)
		clear()
		if err != nil {
			t.Fatal(err)
		}
		ops := counter.Seen()
		if ops == 0 {
			t.Fatalf("%s: no operation met", kind.Name)
		}
		for n := 1; n <= ops; n++ {
			if testing.Short() && n != 1 && n != ops/2 && n != ops {
				continue
			}
			id := fmt.Sprintf("c-%s-%d", strings.ToLower(kind.Name), n)
			cl := f.Register(id, "A")
			in := &faultfs.Injector{Kind: kind, Under: cl.Home.Dir, N: n}
			clear := faultfs.Install(t, in)
			lines, err := f.Syncer(id).Data(f.Ctx, nil, false)
			clear()
			if in.Failed() == "" {
				// The body came in fewer reads, so fewer writes.
				if err != nil {
					t.Errorf("%s at op %d: not met, and the sync failed: %v", kind.Name, n, err)
				}
				continue
			}
			if !ioerr.Local(err) || lines != nil {
				t.Errorf("%s at op %d (%s): lines %+v, error %v", kind.Name, n, in.Failed(), lines, err)
			}
			// A part file whose fsync failed is fetched again, not
			// synced again.
			if op, p, _ := strings.Cut(in.Failed(), " "); op == "sync" && strings.HasSuffix(p, ".part") {
				if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s at op %d (%s): the part file is still there (%v)", kind.Name, n, in.Failed(), err)
				}
			}
			lines, err = f.Syncer(id).Data(f.Ctx, nil, false)
			if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied {
				t.Errorf("%s at op %d (%s): the next sync: %+v, %v", kind.Name, n, in.Failed(), lines, err)
			}
			if got := holdings(t, cl); !reflect.DeepEqual(got, want) {
				t.Errorf("%s at op %d (%s): the client holds %d entities, want %d", kind.Name, n, in.Failed(), len(got), len(want))
			}
		}
	}
}
