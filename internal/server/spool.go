package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/bucket"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/manifest"
)

// The spool in central's blobs: spool/CLIENT/BUNDLE/FILE, the layout of
// the home's spool folder. Bundles are written in the home's spool folder
// first; when the blobs are an object store, publish copies each bundle
// there, its manifest last: a bundle whose manifest is in the store is
// whole, and any replica serves it.

func spoolKey(client string, parts ...string) string {
	return path.Join(append([]string{"spool", client}, parts...)...)
}

// publish copies the bundle folder dir of client's spool into the blobs,
// unless they are the home's folder (where the bundle already is): the
// files they lack, the manifest last.
func (s *Server) publish(ctx context.Context, client, dir string) error {
	if !s.elsewhere() {
		return nil
	}
	b := filepath.Base(dir)
	if err := s.push(ctx, dir, spoolKey(client, b)); err != nil {
		return fmt.Errorf("publish %s: %w", b, err)
	}
	return nil
}

// clientSpool makes the home's spool folder of client, where its bundles
// are written first: a replica may not have made it yet (the client
// pulled from another).
func (s *Server) clientSpool(client string) (string, error) {
	dir := filepath.Join(s.spool, client)
	return dir, safefile.MkdirAll(dir, 0o700)
}

// receiptsLease is the lease held while the receipt bundle of a batch is
// found or made: a batch has one receipt bundle, whichever replicas are
// asked for it at once.
func receiptsLease(client string, batch uint64) string {
	return fmt.Sprintf("receipts/%s/%d", client, batch)
}

// receiptBundle finds or makes the receipt bundle of client's batch,
// publishes it and lists its files, under the batch's lease: the one a
// replica published first, else the one this replica holds, else a new
// one.
func (s *Server) receiptBundle(ctx context.Context, client string, batch uint64) (api.BundleRef, error) {
	l, err := s.waitLease(ctx, receiptsLease(client, batch))
	if err != nil {
		return api.BundleRef{}, fmt.Errorf("wait for the receipts of batch %d: %w", batch, err)
	}
	defer l.Release()
	ctx = l.Context()
	dir, published, err := s.receiptSpool(ctx, client, batch)
	if err != nil {
		return api.BundleRef{}, err
	}
	d, err := s.c.ReceiptBundle(ctx, dir, client, batch, "http")
	if err != nil {
		return api.BundleRef{}, err
	}
	b := filepath.Base(d)
	if published != "" && b != published {
		// The published one did not verify here: it goes, and the one
		// made in its stead is the batch's.
		if err := s.unprepare(ctx, client, published); err != nil {
			return api.BundleRef{}, err
		}
	}
	if err := s.publish(ctx, client, d); err != nil {
		return api.BundleRef{}, err
	}
	raw, err := os.ReadFile(filepath.Join(d, manifest.FileName))
	if err != nil {
		return api.BundleRef{}, err
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return api.BundleRef{}, err
	}
	return s.refOf(ctx, client, b, m)
}

// receiptSpool is clientSpool with the receipt bundle of batch that a
// replica published copied in, and returns its name. A bundle whose
// manifest is not in the blobs was cut short by a replica that died while
// it published it, and is left there; one whose chunk does not match its
// hash goes. Of two whole ones the first in name order is the batch's,
// and the other goes. Once one is published, any other of the batch the
// folder holds (made here, and not published before this replica died)
// goes: central would find it first. The caller holds the batch's lease.
func (s *Server) receiptSpool(ctx context.Context, client string, batch uint64) (dir, published string, err error) {
	dir, err = s.clientSpool(client)
	if err != nil || !s.elsewhere() {
		return dir, "", err
	}
	prefix := fmt.Sprintf("receipts-%s-%06d-", client, batch)
	names, err := s.spooled(ctx, client, prefix)
	if err != nil {
		return "", "", err
	}
	for _, b := range names {
		there, err := s.held(ctx, spoolKey(client, b))
		if err != nil {
			return "", "", err
		}
		if !there[manifest.FileName] {
			continue
		}
		if published != "" {
			// A second whole one: a replica that lost the lease while
			// its manifest was on the way finished it after another
			// had listed. The first in name order is the batch's,
			// whichever replica looks.
			if err := s.unprepare(ctx, client, b); err != nil {
				return "", "", err
			}
			continue
		}
		err = s.fetch(ctx, spoolKey(client, b), filepath.Join(dir, b), slices.Collect(maps.Keys(there)))
		if errors.Is(err, bucket.ErrCorrupt) {
			// Damaged in the store: it goes, and one is made again.
			s.log.Error("refused a damaged receipt bundle", "client", client, "bundle", b, "err", err)
			err = s.unprepare(ctx, client, b)
			if err == nil {
				continue
			}
		}
		if err != nil {
			return "", "", fmt.Errorf("fetch %s: %w", b, err)
		}
		published = b
	}
	if published == "" {
		return dir, "", nil
	}
	local, err := os.ReadDir(dir)
	if err != nil {
		return "", "", err
	}
	for _, e := range local {
		if n := e.Name(); strings.HasPrefix(n, prefix) && n != published {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return "", "", err
			}
		}
	}
	return dir, published, nil
}

