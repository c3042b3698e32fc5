package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// A client sends a result bundle in one request: PUT /results/{bundle}
// with the bundle's files one after the other in its stream order (the
// signature, the manifest, then the chunks in manifest order), committed
// in the same request with ?commit=true. A request cut short leaves what
// came on central, and the next one sends the rest from Upload-Offset.
// Clients before this send the files one by one (PUT
// /results/{bundle}/{file}) and then commit (POST
// /results/{bundle}/commit); both ways share the inbox and the quota.

// maxSignature bounds a manifest's signature file: a minisign signature
// with its comments is under 1 KiB.
const maxSignature = 64 << 10

// Quota bounds what one client holds on central uploaded but not
// committed, so that no client fills central's disk with uploads nobody
// commits.
type Quota struct {
	// Bundles bounds a client's open uploads: a client sends its bundles
	// one at a time, and holds more only after failures.
	Bundles int
	// Bytes bounds the bytes of a client's open uploads, those in flight
	// included.
	Bytes int64
	// Lifetime is how long an upload nobody touches is kept.
	Lifetime time.Duration
}

// DefaultQuota: a bundle of 100 results is about 60 KB, so 1 GiB holds the
// results of a large centre's weeks offline; a day is long enough to
// resume an upload cut by a night without a link.
var DefaultQuota = Quota{Bundles: 8, Bytes: 1 << 30, Lifetime: 24 * time.Hour}

// refusal is an upload refused, with the status that answers it.
type refusal struct {
	status int
	msg    string
}

func (r *refusal) Error() string { return r.msg }

func resultBundle(name string) bool {
	return api.ValidBundle(name) && strings.HasPrefix(name, "results-")
}

// upload takes one file of a result bundle. The same file again is
// accepted; a chunk must match its name's hash.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, client string) {
	b, name := r.PathValue("bundle"), r.PathValue("file")
	if !resultBundle(b) || !api.ValidFile(name) {
		writeError(w, http.StatusBadRequest, "not a result bundle file name")
		return
	}
	slot, ok := s.acquire(r.Context(), w, client)
	if !ok {
		return
	}
	defer slot.Release()
	limit := int64(manifest.MaxChunkStored)
	switch name {
	case manifest.FileName:
		limit = manifest.MaxManifestBytes
	case manifest.SigName:
		limit = maxSignature
	}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "file too large")
		return
	}
	want := limit
	if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	dir, done, ok := s.admit(slot.Context(), w, client, b, want)
	if !ok {
		return
	}
	defer done()
	tmpName := filepath.Join(dir, fmt.Sprintf(".upload-%s-%016x", name, rand.Uint64()))
	tmp, err := safefile.OpenFile(tmpName, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		s.fail(w, "upload", err)
		return
	}
	defer os.Remove(tmpName)
	defer tmp.Close()
	h := sha256.New()
	fw := &writeErr{w: safefile.Writer(tmp, tmpName)}
	n, err := io.Copy(io.MultiWriter(fw, h), http.MaxBytesReader(w, r.Body, want))
	if fw.err != nil {
		s.fail(w, "upload", fw.err)
		return
	}
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
	if api.ValidChunk(name) && sum != name {
		writeError(w, http.StatusBadRequest, "chunk does not match its name's hash")
		return
	}
	final := filepath.Join(dir, name)
	if old, err := os.ReadFile(final); err == nil {
		if oldSum := sha256.Sum256(old); hex.EncodeToString(oldSum[:]) != sum {
			writeError(w, http.StatusConflict, name+" was already uploaded with other content")
			return
		}
		if err := s.pushUpload(r.Context(), client, b); err != nil {
			s.fail(w, "upload", err)
			return
		}
		writeJSON(w, http.StatusOK, api.File{Name: name, Size: n, SHA256: sum})
		return
	}
	if err := safefile.Sync(tmp); err != nil {
		s.fail(w, "upload", err)
		return
	}
	if err := safefile.Rename(tmpName, final); err != nil {
		s.fail(w, "upload", err)
		return
	}
	if err := s.pushUpload(r.Context(), client, b); err != nil {
		s.fail(w, "upload", err)
		return
	}
	writeJSON(w, http.StatusCreated, api.File{Name: name, Size: n, SHA256: sum})
}

