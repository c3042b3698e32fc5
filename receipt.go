package taosync

import "encoding/json"

// Receipt statuses: how central took an execution revision.
const (
	ReceiptReceived  = "received"  // stored
	ReceiptDuplicate = "duplicate" // already stored: the same content again
	ReceiptConflict  = "conflict"  // stored aside: other content under the same id
)

// Receipt is central's signed word that it holds one execution revision.
type Receipt struct {
	Batch       uint64 `json:"batch"`
	ID          string `json:"id"`
	Revision    int64  `json:"revision"`
	ContentHash string `json:"content_hash"`
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
// that is not one receipt with an id and a batch.
func ParseReceipt(line []byte) (r Receipt, ok bool) {
	if err := json.Unmarshal(line, &r); err != nil || r.ID == "" || r.Batch == 0 {
		return Receipt{}, false
	}
	return r, true
}
