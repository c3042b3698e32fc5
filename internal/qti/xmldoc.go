package qti

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/taosync/taosync/internal/errmsg"
)

const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

// xmlReader reads one XML document with a strict encoding/xml decoder and
// adds the well-formedness checks encoding/xml leaves out: one root
// element, nothing but whitespace, comments and processing instructions
// around it, the XML declaration only at the start, no DTD or other
// declaration (so no entity can be declared, let alone expanded), no
// duplicate attributes, no undeclared namespace prefixes, and bounded
// nesting.
type xmlReader struct {
	d     *xml.Decoder
	depth int
	ns    map[string]int // namespace names declared by the open elements
	decls [][]string     // namespace names each open element declared
	first bool           // no token read yet
	root  bool           // the root element has started
	done  bool           // the root element has ended
}

func newXMLReader(r io.Reader) *xmlReader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		br.Discard(3) // UTF-8 byte order mark
	}
	d := xml.NewDecoder(br)
	d.Strict = true
	d.CharsetReader = charsetReader
	return &xmlReader{d: d, ns: map[string]int{}, first: true}
}

// next returns the next token, io.EOF after the end of a complete
// document, or an error that starts with the line it was found on. Errors
// from the underlying reader (which wrap ErrTooLarge or ErrUnreadable) are
// returned unchanged.
func (x *xmlReader) next() (xml.Token, error) {
	tok, err := x.token()
	if err != nil {
		var se *xml.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, errors.New(errmsg.XMLSyntax(se))
		case err == io.EOF || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnreadable):
			return nil, err
		}
		return nil, fmt.Errorf("line %d: %w", x.line(), err)
	}
	return tok, nil
}

// line is the line of the input the last token ended on: for a start
// element, the line of its closing ">".
func (x *xmlReader) line() int {
	line, _ := x.d.InputPos()
	return line
}

// token is next with the decoder's errors as they are and its own without
// a line.
func (x *xmlReader) token() (xml.Token, error) {
	tok, err := x.d.Token()
	if err == io.EOF {
		if !x.root {
			return nil, errors.New("no root element")
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	first := x.first
	x.first = false
	switch t := tok.(type) {
	case xml.ProcInst:
		if strings.EqualFold(t.Target, "xml") && !first {
			return nil, errors.New("xml declaration is not at the start")
		}
	case xml.Directive:
		if strings.HasPrefix(string(t), "DOCTYPE") {
			return nil, errors.New("document type declarations (<!DOCTYPE) are not allowed")
		}
		return nil, errors.New("<! declarations are not allowed")
	case xml.CharData:
		if x.depth == 0 && strings.Trim(string(t), " \t\r\n") != "" {
			return nil, errors.New("text outside the root element")
		}
	case xml.StartElement:
		if x.done {
			return nil, errors.New("more than one root element")
		}
		x.root = true
		x.depth++
		if x.depth > maxXMLDepth {
			return nil, fmt.Errorf("elements nested deeper than %d", maxXMLDepth)
		}
		var declared []string
		for _, a := range t.Attr {
			if (a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns") && a.Value != "" {
				declared = append(declared, a.Value)
				x.ns[a.Value]++
			}
		}
		x.decls = append(x.decls, declared)
		if !x.declared(t.Name.Space) {
			return nil, fmt.Errorf("element %s uses undeclared namespace prefix %s", q(t.Name.Local), q(t.Name.Space))
		}
		if err := x.checkAttrs(t); err != nil {
			return nil, err
		}
	case xml.EndElement:
		for _, s := range x.decls[len(x.decls)-1] {
			x.ns[s]--
		}
		x.decls = x.decls[:len(x.decls)-1]
		x.depth--
		if x.depth == 0 {
			x.done = true
		}
	}
	return tok, nil
}

func (x *xmlReader) declared(space string) bool {
	return space == "" || space == xmlNamespace || x.ns[space] > 0
}

func (x *xmlReader) checkAttrs(t xml.StartElement) error {
	var seen map[xml.Name]bool
	if len(t.Attr) > 8 {
		seen = make(map[xml.Name]bool, len(t.Attr))
	}
	for i, a := range t.Attr {
		if a.Name.Space != "xmlns" && !x.declared(a.Name.Space) {
			return fmt.Errorf("attribute %s of element %s uses undeclared namespace prefix %s", q(a.Name.Local), q(t.Name.Local), q(a.Name.Space))
		}
		dup := false
		if seen != nil {
			dup = seen[a.Name]
			seen[a.Name] = true
		} else {
			for _, b := range t.Attr[:i] {
				dup = dup || b.Name == a.Name
			}
		}
		if dup {
			return fmt.Errorf("element %s repeats attribute %s", q(t.Name.Local), q(a.Name.Local))
		}
	}
	return nil
}

// attr returns the value of the unqualified attribute local, if present.
func attr(t xml.StartElement, local string) (string, bool) {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// xmlBase returns the value of xml:base, if present.
func xmlBase(t xml.StartElement) (string, bool) {
	for _, a := range t.Attr {
		if a.Name.Space == xmlNamespace && a.Name.Local == "base" {
			return a.Value, true
		}
	}
	return "", false
}

// charsetReader lets the decoder read the encodings real QTI packages
// declare besides UTF-8 (WebDeveloperTest1 declares ISO-8859-1); any
// other encoding is refused.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	br, ok := in.(io.ByteReader)
	if !ok {
		br = bufio.NewReader(in)
	}
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8":
		return in, nil
	case "us-ascii", "ascii":
		return &latin1Reader{r: br, ascii: true}, nil
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1":
		return &latin1Reader{r: br}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %s", q(label))
}

// latin1Reader converts ISO-8859-1 (or, strictly, US-ASCII) to UTF-8.
type latin1Reader struct {
	r       io.ByteReader
	ascii   bool
	pending byte // second byte of a two-byte UTF-8 sequence, or 0
}

func (l *latin1Reader) ReadByte() (byte, error) {
	if l.pending != 0 {
		b := l.pending
		l.pending = 0
		return b, nil
	}
	b, err := l.r.ReadByte()
	if err != nil || b < 0x80 {
		return b, err
	}
	if l.ascii {
		return 0, fmt.Errorf("byte 0x%02x is not us-ascii", b)
	}
	l.pending = 0x80 | b&0x3f
	return 0xc0 | b>>6, nil
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	for i := range p {
		b, err := l.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = b
	}
	return len(p), nil
}