// acquire takes one of the client's MaxUploadsPerClient upload leases for
// an upload or commit, or answers 429 when all are held, on whichever
// replica. The housekeeping leaves the uploads of a client alone while it
// has one running.
func (s *Server) acquire(ctx context.Context, w http.ResponseWriter, client string) (*central.Lease, bool) {
	for i := range MaxUploadsPerClient {
		l, ok, err := s.takeLease(ctx, central.UploadLease(client, i), 0)
		if err != nil {
			s.fail(w, "upload", err)
			return nil, false
		}
		if ok {
			return l, true
		}
	}
	w.Header().Set("Retry-After", "2")
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("at most %d uploads at once per client", MaxUploadsPerClient))
	return nil, false
}

// admit reserves n bytes of the client's quota for an upload into bundle
// b, and makes the bundle's folder; over quota, it answers the request
// and changes nothing. done gives the bytes back, and removes the bundle's
// folder and the client's if the upload left them empty (a refused upload
// leaves nothing).
//
// The quota is counted across replicas (usage, and the bytes of uploads
// running reserved in leases) without a lock: two requests admitted at
// once, at one replica or two, may each pass it by one bundle or one body,
// so it is loose by MaxUploadsPerClient at most (each holds one of the
// client's upload leases).
func (s *Server) admit(ctx context.Context, w http.ResponseWriter, client, b string, n int64) (dir string, done func(), ok bool) {
	dir = filepath.Join(s.inbox, client, b)
	open, used, err := s.usage(ctx, client)
	if err != nil {
		s.fail(w, "upload", err)
		return "", nil, false
	}
	if !open[b] && len(open) >= s.Quota.Bundles {
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf(
			"at most %d uncommitted result bundles per client: commit them, or they are removed %s after their last upload",
			s.Quota.Bundles, s.Quota.Lifetime))
		return "", nil, false
	}
	_, reserved, err := s.c.Store.LeasesHeld(ctx, "bytes/"+client+"/")
	if err != nil {
		s.fail(w, "upload", err)
		return "", nil, false
	}
	if n > s.Quota.Bytes-used-reserved {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"at most %d bytes of uncommitted uploads per client, and %d are held", s.Quota.Bytes, used+reserved))
		return "", nil, false
	}
	held, ok, err := s.takeLease(ctx, fmt.Sprintf("bytes/%s/%016x", client, rand.Uint64()), n)
	if err == nil && !ok {
		err = errors.New("a new lease's name is taken")
	}
	if err != nil {
		s.fail(w, "upload", err)
		return "", nil, false
	}
	unlock := s.lockInbox(client)
	err = safefile.MkdirAll(dir, 0o700)
	unlock()
	if err != nil {
		held.Release()
		s.fail(w, "upload", err)
		return "", nil, false
	}
	return dir, func() {
		held.Release()
		s.tidyInbox(client, dir)
	}, true
}

// lockInbox locks the client's folder of the home's inbox against the
// making and removing of its folders by the other requests and the sweep
// of this replica, so that no folder is removed between its making and a
// request's first file in it; it returns the unlock.
func (s *Server) lockInbox(client string) (unlock func()) {
	s.mu.Lock()
	l := s.inboxLocks[client]
	if l == nil {
		l = &inboxLock{}
		s.inboxLocks[client] = l
	}
	l.users++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		if l.users--; l.users == 0 {
			delete(s.inboxLocks, client)
		}
	}
}

// inboxLock is one client's lockInbox, kept while users want it.
type inboxLock struct {
	sync.Mutex
	users int
}

