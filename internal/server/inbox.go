package server

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
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

// fetchUpload copies into the home's inbox the files of upload b that the
// blobs hold and its folder lacks.
func (s *Server) fetchUpload(ctx context.Context, client, b string) error {
	if !s.elsewhere() {
		return nil
	}
	there, err := s.held(ctx, inboxKey(client, b))
	if err != nil || len(there) == 0 {
		return err
	}
	if err := s.fetch(ctx, inboxKey(client, b), filepath.Join(s.inbox, client, b), slices.Collect(maps.Keys(there))); err != nil {
		return fmt.Errorf("fetch upload %s: %w", b, err)
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
	if err := s.push(ctx, filepath.Join(s.inbox, client, b), inboxKey(client, b)); err != nil {
		return fmt.Errorf("keep upload %s: %w", b, err)
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
