package results

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// resultDocs returns the result documents of the tests, by name: the one
// `make bench` generates (internal/bench/data.go), the fixture it is shaped
// like and the ones other engines wrote (testdata/qti-results).
func resultDocs(t testing.TB) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{
		"bench-result.xml":     readFixture(t, "bench-result.xml"),
		"assessmentResult.xml": readFixture(t, "assessmentResult.xml"),
	}
	files, err := filepath.Glob("../../testdata/qti-results/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("documents of testdata/qti-results: %v", err)
	}
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = d
	}
	return docs
}

// scanned returns scan's and decode's answers for d, after precheck (nil,
// nil if precheck refuses it).
func scanned(d []byte) (scanErr, decodeErr error) {
	d, err := precheck(d)
	if err != nil {
		return nil, nil
	}
	return newValidator(d).scan(), newValidator(d).decode()
}

// TestScanResultDocs: scan reads the documents engines write, on its own.
func TestScanResultDocs(t *testing.T) {
	for name, d := range resultDocs(t) {
		t.Run(name, func(t *testing.T) {
			if s, d := scanned(d); s != nil || d != nil {
				t.Fatalf("scan: %v, decode: %v", s, d)
			}
		})
	}
}

// TestScan: scan accepts every valid document of TestValidateResultXML,
// and none of the others.
func TestScan(t *testing.T) {
	for _, tt := range validateCases() {
		t.Run(tt.name, func(t *testing.T) {
			scanErr, decodeErr := scanned([]byte(tt.doc))
			if _, err := precheck([]byte(tt.doc)); err != nil {
				return
			}
			if got := errText(decodeErr); got != tt.want {
				t.Fatalf("decode: %q, want %q", got, tt.want)
			}
			if (scanErr == nil) != (tt.want == "") {
				t.Fatalf("scan: %v", scanErr)
			}
		})
	}
}

// TestScanHandsOver: valid documents that scan leaves to decode, since it
// reads only the common forms of XML.
func TestScanHandsOver(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"non-ASCII element name", inValue(`<é/>`)},
		{"non-ASCII attribute name", doc(ns21, `<context é="1"/>`)},
		{"element named xmlns", inValue(`<xmlns/>`)},
		{"reference to a surrogate", inValue(`&#xD800;`)},
		{"reference with leading zeros", inValue(`&#0000000065;`)},
		{"]]> in an attribute", doc(ns21, `<context a="]]>"/>`)},
		{"declaration without a space", `<?xml version="1.0"encoding="UTF-8"?>` + doc(ns21, body)},
		{"more namespace declarations in scope than maxBinds", inValue(manyPrefixes(maxBinds + 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scanErr, decodeErr := scanned([]byte(tt.doc))
			if decodeErr != nil || ValidateResultXML([]byte(tt.doc)) != nil {
				t.Fatalf("decode: %v", decodeErr)
			}
			if !errors.Is(scanErr, errUnsure) {
				t.Fatalf("scan: %v, want it handed over", scanErr)
			}
		})
	}
}

// manyPrefixes is an element declaring n namespace prefixes, holding an
// element that uses the last.
func manyPrefixes(n int) string {
	var s strings.Builder
	s.WriteString("<w")
	for i := range n {
		fmt.Fprintf(&s, ` xmlns:p%d="urn:p%d"`, i, i)
	}
	fmt.Fprintf(&s, "><p%d:e/></w>", n-1)
	return s.String()
}

// inValue returns a valid document with v in the value of a variable.
func inValue(v string) string {
	return doc(ns21, `<context/>`+item+`<outcomeVariable identifier="O" cardinality="single"><value>`+v+`</value></outcomeVariable></itemResult>`)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzScanResultXML compares scan with decode: scan accepts only what decode
// accepts, and ValidateResultXML answers as decode does, error text and all.
func FuzzScanResultXML(f *testing.F) {
	for _, d := range resultDocs(f) {
		f.Add(d)
	}
	for _, tt := range validateCases() {
		// The megabytes of deep nesting would slow the fuzzer to a crawl.
		if len(tt.doc) <= 1<<17 {
			f.Add([]byte(tt.doc))
		}
	}
	for _, m := range scanMutations() {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		want := ""
		if _, err := precheck(d); err != nil {
			want = err.Error()
		}
		scanErr, decodeErr := scanned(d)
		if scanErr == nil && decodeErr != nil {
			t.Fatalf("scan accepts, decode says %v: %q", decodeErr, d)
		}
		if want == "" {
			want = errText(decodeErr)
		}
		if got := errText(ValidateResultXML(d)); got != want {
			t.Fatalf("ValidateResultXML says %q, decode %q: %q", got, want, d)
		}
	})
}

