package exporter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestDataNilLog: a nil Log writes Data's diagnostics to slog.Default()
// instead of panicking.
func TestDataNilLog(t *testing.T) {
	logged := testfixture.DefaultLog(t)
	f := newFixture(t)
	f.twoOrgs()
	f.register("ca", "A")
	signer, err := f.central.Signer()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := f.central.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	_, err = exporter.Data(f.ctx, f.c, t.TempDir(), exporter.DataOptions{Client: "ca", Expiry: time.Hour,
		Signer: signer, AgeRecipient: keys.Age, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged(), "exported data bundle") {
		t.Fatalf("default log %q: no line of the export", logged())
	}
}
