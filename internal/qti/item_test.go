package qti

import (
	"archive/zip"
	"io"
	"strings"
	"testing"
)

// realEntries returns the files of a package in testdata, in order.
func realEntries(t *testing.T, name string) []entry {
	t.Helper()
	zr, err := zip.OpenReader(testdata + name)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var es []entry
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{name: f.Name, body: string(b)})
	}
	return es
}

// webDeveloper returns WebDeveloperTest1's files with the first old
// replaced by new in the file name, or the file removed if new is "-".
func webDeveloper(t *testing.T, name, old, new string) []entry {
	t.Helper()
	es := realEntries(t, "WebDeveloperTest1.zip")
	for i, e := range es {
		if e.name != name {
			continue
		}
		if new == "-" {
			return append(es[:i], es[i+1:]...)
		}
		if !strings.Contains(e.body, old) {
			t.Fatalf("%s has no %q", name, old)
		}
		es[i].body = strings.Replace(e.body, old, new, 1)
		return es
	}
	t.Fatalf("WebDeveloperTest1.zip has no %s", name)
	return nil
}

// TestBrokenItems: WebDeveloperTest1 with one item broken is refused, and
// the refusal names the item, the line and what is wrong.
func TestBrokenItems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		want    error
		message string // the whole message
	}{
		{"malformed item", webDeveloper(t, "question3.xml", "</itemBody>", ""), ErrBadItem,
			`qti: bad assessmentItem: "question3.xml": line 27: element <itemBody> closed by </assessmentItem>`},
		{"mismatched tag in the middle", webDeveloper(t, "question5.xml", "<b>Question 5</b></p>", "<b>Question 5</b></div>"), ErrBadItem,
			`qti: bad assessmentItem: "question5.xml": line 22: element <p> closed by </div>`},
		{"root is not assessmentItem", webDeveloper(t, "question2.xml", "<assessmentItem ", "<assessmentSection "), ErrBadItem,
			`qti: bad assessmentItem: "question2.xml": line 5: root element "assessmentSection" in namespace "http://www.imsglobal.org/xsd/imsqti_v2p1" is not assessmentItem of qti 2`},
		{"missing image", webDeveloper(t, "directory.jpg", "", "-"), ErrMissingFile,
			`qti: missing file: "question4.xml": line 19: img src "directory.jpg": "directory.jpg" is not in the package`},
		{"image outside the package", webDeveloper(t, "question4.xml", `"directory.jpg"`, `"http://example.com/directory.jpg"`), ErrPathEscape,
			`qti: path escapes the package: "question4.xml": line 19: img src "http://example.com/directory.jpg" is a url outside the package`},
		{"image above the package", webDeveloper(t, "question4.xml", `"directory.jpg"`, `"../directory.jpg"`), ErrPathEscape,
			`qti: path escapes the package: "question4.xml": line 19: img src "../directory.jpg" leaves the package`},
		{"doctype", webDeveloper(t, "question9.xml", "<assessmentItem", `<!DOCTYPE assessmentItem [<!ENTITY x "y">]><assessmentItem`), ErrBadItem,
			`qti: bad assessmentItem: "question9.xml": line 2: document type declarations (<!DOCTYPE) are not allowed`},
		{"no title", webDeveloper(t, "question1.xml", `title="Getting Started"`, ""), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 5: assessmentItem has no title`},
		{"not a boolean", webDeveloper(t, "question1.xml", `adaptive="false"`, `adaptive="no"`), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 5: assessmentItem adaptive "no" is not a boolean`},
		{"not valid qti: unknown element", webDeveloper(t, "question1.xml", "<itemBody>", "<itemBody/><body>"), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 16: element "body" is not allowed in assessmentItem`},
		{"not valid qti: out of order", webDeveloper(t, "question1.xml", "<itemBody>", `<itemBody/><outcomeDeclaration identifier="X" cardinality="single"/><itemBody>`), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 16: element "outcomeDeclaration" must come before "itemBody" in assessmentItem`},
		{"not valid qti: two bodies", webDeveloper(t, "question1.xml", "<itemBody>", "<itemBody/><itemBody>"), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 16: assessmentItem has more than one itemBody`},
		{"not valid qti: unknown attribute", webDeveloper(t, "question1.xml", `cardinality="single" baseType="identifier">`, `cardinality="single" baseType="identifier" myInvalidAttribute="x">`), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 6: responseDeclaration has attribute "myInvalidAttribute", which qti does not define`},
		{"not valid qti: cardinality", webDeveloper(t, "question1.xml", `cardinality="single" baseType="integer"`, `cardinality="one" baseType="integer"`), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 11: outcomeDeclaration "SCORE" has cardinality "one", not single, multiple, ordered or record`},
		{"not valid qti: base type", webDeveloper(t, "question1.xml", `baseType="integer"`, `baseType="int"`), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 11: outcomeDeclaration "SCORE" has baseType "int", which qti does not define`},
		{"not valid qti: text", webDeveloper(t, "question1.xml", "<itemBody>", "Question one<itemBody>"), ErrBadItem,
			`qti: bad assessmentItem: "question1.xml": line 16: text directly inside assessmentItem`},
		{"item missing", webDeveloper(t, "question6.xml", "", "-"), ErrMissingFile,
			`qti: missing file: imsmanifest.xml: resource "question6": href "question6.xml" is not in the package`},
		{"item not declared", webDeveloper(t, "imsmanifest.xml", `type="imsqti_item_xmlv2p1" href="question7.xml"`, `type="webcontent" href="question7.xml"`), ErrBadManifest,
			`qti: bad manifest: imsmanifest.xml: no assessmentItem resource has href "question7.xml", which "template_test1.xml" references on line 18`},
		{"reference identifier used twice", webDeveloper(t, "template_test1.xml", `identifier="question2"`, `identifier="question1"`), ErrBadTest,
			`qti: bad assessmentTest: "template_test1.xml": line 13: assessmentItemRef identifier "question1" is already used on line 12 of "template_test1.xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate(t, buildZip(t, tc.entries), DefaultLimits)
			checkError(t, err, tc.want)
			if err.Error() != tc.message {
				t.Errorf("error\n%s\nwant\n%s", err, tc.message)
			}
		})
	}
}

// TestItemIdentifierNotMatched: an item whose identifier differs from the
// assessmentItemRef's is accepted, as QTI allows (WebDeveloperTest1's
// items are all "choice", "choiceMultiple" or "inlineChoice"), and so is
// one item referenced twice under two identifiers.
func TestItemIdentifierNotMatched(t *testing.T) {
	es := webDeveloper(t, "question1.xml", `identifier="choice"`, `identifier="something-else"`)
	expect(t, buildZip(t, es), DefaultLimits, nil, "")
	es = webDeveloper(t, "template_test1.xml", `<assessmentItemRef href="question2.xml"`, `<assessmentItemRef href="question1.xml" identifier="again"/><assessmentItemRef href="question2.xml"`)
	expect(t, buildZip(t, es), DefaultLimits, nil, "")
}

// TestItemLinks checks the files an item names, in an item of the
// synthetic package at items/item2.xml.
func TestItemLinks(t *testing.T) {
	withBody := func(body string) []entry {
		doc := strings.Replace(item, "/>", ">\n"+body+"\n</assessmentItem>", 1)
		return goodPackage("items/item2.xml", doc)
	}
	for _, tc := range []struct {
		name, body string
		want       error
		mention    string
	}{
		{"image", `<itemBody><p><img src="../media/pic.png" alt=""/></p></itemBody>`, nil, ""},
		{"inline data", `<itemBody><p><img src="data:image/png;base64,iVBORw0KGgo=" alt=""/></p></itemBody>`, nil, ""},
		{"link", `<itemBody><p><a href="http://example.com/">more</a></p></itemBody>`, nil, ""},
		{"xml:base", `<itemBody xml:base="../media/"><p><img src="pic.png" alt=""/></p></itemBody>`, nil, ""},
		{"missing image", `<itemBody><p><img src="pic.png" alt=""/></p></itemBody>`, ErrMissingFile, `line 2: img src "pic.png": "items/pic.png" is not in the package`},
		{"object", `<itemBody><object data="../media/clip.mp4" type="video/mp4"/></itemBody>`, ErrMissingFile, `object data "../media/clip.mp4"`},
		{"stylesheet", `<stylesheet href="style.css" type="text/css"/>`, ErrMissingFile, `"items/style.css" is not in the package`},
		{"audio source", `<itemBody><audio><source src="../media/a.ogg"/></audio></itemBody>`, ErrMissingFile, `source src "../media/a.ogg"`},
		{"qti 2.2 html5 video", `<itemBody><qh5:video xmlns:qh5="http://www.imsglobal.org/xsd/imsqtiv2p2_html5_v1p0"><qh5:source src="../media/v.mp4"/></qh5:video></itemBody>`, ErrMissingFile, `source src "../media/v.mp4": "media/v.mp4" is not in the package`},
		{"xinclude", `<itemBody><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="shared.xml"/></itemBody>`, ErrMissingFile, `include href "shared.xml"`},
		{"other namespace", `<itemBody><x:img xmlns:x="urn:x" src="nothing.png"/></itemBody>`, nil, ""},
		{"query", `<itemBody><img src="../media/pic.png?v=2" alt=""/></itemBody>`, ErrBadItem, "has a query"},
		{"empty src", `<itemBody><img src="" alt=""/></itemBody>`, ErrBadItem, `img src "" is empty`},
		{"absolute", `<itemBody><img src="/media/pic.png" alt=""/></itemBody>`, ErrPathEscape, "absolute"},
		{"host", `<itemBody><img src="//example.com/pic.png" alt=""/></itemBody>`, ErrPathEscape, "names a host"},
		{"nothing to check", `<itemBody/>`, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, buildZip(t, withBody(tc.body)), DefaultLimits, tc.want, tc.mention)
		})
	}
	t.Run("junk after the root", func(t *testing.T) {
		expect(t, buildZip(t, goodPackage("items/item2.xml", item+"\n<x/>")), DefaultLimits, ErrBadItem, `"items/item2.xml": line 2: more than one root element`)
	})
}

// TestSectionRefs: the items of a section document that the test
// references are checked too, and a loop of references ends.
func TestSectionRefs(t *testing.T) {
	test := strings.Replace(goodTest, `<assessmentItemRef identifier="item2" href="../items/item2.xml"/>`,
		`<assessmentSectionRef identifier="more" href="section.xml"/>`, 1)
	section := `<assessmentSection xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="more" title="More" visible="true">
  <assessmentItemRef identifier="item2" href="../items/item2.xml"/>
  <assessmentSectionRef identifier="again" href="section.xml"/>
</assessmentSection>`
	es := goodPackage("tests/test.xml", test, "tests/section.xml", section)
	expect(t, buildZip(t, es), DefaultLimits, nil, "")
	es = goodPackage("tests/test.xml", test, "tests/section.xml", section, "items/item2.xml", "<assessmentItem")
	expect(t, buildZip(t, es), DefaultLimits, ErrBadItem, `"items/item2.xml": line 1: unexpected EOF`)
	es = goodPackage("tests/test.xml", test, "tests/section.xml", strings.Replace(section, `"item2"`, `"item1"`, 1))
	expect(t, buildZip(t, es), DefaultLimits, ErrBadTest, `"tests/section.xml": line 2: assessmentItemRef identifier "item1" is already used on line 5 of "tests/test.xml"`)
	es = goodPackage("tests/test.xml", test, "tests/section.xml", item)
	expect(t, buildZip(t, es), DefaultLimits, ErrBadTest, `"tests/section.xml": line 1: root element "assessmentItem"`)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestItemsReadOnce: the item documents are decompressed once, not once
// to parse them and once more to check their checksums.
func TestItemsReadOnce(t *testing.T) {
	// Items that do not compress (no two lines alike), so that reading
	// one twice shows in the bytes read.
	var body strings.Builder
	x := uint32(1)
	for range 6000 {
		body.WriteString("<p>")
		for range 16 {
			x = x*1664525 + 1013904223
			body.WriteByte(byte('a' + x>>24%26))
		}
		body.WriteString("</p>\n")
	}
	doc := strings.Replace(item, "/>", "><itemBody>"+body.String()+"</itemBody></assessmentItem>", 1)
	data := buildZip(t, goodPackage("items/item 1.xml", doc, "items/item2.xml", doc))
	c := &countingReader{r: strings.NewReader(string(data))}
	if _, err := Validate(c, int64(len(data)), DefaultLimits); err != nil {
		t.Fatal(err)
	}
	// Beyond the archive once: the last 64 KiB searched for the end
	// record, the central directory read twice (archive/zip's reader and
	// this package's own cross-check) and the headers a few times.
	if c.n > int64(len(data))+lenEnd+maxCommentSize+8<<10 {
		t.Errorf("read %d bytes of a %d-byte archive", c.n, len(data))
	}
}

// TestItemsInArchiveOrder: items are read in the order of the archive,
// one forward sweep, whatever order the test names them in: of two broken
// items, the refusal names the one stored first.
func TestItemsInArchiveOrder(t *testing.T) {
	es := webDeveloper(t, "question9.xml", "</itemBody>", "")
	for i := range es {
		if es[i].name == "question2.xml" {
			es[i].body = strings.Replace(es[i].body, "</itemBody>", "", 1)
		}
	}
	test := `<assessmentItemRef href="question9.xml" identifier="question9"/>`
	for i := range es {
		if es[i].name == "template_test1.xml" {
			es[i].body = strings.Replace(strings.Replace(es[i].body, test, "", 1), "<assessmentItemRef href=\"question1.xml\"", test+"<assessmentItemRef href=\"question1.xml\"", 1)
		}
	}
	expect(t, buildZip(t, es), DefaultLimits, ErrBadItem, `"question2.xml"`)
}

// TestItemFilesFromTheManifest: an item may name a file by its path from
// the package root when its resource, or a resource it depends on,
// declares that file (TAO exports shared media so); not otherwise.
func TestItemFilesFromTheManifest(t *testing.T) {
	doc := strings.Replace(item, "/>", `><itemBody><img src="media/pic.png" alt=""/></itemBody></assessmentItem>`, 1)
	shared := `<resource identifier="shared" type="webcontent"><file href="media/pic.png"/></resource></resources>`
	dependency := `<file href="item2.xml"/><dependency identifierref="shared"/>`
	for _, tc := range []struct {
		name     string
		manifest *strings.Replacer
		item     string // the item that shows media/pic.png
		want     error
	}{
		{"declared by the item", strings.NewReplacer(), "items/item 1.xml", nil},
		{"declared by another item", strings.NewReplacer(), "items/item2.xml", ErrMissingFile},
		{"declared by a dependency", strings.NewReplacer("</resources>", shared, `<file href="item2.xml"/>`, dependency), "items/item2.xml", nil},
		{"declared by a resource it does not depend on", strings.NewReplacer("</resources>", shared), "items/item2.xml", ErrMissingFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := goodPackage("imsmanifest.xml", tc.manifest.Replace(goodManifest), tc.item, doc)
			expect(t, buildZip(t, es), DefaultLimits, tc.want, `img src "media/pic.png": "items/media/pic.png" is not in the package`)
		})
	}
}
