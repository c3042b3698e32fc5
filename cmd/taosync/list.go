package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/store"
)

func (a *app) listCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "list TYPE",
		Short:   "List the entities of a type held here",
		Example: "  taosync list test-center\n  taosync list delivery --json",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("list needs one type: %s", typeNames())}
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return completeTypes()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runList(cmd.Context(), args[0])
		},
	}
}

func (a *app) runList(ctx context.Context, name string) error {
	t, err := taosync.ParseType(name)
	if err != nil {
		return usageError{err}
	}
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	p := a.printer()
	var text []map[string]any
	err = store.EachEntity(ctx, h.DB, t, func(data []byte) error {
		if p.json {
			// The stored object is the entity as synchronised: print it as is.
			_, err := p.w.Write(append(data, '\n'))
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		text = append(text, m)
		return nil
	})
	if err != nil || p.json {
		return err
	}
	cols := listColumns[t]
	return table(p, text, cols, func(m map[string]any) []any {
		var row []any
		for _, c := range cols {
			row = append(row, cell(m[c]))
		}
		return row
	})
}

// listColumns are the columns the text listing shows per type; --json shows
// every field.
var listColumns = map[taosync.Type][]string{
	taosync.TestCenter:    {"id", "label", "org_id"},
	taosync.Administrator: {"id", "login", "first_name", "last_name", "email", "test_centers"},
	taosync.Proctor:       {"id", "login", "first_name", "last_name", "email", "test_centers"},
	taosync.TestTaker:     {"id", "login", "first_name", "last_name", "email", "language"},
	taosync.Eligibility:   {"id", "test_center", "delivery", "test_takers", "proctored"},
	taosync.Delivery:      {"id", "label", "max_executions", "start", "end", "package"},
}

func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case []any:
		if len(v) > 3 {
			return fmt.Sprintf("%d ids", len(v))
		}
		s := ""
		for i, e := range v {
			if i > 0 {
				s += "|"
			}
			s += fmt.Sprint(e)
		}
		return s
	case map[string]any:
		if h, ok := v["sha256"].(string); ok && len(h) > 12 {
			return h[:12]
		}
		return "{...}"
	}
	return fmt.Sprint(v)
}