// tidyInbox removes an upload's folder in the client's inbox, and the
// client's, if they are empty: Remove fails on the others.
func (s *Server) tidyInbox(client, dir string) {
	defer s.lockInbox(client)()
	os.Remove(dir)
	os.Remove(filepath.Dir(dir))
}

// usage returns the client's open uploads and their bytes: the bundle
// folders of this replica's inbox with the bytes of their files, and when
// the blobs are an object store, every replica's uploads there and the
// bytes of their whole files. An upload counts at every replica from its
// first whole file (its signature and manifest come first), and at the
// replica receiving it from its first byte, until nothing was written to
// it, here or there, for Quota.Lifetime: it is then the housekeeping's to
// remove, and no longer holds the client's quota, whenever the sweep
// comes. The store, not the leases: an upload stays open between the
// requests that send it, while no lease names it.
func (s *Server) usage(ctx context.Context, client string) (open map[string]bool, bytes int64, err error) {
	written := map[string]time.Time{} // by BUNDLE
	size := map[string]int64{}        // by BUNDLE/FILE
	cdir := filepath.Join(s.inbox, client)
	bundles, err := os.ReadDir(cdir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	for _, b := range bundles {
		if !b.IsDir() {
			continue
		}
		// The folder's own time: an upload's folder made and still
		// empty is open.
		if info, err := b.Info(); err == nil {
			written[b.Name()] = info.ModTime()
		}
		files, err := os.ReadDir(filepath.Join(cdir, b.Name()))
		if err != nil {
			return nil, 0, err
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			if t := info.ModTime(); t.After(written[b.Name()]) {
				written[b.Name()] = t
			}
			// A temporary file is an upload running: its bytes are
			// reserved already.
			if !strings.HasPrefix(f.Name(), ".upload-") {
				size[b.Name()+"/"+f.Name()] = info.Size()
			}
		}
	}
	if s.elsewhere() {
		prefix := inboxKey(client, "") + "/"
		objects, err := s.c.Blobs.Objects(ctx, prefix)
		if err != nil {
			return nil, 0, err
		}
		for _, o := range objects {
			rel := strings.TrimPrefix(o.Key, prefix)
			if b, _, ok := strings.Cut(rel, "/"); ok {
				if o.ModTime.After(written[b]) {
					written[b] = o.ModTime
				}
				size[rel] = o.Size
			}
		}
	}
	open = map[string]bool{}
	cutoff := time.Now().Add(-s.Quota.Lifetime)
	for b, t := range written {
		if !t.Before(cutoff) {
			open[b] = true
		}
	}
	for rel, n := range size {
		if b, _, _ := strings.Cut(rel, "/"); open[b] {
			bytes += n
		}
	}
	return open, bytes, nil
}

// Sweep removes the uploads nobody committed from this replica's inbox,
// as the housekeeping of the blobs does there (central.SweepInbox): those
// no file came to for Quota.Lifetime before now, empty folders at once,
// but none of a client with an upload running. It returns how many
// upload folders it removed.
func (s *Server) Sweep(now time.Time) (int, error) {
	n, err := s.c.SweepInbox(context.Background(), s.Quota.Lifetime, now, s.lockInbox)
	if err != nil {
		return n.Count, fmt.Errorf("sweep uploads: %w", err)
	}
	return n.Count, nil
}

// commit imports an uploaded result bundle and answers with the receipt
// bundle, prepared for download. Committing the same bundle again gives the
// same receipt.
func (s *Server) commit(w http.ResponseWriter, r *http.Request, client string) {
	b := r.PathValue("bundle")
	if !api.ValidBundle(b) {
		writeError(w, http.StatusNotFound, "no such upload")
		return
	}
	ctx, done, ok := s.claim(r.Context(), w, client, b)
	if !ok {
		return
	}
	defer done()
	if err := s.fetchUpload(ctx, client, b); err != nil {
		s.fail(w, "commit", err)
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
	resp, err := s.importUpload(ctx, client, dir)
	if !s.answered(w, "commit", err) {
		writeJSON(w, http.StatusOK, resp)
	}
}

// importUpload imports the uploaded result bundle in dir, removes it once
// stored, and returns the answer.
func (s *Server) importUpload(ctx context.Context, client, dir string) (api.CommitResponse, error) {
	opts, err := s.c.Home.ImportOptions(ctx, "http", s.log)
	if err != nil {
		return api.CommitResponse{}, err
	}
	// The receipt bundle is found or made after the import, under its
	// batch's lease, as every other request for it is.
	lines, _, err := s.c.ImportResults(ctx, dir, opts, "")
	if err != nil {
		return api.CommitResponse{}, err
	}
	if len(lines) != 1 || (lines[0].Outcome != importer.Applied && lines[0].Outcome != importer.Skipped) {
		reason := "no bundle"
		if len(lines) == 1 {
			reason = lines[0].Reason
		}
		// A bundle refused for what it holds, not for what is still to
		// come, is refused again whenever it is committed: it goes, and
		// takes no room of the client's quota.
		if len(lines) == 1 && refusedForContent(lines[0].Err()) {
			s.dropped(ctx, client, filepath.Base(dir), true)
		}
		return api.CommitResponse{}, &refusal{http.StatusUnprocessableEntity, reason}
	}
	resp := api.CommitResponse{Outcome: lines[0].Outcome}
	if lines[0].Outcome == importer.Applied && lines[0].Batch > 0 {
		if n, err := s.c.Store.BatchCounts(ctx, client, lines[0].Batch); err == nil {
			s.Observe.ResultsReceived(n[taosync.ReceiptReceived], n[taosync.ReceiptDuplicate], n[taosync.ReceiptConflict])
		}
	}
	if batch := lines[0].Batch; batch > 0 {
		ref, err := s.receiptBundle(ctx, client, batch)
		if err != nil {
			return api.CommitResponse{}, err
		}
		resp.Receipt = &ref
	}
	s.dropped(ctx, client, filepath.Base(dir), true)
	return resp, nil
}

// dropped removes upload b, imported, refused or found committed, from
// the blobs, and from this replica's inbox if here; one left is fetched
// again and refused as a duplicate or for what it holds, and holds its
// client's quota until the housekeeping removes it.
func (s *Server) dropped(ctx context.Context, client, b string, here bool) {
	if here {
		dir := filepath.Join(s.inbox, client, b)
		os.RemoveAll(dir)
		s.tidyInbox(client, dir)
	}
	if err := s.dropUpload(ctx, client, b); err != nil {
		s.log.Warn("remove upload from the object store", "client", client, "bundle", b, "err", err)
	}
}

// claim takes one of the client's uploads at once and bundle b's lock, or
// answers that they are taken. The work runs under held, which ends if
// either lease is lost; done gives both back.
func (s *Server) claim(ctx context.Context, w http.ResponseWriter, client, b string) (held context.Context, done func(), ok bool) {
	slot, ok := s.acquire(ctx, w, client)
	if !ok {
		return nil, nil, false
	}
	lock, ok, err := s.takeLease(slot.Context(), bundleLease(client, b), 0)
	if err != nil || !ok {
		slot.Release()
		if err != nil {
			s.fail(w, "upload", err)
			return nil, nil, false
		}
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusTooManyRequests, "bundle "+b+" is being uploaded by another request")
		return nil, nil, false
	}
	return lock.Context(), func() { lock.Release(); slot.Release() }, true
}

// bundleLease names the claim of upload b: one request at once sends or
// commits it.
func bundleLease(client, b string) string { return "bundle/" + client + "/" + b }

// refusedForContent tells a refusal that the same bytes would meet again
// from one that may pass later: a chunk still to come, a request cut
// short, a database out of reach (answered 503). (A full disk or a busy
// database stops the import instead of refusing the bundle: an error,
// answered 500.)
func refusedForContent(err error) bool {
	return err != nil && !errors.Is(err, bundle.ErrMissingChunk) && !errors.Is(err, bundle.ErrIncomplete) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !ioerr.Unavailable(err)
}

// answered answers a refusal or a failure; it returns false on no error.
func (s *Server) answered(w http.ResponseWriter, what string, err error) bool {
	var ref *refusal
	switch {
	case err == nil:
		return false
	case errors.As(err, &ref):
		writeError(w, ref.status, ref.msg)
	default:
		s.fail(w, what, err)
	}
	return true
}

// uploadStatus answers what central holds of a result bundle. With ?bundle_id=
// (the manifest's id) it answers "committed" and the commit's answer for a
// bundle already stored: a client whose commit answer was lost asks, and
// does not upload again.
func (s *Server) uploadStatus(w http.ResponseWriter, r *http.Request, client string) {
	b := r.PathValue("bundle")
	if !resultBundle(b) {
		writeError(w, http.StatusNotFound, "no such upload")
		return
	}
	// It verifies a signature over a manifest: one of the client's
	// requests at once, as an upload is.
	slot, ok := s.acquire(r.Context(), w, client)
	if !ok {
		return
	}
	defer slot.Release()
	ctx := slot.Context()
	if id := r.URL.Query().Get("bundle_id"); id != "" {
		if len(id) != 32 || !strings.HasSuffix(b, "-"+id[:8]) {
			writeError(w, http.StatusBadRequest, "bundle_id is not the id of bundle "+b)
			return
		}
		resp, ok, err := s.committed(ctx, client, id)
		if s.answered(w, "upload status", err) {
			return
		}
		if ok {
			s.forget(ctx, client, b)
			writeJSON(w, http.StatusOK, api.UploadStatus{State: api.StateCommitted, CommitResponse: &resp})
			return
		}
	}
	key, err := s.signKey(ctx, client)
	if s.answered(w, "upload status", err) {
		return
	}
	// Without the upload's claim, the part of a file held here stays (a
	// request may be writing it) but is not counted: another replica
	// does not have it (settleUpload).
	if err := s.pushUpload(ctx, client, b); s.answered(w, "upload status", err) {
		return
	}
	if err := s.fetchUpload(ctx, client, b); s.answered(w, "upload status", err) {
		return
	}
	st, err := openStream(filepath.Join(s.inbox, client, b), b, client, key)
	if err == nil && s.elsewhere() {
		st.offset -= st.part
	}
	if s.answered(w, "upload status", err) {
		return
	}
	w.Header().Set(api.HeaderOffset, strconv.FormatInt(st.offset, 10))
	writeJSON(w, http.StatusOK, api.UploadStatus{State: st.state(), Offset: st.offset})
}

// forget drops what is left of upload b, committed already: a replica
// killed between the import and dropped leaves it, here or in the blobs,
// and nothing else removes it before the housekeeping. Its copy here goes
// under the bundle's claim, which a request writing to it holds; the one
// in the blobs whoever holds the claim: the killed replica's is held until
// it expires, and a request alive that holds it drops the upload again
// after its import (which finds it stored).
func (s *Server) forget(ctx context.Context, client, b string) {
	lock, ok, err := s.takeLease(ctx, bundleLease(client, b), 0)
	if err != nil || !ok {
		s.dropped(ctx, client, b, false)
		return
	}
	defer lock.Release()
	s.dropped(lock.Context(), client, b, true)
}

// committed answers a bundle central stored from the client again, with
// its receipt batch.
func (s *Server) committed(ctx context.Context, client, id string) (api.CommitResponse, bool, error) {
	batch, ok, err := s.c.Store.ResultBundle(ctx, client, id)
	if err != nil || !ok {
		return api.CommitResponse{}, false, err
	}
	resp := api.CommitResponse{Outcome: importer.Applied}
	if batch == 0 {
		return resp, true, nil
	}
	ref, err := s.receiptBundle(ctx, client, batch)
	resp.Receipt = &ref
	return resp, err == nil, err
}

func (s *Server) signKey(ctx context.Context, client string) (minisign.PublicKey, error) {
	cl, err := s.c.Store.GetClient(ctx, s.c.Store.DB, client)
	if err != nil {
		return minisign.PublicKey{}, err
	}
	return minisign.ParsePublicKey(cl.SignKey)
}

// putBundle takes a result bundle's stream, or the rest of it from
// Upload-Offset, and with ?commit=true imports the bundle once whole.
func (s *Server) putBundle(w http.ResponseWriter, r *http.Request, client string) {
	b := r.PathValue("bundle")
	if !resultBundle(b) {
		writeError(w, http.StatusBadRequest, "not a result bundle name")
		return
	}
	from, err := header(r, api.HeaderOffset, 0, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, done, ok := s.claim(r.Context(), w, client, b)
	if !ok {
		return
	}
	defer done()
	key, err := s.signKey(ctx, client)
	if s.answered(w, "upload", err) {
		return
	}
	if err := s.settleUpload(ctx, client, b); s.answered(w, "upload", err) {
		return
	}
	dir := filepath.Join(s.inbox, client, b)
	st, err := openStream(dir, b, client, key)
	if s.answered(w, "upload", err) {
		return
	}
	if from != st.offset {
		w.Header().Set(api.HeaderOffset, strconv.FormatInt(st.offset, 10))
		writeError(w, http.StatusConflict, fmt.Sprintf("central holds %d bytes of %s: send from there", st.offset, b))
		return
	}
	if st.m == nil {
		if st.sigSize, err = header(r, api.HeaderSignatureSize, 1, maxSignature); err == nil {
			st.manSize, err = header(r, api.HeaderManifestSize, 1, manifest.MaxManifestBytes)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if total := st.total(); total >= 0 && r.ContentLength > total-from {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is longer than the %d bytes left of %s", total-from, b))
		return
	}
	if r.ContentLength > s.Quota.Bytes {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"at most %d bytes of uncommitted uploads per client, and the body is %d", s.Quota.Bytes, r.ContentLength))
		return
	}
	want := r.ContentLength
	st.end = from + want
	if want < 0 {
		want, st.end = manifest.MaxChunkStored, -1
	}
	_, admitted, ok := s.admit(ctx, w, client, b, want)
	if !ok {
		return
	}
	defer admitted()
	err = st.receive(http.MaxBytesReader(w, r.Body, want))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "the body is longer than its Content-Length")
		return
	case errors.Is(err, errShort):
	case s.answered(w, "upload", err):
		return
	}
	// What came whole is kept where any replica finds it, even once the
	// client went away; not once the claim is lost: another replica may
	// have committed and dropped the upload since, which a push would
	// bring back.
	push := ctx
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), store.ErrLeaseLost) {
		push = context.WithoutCancel(ctx)
	}
	if err := s.pushUpload(push, client, b); s.answered(w, "upload", err) {
		return
	}
	w.Header().Set(api.HeaderOffset, strconv.FormatInt(st.offset, 10))
	if st.state() != api.StateComplete || r.URL.Query().Get("commit") != "true" {
		writeJSON(w, http.StatusOK, api.UploadStatus{State: st.state(), Offset: st.offset})
		return
	}
	stop := processing(w, ProcessingEvery)
	resp, err := s.importUpload(ctx, client, dir)
	stop()
	if !s.answered(w, "commit", err) {
		writeJSON(w, http.StatusOK, api.UploadStatus{State: api.StateCommitted, Offset: st.offset, CommitResponse: &resp})
	}
}

