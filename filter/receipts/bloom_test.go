package receipts

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestIDFilter(t *testing.T) {
	const n = 100_000
	f := newIDFilter(n, time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = rng.Uint64()
		f.add(keys[i], 0)
	}
	for _, k := range keys {
		if !f.has(k, 0) {
			t.Fatal("false negative")
		}
	}
	fp := 0
	for i := 0; i < n; i++ {
		if f.has(rng.Uint64(), 0) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.02 {
		t.Fatalf("false positive rate %.4f at capacity", rate)
	}
	// Remembered for at least 3/4 of remember, forgotten after remember.
	span := int64(15 * time.Minute)
	if !f.has(keys[0], 3*span-1) {
		t.Fatal("forgotten too early")
	}
	if f.has(keys[0], 4*span+1) {
		t.Fatal("remembered past remember")
	}
}
