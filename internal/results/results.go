// Package results reads the delivery executions that the local
// test-delivery application hands in with "taosync results add FILE.jsonl",
// and checks them and the IMS QTI assessmentResult documents they carry.
// Check is the one check of an execution on its own, used both by the
// Reader on a client and by central's import of result bundles.
//
// It promises:
//   - Streaming: a Reader holds one line at a time plus the set of ids seen
//     so far, never the whole file. No line longer than MaxLineBytes is
//     held in memory.
//   - Every bad line is reported as a *load.RowError ("FILE:LINE: FIELD:
//     REASON") naming the file, the line and, where one is to blame, the
//     field. After a RowError, Next may be called again to go on with the
//     following lines, so a caller can report them all; any other error (an
//     I/O error, a failing Known) is final.
//   - The format is closed: one JSON object a line with only the fields id,
//     delivery, test_taker, test_center, status, started_at, finished_at and
//     result_xml, all strings, none given twice, valid UTF-8 throughout.
//   - Every Execution it returns passes Check (an id of at most 256 bytes
//     without control characters; a known status; started_at in RFC 3339;
//     finished_at in RFC 3339 and not before started_at when the execution
//     is finished or terminated, empty otherwise; for finished and
//     terminated executions a result_xml that passes ValidateResultXML,
//     for active and paused ones an empty one or one that passes it), has
//     an id unique within the file, and names a delivery, test taker and
//     test centre that Known says are held locally.
//   - Fields are returned exactly as given: timestamps and XML are not
//     re-formatted, so an Execution's ContentHash is that of what the
//     test-delivery application wrote.
package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/errmsg"
	"github.com/taosync/taosync/internal/jsonl"
	"github.com/taosync/taosync/internal/load"
)

// Limits.
const (
	// MaxLineBytes is the longest line accepted, in bytes, without its line
	// terminator: the same bound as master-data files, room for a result
	// document of MaxResultXMLBytes even after JSON escaping has grown it
	// several times, yet a bound on what one line makes us hold.
	MaxLineBytes = 16 << 20

	// MaxResultXMLBytes is the largest assessmentResult document accepted.
	// A result is typically a few KiB (about 4 KiB for ten items); 4 MiB
	// is a thousand times that, room for hundreds of items with long
	// essay responses. It is a quarter of MaxLineBytes because the
	// document travels JSON-escaped inside one line: quotes, newlines and,
	// from encoders that escape HTML (Go's default), every '<', '>' and
	// '&' grow, typically doubling markup-heavy XML, so a document under
	// this limit fits in a line.
	MaxResultXMLBytes = 4 << 20

	// MaxResultXMLDepth bounds element nesting. Real results nest about
	// six deep (assessmentResult, itemResult, responseVariable,
	// candidateResponse, value); 256 refuses no plausible document, yet
	// bounds the decoder's element stack for a document of "<a><a><a>...".
	MaxResultXMLDepth = 256
)

// Known reports whether an entity of the type with the id is held locally.
type Known func(t taosync.Type, id string) (bool, error)

// The fields of a line, in the order they are listed in messages.
const (
	fieldID         = "id"
	fieldDelivery   = "delivery"
	fieldTestTaker  = "test_taker"
	fieldTestCenter = "test_center"
	fieldStatus     = "status"
	fieldStartedAt  = "started_at"
	fieldFinishedAt = "finished_at"
	fieldResultXML  = "result_xml"
)

var fieldNames = []string{
	fieldID, fieldDelivery, fieldTestTaker, fieldTestCenter,
	fieldStatus, fieldStartedAt, fieldFinishedAt, fieldResultXML,
}

var statuses = []string{
	taosync.StatusActive, taosync.StatusPaused,
	taosync.StatusFinished, taosync.StatusTerminated,
}

// Reader reads the executions of one JSON Lines file.
type Reader struct {
	file  string
	known Known
	lines *jsonl.LineReader
	line  int            // number of the last line read
	seen  map[string]int // id -> line of its first occurrence
	err   error          // final error (io.EOF or another)
}

// NewReader returns a Reader of the executions in r, a file named file (the
// name is only used in errors). known, which must not be nil, tells which
// deliveries, test takers and test centres are held locally; it is called
// for each line that is otherwise valid.
func NewReader(r io.Reader, file string, known Known) *Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	// Tolerate a UTF-8 byte order mark at the start, as master data does.
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	return &Reader{file: file, known: known, lines: jsonl.NewLineReader(br, MaxLineBytes), seen: make(map[string]int)}
}

