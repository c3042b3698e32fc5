package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/human"
	"github.com/taosync/taosync/manifest"
)

func (a *app) verifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "verify DIR",
		Short:   "Check the signatures and hashes of the bundles in DIR without applying them",
		Example: "  taosync verify /media/usb",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runVerify(cmd.Context(), args[0])
		},
	}
}

// verifyLine is one bundle in `taosync verify --json`.
type verifyLine struct {
	Bundle    string `json:"bundle"`
	Valid     bool   `json:"valid"`
	Error     string `json:"error,omitempty"`
	BundleID  string `json:"bundle_id,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Stream    string `json:"stream,omitempty"`
	Seq       uint64 `json:"seq,omitempty"`
	Full      bool   `json:"full,omitempty"`
	Sender    string `json:"sender,omitempty"`
	Recipient string `json:"recipient,omitempty"`
	Chunks    int    `json:"chunks,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
}

func (a *app) runVerify(ctx context.Context, dir string) error {
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	trust, err := h.Trust(ctx, time.Now())
	if err != nil {
		return err
	}
	dirs, err := bundle.Find(dir)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return refused(fmt.Errorf("no bundles in %s", dir))
	}
	var lines []verifyLine
	invalid := 0
	for _, d := range dirs {
		l := verifyLine{Bundle: d}
		b, err := bundle.Open(d, trust)
		if err == nil {
			m := b.Manifest
			l.BundleID, l.Kind, l.Stream, l.Seq, l.Full = m.ID, string(m.Kind), m.Stream, m.Seq, m.Kind == manifest.KindData && m.Full()
			l.Sender, l.Recipient = partyName(m.Sender.Role, m.Sender.Client), partyName(m.Recipient.Role, m.Recipient.Client)
			l.Chunks, l.Bytes = m.Chunks(), b.Bytes
			err = b.Check(ctx)
		}
		if err != nil {
			l.Error = err.Error()
			invalid++
		}
		l.Valid = err == nil
		lines = append(lines, l)
	}
	p := a.printer()
	if p.json {
		if err := table(p, lines, nil, nil); err != nil {
			return err
		}
	} else {
		printVerify(p.w, lines)
	}
	if invalid > 0 {
		return refused(fmt.Errorf("%d of %d bundles in %s are invalid", invalid, len(lines), dir))
	}
	return nil
}

func printVerify(w io.Writer, lines []verifyLine) {
	for _, l := range lines {
		if !l.Valid {
			fmt.Fprintf(w, "invalid  %s\n", l.Error)
			continue
		}
		kind := l.Kind
		if l.Kind == string(manifest.KindData) {
			kind += map[bool]string{true: " full", false: " delta"}[l.Full]
		}
		fmt.Fprintf(w, "valid    %s (%s seq %d)\n", l.Bundle, kind, l.Seq)
		writeLines(w, wrapClauses(fmt.Sprintf("%s to %s, %s, %s", l.Sender, l.Recipient,
			plural(int64(l.Chunks), "chunk"), human.Bytes(l.Bytes)), "  ", "  ", width))
	}
}

func partyName(role, client string) string {
	if client != "" {
		return "client " + client
	}
	return role
}
