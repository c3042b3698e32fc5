// Package bucket is where central keeps the files that every replica of
// `serve` must see: package pieces, prepared bundles (spool/) and uploads
// (inbox/). A bucket is a folder (file://, by default the home itself, so
// that a home keeps today's layout) or an S3-compatible object store
// (s3://bucket?endpoint=...), both through gocloud.dev/blob. An object is
// never visible under its name before it is whole: the folder driver
// writes a temporary file and renames it, an S3 PUT is atomic.
package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/taosync/taosync/internal/safefile"
)

// Errors callers branch on.
var (
	// ErrCorrupt reports an object whose bytes do not match its hash.
	ErrCorrupt = errors.New("stored object does not match its hash")
	// ErrUnavailable reports an object store that did not answer: the
	// request may succeed later.
	ErrUnavailable = errors.New("object store unavailable")
	// ErrNotExist reports an object that is not in the bucket.
	ErrNotExist = errors.New("no such object")
)

// Bucket is a folder or an object store of named objects.
type Bucket struct {
	b *blob.Bucket
	// dir is the folder of a file:// bucket, "" for an object store.
	dir string
	// name is the URL without credentials, for messages.
	name string
}

// Open opens the bucket at rawURL: "" or "file://" is the folder home,
// file:///path a folder, s3://bucket?endpoint=...&region=...&use_path_style=true
// an S3-compatible store, with credentials from the usual AWS environment
// variables. It checks that the bucket is there and answers.
func Open(ctx context.Context, rawURL, home string) (*Bucket, error) {
	if rawURL == "" {
		rawURL = "file://"
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open blobs: not a URL")
	}
	name := u.Redacted()
	switch u.Scheme {
	case "file":
		dir := u.Path
		if u.Host != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("open blobs %s: a file URL is file:// (the home) or file:///absolute/folder", name)
		}
		if dir == "" {
			dir = home
		}
		if err := safefile.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open blobs %s: %w", name, err)
		}
		// Temporary files next to their objects, so that the rename
		// stays in one file system; no sidecar attribute files, so that
		// the folder holds only the objects.
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite, DirFileMode: 0o700})
		if err != nil {
			return nil, fmt.Errorf("open blobs %s: %w", name, err)
		}
		return &Bucket{b: b, dir: dir, name: name}, nil
	case "s3":
		if u.User != nil {
			return nil, fmt.Errorf("open blobs %s: credentials go in the AWS environment variables, not in the URL", name)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("open blobs %s: no bucket named", name)
		}
		b, err := openS3(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("open blobs %s: %w", name, err)
		}
		ok, err := b.IsAccessible(ctx)
		if err == nil && !ok {
			err = errors.New("no such bucket")
		}
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("open blobs %s: %w", name, short(err))
		}
		return &Bucket{b: b, name: name}, nil
	}
	return nil, fmt.Errorf("open blobs %s: unknown scheme %q (file:// or s3://)", name, u.Scheme)
}

// stallTimeout bounds how long a request to an object store waits for its
// answer to begin, and then for each next byte of it: the AWS SDK waits
// for ever by default, and a store that accepts a connection and never
// answers would hold a request, and a client's pull, as long. A variable
// for the tests.
var stallTimeout = 30 * time.Second

// openS3 opens an S3 bucket as s3blob's URL opener does, with the AWS
// SDK's own logging off (it would print a line per object read), and its
// requests cut once the store stalls for stallTimeout.
func openS3(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	pathStyle := false
	if v := q.Get("use_path_style"); v != "" {
		var err error
		if pathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("invalid value for use_path_style: %w", err)
		}
		q.Del("use_path_style")
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
		o.Logger = logging.Nop{}
		o.HTTPClient = awshttp.NewBuildableClient().WithReadTimeout(stallTimeout).WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = stallTimeout
		})
	})
	return s3blob.OpenBucket(ctx, client, u.Host, &s3blob.Options{RequestChecksumCalculation: cfg.RequestChecksumCalculation})
}

// short keeps the first line of an error of the AWS SDK, which are long.
func short(err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return errors.New(msg)
}

// String is the bucket's URL without credentials.
func (b *Bucket) String() string { return b.name }

// Dir is the folder of a file:// bucket, "" for an object store.
func (b *Bucket) Dir() string { return b.dir }

// Close closes the bucket.
func (b *Bucket) Close() error { return b.b.Close() }

