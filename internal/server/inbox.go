package server

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/manifest"
)

// Uploads in central's blobs: inbox/CLIENT/BUNDLE/FILE, the layout of the
// home's inbox folder. A request receives into the home's inbox as ever;
// when the blobs are an object store, what it stored whole (the signature,
// the manifest, each chunk) is copied there before it answers, the
// manifest after the signature, and a request that finds there files its
// folder lacks fetches them first: another replica received them. A chunk
// cut short is kept only where it was being received: a client that comes
// back to another replica is told an offset at the end of the last whole
// file, and sends from there. The import reads the home's folder.

func inboxKey(client, b string) string { return path.Join("inbox", client, b) }

// elsewhere reports whether the blobs are not the home's folders.
func (s *Server) elsewhere() bool { return s.c.Blobs.Dir() != s.c.Home.Dir }

// inStore lists the files of upload b that the blobs hold.
func (s *Server) inStore(ctx context.Context, client, b string) (map[string]bool, error) {
	keys, err := s.c.Blobs.List(ctx, inboxKey(client, b)+"/", "")
	if err != nil {
		return nil, err
	}
	held := map[string]bool{}
	for _, k := range keys {
		held[path.Base(k)] = true
	}
	return held, nil
}

// storeOrder puts the chunks first, then the signature, then the manifest:
// an upload's manifest, where it lies, says its head is whole.
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

// fetchUpload copies into the home's inbox the files of upload b that the
// blobs hold and its folder lacks, each checked: a chunk against its name.
func (s *Server) fetchUpload(ctx context.Context, client, b string) error {
	if !s.elsewhere() {
		return nil
	}
	held, err := s.inStore(ctx, client, b)
	if err != nil || len(held) == 0 {
		return err
	}
	dir := filepath.Join(s.inbox, client, b)
	if err := safefile.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, name := range storeOrder(slices.Sorted(maps.Keys(held))) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		key := path.Join(inboxKey(client, b), name)
		var data []byte
		if api.ValidChunk(name) {
			data, err = s.c.Blobs.GetHashed(ctx, key, name)
		} else {
			data, err = s.c.Blobs.Get(ctx, key)
		}
		if err == nil {
			err = safefile.WriteFile(p, data, 0o600)
		}
		if err != nil {
			return fmt.Errorf("fetch upload %s: %w", b, err)
		}
	}
	return nil
}

// settleUpload makes upload b the same at this replica as at every other,
// before a request that holds its claim writes to it: the whole files this
// replica holds go to the blobs (a replica killed before it copied one
// holds it still), the part of a file it holds goes (no other replica
// has it: the client sends that file again from its start), and the
// files the blobs hold come here. Every replica then answers the same
// offset, the end of the last whole file: without this, a replica that
// kept a part would ask the client to send from its end, and the others
// from its start, without end.
func (s *Server) settleUpload(ctx context.Context, client, b string) error {
	if !s.elsewhere() {
		return nil
	}
	if err := s.pushUpload(ctx, client, b); err != nil {
		return err
	}
	parts, err := filepath.Glob(filepath.Join(s.inbox, client, b, ".part-*"))
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return s.fetchUpload(ctx, client, b)
}

// pushUpload copies into the blobs the whole files of upload b that the
// home's inbox holds and they lack.
func (s *Server) pushUpload(ctx context.Context, client, b string) error {
	if !s.elsewhere() {
		return nil
	}
	dir := filepath.Join(s.inbox, client, b)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	held, err := s.inStore(ctx, client, b)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !held[n] && !strings.HasPrefix(n, ".") && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	for _, name := range storeOrder(names) {
		if err := s.c.Blobs.PutFile(ctx, path.Join(inboxKey(client, b), name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("keep upload %s: %w", b, err)
		}
	}
	return nil
}

// dropUpload removes upload b from the blobs, once imported or refused.
func (s *Server) dropUpload(ctx context.Context, client, b string) error {
	if !s.elsewhere() {
		return nil
	}
	return s.c.Blobs.DeleteAll(ctx, inboxKey(client, b)+"/")
}
