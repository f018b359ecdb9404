package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"
)

// The suite runs against every dialect: SQLite always, PostgreSQL when
// SMSFW_TEST_POSTGRES holds a DSN. Without it the PostgreSQL half skips,
// except under CI=true, where a missing database is a failure (.ci/run
// starts one).
const pgEnv = "SMSFW_TEST_POSTGRES"

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

var pgExtOnce sync.Once

// pgSchemaDSN gives each test its own schema in the test database (dropped
// afterwards), so tests neither see each other's rows nor need their own
// database. pg_trgm goes in public once: an extension lives in one schema
// per database, and the test schemas find it on their search_path.
func pgSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must provide a PostgreSQL database", pgEnv)
		}
		t.Skipf("%s not set: PostgreSQL tests skipped", pgEnv)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer db.Close()
	pgExtOnce.Do(func() {
		if _, err := db.Exec(`CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public`); err != nil {
			t.Logf("pg_trgm unavailable (text search will scan): %v", err)
		}
	})
	var b [6]byte
	rand.Read(b[:])
	schema := "smsfw_test_" + hex.EncodeToString(b[:])
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("postgres: %s is not a URL: %v", pgEnv, err)
	}
	v := u.Query()
	v.Set("search_path", schema+",public")
	u.RawQuery = v.Encode()
	return u.String()
}
