package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
)

// Migration 0012: the columns leading the events' b-trees compare
// bytewise, on a new database and on an upgraded one, and the searches on
// them find the same events under either collation.
func TestMigration0012Collation(t *testing.T) {
	dsn := pgSchemaDSN(t)
	ctx := context.Background()
	s := openTest(t, dsn).(*sqlStore)
	collations := func(s *sqlStore) string {
		t.Helper()
		var got string
		err := s.db.QueryRowContext(ctx, `SELECT string_agg(a.attname || '=' || coalesce(c.collname, ''), ',' ORDER BY a.attname)
			FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation
			WHERE a.attrelid = 'events'::regclass AND a.attname IN ('sender', 'dest', 'rule_id', 'peer', 'quarantine')`).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	const want = "dest=C,peer=C,quarantine=C,rule_id=C,sender=C"
	if got := collations(s); got != want {
		t.Fatalf("new database: %s, want %s", got, want)
	}
	var evs []*filter.Event
	for i := range 60 {
		evs = append(evs, &filter.Event{ID: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Second),
			Sender: []string{"BANK", "bank", "Bänk", "ÉTAT"}[i%4], Dest: fmt.Sprintf("4477%d", i%5), RuleID: []string{"r.a", "R.A", "r.b"}[i%3],
			Peer: []string{"p1", "P1"}[i%2], Quarantine: []string{"", "held"}[i%2], Text: "x"})
	}
	if err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	queries := []Query{{Sender: "BANK"}, {Sender: "Bänk"}, {Sender: "ÉTAT"}, {Dest: "44773"}, {RuleID: "R.A"}, {Peer: "p1"}, {Quarantine: "held"}, {Sender: "bank", Peer: "P1"}}
	found := func(s *sqlStore) string {
		t.Helper()
		var out string
		for _, q := range queries {
			out += fmt.Sprint(searchAll(t, s, q)) + ";"
		}
		return out
	}
	after := found(s)
	// Back to version 11: the database's collation.
	for _, q := range []string{`ALTER TABLE events ALTER COLUMN sender TYPE TEXT COLLATE "default", ALTER COLUMN dest TYPE TEXT COLLATE "default",
		ALTER COLUMN rule_id TYPE TEXT COLLATE "default", ALTER COLUMN peer TYPE TEXT COLLATE "default", ALTER COLUMN quarantine TYPE TEXT COLLATE "default"`,
		`DELETE FROM schema_migrations WHERE version = 12`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if got := collations(s); got == want {
		t.Fatal("not reverted")
	}
	// New connections: pgx's cached statements describe the old columns
	// ("cached plan must not change result type", once per connection).
	s.db.SetMaxIdleConns(0)
	s.db.SetMaxIdleConns(8)
	if before := found(s); before != after {
		t.Fatalf("found %s under the database's collation, %s under C", before, after)
	}
	s.Close()
	s2 := openTest(t, dsn).(*sqlStore)
	if got := collations(s2); got != want {
		t.Fatalf("upgraded database: %s, want %s", got, want)
	}
	if got := found(s2); got != after {
		t.Fatalf("upgraded: found %s, want %s", got, after)
	}
}
