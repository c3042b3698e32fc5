// Package api is central's HTTP API as it goes over the wire: the paths,
// the headers and the JSON bodies. Both sides speak it: internal/server
// answers it, internal/client asks it, and neither imports the other.
// docs/openapi.yaml describes the same API for people: a change here is a
// change there.
package api

import (
	"regexp"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/manifest"
)

// Prefix versions the API: every operation but the token endpoint is under
// it.
const Prefix = "/api/v1"

// TokenPath is where the OAuth 2 token endpoint (client credentials)
// answers, outside Prefix.
const TokenPath = "/oauth2/token"

// Paths of the operations, under Prefix.
const (
	HealthPath = "/health"
	// PullPath takes a PullRequest and answers the data bundle to
	// download, as a BundleRef, or 204 when nothing changed.
	PullPath = "/data/pull"
	// ReceiptsPath answers a ReceiptList of the batches after ?after=N.
	ReceiptsPath = "/receipts"
	// ReportPath takes the client's readiness report after a sync changed
	// it (every pull carries the report as it was before).
	ReportPath = "/report"
)

// BundleFilePath is the path under Prefix of one file of a bundle prepared
// for the client. With "{bundle}" and "{file}" it is the server's pattern.
func BundleFilePath(bundle, file string) string { return "/bundles/" + bundle + "/" + file }

// ResultPath is the path under Prefix of a result bundle's upload: GET
// asks what central holds of it (an UploadStatus), PUT sends its stream.
func ResultPath(bundle string) string { return "/results/" + bundle }

// ResultFilePath and CommitPath are the upload of older clients: one file
// at a time, then a commit answered by a CommitResponse.
func ResultFilePath(bundle, file string) string { return ResultPath(bundle) + "/" + file }

// CommitPath: see ResultFilePath.
func CommitPath(bundle string) string { return ResultPath(bundle) + "/commit" }

// Headers.
const (
	// HeaderVersion names the header in which a client sends its taosync
	// version with every request, the token request too.
	HeaderVersion = "Taosync-Version"
	// HeaderOffset is where in a result bundle's stream a PUT's body
	// starts and, in answers, how much of the stream central holds.
	HeaderOffset = "Upload-Offset"
	// HeaderSignatureSize and HeaderManifestSize are the sizes of the
	// stream's first two files; the manifest sizes the chunks.
	HeaderSignatureSize = "Upload-Signature-Size"
	HeaderManifestSize  = "Upload-Manifest-Size"
)

// Error is the body of every unsuccessful answer under Prefix.
type Error struct {
	Message string `json:"error"`
}

// Health is the answer of HealthPath.
type Health struct {
	Status string `json:"status"`
}

// PullRequest is what a client says when it pulls data: what it holds.
type PullRequest struct {
	DataSeq    uint64 `json:"data_seq"`
	DataBundle string `json:"data_bundle"`
	// ReceiptSeq is the receipt batch up to which the client holds every
	// receipt: later data bundles leave those out.
	ReceiptSeq uint64   `json:"receipt_seq"`
	Types      []string `json:"types,omitempty"`
	Full       bool     `json:"full,omitempty"`
	// Report is the client's readiness report.
	Report *taosync.Readiness `json:"report,omitempty"`
}

// File is one file of a bundle as the API lists it.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BundleRef names a bundle prepared for a client and its files, chunks
// first and the manifest last: the order to download them in.
type BundleRef struct {
	Bundle string `json:"bundle"`
	ID     string `json:"bundle_id"`
	Kind   string `json:"kind"`
	Seq    uint64 `json:"seq"`
	Full   bool   `json:"full,omitempty"`
	Files  []File `json:"files"`
}

// ReceiptList is the answer of ReceiptsPath.
type ReceiptList struct {
	Bundles []BundleRef `json:"bundles"`
}

// Upload states, as GET and PUT ResultPath answer them.
const (
	StateNone      = "none"      // central holds nothing of the bundle
	StatePartial   = "partial"   // Offset bytes of its stream
	StateComplete  = "complete"  // all of it, not committed
	StateCommitted = "committed" // stored, answered with its receipts
)

// UploadStatus is what central holds of a result bundle; a committed one
// carries the commit's answer.
type UploadStatus struct {
	State  string `json:"state"`
	Offset int64  `json:"offset"`
	*CommitResponse
}

// CommitResponse answers a committed result bundle with its receipts.
type CommitResponse struct {
	Outcome string `json:"outcome"`
	// Receipt is the receipt bundle; absent only for a bundle of no
	// execution stored before such bundles got a receipt.
	Receipt *BundleRef `json:"receipt,omitempty"`
}

var (
	bundleName = regexp.MustCompile(`^(data|results|receipts)-[A-Za-z0-9._-]+-[0-9]{6,}-[0-9a-f]{8}$`)
	chunkName  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidBundle reports whether name is a bundle folder's name as the API
// uses it; a client checks the names central gives before using them as
// folder names.
func ValidBundle(name string) bool { return bundleName.MatchString(name) }

// ValidChunk reports whether name is a chunk file's name: the SHA-256 of
// its bytes, in hex.
func ValidChunk(name string) bool { return chunkName.MatchString(name) }

// ValidFile reports whether name is a bundle file's name.
func ValidFile(name string) bool {
	return name == manifest.FileName || name == manifest.SigName || ValidChunk(name)
}
