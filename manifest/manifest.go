// Package manifest defines the signed manifest of a taosync bundle: its
// types, strict parsing, deterministic encoding, and minisign signatures.
//
// The manifest binds every piece of context of a bundle (format version,
// bundle id, kind, sender, recipient, stream, sequence, base, times, and the
// size and SHA-256 of every chunk), so that once its signature is verified
// nothing else in the bundle needs to be trusted.
//
// Compatibility promise: the format version is MAJOR.MINOR. A reader of
// major version 1 reads every 1.x manifest; a minor version only adds
// optional fields, which a reader of an older minor version ignores. A
// manifest of the reader's own or an older minor version with an unknown
// field is malformed. An unknown major version is refused with
// ErrUnsupportedVersion before anything else is looked at.
//
// The package does no I/O beyond the byte slices it is given.
package manifest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Format is the value of the manifest's "format" field.
const Format = "taosync-bundle"

// The format version this package writes and reads.
const (
	Major = 1
	Minor = 0
)

// FileName is the manifest's file name inside a bundle folder, and SigName
// is its detached signature's, as minisign names it.
const (
	FileName = "manifest.json"
	SigName  = FileName + ".minisig"
)

// Limits of the format. They bound what a reader must hold in memory and
// keep every chunk file far below FAT32's 4 GiB file size limit.
const (
	// MaxManifestBytes bounds the manifest file: 1 GiB of package data in
	// 1 MiB chunks lists about 1,000 chunks of ~250 bytes each, and 16 MiB
	// leaves room for 60,000 chunks.
	MaxManifestBytes = 16 << 20
	// MaxChunkPayload bounds a chunk's payload before compression, so that
	// a reader can hold a whole chunk in memory per core.
	MaxChunkPayload = 32 << 20
	// MaxChunkStored bounds a chunk file: the payload plus zstd's worst case
	// expansion and age's 16 bytes per 64 KiB and header.
	MaxChunkStored = MaxChunkPayload + MaxChunkPayload/64 + 64<<10
)

// Kind is what a bundle carries.
type Kind string

// Bundle kinds.
const (
	KindData     Kind = "data"     // central to client: entities and packages
	KindResults  Kind = "results"  // client to central: delivery executions
	KindReceipts Kind = "receipts" // central to client: signed receipts
)

// SectionKind says how a section's chunk payloads are to be read.
type SectionKind string

// Section kinds.
const (
	// Records payloads are JSON Lines, one record a line.
	Records SectionKind = "records"
	// Blob payloads are opaque bytes, each chunk addressed by its content.
	Blob SectionKind = "blob"
)

// Party names one end of an exchange.
type Party struct {
	// Role is "central" or "client".
	Role string `json:"role"`
	// Client is the client's id; empty for central.
	Client string `json:"client,omitempty"`
	// Org is the client's organisation id; empty for central.
	Org string `json:"org,omitempty"`
	// KeyID is the party's minisign key id in upper-case hex.
	KeyID string `json:"key_id"`
	// AgeRecipient is the party's age X25519 recipient.
	AgeRecipient string `json:"age_recipient"`
}

// Ref names a bundle on a stream.
type Ref struct {
	Seq uint64 `json:"seq"`
	ID  string `json:"bundle_id"`
}

// Chunk is one chunk file of a section.
type Chunk struct {
	// Hash is the SHA-256 of the chunk file's bytes, lower-case hex; the
	// file is named by it.
	Hash string `json:"sha256"`
	// Size is the chunk file's size in bytes.
	Size int64 `json:"size"`
	// ContentHash is the SHA-256 of the payload, before compression.
	ContentHash string `json:"content_sha256"`
	// ContentSize is the payload's size in bytes.
	ContentSize int64 `json:"content_size"`
	// Records is the number of records in a records chunk.
	Records int64 `json:"records,omitempty"`
}

// Section is a named sequence of chunks: one entity type's records, a set
// of package chunks, results, receipts.
type Section struct {
	Name string      `json:"name"`
	Kind SectionKind `json:"kind"`
	// Records counts the records of a records section, Deleted those of
	// them that are deletions.
	Records int64   `json:"records"`
	Deleted int64   `json:"deleted,omitempty"`
	Chunks  []Chunk `json:"chunks"`
}

// Manifest is a bundle's signed description.
type Manifest struct {
	Format    string    `json:"format"`
	Version   string    `json:"version"`
	ID        string    `json:"bundle_id"`
	Kind      Kind      `json:"kind"`
	Sender    Party     `json:"sender"`
	Recipient Party     `json:"recipient"`
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Base      *Ref      `json:"base"`
	Prev      string    `json:"prev"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Sections  []Section `json:"sections"`
	// State is kind-specific context the sender binds into the signature
	// (a client's applied data state in a result bundle, for example).
	State json.RawMessage `json:"state,omitempty"`
}

// Errors callers branch on.
var (
	ErrMalformed          = errors.New("malformed manifest")
	ErrUnsupportedVersion = errors.New("unsupported bundle format version")
)

// Full reports whether the manifest is a full snapshot (no base).
func (m *Manifest) Full() bool { return m.Base == nil }

// Section returns the section named name, or nil.
func (m *Manifest) Section(name string) *Section {
	for i := range m.Sections {
		if m.Sections[i].Name == name {
			return &m.Sections[i]
		}
	}
	return nil
}

// Chunks counts the chunks of all sections.
func (m *Manifest) Chunks() int {
	n := 0
	for _, s := range m.Sections {
		n += len(s.Chunks)
	}
	return n
}

// StoredBytes adds up the sizes of all chunk files.
func (m *Manifest) StoredBytes() int64 {
	var n int64
	for _, s := range m.Sections {
		for _, c := range s.Chunks {
			n += c.Size
		}
	}
	return n
}

// Marshal encodes m deterministically: the same manifest always gives the
// same bytes, so that its hash names it.
func Marshal(m *Manifest) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// Version parses a "MAJOR.MINOR" version string.
func Version(s string) (major, minor int, err error) {
	a, b, ok := strings.Cut(s, ".")
	if ok {
		major, err = strconv.Atoi(a)
		if err == nil {
			minor, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || major < 0 || minor < 0 {
		return 0, 0, fmt.Errorf("%w: version %q is not MAJOR.MINOR", ErrMalformed, s)
	}
	return major, minor, nil
}

// CheckVersion reads only the format and version of raw manifest bytes, so
// that an unknown major version is refused before the signature is
// checked: a future format may sign differently.
func CheckVersion(raw []byte) error {
	if len(raw) > MaxManifestBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxManifestBytes)
	}
	var head struct {
		Format  string `json:"format"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if head.Format != Format {
		return fmt.Errorf("%w: format %q is not %q", ErrMalformed, head.Format, Format)
	}
	major, _, err := Version(head.Version)
	if err != nil {
		return err
	}
	if major != Major {
		return fmt.Errorf("%w %s: this taosync reads %d.x; upgrade taosync", ErrUnsupportedVersion, head.Version, Major)
	}
	return nil
}

