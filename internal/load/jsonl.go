package load

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// readLine reads the next line, without its "\n" or "\r\n". A line longer
// than MaxLineLen is read to its end but not kept: tooLong is set.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	buf := r.lineBuf[:0]
	read := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		read = read || len(chunk) > 0
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineLen+2 { // room for "\r\n"
				tooLong = true
				buf = buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == nil: // chunk ends with '\n'
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if !read {
				return nil, false, io.EOF
			}
		default:
			return nil, false, err
		}
		break
	}
	r.lineBuf = buf
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	if len(buf) > MaxLineLen {
		tooLong = true
	}
	return buf, tooLong, nil
}

// member is one member of a JSON object: its key, its value and the text
// from after the previous member to the end of the value.
type member struct {
	key  string
	raw  json.RawMessage
	text []byte
}

// nextJSONL reads and converts the next non-blank line.
func (r *Reader) nextJSONL() (*row, int, error) {
	var line []byte
	for {
		l, tooLong, err := r.readLine()
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
		if !validText(m.text) {
			return nil, n, r.rowErr(n, strings.ToValidUTF8(m.key, "\uFFFD"), "invalid UTF-8")
		}
		if m.key == "" {
			return nil, n, r.rowErr(n, "", "a field has an empty name")
		}
		if given[m.key] {
			return nil, n, r.rowErr(n, m.key, "field given twice")
		}
		given[m.key] = true
	}
	if !validText(line) {
		// Not inside any member: cannot happen in valid JSON, but be sure.
		return nil, n, r.rowErr(n, "", "invalid UTF-8")
	}

	rw := &row{data: make(map[string]json.RawMessage, len(members)+2), given: given}
	idGiven := false
	for _, m := range members {
		if m.key != idField {
			continue
		}
		idGiven = true
		id, ok := jsonString(m.raw)
		if !ok {
			return nil, n, r.rowErr(n, idField, "must be a string, not %s", jsonType(m.raw))
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
		if m.key == idField {
			continue
		}
		if reason := r.refused(m.key); reason != "" {
			return nil, n, r.rowErr(n, m.key, "%s", reason)
		}
		if m.key == passwordField {
			s, ok := jsonString(m.raw)
			if !ok {
				return nil, n, r.rowErr(n, m.key, "must be a string, not %s", jsonType(m.raw))
			}
			rw.password = s // "" is no password
			continue
		}
		f, ok := r.known[m.key]
		if !ok {
			rw.data[m.key] = m.raw // unknown: kept as given
			continue
		}
		c := convJSON(f, m.raw)
		if c.reason != "" {
			return nil, n, r.rowErr(n, m.key, "%s", c.reason)
		}
		if c.raw != nil {
			rw.data[m.key] = c.raw
		}
	}
	return rw, n, nil
}

// parseObject splits a line holding one JSON object into its members.
func (r *Reader) parseObject(line []byte, n int) ([]member, *RowError) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	invalid := func(err error) ([]member, *RowError) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, r.rowErr(n, "", "invalid JSON: the line ends inside the object (JSON Lines needs one whole object per line)")
		}
		return nil, r.rowErr(n, "", "invalid JSON: %v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		return invalid(err)
	}
	if tok != json.Delim('{') {
		return nil, r.rowErr(n, "", "not a JSON object")
	}
	var members []member
	start := dec.InputOffset()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalid(err)
		}
		key, ok := tok.(string)
		if !ok {
			return invalid(errors.New("object key is not a string"))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return invalid(err)
		}
		end := dec.InputOffset()
		members = append(members, member{key: key, raw: raw, text: line[start:end]})
		start = end
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return invalid(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, r.rowErr(n, "", "unexpected data after the JSON object")
	}
	return members, nil
}
