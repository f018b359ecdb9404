package counters

import (
	"sync"
	"unsafe"
)

// limTable holds the Limiter's keys set-associatively: a key can live only
// in the bucket its hash picks, and a bucket is limWays slots of (key, TAT)
// in one 64-byte cache line. Finding, inserting or replacing a key touches
// that one line (plus its shard's mutex): no index, no slab, no entry
// moved. The Limiter's state needs no more: a key whose TAT has passed is
// idle, the same as an absent key, so such a slot is free for reuse, and
// when every slot of a bucket is live the one with the earliest TAT (the
// key closest to idle: forgetting it forgives the least budget) is evicted.
//
// Shards (a mutex each, chosen by the hash's top bits) grow their bucket
// arrays by doubling, only when a bucket has no free slot, up to their share
// of the table's keys; a growth drops the idle keys.
type limTable struct {
	shards     []limShard
	shift      uint // shard = mix(key) >> shift
	ways       int  // slots per bucket used (limWays, fewer for tiny tables)
	maxBuckets int  // per shard
}

const limWays = 4

// limSlot is one key's GCRA state; tat == 0 marks an empty slot (times are
// unix nanoseconds, and a TAT at or before now is idle anyway).
type limSlot struct {
	key uint64
	tat int64
}

// limBucket is one cache line (the Go allocator places arrays of 64-byte
// multiples at 64-byte boundaries).
type limBucket [limWays]limSlot

type limShard struct {
	mu      sync.Mutex
	buckets []limBucket
	n       int // slots in use (idle ones included until reused)
	evicted uint64
	expired uint64
	_       [8]byte // one shard per cache line
}

func (t *limTable) init(lim Limit) {
	maxKeys, n, shift := sizing(lim, LimiterKeyBytes)
	t.shards = make([]limShard, n)
	t.shift = shift
	perShard := maxKeys / n
	t.ways = min(limWays, perShard)
	t.maxBuckets = perShard / t.ways
}

// locate returns key's shard and its mixed hash.
func (t *limTable) locate(key uint64) (*limShard, uint64) {
	h := key * 0x9E3779B97F4A7C15
	return &t.shards[h>>t.shift], h // a shift of 64 gives shard 0
}

// bucket returns the bucket h picks (multiply-shift onto any bucket count,
// from bits below the shard's). Caller holds s.mu; s has buckets.
func (s *limShard) bucket(h uint64) *limBucket {
	return &s.buckets[uint64(uint32(h>>16))*uint64(len(s.buckets))>>32]
}

// find returns key's slot, or nil. Caller holds s.mu.
func (t *limTable) find(s *limShard, h, key uint64) *limSlot {
	if len(s.buckets) == 0 {
		return nil
	}
	b := s.bucket(h)
	if t.ways == limWays { // every table but the tiniest: the loop unrolled
		switch {
		case b[0].key == key && b[0].tat != 0:
			return &b[0]
		case b[1].key == key && b[1].tat != 0:
			return &b[1]
		case b[2].key == key && b[2].tat != 0:
			return &b[2]
		case b[3].key == key && b[3].tat != 0:
			return &b[3]
		}
		return nil
	}
	for i := range b[:t.ways] {
		if b[i].key == key && b[i].tat != 0 {
			return &b[i]
		}
	}
	return nil
}

// insert returns a slot for key (absent), its tat 0 for the caller to set:
// an empty slot of its bucket, else an idle one, else, after growing the
// shard if it may still grow, the live slot with the earliest TAT. Caller
// holds s.mu.
func (t *limTable) insert(s *limShard, h, key uint64, now int64) *limSlot {
	if len(s.buckets) == 0 {
		s.buckets = make([]limBucket, min(1, t.maxBuckets))
	}
	for {
		b := s.bucket(h)
		idle, oldest := -1, 0
		for i := range b[:t.ways] {
			switch {
			case b[i].tat == 0:
				s.n++
				b[i].key = key
				return &b[i]
			case idle < 0 && b[i].tat <= now:
				idle = i
			case b[i].tat < b[oldest].tat:
				oldest = i
			}
		}
		if idle >= 0 {
			s.expired++
			b[idle] = limSlot{key: key}
			return &b[idle]
		}
		if len(s.buckets) < t.maxBuckets {
			t.grow(s, now)
			continue
		}
		s.evicted++
		b[oldest] = limSlot{key: key}
		return &b[oldest]
	}
}

// grow doubles s's buckets (up to maxBuckets), keeping the live keys. A
// bucket of the new array draws from at most two old ones, and from one
// only when the size exactly doubles; when it overflows (growing to a
// size that does not double) the live key with the earliest TAT goes.
func (t *limTable) grow(s *limShard, now int64) {
	old := s.buckets
	s.buckets = make([]limBucket, min(2*len(old), t.maxBuckets))
	for i := range old {
		for _, e := range old[i][:t.ways] {
			if e.tat == 0 {
				continue
			}
			if e.tat <= now {
				s.n--
				s.expired++
				continue
			}
			b := s.bucket(e.key * 0x9E3779B97F4A7C15)
			j := 0
			for j < t.ways && b[j].tat != 0 {
				j++
			}
			if j == t.ways {
				j = 0
				for k := range b[:t.ways] {
					if b[k].tat < b[j].tat {
						j = k
					}
				}
				s.n--
				s.evicted++
				if b[j].tat >= e.tat {
					continue // the incoming key is the one closest to idle
				}
			}
			b[j] = e
		}
	}
}

func (t *limTable) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

func (t *limTable) stats() Stats {
	st := Stats{Capacity: t.maxBuckets * t.ways * len(t.shards), KeyBytes: LimiterKeyBytes}
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		st.Len += s.n
		st.Evictions += s.evicted
		st.Expired += s.expired
		s.mu.Unlock()
	}
	return st
}

// LimiterKeyBytes is the memory of one Limiter key: its slot (a full table
// holds exactly this much a key; a growing one up to twice).
var LimiterKeyBytes = int(unsafe.Sizeof(limSlot{}))