// Parse decodes and validates raw manifest bytes strictly: one JSON object,
// no trailing data, no unknown fields unless the manifest's minor version is
// newer than this reader's, and every field within the format's limits.
func Parse(raw []byte) (*Manifest, error) {
	if err := CheckVersion(raw); err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, minor, _ := Version(mustVersion(raw)); minor <= Minor {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: data after the manifest object", ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func mustVersion(raw []byte) string {
	var head struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(raw, &head) // CheckVersion has already decoded it
	return head.Version
}

// Validate checks every field of m against the format.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if m.Format != Format {
		return bad("format %q is not %q", m.Format, Format)
	}
	if _, _, err := Version(m.Version); err != nil {
		return err
	}
	if !ValidID(m.ID) {
		return bad("bundle_id %q is not 32 hex digits", m.ID)
	}
	switch m.Kind {
	case KindData, KindResults, KindReceipts:
	default:
		return bad("unknown kind %q", m.Kind)
	}
	for _, p := range []struct {
		name string
		p    Party
	}{{"sender", m.Sender}, {"recipient", m.Recipient}} {
		if p.p.Role != "central" && p.p.Role != "client" {
			return bad("%s role %q is not central or client", p.name, p.p.Role)
		}
		if (p.p.Role == "client") != (p.p.Client != "") {
			return bad("%s: a client and only a client names its client id", p.name)
		}
		if !isHex(strings.ToLower(p.p.KeyID), 16) {
			return bad("%s key_id %q is not 16 hex digits", p.name, p.p.KeyID)
		}
		if !strings.HasPrefix(p.p.AgeRecipient, "age1") {
			return bad("%s age_recipient %q is not an age recipient", p.name, p.p.AgeRecipient)
		}
	}
	if m.Stream == "" {
		return bad("empty stream")
	}
	// A seq is stored in SQLite's signed 64-bit integers, by central and
	// by clients: one above them could never be recorded.
	if m.Seq == 0 || m.Seq > math.MaxInt64 {
		return bad("seq %d is not between 1 and %d", m.Seq, int64(math.MaxInt64))
	}
	if m.Base != nil && (m.Base.Seq >= m.Seq || !ValidID(m.Base.ID)) {
		return bad("base %d/%q must be an earlier bundle of the stream", m.Base.Seq, m.Base.ID)
	}
	if m.Prev != "" && !isHex(m.Prev, 64) {
		return bad("prev %q is not a SHA-256", m.Prev)
	}
	if m.Created.IsZero() || !m.Expires.After(m.Created) {
		return bad("expires %s must be after created %s", m.Expires, m.Created)
	}
	sections := map[string]bool{}
	chunks := map[string]bool{}
	for _, s := range m.Sections {
		if s.Name == "" || sections[s.Name] {
			return bad("section name %q empty or repeated", s.Name)
		}
		sections[s.Name] = true
		if s.Kind != Records && s.Kind != Blob {
			return bad("section %s: unknown kind %q", s.Name, s.Kind)
		}
		var records int64
		for _, c := range s.Chunks {
			if !isHex(c.Hash, 64) || !isHex(c.ContentHash, 64) {
				return bad("section %s: chunk hash %q or content hash %q is not a SHA-256", s.Name, c.Hash, c.ContentHash)
			}
			if chunks[c.Hash] {
				return bad("chunk %s listed twice", c.Hash)
			}
			chunks[c.Hash] = true
			if c.Size <= 0 || c.Size > MaxChunkStored || c.ContentSize < 0 || c.ContentSize > MaxChunkPayload {
				return bad("chunk %s: size %d or content size %d out of bounds", c.Hash, c.Size, c.ContentSize)
			}
			if c.Records < 0 || (s.Kind == Blob && c.Records != 0) {
				return bad("chunk %s: bad record count %d", c.Hash, c.Records)
			}
			records += c.Records
		}
		if s.Kind == Records && (records != s.Records || s.Deleted < 0 || s.Deleted > s.Records) {
			return bad("section %s: records %d (deleted %d) do not add up to its chunks' %d", s.Name, s.Records, s.Deleted, records)
		}
	}
	if len(m.State) > 0 && !json.Valid(m.State) {
		return bad("state is not JSON")
	}
	return nil
}

// ValidID reports whether s is a bundle id: 32 lower-case hex digits.
func ValidID(s string) bool { return isHex(s, 32) }

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}
