package server

import (
	"fmt"
	"net/http"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/version"
)

// gate refuses the request of a client older than central's minimum
// (clients.minVersion), naming both versions and what to do, and records
// the refusal so that the operator sees the centre needs an upgrade. A
// request without a version comes from a client older than the header,
// below any minimum; a development build passes only a central that is one
// too (version.Serves).
func (s *Server) gate(w http.ResponseWriter, r *http.Request, client string) bool {
	ctx := r.Context()
	min, err := config.Get(ctx, s.c.Home.DB, "clients.minVersion")
	if err != nil {
		s.fail(w, "version gate", err)
		return false
	}
	have := r.Header.Get(api.HeaderVersion)
	if min == "" {
		return true
	}
	if version.Serves(version.Current, min, have) {
		return true
	}
	if have == "" {
		have = "of a version that does not say"
	} else if len(have) > 64 {
		have = have[:64]
	}
	msg := fmt.Sprintf("taosync %s on this centre is %s: install taosync %s or later on this centre, then sync again", have, version.Shortfall(have, min), min)
	if err := s.c.Store.RecordLastError(ctx, client, msg, true); err != nil {
		s.log.Error("version gate", "err", err)
	}
	writeError(w, http.StatusForbidden, msg)
	return false
}
