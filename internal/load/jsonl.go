package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/taosync/taosync/internal/jsonl"
)

// nextJSONL reads and converts the next non-blank line.
func (r *Reader) nextJSONL() (*row, int, error) {
	var line []byte
	for {
		l, tooLong, err := r.lines.ReadLine()
		if err != nil {
			return nil, 0, err
		}
		r.line++
		if tooLong {
			return nil, r.line, r.rowErr(r.line, "", "line longer than %d bytes (16 MiB)", MaxLineLen)
		}
		if len(bytes.TrimSpace(l)) > 0 {
			line = l
			break
		}
	}
	n := r.line
	members, e := r.parseObject(line, n)
	if e != nil {
		return nil, n, e
	}
	given := make(map[string]bool, len(members))
	for _, m := range members {
		if !jsonl.ValidText(m.Text) {
			return nil, n, r.rowErr(n, strings.ToValidUTF8(m.Key, "\uFFFD"), "invalid UTF-8")
		}
		if m.Key == "" {
			return nil, n, r.rowErr(n, "", "a field has an empty name")
		}
		if given[m.Key] {
			return nil, n, r.rowErr(n, m.Key, "field given twice")
		}
		given[m.Key] = true
	}
	if !jsonl.ValidText(line) {
		// Not inside any member: cannot happen in valid JSON, but be sure.
		return nil, n, r.rowErr(n, "", "invalid UTF-8")
	}

	rw := &row{data: make(map[string]json.RawMessage, len(members)+2), given: given}
	idGiven := false
	for _, m := range members {
		if m.Key != idField {
			continue
		}
		idGiven = true
		id, ok := jsonString(m.Raw)
		if !ok {
			return nil, n, r.rowErr(n, idField, "must be a string, not %s", jsonl.Kind(m.Raw))
		}
		rw.id = id
	}
	if !idGiven {
		return nil, n, r.rowErr(n, idField, "required field is missing")
	}
	if e := r.checkID(rw.id, n); e != nil {
		return nil, n, e
	}
	for _, m := range members {
		if m.Key == idField {
			continue
		}
		if reason := r.refused(m.Key); reason != "" {
			return nil, n, r.rowErr(n, m.Key, "%s", reason)
		}
		if m.Key == passwordField {
			s, ok := jsonString(m.Raw)
			if !ok {
				return nil, n, r.rowErr(n, m.Key, "must be a string, not %s", jsonl.Kind(m.Raw))
			}
			rw.password = s // "" is no password
			continue
		}
		f, ok := r.known[m.Key]
		if !ok {
			rw.data[m.Key] = m.Raw // unknown: kept as given
			continue
		}
		c := convJSON(f, m.Raw)
		if c.reason != "" {
			return nil, n, r.rowErr(n, m.Key, "%s", c.reason)
		}
		if c.raw != nil {
			rw.data[m.Key] = c.raw
		}
	}
	return rw, n, nil
}

// parseObject splits a line holding one JSON object into its members.
func (r *Reader) parseObject(line []byte, n int) ([]jsonl.Member, *RowError) {
	members, err := jsonl.Split(line, true)
	var se *jsonl.SyntaxError
	switch {
	case err == nil:
		return members, nil
	case !errors.As(err, &se):
		return nil, r.rowErr(n, "", "%v", err) // not an object, or data after it
	case se.Truncated():
		return nil, r.rowErr(n, "", "invalid JSON: the line ends inside the object (JSON Lines needs one whole object per line)")
	}
	return nil, r.rowErr(n, "", "%v", se)
}
