package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/manifest"
)

// upload takes one file of a result bundle. The same file again is
// accepted; a chunk must match its name's hash.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, client string) {
	b, name := r.PathValue("bundle"), r.PathValue("file")
	if !bundleName.MatchString(b) || !ValidFile(name) || b[:len("results-")] != "results-" {
		writeError(w, http.StatusBadRequest, "not a result bundle file name")
		return
	}
	if !s.acquire(client) {
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("at most %d uploads at once per client", MaxUploadsPerClient))
		return
	}
	defer s.release(client)
	limit := int64(manifest.MaxChunkStored)
	switch name {
	case manifest.FileName:
		limit = manifest.MaxManifestBytes
	case manifest.SigName:
		limit = 64 << 10
	}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "file too large")
		return
	}
	dir := filepath.Join(s.inbox, client, b)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.fail(w, "upload", err)
		return
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		s.fail(w, "upload", err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "file too large")
			return
		}
		writeError(w, http.StatusBadRequest, "upload cut short")
		return
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if chunkName.MatchString(name) && sum != name {
		writeError(w, http.StatusBadRequest, "chunk does not match its name's hash")
		return
	}
	final := filepath.Join(dir, name)
	if old, err := os.ReadFile(final); err == nil {
		if oldSum := sha256.Sum256(old); hex.EncodeToString(oldSum[:]) != sum {
			writeError(w, http.StatusConflict, name+" was already uploaded with other content")
			return
		}
		writeJSON(w, http.StatusOK, File{Name: name, Size: n, SHA256: sum})
		return
	}
	if err := tmp.Sync(); err != nil {
		s.fail(w, "upload", err)
		return
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		s.fail(w, "upload", err)
		return
	}
	writeJSON(w, http.StatusCreated, File{Name: name, Size: n, SHA256: sum})
}

func (s *Server) acquire(client string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uploads[client] >= MaxUploadsPerClient {
		return false
	}
	s.uploads[client]++
	return true
}

func (s *Server) release(client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uploads[client]--
}

// CommitResponse answers a committed result bundle with its receipts.
type CommitResponse struct {
	Outcome string `json:"outcome"`
	// Receipt is the receipt bundle; absent for a bundle of no execution.
	Receipt *BundleRef `json:"receipt,omitempty"`
}

// commit imports an uploaded result bundle and answers with the receipt
// bundle, prepared for download. Committing the same bundle again gives the
// same receipt.
func (s *Server) commit(w http.ResponseWriter, r *http.Request, client string) {
	b := r.PathValue("bundle")
	if !bundleName.MatchString(b) {
		writeError(w, http.StatusNotFound, "no such upload")
		return
	}
	dir := filepath.Join(s.inbox, client, b)
	raw, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		writeError(w, http.StatusConflict, "upload the chunks, the signature and then the manifest first")
		return
	}
	// Route by the claimed sender before anything: a client commits only
	// its own results (the import then verifies the signature).
	if m, err := manifest.Parse(raw); err != nil || m.Kind != manifest.KindResults || m.Sender.Client != client {
		writeError(w, http.StatusForbidden, "not a result bundle of this client")
		return
	}
	ctx := r.Context()
	opts, err := central.Options(ctx, s.c.Home, "http", s.log)
	if err != nil {
		s.fail(w, "commit", err)
		return
	}
	lines, written, err := s.c.ImportResults(ctx, dir, opts, filepath.Join(s.spool, client))
	if err != nil {
		s.fail(w, "commit", err)
		return
	}
	if len(lines) != 1 || (lines[0].Outcome != importer.Applied && lines[0].Outcome != importer.Skipped) {
		reason := "no bundle"
		if len(lines) == 1 {
			reason = lines[0].Reason
		}
		writeError(w, http.StatusUnprocessableEntity, reason)
		return
	}
	resp := CommitResponse{Outcome: lines[0].Outcome}
	// A bundle of no execution is answered by no receipt.
	if d := written[lines[0].BundleID]; d != "" {
		ref, err := s.receiptRef(d)
		if err != nil {
			s.fail(w, "commit", err)
			return
		}
		resp.Receipt = &ref
	}
	os.RemoveAll(dir)
	writeJSON(w, http.StatusOK, resp)
}
