package counters

import (
	"testing"
	"time"
)

func TestFirsts(t *testing.T) {
	const w = time.Hour
	x := NewFirsts(w, Keys(100))
	var got [FirstsMax]FirstRecord
	if n := x.Get(1, &got, 0); n != 0 {
		t.Fatalf("empty: %d", n)
	}
	for i := range FirstsMax + 2 {
		x.Add(1, FirstRecord{A: uint64(i), B: 9, At: int64(i)}, int64(i))
	}
	if n := x.Get(1, &got, 10); n != FirstsMax || got[0].A != 0 || got[FirstsMax-1].A != FirstsMax-1 {
		t.Fatalf("got %d %+v, want the first %d", n, got, FirstsMax)
	}
	if n := x.Get(2, &got, 10); n != 0 {
		t.Fatalf("other key: %d", n)
	}
	// The window is anchored at the first record: it ends an hour later
	// however many were added since, and the next record starts a new one.
	if n := x.Get(1, &got, int64(w)); n != 0 {
		t.Fatalf("after the window: %d", n)
	}
	x.Add(1, FirstRecord{A: 42}, int64(w))
	if n := x.Get(1, &got, int64(w)+1); n != 1 || got[0].A != 42 {
		t.Fatalf("new window: %d %+v", n, got[0])
	}
}

func TestFirstsBounded(t *testing.T) {
	x := NewFirsts(time.Hour, Keys(64))
	for k := range uint64(1000) {
		x.Add(k, FirstRecord{A: k}, int64(k))
	}
	if st := x.Stats(); st.Len > st.Capacity || st.Capacity > 64 || st.Evictions == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFirstsAllocs(t *testing.T) {
	x := NewFirsts(time.Hour, Keys(64))
	x.Add(7, FirstRecord{A: 1}, 0)
	var got [FirstsMax]FirstRecord
	if n := testing.AllocsPerRun(100, func() { x.Add(7, FirstRecord{A: 2}, 1); x.Get(7, &got, 1) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}
