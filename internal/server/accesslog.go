package server

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/taosync/taosync/internal/clientaddr"
)

// The access log: one line per request, at info level, with the method,
// the route's pattern (never the raw path, whose bundle names are the
// client's), the client when its secret or token was good, its address
// (clientaddr.Of, the one the failure limiters count), the status, the
// bytes of the answer and the time taken. Nothing else of the request's
// headers, query or body is logged, so no secret or token can reach the
// log.

// requestNote is what a handler learns about its request that the access
// log says: the client its secret or token authenticated.
type requestNote struct{ client string }

type noteKey struct{}

// noteClient records the authenticated client of the request for the
// access log, if there is one.
func noteClient(r *http.Request, client string) {
	if n, ok := r.Context().Value(noteKey{}).(*requestNote); ok {
		n.client = client
	}
}

// LogRequests wraps h to log each request it serves on log: the access
// log of the API (Handler), and of the operator view beside it. A nil log
// means slog.Default().
func LogRequests(h http.Handler, log *slog.Logger) http.Handler {
	log = cmp.Or(log, slog.Default())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		note := &requestNote{}
		in := r
		r = r.WithContext(context.WithValue(r.Context(), noteKey{}, note))
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		// The pattern goes back to the request this was given, for the
		// wrappers around it (the metrics' route).
		in.Pattern = r.Pattern
		// The mux sets the pattern on the request it routed: this one.
		route := r.Pattern
		if _, path, ok := strings.Cut(route, " "); ok {
			route = path
		}
		if route == "" {
			route = "-"
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("route", route),
			slog.String("client", note.client), slog.String("addr", clientaddr.Of(r)),
			slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes), slog.Duration("duration", time.Since(start)))
	})
}

// recorder notes the status and the size of an answer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(status int) {
	// An informational answer (100 Continue) is not the request's status.
	if r.status == 0 && status >= 200 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (the handlers
// set read deadlines through it).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
