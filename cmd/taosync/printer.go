package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
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
	if p.json {
		enc := json.NewEncoder(p.w)
		for _, it := range items {
			if err := enc.Encode(it); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	for i, h := range header {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, h)
	}
	fmt.Fprintln(tw)
	for _, it := range items {
		for i, c := range row(it) {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