// wrap says what was done on which key, and sorts the failure into
// ErrNotExist, ErrUnavailable or another error.
func (b *Bucket) wrap(what, key string, err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "checksum did not match") {
		// The AWS SDK checks an object against the checksum the store
		// keeps with it.
		return fmt.Errorf("%s %s: %w", what, key, ErrCorrupt)
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%s %s: %w", what, key, ErrNotExist)
	case gcerrors.Unknown, gcerrors.Internal, gcerrors.DeadlineExceeded, gcerrors.ResourceExhausted:
		if b.dir == "" {
			return fmt.Errorf("%s %s: %w: %w", what, key, ErrUnavailable, short(err))
		}
	}
	return fmt.Errorf("%s %s: %w", what, key, err)
}

// Put writes data under key, replacing what was there; the object is
// visible whole or not at all, and durable when Put returns.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) error {
	if err := b.b.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: "application/octet-stream"}); err != nil {
		return b.wrap("write", key, err)
	}
	return b.wrap("write", key, b.sync(key))
}

// PutFile writes the file at path under key, as Put does.
func (b *Bucket) PutFile(ctx context.Context, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	defer f.Close()
	w, err := b.b.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return b.wrap("write", key, err)
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Close()
		return b.wrap("write", key, err)
	}
	if err := w.Close(); err != nil {
		return b.wrap("write", key, err)
	}
	return b.wrap("write", key, b.sync(key))
}

// sync makes an object of a folder durable: the folder driver renames
// without syncing. An object store's PUT is durable when it answers.
func (b *Bucket) sync(key string) error {
	if b.dir == "" {
		return nil
	}
	p := filepath.Join(b.dir, filepath.FromSlash(key))
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = safefile.Sync(f)
	f.Close()
	if err != nil {
		return err
	}
	return safefile.SyncDir(filepath.Dir(p))
}

// PutHashed writes data under key, named by its SHA-256 sum: written
// once, idempotently. An object already there is kept if it matches, and
// replaced if it does not (a write cut short, or a corrupted object).
func (b *Bucket) PutHashed(ctx context.Context, key, sum string, data []byte) error {
	if _, err := b.GetHashed(ctx, key, sum); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotExist) && !errors.Is(err, ErrCorrupt) {
		return err
	}
	return b.Put(ctx, key, data)
}

// Get reads the object under key whole.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := b.b.ReadAll(ctx, key)
	return data, b.wrap("read", key, err)
}

// GetHashed reads the object under key and checks it against sum, its
// SHA-256 in hex: one that does not match is ErrCorrupt, never returned.
func (b *Bucket) GetHashed(ctx context.Context, key, sum string) ([]byte, error) {
	data, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
		return nil, fmt.Errorf("read %s: %w", key, ErrCorrupt)
	}
	return data, nil
}

// Reader opens the object under key for reading at any offset: it reads
// what is asked for from the store (a range request on S3), and holds no
// copy of the object. It is an io.ReadSeeker, as http.ServeContent needs.
func (b *Bucket) Reader(ctx context.Context, key string) (*blob.Reader, error) {
	r, err := b.b.NewReader(ctx, key, nil)
	return r, b.wrap("open", key, err)
}

// Hash reads the object under key and returns its SHA-256 in hex.
func (b *Bucket) Hash(ctx context.Context, key string) (string, error) {
	r, err := b.Reader(ctx, key)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", b.wrap("read", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Exists reports whether an object is under key.
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := b.b.Exists(ctx, key)
	return ok, b.wrap("look up", key, err)
}

// List returns the keys under prefix, in order, as if the bucket were a
// folder tree: with delim "/" the objects and sub-folders (ending in "/")
// right under prefix, with "" every object under it.
func (b *Bucket) List(ctx context.Context, prefix, delim string) ([]string, error) {
	var keys []string
	it := b.b.List(&blob.ListOptions{Prefix: prefix, Delimiter: delim})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return nil, b.wrap("list", prefix, err)
		}
		// A folder's object being written is a temporary file beside it
		// (no key of ours ends so).
		if b.dir != "" && strings.HasSuffix(o.Key, ".tmp") {
			continue
		}
		keys = append(keys, o.Key)
	}
}

// Object is an object of a listing: its key, size and when it was
// written.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Objects lists every object under prefix, in order, with its size and
// time; in a folder, the files being written too (a temporary file, an
// upload's part file), so that a folder being written counts as in use.
func (b *Bucket) Objects(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	it := b.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, b.wrap("list", prefix, err)
		}
		out = append(out, Object{Key: o.Key, Size: o.Size, ModTime: o.ModTime})
	}
}

// Delete removes the object under key; one that is not there is not an
// error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	err := b.b.Delete(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return b.wrap("delete", key, err)
}

// DeleteAll removes every object under prefix.
func (b *Bucket) DeleteAll(ctx context.Context, prefix string) error {
	keys, err := b.List(ctx, prefix, "")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
