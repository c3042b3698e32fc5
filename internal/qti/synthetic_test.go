package qti

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// entry is one file of a synthetic ZIP.
type entry struct {
	name   string
	body   string
	store  bool        // store instead of deflate
	mode   fs.FileMode // if set, the entry's mode
	header *zip.FileHeader
	raw    []byte // with header: written with CreateRaw
}

func buildZip(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.header != nil {
			fw, err := w.CreateRaw(e.header)
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(e.raw)
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.store {
			h.Method = zip.Store
		}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		fw, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const goodManifest = `<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="PKG-1">
  <metadata><schema>QTIv2.1 Package</schema></metadata>
  <organizations/>
  <resources>
    <resource identifier="test" type="imsqti_test_xmlv2p1" href="tests/test.xml">
      <file href="tests/test.xml"/>
      <dependency identifierref="item1"/>
      <dependency identifierref="item2"/>
    </resource>
    <resource identifier="item1" type="imsqti_item_xmlv2p1" href="items/item%201.xml">
      <file href="items/item%201.xml"/>
      <file href="media/pic.png"/>
    </resource>
    <resource identifier="item2" type="imsqti_item_xmlv2p2" xml:base="items/" href="item2.xml">
      <file href="item2.xml"/>
    </resource>
  </resources>
</manifest>
`

const goodTest = `<?xml version="1.0" encoding="UTF-8"?>
<assessmentTest xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="T" title="Synthetic test">
  <testPart identifier="P" navigationMode="linear" submissionMode="individual">
    <assessmentSection identifier="S" title="Section" visible="true">
      <assessmentItemRef identifier="item1" href="../items/item%201.xml"/>
      <assessmentItemRef identifier="item2" href="../items/item2.xml"/>
    </assessmentSection>
  </testPart>
  <testFeedback access="atEnd" identifier="F" outcomeIdentifier="F" showHide="show">
    <p><a href="http://example.com/more">links in content are not package files</a></p>
  </testFeedback>
</assessmentTest>
`

const item = `<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="I" title="I" adaptive="false" timeDependent="false"/>`

// goodPackage returns the entries of a valid package, with body replacing
// the body of the entries it names (or adding them).
func goodPackage(replace ...string) []entry {
	es := []entry{
		{name: "imsmanifest.xml", body: goodManifest},
		{name: "tests/", body: ""},
		{name: "tests/test.xml", body: goodTest},
		{name: "items/item 1.xml", body: item},
		{name: "items/item2.xml", body: item},
		{name: "media/pic.png", body: "\x89PNG not really", store: true},
	}
	for i := 0; i+1 < len(replace); i += 2 {
		j := slices.IndexFunc(es, func(e entry) bool { return e.name == replace[i] })
		if j < 0 {
			es = append(es, entry{name: replace[i], body: replace[i+1]})
		} else {
			es[j].body = replace[i+1]
		}
	}
	return es
}

func validate(t *testing.T, data []byte, lim Limits) (*Package, error) {
	t.Helper()
	return Validate(bytes.NewReader(data), int64(len(data)), lim)
}

// expect validates data and checks the outcome: want nil means accepted;
// otherwise the error must wrap want and mention mention.
func expect(t *testing.T, data []byte, lim Limits, want error, mention string) *Package {
	t.Helper()
	p, err := validate(t, data, lim)
	if want == nil {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return p
	}
	if p != nil {
		t.Errorf("got a package %+v with the error", p)
	}
	checkError(t, err, want)
	if !strings.Contains(err.Error(), mention) {
		t.Errorf("error %q does not mention %s", err, mention)
	}
	t.Log(err)
	return nil
}

func TestSyntheticValid(t *testing.T) {
	p := expect(t, buildZip(t, goodPackage()), DefaultLimits, nil, "")
	want := Package{
		Identifier: "PKG-1",
		Test:       "tests/test.xml",
		Title:      "Synthetic test",
		Files:      []string{"imsmanifest.xml", "items/item 1.xml", "items/item2.xml", "media/pic.png", "tests/test.xml"},
		Items:      2,
		Bytes:      int64(len(goodManifest) + len(goodTest) + 2*len(item) + len("\x89PNG not really")),
	}
	if p.Identifier != want.Identifier || p.Test != want.Test || p.Title != want.Title ||
		!slices.Equal(p.Files, want.Files) || p.Items != want.Items || p.Bytes != want.Bytes {
		t.Errorf("got %+v\nwant %+v", *p, want)
	}
}

func TestSyntheticQTI3(t *testing.T) {
	manifest := `<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1" identifier="M">
  <resources>
    <resource identifier="t" type="imsqti_test_xmlv3p0" href="test.xml"><file href="test.xml"/></resource>
    <resource identifier="i" type="imsqti_item_xmlv3p0" href="items/i.xml"><file href="items/i.xml"/></resource>
  </resources>
</manifest>`
	test := `<qti-assessment-test xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="T" title="Three">
  <qti-test-part identifier="P" navigation-mode="linear" submission-mode="individual">
    <qti-assessment-section identifier="S" title="S" visible="true">
      <qti-assessment-item-ref identifier="i" href="items/i.xml"/>
    </qti-assessment-section>
  </qti-test-part>
</qti-assessment-test>`
	files := []entry{{name: "imsmanifest.xml", body: manifest}, {name: "test.xml", body: test}, {name: "items/i.xml", body: item3}}
	p := expect(t, buildZip(t, files), DefaultLimits, nil, "")
	if p.Title != "Three" || p.Items != 1 || p.Test != "test.xml" {
		t.Errorf("got %+v", *p)
	}
	files[1].body = strings.Replace(test, `href="items/i.xml"`, `href="items/j.xml"`, 1)
	expect(t, buildZip(t, files), DefaultLimits, ErrMissingFile, `"items/j.xml"`)
	files[1].body, files[2].body = test, item // a QTI 2 item in a QTI 3 test
	expect(t, buildZip(t, files), DefaultLimits, ErrBadItem, `"items/i.xml": line 1: root element "assessmentItem"`)
	files[1].body, files[2].body = goodTest, item3 // a QTI 2 document for a QTI 3 resource type
	expect(t, buildZip(t, files), DefaultLimits, ErrBadTest, "qti-assessment-test")
}

const item3 = `<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="i" title="I" time-dependent="false"/>`

// zeros returns n zero bytes: they deflate about a thousandfold.
func zeros(n int) string { return string(make([]byte, n)) }

func TestZipBomb(t *testing.T) {
	bomb := buildZip(t, goodPackage("media/blank.bin", zeros(8<<20)))
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes, not much of a bomb", len(bomb))
	}
	// Over MaxEntryBytes and over the ratio.
	expect(t, bomb, Limits{MaxEntryBytes: 1 << 20}, ErrTooLarge, `"media/blank.bin"`)
	// Within the default MaxEntryBytes: the ratio alone refuses it.
	expect(t, bomb, DefaultLimits, ErrTooLarge, `"media/blank.bin" expands`)
	// Allowing the ratio lets it through: the ratio is what refused it.
	expect(t, bomb, Limits{MaxRatio: 1 << 20}, nil, "")

	// Many entries each under the per-entry ratio floor: the archive as a
	// whole expands too much.
	var names []string
	for i := range 100 {
		names = append(names, "media/pad"+string(rune('a'+i/26))+string(rune('a'+i%26)), zeros(ratioFloor))
	}
	expect(t, buildZip(t, goodPackage(names...)), DefaultLimits, ErrTooLarge, "archive expands")

	// Over MaxTotalBytes.
	expect(t, bomb, Limits{MaxTotalBytes: 4 << 20, MaxRatio: 1 << 20}, ErrTooLarge, `"media/blank.bin"`)
}

// TestLyingHeader checks that sizes in the headers are not trusted: an
// entry whose header declares 1000 bytes but inflates to a megabyte is
// stopped while reading, and one that inflates to less than declared is
// refused too.
func TestLyingHeader(t *testing.T) {
	lie := func(size int, claim uint64) []entry {
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestCompression)
		fw.Write(make([]byte, size))
		fw.Close()
		h := &zip.FileHeader{
			Name:               "media/small.bin",
			Method:             zip.Deflate,
			CRC32:              crc32.ChecksumIEEE(make([]byte, size)),
			CompressedSize64:   uint64(comp.Len()),
			UncompressedSize64: claim,
		}
		return append([]entry{{header: h, raw: comp.Bytes()}}, goodPackage()...)
	}
	expect(t, buildZip(t, lie(1<<20, 1000)), DefaultLimits, ErrTooLarge, `"media/small.bin" expands beyond the 1000 bytes its header declares`)
	expect(t, buildZip(t, lie(1000, 2000)), DefaultLimits, ErrUnreadable, `"media/small.bin" is shorter than its header declares (1000 of 2000 bytes)`)
	expect(t, buildZip(t, lie(1000, 1000)), DefaultLimits, nil, "")
}

