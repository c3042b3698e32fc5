// Package server is central's HTTP API: an OAuth 2 token endpoint (client
// credentials), and under /api/v1, with bearer tokens, data pull, bundle
// download with Range and ETag, result upload, and receipts. The token's
// client decides everything: a request names no client, and another
// client's bundle is simply not found. See docs/openapi.yaml.
package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/bucket"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/errmsg"
	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// Limits.
const (
	// MaxReceiptsPerAnswer bounds the receipt bundles one receipts request
	// lists: the first ones after the batch asked after.
	MaxReceiptsPerAnswer = 64
	// MaxUploadsPerClient bounds one client's concurrent uploads, so that
	// no client can take all of the server's disk bandwidth.
	MaxUploadsPerClient = 4
	maxJSONBody         = 64 << 10
)

// Server serves central's API.
type Server struct {
	c        *central.Central
	log      *slog.Logger
	limit    *Limiter
	TokenTTL time.Duration
	// LeaseTTL is how long a lease outlives a replica that died.
	LeaseTTL time.Duration
	// BodyTimeout bounds the reading of a token request's or a pull's
	// body.
	BodyTimeout time.Duration
	// Observe is told of bundles prepared and results received.
	Observe Observer
	// spool holds the bundles prepared for each client, inbox the result
	// bundles being uploaded.
	spool, inbox string

	// Quota bounds each client's uploads nobody committed yet.
	Quota Quota
	// AccessLog, if not nil, gets one line per request (accesslog.go).
	AccessLog *slog.Logger

	// Nothing else the next request needs is held here: tokens, failed
	// logins and the locks of a client's pulls and uploads (leases) are in
	// central's database, so that a request may land on any replica.
	// mu guards the maps below, and is never held across a call to the
	// database, the disk or the blobs.
	mu sync.Mutex
	// lastUsed is when this replica last recorded each client's
	// credential used: it only spares writes.
	lastUsed map[string]time.Time
	// inboxLocks are the locks of clients' inbox folders (lockInbox).
	inboxLocks map[string]*inboxLock
}

// New returns a server for a central home; a nil log means slog.Default().
func New(c *central.Central, log *slog.Logger) *Server {
	return &Server{
		c: c, log: cmp.Or(log, slog.Default()),
		limit:       NewLimiter(c.Store, "token", log),
		TokenTTL:    15 * time.Minute,
		LeaseTTL:    DefaultLeaseTTL,
		BodyTimeout: DefaultBodyTimeout,
		Quota:       DefaultQuota,
		spool:       c.Home.Path("spool"),
		inbox:       c.Home.Path("inbox"),
		lastUsed:    map[string]time.Time{},
		inboxLocks:  map[string]*inboxLock{},
		Observe:     noObserver{},
	}
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.TokenPath, s.token)
	mux.HandleFunc("GET "+api.Prefix+api.HealthPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.Health{Status: "ok"})
	})
	mux.HandleFunc("POST "+api.Prefix+api.PullPath, s.authed(s.pull))
	mux.HandleFunc("GET "+api.Prefix+api.BundleFilePath("{bundle}", "{file}"), s.authed(s.download))
	mux.HandleFunc("GET "+api.Prefix+api.ResultPath("{bundle}"), s.authed(s.uploadStatus))
	mux.HandleFunc("PUT "+api.Prefix+api.ResultPath("{bundle}"), s.authed(s.putBundle))
	mux.HandleFunc("PUT "+api.Prefix+api.ResultFilePath("{bundle}", "{file}"), s.authed(s.upload))
	mux.HandleFunc("POST "+api.Prefix+api.CommitPath("{bundle}"), s.authed(s.commit))
	mux.HandleFunc("GET "+api.Prefix+api.ReceiptsPath, s.authed(s.receipts))
	mux.HandleFunc("POST "+api.Prefix+api.ReportPath, s.authed(s.report))
	if s.AccessLog == nil {
		return mux
	}
	return LogRequests(mux, s.AccessLog)
}

