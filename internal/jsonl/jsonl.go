// Package jsonl holds the JSON Lines reading that the master-data loader
// (internal/load) and the results reader (internal/results) share: reading
// bounded lines, splitting a line's object into its members, and checking
// that JSON text is valid UTF-8 without lone surrogates. Messages are left
// to the callers: errors here say what is wrong, not how to word it.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// LineReader reads the lines of a buffered reader, holding at most one line
// of up to a maximum length.
type LineReader struct {
	br  *bufio.Reader
	max int
	buf []byte // the current line, reused
}

// NewLineReader returns a LineReader of br that keeps lines of at most max
// bytes (without their terminator).
func NewLineReader(br *bufio.Reader, max int) *LineReader {
	return &LineReader{br: br, max: max}
}

// ReadLine reads the next line, without its "\n" or "\r\n". A line longer
// than the maximum is read to its end but not kept: tooLong is set. It
// returns io.EOF after the last line, and read errors as they are. The line
// is valid until the next call.
func (l *LineReader) ReadLine() (line []byte, tooLong bool, err error) {
	buf := l.buf[:0]
	read := false
	for {
		chunk, err := l.br.ReadSlice('\n')
		read = read || len(chunk) > 0
		if !tooLong {
			if len(buf)+len(chunk) > l.max+2 { // room for "\r\n"
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
	l.buf = buf
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	return buf, tooLong || len(buf) > l.max, nil
}

// Member is one member of a JSON object: its key, its value and the text
// from after the previous member to the end of the value. The text is for
// ValidText: encoding/json replaces bad UTF-8 and lone surrogates with
// U+FFFD instead of refusing them.
type Member struct {
	Key  string
	Raw  json.RawMessage
	Text []byte
}

// Errors of Split other than a *SyntaxError.
var (
	ErrNotObject = errors.New("not a JSON object")
	ErrTrailing  = errors.New("unexpected data after the JSON object")
)

// SyntaxError is invalid JSON in a line.
type SyntaxError struct {
	Err error // the decoder's error
}

func (e *SyntaxError) Error() string { return "invalid JSON: " + e.Err.Error() }

func (e *SyntaxError) Unwrap() error { return e.Err }

// Truncated reports whether the line ends inside the object.
func (e *SyntaxError) Truncated() bool {
	return errors.Is(e.Err, io.EOF) || errors.Is(e.Err, io.ErrUnexpectedEOF)
}

// Split splits a line holding one JSON object into its members, in order.
// useNumber decodes a number where the object should start as a
// json.Number rather than a float64 (which refuses huge numbers as invalid
// JSON). Its errors are ErrNotObject, ErrTrailing or a *SyntaxError.
func Split(line []byte, useNumber bool) ([]Member, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if useNumber {
		dec.UseNumber()
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, &SyntaxError{err}
	}
	if tok != json.Delim('{') {
		return nil, ErrNotObject
	}
	var members []Member
	start := dec.InputOffset()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &SyntaxError{err}
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &SyntaxError{errors.New("object key is not a string")}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, &SyntaxError{err}
		}
		end := dec.InputOffset()
		members = append(members, Member{Key: key, Raw: raw, Text: line[start:end]})
		start = end
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, &SyntaxError{err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrTrailing
	}
	return members, nil
}

// Kind names the JSON type of a (valid) raw value, for messages.
func Kind(raw json.RawMessage) string {
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

// ValidText reports whether b, raw JSON text, is valid UTF-8 and has no \u
// escape of an unpaired UTF-16 surrogate (which encoding/json would
// silently turn into U+FFFD).
func ValidText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character: skipped, so "\\u" is no escape
		if i >= len(b) || b[i] != 'u' {
			continue // some other escape (or, in invalid JSON, none)
		}
		r, ok := hex4(b[i+1:])
		if !ok {
			continue // invalid JSON, refused by the decoder
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

// hex4 decodes four hex digits at the start of b.
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

// EachLine calls fn with each non-empty line of a JSON Lines payload held
// in memory (a bundle chunk's), in order.
func EachLine(data []byte, fn func([]byte) error) error {
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		if len(line) > 0 {
			if err := fn(line); err != nil {
				return err
			}
		}
		data = rest
	}
	return nil
}
