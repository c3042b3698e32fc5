package qti

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// qtiVersion names the documents and elements of one QTI major version.
type qtiVersion struct {
	namespaces map[string]bool
	test       string // root of the assessmentTest document
	section    string // root of a document an assessmentSectionRef names
	item       string // root of an assessmentItem document
	itemRef    string
	sectionRef string
}

// versions are the QTI major versions, by the number testTypes gives.
var versions = map[int]qtiVersion{
	2: {
		namespaces: map[string]bool{
			"http://www.imsglobal.org/xsd/imsqti_v2p0": true,
			"http://www.imsglobal.org/xsd/imsqti_v2p1": true,
			"http://www.imsglobal.org/xsd/imsqti_v2p2": true,
		},
		test:       "assessmentTest",
		section:    "assessmentSection",
		item:       "assessmentItem",
		itemRef:    "assessmentItemRef",
		sectionRef: "assessmentSectionRef",
	},
	3: {
		namespaces: map[string]bool{"http://www.imsglobal.org/xsd/imsqtiasi_v3p0": true},
		test:       "qti-assessment-test",
		section:    "qti-assessment-section",
		item:       "qti-assessment-item",
		itemRef:    "qti-assessment-item-ref",
		sectionRef: "qti-assessment-section-ref",
	},
}

// itemRef is one assessmentItemRef of the test.
type itemRef struct {
	path string // the item document, resolved and present in the package
	doc  string // the test or section document the reference is in
	line int
}

// testWalk reads the assessmentTest document and the section documents
// it references, collecting the item references.
type testWalk struct {
	a        *archive
	v        qtiVersion
	typ      string          // the test resource's type
	refs     []itemRef       // in document order
	ids      map[string]int  // index in refs of each reference identifier
	sections []string        // section documents to read
	queued   map[string]bool // sections, to read each once
}

// checkTest parses the assessmentTest document of the test resource and
// the section documents it references, checks every item and section
// reference, and returns the test's title and its item references.
func checkTest(a *archive, test *resource) (string, []itemRef, error) {
	w := &testWalk{a: a, v: versions[testTypes[test.typ]], typ: test.typ, ids: map[string]int{}, queued: map[string]bool{}}
	title, err := w.walk(test.href, w.v.test)
	if err != nil {
		return "", nil, err
	}
	// walk appends to sections as it finds references; the section
	// documents are read once each, so a loop of references ends.
	for i := 0; i < len(w.sections); i++ {
		if _, err := w.walk(w.sections[i], w.v.section); err != nil {
			return "", nil, err
		}
	}
	return title, w.refs, nil
}

// walk reads the document doc, whose root must be root, and returns its
// title attribute.
func (w *testWalk) walk(doc, root string) (string, error) {
	d, err := openDoc(w.a, doc, ErrBadTest)
	if err != nil {
		return "", err
	}
	defer d.Close()
	var ns, title string
	for {
		tok, err := d.next()
		if err == io.EOF {
			return title, nil
		}
		if err != nil {
			return "", err
		}
		t, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		local := t.Name.Local
		switch {
		case d.depth() == 1:
			if !w.v.namespaces[t.Name.Space] || local != root {
				return "", d.errorf("root element %s in namespace %s is not %s for resource type %s", q(local), q(t.Name.Space), root, w.typ)
			}
			ns = t.Name.Space
			title, _ = attr(t, "title")
		case t.Name.Space == ns && (local == w.v.itemRef || local == w.v.sectionRef):
			id, _ := attr(t, "identifier")
			href, ok := attr(t, "href")
			if !ok {
				return "", d.errorf("%s %s has no href", local, q(id))
			}
			p, err := d.file(href, local+" "+q(id)+" href")
			if err != nil {
				return "", err
			}
			if local == w.v.sectionRef {
				if !w.queued[p] {
					w.queued[p] = true
					w.sections = append(w.sections, p)
				}
				break
			}
			// The identifier of an item reference must be unique within
			// the test: results name the item by it.
			if strings.TrimSpace(id) == "" {
				return "", d.errorf("%s %s has no identifier", local, q(href))
			}
			if i, ok := w.ids[id]; ok {
				prev := w.refs[i]
				return "", d.errorf("%s identifier %s is already used on line %d of %s", local, q(id), prev.line, q(prev.doc))
			}
			w.ids[id] = len(w.refs)
			w.refs = append(w.refs, itemRef{path: p, doc: doc, line: d.x.line()})
		}
	}
}

