package results

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/load"
)

// fuzzKnown holds every id but those starting with "unknown", and fails for
// "lookup-error": deterministic, so a second reading sees the same.
func fuzzKnown(_ taosync.Type, id string) (bool, error) {
	if id == "lookup-error" {
		return false, errors.New("lookup failed")
	}
	return !strings.HasPrefix(id, "unknown"), nil
}

func FuzzReader(f *testing.F) {
	f.Add(readFixture(f, "executions.jsonl"))
	f.Add([]byte(rec("e1") + "\n\r\n" + rec("e2", "status", "active", "finished_at", absent, "result_xml", "")))
	f.Add([]byte(rec("e1", "status", "paused", "finished_at", "", "result_xml", smallXML) + rec("e1")))
	f.Add([]byte(rec("e1", "delivery", "unknown-d") + rec("e2", "test_center", "lookup-error") + rec("e3")))
	f.Add([]byte(rec("e1", "result_xml", billionLaughs())))
	f.Add([]byte(rec("e1", "x", 1) + `{"id":"a","id":"b"}` + "\n" + `{"id":"\ud800"}` + "\n[]\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz.jsonl", fuzzKnown)
		lastLine := 0
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatal("Next never returns io.EOF")
			}
			e, line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var re *load.RowError
				if !errors.As(err, &re) {
					if _, _, again := r.Next(); again != err {
						t.Fatalf("final error %v, then %v", err, again)
					}
					break
				}
				if re.Line != line || line <= lastLine {
					t.Fatalf("RowError on line %d, Next says %d, after line %d", re.Line, line, lastLine)
				}
				if strings.ContainsAny(err.Error(), "\r\n") || !utf8.ValidString(err.Error()) {
					t.Fatalf("error is not one line of UTF-8: %q", err)
				}
				lastLine = line
				continue
			}
			if line <= lastLine {
				t.Fatalf("execution on line %d after line %d", line, lastLine)
			}
			lastLine = line
			checkExecution(t, e)
			roundTrip(t, e)
		}
	})
}

// checkExecution checks what the package promises of every execution.
func checkExecution(t *testing.T, e taosync.Execution) {
	t.Helper()
	if e.ID == "" || len(e.ID) > load.MaxIDLen || e.Delivery == "" || e.TestTaker == "" || e.TestCenter == "" {
		t.Fatalf("bad ids: %+v", e)
	}
	for _, s := range []string{e.ID, e.Delivery, e.TestTaker, e.TestCenter, e.Status, e.StartedAt, e.FinishedAt, e.ResultXML} {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 returned: %q", s)
		}
	}
	started, err := time.Parse(time.RFC3339, e.StartedAt)
	if err != nil {
		t.Fatalf("started_at: %v", err)
	}
	switch e.Status {
	case taosync.StatusFinished, taosync.StatusTerminated:
		if err := ValidateResultXML([]byte(e.ResultXML)); err != nil {
			t.Fatalf("%s execution with a bad result: %v", e.Status, err)
		}
		finished, err := time.Parse(time.RFC3339, e.FinishedAt)
		if err != nil || finished.Before(started) {
			t.Fatalf("finished_at %q, started_at %q", e.FinishedAt, e.StartedAt)
		}
	case taosync.StatusActive, taosync.StatusPaused:
		if e.FinishedAt != "" {
			t.Fatalf("%s execution finished at %q", e.Status, e.FinishedAt)
		}
		if e.ResultXML != "" {
			if err := ValidateResultXML([]byte(e.ResultXML)); err != nil {
				t.Fatalf("%s execution with a bad result: %v", e.Status, err)
			}
		}
	default:
		t.Fatalf("status %q", e.Status)
	}
}

// roundTrip encodes e with encoding/json (as the test-delivery application
// might), reads it back and wants the same execution.
func roundTrip(t *testing.T, e taosync.Execution) {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxLineBytes {
		return
	}
	r := NewReader(bytes.NewReader(append(b, '\n')), "again.jsonl", fuzzKnown)
	got, line, err := r.Next()
	if err != nil || line != 1 {
		t.Fatalf("reading back %s: line %d: %v", b, line, err)
	}
	if got != e {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, e)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the execution read back: %v", err)
	}
}

func FuzzValidateResultXML(f *testing.F) {
	f.Add(readFixture(f, "assessmentResult.xml"))
	f.Add([]byte(doc(ns22, body)))
	f.Add([]byte(`<r:assessmentResult xmlns:r="` + ns22 + `"><r:context/><r:testResult/></r:assessmentResult>`))
	for _, name := range []string{"cito-v2p1-result1.xml", "cito-v2p2-with-testresult.xml"} {
		d, err := os.ReadFile(filepath.Join("../../testdata/qti-results", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d)
	}
	f.Add([]byte(doc(ns30, `<context><sessionIdentifier sourceID="s" identifier="i"/></context>`+test+item+
		`<responseVariable identifier="R" cardinality="single"><candidateResponse><value>A</value></candidateResponse></responseVariable></itemResult>`)))
	f.Add([]byte(doc(ns21, `<context/><itemResult identifier="i" datestamp="2025-06-12T10:00:00+14:00" sessionStatus="bogus"/>`)))
	f.Add([]byte(billionLaughs()))
	f.Add([]byte(doc(ns21, body) + "<!-- -->x"))
	f.Add([]byte(`<?xml version="1.0" encoding="latin1"?>` + doc(ns21, `<context a="1" a="2"/>`)))
	f.Add([]byte(doc(ns21, `<![CDATA[x]]>&amp;&#0;<p:x/>`)))
	f.Fuzz(func(t *testing.T, d []byte) {
		err := ValidateResultXML(d)
		if again := ValidateResultXML(d); (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("two validations differ: %v, %v", err, again)
		}
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || msg == "" || strings.HasSuffix(msg, ".") {
				t.Fatalf("error is not one line without a final period: %q", err)
			}
			return
		}
		if len(d) > MaxResultXMLBytes || !utf8.Valid(d) {
			t.Fatalf("accepted %q", d)
		}
		// Read again with a plain strict decoder: no declaration, and the
		// root is a QTI assessmentResult.
		dec := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(d, []byte("\uFEFF"))))
		dec.Strict = true
		root := false
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("accepted, but encoding/xml says %v: %q", err, d)
			}
			switch tok := tok.(type) {
			case xml.Directive:
				t.Fatalf("accepted with a declaration: %q", d)
			case xml.StartElement:
				if !root && (tok.Name.Local != "assessmentResult" || tok.Name.Space != ns21 && tok.Name.Space != ns22 && tok.Name.Space != ns30) {
					t.Fatalf("accepted with root %v: %q", tok.Name, d)
				}
				root = true
			}
		}
		if !root {
			t.Fatalf("accepted without a root: %q", d)
		}
		// A document accepted here is accepted in an execution.
		line, err := json.Marshal(taosync.Execution{ID: "e", Delivery: "d", TestTaker: "t", TestCenter: "c",
			Status: taosync.StatusFinished, StartedAt: "2025-06-12T09:30:00Z", FinishedAt: "2025-06-12T10:30:00Z", ResultXML: string(d)})
		if err != nil {
			t.Fatal(err)
		}
		if len(line) <= MaxLineBytes {
			if _, _, err := NewReader(bytes.NewReader(line), "f.jsonl", fuzzKnown).Next(); err != nil {
				t.Fatalf("valid result refused in an execution: %v", err)
			}
		}
	})
}
