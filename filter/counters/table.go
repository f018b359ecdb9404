// Package counters holds the shared, bounded, concurrent state behind
// smsfw's velocity, campaign and pumping detectors: sliding-window counts
// (Window), distinct-value estimates (Distinct), GCRA rate limits (Limiter),
// sequential-number runs (Sequence) and expiring key sets (Seen).
//
// Common design: every type is a table of up to maxKeys entries keyed by a
// caller-supplied uint64 (use Key / KeyString to hash byte strings), split
// into up to 64 shards, each a mutex, an open-addressing index of the keys
// (index.go) and a dense slab of entries without pointers (so the GC never scans them). Time is
// passed in as unix nanoseconds, so callers and tests control the clock.
// Once a key exists, no method allocates; inserting a key may allocate
// (index and slab growth, bounded by the shard's share of maxKeys).
//
// A table is sized by a Limit: Keys(n), or Bytes(n), which gives it as many
// keys as n bytes hold at KeyBytes each: the slab entry, the type's state
// words and IndexBytes for the index (an upper estimate, kept from when the
// index was a Go map, so budgets give the same capacities: the index's
// 16-byte slots at 3/8 to 3/4 load are 21-43 bytes a key). Transient
// garbage of a growing slab or index is not counted.
//
// Bounded memory: a shard holds at most floor(maxKeys/shards) entries, so a
// table never holds more than maxKeys. Inserting into a full shard first
// reclaims expired entries (each type defines when its state is worthless:
// a window with no live bucket, a limiter whose TAT has passed, ...), then
// evicts the least recently used of a small sample: the next 16 slots of a
// clock hand sweeping the slab (an approximate LRU, as in Redis). Stats
// reports both kinds of removal.
//
// The Limiter, whose state is one timestamp a key, uses a set-associative
// table of its own instead (limtable.go): one cache line per key touched.
package counters

import (
	"sync"
	"unsafe"
)

const (
	maxShards = 64
	// minPerShard keeps shards large enough for sampled eviction to mean
	// something: small tables get fewer shards.
	minPerShard = 16
	// evictScan is how many slots one eviction examines.
	evictScan = 16
)

// IndexBytes is the estimated memory of one key in a shard's index.
const IndexBytes = 64

// Limit bounds a table by keys or by estimated bytes. The zero Limit holds
// one key.
type Limit struct {
	keys  int
	bytes int64
}

// Keys bounds a table to n keys.
func Keys(n int) Limit { return Limit{keys: n} }

// Bytes bounds a table to the keys n bytes hold (at least one).
func Bytes(n int64) Limit { return Limit{bytes: n} }

// Stats describes a table for metrics.
type Stats struct {
	Len       int    // entries held (expired ones included until reclaimed)
	Capacity  int    // the most entries the table will hold (<= maxKeys)
	Evictions uint64 // live entries evicted to make room
	Expired   uint64 // expired entries reclaimed (on insert pressure or lookup)
	KeyBytes  int    // estimated bytes per key (KeyBytes)
}

// Bytes is the estimated memory of the entries held.
func (s Stats) Bytes() int64 { return int64(s.Len) * int64(s.KeyBytes) }

// MaxBytes is the estimated memory of a full table.
func (s Stats) MaxBytes() int64 { return int64(s.Capacity) * int64(s.KeyBytes) }

// Table is what every counter type offers for metrics.
type Table interface {
	Stats() Stats
}

type entry[P any] struct {
	key  uint64
	used int64 // last touch, unix nanos: the LRU clock
	exp  int64 // the entry carries no information once now >= exp
	p    P
}

type shard[P any] struct {
	mu      sync.Mutex
	idx     index
	ents    []entry[P]
	ext     []uint64 // stride words per entry, parallel to ents
	hand    int      // eviction clock hand
	evicted uint64
	expired uint64
	_       [16]byte // keep hot shards on separate cache lines (128 bytes)
}

type table[P any] struct {
	shards   []shard[P]
	shift    uint // shard = mix(key) >> shift
	perShard int
	stride   int
	keyBytes int
}

// keyBytes is the estimated memory of one key of a table of P with stride
// ext words.
func keyBytes[P any](stride int) int {
	return int(unsafe.Sizeof(entry[P]{})) + 8*stride + IndexBytes
}

func (t *table[P]) init(lim Limit, stride int) {
	t.keyBytes = keyBytes[P](stride)
	maxKeys, n, shift := sizing(lim, t.keyBytes)
	t.shards = make([]shard[P], n)
	t.shift = shift
	t.perShard = maxKeys / n
	t.stride = stride
}