// Next returns the next execution and the line it is on, io.EOF after the
// last one, or a *load.RowError for a bad line (after which Next may be
// called again). Any other error is final.
func (r *Reader) Next() (taosync.Execution, int, error) {
	if r.err != nil {
		return taosync.Execution{}, 0, r.err
	}
	e, err := r.next()
	if err != nil {
		var re *load.RowError
		if !errors.As(err, &re) {
			r.err = err
		}
		return taosync.Execution{}, r.line, err
	}
	return e, r.line, nil
}

func (r *Reader) rowErr(field, format string, args ...any) *load.RowError {
	return &load.RowError{File: r.file, Line: r.line, Field: field, Reason: fmt.Sprintf(format, args...)}
}

func (r *Reader) next() (taosync.Execution, error) {
	var line []byte
	for {
		l, tooLong, err := r.lines.ReadLine()
		if err == io.EOF {
			return taosync.Execution{}, err
		}
		if err != nil {
			return taosync.Execution{}, fmt.Errorf("read %s: %w", r.file, err)
		}
		r.line++
		if tooLong {
			return taosync.Execution{}, r.rowErr("", "line longer than %d bytes (%d MiB)", MaxLineBytes, MaxLineBytes>>20)
		}
		// Blank: JSON whitespace only.
		if len(bytes.Trim(l, " \t\r")) > 0 {
			line = l
			break
		}
	}
	fields, err := r.parse(line)
	if err != nil {
		return taosync.Execution{}, err
	}
	return r.check(fields)
}

// parse checks the syntax of a line and returns its fields. A field given
// is in the map, even empty.
func (r *Reader) parse(line []byte) (map[string]string, error) {
	members, err := r.members(line)
	if err != nil {
		return nil, err
	}
	fields := make(map[string]string, len(members))
	for _, m := range members {
		if !jsonl.ValidText(m.Text) {
			return nil, r.rowErr(fieldName(strings.ToValidUTF8(m.Key, "\uFFFD")), "invalid UTF-8")
		}
		if _, dup := fields[m.Key]; dup {
			return nil, r.rowErr(fieldName(m.Key), "field given twice")
		}
		if !isField(m.Key) {
			return nil, r.rowErr(fieldName(m.Key), "unknown field (an execution has only %s)", strings.Join(fieldNames, ", "))
		}
		if m.Raw[0] != '"' {
			return nil, r.rowErr(m.Key, "must be a string, not %s", jsonl.Kind(m.Raw))
		}
		var s string
		if err := json.Unmarshal(m.Raw, &s); err != nil {
			return nil, r.rowErr(m.Key, "invalid JSON string: %v", err)
		}
		fields[m.Key] = s
	}
	if !jsonl.ValidText(line) {
		// Outside every member: not valid JSON, which members refused.
		return nil, r.rowErr("", "invalid UTF-8")
	}
	return fields, nil
}

// members splits a line holding one JSON object into its members.
func (r *Reader) members(line []byte) ([]jsonl.Member, error) {
	members, err := jsonl.Split(line, false)
	var se *jsonl.SyntaxError
	switch {
	case err == nil:
		return members, nil
	case !errors.As(err, &se):
		return nil, r.rowErr("", "%v", err) // not an object, or data after it
	case se.Truncated():
		return nil, r.rowErr("", "invalid JSON: the line ends inside the object (JSON Lines needs one whole object a line)")
	}
	return nil, r.rowErr("", "invalid JSON: %s", errmsg.OneLine(se.Err.Error()))
}

// check checks the fields of a line, in the order of the fields in
// messages, and the references last (they may cost a lookup).
func (r *Reader) check(f map[string]string) (taosync.Execution, error) {
	e := taosync.Execution{
		ID:         f[fieldID],
		Delivery:   f[fieldDelivery],
		TestTaker:  f[fieldTestTaker],
		TestCenter: f[fieldTestCenter],
		Status:     f[fieldStatus],
		StartedAt:  f[fieldStartedAt],
		FinishedAt: f[fieldFinishedAt],
		ResultXML:  f[fieldResultXML],
	}
	invalid := Check(e)
	if invalid == nil || invalid.Field != fieldID {
		if first, ok := r.seen[e.ID]; ok {
			return e, r.rowErr(fieldID, "duplicate id %q (first on line %d)", e.ID, first)
		}
		// Recorded even if the line turns out bad: the id is the file's
		// either way, and a later line with it is a second execution of
		// the same id all the same.
		r.seen[e.ID] = r.line
	}
	if invalid != nil {
		reason := invalid.Reason
		if _, given := f[invalid.Field]; !given && reason == reasonEmpty {
			reason = "required field is missing"
		}
		return e, r.rowErr(invalid.Field, "%s", reason)
	}
	for _, ref := range references(e) {
		ok, err := r.known(ref.typ, ref.id)
		if err != nil {
			return e, fmt.Errorf("%s:%d: looking up %s %q: %w", r.file, r.line, ref.typ, ref.id, err)
		}
		if !ok {
			return e, r.rowErr(ref.field, "unknown %s %q (not held locally)", ref.typ, ref.id)
		}
	}
	return e, nil
}

