package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/safefile"
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

// Syncer exchanges bundles with central over HTTP.
type Syncer struct {
	c    *Client
	link Link
	http *http.Client
	// creds fetches a token; one is held for the whole run, and dropped
	// when central no longer knows it (it restarted).
	creds clientcredentials.Config
	mu    sync.Mutex
	token *oauth2.Token
	root  string
	// Progress, if set, is told of a bundle's bytes as they arrive; it may
	// be called from several goroutines at once.
	Progress func(name, phase string, done, total int64)
	// Retrying, if set, is told of each wait before a step is tried again.
	Retrying func(Retry)
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
	link, err := LinkSettings(ctx, c.Home.DB)
	if err != nil {
		return nil, err
	}
	return &Syncer{c: c, link: link, http: &http.Client{Transport: versioned{link.transport()}},
		creds: clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader},
		root:  strings.TrimRight(root, "/") + api.Prefix}, nil
}

// authorize gives req the token held, fetched first if there is none or it
// expired; the fetch runs on ctx, the watchdog's of the request it serves.
func (s *Syncer) authorize(ctx context.Context, req *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.token.Valid() {
		t, err := s.creds.Token(context.WithValue(ctx, oauth2.HTTPClient, s.http))
		if err != nil {
			return err
		}
		s.token = t
	}
	s.token.SetAuthHeader(req)
	return nil
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

// call sends a request with a JSON or raw body and decodes a JSON answer
// into out (if not nil). It returns the answer's status.
func (s *Syncer) call(ctx context.Context, method, path string, body []byte, contentType string, out any) (int, error) {
	var status int
	header := http.Header{}
	if contentType != "" {
		header.Set("Content-Type", contentType)
	}
	err := s.retry(ctx, method+" "+path, func() (after time.Duration, err error) {
		status, after, err = s.jsonExchange(ctx, method, path, bytes.NewReader(body), int64(len(body)), header, out)
		return after, err
	})
	return status, err
}

// jsonExchange sends a request once (exchange) and decodes its JSON answer
// into out (if not nil). It returns the answer's status, and for an
// unsuccessful one a *StatusError and its Retry-After.
func (s *Syncer) jsonExchange(ctx context.Context, method, path string, body io.Reader, size int64, header http.Header, out any) (status int, after time.Duration, err error) {
	err = s.exchange(ctx, method, path, body, size, longAnswer(method, path), header, func(resp *http.Response) error {
		status = resp.StatusCode
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		if err != nil {
			return err
		}
		if status >= 300 {
			s.status(status)
			var e api.Error
			json.Unmarshal(b, &e)
			n, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			after = time.Duration(n) * time.Second
			return &StatusError{Status: status, Message: e.Message}
		}
		if out != nil && status != http.StatusNoContent {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("unreadable answer: %w", err)
			}
		}
		return nil
	})
	return status, after, err
}

// longAnswer says whether central works before it answers a request, so
// that the wait for its answer is Link.PullWait, not Link.StallTimeout: a
// pull (central prepares the bundles of the clients before it, one at a
// time). A result upload that commits (PUT ...?commit=true) needs no long
// wait: central says "102 Processing" every few seconds while it stores the
// bundle, which counts as bytes moving.
func longAnswer(method, path string) bool {
	return method == http.MethodPost && path == api.PullPath
}

