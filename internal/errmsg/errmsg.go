// Package errmsg shapes what parsers of untrusted input say into the
// one-line messages taosync prints: the XML of QTI packages and result
// documents, the JSON of result lines.
package errmsg

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// XMLSyntax is "line N: what" for a syntax error of encoding/xml, on one line:
// the characters of the document it may quote that would break the line
// become spaces. Some messages end on the input they name, bare ("invalid
// XML name: .."); where that input ends in a period, it is quoted, so that
// the message does not read as a finished sentence.
func XMLSyntax(se *xml.SyntaxError) string {
	msg := OneLine(se.Msg)
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasSuffix(msg, ".") {
		msg = msg[:i+2] + strconv.Quote(msg[i+2:])
	}
	return fmt.Sprintf("line %d: %s", se.Line, msg)
}

// OneLine keeps a message that may quote the input to one line.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
}

// MaxShort bounds a message that may quote input a peer sent.
const MaxShort = 200

// Short keeps a message that may quote input a peer sent to one line of at
// most MaxShort bytes (and an ellipsis), so that a huge value sent is not
// echoed back, logged or recorded whole.
func Short(s string) string {
	s = OneLine(s)
	if len(s) <= MaxShort {
		return s
	}
	return strings.ToValidUTF8(s[:MaxShort], "") + "…"
}
