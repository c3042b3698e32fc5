package qti

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// cpNamespaces are the IMS Content Packaging namespaces a manifest's root
// element may be in.
var cpNamespaces = map[string]bool{
	"http://www.imsglobal.org/xsd/imscp_v1p1":             true, // CP 1.1.3, 1.1.4 and 1.2 (QTI 2.x)
	"http://www.imsproject.org/xsd/imscp_rootv1p1p2":      true, // CP 1.1.2
	"http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1": true, // QTI 3.0 profile of CP
}

// testTypes maps each assessmentTest resource type to its QTI major
// version; itemTypes lists the assessmentItem resource types.
var (
	testTypes = map[string]int{
		"imsqti_test_xmlv2p0": 2,
		"imsqti_test_xmlv2p1": 2,
		"imsqti_test_xmlv2p2": 2,
		"imsqti_test_xmlv3p0": 3,
	}
	itemTypes = map[string]bool{
		"imsqti_item_xmlv2p0": true,
		"imsqti_item_xmlv2p1": true,
		"imsqti_item_xmlv2p2": true,
		"imsqti_item_xmlv3p0": true,
	}
)

type resource struct {
	id    string
	typ   string
	href  string // resolved path in the package, "" if the resource has none
	files []string
	deps  []string
}

type manifest struct {
	identifier string
	resources  []*resource
	byID       map[string]*resource
	items      int
}

// What an element of the manifest is, for the parser.
const (
	kindOther = iota
	kindManifest
	kindResources
	kindResource
)

// parseManifest reads imsmanifest.xml. It returns ErrBadManifest for a
// document that is not well formed or not a content packaging manifest,
// and ErrPathEscape for an href or xml:base that leaves the package.
func parseManifest(a *archive) (*manifest, error) {
	f := a.files[manifestName]
	if f.UncompressedSize64 > maxXMLBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes (limit %d for an xml document)", ErrTooLarge, manifestName, f.UncompressedSize64, maxXMLBytes)
	}
	e, err := a.open(f)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrBadManifest, manifestName}, args...)...)
	}
	type frame struct {
		kind int
		base string // the path hrefs in this element are relative to
	}
	var (
		x         = newXMLReader(e)
		m         = &manifest{byID: map[string]*resource{}}
		stack     []frame
		ns        string // the root element's namespace
		resources int
		cur       *resource
	)
	for {
		tok, err := x.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnreadable) {
				return nil, err
			}
			return nil, bad("%v", err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.StartElement:
			parent, base := kindOther, manifestName
			if len(stack) > 0 {
				parent, base = stack[len(stack)-1].kind, stack[len(stack)-1].base
			}
			where := "element " + q(t.Name.Local)
			switch {
			case parent == kindResources && t.Name.Local == "resource":
				id, _ := attr(t, "identifier")
				where = "resource " + q(id)
			case parent == kindResource:
				where = "resource " + q(cur.id)
			}
			if v, ok := xmlBase(t); ok {
				if base, err = manifestPath(base, v, where+": xml:base", true); err != nil {
					return nil, err
				}
			}
			kind := kindOther
			local, inCP := t.Name.Local, len(stack) > 0 && t.Name.Space == ns
			switch {
			case len(stack) == 0:
				if !cpNamespaces[t.Name.Space] || local != "manifest" {
					return nil, bad("root element %s in namespace %s is not an ims content packaging manifest", q(local), q(t.Name.Space))
				}
				ns, kind = t.Name.Space, kindManifest
				m.identifier, _ = attr(t, "identifier")
			case !inCP:
			case parent == kindManifest && local == "manifest":
				return nil, bad("sub-manifests are not supported")
			case parent == kindManifest && local == "resources":
				if resources++; resources > 1 {
					return nil, bad("more than one resources element")
				}
				kind = kindResources
			case parent == kindResources && local == "resource":
				kind = kindResource
				cur = &resource{}
				cur.id, _ = attr(t, "identifier")
				cur.typ, _ = attr(t, "type")
				cur.typ = strings.TrimSpace(cur.typ)
				switch {
				case strings.TrimSpace(cur.id) == "":
					return nil, bad("a resource has no identifier")
				case m.byID[cur.id] != nil:
					return nil, bad("resource identifier %s is used twice", q(cur.id))
				case cur.typ == "":
					return nil, bad("resource %s has no type", q(cur.id))
				}
				if href, ok := attr(t, "href"); ok {
					if cur.href, err = manifestPath(base, href, where+": href", false); err != nil {
						return nil, err
					}
				}
				m.byID[cur.id] = cur
				m.resources = append(m.resources, cur)
				if itemTypes[cur.typ] {
					m.items++
				}
			case parent == kindResource && local == "file":
				href, ok := attr(t, "href")
				if !ok {
					return nil, bad("resource %s has a file without an href", q(cur.id))
				}
				p, err := manifestPath(base, href, where+": file href", false)
				if err != nil {
					return nil, err
				}
				cur.files = append(cur.files, p)
			case parent == kindResource && local == "dependency":
				ref, _ := attr(t, "identifierref")
				if ref == "" {
					return nil, bad("resource %s has a dependency without an identifierref", q(cur.id))
				}
				cur.deps = append(cur.deps, ref)
			}
			stack = append(stack, frame{kind, base})
		}
	}
	if strings.TrimSpace(m.identifier) == "" {
		return nil, bad("manifest has no identifier")
	}
	if resources == 0 {
		return nil, bad("manifest has no resources element")
	}
	return m, nil
}