// sizing returns the keys lim allows at keyBytes each (at least one) and
// how many shards share them: a power of two, at most maxShards, each
// holding at least minPerShard keys when there are that many; a key's
// shard is its mix's top bits, mix >> shift.
func sizing(lim Limit, keyBytes int) (maxKeys, shards int, shift uint) {
	maxKeys = lim.keys
	if lim.bytes > 0 {
		maxKeys = int(min(lim.bytes/int64(keyBytes), 1<<31-1))
	}
	maxKeys = max(maxKeys, 1)
	shards = maxShards
	for shards > 1 && maxKeys/shards < minPerShard {
		shards >>= 1
	}
	bits := uint(0)
	for 1<<bits < shards {
		bits++
	}
	return maxKeys, shards, 64 - bits
}

// shardFor picks a shard from the key's top bits after a multiplicative
// mix, so sequential or low-entropy keys still spread.
func (t *table[P]) shardFor(key uint64) *shard[P] {
	if len(t.shards) == 1 {
		return &t.shards[0]
	}
	return &t.shards[(key*0x9E3779B97F4A7C15)>>t.shift]
}

// find returns the entry index of key, or -1. Caller holds s.mu.
func (s *shard[P]) find(key uint64) int {
	return s.idx.get(key)
}

// insert adds key with a zero entry (and zeroed ext words), making room
// first when the shard is full, and returns its index. Caller holds s.mu
// and knows key is absent.
func (t *table[P]) insert(s *shard[P], key uint64, now int64) int {
	if len(s.ents) >= t.perShard {
		t.makeRoom(s, now)
	}
	if len(s.ents) == cap(s.ents) {
		// Grow by doubling, but never past the shard's share.
		c := min(max(2*cap(s.ents), 8), t.perShard)
		ents := make([]entry[P], len(s.ents), c)
		copy(ents, s.ents)
		s.ents = ents
		if t.stride > 0 {
			ext := make([]uint64, len(s.ext), c*t.stride)
			copy(ext, s.ext)
			s.ext = ext
		}
	}
	i := len(s.ents)
	s.ents = append(s.ents, entry[P]{key: key, used: now})
	if t.stride > 0 {
		s.ext = s.ext[:len(s.ext)+t.stride]
		clear(s.ext[i*t.stride:])
	}
	s.idx.put(key, i)
	return i
}

// remove deletes entry i by moving the last entry into its place. Caller
// holds s.mu.
func (t *table[P]) remove(s *shard[P], i int) {
	s.idx.del(s.ents[i].key)
	last := len(s.ents) - 1
	if i != last {
		s.ents[i] = s.ents[last]
		s.idx.put(s.ents[i].key, i)
		if t.stride > 0 {
			copy(s.ext[i*t.stride:(i+1)*t.stride], s.ext[last*t.stride:])
		}
	}
	s.ents = s.ents[:last]
	if t.stride > 0 {
		s.ext = s.ext[:last*t.stride]
	}
}

// makeRoom frees at least one slot: it sweeps the next evictScan slots from
// the clock hand, reclaiming every expired entry among them; if none was
// expired it evicts the least recently used of those it saw.
func (t *table[P]) makeRoom(s *shard[P], now int64) {
	oldest := -1
	freed := false
	for j := 0; j < evictScan && len(s.ents) > 0; j++ {
		if s.hand >= len(s.ents) {
			s.hand = 0
		}
		e := &s.ents[s.hand]
		if now >= e.exp {
			t.remove(s, s.hand) // the moved-in entry is examined next
			s.expired++
			freed = true
			continue
		}
		if !freed && (oldest < 0 || e.used < s.ents[oldest].used) {
			oldest = s.hand
		}
		s.hand++
	}
	if !freed && oldest >= 0 {
		t.remove(s, oldest)
		s.evicted++
	}
}

// extOf returns entry i's ext words. Caller holds s.mu.
func (t *table[P]) extOf(s *shard[P], i int) []uint64 {
	return s.ext[i*t.stride : (i+1)*t.stride : (i+1)*t.stride]
}

func (t *table[P]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.ents)
		s.mu.Unlock()
	}
	return n
}

func (t *table[P]) stats() Stats {
	st := Stats{Capacity: t.perShard * len(t.shards), KeyBytes: t.keyBytes}
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		st.Len += len(s.ents)
		st.Evictions += s.evicted
		st.Expired += s.expired
		s.mu.Unlock()
	}
	return st
}

// Estimated bytes per key of each type (see the package comment); a
// Window's depend on its buckets.
var (
	DistinctKeyBytes = keyBytes[distState](hllWords)
	SequenceKeyBytes = keyBytes[seqState](0)
	SeenKeyBytes     = keyBytes[struct{}](0)
)

// Named is a table with the name metrics label it with.
type Named struct {
	Name  string
	Table Table
}
