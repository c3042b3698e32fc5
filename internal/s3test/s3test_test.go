package s3test

import (
	"strings"
	"testing"
)

// TestMissingBinary: a versitygw that is not there is an error that names
// it, not a skip.
func TestMissingBinary(t *testing.T) {
	t.Setenv("TAOSYNC_VERSITYGW", "/nonexistent/versitygw")
	_, err := Start(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "TAOSYNC_VERSITYGW") {
		t.Fatalf("start without versitygw: %v", err)
	}
}

// TestRestart: a server stopped and started again keeps its bucket's
// objects, on the same endpoint.
func TestRestart(t *testing.T) {
	s := ForTest(t)
	s.Stop()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := s.createBucket(); err == nil || !strings.Contains(err.Error(), "BucketAlready") {
		t.Fatalf("bucket after restart: %v, want it there already", err)
	}
}
