package jsonl

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	l := NewLineReader(bufio.NewReaderSize(strings.NewReader("ab\r\n"+strings.Repeat("x", 40)+"\n\nlast"), 16), 8)
	want := []struct {
		line    string
		tooLong bool
	}{{"ab", false}, {"", true}, {"", false}, {"last", false}}
	for _, w := range want {
		line, tooLong, err := l.ReadLine()
		if err != nil || string(line) != w.line || tooLong != w.tooLong {
			t.Fatalf("got %q %v %v, want %q %v", line, tooLong, err, w.line, w.tooLong)
		}
	}
	if _, _, err := l.ReadLine(); err != io.EOF {
		t.Fatalf("after the last line: %v, want EOF", err)
	}
}

func TestSplit(t *testing.T) {
	ms, err := Split([]byte(` {"a": 1, "b":"x"} `), false)
	if err != nil || len(ms) != 2 || ms[0].Key != "a" || string(ms[0].Raw) != "1" || ms[1].Key != "b" || string(ms[1].Text) != `, "b":"x"` {
		t.Fatalf("got %+v %v", ms, err)
	}
	var se *SyntaxError
	for _, c := range []struct {
		line      string
		useNumber bool
		want      error
		truncated bool
	}{
		{`[1]`, false, ErrNotObject, false},
		{`{} {}`, false, ErrTrailing, false},
		{`{"a":1`, false, nil, true},
		{`{"a" 1}`, false, nil, false},
		{`1e400`, false, nil, false}, // a float64 overflows
		{`1e400`, true, ErrNotObject, false},
	} {
		_, err := Split([]byte(c.line), c.useNumber)
		switch {
		case c.want != nil && err != c.want:
			t.Errorf("%s: %v, want %v", c.line, err, c.want)
		case c.want == nil && (!errors.As(err, &se) || se.Truncated() != c.truncated):
			t.Errorf("%s: %v, want a syntax error (truncated %v)", c.line, err, c.truncated)
		}
	}
}

func TestValidText(t *testing.T) {
	for text, want := range map[string]bool{
		`"a\u00e9\ud83d\ude00"`: true,
		`"\\ud800"`:             true, // an escaped backslash, no escape
		"\"\xff\"":              false,
		`"\ud800"`:              false,
		`"\ud800\u0041"`:        false,
		`"\udc00"`:              false,
		`"\ud800\`:              false,
	} {
		if got := ValidText([]byte(text)); got != want {
			t.Errorf("ValidText(%s) = %v, want %v", text, got, want)
		}
	}
}
