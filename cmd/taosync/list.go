package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

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
	l := listings[t]
	return detailTable(p, text, l.cols, func(m map[string]any) []any {
		var row []any
		for _, c := range l.cols {
			row = append(row, cell(m[c]))
		}
		return row
	}, func(m map[string]any) []string {
		var parts []string
		for _, c := range l.below {
			if v, ok := m[c]; ok && v != nil && v != "" {
				s := cell(v)
				if c == "start" || c == "end" {
					s = toSecond(s)
				}
				parts = append(parts, c+" "+s)
			}
		}
		return wrapClauses(strings.Join(parts, ", "), "    ", "    ", width)
	}, l.flex)
}

// listing is what the text listing of a type shows, in 80 columns: the
// fields of its columns, the one (flex) cut short when the table is too
// wide, and the fields (below) on a line under each row; --json shows
// every field.
type listing struct {
	cols  []string
	flex  int
	below []string
}

var listings = map[taosync.Type]listing{
	taosync.TestCenter:    {[]string{"id", "label", "org_id"}, 1, nil},
	taosync.Administrator: {[]string{"id", "login", "first_name", "last_name", "test_centers"}, 1, []string{"email"}},
	taosync.Proctor:       {[]string{"id", "login", "first_name", "last_name", "test_centers"}, 1, []string{"email"}},
	taosync.TestTaker:     {[]string{"id", "login", "first_name", "last_name", "language"}, 1, []string{"email"}},
	taosync.Eligibility:   {[]string{"id", "test_center", "delivery", "test_takers", "proctored"}, -1, nil},
	taosync.Delivery:      {[]string{"id", "label", "max_executions", "package"}, 1, []string{"start", "end"}},
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
