package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/version"
)

// versioned names the client's taosync version in every request it sends,
// the token request too, so that central's version gate can refuse a
// client too old to trust with a message saying what to do.
type versioned struct{ next http.RoundTripper }

func (v versioned) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(api.HeaderVersion, version.Current)
	r.Header.Set("User-Agent", "taosync/"+version.Current)
	return v.next.RoundTrip(r)
}

// CloseIdleConnections passes on to the transport beneath: a stalled line
// drops the idle connections (Syncer.why), which http.Client finds here.
func (v versioned) CloseIdleConnections() {
	if c, ok := v.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// report sends central the client's readiness report as it is now (after
// a data bundle was applied: the pull carried it as it was before). The
// data is applied whatever becomes of it, so a failure is only logged (the
// next pull carries the report); a central older than the report endpoint
// answers 404, which is no failure at all.
func (s *Syncer) report(ctx context.Context) {
	st, err := s.c.Report(ctx)
	if err == nil {
		var body []byte
		body, err = json.Marshal(st.Readiness)
		if err == nil {
			_, err = s.call(ctx, http.MethodPost, api.ReportPath, body, "application/json", nil)
		}
	}
	var se *StatusError
	if err != nil && !(errors.As(err, &se) && se.Status == http.StatusNotFound) {
		s.c.Log.Warn("readiness report not sent; the next sync sends it", "err", err)
	}
}
