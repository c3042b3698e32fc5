package errmsg

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestXMLSyntax(t *testing.T) {
	for _, c := range []struct {
		msg  string
		line int
		want string
	}{
		{"unexpected EOF", 3, "line 3: unexpected EOF"},
		{"invalid XML name: ..", 1, `line 1: invalid XML name: ".."`},
		{"invalid character entity &a. (no semicolon)", 2, "line 2: invalid character entity &a. (no semicolon)"},
		{"expected attribute name in element", 7, "line 7: expected attribute name in element"},
		{"element <a> closed by </b\n>", 4, "line 4: element <a> closed by </b >"},
		{"invalid XML name: a\u2028.", 1, `line 1: invalid XML name: "a ."`},
	} {
		if got := XMLSyntax(&xml.SyntaxError{Msg: c.msg, Line: c.line}); got != c.want {
			t.Errorf("XMLSyntax(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
}

// TestXMLSyntaxOfDecoder: whatever the decoder says of a malformed document
// is one line and does not end in a period.
func TestXMLSyntaxOfDecoder(t *testing.T) {
	for _, doc := range []string{"<a>", "<..>", "<a b=1>", "<a>&a.</a>", "<a>\n</b\n>", "<a></a>\n<b/>x."} {
		d := xml.NewDecoder(strings.NewReader(doc))
		var err error
		for err == nil {
			_, err = d.Token()
		}
		se, ok := err.(*xml.SyntaxError)
		if !ok {
			continue
		}
		if msg := XMLSyntax(se); strings.ContainsAny(msg, "\n\r") || strings.HasSuffix(msg, ".") {
			t.Errorf("%q: %q", doc, msg)
		}
	}
}
