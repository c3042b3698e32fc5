package results

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/taosync/taosync/internal/errmsg"
)

// Namespaces of IMS QTI results reporting: 2.1, 2.2 and 3.0, whose result
// schemas (imsqti_result_v2p1.xsd, v2p2, v3p0) describe the same elements
// with the same rules as far as ValidateResultXML checks them. QTI 2.0 had
// no results reporting (assessmentResult first appeared in 2.1), so there is
// no v2p0 namespace to accept.
var resultNamespaces = []string{
	"http://www.imsglobal.org/xsd/imsqti_result_v2p1",
	"http://www.imsglobal.org/xsd/imsqti_result_v2p2",
	"http://www.imsglobal.org/xsd/imsqti_result_v3p0",
}

const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

// ValidateResultXML checks that doc is one IMS QTI assessmentResult
// document: at most MaxResultXMLBytes of UTF-8 (a leading byte order mark
// is tolerated); well-formed XML, namespaces included (no undeclared
// prefix, no repeated attribute); no DTD or other <! declaration, so no
// entity can be declared or expanded; an XML declaration, if any, first
// and saying UTF-8; nesting at most MaxResultXMLDepth deep; nothing but
// whitespace, comments and processing instructions around the root.
//
// Beyond that it checks what the QTI 2.1, 2.2 and 3.0 result schemas
// require of the elements above the values:
//   - the root is assessmentResult in one of their namespaces; its children
//     in that namespace are one context, at most one testResult and any
//     number of itemResults (testResult and itemResult are optional; the
//     order is not checked, see rootChild);
//   - context holds only sessionIdentifiers, each with sourceID and
//     identifier;
//   - testResult has identifier and datestamp;
//   - itemResult has identifier, datestamp and sessionStatus (final,
//     initial, pendingResponseProcessing or pendingSubmission);
//   - testResult and itemResult hold only responseVariable,
//     outcomeVariable and templateVariable (and an itemResult a
//     candidateComment), each variable with identifier and cardinality
//     (single, multiple, ordered or record).
//
// Elements in other namespaces are left alone, and so is what is inside a
// variable (the values). The form of the values of attributes other than
// the enumerations is not checked: the schema makes datestamp an
// xs:dateTime, but real engines write other forms (Cito's
// "2019-08-01T09:33:52:751"), and the time of a result is the execution's
// finished_at, which is checked. The error is one line naming the element and
// saying what is wrong.
//
// A document is read first by scan, several times faster than encoding/xml
// but sure only of documents it finds valid; any other is read again by
// decode, with encoding/xml, whose verdict and error are the answer.
func ValidateResultXML(doc []byte) error {
	doc, err := precheck(doc)
	if err != nil {
		return err
	}
	if newValidator(doc).scan() == nil {
		return nil
	}
	return newValidator(doc).decode()
}

// precheck refuses a document too large, not UTF-8 or empty, and returns
// it without its byte order mark.
func precheck(doc []byte) ([]byte, error) {
	if len(doc) > MaxResultXMLBytes {
		return nil, fmt.Errorf("larger than %d bytes (%d MiB)", MaxResultXMLBytes, MaxResultXMLBytes>>20)
	}
	if !utf8.Valid(doc) {
		return nil, errors.New("invalid UTF-8")
	}
	// A byte order mark is legal at the start of a UTF-8 XML document, but
	// encoding/xml would take it for text before the root element.
	doc = bytes.TrimPrefix(doc, []byte("\uFEFF"))
	if len(bytes.Trim(doc, " \t\r\n")) == 0 {
		return nil, errors.New("empty document")
	}
	return doc, nil
}

// validator checks one document's tokens, which decode or scan give to
// its method token.
type validator struct {
	doc   []byte
	depth int
	ns    map[string]int // namespace names declared by the open elements
	decls [][]string     // namespace names each open element declared
	root  string         // the root element's namespace, once it started
	done  bool           // the root element has ended
	// open holds, per open element, its name if it is one whose children
	// are checked ("" for the others and everything inside them).
	open []string
	// Children of the root in its namespace.
	contexts, testResults int
}

func newValidator(doc []byte) *validator {
	return &validator{doc: doc, ns: map[string]int{}, decls: make([][]string, 0, 16), open: make([]string, 0, 16)}
}

// decode reads the document with encoding/xml's strict Decoder.
func (v *validator) decode() error {
	d := xml.NewDecoder(bytes.NewReader(v.doc))
	d.Strict = true
	// encoding/xml asks for a CharsetReader only for an encoding other
	// than UTF-8. The document travels inside a JSON string, which is
	// Unicode, so a declaration of any other encoding is wrong.
	var charsetErr error
	d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		charsetErr = fmt.Errorf("declares encoding %s, but results must be UTF-8", quote(label))
		return nil, charsetErr
	}
	for first := true; ; first = false {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			switch {
			case charsetErr != nil:
				return charsetErr
			case errors.As(err, &se):
				return fmt.Errorf("not well-formed XML: %s", errmsg.XMLSyntax(se))
			}
			return fmt.Errorf("not well-formed XML: %s", errmsg.OneLine(strings.TrimPrefix(err.Error(), "xml: ")))
		}
		if err := v.token(tok, off, first); err != nil {
			return err
		}
	}
	return v.finish()
}

