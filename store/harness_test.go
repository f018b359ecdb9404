package store

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/internal/testutil"
)

// The suite runs against every dialect: SQLite always, PostgreSQL when
// SMSFW_TEST_POSTGRES holds a DSN. Without it the PostgreSQL half skips,
// except under CI=true, where a missing database is a failure (.ci/run
// starts one).

type backend struct {
	name string
	open func(t testing.TB) Store
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t testing.TB) Store {
			return openTest(t, filepath.Join(t.TempDir(), "events.db"))
		}},
		{"postgres", func(t testing.TB) Store {
			return openTest(t, pgSchemaDSN(t))
		}},
	}
}

// eachStore runs f as a subtest per dialect, each on a fresh database.
func eachStore(t *testing.T, f func(t *testing.T, s Store)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f(t, b.open(t))
		})
	}
}

func openTest(t testing.TB, dsn string) Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pgSchemaDSN gives each test its own schema in the test database
// (testutil.PostgresSchema).
func pgSchemaDSN(t testing.TB) string { return testutil.PostgresSchema(t, "smsfw_test_") }
