// Package load reads master-data files (CSV or JSON Lines) into entities, as
// "taosync central load --type T FILE" uses them.
//
// It promises:
//   - Streaming: a Reader holds one row at a time plus the set of ids seen
//     so far, never the whole file.
//   - Every bad row is reported as a *RowError naming the file, the line the
//     row starts on and, where one is to blame, the field. After a RowError,
//     Next may be called again to go on with the following rows, so a caller
//     can report them all; any other error is final.
//   - Every entity it returns is valid: a non-empty id of at most 256 bytes
//     without control characters and unique within the file; the required
//     fields of its type present and non-empty; known fields of the right
//     kind; valid UTF-8 throughout; no control character in any text but
//     tab, newline and carriage return; no "package" field; no clear password
//     (a "password" is hashed with package password into password_hash).
//   - Entity.Data is a JSON object holding "id" and every field: known fields
//     typed per their Kind with defaults filled in, unknown fields unchanged
//     (CSV cells as strings, JSON values as given). Keys are sorted and
//     nothing depends on time or randomness except password hashes, so the
//     same file (without passwords) loads to byte-identical Data.
//   - It does not check references between entities; the caller does, with
//     the line numbers Next returns.
package load

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/jsonl"
	"github.com/taosync/taosync/internal/password"
)

// Format is the syntax of a master-data file.
type Format string

// The formats.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// Limits.
const (
	// MaxIDLen is the longest id accepted, in bytes.
	MaxIDLen = 256
	// MaxLineLen is the longest JSON Lines line accepted, in bytes, without
	// its line terminator.
	MaxLineLen = 16 << 20
)

// Field names with a meaning of their own.
const (
	idField           = "id"
	passwordField     = "password"
	passwordHashField = "password_hash"
)

// FormatOf tells the format of path by its extension: .csv, .jsonl or
// .ndjson, in any case.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("cannot tell the format of %s from its extension (.csv, .jsonl or .ndjson): pass --format csv or --format jsonl", path)
}

// ParseFormat parses the value of --format: "csv", "jsonl" or "ndjson" (the
// same as "jsonl").
func ParseFormat(s string) (Format, error) {
	switch s {
	case "csv":
		return CSV, nil
	case "jsonl", "ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("unknown format %q (want csv or jsonl)", s)
}

// RowError locates a bad row (or a bad CSV header, at its line).
type RowError struct {
	File   string
	Line   int
	Field  string // empty when the row as a whole is bad
	Reason string
}

// Error returns "FILE:LINE: FIELD: REASON", or "FILE:LINE: REASON" when no
// field is to blame.
func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Reason)
}

// Reader reads the entities of one type from one file.
type Reader struct {
	file   string
	format Format
	typ    taosync.Type
	known  map[string]taosync.Field
	// passwordOK: the type has a password_hash field, so a password may be
	// given for it.
	passwordOK bool
	seen       map[string]int // id -> line of first occurrence
	err        error          // final error (io.EOF or an I/O error)
	hash       func(string) (string, error)

	// CSV
	csv    *csv.Reader
	header []string

	// JSON Lines
	lines *jsonl.LineReader
	line  int
}

// NewReader returns a Reader of the entities of type t in r, a file of
// format f named file (the name is only used in errors). For CSV it reads
// the header row; errors in it are *RowError.
func NewReader(r io.Reader, file string, f Format, t taosync.Type) (*Reader, error) {
	fields, ok := taosync.Fields[t]
	if !ok {
		return nil, fmt.Errorf("load: unknown type %q", t)
	}
	rd := &Reader{
		file:   file,
		format: f,
		typ:    t,
		known:  make(map[string]taosync.Field, len(fields)),
		seen:   make(map[string]int),
		hash:   password.Hash,
	}
	for _, fd := range fields {
		rd.known[fd.Name] = fd
	}
	_, rd.passwordOK = rd.known[passwordHashField]

	br := bufio.NewReaderSize(r, 64<<10)
	// Tolerate a UTF-8 byte order mark at the start (spreadsheet exports).
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	switch f {
	case CSV:
		rd.csv = csv.NewReader(br)
		rd.csv.FieldsPerRecord = -1 // checked here, for a clearer message
		if err := rd.readHeader(); err != nil {
			return nil, err
		}
	case JSONL:
		rd.lines = jsonl.NewLineReader(br, MaxLineLen)
	default:
		return nil, fmt.Errorf("load: unknown format %q (want csv or jsonl)", f)
	}
	return rd, nil
}

