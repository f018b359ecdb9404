package proxy

import "testing"

func TestTable(t *testing.T) {
	tb := newTable[int](4) // 16 slots
	seqs := map[uint32]int{}
	for i := 0; i < 16; i++ {
		s, ok := tb.put(i)
		if !ok || s == 0 || s > 0x7FFFFFFF {
			t.Fatalf("put %d: %d %v", i, s, ok)
		}
		seqs[s] = i
	}
	if _, ok := tb.put(99); ok {
		t.Fatal("full ring accepted an entry")
	}
	if _, ok := tb.take(12345); ok {
		t.Fatal("unknown seq taken")
	}
	for s, v := range seqs {
		got, ok := tb.take(s)
		if !ok || got != v {
			t.Fatalf("take %d: %d %v", s, got, ok)
		}
		if _, ok := tb.take(s); ok {
			t.Fatal("taken twice")
		}
	}
	if tb.len() != 0 {
		t.Fatal("not empty")
	}
	// Wrap from 0x7FFFFFFF to 1, skipping 0.
	tb.next = 0x7FFFFFFE
	a, _ := tb.put(1)
	b, _ := tb.put(2)
	if a != 0x7FFFFFFF || b != 1 {
		t.Fatalf("wrap: %x %x", a, b)
	}
	// A long-pending entry is skipped, not overwritten.
	old, _ := tb.put(3)
	for i := 0; i < 100; i++ {
		s, ok := tb.put(i)
		if !ok || s == old {
			t.Fatalf("reused a pending slot")
		}
		tb.take(s)
	}
	if v, ok := tb.take(old); !ok || v != 3 {
		t.Fatal("old entry lost")
	}
	var drained []int
	tb.put(7)
	tb.put(8)
	tb.drain(func(v *int) bool { return *v == 7 }, func(_ uint32, v int) { drained = append(drained, v) })
	if len(drained) != 1 || tb.len() != 3 { // 8 and the two entries from the wrap check
		t.Fatalf("drain %v len %d", drained, tb.len())
	}
}

func BenchmarkTablePutTake(b *testing.B) {
	tb := newTable[upPending](100)
	for b.Loop() {
		s, _ := tb.put(upPending{})
		tb.take(s)
	}
}