// download fetches the files of a bundle into dir/BUNDLE, Link.Parallel
// at a time (on a line of long delay a file costs a round trip more than
// its bytes), resuming each file where an earlier attempt stopped (Range,
// If-Range with the ETag) and checking each against its hash. The manifest
// comes along at once but is put in place last, so that the folder is a
// bundle only once it is whole.
func (s *Syncer) download(ctx context.Context, dir string, ref api.BundleRef) (string, error) {
	// The names become paths here: only names of the API's forms.
	if !api.ValidBundle(ref.Bundle) {
		return "", fmt.Errorf("central named a bundle %q, which is not a bundle name", ref.Bundle)
	}
	var total int64
	for _, f := range ref.Files {
		if !api.ValidFile(f.Name) {
			return "", fmt.Errorf("bundle %s: central named a file %q, which is not a bundle file name", ref.Bundle, f.Name)
		}
		total += f.Size
	}
	bdir := filepath.Join(dir, ref.Bundle)
	if err := safefile.MkdirAll(bdir, 0o700); err != nil {
		return "", err
	}
	done := make([]atomic.Int64, len(ref.Files))
	progress := func(i int) func(int64) {
		return func(n int64) {
			done[i].Store(n)
			if s.Progress != nil {
				var sum int64
				for j := range done {
					sum += done[j].Load()
				}
				s.Progress(ref.Bundle, "download", sum, total)
			}
		}
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	fail := func(err error) {
		// The first failure stops the others: the step fails, and what
		// each got stays for the next run.
		once.Do(func() { first = err; cancel() })
	}
	var manifestPart string
	if i := slices.IndexFunc(ref.Files, func(f api.File) bool { return f.Name == manifest.FileName }); i >= 0 {
		// Small, first and out of the slots: its round trip overlaps the
		// others'.
		wg.Go(func() {
			part, err := s.fetch(gctx, ref.Bundle, bdir, ref.Files[i], progress(i))
			if err != nil {
				fail(err)
			}
			manifestPart = part
		})
	}
	slots := make(chan struct{}, max(s.link.Parallel, 1))
	for i, f := range ref.Files {
		if f.Name == manifest.FileName {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			part, err := s.fetch(gctx, ref.Bundle, bdir, f, progress(i))
			if err == nil && part != "" {
				err = safefile.Rename(part, filepath.Join(bdir, f.Name))
			}
			if err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return "", first
	}
	if manifestPart != "" {
		if err := safefile.Rename(manifestPart, filepath.Join(bdir, manifest.FileName)); err != nil {
			return "", err
		}
	}
	return bdir, nil
}

// fetch downloads f into its part file in dir, resuming it, checks it
// against its hash and returns the part's path, for the caller to put in
// place; or "" when the file is in place already.
func (s *Syncer) fetch(ctx context.Context, bundleName, dir string, f api.File, progress func(int64)) (string, error) {
	if sum, err := bundle.FileSum(filepath.Join(dir, f.Name)); err == nil && sum == f.SHA256 {
		progress(f.Size)
		return "", nil
	}
	part := filepath.Join(dir, "."+f.Name+".part")
	return part, s.retry(ctx, "download "+bundleName+"/"+f.Name, func() (time.Duration, error) {
		out, err := safefile.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o600)
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
			if sum, err := bundle.FileSum(part); err == nil && sum == f.SHA256 {
				progress(f.Size)
				return 0, nil
			}
		}
		if have >= f.Size {
			if err := out.Truncate(0); err != nil {
				return 0, err
			}
			have, _ = out.Seek(0, io.SeekStart)
		}
		header := http.Header{}
		if have > 0 {
			header.Set("Range", fmt.Sprintf("bytes=%d-", have))
			header.Set("If-Range", `"`+f.SHA256+`"`)
		}
		err = s.exchange(ctx, http.MethodGet, api.BundleFilePath(bundleName, f.Name), nil, 0, false, header, func(resp *http.Response) error {
			switch resp.StatusCode {
			case http.StatusPartialContent:
			case http.StatusOK:
				// The whole file: start over.
				if err := out.Truncate(0); err != nil {
					return err
				}
				if have, err = out.Seek(0, io.SeekStart); err != nil {
					return err
				}
			default:
				s.status(resp.StatusCode)
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
				return &StatusError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
			}
			n, err := io.Copy(safefile.Writer(out, part), &countingReader{r: io.LimitReader(resp.Body, f.Size-have), n: have, report: progress})
			if err != nil {
				return err // transient: the next attempt resumes from here
			}
			if have+n != f.Size {
				return fmt.Errorf("got %d of %d bytes", have+n, f.Size)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if err := safefile.Sync(out); err != nil {
			// Pages a failed fsync could not write may be dropped, and
			// a later fsync succeed without them: fetch it whole again.
			os.Remove(part)
			return 0, err
		}
		sum, err := bundle.FileSum(part)
		if err != nil {
			return 0, err
		}
		if sum != f.SHA256 {
			os.Remove(part)
			return 0, fmt.Errorf("%s does not match its hash; downloading it again", f.Name)
		}
		return 0, nil
	})
}

// status reacts to an unsuccessful answer: on a 401 the token held is
// dropped, so that the retry fetches a new one with the stored credentials
// (central forgets its tokens when it restarts). A revoked credential then
// fails at the token endpoint, for good.
func (s *Syncer) status(code int) {
	if code == http.StatusUnauthorized {
		s.mu.Lock()
		s.token = nil
		s.mu.Unlock()
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
	st, err := s.c.Report(ctx)
	if err != nil {
		return nil, err
	}
	req := api.PullRequest{DataSeq: state.Seq, DataBundle: state.Bundle, ReceiptSeq: cs.ReceiptSeq, Full: full, Report: &st.Readiness}
	for _, t := range types {
		req.Types = append(req.Types, string(t))
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var ref api.BundleRef
	status, err := s.call(ctx, http.MethodPost, api.PullPath, body, "application/json", &ref)
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

// Receipts fetches and applies the receipt bundles of batches this client
// does not hold yet.
func (s *Syncer) Receipts(ctx context.Context) ([]importer.Line, error) {
	state, err := s.c.Local.ClientState(ctx)
	if err != nil {
		return nil, err
	}
	var list api.ReceiptList
	if _, err := s.call(ctx, http.MethodGet, api.ReceiptsPath+"?after="+strconv.FormatUint(state.ReceiptSeq, 10), nil, "", &list); err != nil {
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