// Invalid says which field of an execution is wrong, and why.
type Invalid struct {
	Field  string // as in the JSON Lines file: id, delivery, ...
	Reason string
}

func (e *Invalid) Error() string { return e.Field + ": " + e.Reason }

const reasonEmpty = "required field is empty"

// A reference is a field of an execution naming an entity.
type reference struct {
	field string
	typ   taosync.Type
	id    string
}

// references returns the entities e names, in the order of the fields.
func references(e taosync.Execution) []reference {
	return []reference{
		{fieldDelivery, taosync.Delivery, e.Delivery},
		{fieldTestTaker, taosync.TestTaker, e.TestTaker},
		{fieldTestCenter, taosync.TestCenter, e.TestCenter},
	}
}

// Check checks an execution on its own, the same way wherever it is taken
// in: by `results add` on a client, and by central from a result bundle.
// It wants an id of at most load.MaxIDLen bytes without control
// characters; a delivery, test taker and test centre, each such an id; a
// known status; started_at in RFC 3339; finished_at in RFC 3339 and not
// before started_at when the execution is finished or terminated, empty
// otherwise; for finished and terminated executions a result_xml that
// passes ValidateResultXML (for active and paused ones it may be empty,
// and is checked the same way if not). It returns the first field wrong,
// in the order of the fields, or nil. Whether the entities named are
// known, or in scope, is for the caller to check.
func Check(e taosync.Execution) *Invalid {
	bad := func(field, format string, args ...any) *Invalid {
		return &Invalid{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if e.ID == "" {
		return bad(fieldID, reasonEmpty)
	}
	if reason := badID(e.ID); reason != "" {
		return bad(fieldID, "%s", reason)
	}
	for _, ref := range references(e) {
		if ref.id == "" {
			return bad(ref.field, reasonEmpty)
		}
		if reason := badID(ref.id); reason != "" {
			return bad(ref.field, "%s", reason)
		}
	}

	done := false // finished or terminated
	switch e.Status {
	case "":
		return bad(fieldStatus, reasonEmpty)
	case taosync.StatusActive, taosync.StatusPaused:
	case taosync.StatusFinished, taosync.StatusTerminated:
		done = true
	default:
		return bad(fieldStatus, "must be one of %s, not %q", strings.Join(statuses, ", "), e.Status)
	}

	if e.StartedAt == "" {
		return bad(fieldStartedAt, reasonEmpty)
	}
	started, err := time.Parse(time.RFC3339, e.StartedAt)
	if err != nil {
		return bad(fieldStartedAt, "not an RFC 3339 time (like 2025-06-12T09:30:00Z): %q", e.StartedAt)
	}
	switch {
	case done && e.FinishedAt == "":
		return bad(fieldFinishedAt, "required when status is %s", e.Status)
	case done:
		finished, err := time.Parse(time.RFC3339, e.FinishedAt)
		if err != nil {
			return bad(fieldFinishedAt, "not an RFC 3339 time (like 2025-06-12T10:30:00Z): %q", e.FinishedAt)
		}
		if finished.Before(started) {
			return bad(fieldFinishedAt, "%s is before started_at %s", e.FinishedAt, e.StartedAt)
		}
	case e.FinishedAt != "":
		return bad(fieldFinishedAt, "must be empty while status is %s", e.Status)
	}

	switch {
	case done && e.ResultXML == "":
		return bad(fieldResultXML, "required when status is %s", e.Status)
	case e.ResultXML != "":
		if err := ValidateResultXML([]byte(e.ResultXML)); err != nil {
			return bad(fieldResultXML, "%s", err)
		}
	}
	return nil
}

// badID says what is wrong with an id, or "".
func badID(id string) string {
	if len(id) > load.MaxIDLen {
		return fmt.Sprintf("longer than %d bytes", load.MaxIDLen)
	}
	for _, c := range id {
		if unicode.IsControl(c) {
			return fmt.Sprintf("contains a control character (%U)", c)
		}
	}
	return ""
}

func isField(name string) bool {
	for _, f := range fieldNames {
		if name == f {
			return true
		}
	}
	return false
}

// fieldName shows a field name from the input in a message: as is when it
// is a plain name, quoted when it is empty or holds characters that would
// garble the one-line message, and cut when it is long.
func fieldName(name string) string {
	if name == "" || len(name) > 64 {
		return quote(name)
	}
	for _, c := range name {
		if !unicode.IsPrint(c) || c == ' ' || c == ':' {
			return quote(name)
		}
	}
	return name
}
