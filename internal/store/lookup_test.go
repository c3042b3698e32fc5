package store_test

import (
	"path/filepath"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
)

// TestEntityExists: a live entity of the type exists; a deleted one, one
// of another type and an unknown id do not.
func TestEntityExists(t *testing.T) {
	ctx := t.Context()
	h, err := home.Init(ctx, filepath.Join(t.TempDir(), "home"), home.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.DB.ExecContext(ctx, `INSERT INTO entities (type, id, data, version, deleted) VALUES
		('test-center', 'a1', '{}', 1, 0), ('test-center', 'gone', '{}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    taosync.Type
		id   string
		want bool
	}{
		{taosync.TestCenter, "a1", true},
		{taosync.TestCenter, "gone", false},
		{taosync.Delivery, "a1", false},
		{taosync.TestCenter, "none", false},
	} {
		if got, err := store.EntityExists(ctx, h.DB, c.t, c.id); err != nil || got != c.want {
			t.Errorf("%s %s: %v, %v; want %v", c.t, c.id, got, err, c.want)
		}
	}
}
