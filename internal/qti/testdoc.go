package qti

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The namespaces, root element and reference elements of an assessmentTest
// document, by QTI major version.
var testDocs = map[int]struct {
	namespaces map[string]bool
	root       string
	refs       map[string]bool
}{
	2: {
		namespaces: map[string]bool{
			"http://www.imsglobal.org/xsd/imsqti_v2p0": true,
			"http://www.imsglobal.org/xsd/imsqti_v2p1": true,
			"http://www.imsglobal.org/xsd/imsqti_v2p2": true,
		},
		root: "assessmentTest",
		refs: map[string]bool{"assessmentItemRef": true, "assessmentSectionRef": true},
	},
	3: {
		namespaces: map[string]bool{"http://www.imsglobal.org/xsd/imsqtiasi_v3p0": true},
		root:       "qti-assessment-test",
		refs:       map[string]bool{"qti-assessment-item-ref": true, "qti-assessment-section-ref": true},
	},
}

// checkTest parses the assessmentTest document of the test resource and
// checks every item and section it references by href; it returns the
// test's title.
func checkTest(a *archive, test *resource) (string, error) {
	f := a.files[test.href]
	if f.UncompressedSize64 > maxXMLBytes {
		return "", fmt.Errorf("%w: %s is %d bytes (limit %d for an xml document)", ErrTooLarge, q(test.href), f.UncompressedSize64, maxXMLBytes)
	}
	e, err := a.open(f)
	if err != nil {
		return "", err
	}
	defer e.Close()
	doc := testDocs[testTypes[test.typ]]
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrBadTest, q(test.href)}, args...)...)
	}
	var (
		x     = newXMLReader(e)
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
			return "", bad("%v", err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			bases = bases[:len(bases)-1]
		case xml.StartElement:
			base := test.href
			if len(bases) > 0 {
				base = bases[len(bases)-1]
			}
			if v, ok := xmlBase(t); ok {
				if base, err = testPath(test.href, base, v, "xml:base", true); err != nil {
					return "", err
				}
			}
			local := t.Name.Local
			switch {
			case len(bases) == 0:
				if !doc.namespaces[t.Name.Space] || local != doc.root {
					return "", bad("root element %s in namespace %s is not %s for resource type %s", q(local), q(t.Name.Space), doc.root, test.typ)
				}
				ns = t.Name.Space
				title, _ = attr(t, "title")
			case t.Name.Space == ns && doc.refs[local]:
				id, _ := attr(t, "identifier")
				href, ok := attr(t, "href")
				if !ok {
					return "", bad("%s %s has no href", local, q(id))
				}
				p, err := testPath(test.href, base, href, local+" "+q(id)+" href", false)
				if err != nil {
					return "", err
				}
				if a.files[p] == nil {
					return "", fmt.Errorf("%w: %s: %s %s href %s: %s is not in the package", ErrMissingFile, q(test.href), local, q(id), q(href), q(p))
				}
			}
			bases = append(bases, base)
		}
	}
}

// testPath checks an href (or, if isBase, an xml:base) from the
// assessmentTest document and resolves it against base. Unlike in the
// manifest, ".." is allowed while the result stays inside the package.
func testPath(doc, base, raw, what string, isBase bool) (string, error) {
	p, why, escape := decodeHref(raw)
	if why == "" && p != "" {
		why, escape = badPath(p, true), true
	}
	if why == "" && p == "" && !isBase {
		why = "is empty"
	}
	if why != "" {
		sentinel := ErrBadTest
		if escape {
			sentinel = ErrPathEscape
		}
		return "", fmt.Errorf("%w: %s: %s %s %s", sentinel, q(doc), what, q(raw), why)
	}
	r, ok := resolve(base, p)
	if !ok {
		return "", fmt.Errorf("%w: %s: %s %s leaves the package", ErrPathEscape, q(doc), what, q(raw))
	}
	if !isBase && (r == "" || strings.HasSuffix(r, "/")) {
		return "", fmt.Errorf("%w: %s: %s %s names a folder, not a file", ErrMissingFile, q(doc), what, q(raw))
	}
	return r, nil
}
