package taosync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"unicode/utf8"
	"unsafe"
)

// OutgoingExecution is an execution as a result bundle carries it: the
// execution, its revision on the client and its content hash.
type OutgoingExecution struct {
	Execution
	Revision    int64  `json:"revision"`
	ContentHash string `json:"content_hash"`
}

// AppendExecution appends the line of a result bundle that carries x: its
// JSON encoding.
func AppendExecution(b []byte, x OutgoingExecution) []byte {
	line, err := json.Marshal(x)
	if err != nil {
		panic(err) // strings and an integer: cannot fail
	}
	return append(b, line...)
}

// ParseExecution reads one execution line of a result bundle and returns
// it with the content hash of the execution it carries (which the line
// claims in x.ContentHash). ok is false for a line that is not one valid
// execution record with an id.
//
// The lines AppendExecution writes take a fast path: each string is
// checked to be exactly as encoding/json writes it, so that the line's
// bytes up to the end of result_xml, closed with "}", are the execution's
// JSON encoding, and the content hash is taken of them instead of encoding
// the execution again. Anything else is decoded in full and hashed by
// Execution.ContentHash.
func ParseExecution(line []byte) (x OutgoingExecution, hash string, ok bool) {
	if x, end, ok := fastExecution(line); ok {
		h := sha256.New()
		h.Write(line[:end])
		h.Write([]byte{'}'})
		return x, hex.EncodeToString(h.Sum(nil)), true
	}
	if err := json.Unmarshal(line, &x); err != nil || x.ID == "" {
		return x, "", false
	}
	return x, x.Execution.ContentHash(), true
}

// fastExecution parses a line exactly as AppendExecution writes it: its
// fields in order, finished_at only when not empty, every string in
// encoding/json's canonical form, the revision a non-negative integer of at
// most 18 digits. end is the offset just after
// result_xml's value.
func fastExecution(line []byte) (x OutgoingExecution, end int, ok bool) {
	rest := line
	field := func(key string, v *string) bool {
		if !bytes.HasPrefix(rest, []byte(key)) {
			return false
		}
		var valid bool
		*v, rest, valid = canonicalString(rest[len(key):])
		return valid
	}
	if !field(`{"id":`, &x.ID) || x.ID == "" || !field(`,"delivery":`, &x.Delivery) ||
		!field(`,"test_taker":`, &x.TestTaker) || !field(`,"test_center":`, &x.TestCenter) ||
		!field(`,"status":`, &x.Status) || !field(`,"started_at":`, &x.StartedAt) {
		return x, 0, false
	}
	// json.Marshal leaves out an empty finished_at (omitempty).
	if bytes.HasPrefix(rest, []byte(`,"finished_at":`)) && (!field(`,"finished_at":`, &x.FinishedAt) || x.FinishedAt == "") {
		return x, 0, false
	}
	if !field(`,"result_xml":`, &x.ResultXML) {
		return x, 0, false
	}
	end = len(line) - len(rest)
	var found bool
	if rest, found = bytes.CutPrefix(rest, []byte(`,"revision":`)); !found {
		return x, 0, false
	}
	i := 0
	for i < len(rest) && i < 18 && rest[i] >= '0' && rest[i] <= '9' {
		x.Revision = x.Revision*10 + int64(rest[i]-'0')
		i++
	}
	if i == 0 || (rest[0] == '0' && i > 1) {
		return x, 0, false
	}
	rest = rest[i:]
	if !field(`,"content_hash":`, &x.ContentHash) || !bytes.Equal(rest, []byte{'}'}) {
		return x, 0, false
	}
	return x, end, true
}

// canonicalString reads the JSON string at the start of b and returns its
// value and what follows it, if the string is exactly as encoding/json
// writes its value (HTML-escaped: < > & as \u003c \u003e \u0026; U+2028
// and U+2029 escaped; other characters, valid UTF-8 only, as they are).
// Any other spelling, even valid JSON, is refused: then the bytes would not
// be the canonical encoding the content hash is taken of.
func canonicalString(b []byte) (s string, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, false
	}
	b = b[1:]
	// The value, once an escape means it is not a slice of b: unescaped
	// into out, which is only appended to and, at the closing quote, made
	// the string without copying the 4 KiB documents again. Appends, not
	// a strings.Builder: a document has an escape every ten bytes or so
	// (< > " and new lines), and the Builder's checks on each write were a
	// third of the time.
	var out []byte
	start := 0
	for i := 0; i < len(b); {
		// A run of plain bytes, the most of a document, by the tightest
		// loop: no other test a byte.
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		c := b[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(b[i:])
			if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
				return "", nil, false
			}
			i += size
			continue
		}
		if c == '"' {
			if out == nil {
				return string(b[:i]), b[i+1:], true
			}
			out = append(out, b[start:i]...)
			return unsafe.String(unsafe.SliceData(out), len(out)), b[i+1:], true
		}
		if c != '\\' || i+1 >= len(b) {
			return "", nil, false
		}
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[start:i]...)
		switch e := b[i+1]; e {
		case '"', '\\':
			out = append(out, e)
			i += 2
		case 'b', 'f', 'n', 'r', 't':
			out = append(out, shortEscapes[e])
			i += 2
		case 'u':
			if i+6 > len(b) {
				return "", nil, false
			}
			r, ok := escapedRune(b[i+2 : i+6])
			if !ok {
				return "", nil, false
			}
			out = utf8.AppendRune(out, r)
			i += 6
		default:
			return "", nil, false
		}
		start = i
	}
	return "", nil, false // no closing quote
}

// plain holds the ASCII bytes encoding/json writes as they are (with HTML
// escaping on); the others, and the bytes of other characters, are false.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// shortEscapes maps the letters of the two-character escapes encoding/json
// writes to the control characters they stand for, and those characters
// back to their letters (0 for a byte that has no such escape).
var shortEscapes = func() (t [utf8.RuneSelf]byte) {
	for _, p := range [][2]byte{{'b', '\b'}, {'f', '\f'}, {'n', '\n'}, {'r', '\r'}, {'t', '\t'}} {
		t[p[0]], t[p[1]] = p[1], p[0]
	}
	return t
}()

// escapedRune is the character of a \uXXXX escape as encoding/json writes
// it: < > & U+2028 U+2029, and the control characters without a
// two-character escape. ok is false for any other escape.
func escapedRune(hex []byte) (r rune, ok bool) {
	switch string(hex) {
	case "003c":
		return '<', true
	case "003e":
		return '>', true
	case "0026":
		return '&', true
	case "2028":
		return '\u2028', true
	case "2029":
		return '\u2029', true
	}
	if string(hex[:3]) != "000" && string(hex[:3]) != "001" {
		return 0, false
	}
	low := unhex(hex[3])
	r = rune(hex[2]-'0')<<4 | rune(low)
	return r, low <= 0xf && shortEscapes[r] == 0
}

// unhex is the value of a lower-case hex digit (encoding/json writes lower
// case), 0xff for anything else.
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 0xff
}
