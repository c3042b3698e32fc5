package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/metrics"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestNilLog: metrics made with a nil logger log on slog.Default() instead
// of panicking at their first line.
func TestNilLog(t *testing.T) {
	logged := testfixture.DefaultLog(t)
	broken := func(context.Context) (map[string]int, error) { return nil, errors.New("database gone") }
	m := metrics.New(metrics.Build{}, []string{"ready"}, broken, nil)
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(logged(), `msg="metrics: count clients by state" err="database gone"`) {
		t.Fatalf("default log %q: no failed count", logged())
	}
}