func TestTooManyEntries(t *testing.T) {
	es := goodPackage()
	for len(es) < 11 {
		es = append(es, entry{name: "media/extra" + string(rune('a'+len(es))), body: "x"})
	}
	data := buildZip(t, es)
	expect(t, data, Limits{MaxEntries: 11}, nil, "")
	expect(t, data, Limits{MaxEntries: 10}, ErrTooLarge, "11 entries (limit 10)")
}

func TestDoctypeRefused(t *testing.T) {
	for name, prolog := range map[string]string{
		"entity":          `<!DOCTYPE manifest [<!ENTITY x "PKG">]>`,
		"billion laughs":  `<!DOCTYPE manifest [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>`,
		"external dtd":    `<!DOCTYPE manifest SYSTEM "http://example.com/evil.dtd">`,
		"external entity": `<!DOCTYPE manifest [<!ENTITY x SYSTEM "file:///etc/passwd">]>`,
	} {
		t.Run(name, func(t *testing.T) {
			m := strings.Replace(goodManifest, "<manifest ", prolog+"\n<manifest ", 1)
			m = strings.Replace(m, `identifier="PKG-1"`, `identifier="&x;"`, 1)
			expect(t, buildZip(t, goodPackage("imsmanifest.xml", m)), DefaultLimits, ErrBadManifest, "DOCTYPE")
			test := strings.Replace(goodTest, "<assessmentTest ", prolog+"\n<assessmentTest ", 1)
			expect(t, buildZip(t, goodPackage("tests/test.xml", test)), DefaultLimits, ErrBadTest, "DOCTYPE")
		})
	}
}

