package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	ns21  = "http://www.imsglobal.org/xsd/imsqti_result_v2p1"
	ns22  = "http://www.imsglobal.org/xsd/imsqti_result_v2p2"
	ns30  = "http://www.imsglobal.org/xsd/imsqti_result_v3p0"
	nsAll = ns21 + ", " + ns22 + ", " + ns30
)

// doc returns a result document in namespace ns with body inside the root.
func doc(ns, body string) string {
	return `<assessmentResult xmlns="` + ns + `">` + body + `</assessmentResult>`
}

const (
	body = `<context sourcedId="tt-0001"/><testResult identifier="webdev-1" datestamp="2025-06-12T10:00:00Z"/>`
	// item opens an itemResult with the attributes it needs.
	item = `<itemResult identifier="i1" datestamp="2025-06-12T10:00:00Z" sessionStatus="final">`
	test = `<testResult identifier="t" datestamp="2025-06-12T10:00:00Z"/>`
)

// validateCase is a document and the error ValidateResultXML gives it ("" for
// none).
type validateCase struct {
	name, doc string
	want      string
}

// validateCases are the documents of TestValidateResultXML, which the tests
// of scan and the fuzz targets read too.
func validateCases() []validateCase {
	deep := func(n int) string {
		return doc(ns21, body+item+`<outcomeVariable identifier="O" cardinality="single">`+strings.Repeat("<a>", n-3)+strings.Repeat("</a>", n-3)+`</outcomeVariable></itemResult>`)
	}
	return []validateCase{
		{"QTI 2.1", doc(ns21, body), ""},
		{"QTI 2.2", doc(ns22, body), ""},
		{"declaration, comments, PIs, whitespace", `<?xml version="1.0" encoding="utf-8"?>` + "\n<!-- a -->\n<?pi x?>" + doc(ns21, body) + "\n<!-- b --><?pi y?>\r\n\t", ""},
		{"byte order mark", "\uFEFF" + `<?xml version="1.0" encoding="UTF-8"?>` + doc(ns21, body), ""},
		{"QTI 3.0", doc(ns30, body), ""},
		{"prefixed root", `<r:assessmentResult xmlns:r="` + ns22 + `"><r:context/>` + strings.ReplaceAll(test, "<", "<r:") + `</r:assessmentResult>`, ""},
		{"foreign elements anywhere", doc(ns21, `<x:ext xmlns:x="urn:x"/><context><x:a xmlns:x="urn:x"/></context><x:ext xmlns:x="urn:x"/>`+test), ""},
		{"CDATA and references inside", doc(ns21, body+item+`<candidateComment><![CDATA[<a> & b]]>&lt;&#233;&#x41;&amp;</candidateComment></itemResult>`), ""},
		{"xml: attributes", doc(ns21, `<context xml:lang="fr"/>`), ""},
		{"nesting at the limit", deep(MaxResultXMLDepth), ""},
		{"many attributes", doc(ns21, `<context`+manyAttrs(maxAttrs)+`/>`), ""},

		// What the result schemas allow.
		{"context only", doc(ns21, `<context/>`), ""},
		{"item results without testResult", doc(ns22, `<context/>`+item+`</itemResult>`+item+`</itemResult>`), ""},
		{"testResult and item results", doc(ns30, `<context/>`+test+item+`</itemResult>`), ""},
		{"any order", doc(ns21, item+`</itemResult>`+test+`<context/>`+item+`</itemResult>`), ""},
		{"session identifiers", doc(ns21, `<context sourcedId="c"><sessionIdentifier sourceID="urn:s" identifier="s1"/><sessionIdentifier sourceID="x" identifier=""/></context>`), ""},
		{"variables", doc(ns21, `<context/><testResult identifier="t" datestamp="2025-06-12T10:00:00Z"><outcomeVariable identifier="SCORE" cardinality="single"><value>1</value></outcomeVariable></testResult>`+
			item+`<responseVariable identifier="R" cardinality="multiple"><candidateResponse><value>a</value><anything/></candidateResponse></responseVariable>`+
			`<templateVariable identifier="T" cardinality="record"/><outcomeVariable identifier="O" cardinality="ordered"/><candidateComment>ok</candidateComment></itemResult>`), ""},
		{"empty testResult identifier", doc(ns21, `<context/><testResult identifier="" datestamp="2025-06-12T10:00:00Z"/>`), ""},
		{"datestamps not of xs:dateTime, sequenceIndex not an integer", doc(ns21, `<context/><testResult identifier="t" datestamp=" 2024-01-22T15:15:40.8538631+01:00 "/>`+
			`<itemResult identifier="a" datestamp="2025-06-12T10:00:00" sessionStatus="initial"/>`+
			`<itemResult identifier="b" datestamp="-0044-03-15T24:00:00-14:00" sessionStatus="pendingSubmission" sequenceIndex="x"/>`+
			`<itemResult identifier="c" datestamp="2019-08-01T09:33:52:751" sessionStatus=" pendingResponseProcessing " sequenceIndex="0"/>`), ""},

		{"empty", "", "empty document"},
		{"whitespace only", " \n\t", "empty document"},
		{"comment only", "<!-- nothing -->", "no root element"},
		{"nesting too deep", deep(MaxResultXMLDepth + 1), "elements nested deeper than 256"},
		{"very deep nesting", strings.Repeat("<a>", 1<<20), `the root element is "a", not assessmentResult`},
		{"very deep nesting inside the root", doc(ns21, `<x:a xmlns:x="urn:x">`+strings.Repeat("<x:a>", 1<<19)), "elements nested deeper than 256"},
		{"invalid UTF-8", doc(ns21, "<context>\xff</context>"), "invalid UTF-8"},
		{"illegal character", doc(ns21, "<context>\x01</context>"), "not well-formed XML: line 1: illegal character code U+0001"},
		{"wrong root", `<assessmentItem xmlns="` + ns21 + `">` + body + `</assessmentItem>`, `the root element is "assessmentItem", not assessmentResult`},
		{"no namespace", `<assessmentResult>` + body + `</assessmentResult>`,
			"assessmentResult is in no namespace, not " + nsAll},
		{"QTI item namespace", doc("http://www.imsglobal.org/xsd/imsqti_v2p1", body),
			`assessmentResult is in namespace "http://www.imsglobal.org/xsd/imsqti_v2p1", not ` + nsAll},
		{"QTI 2.0 results", doc("http://www.imsglobal.org/xsd/imsqti_result_v2p0", body),
			`assessmentResult is in namespace "http://www.imsglobal.org/xsd/imsqti_result_v2p0", not ` + nsAll},
		{"undeclared root prefix", `<r:assessmentResult>` + body + `</r:assessmentResult>`, `element "assessmentResult" uses the undeclared namespace prefix "r"`},
		{"undeclared prefix inside", doc(ns21, body+`<p:x/>`), `element "x" uses the undeclared namespace prefix "p"`},
		{"undeclared attribute prefix", doc(ns21, `<context p:a="1"/>`), `attribute "a" of element "context" uses the undeclared namespace prefix "p"`},
		{"prefix out of scope", doc(ns21, `<context><p:x xmlns:p="urn:p"/><p:y/></context>`), `element "y" uses the undeclared namespace prefix "p"`},
		{"repeated attribute", doc(ns21, `<context a="1" a="2"/>`), `element "context" repeats attribute "a"`},
		{"repeated attribute through prefixes", doc(ns21, `<context xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"/>`), `element "context" repeats attribute "a"`},
		{"too many attributes", doc(ns21, `<context`+manyAttrs(maxAttrs+1)+`/>`), `element "context" has more than 256 attributes`},

		// What the result schemas forbid.
		{"no context", doc(ns21, ``), "assessmentResult has no context element"},
		{"context in another namespace", doc(ns21, `<context xmlns="urn:other"/>`), "assessmentResult has no context element"},
		{"two contexts", doc(ns21, `<context/><context/>`), "assessmentResult has more than one context element"},
		{"two testResults", doc(ns21, `<context/>`+test+test), "assessmentResult has more than one testResult element"},
		{"unknown child", doc(ns21, `<context/><itemResults/>`), `assessmentResult holds an element "itemResults" (it holds only context, testResult and itemResult)`},
		{"unknown child of context", doc(ns21, `<context><sessionId/></context>`), `context holds an element "sessionId" (it holds only sessionIdentifier)`},
		{"sessionIdentifier without sourceID", doc(ns21, `<context><sessionIdentifier identifier="s"/></context>`), "sessionIdentifier has no sourceID attribute"},
		{"sessionIdentifier without identifier", doc(ns21, `<context><sessionIdentifier sourceID="s"/></context>`), "sessionIdentifier has no identifier attribute"},
		{"testResult without identifier", doc(ns21, `<context/><testResult datestamp="2025-06-12T10:00:00Z"/>`), "testResult has no identifier attribute"},
		{"testResult without datestamp", doc(ns21, `<context/><testResult identifier="t"/>`), `testResult "t" has no datestamp attribute`},
		{"unknown child of testResult", doc(ns21, `<context/><testResult identifier="t" datestamp="2025-06-12T10:00:00Z"><candidateComment/></testResult>`),
			`testResult holds an element "candidateComment" (it holds only responseVariable, outcomeVariable and templateVariable)`},
		{"itemResult without identifier", doc(ns21, `<context/><itemResult datestamp="2025-06-12T10:00:00Z" sessionStatus="final"/>`), "itemResult has no identifier attribute"},
		{"itemResult without datestamp", doc(ns21, `<context/><itemResult identifier="i" sessionStatus="final"/>`), `itemResult "i" has no datestamp attribute`},
		{"itemResult without sessionStatus", doc(ns21, `<context/><itemResult identifier="i" datestamp="2025-06-12T10:00:00Z"/>`), `itemResult "i" has no sessionStatus attribute`},
		{"itemResult with a bad sessionStatus", doc(ns21, `<context/><itemResult identifier="i" datestamp="2025-06-12T10:00:00Z" sessionStatus="Final"/>`),
			`itemResult "i": sessionStatus "Final" is not one of final, initial, pendingResponseProcessing, pendingSubmission`},
		{"unknown child of itemResult", doc(ns21, `<context/>`+item+`<value/></itemResult>`),
			`itemResult holds an element "value" (it holds only responseVariable, outcomeVariable, templateVariable and candidateComment)`},
		{"variable without identifier", doc(ns21, `<context/>`+item+`<outcomeVariable cardinality="single"/></itemResult>`), "outcomeVariable has no identifier attribute"},
		{"variable without cardinality", doc(ns21, `<context/>`+item+`<responseVariable identifier="R"/></itemResult>`), `responseVariable "R" has no cardinality attribute`},
		{"variable with a bad cardinality", doc(ns30, `<context/>`+test+item+`<templateVariable identifier="T" cardinality="many"/></itemResult>`),
			`templateVariable "T": cardinality "many" is not one of single, multiple, ordered, record`},
		{"trailing text", doc(ns21, body) + "garbage", "text after the root element"},
		{"leading text", "junk" + doc(ns21, body), "text before the root element"},
		{"trailing element", doc(ns21, body) + "<x/>", "more than one root element (or something other than a comment after it)"},
		{"second root", doc(ns21, body) + doc(ns21, body), "more than one root element (or something other than a comment after it)"},
		{"CDATA outside the root", doc(ns21, body) + "<![CDATA[ ]]>", "a CDATA section outside the root element"},
		{"unclosed root", strings.TrimSuffix(doc(ns21, body), "</assessmentResult>"), "not well-formed XML: line 1: unexpected EOF"},
		{"mismatched end tag", doc(ns21, `<context></testResult>`), "not well-formed XML: line 1: element <context> closed by </testResult>"},
		{"undefined entity", doc(ns21, `<context>&nbsp;</context>`), "not well-formed XML: line 1: invalid character entity &nbsp;"},
		{"unquoted attribute", doc(ns21, `<context a=1/>`), "not well-formed XML: line 1: unquoted or missing attribute value in element"},
		{"name ending in a period", doc(ns21, `<..><context/>`), `not well-formed XML: line 1: invalid XML name: ".."`},
		{"double hyphen in a comment", doc(ns21, body+`<!-- a -- b -->`), `not well-formed XML: line 1: invalid sequence "--" not allowed in comments`},
		{"declaration not first", "\n" + `<?xml version="1.0"?>` + doc(ns21, body), "the XML declaration is not at the start of the document"},
		{"declaration in capitals later", doc(ns21, `<?XML version="1.0"?>`+body), "the XML declaration is not at the start of the document"},
		{"XML 1.1", `<?xml version="1.1"?>` + doc(ns21, body), `not well-formed XML: unsupported version "1.1"; only version 1.0 is supported`},
		{"Latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + doc(ns21, body), `declares encoding "ISO-8859-1", but results must be UTF-8`},
		{"DOCTYPE", `<!DOCTYPE assessmentResult SYSTEM "file:///etc/passwd">` + doc(ns21, body), "a document type declaration (<!DOCTYPE) is not allowed"},
		{"DOCTYPE inside the root", doc(ns21, `<!DOCTYPE x>`+body), "a document type declaration (<!DOCTYPE) is not allowed"},
		{"ENTITY", `<!ENTITY x "y">` + doc(ns21, body), "<! declarations (DTD, entities) are not allowed"},
		{"external entity", `<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + doc(ns21, `<context>&xxe;</context>`),
			"a document type declaration (<!DOCTYPE) is not allowed"},
	}
}

func TestValidateResultXML(t *testing.T) {
	for _, tt := range validateCases() {
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

// TestValidateRealResults: result documents that other engines wrote (see
// testdata/qti-results/NOTICE.md) are taken in, QTI 2.1, 2.2 and 3.0, with
// and without testResult.
func TestValidateRealResults(t *testing.T) {
	files, err := filepath.Glob("../../testdata/qti-results/*.xml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("%d documents in testdata/qti-results, want 4", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			d, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := ValidateResultXML(d); err != nil {
				t.Fatal(err)
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
	b.WriteString(doc(ns21, `<context sourcedId="&lol9;"/>`))
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
