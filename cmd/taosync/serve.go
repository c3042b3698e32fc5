package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/clientaddr"
	"github.com/taosync/taosync/internal/metrics"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/ui"
)

type serveOptions struct {
	addr            string
	tlsCert, tlsKey string
	insecureHTTP    bool
	tokenTTL        time.Duration
	shutdownGrace   time.Duration
	quota           server.Quota
	metricsAddr     string
	metricsToken    string
	accessLog       bool
	trustedProxies  []string
}

func (a *app) serveCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--addr A]",
		Short: "Serve central's HTTP API: OAuth 2 token endpoint, data pull, result push, receipts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runServe(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS key file (PEM)")
	f.BoolVar(&o.insecureHTTP, "insecure-http", false, "allow plain HTTP on an address that is not loopback")
	f.DurationVar(&o.tokenTTL, "token-ttl", 15*time.Minute, "lifetime of access tokens")
	f.DurationVar(&o.shutdownGrace, "shutdown-grace", 30*time.Second, "time in-flight requests get to finish on SIGTERM")
	f.IntVar(&o.quota.Bundles, "upload-max-bundles", server.DefaultQuota.Bundles, "result bundles a client may have uploaded and not committed")
	f.Int64Var(&o.quota.Bytes, "upload-max-bytes", server.DefaultQuota.Bytes, "bytes a client may have uploaded and not committed")
	f.DurationVar(&o.quota.Lifetime, "upload-lifetime", server.DefaultQuota.Lifetime, "how long an upload nobody commits is kept after its last byte")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this address of their own (such as 127.0.0.1:9464)")
	f.StringVar(&o.metricsToken, "metrics-token-file", "", "a file holding the bearer token /metrics asks for")
	f.BoolVar(&o.accessLog, "access-log", true, "log one line per request on stderr, whatever --log-level (--access-log=false: none)")
	f.StringSliceVar(&o.trustedProxies, "trusted-proxy", nil, "balancers or reverse proxies (CIDR or address, comma-separated) whose X-Forwarded-For names the client's address")
	return cmd
}

func (a *app) runServe(ctx context.Context, o serveOptions) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	if o.quota.Bundles < 1 || o.quota.Bytes < 1 || o.quota.Lifetime <= 0 {
		return usageError{errors.New("--upload-max-bundles, --upload-max-bytes and --upload-lifetime must be above 0")}
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return usageError{fmt.Errorf("--addr %q: %w", o.addr, err)}
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if o.tlsCert == "" && !loopback && !o.insecureHTTP {
		return hinted{fmt.Errorf("plain HTTP on %s would send credentials and tokens in clear", o.addr),
			"pass --tls-cert and --tls-key, or --insecure-http on a network you trust"}
	}
	token, err := metricsToken(o)
	if err != nil {
		return err
	}
	proxies, err := clientaddr.Parse(o.trustedProxies)
	if err != nil {
		return usageError{fmt.Errorf("--trusted-proxy %w", err)}
	}
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	s := server.New(cc, a.log)
	s.TokenTTL = o.tokenTTL
	s.Quota = o.quota
	// The access log is what an operator reads on exam week: on by
	// default, at info level, and so not silenced by --log-level's
	// default of warn.
	if o.accessLog {
		s.AccessLog = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	// The operator view beside the API: its cookies are Secure under TLS,
	// and its requests are in the access log too.
	view := ui.New(cc, server.NewLimiter(cc.Store, "operator", a.log), o.tlsCert != "", a.log).Handler()
	if s.AccessLog != nil {
		view = server.LogRequests(view, s.AccessLog)
	}
	handler := ui.Mount(s.Handler(), view)
	if o.metricsAddr != "" {
		m := metrics.New(buildInfo(), central.States, cc.CountStates, a.log)
		s.Observe = m
		handler = m.Wrap(handler)
		stop, err := a.serveMetrics(o.metricsAddr, m.Handler(token))
		if err != nil {
			return err
		}
		defer stop()
	}
	// The failure limiters and the access log count and name each request
	// by its client's address, found behind the trusted proxies.
	handler = proxies.Wrap(handler)
	// Bounded everything: headers, idle connections, request headers'
	// size. Bodies are bounded per endpoint; a body may be slow (a chunk on
	// a poor line), so there is no whole-request timeout.
	srv := &http.Server{
		Addr:              o.addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	// Uploads nobody committed go from this replica's inbox at start, and
	// then every gc.interval; the leftovers in the blobs too, by one
	// replica at a time.
	go s.Collect(ctx)
	a.log.Info("serving", "url", scheme+"://"+ln.Addr().String())
	fmt.Fprintf(a.stderr, "taosync: serving %s://%s\n", scheme, ln.Addr())
	fmt.Fprintf(a.stderr, "taosync: operator view at %s://%s%s\n", scheme, ln.Addr(), ui.Prefix)
	return server.Serve(ctx, srv, func() error {
		if o.tlsCert != "" {
			return srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
		}
		return srv.Serve(ln)
	}, o.shutdownGrace)
}

// metricsToken checks the metrics flags and reads the token. Metrics are
// never served on the API's address; on an address other than loopback
// they need a token.
func metricsToken(o serveOptions) (string, error) {
	if o.metricsAddr == "" {
		if o.metricsToken != "" {
			return "", usageError{errors.New("--metrics-token-file goes with --metrics-addr")}
		}
		return "", nil
	}
	host, port, err := net.SplitHostPort(o.metricsAddr)
	if err != nil {
		return "", usageError{fmt.Errorf("--metrics-addr %q: %w", o.metricsAddr, err)}
	}
	if _, apiPort, _ := net.SplitHostPort(o.addr); port == apiPort && port != "0" {
		return "", usageError{fmt.Errorf("--metrics-addr %s: metrics are served on a port of their own, never the API's", o.metricsAddr)}
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if o.metricsToken == "" {
		if !loopback {
			return "", hinted{fmt.Errorf("metrics on %s would be open to anyone who reaches it", o.metricsAddr),
				"pass --metrics-token-file, or a loopback --metrics-addr such as 127.0.0.1:9464"}
		}
		return "", nil
	}
	b, err := os.ReadFile(o.metricsToken)
	if err != nil {
		return "", fmt.Errorf("read the metrics token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 16 || strings.ContainsAny(token, " \t\r\n") {
		return "", usageError{fmt.Errorf("--metrics-token-file %s: want one token of at least 16 characters", o.metricsToken)}
	}
	return token, nil
}

// serveMetrics serves h at /metrics on addr until stop is called.
func (a *app) serveMetrics(addr string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10}
	go srv.Serve(ln)
	fmt.Fprintf(a.stderr, "taosync: metrics at http://%s/metrics\n", ln.Addr())
	return func() { srv.Close() }, nil
}
