package store_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
)

// TestReportBounds: a client may report holding a data bundle or a receipt
// batch up to RestoreWindow above the last central made for it (central
// may have been restored from a backup), and nothing further: over HTTP
// (ReportDataState) nothing is then recorded, in a result bundle's state
// (BeginResults) the bundle is refused.
func TestReportBounds(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testReportBounds(t, engine) })
	}
}

func testReportBounds(t *testing.T, engine string) {
	ctx := context.Background()
	c := centralWithClient(t, engine, "hash")
	// Central made data bundles up to 5 (4 recorded) and receipt batches
	// up to 3.
	if _, err := c.DB.ExecContext(ctx, "UPDATE clients SET next_seq = 5, data_seq = 4, receipt_seq = 3 WHERE id = 'ca'"); err != nil {
		t.Fatal(err)
	}
	const w = store.RestoreWindow
	at := time.Now()
	for _, tc := range []struct {
		data, receipts uint64
		ok             bool
	}{
		{0, 0, true},
		{5, 3, true},
		{5 + w, 3 + w, true},
		{5 + w + 1, 3, false},
		{5, 3 + w + 1, false},
		{math.MaxInt64, 0, false},
		{math.MaxInt64 + 1, 0, false},
		{0, math.MaxUint64, false},
	} {
		before, err := c.GetClient(ctx, c.DB, "ca")
		if err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
		err = c.ReportDataState(ctx, "ca", tc.data, tc.receipts, at)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, store.ErrOutOfRange)) {
			t.Errorf("report %d, %d: %v, want ok %v", tc.data, tc.receipts, err, tc.ok)
		}
		after, err := c.GetClient(ctx, c.DB, "ca")
		if err != nil {
			t.Fatal(err)
		}
		if !tc.ok && after != before {
			t.Errorf("report %d, %d refused, but the client changed: %+v, was %+v", tc.data, tc.receipts, after, before)
		}
		state := taosync.ClientState{DataSeq: tc.data, ReceiptSeq: tc.receipts}
		a, err := c.BeginResults(ctx, "ca", state)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, store.ErrOutOfRange)) {
			t.Errorf("result state %d, %d: %v, want ok %v", tc.data, tc.receipts, err, tc.ok)
		}
		if err == nil {
			a.Rollback()
		}
	}
}

// centralWithClient is a central's database on engine with one client,
// ca of organisation A, whose secret has the hash secretHash.
func centralWithClient(t testing.TB, engine, secretHash string) *store.CentralDB {
	t.Helper()
	h, err := home.InitAt(t.Context(), filepath.Join(t.TempDir(), "central"), home.RoleCentral, pgtest.Where(t, engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	c := &store.CentralDB{DB: h.DB}
	keys, err := h.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddClient(t.Context(), store.RegisteredClient{ID: "ca", Org: "A", AgeRecipient: keys.Age, SignKey: keys.Sign.String(), KeyID: keys.Sign.IDString()}, secretHash); err != nil {
		t.Fatal(err)
	}
	return c
}
