package server

import (
	"errors"
	"net/http"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// report keeps a client's readiness report.
func (s *Server) report(w http.ResponseWriter, r *http.Request, client string) {
	var rep taosync.Readiness
	if !s.decodeJSON(w, r, &rep) {
		return
	}
	if err := rep.Check(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	// The data bundle it now holds is its acknowledgement, as a pull's,
	// checked first: a number central never made refuses the report whole.
	if err := s.c.ReportDataState(ctx, client, rep.DataSeq, 0); errors.Is(err, store.ErrOutOfRange) {
		s.refuse(ctx, w, client, string(manifest.KindData), err)
		return
	} else if err != nil {
		s.fail(w, "report", err)
		return
	}
	if err := s.c.RecordReport(ctx, client, rep); err != nil {
		s.fail(w, "report", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
