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

// declAttrs are the attributes the QTI 2.x schemas allow on an item's
// variable declarations (unqualified ones; xml:lang and the like pass),
// of which identifier and cardinality are required. A declaration is what
// response processing scores by: one the delivery cannot read breaks the
// item's scoring, not only its look.
var declAttrs = map[string][]string{
	"responseDeclaration": {"identifier", "cardinality", "baseType"},
	"outcomeDeclaration": {"identifier", "cardinality", "baseType", "view", "interpretation", "longInterpretation",
		"normalMaximum", "normalMinimum", "masteryValue", "externalScored", "variableIdentifierRef"},
	"templateDeclaration": {"identifier", "cardinality", "baseType", "paramVariable", "mathVariable"},
}

// cardinalities and baseTypes are the values of the declarations'
// cardinality and baseType attributes (intOrIdentifier is QTI 2.0's).
var (
	cardinalities = map[string]bool{"single": true, "multiple": true, "ordered": true, "record": true}
	baseTypes     = map[string]bool{
		"boolean": true, "directedPair": true, "duration": true, "file": true, "float": true, "identifier": true,
		"integer": true, "intOrIdentifier": true, "pair": true, "point": true, "string": true, "uri": true,
	}
)

// checkDecl checks the attributes of a variable declaration of a QTI 2.x
// item against declAttrs.
func checkDecl(d *docReader, t xml.StartElement) error {
	allowed := declAttrs[t.Name.Local]
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local != "xmlns" && !slices.Contains(allowed, a.Name.Local) {
			return d.errorf("%s has attribute %s, which qti does not define", t.Name.Local, q(a.Name.Local))
		}
	}
	id, _ := attr(t, "identifier")
	card, _ := attr(t, "cardinality")
	switch base, ok := attr(t, "baseType"); {
	case strings.TrimSpace(id) == "":
		return d.errorf("%s has no identifier", t.Name.Local)
	case !cardinalities[strings.TrimSpace(card)]:
		return d.errorf("%s %s has cardinality %s, not single, multiple, ordered or record", t.Name.Local, q(id), q(card))
	case ok && !baseTypes[strings.TrimSpace(base)]:
		return d.errorf("%s %s has baseType %s, which qti does not define", t.Name.Local, q(id), q(base))
	}
	return nil
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
	byHref := make(map[string]*resource, len(m.resources))
	for _, r := range m.resources {
		if itemTypes[r.typ] && r.href != "" && byHref[r.href] == nil {
			byHref[r.href] = r
		}
	}
	var items []string
	seen := make(map[string]bool, len(refs))
	for _, ref := range refs {
		if byHref[ref.path] == nil {
			return fmt.Errorf("%w: %s: no assessmentItem resource has href %s, which %s references on line %d", ErrBadManifest, manifestName, q(ref.path), q(ref.doc), ref.line)
		}
		if !seen[ref.path] {
			seen[ref.path] = true
			items = append(items, ref.path)
		}
	}
	slices.SortFunc(items, func(x, y string) int { return cmp.Compare(a.offset[a.files[x]], a.offset[a.files[y]]) })
	decl := &declaredFiles{m: m, sets: map[*resource]map[string]bool{}}
	for _, p := range items {
		r := byHref[p]
		if err := checkItem(a, version, p, func(file string) bool { return decl.declares(r, file) }); err != nil {
			return err
		}
	}
	return nil
}

// declaredFiles answers whether a resource or one of its dependencies
// declares a file, building each resource's set of files once.
type declaredFiles struct {
	m    *manifest
	sets map[*resource]map[string]bool
}

func (d *declaredFiles) declares(r *resource, file string) bool {
	if d.set(r)[file] {
		return true
	}
	for _, id := range r.deps {
		if dep := d.m.byID[id]; dep != nil && d.set(dep)[file] {
			return true
		}
	}
	return false
}

func (d *declaredFiles) set(r *resource) map[string]bool {
	s, ok := d.sets[r]
	if !ok {
		s = make(map[string]bool, len(r.files))
		for _, f := range r.files {
			s[f] = true
		}
		d.sets[r] = s
	}
	return s
}

// checkItem reads the item document at path, token by token: it must be
// well-formed XML whose root is the assessmentItem element of the test's
// QTI version, with the attributes that version requires, and every file
// it names (itemLinks, xi:include) must be in the package: resolved from
// the item's folder, as a URL is, or else from the package root if the
// item's resource or a resource it depends on declares that file in the
// manifest (as TAO's exports name shared media).
//
// The item's identifier is not compared with the identifier of the
// assessmentItemRef: QTI says the reference's identifier need not have
// any meaning outside the test, one item may be referenced twice under
// two identifiers, and real packages (QTIWorks', TAO's) differ.
func checkItem(a *archive, version int, path string, declared func(file string) bool) error {
	d, err := openDoc(a, path, ErrBadItem)
	if err != nil {
		return err
	}
	defer d.Close()
	d.declared = declared
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
				if declAttrs[local] != nil {
					if err := checkDecl(d, t); err != nil {
						return err
					}
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