// docReader reads one XML document of the test (the test, a section, an
// item) token by token, keeping for each open element the path its hrefs
// resolve against, xml:base applied. Its errors name the document and the
// line, and wrap sentinel unless they are about the archive or a path.
type docReader struct {
	a        *archive
	e        *entryReader
	x        *xmlReader
	path     string
	sentinel error
	bases    []string
	// declared, if set, says whether the manifest declares a file for
	// this document, which may then name it by its path from the package
	// root.
	declared func(file string) bool
}

func openDoc(a *archive, path string, sentinel error) (*docReader, error) {
	f := a.files[path]
	if f.UncompressedSize64 > maxXMLBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes (limit %d for an xml document)", ErrTooLarge, q(path), f.UncompressedSize64, maxXMLBytes)
	}
	e, err := a.open(f)
	if err != nil {
		return nil, err
	}
	return &docReader{a: a, e: e, x: newXMLReader(e), path: path, sentinel: sentinel}, nil
}

func (d *docReader) Close() error { return d.e.Close() }

// next returns the next token, or io.EOF after the end of the document.
func (d *docReader) next() (xml.Token, error) {
	tok, err := d.x.next()
	switch {
	case err == io.EOF || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnreadable):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %v", d.sentinel, q(d.path), err)
	}
	switch t := tok.(type) {
	case xml.EndElement:
		d.bases = d.bases[:len(d.bases)-1]
	case xml.StartElement:
		base := d.base()
		if v, ok := xmlBase(t); ok {
			if base, err = docPath(d.sentinel, d.path, d.x.line(), base, v, "xml:base", true); err != nil {
				return nil, err
			}
		}
		d.bases = append(d.bases, base)
	}
	return tok, nil
}

// depth is the number of open elements: 1 in the root.
func (d *docReader) depth() int { return len(d.bases) }

// base is the path hrefs in the current element resolve against.
func (d *docReader) base() string {
	if len(d.bases) == 0 {
		return d.path
	}
	return d.bases[len(d.bases)-1]
}

// errorf is an error about the document on the current line.
func (d *docReader) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s: line %d: "+format, append([]any{d.sentinel, q(d.path), d.x.line()}, args...)...)
}

// file resolves href, an attribute of the current element that what
// names, to a file that must be in the package.
func (d *docReader) file(href, what string) (string, error) {
	p, err := docPath(d.sentinel, d.path, d.x.line(), d.base(), href, what, false)
	if err != nil {
		return "", err
	}
	if d.a.files[p] != nil {
		return p, nil
	}
	if d.declared != nil {
		if root, err := docPath(d.sentinel, d.path, d.x.line(), "", href, what, false); err == nil && d.a.files[root] != nil && d.declared(root) {
			return root, nil
		}
	}
	return "", fmt.Errorf("%w: %s: line %d: %s %s: %s is not in the package", ErrMissingFile, q(d.path), d.x.line(), what, q(href), q(p))
}

// docPath checks an href (or, if isBase, an xml:base) on the given line of
// doc, a test, section or item document, and resolves it against base.
// Unlike in the manifest, ".." is allowed while the result stays inside
// the package. Malformed references wrap sentinel.
func docPath(sentinel error, doc string, line int, base, raw, what string, isBase bool) (string, error) {
	p, why, escape := decodeHref(raw)
	if why == "" && p != "" {
		why, escape = badPath(p, true), true
	}
	if why == "" && p == "" && !isBase {
		why = "is empty"
	}
	if why != "" {
		if escape {
			sentinel = ErrPathEscape
		}
		return "", fmt.Errorf("%w: %s: line %d: %s %s %s", sentinel, q(doc), line, what, q(raw), why)
	}
	r, ok := resolve(base, p)
	if !ok {
		return "", fmt.Errorf("%w: %s: line %d: %s %s leaves the package", ErrPathEscape, q(doc), line, what, q(raw))
	}
	if !isBase && (r == "" || strings.HasSuffix(r, "/")) {
		return "", fmt.Errorf("%w: %s: line %d: %s %s names a folder, not a file", ErrMissingFile, q(doc), line, what, q(raw))
	}
	return r, nil
}
