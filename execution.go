package taosync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Execution statuses (docs/cli.md, "results add").
const (
	StatusActive     = "active"
	StatusPaused     = "paused"
	StatusFinished   = "finished"
	StatusTerminated = "terminated"
)

// Execution is a delivery execution: a candidate's sitting of a delivery,
// with its result as an IMS QTI 2.1, 2.2 or 3.0 assessmentResult document.
// Field names are the contract's (`results add` input, `results list
// --json` output).
type Execution struct {
	ID         string `json:"id"`
	Delivery   string `json:"delivery"`
	TestTaker  string `json:"test_taker"`
	TestCenter string `json:"test_center"`
	Status     string `json:"status"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at,omitempty"`
	ResultXML  string `json:"result_xml"`
}

// ContentHash identifies an execution's content: the SHA-256 of its JSON
// encoding. Central stores an execution once per (id, content hash).
func (e *Execution) ContentHash() string {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Receipt statuses: how central took an execution revision.
const (
	ReceiptReceived  = "received"  // stored
	ReceiptDuplicate = "duplicate" // already stored: the same content again
	ReceiptConflict  = "conflict"  // stored aside: other content under the same id
)

// Receipt is central's signed word that it holds one execution revision
// or, for a result bundle of no execution (the readiness report only), that
// it holds that bundle: then Bundle names it, and ID, Revision and
// ContentHash are empty.
type Receipt struct {
	Batch       uint64 `json:"batch"`
	ID          string `json:"id,omitempty"`
	Revision    int64  `json:"revision,omitempty"`
	ContentHash string `json:"content_hash,omitempty"`
	Bundle      string `json:"bundle,omitempty"`
	Status      string `json:"status"`
}
