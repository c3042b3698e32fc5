package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/bucket"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
)

type initOptions struct {
	role string
	url  string
}

func (a *app) initCommand() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init --role central|client [--url URL]",
		Short: "Create the home: database and keys",
		Example: "  taosync --home /srv/central init --role central --url https://c.example.org\n" +
			"  taosync --home /var/lib/taosync init --role client",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runInit(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.role, "role", "", "central or client (required)")
	cmd.Flags().StringVar(&o.url, "url", "", "central only: its address as centres reach it, e.g. https://central.example.org (the server.url setting)")
	return cmd
}

func (a *app) runInit(ctx context.Context, o initOptions) error {
	role, err := home.ParseRole(o.role)
	if err != nil {
		return usageError{fmt.Errorf("--role: %w", err)}
	}
	if a.homeDir == "" {
		return errNoHome
	}
	url := ""
	if o.url != "" {
		if role != home.RoleCentral {
			return usageError{errors.New("--url is for central's home: a client's address comes with its credentials")}
		}
		if url, err = config.Check("server.url", o.url); err != nil {
			return usageError{fmt.Errorf("--url: %w", err)}
		}
	}
	if a.db != "" {
		if role != home.RoleCentral {
			return errClientDB
		}
		if err := store.CheckLocation(a.db); err != nil {
			return err
		}
	}
	if a.blobs != "" {
		if role != home.RoleCentral {
			return usageError{errors.New("--blobs is for central's home: a client keeps its files in its home")}
		}
		if _, err := config.BlobsURL(a.blobs); err != nil {
			return usageError{fmt.Errorf("--blobs: %w", err)}
		}
		// An object store must answer before the home is made: a wrong
		// value changes nothing.
		if strings.HasPrefix(a.blobs, "s3:") {
			b, err := bucket.Open(ctx, a.blobs, a.homeDir)
			if err != nil {
				return err
			}
			b.Close()
		}
	}
	h, err := home.InitAt(ctx, a.homeDir, role, a.db)
	if err != nil {
		return err
	}
	defer h.Close()
	for key, v := range map[string]string{"server.url": url, "blobs.url": a.blobs} {
		if v == "" {
			continue
		}
		if _, err := config.Set(ctx, h.DB, key, v); err != nil {
			return err
		}
	}
	keys, err := h.PublicKeys()
	if err != nil {
		return err
	}
	out := struct {
		Home     string `json:"home"`
		Role     string `json:"role"`
		Key      string `json:"key"`
		Database string `json:"database"`
	}{h.Dir, string(h.Role), keys.String(), h.DB.Path}
	return a.printer().object(out, func(w io.Writer) {
		fmt.Fprintf(w, "initialised %s home in %s\n", h.Role, h.Dir)
		if h.DB.Engine == store.Postgres {
			fmt.Fprintf(w, "its database: %s\n", h.DB.Path)
		}
		if h.Role == home.RoleClient {
			fmt.Fprintf(w, "client key (give it to central to register this centre):\n  %s\n", keys)
		}
		if url != "" {
			fmt.Fprintf(w, "centres will reach central at %s\n", url)
		}
	})
}
