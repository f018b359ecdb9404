package receipts

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// idFilter remembers accepted message ids in generations of a Bloom
// filter, each covering remember/gens: an id is known while its generation
// is one of the last gens, so ids are remembered for at least
// remember*(gens-1)/gens and at most remember.
// Every accepted id costs a few atomic ORs and no allocation, whatever the
// volume: a map or LRU keyed by id spends its time evicting at millions of
// messages. A false positive (about 1% at capacity) lets one fake receipt
// through; a false negative cannot happen within the remembered span.
type idFilter struct {
	mu      sync.Mutex // rotation
	gens    [gens][]atomic.Uint64
	cur     atomic.Int32
	since   atomic.Int64 // unix nanos the current generation started
	started atomic.Bool
	span    int64 // nanos per generation
	mask    uint64
}

const gens = 4

const bloomK = 4

func newIDFilter(capacity int, remember time.Duration) *idFilter {
	m := uint64(1) << bits.Len64(uint64(capacity)*16) // ~16 bits per id: ~1% false positives, blocked
	m = max(m, 1<<16)
	f := &idFilter{span: int64(remember) / gens, mask: m - 1}
	for i := range f.gens {
		f.gens[i] = make([]atomic.Uint64, m/64)
	}
	return f
}

func (f *idFilter) rotate(now int64) {
	if f.started.Load() && now-f.since.Load() < f.span {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started.Load() {
		f.since.Store(now)
		f.started.Store(true)
		return
	}
	k := (now - f.since.Load()) / f.span
	if k <= 0 {
		return
	}
	for i := int64(0); i < min(k, gens); i++ {
		next := (f.cur.Load() + 1) % gens
		for j := range f.gens[next] {
			f.gens[next][j].Store(0)
		}
		f.cur.Store(next)
	}
	f.since.Add(k * f.span)
}

// word and pattern place all k bits of a key in one 64-bit word (a blocked
// Bloom filter): one cache line and one atomic operation per id.
func (f *idFilter) word(key uint64) (int, uint64) {
	w := int((key & f.mask) >> 6)
	h := key>>32 | key<<32
	var pat uint64
	for i := 0; i < bloomK; i++ {
		pat |= 1 << (h & 63)
		h >>= 6
	}
	return w, pat
}

func (f *idFilter) add(key uint64, now int64) {
	f.rotate(now)
	w, pat := f.word(key)
	f.gens[f.cur.Load()][w].Or(pat)
}

func (f *idFilter) has(key uint64, now int64) bool {
	if !f.started.Load() {
		return false // nothing was ever added
	}
	f.rotate(now)
	for i := range f.gens {
		if f.in(f.gens[i], key) {
			return true
		}
	}
	return false
}

func (f *idFilter) in(g []atomic.Uint64, key uint64) bool {
	w, pat := f.word(key)
	return g[w].Load()&pat == pat
}
