package store

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"modernc.org/libc"

	"github.com/smsfw/smsfw/filter"
)

func TestDirectPath(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want bool
	}{
		{"/var/lib/smsfw/events.db", true},
		{"events.db", true},
		{":memory:", false},
		{"", false},
		{"file:events.db", false},
		{"events.db?_pragma=foo(1)", false},
	} {
		if _, ok := directPath(tc.dsn); ok != tc.want {
			t.Errorf("directPath(%q) = %v, want %v", tc.dsn, ok, tc.want)
		}
	}
}

// directPair is a store inserting through the direct connection and one
// inserting the same events through the careful path, the oracle.
type directPair struct {
	direct, careful *sqlStore
}

func newDirectPair(t testing.TB) directPair {
	t.Helper()
	open := func(name string) *sqlStore {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), name), zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.(*sqlStore)
	}
	p := directPair{open("direct.db"), open("careful.db")}
	if p.direct.direct == nil {
		t.Fatal("a file store has no direct connection")
	}
	p.careful.carefulOnly = true
	return p
}

// check inserts evs into both stores and compares what each reads back;
// the direct store must not have fallen back to the careful path.
func (p directPair) check(t testing.TB, evs []*filter.Event) {
	t.Helper()
	ctx := context.Background()
	before := p.direct.carefulBatches.Load()
	for _, s := range []*sqlStore{p.direct, p.careful} {
		if err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.direct.carefulBatches.Load() - before; n != 0 {
		t.Fatalf("the direct insert fell back to the careful path %d times", n)
	}
	for _, ev := range evs {
		got, err := p.direct.Get(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, err := p.careful.Get(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d:\n direct  %+v\n careful %+v", ev.ID, got, want)
		}
	}
}

func TestDirectInsert(t *testing.T) {
	p := newDirectPair(t)
	long := strings.Repeat("long text é ", 30_000) // beyond arenaKeep: the arena drops its extra chunks
	big := bytes.Repeat([]byte{7}, 100_000)
	p.check(t, []*filter.Event{
		fullEvent(1),
		{ID: 2, Time: t0}, // every string empty (bound '', not NULL), no raw, no decided_at
		{ID: 3, Time: t0, Text: "bad \xff\xfe utf8", Sender: "a\x00b", Evidence: "\x00"},
		{ID: 4, Time: t0, Text: long, Raw: [][]byte{big, {}, big[:3]}},
		{ID: 5, Time: t0, Text: "after the long one", Raw: [][]byte{{}}},
	})
	p.check(t, dataset(700))

	// A batch holding a stored id goes to the careful path, which skips
	// it and stores the rest.
	ctx := context.Background()
	if err := p.direct.Insert(ctx, []*filter.Event{fullEvent(1), fullEvent(9)}); err != nil {
		t.Fatal(err)
	}
	if n := p.direct.carefulBatches.Load(); n != 1 {
		t.Errorf("careful batches = %d, want 1", n)
	}
	if n, _ := p.direct.Count(ctx); n != 5+700+1 {
		t.Errorf("count = %d, want %d", n, 5+700+1)
	}
}

// A cancelled batch leaves nothing behind and the connection usable.
func TestDirectInsertCancelled(t *testing.T) {
	p := newDirectPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.direct.Insert(ctx, dataset(10)); err == nil {
		t.Fatal("a cancelled insert succeeded")
	}
	if n, _ := p.direct.Count(context.Background()); n != 0 {
		t.Fatalf("a cancelled insert stored %d events", n)
	}
	p.check(t, dataset(10))
}

// The direct path's row costs no allocation once its buffers are warm.
func TestDirectInsertAllocs(t *testing.T) {
	p := newDirectPair(t)
	c := p.direct.direct
	st, err := c.prepare(insertOrIgnore)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.exec(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer c.rollback()
	ev := fullEvent(1)
	allocs := testing.AllocsPerRun(1000, func() {
		ev.ID++
		if ok, err := c.insertEvent(st, ev); !ok || err != nil {
			t.Fatalf("insert: %v %v", ok, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per row, want 0", allocs)
	}
}

func TestArena(t *testing.T) {
	var a arena
	tls := libc.NewTLS()
	defer tls.Close()
	a.init(tls)
	defer a.free()
	first := a.alloc(10)
	copy(first, "0123456789")
	for range 20 { // fills the first chunk and more
		p := a.alloc(arenaChunk / 8)
		for i := range p {
			p[i] = 0xff
		}
	}
	if string(first) != "0123456789" {
		t.Fatalf("an earlier slice changed: %q", first)
	}
	if p := a.alloc(0); cap(p) < 1 || addr(p) == 0 {
		t.Fatalf("an empty slice has no address: cap %d", cap(p))
	}
	huge := a.alloc(arenaKeep)
	if len(huge) != arenaKeep {
		t.Fatalf("len %d", len(huge))
	}
	a.reset()
	if len(a.chunks) != 1 || len(a.chunks[0]) != arenaChunk {
		t.Fatalf("%d chunks kept after a reset past arenaKeep, want the first", len(a.chunks))
	}
	if p := a.alloc(5); addr(p) != addr(a.chunks[0]) {
		t.Error("a reset arena does not start at its first chunk")
	}
}

// FuzzDirectInsert: whatever the text, sender and PDU bytes, the direct
// path stores what the careful path stores.
func FuzzDirectInsert(f *testing.F) {
	f.Add("hello", "BANK", []byte{1, 2, 3})
	f.Add("\x00\xff", "", []byte{})
	f.Add(strings.Repeat("é", 5000), "a\x00", []byte(nil))
	p, id := newDirectPair(f), int64(0)
	f.Fuzz(func(t *testing.T, text, sender string, raw []byte) {
		id++
		ev := &filter.Event{ID: id, Time: t0, Text: text, Sender: sender, Dest: text}
		if raw != nil {
			ev.Raw = [][]byte{raw, raw}
		}
		p.check(t, []*filter.Event{ev})
	})
}
