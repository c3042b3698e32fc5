package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/jsonl"
)

// nonNegative names the Int fields that may not be negative.
var nonNegative = map[string]bool{"max_executions": true}

func isControl(c rune) bool { return unicode.IsControl(c) }

// textControl returns the first control character other than tab, newline
// and carriage return in the strings of the JSON value raw, keys too:
// PostgreSQL cannot take NUL out of a JSON document as text (the operator
// view's data->>'label' fails), and the others have no place in what
// central shows.
func textControl(raw json.RawMessage) (rune, bool) {
	// A control character is escaped in JSON (\uXXXX, \b, ...), or is
	// DEL or a C1 character (0xC2 0x80-0x9F in UTF-8): most values have
	// none of those bytes.
	if bytes.IndexByte(raw, '\\') < 0 && bytes.IndexByte(raw, 0x7f) < 0 && bytes.IndexByte(raw, 0xc2) < 0 {
		return 0, false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	return controlIn(v)
}

func controlIn(v any) (rune, bool) {
	switch v := v.(type) {
	case string:
		for _, c := range v {
			if isControl(c) && c != '\t' && c != '\n' && c != '\r' {
				return c, true
			}
		}
	case []any:
		for _, e := range v {
			if c, ok := controlIn(e); ok {
				return c, true
			}
		}
	case map[string]any:
		for k, e := range v {
			if c, ok := controlIn(k); ok {
				return c, true
			}
			if c, ok := controlIn(e); ok {
				return c, true
			}
		}
	}
	return 0, false
}

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
			return bad("must be a string, not %s", jsonl.Kind(raw))
		}
		if s == "" {
			return conv{}
		}
		if f.Kind == taosync.Time {
			return convTime(s)
		}
		return conv{raw: mustJSON(s)}
	case taosync.List:
		if jsonl.Kind(raw) != "an array" {
			return bad("must be an array of strings, not %s", jsonl.Kind(raw))
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return bad("must be an array of strings: %v", err)
		}
		strs := make([]string, len(elems))
		for i, e := range elems {
			s, ok := jsonString(e)
			if !ok {
				return bad("element %d of the list must be a string, not %s", i+1, jsonl.Kind(e))
			}
			strs[i] = s
		}
		return convList(strs)
	case taosync.Bool:
		switch string(raw) {
		case "true", "false":
			return conv{raw: raw}
		}
		return bad("must be true or false, not %s", jsonl.Kind(raw))
	case taosync.Int:
		if jsonl.Kind(raw) != "a number" {
			return bad("must be an integer, not %s", jsonl.Kind(raw))
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
