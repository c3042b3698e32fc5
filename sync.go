package taosync

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taosync/taosync/manifest"
)

// Section names of the records and blobs the bundles carry, beside the
// six types' record sections.
const (
	// ReceiptsSection carries receipts, in receipt bundles and in data
	// bundles.
	ReceiptsSection = "receipts"
	// ResultsSection carries execution revisions, in result bundles.
	ResultsSection = "executions"
	// PackageSection is the blob section of a data bundle carrying
	// package chunks.
	PackageSection = "packages"
)

// Recipient is the client a data bundle is for, and the state its next
// bundle applies on.
type Recipient struct {
	ID           string
	Org          string
	AgeRecipient string
	SignKeyID    string
	// Seq, Bundle and Hash name the last data bundle exported for it; Seq 0
	// means none, and the next bundle is a full snapshot.
	Seq    uint64
	Bundle string
	Hash   string
	// NextSeq is the sequence number reserved for the bundle being
	// written; numbers are never reused, so it may skip some.
	NextSeq uint64
	// Behind is set when no delta can follow safely: the client reported,
	// after the last export, an older state than it (it lost bundles), or
	// an export died after its bundle may have been written. The next
	// bundle is a full snapshot.
	Behind bool
}

// DataState is the data state a client holds: the last data bundle
// applied.
type DataState struct {
	Seq    uint64
	Bundle string
	Hash   string
}

// ClientState is what a client tells central of itself in every result
// bundle: the data bundles it has applied (central's acknowledgement of its
// data), the receipts it holds, and facts about the box.
type ClientState struct {
	DataSeq    uint64 `json:"data_seq"`
	DataBundle string `json:"data_bundle"`
	// ReceiptSeq is the receipt batch up to which it holds every receipt.
	ReceiptSeq uint64    `json:"receipt_seq"`
	Version    string    `json:"taosync_version"`
	FreeDisk   int64     `json:"free_disk_bytes"`
	Clock      time.Time `json:"clock"`
	// Report is the client's readiness report (taosync 1.x centrals
	// before it ignore it).
	Report *Readiness `json:"report,omitempty"`
}

// Limits of a client state's fields. A version is a release name, not an
// essay; free disk is -1 when the client could not read it.
const maxVersionBytes = 64

// Check refuses a client state whose fields are out of shape: central
// stores it as the client's last word about itself.
func (s ClientState) Check() error {
	switch {
	case s.DataBundle != "" && !manifest.ValidID(s.DataBundle):
		return fmt.Errorf("data_bundle %.40q is not a bundle id", s.DataBundle)
	case (s.DataSeq == 0) != (s.DataBundle == ""):
		return fmt.Errorf("data_seq %d and data_bundle %q: a client holds both or neither", s.DataSeq, s.DataBundle)
	case len(s.Version) > maxVersionBytes || !printable(s.Version):
		return fmt.Errorf("taosync_version %.40q is not a version", s.Version)
	case s.FreeDisk < -1:
		return fmt.Errorf("free_disk_bytes %d is negative", s.FreeDisk)
	}
	return nil
}

// printable reports whether s is printable ASCII.
func printable(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// ErrRollback refuses a data bundle whose seq is not above the one the
// client holds.
var ErrRollback = errors.New("rollback refused")

// ErrUnknownExecution refuses a receipt naming an execution this client
// never had.
var ErrUnknownExecution = errors.New("receipt for an execution this client does not have")

// Errors an ExecutionError wraps: the execution is invalid on its own (the
// checks of `results add`), or it names what the sending client may not
// report on.
var (
	ErrInvalidExecution = errors.New("invalid execution")
	ErrOutOfScope       = errors.New("execution outside the client's scope")
)

// ExecutionError refuses a result bundle for one of its executions, naming
// it and the field to blame.
type ExecutionError struct {
	Err    error // ErrInvalidExecution or ErrOutOfScope
	ID     string
	Field  string
	Reason string
}

func (e *ExecutionError) Error() string {
	id := e.ID
	// The id of an invalid execution may be anything: shown cut.
	if len(id) > 64 {
		id = strings.ToValidUTF8(id[:64], "") + "..."
	}
	return fmt.Sprintf("execution %q: %s: %s", id, e.Field, e.Reason)
}

func (e *ExecutionError) Unwrap() error { return e.Err }
