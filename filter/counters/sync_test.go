package counters

import (
	"errors"
	"testing"
	"time"
)

func TestStableKeys(t *testing.T) {
	before := KeyString("peer-a")
	t.Cleanup(func() { stableSeed.Store(0) })
	if err := UseStableKeys("s1"); err != nil {
		t.Fatal(err)
	}
	if err := UseStableKeys("s1"); err != nil {
		t.Fatalf("same secret again: %v", err)
	}
	if err := UseStableKeys("s2"); !errors.Is(err, ErrStableKeys) {
		t.Fatalf("another secret: %v, want ErrStableKeys", err)
	}
	a := KeyString("peer-a")
	if a == before {
		t.Fatal("stable key equals the per-process one")
	}
	if Key([]byte("peer-a")) != a {
		t.Fatal("Key and KeyString disagree in stable mode")
	}
	// A second process with the same secret computes the same key: the
	// seed is all the state there is.
	seed := stableSeed.Load()
	stableSeed.Store(0)
	if err := UseStableKeys("s1"); err != nil || stableSeed.Load() != seed || KeyString("peer-a") != a {
		t.Fatal("the same secret gave another key")
	}
	stableSeed.Store(0)
	_ = UseStableKeys("s2")
	if KeyString("peer-a") == a {
		t.Fatal("another secret gave the same key")
	}
	b := []byte("0123456789abcdef0123456789abcdef")
	if n := testing.AllocsPerRun(100, func() { _ = Key(b, b); _ = KeyString("peer", "sender") }); n != 0 {
		t.Fatalf("stable keys allocate: %v", n)
	}
}

type fakeLimSync struct{ costs []int64 }

func (f *fakeLimSync) Charged(_ uint64, _ int64, cost int64) { f.costs = append(f.costs, cost) }

type fakeWinSync struct{ others uint64 }

func (f *fakeWinSync) Added(_ uint64, _ int64, _ uint32, local uint64) uint64 {
	return local + f.others
}

type fakeDistSync struct{ remote uint32 }

func (f *fakeDistSync) Added(_, _ uint64, _ int64, local uint32) uint32 { return max(local, f.remote) }

func TestSyncHooks(t *testing.T) {
	const sec = int64(time.Second)
	now := 100 * sec
	t.Run("limiter", func(t *testing.T) {
		l := NewLimiter(Keys(100))
		fs := &fakeLimSync{}
		l.SetSync(fs)
		if ok, _ := l.Allow(1, now, 10, 5, 2); !ok {
			t.Fatal("denied")
		}
		l.Refund(1, now, 10, 1)
		if ok, _ := l.Allow(1, now, 10, 5, 0); !ok {
			t.Fatal("ask denied")
		}
		want := []int64{2 * sec / 10, -sec / 10}
		if len(fs.costs) != 2 || fs.costs[0] != want[0] || fs.costs[1] != want[1] {
			t.Fatalf("charges %v, want %v", fs.costs, want)
		}
		// Another node used the whole burst and more: denied until paid.
		l.Raise(2, now, now+sec)
		ok, wait := l.Allow(2, now, 10, 5, 1)
		if ok || wait != time.Duration(sec/2+sec/10) {
			t.Fatalf("after Raise: ok=%v wait=%v, want false 600ms", ok, wait)
		}
		l.Raise(2, now, now-sec) // never lowers
		if ok, _ := l.Allow(2, now, 10, 5, 1); ok {
			t.Fatal("Raise into the past lowered the TAT")
		}
		if ok, _ := l.Allow(2, now+sec/2+sec/10, 10, 5, 1); !ok {
			t.Fatal("denied after the wait")
		}
	})
	t.Run("window", func(t *testing.T) {
		w := NewWindow(time.Minute, 6, Keys(100))
		w.SetSync(&fakeWinSync{others: 7})
		if n := w.Add(1, now, 2); n != 9 {
			t.Fatalf("Add = %d, want 2+7", n)
		}
		if n := w.Count(1, now); n != 9 {
			t.Fatalf("Count = %d, want 9", n)
		}
		if n := w.Count(3, now); n != 7 {
			t.Fatalf("Count of an unknown key = %d, want 7", n)
		}
		if win, width := w.Span(); win != time.Minute || width != 10*time.Second {
			t.Fatalf("Span = %v %v", win, width)
		}
	})
	t.Run("distinct", func(t *testing.T) {
		d := NewDistinct(time.Minute, Keys(100))
		d.SetSync(&fakeDistSync{remote: 40})
		if n := d.Add(1, 5, now); n != 40 {
			t.Fatalf("Add = %d, want 40", n)
		}
		d.SetSync(&fakeDistSync{remote: 0})
		if n := d.Add(1, 6, now); n != 2 {
			t.Fatalf("Add = %d, want 2", n)
		}
	})
}
