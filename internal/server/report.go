package server

import (
	"net/http"

	"github.com/taosync/taosync"
)

// ReportPath is where a client posts its readiness report after a sync
// changed it (every pull carries the report as it was before).
const ReportPath = APIPrefix + "/report"

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
	if err := s.c.RecordReport(ctx, client, rep); err != nil {
		s.fail(w, "report", err)
		return
	}
	// The data bundle it now holds is its acknowledgement, as a pull's.
	if err := s.c.ReportDataState(ctx, client, rep.DataSeq, 0); err != nil {
		s.fail(w, "report", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
