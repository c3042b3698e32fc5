package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
)

// TestApplyChanges checks what applying an entity reports, in a full
// snapshot (the versions held read up front) and in a delta (an update
// tried first, then an insert): an entity held in this version, in
// another, or not at all. In the delta, the same records applied again
// find what the first pass stored.
func TestApplyChanges(t *testing.T) {
	ctx := context.Background()
	type step struct {
		id      string
		version int64
		want    taosync.Change
	}
	first := []step{{"same", 1, taosync.Unchanged}, {"older", 2, taosync.Updated}, {"new", 3, taosync.Created}}
	again := []step{{"older", 2, taosync.Unchanged}, {"new", 3, taosync.Unchanged}, {"new", 4, taosync.Updated}}
	for _, c := range []struct {
		full  bool
		steps []step
	}{
		{true, first},
		{false, append(first, again...)},
	} {
		h, err := home.Init(ctx, filepath.Join(t.TempDir(), "home"), home.RoleClient)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		for _, id := range []string{"same", "older"} {
			if _, err := h.DB.ExecContext(ctx, `INSERT INTO entities (type, id, data, version) VALUES ('test-taker', ?, '{}', 1)`, id); err != nil {
				t.Fatal(err)
			}
		}
		a, err := (&store.ClientDB{DB: h.DB}).BeginApply(ctx, c.full, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range c.steps {
			got, err := a.Upsert(ctx, taosync.TestTaker, s.id, s.version, fmt.Appendf(nil, `{"v":%d}`, s.version))
			if err != nil || got != s.want {
				t.Errorf("full %v: %s in version %d: %v, %v; want %v", c.full, s.id, s.version, got, err, s.want)
			}
		}
		if err := a.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}
