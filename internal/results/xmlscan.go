package results

import (
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
)

// maxBinds bounds the namespace declarations in scope at once that scan
// reads; a document with more goes to encoding/xml.
const maxBinds = 32

// errUnsure is scan's answer for a document it cannot read as surely as
// encoding/xml does.
var errUnsure = errors.New("not read by the scanner")

// scan reads the document as encoding/xml's strict Decoder reads it, for
// the XML that result documents are written in, and gives its tokens to
// token, as decode does. It is a plain walk over the bytes, which takes a
// fraction of the Decoder's time.
//
// scan may only be trusted when it returns nil: then decode would have
// given token the same tokens (but the text inside the root, which token
// ignores) and returned nil too. For anything it does not read as surely
// as the Decoder it returns errUnsure: a <! declaration, a name not of
// ASCII letters, digits, '_', '-' and '.' (with one colon between a prefix
// and a local name), an entity or character reference other than the
// predefined ones and those of legal characters, "]]>" outside a CDATA
// section, an XML declaration saying more than version 1.0, encoding UTF-8
// and standalone. Any other error, a refusal of token's among them, may be
// one decode would find first or word differently, so it is not shown to
// users either: decode reads the document again and decides.
func (v *validator) scan() error {
	// Room for the elements of a common document without a reallocation.
	sc := &scanner{v: v, s: string(v.doc), first: true,
		open: make([]openTag, 0, 16), binds: make([]binding, 0, 8), attrs: make([]xml.Attr, 0, 16)}
	for sc.i < len(sc.s) {
		if err := sc.step(); err != nil {
			return err
		}
	}
	if len(sc.open) > 0 {
		return errUnsure
	}
	return v.finish()
}

// scanner is scan's position in a document.
type scanner struct {
	v *validator
	// s is the document, from which names and values are cut without a
	// copy.
	s     string
	i     int
	first bool // no token given yet
	open  []openTag
	// binds holds the namespace prefixes the open elements declared, as
	// encoding/xml's Decoder keeps them: the innermost last.
	binds []binding
	// attrs is the slice of attributes of every element in turn.
	attrs []xml.Attr
}

type openTag struct {
	name  string // as written, with its prefix
	binds int    // length of binds before its declarations
}

type binding struct{ prefix, space string }

// emit gives token the token that starts at off.
func (sc *scanner) emit(tok xml.Token, off int) error {
	first := sc.first
	sc.first = false
	return sc.v.token(tok, int64(off), first)
}

// step reads the token at sc.i.
func (sc *scanner) step() error {
	off := sc.i
	rest := sc.s[off:]
	if rest[0] != '<' {
		if _, _, ok := sc.text('<'); !ok {
			return errUnsure
		}
		if len(sc.open) > 0 {
			return nil // token ignores text inside the root
		}
		return sc.emit(xml.CharData(sc.v.doc[off:sc.i]), off)
	}
	switch {
	case strings.HasPrefix(rest, "</"):
		return sc.endTag()
	case strings.HasPrefix(rest, "<?"):
		return sc.procInst()
	case strings.HasPrefix(rest, "<!--"):
		return sc.comment()
	case strings.HasPrefix(rest, "<![CDATA["):
		return sc.cdata()
	case strings.HasPrefix(rest, "<!"):
		return errUnsure
	}
	return sc.startTag()
}

func (sc *scanner) startTag() error {
	off := sc.i
	sc.i++
	raw, prefix, local, ok := sc.name()
	// encoding/xml gives elements named xmlns, or with that prefix, no
	// namespace of their own.
	if !ok || prefix == "xmlns" || prefix == "" && local == "xmlns" {
		return errUnsure
	}
	attrs := sc.attrs[:0]
	empty := false
	for {
		sc.space()
		rest := sc.s[sc.i:]
		if strings.HasPrefix(rest, ">") {
			sc.i++
			break
		}
		if strings.HasPrefix(rest, "/>") {
			sc.i += 2
			empty = true
			break
		}
		_, prefix, local, ok := sc.name()
		if !ok {
			return errUnsure
		}
		value, ok := sc.attrValue()
		// token refuses an element with more than maxAttrs attributes.
		if !ok || len(attrs) == maxAttrs {
			return errUnsure
		}
		attrs = append(attrs, xml.Attr{Name: xml.Name{Space: prefix, Local: local}, Value: value})
	}
	sc.attrs = attrs
	// As in encoding/xml, an element's declarations apply to its own name
	// and attributes.
	sc.open = append(sc.open, openTag{name: raw, binds: len(sc.binds)})
	for _, a := range attrs {
		switch {
		case a.Name.Space == "xmlns":
			sc.binds = append(sc.binds, binding{a.Name.Local, a.Value})
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			sc.binds = append(sc.binds, binding{"", a.Value})
		}
	}
	// namespace walks the declarations in scope for every name: a document
	// with many of them in scope at once would make it slow (encoding/xml
	// keeps a map), so it goes to encoding/xml. Real ones have a handful.
	if len(sc.binds) > maxBinds {
		return errUnsure
	}
	for i := range attrs {
		attrs[i].Name.Space = sc.namespace(attrs[i].Name.Space, false)
	}
	name := xml.Name{Space: sc.namespace(prefix, true), Local: local}
	if err := sc.emit(xml.StartElement{Name: name, Attr: attrs}, off); err != nil {
		return err
	}
	if empty {
		return sc.end(off)
	}
	return nil
}

