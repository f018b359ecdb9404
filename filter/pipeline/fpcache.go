package pipeline

import (
	"hash/maphash"
	"math/rand/v2"
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
// text's fingerprint key (textscan.KeyHash of textscan.FingerprintKey: the
// normalized text with its digit runs masked, hashed without writing it),
// of which the fingerprint is a function: bulk
// traffic repeats templates (one campaign, one notification to many
// recipients, one-time codes that differ only in the code), and the
// fingerprint is the costliest fact to compute (~0.5-1 us for 160
// characters) while the key's hash and a lookup are ~30 ns. A collision only
// misgroups one message.
type fpCache struct {
	seed uint64 // random: keys are not predictable from outside
	d    *direct[uint64]
}

func newFPCache() *fpCache { return &fpCache{seed: rand.Uint64(), d: newDirect[uint64](256)} }

// fingerprint returns the SimHash of the normalized text norm; key is a
// buffer for its fingerprint key (1 KiB of room: no allocation).
func (c *fpCache) fingerprint(norm, key []byte) uint64 {
	h := textscan.KeyHash(c.seed, norm) | 1 // never 0: 0 marks an empty slot
	if fp, ok := c.d.get(h); ok {
		return fp
	}
	key = textscan.FingerprintKey(key[:0], norm)
	fp := textscan.FingerprintNormalized(key)
	c.d.put(h, fp)
	return fp
}

// numCache sits in front of the number resolver's ristretto cache, for the
// numbers the resolver's E.164 table does not answer: a
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

// lookup fills *info (zero on entry) with addr's number facts.
func (c *numCache) lookup(ton, npi byte, addr []byte, info *numbers.Info) {
	// Most international numbers: the resolver's E.164 table, cheaper than
	// hashing for the direct cache and complete on first sight.
	if c.r.LookupTable(ton, npi, addr, info) {
		return
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	_ = h.WriteByte(ton)
	_ = h.WriteByte(npi)
	_, _ = h.Write(addr)
	key := h.Sum64() | 1
	var ok bool
	if *info, ok = c.d.get(key); ok {
		return
	}
	complete := true
	if c.sync {
		*info = c.r.Lookup(ton, npi, addr)
	} else {
		*info, complete = c.r.LookupQuick(ton, npi, addr)
	}
	if complete { // a first-sight answer is partial: ask again next time
		c.d.put(key, *info)
	}
}