// finish checks what the whole document must have held, once its last
// token is read.
func (v *validator) finish() error {
	switch {
	case v.root == "":
		return errors.New("no root element")
	case v.contexts == 0:
		return errors.New("assessmentResult has no context element")
	}
	return nil
}

// token checks one token that starts at offset off in the document; first
// says whether it is the document's first. It keeps none of tok's slices
// once it returns, so scan gives every element the same slice of
// attributes.
func (v *validator) token(tok xml.Token, off int64, first bool) error {
	switch t := tok.(type) {
	case xml.Directive:
		// <!DOCTYPE, <!ENTITY, <!ELEMENT, ...: refused before anything
		// could be declared, so the entity expansion of a "billion laughs"
		// document or an external entity never happens (encoding/xml does
		// not expand them either, but then the document would still be
		// refused for its undefined entities, later and less clearly).
		if bytes.HasPrefix(t, []byte("DOCTYPE")) {
			return errors.New("a document type declaration (<!DOCTYPE) is not allowed")
		}
		return errors.New("<! declarations (DTD, entities) are not allowed")
	case xml.ProcInst:
		if strings.EqualFold(t.Target, "xml") && !first {
			return errors.New("the XML declaration is not at the start of the document")
		}
	case xml.CharData:
		if v.depth > 0 {
			return nil
		}
		// CDATA sections (which encoding/xml gives as CharData) are not
		// allowed outside the root element, even holding only whitespace.
		if bytes.HasPrefix(v.doc[off:], []byte("<![CDATA[")) {
			return errors.New("a CDATA section outside the root element")
		}
		if len(bytes.Trim(t, " \t\r\n")) != 0 {
			if v.root == "" {
				return errors.New("text before the root element")
			}
			return errors.New("text after the root element")
		}
	case xml.StartElement:
		return v.start(t)
	case xml.EndElement:
		for _, s := range v.decls[len(v.decls)-1] {
			v.ns[s]--
		}
		v.decls = v.decls[:len(v.decls)-1]
		v.open = v.open[:len(v.open)-1]
		v.depth--
		if v.depth == 0 {
			v.done = true
		}
	}
	return nil
}

func (v *validator) start(t xml.StartElement) error {
	if v.done {
		return errors.New("more than one root element (or something other than a comment after it)")
	}
	v.depth++
	if v.depth > MaxResultXMLDepth {
		return fmt.Errorf("elements nested deeper than %d", MaxResultXMLDepth)
	}
	var declared []string
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			declared = append(declared, a.Value)
			v.ns[a.Value]++
		}
	}
	v.decls = append(v.decls, declared)
	// encoding/xml leaves an undeclared prefix in Name.Space where a
	// declared one becomes the namespace name; an unknown name there is
	// an undeclared prefix.
	if !v.declared(t.Name.Space) {
		return fmt.Errorf("element %s uses the undeclared namespace prefix %s", quote(t.Name.Local), quote(t.Name.Space))
	}
	for i, a := range t.Attr {
		if a.Name.Space != "xmlns" && !v.declared(a.Name.Space) {
			return fmt.Errorf("attribute %s of element %s uses the undeclared namespace prefix %s", quote(a.Name.Local), quote(t.Name.Local), quote(a.Name.Space))
		}
		// Quadratic, but encoding/xml has already read the whole tag,
		// and real elements have a handful of attributes; a tag with
		// thousands is refused outright rather than compared pairwise.
		if i >= maxAttrs {
			return fmt.Errorf("element %s has more than %d attributes", quote(t.Name.Local), maxAttrs)
		}
		for _, b := range t.Attr[:i] {
			if a.Name == b.Name {
				return fmt.Errorf("element %s repeats attribute %s", quote(t.Name.Local), quote(a.Name.Local))
			}
		}
	}
	if v.depth == 1 {
		return v.startRoot(t)
	}
	parent := v.open[len(v.open)-1]
	name := ""
	if parent != "" && t.Name.Space == v.root {
		if err := v.child(parent, t); err != nil {
			return err
		}
		// The root's children are the only ones whose children are
		// checked in turn.
		if parent == "assessmentResult" {
			name = t.Name.Local
		}
	}
	v.open = append(v.open, name)
	return nil
}

