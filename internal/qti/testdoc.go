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
	id   string // the reference's identifier
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
	f := w.a.files[doc]
	if f.UncompressedSize64 > maxXMLBytes {
		return "", fmt.Errorf("%w: %s is %d bytes (limit %d for an xml document)", ErrTooLarge, q(doc), f.UncompressedSize64, maxXMLBytes)
	}
	e, err := w.a.open(f)
	if err != nil {
		return "", err
	}
	defer e.Close()
	x := newXMLReader(e)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: line %d: "+format, append([]any{ErrBadTest, q(doc), x.line()}, args...)...)
	}
	var (
		bases []string // the path hrefs in each open element are relative to
		ns    string
		title string
	)
	for {
		tok, err := x.next()
		if err == io.EOF {
			return title, nil
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnreadable) {
				return "", err
			}
			return "", fmt.Errorf("%w: %s: %v", ErrBadTest, q(doc), err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			bases = bases[:len(bases)-1]
		case xml.StartElement:
			base := doc
			if len(bases) > 0 {
				base = bases[len(bases)-1]
			}
			if v, ok := xmlBase(t); ok {
				if base, err = docPath(ErrBadTest, doc, x.line(), base, v, "xml:base", true); err != nil {
					return "", err
				}
			}
			local := t.Name.Local
			switch {
			case len(bases) == 0:
				if !w.v.namespaces[t.Name.Space] || local != root {
					return "", bad("root element %s in namespace %s is not %s for resource type %s", q(local), q(t.Name.Space), root, w.typ)
				}
				ns = t.Name.Space
				title, _ = attr(t, "title")
			case t.Name.Space == ns && (local == w.v.itemRef || local == w.v.sectionRef):
				id, _ := attr(t, "identifier")
				href, ok := attr(t, "href")
				if !ok {
					return "", bad("%s %s has no href", local, q(id))
				}
				p, err := docPath(ErrBadTest, doc, x.line(), base, href, local+" "+q(id)+" href", false)
				if err != nil {
					return "", err
				}
				if w.a.files[p] == nil {
					return "", fmt.Errorf("%w: %s: line %d: %s %s href %s: %s is not in the package", ErrMissingFile, q(doc), x.line(), local, q(id), q(href), q(p))
				}
				if local == w.v.sectionRef {
					if !w.queued[p] {
						w.queued[p] = true
						w.sections = append(w.sections, p)
					}
					break
				}
				// The identifier of an item reference must be unique
				// within the test: results name the item by it.
				if strings.TrimSpace(id) == "" {
					return "", bad("%s %s has no identifier", local, q(href))
				}
				if i, ok := w.ids[id]; ok {
					prev := w.refs[i]
					return "", bad("%s identifier %s is already used on line %d of %s", local, q(id), prev.line, q(prev.doc))
				}
				w.ids[id] = len(w.refs)
				w.refs = append(w.refs, itemRef{id: id, path: p, doc: doc, line: x.line()})
			}
			bases = append(bases, base)
		}
	}
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
