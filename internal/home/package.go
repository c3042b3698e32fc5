package home

import (
	"context"
	"io"

	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/store"
)

// WritePackage writes the package a delivery held here names into the file
// out, byte for byte the ZIP central published, on central and on a client
// alike. The file appears whole or not at all, and only once every chunk
// and the whole have matched their hashes.
func (h *Home) WritePackage(ctx context.Context, delivery, out string) (*store.PackageRef, error) {
	ref, err := store.DeliveryPackage(ctx, h.DB, delivery)
	if err != nil {
		return nil, err
	}
	chunks, err := blobstore.Open(h.Path(ChunksDir))
	if err != nil {
		return nil, err
	}
	if err := safefile.Write(out, 0o644, func(w io.Writer) error { return chunks.WriteTo(w, &ref.Snapshot) }); err != nil {
		return nil, err
	}
	return ref, nil
}
