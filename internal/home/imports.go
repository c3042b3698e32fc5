package home

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/store"
)

// ImportOptions returns the options of an import into this home now: the
// keys it trusts and its own identity, for central and a client alike.
func (h *Home) ImportOptions(ctx context.Context, transport string, log *slog.Logger) (importer.Options, error) {
	trust, err := h.Trust(ctx, time.Now())
	if err != nil {
		return importer.Options{}, err
	}
	id, err := h.Identity()
	if err != nil {
		return importer.Options{}, err
	}
	return importer.Options{Trust: trust, Identity: id, Transport: transport, Log: log}, nil
}

// RecordRefusals adds a history row to h for each bundle refused, but for
// those refused before their manifest was verified: anyone can put a
// thousand such folders on a stick, so they share one row, saying how many
// there were and why the first was refused.
func RecordRefusals[L interface{ Base() importer.Line }](ctx context.Context, h *Home, lines []L, opts importer.Options) error {
	if opts.DryRun {
		return nil
	}
	var rows, unverified []taosync.HistoryEntry
	for _, x := range lines {
		l := x.Base()
		if l.Outcome != importer.Refused {
			continue
		}
		e := taosync.HistoryEntry{Direction: "in", Transport: opts.Transport, BundleID: l.BundleID,
			Bundle: filepath.Base(l.Bundle), Kind: l.Kind, Seq: l.Seq, Full: l.Full, Bytes: l.Bytes,
			Outcome: taosync.OutcomeRefused, Error: l.Reason}
		if l.BundleID == "" {
			unverified = append(unverified, e)
			continue
		}
		rows = append(rows, e)
	}
	if n := len(unverified); n > 0 {
		e := unverified[0]
		if n > 1 {
			e.Error = fmt.Sprintf("%d manifests refused: first: %s", n, e.Error)
		}
		rows = append(rows, e)
	}
	for _, e := range rows {
		if err := store.AddHistory(ctx, h.DB, e); err != nil {
			return err
		}
	}
	return nil
}
