package store_test

import (
	"testing"

	"github.com/taosync/taosync/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster the tests of central started.
func TestMain(m *testing.M) { pgtest.Main(m) }
