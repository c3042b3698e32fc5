package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// Folders of a client home for bundles on the HTTP road: downloads in
// progress (resumed from where they stopped), and result bundles written
// but not yet acknowledged by central (sent again on the next sync).
const (
	IncomingDir = "incoming"
	OutgoingDir = "outgoing"
)

// Retry bounds: a transient failure (a network error, a 5xx, a 429) is
// tried again after 0.5 s, 1 s, 2 s, 4 s, 8 s, with jitter; a Retry-After
// is honoured up to MaxWait. Nothing waits forever.
const (
	Attempts = 6
	MaxWait  = 30 * time.Second
)

// Syncer exchanges bundles with central over HTTP.
type Syncer struct {
	c    *Client
	http *http.Client
	// newHTTP makes a fresh OAuth client, to fetch a new token when central
	// no longer knows the one held (it restarted).
	newHTTP func() *http.Client
	root    string
	// Progress, if set, is told of each file's bytes as they arrive.
	Progress func(name, phase string, done, total int64)
}

// NewSyncer reads the credentials the client imported and prepares an OAuth
// 2 client (client credentials grant, secret in the Basic header). Plain
// HTTP is refused unless the host is a loopback address or insecure is set.
func (c *Client) NewSyncer(ctx context.Context, insecure bool) (*Syncer, error) {
	get := func(k string) (string, error) {
		v, err := store.Meta(ctx, c.Home.DB, k)
		if errors.Is(err, store.ErrNotFound) {
			return "", ErrNoCredentials
		}
		return v, err
	}
	var id, secret, tokenURL, root string
	var err error
	for _, f := range []struct {
		k string
		v *string
	}{{"client_id", &id}, {"oauth_secret", &secret}, {"token_url", &tokenURL}, {"root_url", &root}} {
		if *f.v, err = get(f.k); err != nil {
			return nil, err
		}
	}
	for _, u := range []string{tokenURL, root} {
		if err := checkURL(u, insecure); err != nil {
			return nil, err
		}
	}
	// Every wait is bounded: connecting, the TLS handshake, and the answer's
	// headers. A body may take long (a large chunk on a slow line) but an
	// interrupted one resumes. The headers of a pull may wait on central
	// preparing the bundles of the clients before it (it prepares one at a
	// time): five minutes, measured with 200 clients pulling at once.
	base := &http.Client{Transport: versioned{&http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}}}
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL,
		AuthStyle: oauth2.AuthStyleInHeader}
	newHTTP := func() *http.Client { return cfg.Client(context.WithValue(ctx, oauth2.HTTPClient, base)) }
	return &Syncer{c: c, http: newHTTP(), newHTTP: newHTTP, root: strings.TrimRight(root, "/") + server.APIPrefix}, nil
}

// checkURL allows https, and http only to a loopback host or when insecure.
func checkURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %q: %w", raw, err)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); insecure || host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("url %s is plain HTTP to another host: use https, or --insecure-http on a network you trust", raw)
	}
	return fmt.Errorf("url %q is not http or https", raw)
}

// StatusError is an HTTP answer that is not a success.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("central answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