// spooled lists the bundles of client's spool in the blobs whose names
// start with prefix.
func (s *Server) spooled(ctx context.Context, client, prefix string) ([]string, error) {
	keys, err := s.c.Blobs.List(ctx, spoolKey(client)+"/"+prefix, "/")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if strings.HasSuffix(k, "/") {
			out = append(out, path.Base(k))
		}
	}
	return out, nil
}

// unprepare removes a bundle from client's spool, in the blobs and in the
// home's folder, its manifest first: a bundle half removed is not whole,
// and no replica offers it.
func (s *Server) unprepare(ctx context.Context, client, b string) error {
	if err := s.c.Blobs.Delete(ctx, spoolKey(client, b, manifest.FileName)); err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(s.spool, client, b))
	return s.c.Blobs.DeleteAll(ctx, spoolKey(client, b)+"/")
}

// damaged removes a prepared bundle of client found damaged in the blobs,
// so that the client's next pull exports its data again rather than being
// offered the same bundle until it expires. The caller holds the lease
// on the client's pulls when locked.
func (s *Server) damaged(ctx context.Context, client, b string, err error, locked bool) {
	s.log.Error("refused to serve a damaged bundle", "client", client, "bundle", b, "err", err)
	if !locked {
		lock, err := s.waitLease(ctx, "pull/"+client)
		if err != nil {
			s.log.Warn("remove a damaged bundle", "client", client, "bundle", b, "err", err)
			return
		}
		defer lock.Release()
	}
	if err := s.unprepare(context.WithoutCancel(ctx), client, b); err != nil {
		s.log.Warn("remove a damaged bundle", "client", client, "bundle", b, "err", err)
	}
}

// serveBlob serves file name of bundle b in client's spool with Range and
// ETag, read from the blobs as the client asks for it. A chunk's bytes are
// hashed as they are served whole: one that does not match its name is
// cut short, never delivered whole, and its bundle goes.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, client, b, name string) {
	ctx, key := r.Context(), spoolKey(client, b, name)
	rd, err := s.c.Blobs.Reader(ctx, key)
	if errors.Is(err, bucket.ErrNotExist) {
		writeError(w, http.StatusNotFound, "no such bundle file")
		return
	}
	if errors.Is(err, bucket.ErrCorrupt) {
		s.damaged(ctx, client, b, err, false)
	}
	if err != nil {
		s.fail(w, "download", err)
		return
	}
	defer rd.Close()
	etag := name
	if !api.ValidChunk(name) {
		if etag, err = s.c.Blobs.Hash(ctx, key); err != nil {
			if errors.Is(err, bucket.ErrCorrupt) {
				s.damaged(ctx, client, b, err, false)
			}
			s.fail(w, "download", err)
			return
		}
	}
	w.Header().Set("ETag", `"`+etag+`"`)
	w.Header().Set("Content-Type", "application/octet-stream")
	if rng := r.Header.Get("Range"); rng != "" {
		r.Header.Set("Range", emptySuffixes(rng, rd.Size()))
	}
	var content io.ReadSeeker = rd
	if api.ValidChunk(name) {
		content = &checked{r: rd, size: rd.Size(), want: name, h: sha256.New(), bad: func(err error) {
			s.damaged(ctx, client, b, err, false)
		}}
	}
	http.ServeContent(w, r, name, rd.ModTime(), content)
}

// checked hashes what is read of an object from its start on, in order,
// and fails the read that ends it if the hash is not want. A seek
// anywhere but to the start (a Range request) stops the hashing: the
// client checks the whole file it assembles.
type checked struct {
	r    io.ReadSeeker
	size int64
	want string
	h    hash.Hash
	// n bytes were hashed, pos is where the next read reads.
	n, pos int64
	off    bool // a read out of order stopped the hashing
	bad    func(error)
}

func (c *checked) Seek(offset int64, whence int) (int64, error) {
	n, err := c.r.Seek(offset, whence)
	if err == nil {
		c.pos = n
	}
	return n, err
}

func (c *checked) Read(p []byte) (int, error) {
	if c.pos != c.n {
		c.off = true
	}
	n, err := c.r.Read(p)
	c.pos += int64(n)
	if c.off {
		return n, err
	}
	c.h.Write(p[:n])
	c.n += int64(n)
	if c.n >= c.size {
		if got := hex.EncodeToString(c.h.Sum(nil)); c.n != c.size || got != c.want {
			err := fmt.Errorf("chunk %s: %w", c.want, bucket.ErrCorrupt)
			c.bad(err)
			return 0, err
		}
	}
	return n, err
}
