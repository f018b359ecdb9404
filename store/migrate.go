package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change: NNNN_name.sql (shared, with type
// macros) plus the optional NNNN_name.sqlite.sql / NNNN_name.postgres.sql.
type migration struct {
	version int
	name    string
	steps   []step
}

// step is one statement. Optional steps (marked "-- +step optional") may fail
// (an extension that cannot be created, an SQLite build without FTS5): they
// run inside a savepoint, and their failure is logged, not fatal.
type step struct {
	sql      string
	optional bool
}

func loadMigrations(d *dialect) ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]*migration{}
	for _, f := range files {
		base := strings.TrimSuffix(strings.TrimPrefix(f, "migrations/"), ".sql")
		which := ""
		if i := strings.IndexByte(base, '.'); i >= 0 {
			base, which = base[:i], base[i+1:]
		}
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration file %s: want NNNN_name.sql", f)
		}
		m := byVersion[v]
		if m == nil {
			m = &migration{version: v, name: name}
			byVersion[v] = m
		}
		// Another dialect's file: the version exists (and is recorded as
		// applied) on this dialect too, with nothing to do, so both
		// dialects record the same versions.
		if which != "" && which != d.name {
			continue
		}
		body, err := migrationFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		// The shared file comes first: dialect files index or extend its
		// tables. Glob returns names sorted, and "0001_init.sql" sorts after
		// "0001_init.postgres.sql", so order explicitly.
		steps := parseSteps(d.types.Replace(string(body)))
		if which == "" {
			m.steps = append(steps, m.steps...)
		} else {
			m.steps = append(m.steps, steps...)
		}
	}
	var ms []migration
	for _, m := range byVersion {
		ms = append(ms, *m)
	}
	// Versions ascend; a number may be missing (branches that each took
	// one are merged in any order): each version is applied once, by
	// number, whatever was applied before it.
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// parseSteps splits a file at "-- +step" lines; text before the first
// marker is commentary. Statements are not split at semicolons because
// trigger bodies contain them.
func parseSteps(body string) []step {
	var steps []step
	var cur *step
	var b strings.Builder
	flush := func() {
		if cur != nil {
			cur.sql = strings.TrimSpace(b.String())
			if cur.sql != "" {
				steps = append(steps, *cur)
			}
		}
		b.Reset()
	}
	for line := range strings.Lines(body) {
		t := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(t, "-- +step"); ok {
			flush()
			cur = &step{optional: strings.TrimSpace(rest) == "optional"}
			continue
		}
		if cur != nil {
			b.WriteString(line)
		}
	}
	flush()
	return steps
}

// migrate applies the pending migrations in one transaction, so a failed
// migration leaves the schema as it was. Concurrent Opens are serialized:
// SQLite by BEGIN IMMEDIATE (the DSN's _txlock), PostgreSQL by an advisory
// lock held until commit.
func migrate(ctx context.Context, db *sql.DB, d *dialect, log *zap.Logger) error {
	ms, err := loadMigrations(d)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if d.name == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7378577365)`); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, d.types.Replace(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    {{INT64}} PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at {{INT64}} NOT NULL)`)); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	maxApplied := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("store: migrate: %w", err)
		}
		applied[v] = true
		maxApplied = max(maxApplied, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	// A newer binary migrated this database: this one would misread it.
	if latest := ms[len(ms)-1].version; maxApplied > latest {
		return fmt.Errorf("store: database schema version %d is newer than this build's %d", maxApplied, latest)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		for i, s := range m.steps {
			if !s.optional {
				if _, err := tx.ExecContext(ctx, s.sql); err != nil {
					return fmt.Errorf("store: migration %04d_%s step %d: %w", m.version, m.name, i+1, err)
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, "SAVEPOINT optional_step"); err != nil {
				return fmt.Errorf("store: migrate: %w", err)
			}
			if _, err := tx.ExecContext(ctx, s.sql); err != nil {
				log.Warn("optional migration step failed; continuing without it",
					zap.Int("version", m.version), zap.Int("step", i+1), zap.Error(err))
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT optional_step"); err != nil {
					return fmt.Errorf("store: migrate: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT optional_step"); err != nil {
				return fmt.Errorf("store: migrate: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		log.Info("applied migration", zap.Int("version", m.version), zap.String("name", m.name))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", err)
	}
	return nil
}
