package testutil

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// PostgresEnv names the DSN of the PostgreSQL test database (.ci/run
// starts one on 127.0.0.1:55432).
const PostgresEnv = "SMSFW_TEST_POSTGRES"

var pgExtOnce sync.Once

// PostgresSchema returns a DSN of a fresh schema (prefix plus random hex)
// of the test database, dropped after the test, so tests neither see each
// other's rows nor need their own database. pg_trgm goes in public once
// (an extension lives in one schema per database; the test schemas find
// it on their search_path). Without PostgresEnv the test skips, except
// under CI=true, where that is a failure.
func PostgresSchema(t testing.TB, prefix string) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must provide a PostgreSQL database", PostgresEnv)
		}
		t.Skipf("%s not set: PostgreSQL tests skipped", PostgresEnv)
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
	schema := prefix + hex.EncodeToString(b[:])
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("postgres: %s is not a URL: %v", PostgresEnv, err)
	}
	v := u.Query()
	v.Set("search_path", schema+",public")
	u.RawQuery = v.Encode()
	return u.String()
}
