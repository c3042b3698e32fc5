package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/server"
)

type serveOptions struct {
	addr            string
	tlsCert, tlsKey string
	insecureHTTP    bool
	tokenTTL        time.Duration
	shutdownGrace   time.Duration
	quota           server.Quota
	accessLog       bool
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
	f.BoolVar(&o.accessLog, "access-log", true, "log one line per request on stderr, whatever --log-level (--access-log=false: none)")
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
	// Bounded everything: headers, idle connections, request headers'
	// size. Bodies are bounded per endpoint; a body may be slow (a chunk on
	// a poor line), so there is no whole-request timeout.
	srv := &http.Server{
		Addr:              o.addr,
		Handler:           s.Handler(),
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
	// Uploads nobody committed go at start, and then every hour.
	go s.Housekeeping(ctx)
	a.log.Info("serving", "url", scheme+"://"+ln.Addr().String())
	fmt.Fprintf(a.stderr, "taosync: serving %s://%s\n", scheme, ln.Addr())
	return server.Serve(ctx, srv, func() error {
		if o.tlsCert != "" {
			return srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
		}
		return srv.Serve(ln)
	}, o.shutdownGrace)
}
