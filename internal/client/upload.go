package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/manifest"
)

// Results sends the results to send: first the result bundles an earlier
// sync wrote but could not get acknowledged, then a new one. Each is
// uploaded (chunks, signature, manifest), committed, and answered with a
// receipt bundle, which is downloaded and applied.
func (s *Syncer) Results(ctx context.Context) ([]importer.Line, error) {
	out := s.c.Home.Path(OutgoingDir)
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	_, _, err := s.c.ExportResults(ctx, out, false, "http")
	if err != nil && !errors.Is(err, ErrNothingToSend) {
		return nil, err
	}
	pending, err := filepath.Glob(filepath.Join(out, "results-*", manifest.FileName))
	if err != nil {
		return nil, err
	}
	var lines []importer.Line
	var errs []error
	for _, m := range pending {
		// One bundle central refuses does not hold the others back.
		l, err := s.send(ctx, filepath.Dir(m))
		lines = append(lines, l...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return lines, errors.Join(errs...)
}

// send uploads one result bundle and applies the receipts that answer it.
func (s *Syncer) send(ctx context.Context, dir string) ([]importer.Line, error) {
	return s.sendOnce(ctx, dir, false)
}

func (s *Syncer) sendOnce(ctx context.Context, dir string, retried bool) ([]importer.Line, error) {
	name := filepath.Base(dir)
	raw, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("result bundle %s: %w", name, err)
	}
	var files []string
	for _, sec := range m.Sections {
		for _, c := range sec.Chunks {
			files = append(files, c.Hash)
		}
	}
	files = append(files, manifest.SigName, manifest.FileName)
	for i, f := range files {
		body, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		if _, err := s.call(ctx, http.MethodPut, "/results/"+name+"/"+f, body, "application/octet-stream", nil); err != nil {
			return nil, err
		}
		if s.Progress != nil {
			s.Progress(name, "upload", int64(i+1), int64(len(files)))
		}
	}
	var resp server.CommitResponse
	_, err = s.call(ctx, http.MethodPost, "/results/"+name+"/commit", nil, "", &resp)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusConflict && !retried {
		// The upload is gone on central: it was committed and the answer
		// lost, or central lost it. Upload again and commit: a bundle
		// already stored is answered with the same receipts.
		return s.sendOnce(ctx, dir, true)
	}
	if err != nil {
		return nil, err
	}
	if resp.Receipt == nil {
		// A bundle of no execution: nothing to acknowledge.
		return nil, os.RemoveAll(dir)
	}
	rdir, err := s.download(ctx, s.c.Home.Path(IncomingDir), *resp.Receipt)
	if err != nil {
		return nil, err
	}
	lines, err := s.importDownloaded(ctx, rdir)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		if l.Outcome != importer.Applied && l.Outcome != importer.Skipped {
			return lines, fmt.Errorf("result bundle %s: its receipts were not applied (%s); it stays in %s and goes again", name, l.Reason, OutgoingDir)
		}
	}
	// Central holds the bundle and its receipts are applied: the copy
	// kept for a resend can go.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	return lines, safefile.SyncDir(filepath.Dir(dir))
}
