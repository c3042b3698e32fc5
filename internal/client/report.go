package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/taosync/taosync/internal/server"
)

// versioned names the client's taosync version in every request it sends,
// the token request too, so that central's version gate can refuse a
// client too old to trust with a message saying what to do.
type versioned struct{ next http.RoundTripper }

func (v versioned) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(server.VersionHeader, Version)
	r.Header.Set("User-Agent", "taosync/"+Version)
	return v.next.RoundTrip(r)
}

// report sends central the client's readiness report as it is now (after
// a data bundle was applied: the pull carried it as it was before). A
// central older than the report endpoint answers 404, which is no failure.
func (s *Syncer) report(ctx context.Context) error {
	st, err := s.c.Status(ctx)
	if err != nil {
		return err
	}
	body, err := json.Marshal(st.Readiness)
	if err != nil {
		return err
	}
	_, err = s.call(ctx, http.MethodPost, strings.TrimPrefix(server.ReportPath, server.APIPrefix), body, "application/json", nil)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil
	}
	return err
}
