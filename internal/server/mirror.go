package server

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/bucket"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/manifest"
)

// A folder of the home (a prepared bundle in spool/, an upload in inbox/)
// and its copy in central's blobs when they are an object store: the
// same files under the folder's key, each written whole. Both ways copy
// only the files the other side lacks, in store order, the manifest
// last: a prepared bundle, copied once it is whole, is whole where its
// manifest is. (An upload's signature and manifest come first from its
// client; the commit checks it whole.) A chunk, named by its
// SHA-256, is checked against its name both ways: a damaged one is never
// copied, and the copy fails with bucket.ErrCorrupt.

// elsewhere reports whether the blobs are not the home's folders.
func (s *Server) elsewhere() bool { return s.c.Blobs.Dir() != s.c.Home.Dir }

// storeOrder puts the chunks first, then the signature, then the manifest.
func storeOrder(names []string) []string {
	rank := func(n string) int {
		switch n {
		case manifest.SigName:
			return 1
		case manifest.FileName:
			return 2
		}
		return 0
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	return names
}

// held lists the names of the files under key in the blobs.
func (s *Server) held(ctx context.Context, key string) (map[string]bool, error) {
	keys, err := s.c.Blobs.List(ctx, key+"/", "")
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, k := range keys {
		names[path.Base(k)] = true
	}
	return names, nil
}

// push copies into the blobs under key the whole files of folder dir that
// they lack: its regular files, not those whose names start with a dot
// (a part being received, a temporary file).
func (s *Server) push(ctx context.Context, dir, key string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	there, err := s.held(ctx, key)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !there[n] && !strings.HasPrefix(n, ".") && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	for _, name := range storeOrder(names) {
		p := filepath.Join(dir, name)
		if api.ValidChunk(name) {
			if err := checkFile(p, name); err != nil {
				return err
			}
		}
		if err := s.c.Blobs.PutFile(ctx, path.Join(key, name), p); err != nil {
			return err
		}
	}
	return nil
}

// checkFile fails with bucket.ErrCorrupt if the file at p is not of
// SHA-256 sum.
func checkFile(p, sum string) error {
	got, err := bundle.FileSum(p)
	if err == nil && got != sum {
		err = fmt.Errorf("copy %s: %w", p, bucket.ErrCorrupt)
	}
	return err
}

// fetch copies into folder dir the files the blobs hold under key and the
// folder lacks; names are those the blobs hold, listed by the caller.
func (s *Server) fetch(ctx context.Context, key, dir string, names []string) error {
	if err := safefile.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, name := range storeOrder(names) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		var data []byte
		var err error
		if api.ValidChunk(name) {
			data, err = s.c.Blobs.GetHashed(ctx, path.Join(key, name), name)
		} else {
			data, err = s.c.Blobs.Get(ctx, path.Join(key, name))
		}
		if err == nil {
			err = safefile.WriteFile(p, data, 0o600)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
