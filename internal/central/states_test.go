package central

import (
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/store"
)

func TestStateOf(t *testing.T) {
	ready := &store.ReceivedReport{Readiness: taosync.Readiness{Ready: true}}
	notReady := &store.ReceivedReport{Readiness: taosync.Readiness{Ready: false}}
	for _, c := range []struct {
		name string
		s    store.ClientStatus
		want string
	}{
		{"never heard of", store.ClientStatus{}, StateNeverSeen},
		{"revoked wins", store.ClientStatus{RegisteredClient: store.RegisteredClient{RevokedAt: "x"}, UpgradeNeeded: true}, StateRevoked},
		{"too old", store.ClientStatus{UpgradeNeeded: true, Report: ready}, StateUpgrade},
		{"heard of, no report", store.ClientStatus{RegisteredClient: store.RegisteredClient{AckedSeq: 1}}, StateNotReady},
		{"a result bundle, no report", store.ClientStatus{Bundles: 1}, StateNotReady},
		{"not ready", store.ClientStatus{Report: notReady}, StateNotReady},
		{"not ready and behind", store.ClientStatus{Report: notReady, Lag: 2}, StateNotReady},
		{"behind", store.ClientStatus{Report: ready, Lag: 1}, StateBehind},
		{"a result bundle missing", store.ClientStatus{Report: ready, Gaps: []uint64{3}}, StateBehind},
		{"ready", store.ClientStatus{Report: ready}, StateReady},
	} {
		if got := StateOf(c.s); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