func TestBadEntryNames(t *testing.T) {
	for _, tc := range []struct {
		name, why string
	}{
		{"/etc/passwd", "absolute"},
		{"/", "absolute"},
		{"C:/Windows/evil.dll", "drive letter"},
		{"c:evil.xml", "drive letter"},
		{`items\evil.xml`, "backslash"},
		{`..\evil.xml`, "backslash"},
		{"items/../../evil.xml", ".."},
		{"..", ".."},
		{"items/..", ".."},
		{"nul\x00byte.xml", "nul"},
		{"bell\x07.xml", "control"},
		{"line\nbreak.xml", "control"},
		{"bad\xff.xml", "utf-8"},
		{"", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry{name: tc.name, body: "x"}
			if strings.HasSuffix(e.name, "/") {
				e.body = "" // a folder
			}
			expect(t, buildZip(t, append(goodPackage(), e)), DefaultLimits, ErrPathEscape, tc.why)
		})
	}
	t.Run("symlink", func(t *testing.T) {
		data := buildZip(t, append(goodPackage(), entry{name: "media/link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}))
		expect(t, data, DefaultLimits, ErrPathEscape, `"media/link" is a symbolic link`)
	})
	t.Run("fifo", func(t *testing.T) {
		data := buildZip(t, append(goodPackage(), entry{name: "media/fifo", mode: fs.ModeNamedPipe | 0o644}))
		expect(t, data, DefaultLimits, ErrPathEscape, `"media/fifo"`)
	})
	t.Run("dot segments are fine", func(t *testing.T) {
		data := buildZip(t, append(goodPackage(), entry{name: "./media//x..y.png", body: "x"}))
		p := expect(t, data, DefaultLimits, nil, "")
		if !slices.Contains(p.Files, "media/x..y.png") {
			t.Errorf("Files = %q, want the cleaned name media/x..y.png", p.Files)
		}
	})
}

func TestDuplicateEntries(t *testing.T) {
	for _, tc := range []struct {
		name, extra, mention string
	}{
		{"same name", "items/item2.xml", `"items/item2.xml" appears more than once`},
		{"same name cleaned", "./items//item2.xml", `"items/item2.xml" appears more than once`},
		{"same name ignoring case", "Items/Item2.XML", "differ only in case"},
		{"file used as folder", "items/item2.xml/x.png", `uses file "items/item2.xml" as a folder`},
		{"folder and file", "media/pic.png/", "both a file and a folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := buildZip(t, append(goodPackage(), entry{name: tc.extra}))
			expect(t, data, DefaultLimits, ErrDuplicateEntry, tc.mention)
		})
	}
	// A duplicate manifest: which one an extractor keeps would decide
	// what the exam is.
	data := buildZip(t, append(goodPackage(), entry{name: "imsmanifest.xml", body: goodManifest}))
	expect(t, data, DefaultLimits, ErrDuplicateEntry, "imsmanifest.xml")
}

func TestTestReferences(t *testing.T) {
	ref := func(href string) []entry {
		return goodPackage("tests/test.xml", strings.Replace(goodTest, `href="../items/item2.xml"`, `href="`+href+`"`, 1))
	}
	for _, tc := range []struct {
		href    string
		want    error
		mention string
	}{
		{"../items/item2.xml", nil, ""},
		{"../items/./item2.xml", nil, ""},
		{"../items/missing.xml", ErrMissingFile, `"items/missing.xml"`},
		{"item2.xml", ErrMissingFile, `"tests/item2.xml"`},
		{"../items/", ErrMissingFile, "folder"},
		{"../../items/item2.xml", ErrPathEscape, `"../../items/item2.xml" leaves the package`},
		{"/items/item2.xml", ErrPathEscape, "absolute"},
		{"http://example.com/item2.xml", ErrPathEscape, "url outside the package"},
		{"file:///etc/passwd", ErrPathEscape, "url outside the package"},
		{"C:/items/item2.xml", ErrPathEscape, "drive letter"},
		{`..\items\item2.xml`, ErrPathEscape, "backslash"},
		{"%2e%2e/%2e%2e/etc/passwd", ErrPathEscape, "leaves the package"},
		{"../items/item2.xml%00.png", ErrPathEscape, "nul"},
		{"", ErrBadTest, "empty"},
		{"%zz", ErrBadTest, "not a valid url"},
	} {
		t.Run(tc.href, func(t *testing.T) {
			expect(t, buildZip(t, ref(tc.href)), DefaultLimits, tc.want, tc.mention)
		})
	}
	t.Run("xml:base", func(t *testing.T) {
		test := strings.Replace(goodTest, `<assessmentSection `, `<assessmentSection xml:base="../items/" `, 1)
		test = strings.Replace(test, `href="../items/item2.xml"`, `href="item2.xml"`, 1)
		test = strings.Replace(test, `href="../items/item%201.xml"`, `href="item%201.xml"`, 1)
		expect(t, buildZip(t, goodPackage("tests/test.xml", test)), DefaultLimits, nil, "")
		test = strings.Replace(test, `xml:base="../items/"`, `xml:base="../../"`, 1)
		expect(t, buildZip(t, goodPackage("tests/test.xml", test)), DefaultLimits, ErrPathEscape, "xml:base")
	})
}

func TestBadTestDocument(t *testing.T) {
	for _, tc := range []struct {
		name, doc, mention string
	}{
		{"not well formed", strings.Replace(goodTest, "</testPart>", "", 1), "testPart"},
		{"truncated", goodTest[:len(goodTest)/2], "unexpected EOF"},
		{"an item, not a test", item, "assessmentItem"},
		{"no namespace", strings.Replace(goodTest, ` xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"`, "", 1), "namespace"},
		{"two roots", goodTest + "<assessmentTest/>", "more than one root"},
		{"text after root", goodTest + "junk", "text outside"},
		{"unknown encoding", strings.Replace(goodTest, "UTF-8", "EBCDIC", 1), "EBCDIC"},
		{"no href", strings.Replace(goodTest, ` href="../items/item2.xml"`, "", 1), `"item2" has no href`},
		{"empty", "", "no root element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, buildZip(t, goodPackage("tests/test.xml", tc.doc)), DefaultLimits, ErrBadTest, tc.mention)
		})
	}
}

