// Package metrics exposes central's server in the Prometheus text format:
// requests by route and status, their durations, bytes each way, bundle
// preparation, results received, authentication failures, clients by
// readiness state and the build. No label names a centre: a label per
// client would make one series per centre and per everything else.
package metrics

import (
	"cmp"
	"context"
	"crypto/subtle"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// StateCounts counts the clients in each readiness state, at scrape time.
type StateCounts func(ctx context.Context) (map[string]int, error)

// Metrics holds central's metrics, in a registry of their own.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	sent, recv   prometheus.Counter
	prepare      prometheus.Histogram
	results      *prometheus.CounterVec
	authFailures *prometheus.CounterVec
}

// Build names the build serving, as `taosync --version` does.
type Build struct {
	Version, Commit, Time, GoVersion string
}

// New registers the metrics; build names the build, states counts the
// clients by readiness state (each of names is reported, 0 if absent);
// a nil log means slog.Default().
func New(build Build, names []string, states StateCounts, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taosync_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		// From 5 ms (a token) to a few minutes (a large pull on a busy
		// central, or a chunk on a slow line).
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "taosync_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 9),
		}, []string{"route"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taosync_http_sent_bytes_total", Help: "Bytes of HTTP answer bodies sent.",
		}),
		recv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taosync_http_received_bytes_total", Help: "Bytes of HTTP request bodies received.",
		}),
		prepare: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "taosync_bundle_prepare_duration_seconds", Help: "Time to prepare a data bundle for a pull.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taosync_results_received_total", Help: "Execution revisions received over HTTP, by outcome (new, duplicate, conflict).",
		}, []string{"outcome"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taosync_auth_failures_total", Help: "Requests refused for their credentials (401), by route.",
		}, []string{"route"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "taosync_build_info", Help: "The taosync build serving: always 1.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "commit_time": build.Time,
			"goversion": build.GoVersion},
	})
	info.Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.sent, m.recv, m.prepare, m.results, m.authFailures, info,
		&clientStates{names: names, states: states, log: cmp.Or(log, slog.Default()),
			desc: prometheus.NewDesc("taosync_clients", "Registered clients by readiness state.", []string{"state"}, nil)},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{"new", "duplicate", "conflict"} {
		m.results.WithLabelValues(o)
	}
	return m
}

// Prepared records the time a data bundle took to prepare.
func (m *Metrics) Prepared(d time.Duration) { m.prepare.Observe(d.Seconds()) }

// ResultsReceived counts the execution revisions of a result bundle.
func (m *Metrics) ResultsReceived(received, duplicate, conflict int64) {
	m.results.WithLabelValues("new").Add(float64(received))
	m.results.WithLabelValues("duplicate").Add(float64(duplicate))
	m.results.WithLabelValues("conflict").Add(float64(conflict))
}

// Wrap measures every request h answers. The route is the pattern that
// matched (a bounded set), "other" for none.
func (m *Metrics) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := &countingWriter{ResponseWriter: w, code: http.StatusOK}
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		h.ServeHTTP(cw, r)
		route := r.Pattern
		if route == "" {
			route = "other"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(cw.code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		m.sent.Add(float64(cw.n))
		m.recv.Add(float64(body.n))
		if cw.code == http.StatusUnauthorized {
			m.authFailures.WithLabelValues(route).Inc()
		}
	})
}

// Handler serves the metrics; with a token, only to a request bearing it.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="taosync metrics"`)
			http.Error(w, "the metrics token is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type countingWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
	n           int64
}

func (w *countingWriter) WriteHeader(code int) {
	// An informational answer (102 Processing while central commits) is
	// not the request's status.
	if !w.wroteHeader && code >= 200 {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// clientStates reports the clients by readiness state when scraped.
type clientStates struct {
	desc   *prometheus.Desc
	names  []string
	states StateCounts
	log    *slog.Logger
}

func (c *clientStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *clientStates) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	counts, err := c.states(ctx)
	if err != nil {
		c.log.Error("metrics: count clients by state", "err", err)
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, n := range c.names {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[n]), n)
	}
}
