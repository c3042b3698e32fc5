package bucket_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/bucket"
	"github.com/taosync/taosync/internal/s3test"
)

// backend is a bucket and where its objects lie on disk, to corrupt one.
type backend struct {
	name string
	open func(t *testing.T) (*bucket.Bucket, string)
}

var backends = []backend{
	{"file", func(t *testing.T) (*bucket.Bucket, string) {
		home := t.TempDir()
		b, err := bucket.Open(context.Background(), "", home)
		if err != nil {
			t.Fatal(err)
		}
		return b, home
	}},
	{"s3", func(t *testing.T) (*bucket.Bucket, string) {
		s := s3test.ForTest(t)
		b, err := bucket.Open(context.Background(), s.URL(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b, filepath.Join(s.Dir, s3test.Bucket)
	}},
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestBucket(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b, dir := be.open(t)
			defer b.Close()
			ctx := context.Background()
			data := []byte(strings.Repeat("chunk of a package ", 1000))
			key := "store/chunks/" + sum(data)[:2] + "/" + sum(data)
			if _, err := b.Get(ctx, key); !errors.Is(err, bucket.ErrNotExist) {
				t.Fatalf("get before put: %v, want ErrNotExist", err)
			}
			// Written once, idempotently.
			for range 2 {
				if err := b.PutHashed(ctx, key, sum(data), data); err != nil {
					t.Fatal(err)
				}
			}
			got, err := b.GetHashed(ctx, key, sum(data))
			if err != nil || string(got) != string(data) {
				t.Fatalf("get: %v, %d bytes", err, len(got))
			}
			// Read at an offset, as a Range request does.
			r, err := b.Reader(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Seek(19*500, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			part := make([]byte, 19)
			if _, err := io.ReadFull(r, part); err != nil || string(part) != "chunk of a package " {
				t.Fatalf("read at offset: %v, %q", err, part)
			}
			r.Close()
			// A corrupted object is told by its hash, and replaced by the
			// next write of it.
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(key)), data[:100], 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := b.GetHashed(ctx, key, sum(data)); !errors.Is(err, bucket.ErrCorrupt) {
				t.Fatalf("get corrupted: %v, want ErrCorrupt", err)
			}
			if err := b.PutHashed(ctx, key, sum(data), data); err != nil {
				t.Fatal(err)
			}
			if _, err := b.GetHashed(ctx, key, sum(data)); err != nil {
				t.Fatalf("get after repair: %v", err)
			}
			// Listing as a folder tree; deleting a prefix.
			for _, k := range []string{"spool/c1/data-1/manifest.json", "spool/c1/data-1/x", "spool/c2/data-2/x"} {
				if err := b.Put(ctx, k, []byte(k)); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := b.List(ctx, "spool/", "/")
			if err != nil || strings.Join(keys, " ") != "spool/c1/ spool/c2/" {
				t.Fatalf("list: %v %q", err, keys)
			}
			if err := b.DeleteAll(ctx, "spool/c1/"); err != nil {
				t.Fatal(err)
			}
			keys, err = b.List(ctx, "spool/", "")
			if err != nil || strings.Join(keys, " ") != "spool/c2/data-2/x" {
				t.Fatalf("list after delete: %v %q", err, keys)
			}
			if err := b.Delete(ctx, "spool/none"); err != nil {
				t.Fatalf("delete of nothing: %v", err)
			}
		})
	}
}

// TestFileLayout: the default bucket is the home, and an object is the
// file of today's layout, with nothing beside it.
func TestFileLayout(t *testing.T) {
	home := t.TempDir()
	b, err := bucket.Open(context.Background(), "file://", home)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(context.Background(), "spool/c1/data-1/manifest.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(home, "spool", "c1", "data-1", "manifest.json"))
	if err != nil || string(got) != "{}" {
		t.Fatalf("file: %v %q", err, got)
	}
	ents, _ := os.ReadDir(filepath.Join(home, "spool", "c1", "data-1"))
	if len(ents) != 1 {
		t.Fatalf("folder holds %d files, want the object alone", len(ents))
	}
}

func TestOpenRefuses(t *testing.T) {
	s := s3test.ForTest(t)
	for _, tc := range []struct{ url, want string }{
		{"ftp://x", `unknown scheme "ftp"`},
		{"mem://", `unknown scheme "mem"`},
		{"file://host/x", "file:// (the home) or file:///absolute/folder"},
		{"s3://", "no bucket named"},
		{"s3://key:secret@b?endpoint=" + s.Endpoint, "credentials go in the AWS environment"},
		{"s3://nosuchbucket?endpoint=" + s.Endpoint + "&use_path_style=true&region=us-east-1", "nosuchbucket"},
		{"s3://" + s3test.Bucket + "?endpoint=http://127.0.0.1:1&use_path_style=true&region=us-east-1", "open blobs"},
		{"s3://" + s3test.Bucket + "?bogus=1", "unknown query parameter"},
	} {
		_, err := bucket.Open(context.Background(), tc.url, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("open %s: %v, want one line with %q and no secret", tc.url, err, tc.want)
		}
	}
}

// TestStalledStore: an object store that answers that its bucket is there
// and then accepts requests and never answers them fails each call as
// unavailable once it has stalled for the bound, rather than holding the
// call for ever.
func TestStalledStore(t *testing.T) {
	bucket.SetStallTimeout(t, 200*time.Millisecond)
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/"+s3test.Bucket && r.URL.Query().Get("list-type") == "2" {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>`+s3test.Bucket+`</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
			return
		}
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	for _, kv := range s3test.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	b, err := bucket.Open(context.Background(), "s3://"+s3test.Bucket+"?endpoint="+srv.URL+"&use_path_style=true&region="+s3test.Region, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		_, err := b.Get(context.Background(), "store/chunks/ab/x")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, bucket.ErrUnavailable) {
			t.Fatalf("get from a stalled store: %v, want unavailable", err)
		}
		t.Logf("get from a stalled store: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("get from a stalled store did not return")
	}
}