// authed wraps a handler that needs the bearer token's client.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, client string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		client, ok := s.authenticate(w, r)
		if ok {
			noteClient(r, client)
		}
		if ok && s.gate(w, r, client) {
			s.used(r.Context(), client)
			h(w, r, client)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers with an api.Error.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, api.Error{Message: message})
}

// refOf lists the files of bundle b of client's spool, whose manifest is
// m, reading its signature and manifest from the blobs.
func (s *Server) refOf(ctx context.Context, client, b string, m *manifest.Manifest) (api.BundleRef, error) {
	ref := api.BundleRef{Bundle: b, ID: m.ID, Kind: string(m.Kind), Seq: m.Seq,
		Full: m.Kind == manifest.KindData && m.Full()}
	for _, s := range m.Sections {
		for _, c := range s.Chunks {
			ref.Files = append(ref.Files, api.File{Name: c.Hash, Size: c.Size, SHA256: c.Hash})
		}
	}
	for _, name := range []string{manifest.SigName, manifest.FileName} {
		raw, err := s.c.Blobs.Get(ctx, spoolKey(client, b, name))
		if err != nil {
			return ref, err
		}
		sum := sha256.Sum256(raw)
		ref.Files = append(ref.Files, api.File{Name: name, Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:])})
	}
	return ref, nil
}

// checkPull refuses a pull request out of shape, and returns the types it
// names.
func checkPull(req api.PullRequest) ([]taosync.Type, error) {
	if err := (taosync.ClientState{DataSeq: req.DataSeq, DataBundle: req.DataBundle}).Check(); err != nil {
		return nil, err
	}
	var types []taosync.Type
	for _, n := range req.Types {
		t, err := taosync.ParseType(n)
		if err != nil {
			return nil, err
		}
		if slices.Contains(types, t) {
			return nil, fmt.Errorf("type %s named twice", t)
		}
		types = append(types, t)
	}
	return types, nil
}

// pull answers with the data bundle the client needs on what it holds: the
// bundle prepared last time if it still applies (an interrupted download
// resumes on the same files), else a delta on what it holds when central
// exported that, else a full snapshot. No content (204) when nothing
// changed.
func (s *Server) pull(w http.ResponseWriter, r *http.Request, client string) {
	var req api.PullRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	types, err := checkPull(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, errmsg.Short(err.Error()))
		return
	}
	if req.Report != nil {
		if err := req.Report.Check(); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	// One pull of a client at once, on whichever replica.
	ctx := r.Context()
	lock, err := s.waitLease(ctx, "pull/"+client)
	if err != nil {
		s.fail(w, "pull: wait for the client's other pull", err)
		return
	}
	defer lock.Release()
	// The pull is prepared under the lease: it stops if the lease is lost.
	ctx = lock.Context()
	if err := s.c.ReportDataState(ctx, client, req.DataSeq, req.ReceiptSeq); errors.Is(err, store.ErrOutOfRange) {
		s.refuse(ctx, w, client, string(manifest.KindData), err)
		return
	} else if err != nil {
		s.fail(w, "pull: record state", err)
		return
	}
	if req.Report != nil {
		if err := s.c.RecordReport(ctx, client, *req.Report); err != nil {
			s.fail(w, "pull: record report", err)
			return
		}
	}
	cl, err := s.c.Store.GetClient(ctx, s.c.Store.DB, client)
	if err != nil {
		s.fail(w, "pull", err)
		return
	}
	dir := filepath.Join(s.spool, client)
	if !req.Full && len(types) == 0 {
		if ref, ok := s.prepared(ctx, client, cl.DataBundle, req); ok {
			writeJSON(w, http.StatusOK, ref)
			return
		}
	}
	// Over HTTP central knows what the client holds: a delta only applies
	// on the last bundle central exported for it.
	full := req.Full || req.DataSeq != cl.DataSeq || req.DataBundle != cl.DataBundle
	start := time.Now()
	res, err := s.c.ExportData(ctx, client, dir, central.ExportOptions{Types: types, Full: full, Transport: "http", SkipEmpty: true})
	s.Observe.Prepared(time.Since(start))
	if errors.Is(err, exporter.ErrNoChanges) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		s.fail(w, "pull: export", err)
		return
	}
	if err := s.publish(ctx, client, res.Dir); err != nil {
		s.fail(w, "pull: publish", err)
		return
	}
	if s.elsewhere() {
		// The bundle is served from the object store: this replica's
		// disk keeps no copy, which no prune on another would remove.
		os.RemoveAll(res.Dir)
	}
	s.prune(ctx, client, res.Manifest.ID)
	ref, err := s.refOf(ctx, client, filepath.Base(res.Dir), res.Manifest)
	if err != nil {
		s.fail(w, "pull", err)
		return
	}
	writeJSON(w, http.StatusOK, ref)
}

