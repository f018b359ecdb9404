package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
)

// textQueries are substring searches whose answers the text index must
// reproduce exactly (against matches, the reference semantics).
var textQueries = []string{"hello", "HELLO WORLD", "привет", "Ваш код", "50% off", "_only", "*deal*", "[promo]",
	`"hi"`, `' OR 1=1`, "NEAR(x)", "ab", "b", "http://bank-secure", "no such text", "again"}

func checkTextSearches(t *testing.T, s Store, evs []*filter.Event, when string) {
	t.Helper()
	for _, text := range textQueries {
		q := Query{Text: text}
		if got, want := searchAll(t, s, q), expected(evs, q); !slices.Equal(got, want) {
			t.Errorf("%s: text %q: got %v, want %v", when, text, got, want)
		}
	}
}

// holdText makes the text writer fail every transaction while held is
// true (the events stay listed in text_pending).
func holdText(t *testing.T) *atomic.Bool {
	var held atomic.Bool
	textApplyHook = func() error {
		if held.Load() {
			return errors.New("held by the test")
		}
		return nil
	}
	t.Cleanup(func() { textApplyHook = nil })
	return &held
}

func ftsRows(t *testing.T, ti *textIndex) int {
	t.Helper()
	var n int
	if err := ti.db.QueryRow(`SELECT count(*) FROM events_fts`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitIndexed(t *testing.T, s Store) *textIndex {
	t.Helper()
	ti := s.(*sqlStore).d.text
	if ti == nil {
		t.Fatal("no text index")
	}
	testutil.Eventually(t, 10*time.Second, "the text index catches up", func() bool {
		var maxSeq int64
		s.(*sqlStore).db.QueryRow(`SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'text_pending'), 0)`).Scan(&maxSeq)
		return ti.ready.Load() && ti.applied.Load() == maxSeq && ti.lag.Load() == 0
	})
	return ti
}

// A text search finds the events the text index has not applied yet (read
// from text_pending), then the same from the index; a restart catches up.
func TestTextIndexTailAndRestart(t *testing.T) {
	held := holdText(t)
	path := filepath.Join(t.TempDir(), "e.db")
	s := openTest(t, path)
	ti := waitIndexed(t, s)
	held.Store(true)
	ctx := context.Background()
	evs := dataset(60)
	if err := s.Insert(ctx, evs[:30]); err != nil {
		t.Fatal(err)
	}
	if n := ftsRows(t, ti); n != 0 {
		t.Fatalf("index has %d rows while held", n)
	}
	checkTextSearches(t, s, evs[:30], "not indexed")

	held.Store(false)
	ti = waitIndexed(t, s)
	if n := ftsRows(t, ti); n != 30-countEmpty(evs[:30]) {
		t.Errorf("index has %d rows", n)
	}
	checkTextSearches(t, s, evs[:30], "indexed")
	// The next batch deletes the applied text_pending rows.
	if err := s.Insert(ctx, evs[30:40]); err != nil {
		t.Fatal(err)
	}
	var pending int
	s.(*sqlStore).db.QueryRow(`SELECT count(*) FROM text_pending WHERE seq <= ?`, ti.applied.Load()-1).Scan(&pending)
	if pending != 0 {
		t.Errorf("%d applied text_pending rows kept", pending)
	}

	// Stored while held, then closed: the next Open catches up.
	held.Store(true)
	if err := s.Insert(ctx, evs[40:]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Retain(ctx, t0.Add(2*time.Minute), 0); err != nil { // deletes among indexed and not indexed
		t.Fatal(err)
	}
	s.Close()
	held.Store(false)
	s = openTest(t, path)
	ti = waitIndexed(t, s)
	left := slices.DeleteFunc(slices.Clone(evs), func(ev *filter.Event) bool {
		return ev.Time.Before(t0.Add(2*time.Minute)) && ev.Quarantine != filter.QuarantineHeld
	})
	checkTextSearches(t, s, left, "after restart")
	if n := ftsRows(t, ti); n != len(left)-countEmpty(left) {
		t.Errorf("index has %d rows, want %d", n, len(left)-countEmpty(left))
	}
}

func countEmpty(evs []*filter.Event) int {
	n := 0
	for _, ev := range evs {
		if ev.Text == "" {
			n++
		}
	}
	return n
}

// A missing text database, or one from another events database, is
// rebuilt from the events.
func TestTextIndexRebuild(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.db")
	ctx := context.Background()
	evs := dataset(50)
	s := openTest(t, path)
	if err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, s)
	s.Close()

	for _, f := range []string{"", "-wal", "-shm"} {
		os.Remove(textPath(path) + f)
	}
	s = openTest(t, path)
	ti := waitIndexed(t, s)
	checkTextSearches(t, s, evs, "rebuilt after removal")
	if n := ftsRows(t, ti); n != len(evs)-countEmpty(evs) {
		t.Errorf("rebuilt index has %d rows", n)
	}
	s.Close()

	// Another events database's text index: its generation differs.
	other := filepath.Join(dir, "other.db")
	o := openTest(t, other)
	if err := o.Insert(ctx, dataset(3)); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, o)
	o.Close()
	for _, f := range []string{"", "-wal", "-shm"} {
		os.Remove(textPath(path) + f)
		if b, err := os.ReadFile(textPath(other) + f); err == nil {
			os.WriteFile(textPath(path)+f, b, 0o600)
		}
	}
	s = openTest(t, path)
	ti = waitIndexed(t, s)
	checkTextSearches(t, s, evs, "rebuilt after a foreign file")
	if n := ftsRows(t, ti); n != len(evs)-countEmpty(evs) {
		t.Errorf("rebuilt index has %d rows", n)
	}
	s.Close()

	// A damaged file.
	if err := os.WriteFile(textPath(path), []byte("not a database, not at all, really not"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(textPath(path) + "-wal")
	os.Remove(textPath(path) + "-shm")
	s = openTest(t, path)
	waitIndexed(t, s)
	checkTextSearches(t, s, evs, "rebuilt after damage")
}

// A database of schema version 6 (text index in the events database)
// upgrades: the old index is dropped, the new one built from the events.
func TestMigrateFrom0006(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.db")
	ctx := context.Background()
	db, err := openSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(ctx, db, &sqliteDialect, zaptest.NewLogger(t), 6); err != nil {
		t.Fatal(err)
	}
	evs := dataset(40)
	old := &sqlStore{db: db, rdb: db, d: sqliteDialect, log: zaptest.NewLogger(t), carefulOnly: true}
	if err := old.Insert(ctx, evs); err != nil { // no text index: the rows only
		t.Fatal(err)
	}
	for _, ev := range evs { // what version 6 indexed
		if ev.Text != "" {
			if _, err := db.Exec(`INSERT INTO events_fts (rowid, text) VALUES (?, ?)`, ev.ID, foldText(ev.Text)); err != nil {
				t.Fatal(err)
			}
		}
	}
	db.Close()

	s := openTest(t, path)
	ss := s.(*sqlStore)
	var v, n int
	ss.db.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v)
	ss.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'events_fts%'`).Scan(&n)
	if v < 7 || n != 0 { // 7 moved the text index out; later versions may follow
		t.Errorf("version %d, %d events_fts tables left in the events database", v, n)
	}
	ti := waitIndexed(t, s)
	checkTextSearches(t, s, evs, "upgraded")
	if n := ftsRows(t, ti); n != len(evs)-countEmpty(evs) {
		t.Errorf("index has %d rows", n)
	}
	// Retention reaches the new index.
	if _, err := s.Retain(ctx, time.Time{}, 10); err != nil {
		t.Fatal(err)
	}
	left := searchAll(t, s, Query{})
	testutil.Eventually(t, 5*time.Second, "retention deletes from the text index", func() bool {
		return ftsRows(t, ti) <= len(left)
	})
}

func TestTrigramQuery(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"ab", "", false},
		{"Привет", `"при" AND "рив" AND "иве" AND "вет"`, true},
		{`a"bc`, `"a""b" AND """bc"`, true},
		{"aaaa", `"aaa"`, true},
		{"abcdefghijklmnopqrstuvwxyz", `"abc" AND "cde" AND "efg" AND "ghi" AND "ijk" AND "klm" AND "mno" AND "opq" AND "qrs" AND "stu" AND "uvw" AND "xyz"`, true},
	} {
		got, ok := trigramQuery(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("trigramQuery(%q) = %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// Two stores on one SQLite file (two processes on one host): each text
// writer applies what the other's events writer stored, once.
func TestTextIndexTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.db")
	a, b := openTest(t, path), openTest(t, path)
	ctx := context.Background()
	evs := dataset(80)
	for i := 0; i < len(evs); i += 10 {
		s := a
		if i%20 == 10 {
			s = b
		}
		if err := s.Insert(ctx, evs[i:i+10]); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []Store{a, b} {
		ti := waitIndexed(t, s)
		checkTextSearches(t, s, evs, "two processes")
		if n := ftsRows(t, ti); n != len(evs)-countEmpty(evs) {
			t.Errorf("index has %d rows, want %d", n, len(evs)-countEmpty(evs))
		}
	}
}

// TestUpgradeTime measures the upgrade of a copy of a version 6 database
// (SMSFW_UPGRADE_DB, e.g. a 1M-event fixture built by a previous build):
// Open (migration 0007) and the text index's rebuild. Not part of go test
// without the variable.
func TestUpgradeTime(t *testing.T) {
	path := os.Getenv("SMSFW_UPGRADE_DB")
	if path == "" {
		t.Skip("SMSFW_UPGRADE_DB not set")
	}
	start := time.Now()
	s := openTest(t, path)
	opened := time.Since(start)
	ti := s.(*sqlStore).d.text
	testutil.Eventually(t, 30*time.Minute, "the text index is rebuilt", ti.ready.Load)
	n, _ := s.Count(context.Background())
	t.Logf("%d events: Open (migration) %s, text index rebuilt %s later", n, opened.Round(time.Millisecond), (time.Since(start) - opened).Round(time.Second))
}

// A text index that keeps failing is set aside: searches scan and Insert
// does not wait for it; it comes back when writes succeed again.
func TestTextIndexFailing(t *testing.T) {
	held := holdText(t)
	tick, lag := textCatchUpTick, maxTextLag
	textCatchUpTick, maxTextLag = 20*time.Millisecond, 5
	t.Cleanup(func() { textCatchUpTick, maxTextLag = tick, lag })
	s := openTest(t, filepath.Join(t.TempDir(), "e.db"))
	ti := waitIndexed(t, s)
	held.Store(true)
	ctx := context.Background()
	evs := dataset(40)
	if err := s.Insert(ctx, evs[:20]); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the failing index is set aside", func() bool { return !ti.ready.Load() })
	checkTextSearches(t, s, evs[:20], "index failing")
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Insert(ictx, evs[20:]); err != nil { // lag 40 > 5: would wait if the index were on
		t.Fatal(err)
	}
	held.Store(false)
	waitIndexed(t, s)
	checkTextSearches(t, s, evs, "index back")
	if n := ftsRows(t, ti); n != len(evs)-countEmpty(evs) {
		t.Errorf("index has %d rows", n)
	}
}