// scanMutations returns documents with the forms of XML scan must read as
// encoding/xml does, or hand over, at each place they may be: the text of
// a value, an attribute, before and after the root.
func scanMutations() []string {
	texts := []string{
		"&amp;&lt;&gt;&apos;&quot;", "&#65;&#x41;&#x10FFFF;", "&#0;", "&#x1;", "&#xFFFE;", "&#xFFFF;", "&#xD800;",
		"&#x110000;", "&#4294967361;", "&#-1;", "&#+65;", "&#x_41;", "&#X41;", "&#;", "&#x;", "&nbsp;", "&amp", "& ", "&lt ;",
		"]]>", "]]&gt;", "]&#93;>", "\x01", "\x7f", "\x00", "\uFFFE", "\uFFFF", "\uFFFD", "\r\n", "\r", "\t", ">", "'\"",
	}
	markup := []string{
		"<!-- a -->", "<!---->", "<!--->", "<!-- a -- b -->", "<!-- a --->", "<!- a -->", "<?pi x?>", "<?pi?>", "<?pi", "<??>",
		`<?xml version="1.0"?>`, "<?XML?>", "<?xml-stylesheet href='a'?>", "<![CDATA[x]]>", "<!DOCTYPE x>", "<!ENTITY x 'y'>",
		`<p:x xmlns:p="urn:p"/>`, "<p:x/>", "<xml:x/>", "<xmlns:x/>", "<xmlns/>", `<x xmlns=""/>`, `<x xmlns:p=""><p:y/></x>`,
		"<a:b:c/>", "<:a/>", "<a:/>", "<a.b-c_d/>", "<1a/>", "<é/>", "<a></b>", "<a></a >", "<a></ a>", "</a>", "<a/ >",
		"<a\n/>", "<a>", "< a/>",
	}
	attrs := []string{
		` a=">"`, ` a='"'`, ` a="&quot;&#x9;"`, ` a="<"`, ` a="]]>"`, ` a="` + "\r\n\r" + `"`, ` a="` + "\x01" + `"`,
		` xml:lang="fr"`, ` p:a="1"`, ` xmlns:p="urn:p" p:a="1"`, ` xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"`,
		` a = "1"`, ` a="1"b="2"`, ` a=1`, ` a`, ` a="1`, ` xmlns="urn:x"`, ` xmlns:p=""`, ` xmlns:xml="urn:x" xml:a="1"`,
		` a="1" a="1"`, ` é="1"`, ` a:b:c="1"`, ` xmlns="` + ns21 + `"`, ` xmlns:r="` + ns21 + `" r:a="1"`, ` xmlns:urn="urn" urn:a="1"`,
	}
	decls := []string{
		`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`, `<?xml version='1.0' encoding='utf-8'?>`, `<?xml?>`,
		`<?xml encoding="UTF-8" version="1.1"?>`, `<?xml version="1.0" version="1.1"?>`, `<?xml version="1.0"encoding="latin1"?>`,
		`<?xml version="1.0" encoding="UTF-16"?>`, `<?xml version="1.0" standalone="maybe"?>`, `<?xml version="1.0" foo="bar"?>`,
		`<?xml version = "1.0"?>`, `<?xml version="1.0" ?>`, "<?xml\tversion='1.0'\n?>", `<?Xml version="1.0"?>`,
	}
	// Namespaces that put the elements the rules look at in and out of the
	// results namespace.
	docs := []string{
		`<r:assessmentResult xmlns:r="` + ns22 + `" xmlns="urn:x"><context/><r:context/></r:assessmentResult>`,
		`<r:assessmentResult xmlns:r="` + ns22 + `"><r:context xmlns:r="urn:x"/></r:assessmentResult>`,
		`<r:assessmentResult xmlns:r="` + ns22 + `"><r:context/><r:itemResult xmlns:p="urn:p" identifier="i" datestamp="d" p:sessionStatus="final"/></r:assessmentResult>`,
		`<r:assessmentResult xmlns:r="` + ns22 + `"><context xmlns="` + ns22 + `"><sessionIdentifier/></context></r:assessmentResult>`,
		doc(ns21, `<context xmlns=""/>`),
		doc(ns21, `<context/><x:itemResult xmlns:x="`+ns21+`" identifier="i" datestamp="d" sessionStatus="bad"/>`),
		doc(ns21, `<context/><testResult xmlns:ns="`+ns21+`" identifier="t" datestamp="d"><ns:outcomeVariable identifier="o" cardinality="many"/></testResult>`),
		`<assessmentResult xmlns:xml="` + ns21 + `"><xml:context/></assessmentResult>`,
		`<xml:assessmentResult><context/></xml:assessmentResult>`,
	}
	for _, s := range append(texts, markup...) {
		docs = append(docs, inValue(s), s+doc(ns21, body), doc(ns21, body)+s)
	}
	for _, a := range attrs {
		docs = append(docs, doc(ns21, `<context`+a+`/>`), inValue(`<x`+a+`></x>`),
			`<r:assessmentResult xmlns:r="`+ns22+`"`+a+`><r:context/></r:assessmentResult>`)
	}
	for _, d := range decls {
		docs = append(docs, d+doc(ns21, body), d+"\n"+d+doc(ns21, body))
	}
	return docs
}

func BenchmarkValidateResultXML(b *testing.B) {
	// decode: encoding/xml alone, as before scan; scan: ValidateResultXML,
	// scan in front of encoding/xml.
	decode := func(d []byte) error {
		d, err := precheck(d)
		if err != nil {
			return err
		}
		return newValidator(d).decode()
	}
	for name, d := range resultDocs(b) {
		for _, path := range []struct {
			name     string
			validate func([]byte) error
		}{{"decode", decode}, {"scan", ValidateResultXML}} {
			b.Run(name+"/"+path.name, func(b *testing.B) {
				b.SetBytes(int64(len(d)))
				b.ReportAllocs()
				for b.Loop() {
					if err := path.validate(d); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
