package central

import (
	"context"

	"github.com/taosync/taosync/internal/store"
)

// The states of a centre as the operations desk and the metrics show it,
// in the order they need attention: a centre too old to trust first, a
// revoked one last.
const (
	StateUpgrade   = "upgrade_needed"
	StateNotReady  = "not_ready"
	StateNeverSeen = "never_seen"
	StateBehind    = "behind"
	StateReady     = "ready"
	StateRevoked   = "revoked"
)

// States lists the states in the order they need attention.
var States = []string{StateUpgrade, StateNotReady, StateNeverSeen, StateBehind, StateReady, StateRevoked}

// StateOf says which state a client is in. A client never heard of (no
// report, no data acknowledged, no result bundle) is never seen; one heard
// of without a report (a taosync before reports) is not ready: nothing
// says it is. Behind: a data bundle not yet applied, or a result bundle
// missing.
func StateOf(s store.ClientStatus) string {
	switch {
	case s.RevokedAt != "":
		return StateRevoked
	case s.UpgradeNeeded:
		return StateUpgrade
	case s.Report == nil && s.AckedSeq == 0 && s.Bundles == 0:
		return StateNeverSeen
	case s.Report == nil || !s.Report.Ready:
		return StateNotReady
	case s.Lag > 0 || len(s.Gaps) > 0:
		return StateBehind
	}
	return StateReady
}

// CountStates counts the clients in each state.
func (c *Central) CountStates(ctx context.Context) (map[string]int, error) {
	clients, _, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, s := range clients {
		out[StateOf(s)]++
	}
	return out, nil
}
