package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/taosync/taosync/internal/errmsg"
)

// DefaultBodyTimeout bounds the time to read a small request body (a token
// request, a pull): such a body is sent at once, and one trickled a byte a
// second would hold a connection and a goroutine for hours.
const DefaultBodyTimeout = 30 * time.Second

// bodyDeadline makes reading the request's body fail after the server's
// BodyTimeout. net/http lifts the deadline once the body is read to its
// end (it reads on in the background, to notice a client that goes away),
// and sets its own for the next request on the connection.
func (s *Server) bodyDeadline(w http.ResponseWriter) {
	// A writer that cannot set deadlines (a test's recorder) has no
	// connection to hold.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.BodyTimeout))
}

// isTimeout reports whether a read failed on its deadline (a net.Error
// whose Timeout() is true).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// decodeJSON reads a request's JSON body into v: one value, no field v does
// not have, nothing after it but white space, read within the body timeout
// and the JSON body limit. It answers the request itself when it fails.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	s.bodyDeadline(w)
	err := dec.Decode(v)
	if err == nil {
		// Nothing but white space may follow the value.
		switch _, err = dec.Token(); {
		case err == io.EOF:
			return true
		case err == nil || isSyntax(err):
			err = errors.New("data after the JSON value")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
	case isTimeout(err):
		writeError(w, http.StatusRequestTimeout, "request body not received in time")
	default:
		writeError(w, http.StatusBadRequest, errmsg.Short("bad request body: "+err.Error()))
	}
	return false
}

func isSyntax(err error) bool {
	var syntax *json.SyntaxError
	return errors.As(err, &syntax)
}