// Next returns the next entity and the line it starts on, io.EOF after the
// last one, or a *RowError for a bad row (after which Next may be called
// again). Any other error is final.
func (r *Reader) Next() (taosync.Entity, int, error) {
	if r.err != nil {
		return taosync.Entity{}, 0, r.err
	}
	var (
		row  *row
		line int
		err  error
	)
	if r.format == CSV {
		row, line, err = r.nextCSV()
	} else {
		row, line, err = r.nextJSONL()
	}
	if err != nil {
		var re *RowError
		if !errors.As(err, &re) {
			r.err = err
		}
		return taosync.Entity{}, line, err
	}
	e, err := r.finish(row, line)
	if err != nil {
		var re *RowError
		if !errors.As(err, &re) {
			r.err = err
		}
		return taosync.Entity{}, line, err
	}
	return e, line, nil
}

func (r *Reader) rowErr(line int, field, format string, args ...any) *RowError {
	return &RowError{File: r.file, Line: line, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// row is one row after its fields have been converted, before the checks
// common to both formats.
type row struct {
	id string
	// data holds every field but id, converted; a field absent from data
	// is absent (an empty string in a known String field counts as absent).
	data map[string]json.RawMessage
	// given names the fields the row gave, even empty.
	given map[string]bool
	// password is the clear password given, if any ("" if none).
	password string
}

// finish runs the checks common to both formats on a converted row and
// builds the entity.
func (r *Reader) finish(rw *row, line int) (taosync.Entity, error) {
	for _, f := range taosync.Fields[r.typ] {
		if !f.Required {
			continue
		}
		v, ok := rw.data[f.Name]
		switch {
		case !ok && !rw.given[f.Name]:
			return taosync.Entity{}, r.rowErr(line, f.Name, "required field is missing")
		case !ok || string(v) == "[]":
			return taosync.Entity{}, r.rowErr(line, f.Name, "required field is empty")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rw.data)) {
		if c, ok := controlIn(name); ok {
			return taosync.Entity{}, r.rowErr(line, "", "a field name contains a control character (%U)", c)
		}
		if c, ok := textControl(rw.data[name]); ok {
			return taosync.Entity{}, r.rowErr(line, name, "contains a control character (%U)", c)
		}
	}
	if rw.password != "" {
		if _, ok := rw.data[passwordHashField]; ok {
			return taosync.Entity{}, r.rowErr(line, passwordField, "both password and password_hash given (give one)")
		}
	}
	for _, f := range taosync.Fields[r.typ] {
		if _, ok := rw.data[f.Name]; !ok && f.Default != nil {
			rw.data[f.Name] = mustJSON(f.Default)
		}
	}
	if rw.password != "" {
		h, err := r.hash(rw.password)
		if err != nil {
			return taosync.Entity{}, fmt.Errorf("%s:%d: hashing password: %w", r.file, line, err)
		}
		rw.data[passwordHashField] = mustJSON(h)
	}
	rw.data[idField] = mustJSON(rw.id)
	data, err := Encode(rw.data)
	if err != nil {
		return taosync.Entity{}, fmt.Errorf("%s:%d: encoding: %w", r.file, line, err)
	}
	return taosync.Entity{Type: r.typ, ID: rw.id, Data: data, Password: rw.password}, nil
}

// checkID checks an id and records it as seen.
func (r *Reader) checkID(id string, line int) *RowError {
	if id == "" {
		return r.rowErr(line, idField, "required field is empty")
	}
	if len(id) > MaxIDLen {
		return r.rowErr(line, idField, "longer than %d bytes", MaxIDLen)
	}
	for _, c := range id {
		if isControl(c) {
			return r.rowErr(line, idField, "contains a control character (%U)", c)
		}
	}
	if first, ok := r.seen[id]; ok {
		return r.rowErr(line, idField, "duplicate id %q (first on line %d)", id, first)
	}
	r.seen[id] = line
	return nil
}

// passwordTypes lists the types that accept a password, for messages.
func passwordTypes() string {
	var names []string
	for _, t := range taosync.Types {
		if _, ok := taosync.FieldOf(t, passwordHashField); ok {
			names = append(names, string(t))
		}
	}
	return strings.Join(names, ", ")
}

// encode encodes a JSON object with sorted keys and without HTML escaping
// (so "<" stays "<" and CSV and JSON Lines inputs give the same bytes).
// Encode is how entity data is encoded: keys sorted, nothing escaped that
// JSON does not require, so that the same entity always gives the same
// bytes, whoever encodes it.
func Encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// mustJSON encodes a value that cannot fail to encode (strings, lists of
// strings, booleans, integers).
func mustJSON(v any) json.RawMessage {
	b, err := Encode(v)
	if err != nil {
		panic(fmt.Sprintf("load: encoding %#v: %v", v, err))
	}
	return b
}
