package central

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// What ExportAll did for one client.
const (
	ExportWritten = "written"
	ExportCurrent = "current"
	ExportRevoked = "revoked"
	ExportFailed  = "failed"
)

// ClientExport is what ExportAll did for one client.
type ClientExport struct {
	Client  string `json:"client"`
	Outcome string `json:"outcome"` // written, current, revoked or failed
	// Dir is the client's folder; Bundle the bundle folder written, or
	// already there and current.
	Dir    string `json:"dir"`
	Bundle string `json:"bundle,omitempty"`
	// Seq, Full, Chunks and Bytes describe a bundle written.
	Seq    uint64 `json:"seq,omitempty"`
	Full   bool   `json:"full,omitempty"`
	Chunks int    `json:"chunks,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	// RevokedAt is when a client skipped for it was revoked; Error why
	// one failed.
	RevokedAt string `json:"revoked_at,omitempty"`
	Error     string `json:"error,omitempty"`
}

// ExportAll writes a data bundle for every client that is not revoked into
// its own folder, out/CLIENT, each bundle published atomically as
// ExportData does, and calls done after each client with how many are
// done of how many. A client whose folder
// already holds the last bundle central exported for it, when a delta on
// it would carry nothing, is current: nothing is written for it, so that
// a run cut short runs again from where it stopped. One client's failure
// does not stop the others; only the context's end does, returning what
// was done so far and its error.
func (c *Central) ExportAll(ctx context.Context, out string, o ExportOptions, done func(e ClientExport, n, of int)) ([]ClientExport, error) {
	clients, err := c.Store.Clients(ctx)
	if err != nil {
		return nil, err
	}
	var all []ClientExport
	for _, cl := range clients {
		if err := ctx.Err(); err != nil {
			return all, err
		}
		e := c.exportOne(ctx, cl, filepath.Join(out, cl.ID), o)
		if e.Outcome == ExportFailed && ctx.Err() != nil {
			return all, ctx.Err()
		}
		all = append(all, e)
		if done != nil {
			done(e, len(all), len(clients))
		}
	}
	return all, nil
}

func (c *Central) exportOne(ctx context.Context, cl store.RegisteredClient, dir string, o ExportOptions) ClientExport {
	e := ClientExport{Client: cl.ID, Dir: dir}
	if cl.RevokedAt != "" {
		e.Outcome, e.RevokedAt = ExportRevoked, cl.RevokedAt
		return e
	}
	last := lastExportIn(dir, cl, time.Now())
	o.Transport = "folder"
	// Only a delta on a bundle in the folder may be skipped: the centre
	// gets the folder, and nothing else.
	o.SkipEmpty = last != "" && !o.Full
	res, err := c.ExportData(ctx, cl.ID, dir, o)
	switch {
	case errors.Is(err, exporter.ErrNoChanges):
		e.Outcome, e.Bundle = ExportCurrent, last
	case err != nil:
		e.Outcome, e.Error = ExportFailed, err.Error()
	default:
		m := res.Manifest
		e.Outcome, e.Bundle, e.Seq, e.Full, e.Chunks, e.Bytes = ExportWritten, res.Dir, m.Seq, m.Full(), m.Chunks(), res.Bytes()
	}
	return e
}

// lastExportIn returns the folder of the last data bundle central recorded
// for the client if it is in dir and not expired: its manifest is the one
// whose hash central recorded. "" if it is not there.
func lastExportIn(dir string, cl store.RegisteredClient, now time.Time) string {
	if len(cl.DataBundle) < 8 {
		return ""
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	suffix := fmt.Sprintf("-%06d-%s", cl.DataSeq, cl.DataBundle[:8])
	for _, x := range entries {
		if !x.IsDir() || !strings.HasPrefix(x.Name(), "data-") || !strings.HasSuffix(x.Name(), suffix) {
			continue
		}
		d := filepath.Join(dir, x.Name())
		raw, err := bundle.ReadFile(filepath.Join(d, manifest.FileName), manifest.MaxManifestBytes)
		if err != nil || bundle.HashManifest(raw) != cl.DataHash {
			continue
		}
		if m, err := manifest.Parse(raw); err == nil && now.Before(m.Expires) {
			return d
		}
	}
	return ""
}
