package central_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/qti"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestPublish: a valid package is published as the delivery's, and again
// changes nothing; a package that does not pass, cannot be read or is over
// the limit is a *central.PackageError naming it, a delivery not loaded is
// store.ErrUnknownDelivery, and neither changes the delivery's package.
func TestPublish(t *testing.T) {
	f := testfixture.New(t)
	good := filepath.Join("..", "..", "testdata", "qti", "WebDeveloperTest1.zip")
	res, pkg, err := f.C.Publish(f.Ctx, "d1", good)
	if err != nil || res.Unchanged || res.Chunks == 0 || pkg.Items == 0 {
		t.Fatalf("Publish = %+v, %+v, %v; want a new package with items", res, pkg, err)
	}
	again, _, err := f.C.Publish(f.Ctx, "d1", good)
	if err != nil || !again.Unchanged || again.SHA256 != res.SHA256 {
		t.Fatalf("Publish again = %+v, %v; want unchanged", again, err)
	}
	big := filepath.Join(t.TempDir(), "big.zip")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, qti.DefaultLimits.MaxArchiveBytes+1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		want       error
	}{
		{"not a content package", filepath.Join("..", "..", "testdata", "qti", "NotContentPackage.zip"), nil},
		{"no such file", filepath.Join(t.TempDir(), "none.zip"), os.ErrNotExist},
		{"over the limit", big, qti.ErrTooLarge},
	} {
		_, _, err := f.C.Publish(f.Ctx, "d1", c.path)
		var pe *central.PackageError
		if !errors.As(err, &pe) || pe.Path != c.path || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want a PackageError for %s (%v)", c.name, err, c.path, c.want)
		}
	}
	if _, _, err := f.C.Publish(f.Ctx, "nope", good); !errors.Is(err, store.ErrUnknownDelivery) {
		t.Errorf("unknown delivery: %v, want %v", err, store.ErrUnknownDelivery)
	}
	ref, err := store.DeliveryPackage(f.Ctx, f.C.Home.DB, "d1")
	if err != nil || ref.Hash != res.SHA256 {
		t.Fatalf("d1's package after the refusals: %+v, %v; want %s", ref, err, res.SHA256)
	}
}

// TestAddClientOwnKey: central's own key is no client's, and the refusal
// registers nothing.
func TestAddClientOwnKey(t *testing.T) {
	f := testfixture.New(t)
	own, err := f.C.Home.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.C.AddClient(f.Ctx, "c1", "A", own); !errors.Is(err, central.ErrOwnKey) {
		t.Fatalf("AddClient with central's key: %v, want %v", err, central.ErrOwnKey)
	}
	if clients, err := f.C.Store.Clients(f.Ctx); err != nil || len(clients) != 0 {
		t.Fatalf("clients after the refusal: %+v, %v; want none", clients, err)
	}
}
