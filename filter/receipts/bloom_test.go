package receipts

import (
	"encoding/binary"
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

// FuzzMerge: any chunk read from the store merges without a panic, and a
// well-formed one sets exactly the words it carries.
func FuzzMerge(f *testing.F) {
	f.Add(int64(5), []byte{1, 0, 0, 0, 9, 8, 7, 6, 5, 4, 3, 2})
	f.Add(int64(4), []byte{255, 255, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Add(int64(-1), []byte{1, 2, 3})
	span := int64(time.Hour)
	now := 5*span + 1
	f.Fuzz(func(t *testing.T, epoch int64, words []byte) {
		g := newIDFilterBits(1<<16, span)
		ok := g.merge(epoch, words, now)
		if !ok || len(words) == 0 {
			return
		}
		want := map[uint32]uint64{}
		for w := words; len(w) >= 12; w = w[12:] {
			want[binary.LittleEndian.Uint32(w)] |= binary.LittleEndian.Uint64(w[4:])
		}
		gen := g.gens[epoch%gens]
		for i := range gen {
			if got := gen[i].Load(); got != want[uint32(i)] {
				t.Fatalf("word %d: %x, want %x", i, got, want[uint32(i)])
			}
		}
	})
}
