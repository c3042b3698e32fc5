package taosync

import (
	"encoding/json"

	"github.com/taosync/taosync/manifest"
)

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

// AppendReceipt appends the line of a receipts section that carries r: its
// JSON encoding.
func AppendReceipt(b []byte, r Receipt) []byte {
	line, err := json.Marshal(r)
	if err != nil {
		panic(err) // strings and integers: cannot fail
	}
	return append(b, line...)
}

// ParseReceipt reads one line of a receipts section. ok is false for a line
// that is not one receipt, in a batch, naming either an execution revision
// or a result bundle of no execution, not both.
func ParseReceipt(line []byte) (r Receipt, ok bool) {
	if err := json.Unmarshal(line, &r); err != nil || !r.wellFormed() {
		return Receipt{}, false
	}
	return r, true
}

// wellFormed reports whether r names, in a batch, either an execution
// revision or a result bundle of no execution, not both.
func (r Receipt) wellFormed() bool {
	if r.Batch == 0 {
		return false
	}
	if r.Bundle != "" {
		return manifest.ValidID(r.Bundle) && r.ID == "" && r.Revision == 0 && r.ContentHash == ""
	}
	return r.ID != ""
}
