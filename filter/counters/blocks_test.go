package counters

import (
	"testing"
	"time"
)

func TestBlocks(t *testing.T) {
	b := NewBlocks(time.Minute, Keys(1000))
	now := int64(1e18)
	add := func(key, number uint64) bool { _, f := b.Add(key, number, 3, now); return f }
	// Scattered numbers never flag.
	for i := uint64(0); i < 50; i++ {
		if add(1, 4915100000000+i*1000) {
			t.Fatalf("scattered number %d flagged", i)
		}
	}
	// Three of one block flag it, the same number twice counts once.
	for _, n := range []uint64{4915950581005, 4915950581005, 4915950581017} {
		if add(1, n) {
			t.Fatalf("%d flagged before the third number", n)
		}
	}
	if !add(1, 4915950581099) {
		t.Fatal("third number of the block not flagged")
	}
	// The blocks beside it are flagged from their first number, not one further.
	if !add(1, 4915950581100) || !add(1, 4915950580999) {
		t.Fatal("neighbouring block not flagged")
	}
	if add(1, 4915950581300) {
		t.Fatal("a block two away flagged")
	}
	// Another key is counted apart; the window forgets.
	if add(2, 4915950581001) {
		t.Fatal("another key flagged")
	}
	now += int64(2 * time.Minute)
	if add(1, 4915950581150) {
		t.Fatal("flag outlived the window")
	}
}
