package counters

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// TestIndexMatchesMap drives the index and a map with the same random
// puts and deletes (with keys that collide on their home slot, and the
// churn of a full shard) and compares every key after each step.
func TestIndexMatchesMap(t *testing.T) {
	for _, keys := range []struct {
		name string
		key  func(r *rand.Rand) uint64
	}{
		{"random", func(r *rand.Rand) uint64 { return r.Uint64() }},
		{"small", func(r *rand.Rand) uint64 { return r.Uint64N(300) }},
		{"high-bits", func(r *rand.Rand) uint64 { return r.Uint64N(200) << 56 }},
	} {
		t.Run(keys.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var x index
			want := map[uint64]int{}
			held := []uint64{}
			for step := range 20_000 {
				if len(held) > 0 && (len(held) >= 150 || r.IntN(3) == 0) {
					j := r.IntN(len(held))
					k := held[j]
					x.del(k)
					delete(want, k)
					held[j] = held[len(held)-1]
					held = held[:len(held)-1]
				} else {
					k := keys.key(r)
					if _, ok := want[k]; !ok {
						held = append(held, k)
					}
					want[k] = step
					x.put(k, step)
				}
				if x.n != len(want) {
					t.Fatalf("step %d: %d keys, want %d", step, x.n, len(want))
				}
				if step%97 == 0 {
					for k, v := range want {
						if got := x.get(k); got != v {
							t.Fatalf("step %d: key %#x at %d, want %d", step, k, got, v)
						}
					}
					for range 20 {
						if k := keys.key(r); (x.get(k) >= 0) != hasKey(want, k) {
							t.Fatalf("step %d: key %#x: get %d, map has it %v", step, k, x.get(k), hasKey(want, k))
						}
					}
				}
			}
			if len(x.slots) > 256 {
				t.Errorf("%d slots for at most 150 keys, want 256", len(x.slots))
			}
		})
	}
}

func hasKey(m map[uint64]int, k uint64) bool { _, ok := m[k]; return ok }

func TestShardSize(t *testing.T) {
	if n := unsafe.Sizeof(shard[struct{}]{}); n != 128 {
		t.Errorf("shard is %d bytes, want 128 (two cache lines)", n)
	}
}

// TestSeenTouch: Touch answers as Has and leaves the table as Has then Add
// do, under churn and eviction (a small table, keys expiring and coming
// back).
func TestSeenTouch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b := NewSeen(Keys(64)), NewSeen(Keys(64))
	now := t0
	for step := range 20_000 {
		now += int64(r.IntN(3)) * int64(time.Second)
		key := r.Uint64N(150)
		ttl := time.Duration(r.IntN(20)-2) * time.Second
		want := a.Has(key, now)
		a.Add(key, now, ttl)
		if got := b.Touch(key, now, ttl); got != want {
			t.Fatalf("step %d: Touch(%d) = %v, Has %v", step, key, got, want)
		}
		if a.Stats() != b.Stats() {
			t.Fatalf("step %d: stats %+v, want %+v", step, b.Stats(), a.Stats())
		}
		if step%50 == 0 {
			for k := range uint64(150) {
				if a.Has(k, now) != b.Has(k, now) {
					t.Fatalf("step %d: key %d held %v, want %v", step, k, b.Has(k, now), a.Has(k, now))
				}
			}
		}
	}
}