// prepared returns the data bundle last exported for the client if it is
// still in the spool and applies on what the client holds.
func (s *Server) prepared(ctx context.Context, client, last string, req api.PullRequest) (api.BundleRef, bool) {
	if last == "" {
		return api.BundleRef{}, false
	}
	names, _ := s.spooled(ctx, client, "data-")
	for _, b := range names {
		if !strings.HasSuffix(b, "-"+last[:8]) {
			continue
		}
		raw, err := s.c.Blobs.Get(ctx, spoolKey(client, b, manifest.FileName))
		if errors.Is(err, bucket.ErrCorrupt) {
			s.damaged(ctx, client, b, err, true)
		}
		if err != nil {
			continue
		}
		m, err := manifest.Parse(raw)
		if err != nil || m.ID != last || m.Seq <= req.DataSeq || time.Now().After(m.Expires) {
			continue
		}
		if m.Base != nil && (m.Base.Seq != req.DataSeq || m.Base.ID != req.DataBundle) {
			continue
		}
		ref, err := s.refOf(ctx, client, b, m)
		if errors.Is(err, bucket.ErrCorrupt) {
			s.damaged(ctx, client, b, err, true)
		}
		return ref, err == nil
	}
	return api.BundleRef{}, false
}

// prune removes the data bundles of a client's spool but the one with id
// keep: only the last one can still apply.
func (s *Server) prune(ctx context.Context, client, keep string) {
	old, _ := s.spooled(ctx, client, "data-")
	for _, b := range old {
		if b[len(b)-8:] != keep[:8] {
			if err := s.unprepare(ctx, client, b); err != nil {
				s.log.Warn("prune spool", "client", client, "bundle", b, "err", err)
			}
		}
	}
}

