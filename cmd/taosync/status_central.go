package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/human"
	"github.com/taosync/taosync/internal/store"
)

// statusOptions are central's filters of `status`.
type statusOptions struct {
	client string
	since  string
}

// writeClientStatus writes central's view of one client for people, each
// field's lines wrapped at 80 columns.
func writeClientStatus(w io.Writer, s store.ClientStatus, min string) {
	head := fmt.Sprintf("client %s (org %s)", s.ID, s.Org)
	if s.RevokedAt != "" {
		head += ", revoked " + toSecond(s.RevokedAt)
	}
	fmt.Fprintln(w, head)
	field := func(label, text string) {
		for _, l := range wrapClauses(text, fmt.Sprintf("  %-9s", label+":"), "           ", width) {
			fmt.Fprintln(w, l)
		}
	}
	if s.DataSeq == 0 {
		field("data", "nothing exported yet")
	} else {
		field("data", fmt.Sprintf("exported seq %d at %s; client reported seq %d (lag %d)",
			s.DataSeq, toSecond(s.DataAt), s.AckedSeq, s.Lag))
	}
	field("holds", countsLine(s.Entities))
	results := fmt.Sprintf("%d received, %s, %s", s.Received, plural(s.Conflicts, "conflict"), plural(s.Bundles, "bundle"))
	if s.LastResult != "" {
		results += ", last at " + toSecond(s.LastResult)
	}
	field("results", results)
	if at, ok := central.LastContact(s); ok {
		field("contact", at.Local().Format(time.DateTime))
	} else {
		field("contact", "never")
	}
	if len(s.Gaps) > 0 {
		field("missing", fmt.Sprintf("the result bundle before each of seq %v never arrived", s.Gaps))
	}
	if r := s.Report; r != nil {
		ready := "ready"
		if !r.Ready {
			ready = "not ready"
		}
		free := "disk space unknown"
		if r.FreeDisk >= 0 {
			free = human.Bytes(r.FreeDisk) + " free"
		}
		field("centre", fmt.Sprintf("%s, taosync %s, data seq %d, %s pending, %s; reported %s by %s",
			ready, r.Version, r.DataSeq, plural(r.Pending, "result"), free, r.At.Local().Format(time.DateTime), r.Via))
		for _, p := range r.Problems {
			lines := wrap(p, "      ", width)
			if len(lines) > 0 {
				lines[0] = "    - " + strings.TrimPrefix(lines[0], "      ")
			}
			writeLines(w, lines)
		}
	} else {
		field("centre", "no readiness report yet")
	}
	if s.UpgradeNeeded {
		field("upgrade", fmt.Sprintf("needed, to taosync %s or later (clients.minVersion)", min))
	}
	if e := s.LastError; e != nil {
		field("error", toSecond(e.At)+": "+e.Error)
	}
}

// noClientsLine says why central's status lists no client.
func noClientsLine(o statusOptions) string {
	if o.since != "" {
		return "every client was heard from since " + o.since
	}
	return "no clients registered"
}

// toSecond shows a stored time (RFC 3339, maybe with nanoseconds) for
// people: local time to the second, "-" when there is none.
func toSecond(s string) string {
	if s == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Local().Format(time.DateTime)
}
