package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/human"
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
	ref, err := h.WritePackage(ctx, delivery, out)
	if err != nil {
		return err
	}
	return a.printer().object(map[string]any{"delivery": delivery, "file": out, "sha256": ref.Hash, "size": ref.Size},
		func(w io.Writer) {
			writeLines(w, wrapClauses(fmt.Sprintf("wrote %s: %s, sha256 %s", out, human.Bytes(ref.Size), ref.Hash), "", "  ", width))
		})
}