// refuse answers a request of a client carrying a number out of range
// (400) and records the refusal in central's history (kind is what it
// asked for): a client that sends one is broken or hostile.
func (s *Server) refuse(ctx context.Context, w http.ResponseWriter, client, kind string, err error) {
	s.log.Warn("refused", "client", client, "kind", kind, "err", err)
	if rerr := s.c.RecordRefusal(ctx, client, "http", kind, err); rerr != nil {
		s.log.Error("record refusal", "client", client, "err", rerr)
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

// fail answers a request that central could not serve: 503 with
// Retry-After when its database or its object store is out of reach
// (PostgreSQL restarting, a failover, an S3 store that does not answer),
// which heals by itself, or when its work was stopped (the lease it held
// was lost: the next try waits for, or takes, the lease), else 500.
// Clients retry both.
func (s *Server) fail(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, context.Canceled) {
		s.log.Warn(what, "err", err)
		w.Header().Set("Retry-After", unavailableRetry)
		writeError(w, http.StatusServiceUnavailable, what+" was stopped before it was done; try again")
		return
	}
	s.log.Error(what, "err", err)
	switch {
	case ioerr.Unavailable(err):
		w.Header().Set("Retry-After", unavailableRetry)
		writeError(w, http.StatusServiceUnavailable, what+" failed: central's database is out of reach; try again later")
		return
	case errors.Is(err, bucket.ErrUnavailable):
		w.Header().Set("Retry-After", unavailableRetry)
		writeError(w, http.StatusServiceUnavailable, what+" failed: central's object store does not answer; try again later")
		return
	}
	writeError(w, http.StatusInternalServerError, what+" failed; try again later")
}

// unavailableRetry is the Retry-After of a 503, in seconds: a PostgreSQL
// restart or failover, or an object store's, takes seconds.
const unavailableRetry = "2"

// download serves one file of a bundle prepared for the client, with Range
// and ETag so that an interrupted download resumes.
func (s *Server) download(w http.ResponseWriter, r *http.Request, client string) {
	b, name := r.PathValue("bundle"), r.PathValue("file")
	if !api.ValidBundle(b) || !api.ValidFile(name) {
		writeError(w, http.StatusNotFound, "no such bundle file")
		return
	}
	s.serveBlob(w, r, client, b, name)
}

// emptySuffixes rewrites the suffix ranges of length 0 of a Range header
// ("bytes=-0"), which RFC 9110 §14.1.2 makes unsatisfiable but net/http
// serves as an empty part with an invalid Content-Range, into ranges
// starting at the end, which net/http finds unsatisfiable too: alone they
// are answered 416 with "Content-Range: bytes */SIZE".
func emptySuffixes(h string, size int64) string {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return h
	}
	ranges := strings.Split(spec, ",")
	for i, r := range ranges {
		// A suffix range as net/http reads it: "-N", trimmed, N an
		// integer.
		first, last, ok := strings.Cut(r, "-")
		if n, err := strconv.ParseInt(strings.TrimSpace(last), 10, 64); ok && strings.TrimSpace(first) == "" && err == nil && n == 0 {
			ranges[i] = strconv.FormatInt(size, 10) + "-"
		}
	}
	return "bytes=" + strings.Join(ranges, ",")
}

// receipts lists the receipt bundles of the batches after ?after=N,
// preparing those not yet in the spool.
func (s *Server) receipts(w http.ResponseWriter, r *http.Request, client string) {
	q := r.URL.Query()["after"]
	after, err := uint64(0), error(nil)
	if len(q) == 1 && q[0] != "" {
		after, err = strconv.ParseUint(q[0], 10, 64)
	}
	if err != nil || len(q) > 1 {
		writeError(w, http.StatusBadRequest, "after must be one receipt batch number")
		return
	}
	ctx := r.Context()
	cl, err := s.c.Store.GetClient(ctx, s.c.Store.DB, client)
	if err != nil {
		s.fail(w, "receipts", err)
		return
	}
	if err := cl.CheckReceiptSeq("after", after); err != nil {
		s.refuse(ctx, w, client, string(manifest.KindReceipts), err)
		return
	}
	refs := []api.BundleRef{}
	// A bounded answer: a client whose word moved the batch numbers far up
	// (central restored from a backup, or a client forging it) catches up
	// over several syncs, and no request writes more than this many.
	for batch := after + 1; batch <= min(cl.ReceiptSeq, after+MaxReceiptsPerAnswer); batch++ {
		ref, err := s.receiptBundle(ctx, client, batch)
		if err != nil {
			s.fail(w, "receipts", err)
			return
		}
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Seq < refs[j].Seq })
	writeJSON(w, http.StatusOK, api.ReceiptList{Bundles: refs})
}

// Serve runs the server on srv until ctx is done, then shuts it down
// gracefully: in-flight requests get up to grace to finish; downloads and
// uploads cut short resume.
func Serve(ctx context.Context, srv *http.Server, serve func() error, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		// The grace is over: cut what is still running. A download or
		// upload cut here resumes when the client comes back.
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
