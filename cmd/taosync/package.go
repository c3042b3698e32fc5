package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/human"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/store"
)

func (a *app) packageCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "package DELIVERY_ID --out FILE.zip",
		Short: "Write a delivery's QTI package, byte for byte the published ZIP",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPackage(cmd.Context(), args[0], out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the ZIP file to write (required)")
	return cmd
}

func (a *app) runPackage(ctx context.Context, delivery, out string) error {
	if out == "" {
		return usageError{errors.New("--out is required")}
	}
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	ref, err := store.DeliveryPackage(ctx, h.DB, delivery)
	if err != nil {
		return err
	}
	chunks, err := blobstore.Open(h.Path(home.ChunksDir))
	if err != nil {
		return err
	}
	// The file appears whole or not at all, and only once every chunk and
	// the whole have matched their hashes.
	if err := safefile.Write(out, 0o644, func(w io.Writer) error { return chunks.WriteTo(w, &ref.Snapshot) }); err != nil {
		return err
	}
	return a.printer().object(map[string]any{"delivery": delivery, "file": out, "sha256": ref.Hash, "size": ref.Size},
		func(w io.Writer) {
			writeLines(w, wrapClauses(fmt.Sprintf("wrote %s: %s, sha256 %s", out, human.Bytes(ref.Size), ref.Hash), "", "  ", width))
		})
}
