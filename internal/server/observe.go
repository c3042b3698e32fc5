package server

import "time"

// Observer is told what the server does, for its metrics.
type Observer interface {
	// Prepared: a data bundle for a pull took d to prepare.
	Prepared(d time.Duration)
	// ResultsReceived: a result bundle brought these execution revisions.
	ResultsReceived(received, duplicate, conflict int64)
}

type noObserver struct{}

func (noObserver) Prepared(time.Duration)              {}
func (noObserver) ResultsReceived(int64, int64, int64) {}
