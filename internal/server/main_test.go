package server_test

import (
	"testing"

	"github.com/taosync/taosync/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster the tests on central's engines
// started.
func TestMain(m *testing.M) { pgtest.Main(m) }
