package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/manifest"
)

// Results sends the results to send: first the result bundles an earlier
// sync wrote but could not get acknowledged, then a new one. Each is
// uploaded and committed in one request (see send), and answered with a
// receipt bundle, which is downloaded and applied.
func (s *Syncer) Results(ctx context.Context) ([]importer.Line, error) {
	out := s.c.Home.Path(OutgoingDir)
	if err := safefile.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	res, _, err := s.c.ExportResults(ctx, out, false, "http")
	if err != nil && !errors.Is(err, ErrNothingToSend) {
		return nil, err
	}
	// The bundle just written was never sent: central holds nothing of it.
	fresh := ""
	if err == nil {
		fresh = res.Dir
	}
	pending, err := filepath.Glob(filepath.Join(out, "results-*", manifest.FileName))
	if err != nil {
		return nil, err
	}
	var lines []importer.Line
	var errs []error
	for _, m := range pending {
		// One bundle central refuses does not hold the others back.
		l, err := s.send(ctx, filepath.Dir(m), filepath.Dir(m) == fresh)
		lines = append(lines, l...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return lines, errors.Join(errs...)
}

// send uploads one result bundle and applies the receipts that answer it.
// Each attempt asks central first what it holds of the bundle: a bundle
// already committed (the answer to the commit was lost) is answered again
// with its receipts and not sent again; an upload cut short goes on from
// the offset central holds. The rest goes in one request that commits. A
// fresh bundle, written by this sync, skips the first question: one round
// trip less on a line of long delay.
func (s *Syncer) send(ctx context.Context, dir string, fresh bool) ([]importer.Line, error) {
	name := filepath.Base(dir)
	raw, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("result bundle %s: %w", name, err)
	}
	files, err := streamFiles(dir, m)
	if err != nil {
		return nil, fmt.Errorf("result bundle %s: %w", name, err)
	}
	var resp api.UploadStatus
	ask := !fresh
	err = s.retry(ctx, "upload "+name, func() (time.Duration, error) {
		resp = api.UploadStatus{}
		if ask {
			_, after, err := s.jsonExchange(ctx, http.MethodGet, api.ResultPath(name)+"?bundle_id="+m.ID, nil, 0, nil, &resp)
			if err != nil || (resp.State == api.StateCommitted && resp.CommitResponse != nil) {
				return after, err
			}
		}
		// Every attempt after the first asks: the one before may have
		// left part of the bundle on central, or committed it.
		ask = true
		body, header, err := s.putBody(name, files, resp.Offset)
		if err != nil {
			return 0, err
		}
		_, after, err := s.jsonExchange(ctx, http.MethodPut, api.ResultPath(name)+"?commit=true", body, body.size, header, &resp)
		// The client may still be reading the body (central answered
		// before the end): stop it, and its progress, here.
		body.Close()
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusConflict {
			// Central's offset moved since it answered (a request cut
			// short was still running there): ask again.
			return 0, errors.New(se.Error())
		}
		if err == nil && (resp.State != api.StateCommitted || resp.CommitResponse == nil) {
			err = fmt.Errorf("central holds %d bytes and answered %q, not committed", resp.Offset, resp.State)
		}
		return after, err
	})
	if err != nil {
		return nil, err
	}
	if resp.Receipt == nil {
		// A bundle of no execution that a central before receipts for
		// such bundles stored: none will ever answer it.
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

// streamFile is one file of a result bundle's upload stream.
type streamFile struct {
	path string
	size int64
}

// streamFiles lists a bundle's files in the order of its upload stream:
// the signature, the manifest, then the chunks in manifest order.
func streamFiles(dir string, m *manifest.Manifest) ([]streamFile, error) {
	var files []streamFile
	add := func(name string) error {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		files = append(files, streamFile{filepath.Join(dir, name), info.Size()})
		return nil
	}
	for _, name := range []string{manifest.SigName, manifest.FileName} {
		if err := add(name); err != nil {
			return nil, err
		}
	}
	for _, sec := range m.Sections {
		for _, c := range sec.Chunks {
			if err := add(c.Hash); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

// putBody makes the body and headers of the request that sends a bundle's
// stream from offset on and commits it.
func (s *Syncer) putBody(name string, files []streamFile, offset int64) (*streamReader, http.Header, error) {
	var total int64
	for _, f := range files {
		total += f.size
	}
	if offset < 0 || offset > total {
		return nil, nil, fmt.Errorf("central holds %d bytes of a stream of %d", offset, total)
	}
	body := &streamReader{files: files, skip: offset, n: offset, size: total - offset, report: func(n int64) {
		if s.Progress != nil {
			s.Progress(name, "upload", n, total)
		}
	}}
	header := http.Header{}
	header.Set("Content-Type", "application/octet-stream")
	header.Set(api.HeaderOffset, strconv.FormatInt(offset, 10))
	header.Set(api.HeaderSignatureSize, strconv.FormatInt(files[0].size, 10))
	header.Set(api.HeaderManifestSize, strconv.FormatInt(files[1].size, 10))
	return body, header, nil
}

// streamReader reads files one after the other, skipping the first skip
// bytes, opening each file only when it comes, and reports the bytes of
// the stream read.
type streamReader struct {
	// mu: the HTTP client may close the body while it reads it.
	mu     sync.Mutex
	files  []streamFile
	skip   int64
	cur    *os.File
	n      int64
	report func(int64)
	// size is the number of bytes it reads in all.
	size int64
}

// Close closes the file being read; the HTTP client calls it when it is
// done with the body, read whole or not.
func (r *streamReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Nothing more is read once closed, even between two files.
	r.files = nil
	if r.cur == nil {
		return nil
	}
	err := r.cur.Close()
	r.cur = nil
	return err
}

func (r *streamReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.cur == nil {
			for len(r.files) > 0 && r.skip >= r.files[0].size {
				r.skip -= r.files[0].size
				r.files = r.files[1:]
			}
			if len(r.files) == 0 {
				return 0, io.EOF
			}
			f, err := os.Open(r.files[0].path)
			if err != nil {
				return 0, err
			}
			if _, err := f.Seek(r.skip, io.SeekStart); err != nil {
				f.Close()
				return 0, err
			}
			r.cur, r.skip = f, 0
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur, r.files = nil, r.files[1:]
			if n == 0 {
				continue
			}
			err = nil
		}
		r.n += int64(n)
		r.report(r.n)
		return n, err
	}
}
