package qti

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
)

// xincludeNamespace is XInclude's: an item may include a file of the
// package with xi:include.
const xincludeNamespace = "http://www.w3.org/2001/XInclude"

// html5Namespace holds the HTML 5 elements of QTI 2.2 items (qh5:audio,
// qh5:video, qh5:source, qh5:track), outside the item's own namespace.
const html5Namespace = "http://www.imsglobal.org/xsd/imsqtiv2p2_html5_v1p0"

// itemLinks lists, by element name in the item's namespace (or QTI 2.2's
// HTML 5 one), the attributes that name a file the item needs when it is
// delivered: images, objects (media, SVG, the images of graphic
// interactions), stylesheets and the sources of HTML 5 media (QTI 2.2 and
// 3.0). Links (a href) are not among them: following one leaves the test.
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

// itemContent is the content model of a QTI 2.x assessmentItem, from its
// XSD: these children, in this order, each once or (many) any number of
// times, all optional. Children in other namespaces (an APIP profile's)
// are let through. QTI 3.0's content model is not checked.
var itemContent = []itemChild{
	{"responseDeclaration", true},
	{"outcomeDeclaration", true},
	{"templateDeclaration", true},
	{"templateProcessing", false},
	{"stylesheet", true},
	{"itemBody", false},
	{"responseProcessing", false},
	{"modalFeedback", true},
}

type itemChild struct {
	name string
	many bool
}

// checkItems checks every item the test references: each is declared as
// an item resource in the manifest, and checkItem accepts it. Each item
// document is read once, in the order of the archive, so that reading is
// one forward sweep however the test orders its items.
func checkItems(a *archive, m *manifest, version int, refs []itemRef) error {
	declared := make(map[string]bool, len(m.resources))
	for _, r := range m.resources {
		if itemTypes[r.typ] && r.href != "" {
			declared[r.href] = true
		}
	}
	var items []string
	seen := make(map[string]bool, len(refs))
	for _, ref := range refs {
		if !declared[ref.path] {
			return fmt.Errorf("%w: %s: no assessmentItem resource has href %s, which %s references on line %d", ErrBadManifest, manifestName, q(ref.path), q(ref.doc), ref.line)
		}
		if !seen[ref.path] {
			seen[ref.path] = true
			items = append(items, ref.path)
		}
	}
	slices.SortFunc(items, func(x, y string) int { return cmp.Compare(a.offset[a.files[x]], a.offset[a.files[y]]) })
	for _, p := range items {
		if err := checkItem(a, version, p); err != nil {
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
	d, err := openDoc(a, path, ErrBadItem)
	if err != nil {
		return err
	}
	defer d.Close()
	v := versions[version]
	var (
		ns   string
		next int // in itemContent, the first child the root may still have
	)
	for {
		tok, err := d.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if d.depth() == 1 && strings.Trim(string(t), " \t\r\n") != "" {
				return d.errorf("text directly inside %s", v.item)
			}
		case xml.StartElement:
			local := t.Name.Local
			switch {
			case d.depth() == 1:
				if !v.namespaces[t.Name.Space] || local != v.item {
					return d.errorf("root element %s in namespace %s is not %s of qti %d", q(local), q(t.Name.Space), v.item, version)
				}
				ns = t.Name.Space
				for _, req := range itemRequired[version] {
					val, ok := attr(t, req.name)
					val = strings.TrimSpace(val)
					switch {
					case !ok || val == "":
						return d.errorf("%s has no %s", v.item, req.name)
					case req.boolean && val != "true" && val != "false" && val != "1" && val != "0":
						return d.errorf("%s %s %s is not a boolean", v.item, req.name, q(val))
					}
				}
				continue
			case d.depth() == 2 && t.Name.Space == ns && version == 2:
				i := slices.IndexFunc(itemContent, func(c itemChild) bool { return c.name == local })
				switch {
				case i < 0:
					return d.errorf("element %s is not allowed in %s", q(local), v.item)
				case i == next-1:
					return d.errorf("%s has more than one %s", v.item, local)
				case i < next:
					return d.errorf("element %s must come before %s in %s", q(local), q(itemContent[next-1].name), v.item)
				case !itemContent[i].many:
					next = i + 1
				default:
					next = i
				}
			}
			var name string
			switch {
			case (t.Name.Space == ns || t.Name.Space == html5Namespace) && itemLinks[local] != "":
				name = itemLinks[local]
			case t.Name.Space == xincludeNamespace && local == "include":
				name = "href"
			default:
				continue
			}
			// An inline data: URL is part of the item.
			if raw, ok := attr(t, name); ok && !strings.HasPrefix(strings.TrimSpace(raw), "data:") {
				if _, err := d.file(raw, local+" "+name); err != nil {
					return err
				}
			}
		}
	}
}
