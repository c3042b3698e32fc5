package results

import (
	"strings"
	"testing"
	"time"
)

const (
	ns21 = "http://www.imsglobal.org/xsd/imsqti_result_v2p1"
	ns22 = "http://www.imsglobal.org/xsd/imsqti_result_v2p2"
)

// doc returns a result document in namespace ns with body inside the root.
func doc(ns, body string) string {
	return `<assessmentResult xmlns="` + ns + `">` + body + `</assessmentResult>`
}

const body = `<context sourcedId="tt-0001"/><testResult identifier="webdev-1" datestamp="2025-06-12T10:00:00Z"/>`

func TestValidateResultXML(t *testing.T) {
	deep := func(n int) string {
		return doc(ns21, body+`<itemResult>`+strings.Repeat("<a>", n-2)+strings.Repeat("</a>", n-2)+`</itemResult>`)
	}
	tests := []struct {
		name, doc string
		want      string // "" for valid
	}{
		{"QTI 2.1", doc(ns21, body), ""},
		{"QTI 2.2", doc(ns22, body), ""},
		{"declaration, comments, PIs, whitespace", `<?xml version="1.0" encoding="utf-8"?>` + "\n<!-- a -->\n<?pi x?>" + doc(ns21, body) + "\n<!-- b --><?pi y?>\r\n\t", ""},
		{"byte order mark", "\uFEFF" + `<?xml version="1.0" encoding="UTF-8"?>` + doc(ns21, body), ""},
		{"prefixed root", `<r:assessmentResult xmlns:r="` + ns22 + `"><r:context/><r:testResult identifier="t" datestamp="d"/></r:assessmentResult>`, ""},
		{"testResult before context, with item results and foreign elements", doc(ns21, `<itemResult identifier="i"/><testResult/><x:ext xmlns:x="urn:x"/><context/>`), ""},
		{"CDATA and references inside", doc(ns21, body+`<itemResult><![CDATA[<a> & b]]>&lt;&#233;&#x41;&amp;</itemResult>`), ""},
		{"xml: attributes", doc(ns21, `<context xml:lang="fr"/><testResult/>`), ""},
		{"nesting at the limit", deep(MaxResultXMLDepth), ""},
		{"many attributes", doc(ns21, `<context`+manyAttrs(maxAttrs)+`/><testResult/>`), ""},

		{"empty", "", "empty document"},
		{"whitespace only", " \n\t", "empty document"},
		{"comment only", "<!-- nothing -->", "no root element"},
		{"nesting too deep", deep(MaxResultXMLDepth + 1), "elements nested deeper than 256"},
		{"very deep nesting", strings.Repeat("<a>", 1<<20), `the root element is "a", not assessmentResult`},
		{"very deep nesting inside the root", doc(ns21, strings.Repeat("<a>", 1<<20)), "elements nested deeper than 256"},
		{"invalid UTF-8", doc(ns21, "<context>\xff</context><testResult/>"), "invalid UTF-8"},
		{"illegal character", doc(ns21, "<context>\x01</context><testResult/>"), "not well-formed XML: line 1: illegal character code U+0001"},
		{"wrong root", `<assessmentItem xmlns="` + ns21 + `">` + body + `</assessmentItem>`, `the root element is "assessmentItem", not assessmentResult`},
		{"no namespace", `<assessmentResult>` + body + `</assessmentResult>`,
			"assessmentResult is in no namespace, not " + ns21 + " or " + ns22},
		{"QTI item namespace", doc("http://www.imsglobal.org/xsd/imsqti_v2p1", body),
			`assessmentResult is in namespace "http://www.imsglobal.org/xsd/imsqti_v2p1", not ` + ns21 + " or " + ns22},
		{"QTI 3 results", doc("http://www.imsglobal.org/xsd/imsqti_result_v3p0", body),
			`assessmentResult is in namespace "http://www.imsglobal.org/xsd/imsqti_result_v3p0", not ` + ns21 + " or " + ns22},
		{"undeclared root prefix", `<r:assessmentResult>` + body + `</r:assessmentResult>`, `element "assessmentResult" uses the undeclared namespace prefix "r"`},
		{"undeclared prefix inside", doc(ns21, body+`<p:x/>`), `element "x" uses the undeclared namespace prefix "p"`},
		{"undeclared attribute prefix", doc(ns21, `<context p:a="1"/><testResult/>`), `attribute "a" of element "context" uses the undeclared namespace prefix "p"`},
		{"prefix out of scope", doc(ns21, `<context><p:x xmlns:p="urn:p"/><p:y/></context><testResult/>`), `element "y" uses the undeclared namespace prefix "p"`},
		{"repeated attribute", doc(ns21, `<context a="1" a="2"/><testResult/>`), `element "context" repeats attribute "a"`},
		{"repeated attribute through prefixes", doc(ns21, `<context xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"/><testResult/>`), `element "context" repeats attribute "a"`},
		{"too many attributes", doc(ns21, `<context`+manyAttrs(maxAttrs+1)+`/><testResult/>`), `element "context" has more than 256 attributes`},
		{"missing context", doc(ns21, `<testResult identifier="t" datestamp="d"/><itemResult/>`), "assessmentResult has no context element"},
		{"context only nested", doc(ns21, `<itemResult><context/></itemResult><testResult/>`), "assessmentResult has no context element"},
		{"context in another namespace", doc(ns21, `<context xmlns="urn:other"/><testResult/>`), "assessmentResult has no context element"},
		{"missing testResult", doc(ns21, `<context/><itemResult identifier="i"/>`), "assessmentResult has no testResult element"},
		{"two contexts", doc(ns21, `<context/><context/><testResult/>`), "assessmentResult has more than one context element"},
		{"two testResults", doc(ns21, `<context/><testResult/><testResult/>`), "assessmentResult has more than one testResult element"},
		{"trailing text", doc(ns21, body) + "garbage", "text after the root element"},
		{"leading text", "junk" + doc(ns21, body), "text before the root element"},
		{"trailing element", doc(ns21, body) + "<x/>", "more than one root element (or something other than a comment after it)"},
		{"second root", doc(ns21, body) + doc(ns21, body), "more than one root element (or something other than a comment after it)"},
		{"CDATA outside the root", doc(ns21, body) + "<![CDATA[ ]]>", "a CDATA section outside the root element"},
		{"unclosed root", strings.TrimSuffix(doc(ns21, body), "</assessmentResult>"), "not well-formed XML: line 1: unexpected EOF"},
		{"mismatched end tag", doc(ns21, `<context></testResult>`), "not well-formed XML: line 1: element <context> closed by </testResult>"},
		{"undefined entity", doc(ns21, `<context>&nbsp;</context><testResult/>`), "not well-formed XML: line 1: invalid character entity &nbsp;"},
		{"unquoted attribute", doc(ns21, `<context a=1/><testResult/>`), "not well-formed XML: line 1: unquoted or missing attribute value in element"},
		{"name ending in a period", doc(ns21, `<..><testResult/>`), `not well-formed XML: line 1: invalid XML name: ".."`},
		{"double hyphen in a comment", doc(ns21, body+`<!-- a -- b -->`), `not well-formed XML: line 1: invalid sequence "--" not allowed in comments`},
		{"declaration not first", "\n" + `<?xml version="1.0"?>` + doc(ns21, body), "the XML declaration is not at the start of the document"},
		{"declaration in capitals later", doc(ns21, `<?XML version="1.0"?>`+body), "the XML declaration is not at the start of the document"},
		{"XML 1.1", `<?xml version="1.1"?>` + doc(ns21, body), `not well-formed XML: unsupported version "1.1"; only version 1.0 is supported`},
		{"Latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + doc(ns21, body), `declares encoding "ISO-8859-1", but results must be UTF-8`},
		{"DOCTYPE", `<!DOCTYPE assessmentResult SYSTEM "file:///etc/passwd">` + doc(ns21, body), "a document type declaration (<!DOCTYPE) is not allowed"},
		{"DOCTYPE inside the root", doc(ns21, `<!DOCTYPE x>`+body), "a document type declaration (<!DOCTYPE) is not allowed"},
		{"ENTITY", `<!ENTITY x "y">` + doc(ns21, body), "<! declarations (DTD, entities) are not allowed"},
		{"external entity", `<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + doc(ns21, `<context>&xxe;</context><testResult/>`),
			"a document type declaration (<!DOCTYPE) is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateResultXML([]byte(tt.doc))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("got error %q, want %q", got, tt.want)
			}
			if strings.ContainsAny(got, "\r\n") {
				t.Fatalf("error is not one line: %q", got)
			}
		})
	}
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(` a` + itoa(i) + `="1"`)
	}
	return b.String()
}

func TestValidateResultXMLSize(t *testing.T) {
	d := doc(ns21, body)
	at := d + strings.Repeat("\n", MaxResultXMLBytes-len(d))
	if err := ValidateResultXML([]byte(at)); err != nil {
		t.Fatalf("document of MaxResultXMLBytes: %v", err)
	}
	if err := ValidateResultXML([]byte(at + " ")); err == nil || err.Error() != "larger than 4194304 bytes (4 MiB)" {
		t.Fatalf("document of MaxResultXMLBytes+1: %v", err)
	}
}

// billionLaughs declares entities each expanding to ten of the previous: a
// parser that expanded "&lol9;" would build 10^9 "lol"s.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>` + "\n" + `<!DOCTYPE assessmentResult [` + "\n" + `<!ENTITY lol "lol">` + "\n")
	prev := "lol"
	for i := 1; i <= 9; i++ {
		name := "lol" + string(rune('0'+i))
		b.WriteString(`<!ENTITY ` + name + ` "` + strings.Repeat("&"+prev+";", 10) + `">` + "\n")
		prev = name
	}
	b.WriteString("]>\n")
	b.WriteString(doc(ns21, `<context sourcedId="&lol9;"/><testResult/>`))
	return b.String()
}

func TestBillionLaughs(t *testing.T) {
	d := []byte(billionLaughs())
	start := time.Now()
	err := ValidateResultXML(d)
	elapsed := time.Since(start)
	if err == nil || err.Error() != "a document type declaration (<!DOCTYPE) is not allowed" {
		t.Fatalf("got %v, want the DOCTYPE refused", err)
	}
	// Refused at the DOCTYPE, before any entity could be expanded: far
	// less than a second even on a slow, loaded machine.
	if elapsed > 100*time.Millisecond {
		t.Fatalf("took %v", elapsed)
	}
	allocs := testing.AllocsPerRun(10, func() { ValidateResultXML(d) })
	if allocs > 200 {
		t.Fatalf("%v allocations to refuse a billion laughs", allocs)
	}
}

func BenchmarkValidateResultXML(b *testing.B) {
	d := readFixture(b, "assessmentResult.xml")
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateResultXML(d); err != nil {
			b.Fatal(err)
		}
	}
}
