package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// printer writes human output (not logging) in its text or JSON form: a
// listing prints JSON Lines, one object a line; a report one JSON object.
type printer struct {
	w    io.Writer
	json bool
}

func (a *app) printer() *printer { return &printer{w: a.stdout, json: a.json} }

// object prints v as one JSON object, or calls text for the text form.
func (p *printer) object(v any, text func(w io.Writer)) error {
	if p.json {
		return json.NewEncoder(p.w).Encode(v)
	}
	text(p.w)
	return nil
}

// table prints rows: JSON Lines of items in JSON form, else a table whose
// first row is header and whose other rows come from row.
func table[T any](p *printer, items []T, header []string, row func(T) []any) error {
	return detailTable(p, items, header, row, nil, -1)
}

// width is the terminal width the text tables are made for.
const width = 80

// detailTable is table with, under each row, the detail lines that details
// gives (already indented): what does not fit a column at 80 characters.
// Column flex, if not -1, gives way: a cell too long for the table to fit
// in 80 characters is cut short with "…" and shown whole under its row
// (wrapped).
func detailTable[T any](p *printer, items []T, header []string, row func(T) []any, details func(T) []string, flex int) error {
	if p.json {
		enc := json.NewEncoder(p.w)
		for _, it := range items {
			if err := enc.Encode(it); err != nil {
				return err
			}
		}
		return nil
	}
	rows := [][]string{header}
	for _, it := range items {
		var cells []string
		for _, c := range row(it) {
			// A tab or line break in a value would break the layout.
			cells = append(cells, strings.Map(func(r rune) rune {
				if r == '\t' || r == '\n' || r == '\r' {
					return ' '
				}
				return r
			}, fmt.Sprint(c)))
		}
		rows = append(rows, cells)
	}
	// What the flexible column may take: the rest of the line.
	avail := -1
	if flex >= 0 {
		widths := make([]int, len(header))
		for _, r := range rows {
			for i, c := range r {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
		other := 2 * (len(header) - 1)
		for i, w := range widths {
			if i != flex {
				other += w
			}
		}
		avail = max(width-other, len(header[flex])+1)
	}
	var out strings.Builder
	lines := make([][]string, len(rows))
	for i, r := range rows[1:] {
		if avail > 0 && utf8.RuneCountInString(r[flex]) > avail {
			whole := r[flex]
			r[flex] = string([]rune(whole)[:avail-1]) + "…"
			lines[i+1] = append(lines[i+1], wrap(strings.ToLower(header[flex])+": "+whole, "    ", width)...)
		}
		if details != nil {
			lines[i+1] = append(lines[i+1], details(items[i])...)
		}
	}
	// The columns are laid out first, then each row's details go under it.
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		out.WriteString(strings.TrimRight(l, " ") + "\n")
		for _, d := range lines[i] {
			out.WriteString(d + "\n")
		}
	}
	_, err := io.WriteString(p.w, out.String())
	return err
}

// plural says "1 bundle", "2 bundles": n and the word, in the plural unless
// n is 1 (the words used here all take an s).
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// orBeneath is head and tail on one line if it fits in width, else tail
// on the line beneath, indented and whole (a reason or a path, read as
// one).
func orBeneath(head, tail string) []string {
	if utf8.RuneCountInString(head)+1+utf8.RuneCountInString(tail) <= width {
		return []string{head + " " + tail}
	}
	return []string{head, "  " + tail}
}

// wrap cuts text into lines of at most width runes after indent, at spaces
// (a word longer than the line stays whole).
func wrap(text, indent string, width int) []string {
	return wrapWords(strings.Fields(text), indent, width)
}

// wrapClauses cuts text into lines of at most width runes, the first after
// first, the others after indent (as long), breaking only after ", " and
// "; ", so that "seq 1", a time or a count stays whole.
func wrapClauses(text, first, indent string, width int) []string {
	var clauses []string
	for _, p := range strings.SplitAfter(text, ", ") {
		for _, q := range strings.SplitAfter(p, "; ") {
			clauses = append(clauses, strings.TrimSpace(q))
		}
	}
	lines := wrapWords(clauses, indent, width)
	if len(lines) > 0 {
		lines[0] = first + strings.TrimPrefix(lines[0], indent)
	}
	return lines
}

// wrapWords is wrap of words already cut, which may hold spaces: a line
// breaks only between them.
func wrapWords(words []string, indent string, width int) []string {
	var lines []string
	line := indent
	for _, w := range words {
		if line != indent && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			lines = append(lines, line)
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	if line != indent {
		lines = append(lines, line)
	}
	return lines
}