func (v *validator) startRoot(t xml.StartElement) error {
	if t.Name.Local != "assessmentResult" {
		return fmt.Errorf("the root element is %s, not assessmentResult", quote(t.Name.Local))
	}
	if !slices.Contains(resultNamespaces, t.Name.Space) {
		if t.Name.Space == "" {
			return fmt.Errorf("assessmentResult is in no namespace, not %s", strings.Join(resultNamespaces, ", "))
		}
		return fmt.Errorf("assessmentResult is in namespace %s, not %s", quote(t.Name.Space), strings.Join(resultNamespaces, ", "))
	}
	v.root = t.Name.Space
	v.open = append(v.open, t.Name.Local)
	return nil
}

// Values of the enumerated attributes.
var (
	sessionStatuses = []string{"final", "initial", "pendingResponseProcessing", "pendingSubmission"}
	cardinalities   = []string{"single", "multiple", "ordered", "record"}
)

// child checks an element t in the results namespace whose parent, named
// parent, is one whose children are checked.
func (v *validator) child(parent string, t xml.StartElement) error {
	name := t.Name.Local
	switch parent {
	case "assessmentResult":
		return v.rootChild(t)
	case "context":
		if name != "sessionIdentifier" {
			return unexpected(name, parent, "sessionIdentifier")
		}
		return required(t, "", "sourceID", "identifier")
	case "testResult", "itemResult":
		switch name {
		case "responseVariable", "outcomeVariable", "templateVariable":
			if err := required(t, attr(t, "identifier"), "identifier", "cardinality"); err != nil {
				return err
			}
			return oneOf(t, "cardinality", cardinalities)
		case "candidateComment":
			if parent == "itemResult" {
				return nil
			}
		}
		if parent == "itemResult" {
			return unexpected(name, parent, "responseVariable, outcomeVariable, templateVariable and candidateComment")
		}
		return unexpected(name, parent, "responseVariable, outcomeVariable and templateVariable")
	}
	return nil
}

// rootChild checks a child of assessmentResult in its namespace: one
// context, at most one testResult, any number of itemResults. The schema
// lists them in that order, but real engines write the testResult after
// the item results (Cito's does), and a reader finds them by name, so the
// order is not checked.
func (v *validator) rootChild(t xml.StartElement) error {
	name := t.Name.Local
	switch name {
	case "context":
		v.contexts++
		if v.contexts > 1 {
			return errors.New("assessmentResult has more than one context element")
		}
	case "testResult":
		v.testResults++
		if v.testResults > 1 {
			return errors.New("assessmentResult has more than one testResult element")
		}
	case "itemResult":
	default:
		return unexpected(name, "assessmentResult", "context, testResult and itemResult")
	}
	id := attr(t, "identifier")
	switch name {
	case "testResult":
		return required(t, id, "identifier", "datestamp")
	case "itemResult":
		if err := required(t, id, "identifier", "datestamp", "sessionStatus"); err != nil {
			return err
		}
		return oneOf(t, "sessionStatus", sessionStatuses)
	}
	return nil
}

func unexpected(name, parent, allowed string) error {
	return fmt.Errorf("%s holds an element %s (it holds only %s)", parent, quote(name), allowed)
}

// attrOK returns the value of t's attribute without a namespace.
func attrOK(t xml.StartElement, name string) (string, bool) {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func attr(t xml.StartElement, name string) string {
	s, _ := attrOK(t, name)
	return s
}

// element names t in a message: with its identifier id, if it has one.
func element(t xml.StartElement, id string) string {
	if id == "" {
		return t.Name.Local
	}
	return t.Name.Local + " " + quote(id)
}

// required refuses t if it lacks one of the attributes; id is its
// identifier, for the message.
func required(t xml.StartElement, id string, names ...string) error {
	for _, n := range names {
		if _, ok := attrOK(t, n); !ok {
			return fmt.Errorf("%s has no %s attribute", element(t, id), n)
		}
	}
	return nil
}

// oneOf refuses t if its attribute (present) is none of the values.
func oneOf(t xml.StartElement, name string, values []string) error {
	// An enumeration's whitespace is collapsed before it is compared.
	s := attr(t, name)
	if !slices.Contains(values, strings.Trim(s, xmlSpace)) {
		return fmt.Errorf("%s: %s %s is not one of %s", element(t, attr(t, "identifier")), name, quote(s), strings.Join(values, ", "))
	}
	return nil
}

// xmlSpace is the white space XML collapses in an enumeration's value
// before comparing it.
const xmlSpace = " \t\r\n"

func (v *validator) declared(space string) bool {
	return space == "" || space == xmlNamespace || v.ns[space] > 0
}

// maxAttrs bounds the attributes of one element: QTI result elements have
// at most about ten, so 256 refuses only abuse, and keeps the check for
// repeated attributes cheap.
const maxAttrs = 256

// quote quotes a name taken from the document for an error message,
// keeping it to one line and bounded.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return fmt.Sprintf("%q", s)
}