func TestManifest(t *testing.T) {
	rep := func(old, new string) []entry {
		if !strings.Contains(goodManifest, old) {
			t.Fatalf("manifest has no %q", old)
		}
		return goodPackage("imsmanifest.xml", strings.Replace(goodManifest, old, new, 1))
	}
	file := `<file href="media/pic.png"/>`
	for _, tc := range []struct {
		name    string
		entries []entry
		want    error
		mention string
	}{
		{"iso-8859-1", rep(`encoding="UTF-8"`, `encoding="ISO-8859-1"`), nil, ""},
		{"cp 1.1.2 namespace", rep("http://www.imsglobal.org/xsd/imscp_v1p1", "http://www.imsproject.org/xsd/imscp_rootv1p1p2"), nil, ""},
		{"prefixed", goodPackage("imsmanifest.xml", strings.NewReplacer("</", "</cp:", "<?", "<?", "<", "<cp:", `xmlns=`, `xmlns:cp=`).Replace(goodManifest)), nil, ""},
		{"external file", rep(file, `<file href="http://example.com/pic.png"/>`), ErrPathEscape, `"http://example.com/pic.png"`},
		{"protocol-relative file", rep(file, `<file href="//example.com/pic.png"/>`), ErrPathEscape, "host"},
		{"absolute file", rep(file, `<file href="/media/pic.png"/>`), ErrPathEscape, "absolute"},
		{"backslash file", rep(file, `<file href="media\pic.png"/>`), ErrPathEscape, "backslash"},
		{"encoded dot-dot", rep(file, `<file href="%2E%2E/pic.png"/>`), ErrPathEscape, ".."},
		{"inner dot-dot", rep(file, `<file href="media/../media/pic.png"/>`), ErrPathEscape, ".."},
		{"drive letter", rep(file, `<file href="C:\pic.png"/>`), ErrPathEscape, `"C:\\pic.png"`},
		{"drive letter slash", rep(file, `<file href="C:/pic.png"/>`), ErrPathEscape, "drive letter"},
		{"encoded drive letter", rep(file, `<file href="C%3A/pic.png"/>`), ErrPathEscape, "drive letter"},
		{"encoded nul", rep(file, `<file href="media/pic.png%00.xml"/>`), ErrPathEscape, "nul"},
		{"xml:base url", rep(`xml:base="items/"`, `xml:base="https://example.com/items/"`), ErrPathEscape, "xml:base"},
		{"xml:base dot-dot", rep(`xml:base="items/"`, `xml:base="../items/"`), ErrPathEscape, "xml:base"},
		{"xml:base wrong", rep(`xml:base="items/"`, `xml:base="tests/"`), ErrMissingFile, `"tests/item2.xml"`},
		{"missing file", rep(file, `<file href="media/nope.png"/>`), ErrMissingFile, `"media/nope.png"`},
		{"missing dependency", rep(`identifierref="item2"`, `identifierref="item3"`), ErrMissingFile, `"item3"`},
		{"file without href", rep(file, `<file/>`), ErrBadManifest, "without an href"},
		{"query", rep(file, `<file href="media/pic.png?v=1"/>`), ErrBadManifest, "query"},
		{"no identifier", rep(` identifier="PKG-1"`, ""), ErrBadManifest, "no identifier"},
		{"duplicate resource id", rep(`identifier="item2"`, `identifier="item1"`), ErrBadManifest, `"item1" is used twice`},
		{"resource without type", rep(` type="imsqti_item_xmlv2p2"`, ""), ErrBadManifest, "no type"},
		{"no resources", goodPackage("imsmanifest.xml", strings.ReplaceAll(goodManifest, "resources>", "other>")), ErrBadManifest, "no resources element"},
		{"two resources", rep("</resources>", "</resources><resources/>"), ErrBadManifest, "more than one resources"},
		{"wrong namespace", rep("http://www.imsglobal.org/xsd/imscp_v1p1", "http://example.com/cp"), ErrBadManifest, "not an ims content packaging manifest"},
		{"undeclared prefix", rep("<organizations/>", "<x:organizations/>"), ErrBadManifest, "undeclared"},
		{"duplicate attribute", rep(`identifier="PKG-1"`, `identifier="PKG-1" identifier="PKG-2"`), ErrBadManifest, "repeats attribute"},
		{"sub-manifest", rep("<organizations/>", `<manifest identifier="sub"/>`), ErrBadManifest, "sub-manifest"},
		{"unknown entity", rep(`identifier="PKG-1"`, `identifier="&evil;"`), ErrBadManifest, "evil"},
		{"late xml declaration", goodPackage("imsmanifest.xml", "\n"+goodManifest), ErrBadManifest, "xml declaration"},
		{"too deep", rep("<organizations/>", strings.Repeat("<o>", 300)+strings.Repeat("</o>", 300)), ErrBadManifest, "nested deeper"},
		{"test without href", rep(` href="tests/test.xml"`, ""), ErrBadManifest, `"test" has no href`},
		{"no test", rep("imsqti_test_xmlv2p1", "webcontent"), ErrNoTest, "imsmanifest.xml"},
		{"two tests", rep("imsqti_item_xmlv2p2", "imsqti_test_xmlv2p2"), ErrManyTests, `"test", "item2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, buildZip(t, tc.entries), DefaultLimits, tc.want, tc.mention)
		})
	}
	t.Run("manifest not at the root", func(t *testing.T) {
		es := goodPackage()
		es[0].name = "pkg/imsmanifest.xml"
		expect(t, buildZip(t, es), DefaultLimits, ErrNotContentPackage, "imsmanifest.xml")
	})
}

// TestArchiveStructure checks the ZIP-level refusals.
func TestArchiveStructure(t *testing.T) {
	good := buildZip(t, goodPackage())
	expect(t, good, DefaultLimits, nil, "")
	patch := func(old, new string, n int) []byte {
		if len(old) != len(new) || bytes.Count(good, []byte(old)) < 1 {
			t.Fatalf("cannot patch %q", old)
		}
		return bytes.Replace(bytes.Clone(good), []byte(old), []byte(new), n)
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		want    error
		mention string
	}{
		{"empty", nil, ErrUnreadable, "empty"},
		{"not a zip", []byte(goodManifest), ErrUnreadable, "not a zip"},
		{"truncated", good[:len(good)-30], ErrUnreadable, ""},
		{"data before", append([]byte("MZ prepended executable"), good...), ErrUnreadable, "out of place"},
		{"data after", append(bytes.Clone(good), "trailing"...), ErrUnreadable, ""},
		// The first occurrence of a name is in its local header: streaming
		// extractors would see a different name from the central directory.
		{"local name differs", patch("media/pic.png", "media/pix.png", 1), ErrUnreadable, `named "media/pix.png" in its local header`},
		{"local name escapes", patch("media/pic.png", "../../pic.png", 1), ErrPathEscape, `"../../pic.png"`},
		{"checksum", patch("\x89PNG not really", "\x89PNG not REALLY", 1), ErrUnreadable, `"media/pic.png" fails its checksum`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, tc.data, DefaultLimits, tc.want, tc.mention)
		})
	}
	t.Run("encrypted", func(t *testing.T) {
		h := &zip.FileHeader{Name: "media/secret.bin", Method: zip.Store, Flags: 0x1, CompressedSize64: 4, UncompressedSize64: 4}
		data := buildZip(t, append(goodPackage(), entry{header: h, raw: []byte("abcd")}))
		expect(t, data, DefaultLimits, ErrUnreadable, "encrypted")
	})
	t.Run("unsupported method", func(t *testing.T) {
		h := &zip.FileHeader{Name: "media/x.bz2", Method: 12, CompressedSize64: 4, UncompressedSize64: 4}
		data := buildZip(t, append(goodPackage(), entry{header: h, raw: []byte("abcd")}))
		expect(t, data, DefaultLimits, ErrUnreadable, "compression method 12")
	})
	t.Run("overlapping entries", func(t *testing.T) {
		// a.bin's stored data holds all of b.bin, local header included:
		// the way non-recursive zip bombs make many entries share data.
		b := localHeader("b.bin", "BBBB") + "BBBB"
		a := localHeader("a.bin", b)
		data := a + b
		cd := centralRecord("a.bin", b, 0) + centralRecord("b.bin", "BBBB", uint32(len(a)))
		data += cd + endRecord(2, len(cd), len(data))
		if _, err := zip.NewReader(strings.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("archive/zip refuses the test archive: %v", err)
		}
		expect(t, []byte(data), DefaultLimits, ErrUnreadable, `"a.bin" and "b.bin" overlap`)
	})
}

// localHeader, centralRecord and endRecord write ZIP records by hand for
// archives zip.Writer will not produce. Entries are stored.
func localHeader(name, data string) string {
	h := make([]byte, 30)
	binary.LittleEndian.PutUint32(h, 0x04034b50)
	binary.LittleEndian.PutUint16(h[4:], 20)
	binary.LittleEndian.PutUint32(h[14:], crc32.ChecksumIEEE([]byte(data)))
	binary.LittleEndian.PutUint32(h[18:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[22:], uint32(len(data)))
	binary.LittleEndian.PutUint16(h[26:], uint16(len(name)))
	return string(h) + name
}

func centralRecord(name, data string, offset uint32) string {
	h := make([]byte, 46)
	binary.LittleEndian.PutUint32(h, 0x02014b50)
	binary.LittleEndian.PutUint16(h[4:], 20)
	binary.LittleEndian.PutUint16(h[6:], 20)
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE([]byte(data)))
	binary.LittleEndian.PutUint32(h[20:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[24:], uint32(len(data)))
	binary.LittleEndian.PutUint16(h[28:], uint16(len(name)))
	binary.LittleEndian.PutUint32(h[42:], offset)
	return string(h) + name
}

func endRecord(records, cdSize, cdOffset int) string {
	h := make([]byte, 22)
	binary.LittleEndian.PutUint32(h, 0x06054b50)
	binary.LittleEndian.PutUint16(h[8:], uint16(records))
	binary.LittleEndian.PutUint16(h[10:], uint16(records))
	binary.LittleEndian.PutUint32(h[12:], uint32(cdSize))
	binary.LittleEndian.PutUint32(h[16:], uint32(cdOffset))
	return string(h)
}

func TestValidateArguments(t *testing.T) {
	if _, err := Validate(nil, 10, DefaultLimits); !errors.Is(err, ErrUnreadable) {
		t.Errorf("nil reader: %v", err)
	}
	good := buildZip(t, goodPackage())
	// A size larger than the data: the end record is not where it should be.
	if _, err := Validate(bytes.NewReader(good), int64(len(good))+100, DefaultLimits); !errors.Is(err, ErrUnreadable) {
		t.Errorf("wrong size: %v", err)
	}
	if _, err := ValidateFile(testdata, DefaultLimits); !errors.Is(err, ErrUnreadable) {
		t.Errorf("a directory: %v", err)
	}
}
