package pipeline

import (
	"hash/maphash"
	"sync"

	"github.com/smsfw/smsfw/filter/numbers"
	"github.com/smsfw/smsfw/filter/textscan"
)

// direct is a direct-mapped cache in 64 locked shards: a 64-bit key picks a
// shard and a slot, a colliding key overwrites it. Lookups are ~25 ns and
// allocation-free; the callers key on seeded hashes, so a false hit on a
// full 64-bit collision is practically absent.
type direct[V any] struct {
	mask   uint64
	shards [64]directShard[V]
}

type directShard[V any] struct {
	mu      sync.Mutex
	entries []directEntry[V]
	_       [32]byte // one shard per cache line: sessions locking neighbouring shards do not contend
}

type directEntry[V any] struct {
	key uint64 // 0: empty
	v   V
}

// newDirect holds perShard entries (a power of two) in each shard.
func newDirect[V any](perShard int) *direct[V] {
	d := &direct[V]{mask: uint64(perShard - 1)}
	for i := range d.shards {
		d.shards[i].entries = make([]directEntry[V], perShard)
	}
	return d
}

func (d *direct[V]) get(key uint64) (V, bool) {
	sh := &d.shards[key>>58]
	sh.mu.Lock()
	e := sh.entries[(key>>8)&d.mask]
	sh.mu.Unlock()
	return e.v, e.key == key
}

func (d *direct[V]) put(key uint64, v V) {
	sh := &d.shards[key>>58]
	sh.mu.Lock()
	sh.entries[(key>>8)&d.mask] = directEntry[V]{key: key, v: v}
	sh.mu.Unlock()
}

// fpCache remembers the SimHash of recent texts, keyed by a hash of the
// exact text: bulk traffic repeats texts verbatim (one campaign, one
// notification to many recipients), and the fingerprint is the costliest
// fact to compute (~0.9 us for 160 characters) while a lookup is ~30 ns.
// A collision only misgroups one message.
type fpCache struct {
	seed maphash.Seed
	d    *direct[uint64]
}

func newFPCache() *fpCache { return &fpCache{seed: maphash.MakeSeed(), d: newDirect[uint64](256)} }

// fingerprint returns the SimHash of text, whose Normalize form is norm.
func (c *fpCache) fingerprint(text, norm []byte) uint64 {
	key := maphash.Bytes(c.seed, text) | 1 // never 0: 0 marks an empty slot
	if fp, ok := c.d.get(key); ok {
		return fp
	}
	fp := textscan.FingerprintNormalized(norm)
	c.d.put(key, fp)
	return fp
}

// numCache sits in front of the number resolver's ristretto cache: a
// direct-mapped table answers repeated numbers in ~25 ns without
// ristretto's admission bookkeeping; misses go to the resolver, which
// answers a number it never saw from its calling code at once and parses it
// in the background (validity and type follow from the next message on).
type numCache struct {
	seed maphash.Seed
	d    *direct[numbers.Info]
	r    *numbers.Resolver
	sync bool
}

func newNumCache(r *numbers.Resolver) *numCache {
	return &numCache{seed: maphash.MakeSeed(), d: newDirect[numbers.Info](1024), r: r}
}

func (c *numCache) lookup(ton, npi byte, addr []byte) numbers.Info {
	var h maphash.Hash
	h.SetSeed(c.seed)
	_ = h.WriteByte(ton)
	_ = h.WriteByte(npi)
	_, _ = h.Write(addr)
	key := h.Sum64() | 1
	if info, ok := c.d.get(key); ok {
		return info
	}
	var info numbers.Info
	complete := true
	if c.sync {
		info = c.r.Lookup(ton, npi, addr)
	} else {
		info, complete = c.r.LookupQuick(ton, npi, addr)
	}
	if complete { // a first-sight answer is partial: ask again next time
		c.d.put(key, info)
	}
	return info
}
