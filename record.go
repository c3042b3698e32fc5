package taosync

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Change says what a record does to the client.
type Change int

// Changes.
const (
	Unchanged Change = iota // the client holds it already (full snapshots only)
	Created
	Updated
	Deleted
)

// Record is one entity as it goes to a client.
type Record struct {
	ID      string
	Version int64
	Data    []byte // the entity's JSON object; nil when Deleted
	Change  Change
}

// RecordFormat is the form of the records AppendRecord writes. Snapshots
// kept (DataExport.Keep) in another form are not sent again: a change to
// AppendRecord changes it.
const RecordFormat = 1

// AppendRecord appends the bundle form of a record: a JSON object with the
// id, central's version, and either the entity's data or "deleted": true.
// It is built by hand because it runs once per record of every export and
// the entity's data is already JSON.
func AppendRecord(b []byte, r Record) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	if r.Change == Deleted {
		return append(b, `,"deleted":true}`...)
	}
	b = append(b, `,"data":`...)
	b = append(b, r.Data...)
	return append(b, '}')
}

// appendString appends s as encoding/json writes it. An id of printable
// ASCII without a quote, a backslash or one of the characters json escapes
// for HTML (<, >, &), as ids mostly are, is written between quotes as is,
// without json.Marshal's allocation; any other goes through json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// recordLine is a record line as encoding/json reads it.
type recordLine struct {
	ID      string          `json:"id"`
	V       int64           `json:"v"`
	Data    json.RawMessage `json:"data"`
	Deleted bool            `json:"deleted"`
}

// ParseRecord reads one record line. The lines AppendRecord writes take a
// fast path that slices the line instead of decoding it (the entity's data
// is stored as the JSON it is); anything else is decoded in full. A record
// is valid with an id and either data or "deleted": true. The line does not
// say whether the client holds an older version: a record read is Deleted,
// or Updated when it carries data.
func ParseRecord(line []byte) (Record, bool) {
	if r, ok := fastRecord(line); ok {
		return r, true
	}
	var l recordLine
	if err := json.Unmarshal(line, &l); err != nil || l.ID == "" || (!l.Deleted && len(l.Data) == 0) || (l.Deleted && len(l.Data) > 0) {
		return Record{}, false
	}
	if l.Deleted {
		return Record{ID: l.ID, Version: l.V, Change: Deleted}, true
	}
	return Record{ID: l.ID, Version: l.V, Data: l.Data, Change: Updated}, true
}

// fastRecord parses {"id":"ID","v":N,"data":{...}} and
// {"id":"ID","v":N,"deleted":true} where ID needs no unescaping.
func fastRecord(line []byte) (Record, bool) {
	var r Record
	rest, ok := bytes.CutPrefix(line, []byte(`{"id":"`))
	if !ok {
		return r, false
	}
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || bytes.IndexByte(rest[:end], '\\') >= 0 || !utf8.Valid(rest[:end]) {
		return r, false
	}
	r.ID = string(rest[:end])
	if rest, ok = bytes.CutPrefix(rest[end+1:], []byte(`,"v":`)); !ok {
		return r, false
	}
	i := 0
	for i < len(rest) && i < 18 && rest[i] >= '0' && rest[i] <= '9' {
		r.Version = r.Version*10 + int64(rest[i]-'0')
		i++
	}
	if i == 0 {
		return r, false
	}
	rest = rest[i:]
	if bytes.Equal(rest, []byte(`,"deleted":true}`)) {
		r.Change = Deleted
		return r, true
	}
	data, ok := bytes.CutPrefix(rest, []byte(`,"data":{`))
	if !ok || len(data) < 2 || data[len(data)-1] != '}' || data[len(data)-2] != '}' {
		return r, false
	}
	r.Data = rest[len(`,"data":`) : len(rest)-1]
	r.Change = Updated
	// The signature vouches for the bytes; the store still gets valid JSON.
	return r, json.Valid(r.Data)
}
