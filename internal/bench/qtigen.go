package main

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

// A generated QTI package is shaped like a real test with media: an
// imsmanifest.xml, one assessmentTest, items of a few KiB of XML
// (deflated, as authoring tools write them), and media files (pictures,
// audio, video) that are already compressed, so stored as is and
// incompressible: random bytes. Media makes up almost all of the bytes, as
// in real packages that carry audio or video.

// media kinds, with the size range of one file as a share of the package:
// a few pictures, some audio, a video or two.
var mediaKinds = []struct {
	dir, ext, mime string
	min, max       int64 // bytes, before scaling to the package
}{
	{"img", "jpg", "image/jpeg", 40 * kib, 900 * kib},
	{"audio", "mp3", "audio/mpeg", 1 * mib, 6 * mib},
	{"video", "mp4", "video/mp4", 8 * mib, 48 * mib},
}

// pkgEntry is one file of a package.
type pkgEntry struct {
	name  string
	xml   string // XML text, deflated
	media int64  // or this many random bytes, stored
}

// planPackage lays out a package of about size bytes: its items and media
// (seeded, so the same arguments give the same package).
func planPackage(seed uint64, size int64) []pkgEntry {
	r := rand.New(rand.NewPCG(seed, 0x7174_6970_6b67)) // "qtipkg"
	// One item per 256 KiB of package, at least 20 and at most 400.
	items := int(min(400, max(20, size/(256*kib))))
	// Media file sizes scale down for small packages, so that a small
	// package still has several files of each kind.
	scale := min(1.0, float64(size)/float64(256*mib))
	var media []pkgEntry
	var used int64
	budget := size - int64(items)*3*kib/2 // what the XML leaves (about 1.5 KiB an item once deflated)
	for i := 0; used < budget; i++ {
		k := mediaKinds[[]int{0, 0, 0, 1, 1, 2}[r.IntN(6)]]
		lo, hi := max(4*kib, int64(float64(k.min)*scale)), max(8*kib, int64(float64(k.max)*scale))
		n := min(lo+r.Int64N(hi-lo+1), budget-used)
		used += n
		media = append(media, pkgEntry{name: fmt.Sprintf("media/%s/%s-%04d.%s", k.dir, k.dir, i+1, k.ext), media: n})
	}
	// Each media file belongs to one item.
	owner := make([][]string, items)
	for i, m := range media {
		owner[i%items] = append(owner[i%items], m.name)
	}
	var es []pkgEntry
	var manifest, test strings.Builder
	fmt.Fprintf(&manifest, `<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.imsglobal.org/xsd/imscp_v1p1 http://www.imsglobal.org/xsd/qti/qtiv2p1/qtiv2p1_imscpv1p2_v1p0.xsd"
    identifier="bench-package-%d">
  <metadata>
    <schema>QTIv2.1 Package</schema>
    <schemaversion>1.0.0</schemaversion>
  </metadata>
  <organizations/>
  <resources>
    <resource identifier="test" type="imsqti_test_xmlv2p1" href="tests/test.xml">
      <file href="tests/test.xml"/>
`, seed)
	for i := range items {
		fmt.Fprintf(&manifest, "      <dependency identifierref=\"item-%04d\"/>\n", i+1)
	}
	manifest.WriteString("    </resource>\n")
	fmt.Fprintf(&test, `<?xml version="1.0" encoding="UTF-8"?>
<assessmentTest xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.imsglobal.org/xsd/imsqti_v2p1 http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
    identifier="bench-test-%d" title="Benchmark test %d">
  <testPart identifier="part-1" navigationMode="nonlinear" submissionMode="individual">
`, seed, seed)
	for i := range items {
		if i%20 == 0 {
			if i > 0 {
				test.WriteString("    </assessmentSection>\n")
			}
			fmt.Fprintf(&test, "    <assessmentSection identifier=\"section-%d\" title=\"Section %d\" visible=\"true\">\n", i/20+1, i/20+1)
		}
		id := fmt.Sprintf("item-%04d", i+1)
		fmt.Fprintf(&test, "      <assessmentItemRef identifier=\"%s\" href=\"../items/%s.xml\"/>\n", id, id)
		fmt.Fprintf(&manifest, "    <resource identifier=\"%s\" type=\"imsqti_item_xmlv2p1\" href=\"items/%s.xml\">\n      <file href=\"items/%s.xml\"/>\n", id, id, id)
		for _, m := range owner[i] {
			fmt.Fprintf(&manifest, "      <file href=\"%s\"/>\n", m)
		}
		manifest.WriteString("    </resource>\n")
		es = append(es, pkgEntry{name: "items/" + id + ".xml", xml: itemXML(r, id, owner[i])})
	}
	test.WriteString("    </assessmentSection>\n  </testPart>\n</assessmentTest>\n")
	manifest.WriteString("  </resources>\n</manifest>\n")
	head := []pkgEntry{{name: "imsmanifest.xml", xml: manifest.String()}, {name: "tests/test.xml", xml: test.String()}}
	return append(append(head, es...), media...)
}

// itemXML is a choice item of a few KiB whose prompt shows its media.
func itemXML(r *rand.Rand, id string, media []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.imsglobal.org/xsd/imsqti_v2p1 http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
    identifier="%s" title="Question %s" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse>
      <value>choice_%c</value>
    </correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float">
    <defaultValue>
      <value>0</value>
    </defaultValue>
  </outcomeDeclaration>
  <itemBody>
    <div class="stimulus">
`, id, id, 'a'+r.IntN(4))
	for range 3 + r.IntN(4) {
		b.WriteString("      <p>")
		for j := range 30 + r.IntN(40) {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteString(".</p>\n")
	}
	for _, m := range media {
		rel := "../" + m
		switch {
		case strings.HasSuffix(m, ".jpg"):
			fmt.Fprintf(&b, "      <p><img src=\"%s\" alt=\"figure %s\" width=\"640\" height=\"480\"/></p>\n", rel, m)
		case strings.HasSuffix(m, ".mp3"):
			fmt.Fprintf(&b, "      <p><object type=\"audio/mpeg\" data=\"%s\">audio</object></p>\n", rel)
		default:
			fmt.Fprintf(&b, "      <p><object type=\"video/mp4\" data=\"%s\" width=\"1280\" height=\"720\">video</object></p>\n", rel)
		}
	}
	b.WriteString("    </div>\n    <choiceInteraction responseIdentifier=\"RESPONSE\" shuffle=\"true\" maxChoices=\"1\">\n      <prompt>Which statement is right?</prompt>\n")
	for c := range 4 {
		fmt.Fprintf(&b, "      <simpleChoice identifier=\"choice_%c\">", 'a'+c)
		for j := range 8 + r.IntN(12) {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteString("</simpleChoice>\n")
	}
	b.WriteString(`    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>
`)
	return b.String()
}

// writePackage writes the package planned for seed and size as a ZIP file
// at path and returns its size. Media bytes come from a seeded ChaCha8
// stream: incompressible and reproducible.
func writePackage(path string, seed uint64, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, mib)
	zw := zip.NewWriter(bw)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	rnd := rand.NewChaCha8(key)
	buf := make([]byte, mib)
	modified := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, e := range planPackage(seed, size) {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: modified}
		if e.xml == "" {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return 0, err
		}
		if e.xml != "" {
			if _, err := io.WriteString(w, e.xml); err != nil {
				return 0, err
			}
			continue
		}
		for left := e.media; left > 0; {
			n := min(left, int64(len(buf)))
			rnd.Read(buf[:n])
			if _, err := w.Write(buf[:n]); err != nil {
				return 0, err
			}
			left -= n
		}
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), f.Close()
}
