package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/sample"
)

// benchOrg is the organisation of the benchmarked client.
const benchOrg = "org-1"

// recordsConfig is master data in which benchOrg's scope holds takers test
// takers: two organisations of equal size (sample spreads test takers
// evenly over centres, and every organisation has as many centres), so that
// central also holds a whole other organisation the scope must leave out.
// As sample.Bench: about 500 test takers a centre, eligibilities of 50, a
// dozen deliveries in the programme.
func recordsConfig(takers int) sample.Config {
	return sample.Config{
		Seed:                 1,
		Orgs:                 2,
		CentersPerOrg:        max(1, (takers+499)/500),
		TestTakers:           2 * takers,
		ProctorsPerCenter:    3,
		AdminsPerCenter:      1,
		Deliveries:           12,
		TakersPerEligibility: 50,
	}
}

// packageConfig is the small master data of the package cases: four
// centres an organisation, so that each of the four deliveries is taken in
// benchOrg and its package goes to the client.
func packageConfig() sample.Config {
	return sample.Config{
		Seed:                 2,
		Orgs:                 2,
		CentersPerOrg:        4,
		TestTakers:           400,
		ProctorsPerCenter:    1,
		AdminsPerCenter:      1,
		Deliveries:           4,
		TakersPerEligibility: 50,
	}
}

// eligibility is one eligibility of the generated data.
type eligibility struct {
	ID         string   `json:"id"`
	TestCenter string   `json:"test_center"`
	Delivery   string   `json:"delivery"`
	TestTakers []string `json:"test_takers"`
}

// scopeEligibilities returns the eligibilities at the centres of org, in
// the generator's order.
func scopeEligibilities(c sample.Config, org string) ([]eligibility, error) {
	byOrg, err := eligibilitiesByOrg(c)
	return byOrg[org], err
}

// scopeDeliveries returns the deliveries taken in org, sorted.
func scopeDeliveries(c sample.Config, org string) ([]string, error) {
	els, err := scopeEligibilities(c, org)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, el := range els {
		if !seen[el.Delivery] {
			seen[el.Delivery] = true
			out = append(out, el.Delivery)
		}
	}
	sort.Strings(out)
	return out, nil
}

// writeChanges writes, as JSON Lines for "central load", one test taker in
// every hundred with a changed email address (they moved to another
// provider), and returns how many.
func writeChanges(path string, c sample.Config) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	i, n := 0, 0
	err = sample.Each(c, taosync.TestTaker, func(e taosync.Entity) error {
		i++
		if i%100 != 1 {
			return nil
		}
		var fields map[string]any
		if err := json.Unmarshal(e.Data, &fields); err != nil {
			return err
		}
		login, _ := fields["login"].(string)
		fields["email"] = login + "@mail.example.net"
		line, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		n++
		w.Write(line)
		return w.WriteByte('\n')
	})
	if err != nil {
		return 0, err
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return n, f.Close()
}

