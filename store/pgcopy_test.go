package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
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

// withGIN gives s pg_trgm's index (migration 0007, options of 0008), as a
// database upgraded from version 8 has it until its backfill is done, or
// skips the test without pg_trgm.
func withGIN(t *testing.T, s *sqlStore) {
	t.Helper()
	if _, err := s.db.Exec(`CREATE INDEX events_text_trgm ON events USING gin (text gin_trgm_ops) WITH (fastupdate = on, gin_pending_list_limit = 65536)`); err != nil {
		t.Skipf("no pg_trgm: %v", err)
	}
}

// While pg_trgm's index remains (an upgrade's backfill under way), its
// pending list is merged by the store's own connection, not left to the
// inserting backends, and searches find the events before and after the
// merge.
func TestTextMerger(t *testing.T) {
	setVar(t, &textMergeTick, 10*time.Millisecond)
	setVar(t, &textMergeEvents, 100)
	// One transaction: the first merge starts after every row is in the
	// pending list (with two, it may take the first half alone).
	setVar(t, &copyParts, 1)
	s := pgTest(t)
	withGIN(t, s)
	s.pg.trgmReady.Store(false) // searches by ILIKE alone, as during a backfill
	s.startTextMerger("events_text_trgm")
	ctx := context.Background()
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

// A new database has the trigram postings and no pg_trgm index; every
// stored event has its postings as soon as Insert returns (fast and
// careful paths).
func TestTextPostingsNew(t *testing.T) {
	s := pgTest(t)
	if !s.pg.trgmReady.Load() || s.hasGIN(context.Background()) || s.pg.stop != nil {
		t.Fatalf("new database: postings ready %v, pg_trgm index %v, merger %v", s.pg.trgmReady.Load(), s.hasGIN(context.Background()), s.pg.stop != nil)
	}
}

// A version 8 database with events (pg_trgm's index, no postings) is
// upgraded: migration 0009, then the backfill indexes the stored events in
// chunks and drops pg_trgm's index; searches answer the same before,
// during and after, and events stored meanwhile are found too.
func TestMigration0009Upgrade(t *testing.T) {
	setVar(t, &backfillChunk, 70)
	dsn := pgSchemaDSN(t)
	ctx := context.Background()
	s := openTest(t, dsn).(*sqlStore)
	old := dataset(500)
	if err := s.Insert(ctx, old); err != nil {
		t.Fatal(err)
	}
	// Back to version 8: pg_trgm's index with 0008's options, no postings.
	withGIN(t, s)
	for _, q := range []string{`DROP TABLE event_trgm, event_trgm_backfill`, `DELETE FROM schema_migrations WHERE version = 9`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s2 := openTest(t, dsn).(*sqlStore)
	fresh := dataset(600)[500:]
	for _, ev := range fresh {
		ev.ID += 1_000_000
	}
	if err := s2.Insert(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	all := append(append([]*filter.Event{}, old...), fresh...)
	queries := []Query{{Text: "hello"}, {Text: "HELLO"}, {Text: "ПРИВЕТ"}, {Text: "no such text"}, {Text: "lo w"}}
	check := func(when string) {
		t.Helper()
		for _, q := range queries {
			got, want := searchAll(t, s2, q), expected(all, q)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: %q found %v, want %v", when, q.Text, got, want)
			}
		}
	}
	check("during the backfill")
	testutil.Eventually(t, 30*time.Second, "the backfill is done", s2.pg.trgmReady.Load)
	var v, n, parts int
	if err := s2.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM schema_migrations WHERE version = 9), (SELECT count(*) FROM event_trgm_backfill), (SELECT count(DISTINCT lo) FROM event_trgm)`).Scan(&v, &n, &parts); err != nil {
		t.Fatal(err)
	}
	if v != 1 || n != 0 || s2.hasGIN(ctx) || parts < 500/70 {
		t.Fatalf("after the backfill: migration 9 applied %d times, backfill rows %d, pg_trgm index %v, %d parts", v, n, s2.hasGIN(ctx), parts)
	}
	check("after the backfill")
}

// Retention deletes the postings of the events it deletes, keeps those of
// the events it keeps (a held one among them), and searches stay exact.
func TestTextPostingsRetention(t *testing.T) {
	s := pgTest(t)
	ctx := context.Background()
	evs := dataset(300)
	for i := 0; i < len(evs); i += 50 {
		if err := s.Insert(ctx, evs[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	// The oldest event stays, held in quarantine.
	if _, err := s.db.ExecContext(ctx, `UPDATE events SET quarantine = 'held' WHERE id = $1`, evs[0].ID); err != nil {
		t.Fatal(err)
	}
	rows := func() (n int) {
		t.Helper()
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM event_trgm`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := rows()
	cut := evs[200].Time
	if _, err := s.Retain(ctx, cut, 0); err != nil {
		t.Fatal(err)
	}
	after := rows()
	if after >= before || after == 0 {
		t.Fatalf("retention: %d posting rows before, %d after", before, after)
	}
	var kept []*filter.Event
	for _, ev := range evs {
		if !ev.Time.Before(cut) || ev.ID == evs[0].ID || ev.Quarantine == filter.QuarantineHeld {
			kept = append(kept, ev)
		}
	}
	for _, q := range []Query{{Text: "hello"}, {Text: "ПРИВЕТ"}, {Text: "bank-secure"}, {Text: "again"}} {
		if got, want := searchAll(t, s, q), expected(kept, q); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after retention %q found %v, want %v", q.Text, got, want)
		}
	}
	// Everything gone: no posting left.
	if _, err := s.db.ExecContext(ctx, `UPDATE events SET quarantine = ''`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Retain(ctx, evs[len(evs)-1].Time.Add(time.Second), 0); err != nil {
		t.Fatal(err)
	}
	if n := rows(); n != 0 {
		t.Fatalf("%d posting rows left with no event", n)
	}
}

// pgPreviousPath makes s write as PostgreSQL's fast path did before the
// trigram postings (benchmarks): pg_trgm's GIN index, its pending list
// merged by the store's own connection, two parallel COPY parts.
func pgPreviousPath(b *testing.B, s *sqlStore) {
	if _, err := s.db.Exec(`CREATE INDEX events_text_trgm ON events USING gin (text gin_trgm_ops) WITH (fastupdate = on, gin_pending_list_limit = 65536)`); err != nil {
		b.Fatalf("no pg_trgm index: %v", err)
	}
	s.pg.noPostings = true
	s.startTextMerger("events_text_trgm")
	old := copyParts
	copyParts = 2
	b.Cleanup(func() { copyParts = old })
}

// The postings list each event under every trigram of its text as stored
// and folded as SQLite's index folds it (foldText), once, and a query's
// trigrams are a subset of those of every text containing it.
func TestMakePostings(t *testing.T) {
	texts := []string{"Hello World", "ПРИВЕТ мир", "bad \xff\xfe utf8", "nul\x00byte", "aaaaaa", "ab", "", "ǅungla İstanbul ΣΊΣΥΦΟΣ"}
	var evs []*filter.Event
	for i, text := range texts {
		evs = append(evs, &filter.Event{ID: int64(100 - 7*i), Text: text})
	}
	evs = append(evs, evs[0]) // an id twice in a batch
	p := makePostings(evs)
	got := map[int64][]int64{}
	for i, k := range p.tris {
		ids, err := decodePosting(p.lo, p.ids[i], nil)
		if err != nil || len(ids) != int(p.ns[i]) {
			t.Fatalf("posting %d: %v %v (n %d)", k, ids, err, p.ns[i])
		}
		got[k] = ids
	}
	want := map[int64][]int64{}
	for i := len(texts) - 1; i >= 0; i-- { // ascending ids
		rs := []rune(foldText(texts[i]))
		seen := map[int64]bool{}
		for j := 0; j+3 <= len(rs); j++ {
			if k := trgmKey(rs[j], rs[j+1], rs[j+2]); !seen[k] {
				seen[k] = true
				want[k] = append(want[k], evs[i].ID)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || p.lo != evs[len(texts)-1].ID || p.hi != evs[0].ID {
		t.Fatalf("postings %v [%d, %d], want %v", got, p.lo, p.hi, want)
	}
	for _, text := range texts {
		if validString("text", text) != nil {
			continue // refused as a query
		}
		for _, sub := range []string{text, strings.ToUpper(text)} {
			for _, k := range queryTrigrams(sub) {
				if _, ok := want[k]; !ok {
					t.Fatalf("query %q: trigram %x in no posting", sub, k)
				}
			}
		}
	}
}

// copyReader gives the same bytes whatever the size of the reads: the
// header, each row once, the trailer.
func TestCopyReaderChunks(t *testing.T) {
	evs := dataset(300)
	evs[7] = fullEvent(8)
	evs[9].Raw, evs[9].DecidedAt = nil, nil
	want := []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	for _, ev := range evs {
		want = appendCopyRow(want, ev)
	}
	want = append(want, 0xff, 0xff)
	for _, size := range []int{1, 7, 100, 4096, 65531, 1 << 20} {
		r := &copyReader{evs: evs}
		var got []byte
		p := make([]byte, size)
		for {
			n, err := r.Read(p)
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil || n == 0 {
				t.Fatalf("size %d: read %d, %v", size, n, err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("size %d: %d bytes, want %d", size, len(got), len(want))
		}
	}
}
