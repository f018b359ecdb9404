package receipts

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// idFilter remembers accepted message ids in generations of a Bloom
// filter. Generations are aligned to the wall clock: generation e covers
// [e*span, (e+1)*span) with span = remember/gens, and an id is known while
// its generation is one of the last gens, so ids are remembered for at
// least remember*(gens-1)/gens and at most remember. The alignment lets
// nodes and restarts merge their filters generation by generation (the
// journal).
// Every accepted id costs a few atomic ORs and no allocation, whatever the
// volume: a map or LRU keyed by id spends its time evicting at millions of
// messages. A false positive (about 1% at capacity) lets one fake receipt
// through; a false negative cannot happen within the remembered span.
type idFilter struct {
	mu    sync.Mutex // starting a generation
	gens  [gens][]atomic.Uint64
	epoch [gens]atomic.Int64 // the generation each slot holds; -1: none
	span  int64              // nanos per generation
	mask  uint64

	// The journal's copy of what it wrote or read (its goroutine only):
	// the words that differ are the ids accepted here since.
	shadow      [gens][]uint64
	shadowEpoch [gens]int64
}

const gens = 4

const bloomK = 4

// filterBits is the filter's size for capacity ids: ~16 bits per id, ~1%
// false positives (blocked).
func filterBits(capacity int) uint64 {
	return max(uint64(1)<<bits.Len64(uint64(capacity)*16), 1<<16)
}

func newIDFilter(capacity int, remember time.Duration) *idFilter {
	return newIDFilterBits(filterBits(capacity), int64(remember)/gens)
}

func newIDFilterBits(m uint64, span int64) *idFilter {
	f := &idFilter{span: max(span, 1), mask: m - 1}
	for i := range f.gens {
		f.gens[i] = make([]atomic.Uint64, m/64)
		f.epoch[i].Store(-1)
		f.shadowEpoch[i] = -1
	}
	return f
}

func (f *idFilter) bits() uint64 { return f.mask + 1 }

// slot returns the words of generation e, starting it (clearing the slot
// of an expired one) if needed; nil when the slot holds a newer one.
func (f *idFilter) slot(e int64) []atomic.Uint64 {
	i := e % gens
	if f.epoch[i].Load() == e {
		return f.gens[i]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch t := f.epoch[i].Load(); {
	case t == e:
	case t > e:
		return nil
	default:
		for j := range f.gens[i] {
			f.gens[i][j].Store(0)
		}
		f.epoch[i].Store(e)
	}
	return f.gens[i]
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
	g := f.slot(now / f.span)
	if g == nil { // the clock went back a whole generation: keep it in the newest
		g = f.gens[f.newest()]
	}
	w, pat := f.word(key)
	g[w].Or(pat)
}

func (f *idFilter) newest() int {
	n := 0
	for i := range f.epoch {
		if f.epoch[i].Load() > f.epoch[n].Load() {
			n = i
		}
	}
	return n
}

func (f *idFilter) has(key uint64, now int64) bool {
	e := now / f.span
	w, pat := f.word(key)
	for i := range f.gens {
		if t := f.epoch[i].Load(); t >= 0 && t > e-gens && f.gens[i][w].Load()&pat == pat {
			return true
		}
	}
	return false
}

// live reports whether generation e is still remembered at now.
func (f *idFilter) live(e, now int64) bool { return e > now/f.span-gens }

// changes appends, for each generation started within the last two,
// the words that differ from the journal's copy (index and word, 12 bytes
// each) and updates the copy; emit gets each generation's encoding.
// With all set, every live generation's words that are not zero.
func (f *idFilter) changes(now int64, all bool, emit func(epoch int64, words []byte)) {
	e := now / f.span
	var buf []byte
	for i := range f.gens {
		t := f.epoch[i].Load()
		if t < 0 || !f.live(t, now) || !all && t < e-1 {
			continue
		}
		if f.shadow[i] == nil {
			f.shadow[i] = make([]uint64, len(f.gens[i]))
		}
		sh := f.shadow[i]
		if f.shadowEpoch[i] != t {
			clear(sh)
			f.shadowEpoch[i] = t
		}
		buf = buf[:0]
		for j := range f.gens[i] {
			w := f.gens[i][j].Load()
			if w != sh[j] || all && w != 0 {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(j))
				buf = binary.LittleEndian.AppendUint64(buf, w)
				sh[j] = w
			}
		}
		if len(buf) > 0 && f.epoch[i].Load() == t {
			emit(t, buf)
		}
	}
}

// merge ORs words (changes' encoding) into generation epoch, unless it
// expired at now, and into the journal's copy so they are not written
// again. It reports whether they were taken; false also for a malformed
// encoding (its valid prefix is taken).
func (f *idFilter) merge(epoch int64, words []byte, now int64) bool {
	if epoch < 0 || !f.live(epoch, now) || epoch > now/f.span+1 {
		return false
	}
	g := f.slot(epoch)
	if g == nil {
		return false
	}
	i := epoch % gens
	if f.shadow[i] == nil {
		f.shadow[i] = make([]uint64, len(g))
	}
	if f.shadowEpoch[i] != epoch {
		clear(f.shadow[i])
		f.shadowEpoch[i] = epoch
	}
	for ; len(words) >= 12; words = words[12:] {
		j := binary.LittleEndian.Uint32(words)
		if int(j) >= len(g) {
			return false
		}
		w := binary.LittleEndian.Uint64(words[4:])
		g[j].Or(w)
		f.shadow[i][j] |= w
	}
	return len(words) == 0
}