// execution is one line of "results add" input.
type execution struct {
	ID         string `json:"id"`
	Delivery   string `json:"delivery"`
	TestTaker  string `json:"test_taker"`
	TestCenter string `json:"test_center"`
	Status     string `json:"status"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	ResultXML  string `json:"result_xml"`
}

// writeExecutions writes n finished executions of the test takers of els,
// each with an assessmentResult document of about 4 KiB and an id that
// starts with prefix (each client of the HTTP case sends its own to one
// central), and returns the mean size of the documents.
func writeExecutions(path, prefix string, els []eligibility, n int, seed uint64) (float64, error) {
	if len(els) == 0 {
		return 0, fmt.Errorf("no eligibilities in scope")
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 256*kib)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	r := rand.New(rand.NewPCG(seed, 0x7265_7375_6c74)) // "result"
	day := time.Date(2027, 6, 14, 8, 30, 0, 0, time.FixedZone("", 2*3600))
	var xmlBytes int64
	for i := range n {
		el := els[i%len(els)]
		taker := el.TestTakers[(i/len(els))%len(el.TestTakers)]
		start := day.Add(time.Duration(r.IntN(6*3600)) * time.Second)
		end := start.Add(time.Duration(900+r.IntN(3600)) * time.Second)
		x := execution{
			ID: prefix + "exec-" + strconv.Itoa(i+1), Delivery: el.Delivery, TestTaker: taker, TestCenter: el.TestCenter,
			Status: taosync.StatusFinished, StartedAt: start.Format(time.RFC3339), FinishedAt: end.Format(time.RFC3339),
		}
		x.ResultXML = resultXML(r, x, start, end)
		xmlBytes += int64(len(x.ResultXML))
		if err := enc.Encode(x); err != nil {
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return float64(xmlBytes) / float64(n), f.Close()
}

var words = strings.Fields(`a the closure keeps variables of function it was created in and can use them
	after that has returned for example counter built with make selector matches every element whose class
	attribute contains value request response header status code server client cache browser stores copy
	page alternative text describes image screen reader user cannot see layout grid flex column row`)

// resultXML is an IMS QTI 2.1 assessmentResult of five items as the
// test-delivery application writes one (shaped like
// testdata/results/assessmentResult.xml): a few KiB, different for every
// execution.
func resultXML(r *rand.Rand, x execution, start, end time.Time) string {
	var b strings.Builder
	b.Grow(4600)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p1"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.imsglobal.org/xsd/imsqti_result_v2p1 http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_result_v2p1.xsd">
`)
	fmt.Fprintf(&b, `  <context sourcedId="%s">
    <sessionIdentifier sourceID="https://delivery.%s.example/" identifier="%s"/>
  </context>
`, x.TestTaker, x.TestCenter, x.ID)
	type item struct {
		id, card, base string
		correct, given []string
		score          float64
	}
	choice := func() string { return "choice_" + string(rune('a'+r.IntN(4))) }
	items := []item{
		{id: "html-doctype", card: "single", base: "identifier", correct: []string{"choice_b"}, given: []string{choice()}},
		{id: "css-selectors", card: "multiple", base: "identifier", correct: []string{"choice_a", "choice_d"}, given: []string{choice(), choice()}},
		{id: "http-status", card: "single", base: "string", correct: []string{"404"}, given: []string{strconv.Itoa(200 + r.IntN(300))}},
		{id: "js-closures", card: "single", base: "string"},
		{id: "a11y-alt-text", card: "single", base: "identifier", correct: []string{"choice_c"}, given: []string{choice()}},
	}
	var sentence []string
	for range 18 + r.IntN(16) {
		sentence = append(sentence, words[r.IntN(len(words))])
	}
	items[3].given = []string{strings.Join(sentence, " ") + "."}
	total := 0.0
	for i := range items {
		it := &items[i]
		switch {
		case it.correct == nil:
			it.score = float64(r.IntN(3)) / 2
		case strings.Join(it.given, " ") == strings.Join(it.correct, " "):
			it.score = 1
		case it.card == "multiple" && (it.given[0] == it.correct[0] || it.given[1] == it.correct[1]):
			it.score = 0.5
		}
		total += it.score
	}
	dur := end.Sub(start).Seconds()
	fmt.Fprintf(&b, `  <testResult identifier="%s" datestamp="%s">
    <responseVariable identifier="duration" cardinality="single" baseType="duration">
      <candidateResponse>
        <value>%.1f</value>
      </candidateResponse>
    </responseVariable>
    <outcomeVariable identifier="SCORE" cardinality="single" baseType="float" normalMinimum="0" normalMaximum="5">
      <value>%g</value>
    </outcomeVariable>
    <outcomeVariable identifier="MAXSCORE" cardinality="single" baseType="float">
      <value>5</value>
    </outcomeVariable>
    <outcomeVariable identifier="PASSED" cardinality="single" baseType="boolean">
      <value>%t</value>
    </outcomeVariable>
  </testResult>
`, x.Delivery, x.FinishedAt, dur, total, total >= 3)
	at := start
	for i, it := range items {
		at = at.Add(time.Duration(60+r.IntN(600)) * time.Second)
		fmt.Fprintf(&b, `  <itemResult identifier="%s" sequenceIndex="%d" datestamp="%s" sessionStatus="final">
    <responseVariable identifier="RESPONSE" cardinality="%s" baseType="%s">
`, it.id, i+1, at.Format(time.RFC3339), it.card, it.base)
		if it.correct != nil {
			b.WriteString("      <correctResponse>\n")
			for _, v := range it.correct {
				fmt.Fprintf(&b, "        <value>%s</value>\n", v)
			}
			b.WriteString("      </correctResponse>\n")
		}
		b.WriteString("      <candidateResponse>\n")
		for _, v := range it.given {
			fmt.Fprintf(&b, "        <value>%s</value>\n", v)
		}
		fmt.Fprintf(&b, `      </candidateResponse>
    </responseVariable>
    <outcomeVariable identifier="SCORE" cardinality="single" baseType="float">
      <value>%g</value>
    </outcomeVariable>
  </itemResult>
`, it.score)
	}
	b.WriteString("</assessmentResult>\n")
	return b.String()
}
