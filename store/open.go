package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for database/sql
	"go.uber.org/zap"
	_ "modernc.org/sqlite" // registers "sqlite" for database/sql; pure Go, no cgo
)

// Open opens (creating if needed) the store at dsn and applies pending
// migrations. A postgres:// or postgresql:// DSN selects PostgreSQL; anything
// else is an SQLite file path (":memory:" for a private in-memory database,
// for tests).
//
// Both dialects go through database/sql (PostgreSQL via pgx's stdlib
// adapter) so that there is one implementation of every query: pgxpool
// would be a little faster but would need a second copy of the code. The
// exception is SQLite's event inserts, on a connection of their own
// (sqlitedirect.go).
func Open(ctx context.Context, dsn string, log *zap.Logger) (Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("store")
	var (
		db  *sql.DB
		d   dialect
		err error
	)
	if IsPostgres(dsn) {
		d = postgresDialect
		db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	} else {
		d = sqliteDialect
		db, err = openSQLite(dsn)
		if err != nil {
			return nil, err
		}
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", d.name, err)
	}
	if err := migrate(ctx, db, &d, log); err != nil {
		db.Close()
		return nil, err
	}
	s := &sqlStore{db: db, rdb: db, d: d, log: log}
	// Which text index there is: SQLite's own file (textindex.go), or the
	// pg_trgm index an optional migration step made.
	textIndex := "none (text search scans)"
	if d.name == "sqlite" {
		// SQLite has one writer at a time; serializing our own writers here
		// is cheaper than letting them spin in the busy handler.
		s.wmu = &sync.Mutex{}
		if path, ok := directPath(dsn); ok {
			// After the migrations, so that its statements see the schema.
			if s.direct, err = openDirect(path); err != nil {
				db.Close()
				return nil, fmt.Errorf("store: open sqlite writer: %w", err)
			}
		}
		if dsn != ":memory:" {
			if err := s.openTextIndex(ctx, dsn); err != nil {
				if s.direct != nil {
					s.direct.close() //nolint:errcheck // failing already
				}
				db.Close()
				return nil, err
			}
			if s.d.text != nil {
				textIndex = "fts5 trigram, " + s.d.text.path
			}
			s.startCheckpointer()
		}
	} else {
		// smsfw's trigram postings (pgtrgm.go); pg_trgm's index only until
		// the events stored before migration 0009 are in them.
		textIndex = "trigram postings"
		if s.hasGIN(ctx) {
			s.startTextMerger("events_text_trgm")
		}
		var building bool
		if building, err = s.startBackfill(ctx); err == nil && !building {
			s.pg.trgmReady.Store(true)
		} else if building {
			textIndex = "trigram postings (building; pg_trgm meanwhile)"
		}
		if err != nil {
			s.stopTextMerger()
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", d.name, err)
	}
	insert := "careful (multi-row, skipping stored ids)"
	switch {
	case s.direct != nil:
		insert = "direct (single-row, own connection)"
	case d.name == "postgres":
		insert = "copy"
	}
	log.Info("opened event store", zap.String("dialect", d.name), zap.String("text_index", textIndex), zap.String("insert", insert))
	return s, nil
}

// The checkpointer looks every checkpointTick and checkpoints once
// checkpointEvents events were stored since the last checkpoint (about the
// 64 MiB of WAL at which SQLite's own automatic checkpoint used to run, so
// the same pages are not copied again and again), or checkpointIdle has
// passed (the other writes: MO queue, quarantine decisions, audit).
var (
	checkpointTick         = time.Second
	checkpointEvents int64 = 20_000
	checkpointIdle         = 30 * time.Second
)

// startCheckpointer runs PASSIVE checkpoints on a connection of its own
// until Close: it copies what readers no longer need from the WAL into the
// database and syncs it, beside the writer, which goes on appending (a
// PASSIVE checkpoint takes no write lock). With SQLite's automatic
// checkpoint the committing writer did that work itself (~5% of its CPU in
// the profile, and the fsync).
func (s *sqlStore) startCheckpointer() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopCkpt, s.ckptDone = cancel, make(chan struct{})
	go func() {
		defer close(s.ckptDone)
		t := time.NewTicker(checkpointTick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if s.walEvents.Load() < checkpointEvents && time.Since(last) < checkpointIdle {
				continue
			}
			s.walEvents.Store(0)
			last = time.Now()
			if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && ctx.Err() == nil {
				s.log.Warn("wal checkpoint failed", zap.Error(err))
			}
		}
	}()
}

// openSQLite sets the pragmas on every connection of the pool (modernc's
// _pragma DSN parameters): WAL so readers never block the writer,
// synchronous=NORMAL (durable at checkpoints; a power loss may lose the
// last transactions but never corrupts), a busy timeout for writers from
// other processes, and BEGIN IMMEDIATE so that a write transaction takes
// the write lock up front instead of failing on upgrade.
func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("store: empty DSN")
	}
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	if path == ":memory:" {
		// Each connection to ":memory:" is its own database: keep one.
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(4)
	}
	db.SetConnMaxLifetime(0)
	return db, nil
}

// IsPostgres reports whether dsn selects PostgreSQL (postgres:// or
// postgresql://); anything else is an SQLite path.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// sqlitePragmas are every SQLite connection's pragmas, the pool's and the
// direct writer's (sqlitedirect.go).
func sqlitePragmas(memory bool) []string {
	p := []string{
		"busy_timeout(10000)",
		"synchronous(NORMAL)",
		"foreign_keys(1)",
		"temp_store(MEMORY)",
		"cache_size(-32768)", // 32 MiB per connection
		// Checkpoints run on their own goroutine (checkpointer), off the
		// writer's path; the writer checkpoints itself only past 256 MiB
		// of WAL, should that goroutine fall behind.
		"wal_autocheckpoint(65536)",
	}
	if !memory {
		p = append(p, "journal_mode(WAL)", "mmap_size(268435456)")
	}
	return p
}

// sqliteDSN is path with the connection pragmas.
func sqliteDSN(path string) string {
	params := []string{"_txlock=immediate"}
	for _, p := range sqlitePragmas(path == ":memory:") {
		params = append(params, "_pragma="+p)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + strings.Join(params, "&")
}

// openTextIndex opens SQLite's text index (textindex.go) and the reading
// pool that attaches it.
func (s *sqlStore) openTextIndex(ctx context.Context, dsn string) error {
	t, err := openText(ctx, s, dsn)
	if err != nil || t == nil {
		return err
	}
	rdb, err := openReader(dsn, t.path)
	if err == nil {
		err = rdb.PingContext(ctx)
	}
	if err != nil {
		t.close(ctx)
		return err
	}
	s.d.text, s.rdb = t, rdb
	return nil
}
