package load

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/taosync/taosync"
)

// readHeader reads and checks the CSV header row.
func (r *Reader) readHeader() error {
	rec, err := r.csv.Read()
	if err == io.EOF {
		return r.rowErr(1, "", "empty file: a header row naming the columns is required")
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return r.csvErr(pe)
		}
		return err
	}
	line, _ := r.csv.FieldPos(0)
	seen := make(map[string]bool, len(rec))
	for i, name := range rec {
		name = strings.TrimSpace(name)
		rec[i] = name
		switch {
		case !utf8.ValidString(name):
			return r.rowErr(line, strings.ToValidUTF8(name, "\uFFFD"), "invalid UTF-8 in column name")
		case name == "":
			return r.rowErr(line, "", "column %d has no name", i+1)
		case seen[name]:
			return r.rowErr(line, name, "duplicate column")
		}
		seen[name] = true
		if reason := r.refused(name); reason != "" {
			return r.rowErr(line, name, "%s", reason)
		}
	}
	if !seen[idField] {
		return r.rowErr(line, idField, "required column is missing")
	}
	for _, f := range taosync.Fields[r.typ] {
		if f.Required && !seen[f.Name] {
			return r.rowErr(line, f.Name, "required column is missing")
		}
	}
	r.header = rec
	return nil
}

// refused returns why a field may not be given for the Reader's type, or "".
func (r *Reader) refused(name string) string {
	switch {
	case name == taosync.PackageField:
		return "set by central on publish; a loaded file may not give it"
	case name == passwordField && !r.passwordOK:
		return "not allowed for type " + string(r.typ) + " (only " + passwordTypes() + ")"
	}
	return ""
}

func (r *Reader) csvErr(pe *csv.ParseError) *RowError {
	return r.rowErr(pe.StartLine, "", "malformed CSV at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
}

// nextCSV reads and converts the next CSV record.
func (r *Reader) nextCSV() (*row, int, error) {
	rec, err := r.csv.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.StartLine, r.csvErr(pe)
		}
		return nil, 0, err // io.EOF or an I/O error
	}
	line, _ := r.csv.FieldPos(0)
	if len(rec) != len(r.header) {
		return nil, line, r.rowErr(line, "", "row has %d columns, the header %d", len(rec), len(r.header))
	}
	for i, cell := range rec {
		if !utf8.ValidString(cell) {
			return nil, line, r.rowErr(line, r.header[i], "invalid UTF-8")
		}
	}
	rw := &row{
		data:  make(map[string]json.RawMessage, len(rec)),
		given: make(map[string]bool, len(rec)),
	}
	for i, name := range r.header {
		if name == idField {
			rw.id = rec[i]
			break
		}
	}
	if e := r.checkID(rw.id, line); e != nil {
		return nil, line, e
	}
	for i, name := range r.header {
		cell := rec[i]
		rw.given[name] = true
		if name == idField {
			continue
		}
		if name == passwordField {
			rw.password = cell // "" is no password
			continue
		}
		f, ok := r.known[name]
		if !ok {
			rw.data[name] = mustJSON(cell) // unknown: kept as a string, even ""
			continue
		}
		c := convCSV(f, cell)
		if c.reason != "" {
			return nil, line, r.rowErr(line, name, "%s", c.reason)
		}
		if c.raw != nil {
			rw.data[name] = c.raw
		}
	}
	return rw, line, nil
}