func transient(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		// 401 from the API (not the token endpoint: that is a
		// RetrieveError) means the token is no longer known; the retry
		// gets a new one (see status).
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests || se.Status == http.StatusRequestTimeout ||
			se.Status == http.StatusUnauthorized
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response != nil && re.Response.StatusCode >= 500
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// retry runs fn until it succeeds, fails for good, or Attempts are spent.
func retry(ctx context.Context, what string, fn func() (retryAfter time.Duration, err error)) error {
	wait := 500 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		var after time.Duration
		after, err = fn()
		if err == nil || !transient(err) || attempt == Attempts {
			break
		}
		d := wait + time.Duration(rand.Int64N(int64(wait/2)))
		if after > 0 {
			d = min(after, MaxWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		wait = min(2*wait, MaxWait)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// call sends a request with a JSON or raw body and decodes a JSON answer
// into out (if not nil). It returns the answer's status.
func (s *Syncer) call(ctx context.Context, method, path string, body []byte, contentType string, out any) (int, error) {
	var status int
	err := retry(ctx, method+" "+path, func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, method, s.root+path, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := s.http.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if err != nil {
			return 0, err
		}
		if status >= 300 {
			s.status(status)
			var e struct {
				Error string `json:"error"`
			}
			json.Unmarshal(b, &e)
			after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			return time.Duration(after) * time.Second, &StatusError{Status: status, Message: e.Error}
		}
		if out != nil && status != http.StatusNoContent {
			if err := json.Unmarshal(b, out); err != nil {
				return 0, fmt.Errorf("unreadable answer: %w", err)
			}
		}
		return 0, nil
	})
	return status, err
}

// download fetches the files of a bundle into dir/BUNDLE, resuming each
// file where an earlier attempt stopped (Range, If-Range with the ETag) and
// checking each against its hash; the manifest comes last, so that the
// folder is a bundle only once it is whole.
func (s *Syncer) download(ctx context.Context, dir string, ref server.BundleRef) (string, error) {
	// The names become paths here: only names of the API's forms.
	if !server.ValidBundle(ref.Bundle) {
		return "", fmt.Errorf("central named a bundle %q, which is not a bundle name", ref.Bundle)
	}
	bdir := filepath.Join(dir, ref.Bundle)
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		return "", err
	}
	var total, done int64
	for _, f := range ref.Files {
		total += f.Size
	}
	for _, f := range ref.Files {
		if !server.ValidFile(f.Name) {
			return "", fmt.Errorf("bundle %s: central named a file %q, which is not a bundle file name", ref.Bundle, f.Name)
		}
		if err := s.fetch(ctx, ref.Bundle, bdir, f, func(n int64) {
			if s.Progress != nil {
				s.Progress(ref.Bundle, "download", done+n, total)
			}
		}); err != nil {
			return "", err
		}
		done += f.Size
	}
	return bdir, nil
}

func (s *Syncer) fetch(ctx context.Context, bundleName, dir string, f server.File, progress func(int64)) error {
	final := filepath.Join(dir, f.Name)
	if sum, err := fileHash(final); err == nil && sum == f.SHA256 {
		return nil
	}
	part := filepath.Join(dir, "."+f.Name+".part")
	return retry(ctx, "download "+bundleName+"/"+f.Name, func() (time.Duration, error) {
		out, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return 0, err
		}
		defer out.Close()
		have, err := out.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, err
		}
		if have == f.Size {
			// Whole already (cut short between the last byte and the
			// rename): check it rather than ask for bytes past its end.
			if sum, err := fileHash(part); err == nil && sum == f.SHA256 {
				return 0, os.Rename(part, final)
			}
		}
		if have >= f.Size {
			if err := out.Truncate(0); err != nil {
				return 0, err
			}
			have, _ = out.Seek(0, io.SeekStart)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.root+"/bundles/"+bundleName+"/"+f.Name, nil)
		if err != nil {
			return 0, err
		}
		if have > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
			req.Header.Set("If-Range", `"`+f.SHA256+`"`)
		}
		resp, err := s.http.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusPartialContent:
		case http.StatusOK:
			// The whole file: start over.
			if err := out.Truncate(0); err != nil {
				return 0, err
			}
			if have, err = out.Seek(0, io.SeekStart); err != nil {
				return 0, err
			}
		default:
			s.status(resp.StatusCode)
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			return 0, &StatusError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		}
		n, err := io.Copy(out, &countingReader{r: io.LimitReader(resp.Body, f.Size-have), n: have, report: progress})
		if err != nil {
			return 0, err // transient: the next attempt resumes from here
		}
		if have+n != f.Size {
			return 0, fmt.Errorf("got %d of %d bytes", have+n, f.Size)
		}
		if err := out.Sync(); err != nil {
			return 0, err
		}
		sum, err := fileHash(part)
		if err != nil {
			return 0, err
		}
		if sum != f.SHA256 {
			os.Remove(part)
			return 0, fmt.Errorf("%s does not match its hash; downloading it again", f.Name)
		}
		return 0, os.Rename(part, final)
	})
}

// status reacts to an unsuccessful answer: on a 401 the token held is
// dropped, so that the retry fetches a new one with the stored credentials
// (central forgets its tokens when it restarts; x/oauth2 renews a token
// only when it expires). A revoked credential then fails at the token
// endpoint, for good.
func (s *Syncer) status(code int) {
	if code == http.StatusUnauthorized {
		s.http = s.newHTTP()
	}
}

type countingReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.report(c.n)
	return n, err
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// importDownloaded applies a downloaded bundle folder and removes it once
// applied (or refused: a refused bundle is not fetched in a loop, the next
// pull prepares what applies).
func (s *Syncer) importDownloaded(ctx context.Context, dir string) ([]importer.Line, error) {
	opts, err := s.c.Options(ctx, "http")
	if err != nil {
		return nil, err
	}
	lines, err := s.c.Import(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	os.RemoveAll(dir)
	return lines, nil
}

// Data pulls the data bundle the client needs and applies it. It returns
// nothing when central has no changes.
func (s *Syncer) Data(ctx context.Context, types []taosync.Type, full bool) ([]importer.Line, error) {
	state, err := s.c.Local.DataState(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := s.c.Local.ClientState(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.c.Status(ctx)
	if err != nil {
		return nil, err
	}
	req := server.PullRequest{DataSeq: state.Seq, DataBundle: state.Bundle, ReceiptSeq: cs.ReceiptSeq, Full: full, Report: &st.Readiness}
	for _, t := range types {
		req.Types = append(req.Types, string(t))
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var ref server.BundleRef
	status, err := s.call(ctx, http.MethodPost, "/data/pull", body, "application/json", &ref)
	if err != nil || status == http.StatusNoContent {
		return nil, err
	}
	dir, err := s.download(ctx, s.c.Home.Path(IncomingDir), ref)
	if err != nil {
		return nil, err
	}
	lines, err := s.importDownloaded(ctx, dir)
	if err == nil {
		s.report(ctx)
	}
	return lines, err
}

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

// Receipts fetches and applies the receipt bundles of batches this client
// does not hold yet.
func (s *Syncer) Receipts(ctx context.Context) ([]importer.Line, error) {
	state, err := s.c.Local.ClientState(ctx)
	if err != nil {
		return nil, err
	}
	var list struct {
		Bundles []server.BundleRef `json:"bundles"`
	}
	if _, err := s.call(ctx, http.MethodGet, "/receipts?after="+strconv.FormatUint(state.ReceiptSeq, 10), nil, "", &list); err != nil {
		return nil, err
	}
	var lines []importer.Line
	for _, ref := range list.Bundles {
		dir, err := s.download(ctx, s.c.Home.Path(IncomingDir), ref)
		if err != nil {
			return lines, err
		}
		l, err := s.importDownloaded(ctx, dir)
		if err != nil {
			return lines, err
		}
		lines = append(lines, l...)
	}
	return lines, nil
}
