package qti

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// xincludeNamespace is XInclude's: an item may include a file of the
// package with xi:include.
const xincludeNamespace = "http://www.w3.org/2001/XInclude"

// itemLinks lists, by element name in the item's namespace, the attributes
// that name a file the item needs when it is delivered: images, objects
// (media, SVG, the images of graphic interactions), stylesheets and the
// sources of HTML 5 media (QTI 2.2 and 3.0). Links (a href) are not among
// them: following one leaves the test.
var itemLinks = map[string]string{
	"img":            "src",
	"object":         "data",
	"stylesheet":     "href", // QTI 2.x
	"qti-stylesheet": "href", // QTI 3.0
	"audio":          "src",
	"video":          "src",
	"source":         "src",
	"track":          "src",
}

// itemRequired lists the attributes an item's root must have, by QTI
// major version, and which of them are booleans, as the QTI XSDs require.
var itemRequired = map[int][]struct {
	name    string
	boolean bool
}{
	2: {{"identifier", false}, {"title", false}, {"adaptive", true}, {"timeDependent", true}},
	3: {{"identifier", false}, {"title", false}, {"time-dependent", true}},
}

// checkItems checks every item the test references, each document once:
// it is declared as an item resource in the manifest, and checkItem
// accepts it.
func checkItems(a *archive, m *manifest, version int, refs []itemRef) error {
	byHref := make(map[string]*resource, len(m.resources))
	for _, r := range m.resources {
		if itemTypes[r.typ] && r.href != "" && byHref[r.href] == nil {
			byHref[r.href] = r
		}
	}
	done := make(map[string]bool, len(refs))
	for _, ref := range refs {
		if byHref[ref.path] == nil {
			return fmt.Errorf("%w: %s: no assessmentItem resource has href %s, which %s references on line %d", ErrBadManifest, manifestName, q(ref.path), q(ref.doc), ref.line)
		}
		if done[ref.path] {
			continue
		}
		done[ref.path] = true
		if err := checkItem(a, version, ref.path); err != nil {
			return err
		}
	}
	return nil
}

// checkItem reads the item document at path, token by token: it must be
// well-formed XML whose root is the assessmentItem element of the test's
// QTI version, with the attributes that version requires, and every file
// it names (itemLinks, xi:include) must be in the package.
//
// The item's identifier is not compared with the identifier of the
// assessmentItemRef: QTI says the reference's identifier need not have
// any meaning outside the test, one item may be referenced twice under
// two identifiers, and real packages (QTIWorks', TAO's) differ.
func checkItem(a *archive, version int, path string) error {
	f := a.files[path]
	if f.UncompressedSize64 > maxXMLBytes {
		return fmt.Errorf("%w: %s is %d bytes (limit %d for an xml document)", ErrTooLarge, q(path), f.UncompressedSize64, maxXMLBytes)
	}
	e, err := a.open(f)
	if err != nil {
		return err
	}
	defer e.Close()
	v := versions[version]
	x := newXMLReader(e)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: line %d: "+format, append([]any{ErrBadItem, q(path), x.line()}, args...)...)
	}
	var (
		bases []string // the path hrefs in each open element are relative to
		ns    string
	)
	for {
		tok, err := x.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnreadable) {
				return err
			}
			return fmt.Errorf("%w: %s: %v", ErrBadItem, q(path), err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			bases = bases[:len(bases)-1]
		case xml.StartElement:
			base := path
			if len(bases) > 0 {
				base = bases[len(bases)-1]
			}
			if b, ok := xmlBase(t); ok {
				if base, err = docPath(ErrBadItem, path, x.line(), base, b, "xml:base", true); err != nil {
					return err
				}
			}
			bases = append(bases, base)
			local := t.Name.Local
			if len(bases) == 1 {
				if !v.namespaces[t.Name.Space] || local != v.item {
					return bad("root element %s in namespace %s is not %s of qti %d", q(local), q(t.Name.Space), v.item, version)
				}
				ns = t.Name.Space
				for _, req := range itemRequired[version] {
					val, ok := attr(t, req.name)
					val = strings.TrimSpace(val)
					switch {
					case !ok || val == "":
						return bad("%s has no %s", v.item, req.name)
					case req.boolean && val != "true" && val != "false" && val != "1" && val != "0":
						return bad("%s %s %s is not a boolean", v.item, req.name, q(val))
					}
				}
				continue
			}
			var name string
			switch {
			case t.Name.Space == ns && itemLinks[local] != "":
				name = itemLinks[local]
			case t.Name.Space == xincludeNamespace && local == "include":
				name = "href"
			default:
				continue
			}
			raw, ok := attr(t, name)
			if !ok || strings.HasPrefix(strings.TrimSpace(raw), "data:") {
				continue // an inline data: URL is part of the item
			}
			p, err := docPath(ErrBadItem, path, x.line(), base, raw, local+" "+name, false)
			if err != nil {
				return err
			}
			if a.files[p] == nil {
				return fmt.Errorf("%w: %s: line %d: %s %s %s: %s is not in the package", ErrMissingFile, q(path), x.line(), local, name, q(raw), q(p))
			}
		}
	}
}
