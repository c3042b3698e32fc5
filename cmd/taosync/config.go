package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/config"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config get|set|list",
		Short: "Read and change settings",
		Args:  noArgs,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "get KEY",
			Short: "Print a setting's value",
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.runConfig(cmd.Context(), args[0], nil)
			},
		},
		&cobra.Command{
			Use:   "set KEY VALUE",
			Short: "Change a setting",
			Args:  exactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.runConfig(cmd.Context(), args[0], &args[1])
			},
		},
		&cobra.Command{
			Use:   "list",
			Short: "List every setting with its value and default",
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return a.runConfigList(cmd.Context())
			},
		},
	)
	return cmd
}

func (a *app) runConfig(ctx context.Context, key string, value *string) error {
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	var v string
	if value == nil {
		v, err = config.Get(ctx, h.DB, key)
	} else {
		v, err = config.Set(ctx, h.DB, key, *value)
	}
	if errors.Is(err, config.ErrInvalid) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	return a.printer().object(map[string]string{"key": key, "value": v}, func(w io.Writer) {
		fmt.Fprintln(w, v)
	})
}

func (a *app) runConfigList(ctx context.Context) error {
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	values, err := config.List(ctx, h.DB)
	if err != nil {
		return err
	}
	return table(a.printer(), values, []string{"KEY", "VALUE", "DEFAULT", "MEANING"}, func(v config.Value) []any {
		return []any{v.Key, v.Value, v.Default, v.Help}
	})
}
