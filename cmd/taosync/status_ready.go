package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/taosync/taosync/internal/client"
)

// readyLine says whether a client is ready for exam day, and if not, why
// in a word: what the problems below it say in full.
func readyLine(r client.Status) string {
	switch {
	case r.Ready && len(r.Problems) == 0:
		return "ready for exam day: yes"
	case r.Ready:
		return fmt.Sprintf("ready for exam day: yes, but see %s:", plural(int64(len(r.Problems)), "note"))
	case len(r.Deliveries) == 0 && len(r.Problems) == 0:
		return "ready for exam day: no: no delivery in the data imported"
	default:
		return fmt.Sprintf("ready for exam day: no, %s:", plural(int64(len(r.Problems)), "problem"))
	}
}

// writeLines writes lines, each with its line break.
func writeLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// bullet wraps text as an item of a list: "  - " on its first line, the
// next ones under its text.
func bullet(text string) []string {
	lines := wrap(text, "    ", width)
	if len(lines) > 0 {
		lines[0] = "  - " + strings.TrimPrefix(lines[0], "    ")
	}
	return lines
}