// namespace returns the namespace encoding/xml's Decoder gives a name
// with prefix, of an element or of an attribute (its method translate):
// an undeclared prefix is left as it is.
func (sc *scanner) namespace(prefix string, element bool) string {
	switch {
	case prefix == "xmlns", prefix == "" && !element:
		return prefix
	case prefix == "xml":
		return xmlNamespace
	}
	for i := len(sc.binds) - 1; i >= 0; i-- {
		if sc.binds[i].prefix == prefix {
			return sc.binds[i].space
		}
	}
	return prefix
}

func (sc *scanner) endTag() error {
	off := sc.i
	sc.i += 2
	raw, _, _, ok := sc.name()
	sc.space()
	if !ok || !strings.HasPrefix(sc.s[sc.i:], ">") || len(sc.open) == 0 || sc.open[len(sc.open)-1].name != raw {
		return errUnsure
	}
	sc.i++
	return sc.end(off)
}

// end closes the innermost open element.
func (sc *scanner) end(off int) error {
	top := sc.open[len(sc.open)-1]
	sc.open = sc.open[:len(sc.open)-1]
	sc.binds = sc.binds[:top.binds]
	// token reads no end tag's name.
	return sc.emit(xml.EndElement{}, off)
}

func (sc *scanner) procInst() error {
	off := sc.i
	sc.i += 2
	target, _, _, ok := sc.name()
	sc.space()
	end := strings.Index(sc.s[sc.i:], "?>")
	if !ok || end < 0 {
		return errUnsure
	}
	inst := sc.s[sc.i : sc.i+end]
	if strings.EqualFold(target, "xml") && (target != "xml" || !plainDeclaration(inst)) {
		return errUnsure
	}
	tok := xml.ProcInst{Target: target, Inst: sc.v.doc[sc.i : sc.i+end]}
	sc.i += end + len("?>")
	return sc.emit(tok, off)
}

// plainDeclaration reports whether the content of an XML declaration
// says only version 1.0, encoding UTF-8 and standalone. encoding/xml looks
// for the first version= and encoding= in it, whose values these are.
func plainDeclaration(content string) bool {
	for _, f := range strings.FieldsFunc(content, isSpace) {
		name, value, _ := strings.Cut(f, "=")
		if len(value) < 2 || value[0] != value[len(value)-1] || value[0] != '"' && value[0] != '\'' {
			return false
		}
		switch value = value[1 : len(value)-1]; {
		case name == "version" && value == "1.0":
		case name == "encoding" && strings.EqualFold(value, "utf-8"):
		case name == "standalone" && (value == "yes" || value == "no"):
		default:
			return false
		}
	}
	return true
}

func (sc *scanner) comment() error {
	off := sc.i
	body := off + len("<!--")
	// encoding/xml ends a comment at its first "--", which must be
	// followed by '>'.
	end := strings.Index(sc.s[body:], "--")
	if end < 0 || !strings.HasPrefix(sc.s[body+end:], "-->") {
		return errUnsure
	}
	sc.i = body + end + len("-->")
	return sc.emit(xml.Comment(sc.v.doc[body:body+end]), off)
}

func (sc *scanner) cdata() error {
	off := sc.i
	body := off + len("<![CDATA[")
	end := strings.Index(sc.s[body:], "]]>")
	if end < 0 {
		return errUnsure
	}
	for i := body; i < body+end; i++ {
		if illegalAt(sc.s, i) {
			return errUnsure
		}
	}
	sc.i = body + end + len("]]>")
	if len(sc.open) > 0 {
		return nil // token ignores text inside the root
	}
	return sc.emit(xml.CharData(sc.v.doc[body:body+end]), off)
}

// name reads a name at sc.i: raw as written, split at its colon, if any,
// into prefix and local. ok is false for a name not of ASCII letters,
// digits, '_', '-' and '.' with at most one colon, each part starting with
// a letter or '_': every such name is one encoding/xml reads and splits
// the same way.
func (sc *scanner) name() (raw, prefix, local string, ok bool) {
	start, colon := sc.i, -1
	for ; sc.i < len(sc.s) && isNameByte(sc.s[sc.i]); sc.i++ {
		if sc.s[sc.i] == ':' {
			if colon >= 0 {
				return "", "", "", false
			}
			colon = sc.i
		}
	}
	// encoding/xml takes every non-ASCII byte as part of a name.
	if sc.i < len(sc.s) && sc.s[sc.i] >= 0x80 {
		return "", "", "", false
	}
	raw, local = sc.s[start:sc.i], sc.s[start:sc.i]
	if colon >= 0 {
		prefix, local = sc.s[start:colon], sc.s[colon+1:sc.i]
		if !isNameStart(prefix) {
			return "", "", "", false
		}
	}
	if !isNameStart(local) {
		return "", "", "", false
	}
	return raw, prefix, local, true
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':'
}

