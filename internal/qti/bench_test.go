package qti

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchPackage builds a package of n items, each of about textBytes of
// XML showing one stored (incompressible) image of mediaBytes.
func benchPackage(b *testing.B, n, textBytes, mediaBytes int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var manifest, test strings.Builder
	manifest.WriteString(`<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="B"><resources>
<resource identifier="test" type="imsqti_test_xmlv2p1" href="test.xml"><file href="test.xml"/></resource>
`)
	test.WriteString(`<assessmentTest xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="T" title="B">
<testPart identifier="P" navigationMode="linear" submissionMode="individual"><assessmentSection identifier="S" title="S" visible="true">
`)
	var es []entry
	for i := range n {
		fmt.Fprintf(&manifest, `<resource identifier="i%d" type="imsqti_item_xmlv2p1" href="items/i%d.xml"><file href="items/i%d.xml"/><file href="media/m%d.png"/></resource>`+"\n", i, i, i, i)
		fmt.Fprintf(&test, `<assessmentItemRef identifier="i%d" href="items/i%d.xml"/>`+"\n", i, i)
		var item strings.Builder
		fmt.Fprintf(&item, `<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="i%d" title="I" adaptive="false" timeDependent="false"><itemBody>`+"\n", i)
		fmt.Fprintf(&item, `<p><img src="../media/m%d.png" alt=""/></p>`+"\n", i)
		for item.Len() < textBytes {
			item.WriteString("<p>")
			for range 12 {
				item.WriteString(words[r.IntN(len(words))] + " ")
			}
			item.WriteString("</p>\n")
		}
		item.WriteString("</itemBody></assessmentItem>\n")
		media := make([]byte, mediaBytes)
		for j := range media {
			media[j] = byte(r.Uint32())
		}
		es = append(es, entry{name: fmt.Sprintf("items/i%d.xml", i), body: item.String()},
			entry{name: fmt.Sprintf("media/m%d.png", i), body: string(media), store: true})
	}
	manifest.WriteString("</resources></manifest>\n")
	test.WriteString("</assessmentSection></testPart></assessmentTest>\n")
	es = append([]entry{{name: "imsmanifest.xml", body: manifest.String()}, {name: "test.xml", body: test.String()}}, es...)
	return buildZip(b, es)
}

var words = strings.Fields("the exam centre keeps every item of a test offline and checks each one before the candidates meet it")

// BenchmarkValidate measures validation over a package mostly of media
// (as real tests with images and video are) and one only of item text.
func BenchmarkValidate(b *testing.B) {
	for _, c := range []struct {
		name                 string
		items, text, mediaSz int
	}{
		{"media", 100, 4 << 10, 256 << 10},
		{"text", 2000, 8 << 10, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			data := benchPackage(b, c.items, c.text, c.mediaSz)
			var total int64
			if p, err := Validate(bytes.NewReader(data), int64(len(data)), DefaultLimits); err != nil {
				b.Fatal(err)
			} else {
				total = p.Bytes
			}
			b.SetBytes(total)
			b.ResetTimer()
			for b.Loop() {
				if _, err := Validate(bytes.NewReader(data), int64(len(data)), DefaultLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
