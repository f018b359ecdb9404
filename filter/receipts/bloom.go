package receipts

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// idFilter remembers accepted message ids in two generations of a Bloom
// filter: an id is known while it is in the current or the previous
// generation, so ids are remembered between remember/2 and remember.
// Every accepted id costs a few atomic ORs and no allocation, whatever the
// volume: a map or LRU keyed by id spends its time evicting at millions of
// messages. A false positive (about 1% at capacity) lets one fake receipt
// through; a false negative cannot happen within the remembered span.
type idFilter struct {
	mu    sync.Mutex // rotation
	gens  [2][]atomic.Uint64
	cur   atomic.Int32
	since atomic.Int64 // unix nanos the current generation started
	half  int64
	mask  uint64
}

const bloomK = 4

func newIDFilter(capacity int, remember time.Duration) *idFilter {
	m := uint64(1) << bits.Len64(uint64(capacity)*10) // ~10 bits per id: ~1% false positives with k=4
	m = max(m, 1<<16)
	f := &idFilter{half: int64(remember) / 2, mask: m - 1}
	for i := range f.gens {
		f.gens[i] = make([]atomic.Uint64, m/64)
	}
	return f
}

func (f *idFilter) rotate(now int64) {
	if now-f.since.Load() < f.half {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if now-f.since.Load() < f.half {
		return
	}
	next := 1 - f.cur.Load()
	for i := range f.gens[next] {
		f.gens[next][i].Store(0)
	}
	f.cur.Store(next)
	f.since.Store(now)
}

func (f *idFilter) add(key uint64, now int64) {
	f.rotate(now)
	g := f.gens[f.cur.Load()]
	h1, h2 := key, key>>32|key<<32|1
	for i := uint64(0); i < bloomK; i++ {
		bit := (h1 + i*h2) & f.mask
		g[bit>>6].Or(1 << (bit & 63))
	}
}

func (f *idFilter) has(key uint64, now int64) bool {
	f.rotate(now)
	cur := f.cur.Load()
	return f.in(f.gens[cur], key) || f.in(f.gens[1-cur], key)
}

func (f *idFilter) in(g []atomic.Uint64, key uint64) bool {
	h1, h2 := key, key>>32|key<<32|1
	for i := uint64(0); i < bloomK; i++ {
		bit := (h1 + i*h2) & f.mask
		if g[bit>>6].Load()&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}