// ProcessingEvery is how often central tells a client waiting for a commit
// that it is at work on it.
const ProcessingEvery = 5 * time.Second

// processing answers "102 Processing" every interval until stop is called,
// so that a client waiting for the answer (central waits for its turn to
// write, then checks and stores the bundle) tells a central at work from a
// dead line: its stall detector counts these as bytes that moved. stop
// returns once no 102 is being written; the final answer comes after it.
func processing(w http.ResponseWriter, every time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				w.WriteHeader(http.StatusProcessing)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// header parses a numeric header, absent as 0.
func header(r *http.Request, name string, lo, hi int64) (int64, error) {
	v := r.Header.Get(name)
	if v == "" {
		v = "0"
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// stream is what central holds of a result bundle's upload: the signature
// and the manifest once both are whole and verified, then the chunks in
// manifest order, each whole and checked against its hash; the file
// being received is a part file, kept for the next request to go on.
type stream struct {
	dir, bundle, client string
	key                 minisign.PublicKey

	sigSize, manSize int64
	m                *manifest.Manifest // nil until the head is stored
	chunks           []manifest.Chunk
	next             int   // the first chunk not stored
	part             int64 // bytes of the file being received
	offset           int64 // bytes of the stream held
	end              int64 // where the request's body ends, -1 if unknown
}

// headPart holds the signature and manifest as they come.
const headPart = ".part-head"

// errShort: the body ended before the bundle did; what came is kept.
var errShort = errors.New("the body ended before the bundle")

func openStream(dir, bundle, client string, key minisign.PublicKey) (*stream, error) {
	st := &stream{dir: dir, bundle: bundle, client: client, key: key}
	sig, err1 := os.ReadFile(filepath.Join(dir, manifest.SigName))
	raw, err2 := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err1 == nil && err2 == nil {
		// A head a client uploaded file by file counts once it verifies.
		if m, err := st.verify(raw, sig); err == nil {
			st.stored(m, int64(len(sig)), int64(len(raw)))
			st.skipStored()
		}
	}
	if st.state() == api.StateComplete {
		return st, nil
	}
	info, err := os.Stat(filepath.Join(dir, st.partName()))
	switch {
	case err == nil && info.Mode().IsRegular():
		st.part = info.Size()
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	st.offset += st.part
	return st, nil
}

// stored takes a verified head: the chunks come next.
func (st *stream) stored(m *manifest.Manifest, sigSize, manSize int64) {
	st.m, st.sigSize, st.manSize = m, sigSize, manSize
	st.offset = sigSize + manSize
	for _, sec := range m.Sections {
		st.chunks = append(st.chunks, sec.Chunks...)
	}
}

// skipStored moves past the chunks central holds, in order: a request
// goes on after them (they may have come file by file, or before a cut).
func (st *stream) skipStored() {
	for st.next < len(st.chunks) {
		info, err := os.Stat(filepath.Join(st.dir, st.chunks[st.next].Hash))
		if err != nil || !info.Mode().IsRegular() || info.Size() != st.chunks[st.next].Size {
			break
		}
		st.offset += st.chunks[st.next].Size
		st.next++
	}
}

func (st *stream) partName() string {
	if st.m == nil {
		return headPart
	}
	if st.next < len(st.chunks) {
		return ".part-" + st.chunks[st.next].Hash
	}
	return ""
}

func (st *stream) state() string {
	switch {
	case st.m != nil && st.next == len(st.chunks):
		return api.StateComplete
	case st.offset > 0:
		return api.StatePartial
	}
	return api.StateNone
}

// total is the stream's size, or -1 while the head's sizes are unknown.
func (st *stream) total() int64 {
	if st.m == nil {
		return -1
	}
	return st.sigSize + st.manSize + st.m.StoredBytes()
}

// verify checks a head: signed by the client's key, a result bundle of the
// client, and named for its id.
func (st *stream) verify(raw, sig []byte) (*manifest.Manifest, error) {
	m, _, err := manifest.Verify(raw, sig, []minisign.PublicKey{st.key})
	if err != nil {
		return nil, &refusal{http.StatusForbidden, fmt.Sprintf("bundle %s: %v", st.bundle, err)}
	}
	if m.Kind != manifest.KindResults || m.Sender.Client != st.client {
		return nil, &refusal{http.StatusForbidden, "not a result bundle of this client"}
	}
	if !strings.HasSuffix(st.bundle, "-"+m.ID[:8]) {
		return nil, &refusal{http.StatusBadRequest, fmt.Sprintf("bundle %s: its manifest is of bundle %s", st.bundle, m.ID)}
	}
	return m, nil
}

// receive appends the body to the stream file by file: the head is
// verified, and each chunk checked against its hash, before it is stored;
// a file that fails is removed and refused. It returns errShort if the
// body ends before the bundle.
func (st *stream) receive(body io.Reader) error {
	for {
		var want int64
		switch {
		case st.m == nil:
			want = st.sigSize + st.manSize
		case st.next < len(st.chunks):
			want = st.chunks[st.next].Size
		default:
			if n, _ := io.ReadFull(body, make([]byte, 1)); n > 0 {
				return &refusal{http.StatusRequestEntityTooLarge, "the body goes on past the end of bundle " + st.bundle}
			}
			return nil
		}
		path := filepath.Join(st.dir, st.partName())
		if err := st.fill(path, body, want); err != nil {
			return err
		}
		var err error
		if st.m == nil {
			err = st.storeHead(path)
		} else {
			err = st.storeChunk(path)
		}
		if err != nil {
			st.offset -= st.part
			st.part = 0
			os.Remove(path)
			return err
		}
	}
}

// fill appends the body to the part file until it holds want bytes.
func (st *stream) fill(path string, body io.Reader, want int64) error {
	f, err := safefile.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fw := &writeErr{w: safefile.Writer(f, path)}
	n, err := io.CopyN(fw, body, want-st.part)
	st.part += n
	st.offset += n
	if fw.err != nil {
		// This machine's disk, not the client's line: a failure.
		return fw.err
	}
	if errors.Is(err, io.EOF) {
		return errShort
	}
	if err != nil {
		// A cut: what came stays for the next request.
		return fmt.Errorf("%w: %w", errShort, err)
	}
	return safefile.Sync(f)
}

// writeErr keeps the error of the writer beneath, so that a copy's read
// errors (a cut) and write errors (a full disk) are told apart.
type writeErr struct {
	w   io.Writer
	err error
}

func (w *writeErr) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

func (st *stream) storeHead(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sig, raw := b[:st.sigSize], b[st.sigSize:]
	m, err := st.verify(raw, sig)
	if err != nil {
		return err
	}
	if total := m.StoredBytes() + int64(len(b)); st.end > total {
		return &refusal{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body goes on past the end of bundle %s, at %d bytes", st.bundle, total)}
	}
	// The manifest last: it is what the old commit looks for.
	if err := safefile.WriteFile(filepath.Join(st.dir, manifest.SigName), sig, 0o600); err != nil {
		return err
	}
	if err := safefile.WriteFile(filepath.Join(st.dir, manifest.FileName), raw, 0o600); err != nil {
		return err
	}
	os.Remove(path)
	st.part = 0
	st.stored(m, st.sigSize, st.manSize)
	return nil
}

func (st *stream) storeChunk(path string) error {
	c := st.chunks[st.next]
	sum, err := bundle.FileSum(path)
	if err != nil {
		return err
	}
	if sum != c.Hash {
		return &refusal{http.StatusBadRequest, fmt.Sprintf("bundle %s: chunk %s does not match its hash", st.bundle, c.Hash)}
	}
	if err := safefile.Rename(path, filepath.Join(st.dir, c.Hash)); err != nil {
		return err
	}
	st.part = 0
	st.next++
	return nil
}
