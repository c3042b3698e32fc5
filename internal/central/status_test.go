package central

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/store"
)

// TestStatusFilter: one client by id, or those not heard from since a time
// (never heard from counts as not since), or both; an unknown id is an
// error.
func TestStatusFilter(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	clients := []store.ClientStatus{
		{RegisteredClient: store.RegisteredClient{ID: "never"}},
		{RegisteredClient: store.RegisteredClient{ID: "acked-old", AckedAt: "2027-05-01T08:00:00Z"}},
		{RegisteredClient: store.RegisteredClient{ID: "result-new", AckedAt: "2027-05-01T08:00:00Z"}, LastResult: "2027-05-02T08:00:00.5Z"},
		{RegisteredClient: store.RegisteredClient{ID: "acked-new", AckedAt: "2027-05-03T08:00:00Z"}},
	}
	for _, c := range []struct {
		name string
		f    StatusFilter
		want []string
	}{
		{"all", StatusFilter{}, []string{"never", "acked-old", "result-new", "acked-new"}},
		{"one", StatusFilter{Client: "acked-old"}, []string{"acked-old"}},
		{"silent since", StatusFilter{Since: at("2027-05-02T00:00:00Z")}, []string{"never", "acked-old"}},
		{"the last result counts", StatusFilter{Since: at("2027-05-02T09:00:00Z")}, []string{"never", "acked-old", "result-new"}},
		{"one, heard from since", StatusFilter{Client: "acked-new", Since: at("2027-05-02T00:00:00Z")}, nil},
	} {
		got, err := c.f.apply(clients)
		var ids []string
		for _, s := range got {
			ids = append(ids, s.ID)
		}
		if err != nil || !slices.Equal(ids, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.name, ids, err, c.want)
		}
	}
	if _, err := (StatusFilter{Client: "nope"}).apply(clients); !errors.Is(err, store.ErrUnknownClient) {
		t.Errorf("unknown client: %v, want %v", err, store.ErrUnknownClient)
	}
}