// isNameStart reports whether s is not empty and starts with a letter or
// '_'.
func isNameStart(s string) bool {
	return s != "" && ('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z' || s[0] == '_')
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\n'
}

// space skips white space, as encoding/xml does inside tags.
func (sc *scanner) space() {
	for sc.i < len(sc.s) && isSpace(rune(sc.s[sc.i])) {
		sc.i++
	}
}

// attrValue reads `="value"` or `='value'` at sc.i (with white space
// around the '=') and returns the value as encoding/xml gives it: its
// references replaced and its line ends made "\n".
func (sc *scanner) attrValue() (string, bool) {
	sc.space()
	if !strings.HasPrefix(sc.s[sc.i:], "=") {
		return "", false
	}
	sc.i++
	sc.space()
	if sc.i == len(sc.s) || sc.s[sc.i] != '"' && sc.s[sc.i] != '\'' {
		return "", false
	}
	quote := sc.s[sc.i]
	sc.i++
	raw, plain, ok := sc.text(quote)
	if !ok || sc.i == len(sc.s) {
		return "", false
	}
	sc.i++ // the closing quote
	if plain {
		return raw, true
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '&':
			r, n := charRef(raw[i:])
			b.WriteRune(r)
			i += n - 1
		case '\r':
			b.WriteByte('\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// text reads text at sc.i up to the byte stop, '<' for text between tags
// or the quote that ends an attribute's value, and reports whether
// encoding/xml's strict Decoder surely reads it without an error: every
// character one XML allows (no control character but tab, line feed and
// carriage return, no U+FFFE or U+FFFF), every '&' the start of a
// reference that charRef reads, no '<' and no "]]>". plain says that it
// holds neither a reference nor a carriage return, which encoding/xml
// would replace.
func (sc *scanner) text(stop byte) (raw string, plain, ok bool) {
	s := sc.s
	start := sc.i
	plain = true
	i := start
	for ; i < len(s) && s[i] != stop; i++ {
		c := s[i]
		if plainText[c] {
			continue
		}
		switch {
		case c == '&':
			_, n := charRef(s[i:])
			if n == 0 {
				return "", false, false
			}
			i += n - 1
			plain = false
		case c == '\r':
			plain = false
		case c == ']':
			if strings.HasPrefix(s[i:], "]]>") {
				return "", false, false
			}
		case c == '<' || illegalAt(s, i):
			return "", false, false
		}
	}
	sc.i = i
	return s[start:i], plain, true
}

// illegalAt reports whether s[i] starts a character XML does not allow: a
// control character but tab, line feed and carriage return, U+FFFE or
// U+FFFF (s is valid UTF-8, so it holds no surrogate).
func illegalAt(s string, i int) bool {
	c := s[i]
	return c < 0x20 && c != '\t' && c != '\n' && c != '\r' ||
		c == 0xEF && (strings.HasPrefix(s[i:], "\uFFFE") || strings.HasPrefix(s[i:], "\uFFFF"))
}

// plainText holds the bytes text needs not look at: the printable ASCII
// characters but '&', '<' and ']'.
var plainText = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '&' && c != '<' && c != ']'
	}
	return t
}()

// charRef reads the entity or character reference at the start of s
// ("&amp;", "&#233;", "&#xE9;") and returns the character it stands for
// and its length; n is 0 if it is not one of the predefined entities of
// XML or a reference to a character XML allows.
func charRef(s string) (r rune, n int) {
	// The longest is "&#x10FFFF;".
	end := strings.IndexByte(s[:min(len(s), 11)], ';')
	if end < 0 {
		return 0, 0
	}
	switch s[1:end] {
	case "lt":
		return '<', end + 1
	case "gt":
		return '>', end + 1
	case "amp":
		return '&', end + 1
	case "apos":
		return '\'', end + 1
	case "quot":
		return '"', end + 1
	}
	digits, base := s[1:end], 10
	if strings.HasPrefix(digits, "#x") {
		digits, base = digits[2:], 16
	} else if strings.HasPrefix(digits, "#") {
		digits = digits[1:]
	} else {
		return 0, 0
	}
	// ParseUint would take a sign or an underscore, which encoding/xml
	// refuses.
	for i := 0; i < len(digits); i++ {
		if !('0' <= digits[i] && digits[i] <= '9' || base == 16 && ('a' <= digits[i] && digits[i] <= 'f' || 'A' <= digits[i] && digits[i] <= 'F')) {
			return 0, 0
		}
	}
	u, err := strconv.ParseUint(digits, base, 32)
	if err != nil || !isXMLChar(rune(u)) {
		return 0, 0
	}
	return rune(u), end + 1
}

// isXMLChar reports whether XML allows the character r (the Char
// production of its specification, as encoding/xml checks it).
func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
