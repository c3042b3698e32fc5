package taosync

import "time"

// Counts are the per-type effect of an exchange.
type Counts struct {
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	Deleted int64 `json:"deleted"`
}

// HistoryEntry is one exchange, as `taosync history` shows it.
type HistoryEntry struct {
	ID         int64             `json:"id"`
	At         time.Time         `json:"at"`
	Direction  string            `json:"direction"`
	Transport  string            `json:"transport"`
	Peer       string            `json:"peer"`
	BundleID   string            `json:"bundle_id"`
	Bundle     string            `json:"bundle"`
	Kind       string            `json:"kind"`
	Stream     string            `json:"stream"`
	Seq        uint64            `json:"seq"`
	Full       bool              `json:"full"`
	Counts     map[string]Counts `json:"counts"`
	Bytes      int64             `json:"bytes"`
	DurationMS int64             `json:"duration_ms"`
	Outcome    string            `json:"outcome"`
	Error      string            `json:"error"`
}

// History outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeSkipped = "skipped"
	OutcomeRefused = "refused"
	OutcomeFailed  = "failed"
)