// manifestPath checks an href (or, if isBase, an xml:base) from the
// manifest and resolves it against base. what names it in errors.
func manifestPath(base, raw, what string, isBase bool) (string, error) {
	p, why, escape := decodeHref(raw)
	if why == "" && p != "" {
		why, escape = badPath(p, false), true
	}
	if why == "" && p == "" && !isBase {
		why = "is empty"
	}
	if why != "" {
		sentinel := ErrBadManifest
		if escape {
			sentinel = ErrPathEscape
		}
		return "", fmt.Errorf("%w: %s: %s %s %s", sentinel, manifestName, what, q(raw), why)
	}
	r, ok := resolve(base, p)
	if !ok { // cannot happen: p has no ".." segment
		return "", fmt.Errorf("%w: %s: %s %s leaves the package", ErrPathEscape, manifestName, what, q(raw))
	}
	if !isBase && (r == "" || strings.HasSuffix(r, "/")) {
		return "", fmt.Errorf("%w: %s: %s %s names a folder, not a file", ErrMissingFile, manifestName, what, q(raw))
	}
	return r, nil
}

// check checks what the manifest declares against the archive and returns
// the one assessmentTest resource.
func (m *manifest) check(a *archive) (*resource, error) {
	var tests []*resource
	for _, r := range m.resources {
		if testTypes[r.typ] != 0 {
			tests = append(tests, r)
		}
	}
	switch len(tests) {
	case 0:
		return nil, fmt.Errorf("%w: %s declares no resource of type imsqti_test_xmlv2p0, imsqti_test_xmlv2p1, imsqti_test_xmlv2p2 or imsqti_test_xmlv3p0", ErrNoTest, manifestName)
	case 1:
	default:
		ids := make([]string, len(tests))
		for i, r := range tests {
			ids[i] = q(r.id)
		}
		return nil, fmt.Errorf("%w: %s declares %d: %s", ErrManyTests, manifestName, len(tests), strings.Join(ids, ", "))
	}
	test := tests[0]
	if test.href == "" {
		return nil, fmt.Errorf("%w: %s: assessmentTest resource %s has no href", ErrBadManifest, manifestName, q(test.id))
	}
	for _, r := range m.resources {
		if r.href != "" && a.files[r.href] == nil {
			return nil, fmt.Errorf("%w: %s: resource %s: href %s is not in the package", ErrMissingFile, manifestName, q(r.id), q(r.href))
		}
		for _, p := range r.files {
			if a.files[p] == nil {
				return nil, fmt.Errorf("%w: %s: resource %s: file %s is not in the package", ErrMissingFile, manifestName, q(r.id), q(p))
			}
		}
		for _, d := range r.deps {
			if m.byID[d] == nil {
				return nil, fmt.Errorf("%w: %s: resource %s depends on resource %s, which is not declared", ErrMissingFile, manifestName, q(r.id), q(d))
			}
		}
	}
	return test, nil
}
