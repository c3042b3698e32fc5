package load

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/taosync/taosync"
)

// nonNegative names the Int fields that may not be negative.
var nonNegative = map[string]bool{"max_executions": true}

func isControl(c rune) bool { return unicode.IsControl(c) }

// conv is the result of converting one known field's value: raw is nil when
// the value counts as absent (an empty string or CSV cell), reason is set
// when the value is bad.
type conv struct {
	raw    json.RawMessage
	reason string
}

func bad(format string, args ...any) conv { return conv{reason: fmt.Sprintf(format, args...)} }

// convCSV converts a CSV cell of known field f.
func convCSV(f taosync.Field, cell string) conv {
	if cell == "" {
		if f.Kind == taosync.List {
			return conv{raw: json.RawMessage("[]")}
		}
		return conv{} // absent; defaults are filled in later
	}
	switch f.Kind {
	case taosync.String:
		return conv{raw: mustJSON(cell)}
	case taosync.List:
		return convList(strings.Split(cell, "|"))
	case taosync.Bool:
		switch strings.ToLower(cell) {
		case "true", "1", "yes":
			return conv{raw: json.RawMessage("true")}
		case "false", "0", "no":
			return conv{raw: json.RawMessage("false")}
		}
		return bad("not a boolean: %s (want true/false, 1/0 or yes/no)", quote(cell))
	case taosync.Int:
		return convInt(f, cell)
	case taosync.Time:
		return convTime(cell)
	}
	return bad("unsupported field kind %d", f.Kind)
}

func convList(elems []string) conv {
	for i, e := range elems {
		if e == "" {
			return bad("element %d of the list is empty", i+1)
		}
	}
	return conv{raw: mustJSON(elems)}
}

// convInt parses a decimal integer (an optional sign, then digits).
func convInt(f taosync.Field, s string) conv {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return bad("integer out of range: %s", quote(s))
		}
		return bad("not an integer: %s", quote(s))
	}
	if n < 0 && nonNegative[f.Name] {
		return bad("must not be negative (0 means unlimited): %d", n)
	}
	return conv{raw: json.RawMessage(strconv.FormatInt(n, 10))}
}

// convTime checks an RFC 3339 time and keeps it as given.
func convTime(s string) conv {
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return bad("not an RFC 3339 time: %s (e.g. 2026-03-01T09:00:00Z)", quote(s))
	}
	return conv{raw: mustJSON(s)}
}

// convJSON converts the JSON value of known field f.
func convJSON(f taosync.Field, raw json.RawMessage) conv {
	switch f.Kind {
	case taosync.String, taosync.Time:
		s, ok := jsonString(raw)
		if !ok {
			return bad("must be a string, not %s", jsonType(raw))
		}
		if s == "" {
			return conv{}
		}
		if f.Kind == taosync.Time {
			return convTime(s)
		}
		return conv{raw: mustJSON(s)}
	case taosync.List:
		if jsonType(raw) != "an array" {
			return bad("must be an array of strings, not %s", jsonType(raw))
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return bad("must be an array of strings: %v", err)
		}
		strs := make([]string, len(elems))
		for i, e := range elems {
			s, ok := jsonString(e)
			if !ok {
				return bad("element %d of the list must be a string, not %s", i+1, jsonType(e))
			}
			strs[i] = s
		}
		return convList(strs)
	case taosync.Bool:
		switch string(raw) {
		case "true", "false":
			return conv{raw: raw}
		}
		return bad("must be true or false, not %s", jsonType(raw))
	case taosync.Int:
		if jsonType(raw) != "a number" {
			return bad("must be an integer, not %s", jsonType(raw))
		}
		return convInt(f, string(raw))
	}
	return bad("unsupported field kind %d", f.Kind)
}

// jsonString decodes raw if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonType names the JSON type of a (valid) raw value, for messages.
func jsonType(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// quote quotes a value for a message, cut short if long.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// validText reports whether b, raw JSON text, is valid UTF-8 and has no
// \u escape of an unpaired UTF-16 surrogate (which decoders would silently
// turn into U+FFFD).
func validText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++
		if i >= len(b) || b[i] != 'u' {
			continue // some other escape (or, in invalid JSON, none)
		}
		r, ok := hex4(b[i+1:])
		if !ok {
			continue
		}
		i += 4
		switch {
		case 0xDC00 <= r && r <= 0xDFFF:
			return false // a low surrogate first
		case 0xD800 <= r && r <= 0xDBFF:
			// Must be followed by \u and a low surrogate.
			if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return false
			}
			lo, ok := hex4(b[i+3:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
