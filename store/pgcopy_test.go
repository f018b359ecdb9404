package store

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
)

// pgTest opens a PostgreSQL store on a fresh schema (skipped without
// SMSFW_TEST_POSTGRES, as the suite's PostgreSQL half).
func pgTest(t *testing.T) *sqlStore {
	t.Helper()
	return openTest(t, pgSchemaDSN(t)).(*sqlStore)
}

func setVar[T any](t *testing.T, p *T, v T) {
	old := *p
	*p = v
	t.Cleanup(func() { *p = old })
}

// A batch split across parallel COPY transactions stores each event once
// and counts it once in the ledger, whichever parts commit: here the
// parts holding stored ids fail and the careful path redoes the batch
// around the part that committed.
func TestCopyParts(t *testing.T) {
	s := pgTest(t)
	setVar(t, &copyParts, 3)
	setVar(t, &copyMinPart, 1)
	ctx := context.Background()
	day := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	evs := make([]*filter.Event, 31)
	for i := range evs {
		evs[i] = &filter.Event{ID: int64(i + 1), Time: day.Add(time.Duration(i) * time.Second), Direction: "mt",
			Peer: fmt.Sprintf("p%d", i%3), Action: "allow", Segments: 1, Leakage: 0.5,
			Text: fmt.Sprintf("parcel %03d waiting", i+1)}
	}
	// 1..12 first; then 1..30, whose first part (1..10) and second (11..20,
	// holding 11 and 12) fail and whose third (21..30) commits; then
	// 31 with 31 twice in its batch (a unique violation inside one part).
	for _, batch := range [][]*filter.Event{evs[:12], evs[:30], {evs[30], evs[29], evs[30]}} {
		if err := s.Insert(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Count(ctx); err != nil || n != 31 {
		t.Fatalf("count %d %v, want 31", n, err)
	}
	rows, err := s.Leakage(ctx, "2026-12-03", "2026-12-03")
	if err != nil {
		t.Fatal(err)
	}
	var msgs int64
	var amount float64
	for _, r := range rows {
		msgs += r.Messages
		amount += r.Amount
	}
	if len(rows) != 3 || msgs != 31 || math.Abs(amount-15.5) > 1e-9 {
		t.Fatalf("ledger %+v: %d messages, %.2f, want 31 and 15.50", rows, msgs, amount)
	}
	for _, ev := range evs {
		if got := searchAll(t, s, Query{Text: fmt.Sprintf("PARCEL %03d", ev.ID)}); len(got) != 1 || got[0] != ev.ID {
			t.Fatalf("text of %d: found %v", ev.ID, got)
		}
	}
}

// The text index's pending list is merged by the store's own connection,
// not left to the inserting backends, and searches find the events before
// and after the merge.
func TestTextMerger(t *testing.T) {
	setVar(t, &textMergeTick, 10*time.Millisecond)
	setVar(t, &textMergeEvents, 100)
	// One transaction: the first merge starts after every row is in the
	// pending list (with two, it may take the first half alone).
	setVar(t, &copyParts, 1)
	s := pgTest(t)
	if s.pg.stop == nil {
		t.Skip("no pg_trgm index: nothing to merge")
	}
	ctx := context.Background()
	var opts string
	if err := s.db.QueryRowContext(ctx, `SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'events_text_trgm'::regclass`).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if opts != "fastupdate=on,gin_pending_list_limit=65536" {
		t.Fatalf("index options %q", opts)
	}
	evs := dataset(500)
	if err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the merger merges the pending list", func() bool {
		return s.pg.merges.Load() > 0
	})
	var pages int64
	if err := s.db.QueryRowContext(ctx, `SELECT gin_clean_pending_list('events_text_trgm'::regclass)`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages != 0 {
		t.Fatalf("%d pending pages left after the merge", pages)
	}
	q := Query{Text: "hello"}
	if got, want := searchAll(t, s, q), expected(evs, q); len(got) != len(want) || len(want) == 0 {
		t.Fatalf("text search found %d events, want %d", len(got), len(want))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A database from before migration 0008 gets the index's new options, and
// keeps its events and its text index.
func TestMigration0008Upgrade(t *testing.T) {
	dsn := pgSchemaDSN(t)
	ctx := context.Background()
	s := openTest(t, dsn).(*sqlStore)
	if err := s.Insert(ctx, dataset(50)); err != nil {
		t.Fatal(err)
	}
	// Back to the schema of 0006: default options, 0008 not applied.
	if _, err := s.db.ExecContext(ctx, `ALTER INDEX events_text_trgm RESET (fastupdate, gin_pending_list_limit)`); err != nil {
		t.Skipf("no pg_trgm index: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = 8`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := openTest(t, dsn).(*sqlStore)
	var opts string
	var v int
	if err := s2.db.QueryRowContext(ctx, `SELECT array_to_string(reloptions, ','), (SELECT max(version) FROM schema_migrations) FROM pg_class WHERE oid = 'events_text_trgm'::regclass`).Scan(&opts, &v); err != nil {
		t.Fatal(err)
	}
	if opts != "fastupdate=on,gin_pending_list_limit=65536" || v != 8 {
		t.Fatalf("after upgrade: options %q, version %d", opts, v)
	}
	if got := searchAll(t, s2, Query{Text: "hello"}); len(got) == 0 {
		t.Fatal("text search finds nothing after the upgrade")
	}
}

// pgPreviousPath makes s write as PostgreSQL's fast path did before the
// parallel parts and the merger (benchmarks): one COPY transaction per
// batch, the pending list merged by the inserting backend every 4 MiB.
func pgPreviousPath(b *testing.B, s *sqlStore) {
	s.stopTextMerger()
	old := copyParts
	copyParts = 1
	b.Cleanup(func() { copyParts = old })
	if _, err := s.db.Exec(`ALTER INDEX events_text_trgm RESET (gin_pending_list_limit)`); err != nil {
		b.Logf("no pg_trgm index: %v", err)
	}
}
