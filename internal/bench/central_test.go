package main

import (
	"fmt"
	"testing"
)

// TestSetups: -engine, -replicas and -balance give the setups of targets
// 7 and 9 in order, one replica before more on each engine; replicas on
// SQLite are left out, and what cannot run is refused.
func TestSetups(t *testing.T) {
	for _, c := range []struct {
		engine, replicas, balance, db string
		cases                         []string
		want                          string // the setups, or the error
	}{
		{"sqlite", "1", "round-robin", "", nil, "[SQLite]"},
		{"both", "1", "round-robin", "", nil, "[SQLite PostgreSQL]"},
		{"both", "2,1", "sticky", "", nil, "[SQLite PostgreSQL PostgreSQL, 2 replicas, sticky]"},
		{"postgres", "1,2", "round-robin", "", nil, "[PostgreSQL PostgreSQL, 2 replicas, round-robin]"},
		{"sqlite", "1", "round-robin", "postgres://x/db", []string{"capacity"}, "[PostgreSQL]"},
		{"sqlite", "2", "round-robin", "", nil, "-replicas 2: more than one replica needs -engine postgres or both"},
		{"mysql", "1", "round-robin", "", nil, `-engine "mysql": want sqlite, postgres or both`},
		{"both", "1,1", "round-robin", "", nil, `-replicas "1,1": want distinct counts from 1 to 8, such as 1,2`},
		{"both", "0", "round-robin", "", nil, `-replicas "0": want distinct counts from 1 to 8, such as 1,2`},
		{"both", "1", "random", "", nil, `-balance: balancer mode "random": want round-robin or sticky`},
		{"both", "1", "round-robin", "postgres://x/db", []string{"capacity"}, "[PostgreSQL]"},
		{"postgres", "1,2", "round-robin", "postgres://x/db", []string{"capacity"}, "-db holds one central: run one of the cases http and capacity, with one -replicas count"},
		{"postgres", "1", "round-robin", "postgres://x/db", []string{"capacity", "http"}, "-db holds one central: run one of the cases http and capacity, with one -replicas count"},
	} {
		o := options{db: c.db, cases: map[string]bool{}}
		for _, k := range c.cases {
			o.cases[k] = true
		}
		var got string
		if err := o.parseSetups(c.engine, c.replicas, c.balance); err != nil {
			got = err.Error()
		} else {
			got = fmt.Sprint(o.setups())
		}
		if got != c.want {
			t.Errorf("-engine %s -replicas %s -balance %s -db %q: %s\nwant %s", c.engine, c.replicas, c.balance, c.db, got, c.want)
		}
	}
}
