package counters

import "time"

// Seen is a bounded set of keys with expiry: "has this peer sent to this
// country before", "did we accept this message id for this peer" (fake
// receipt detection). When full it drops expired keys first, then the least
// recently added or checked of a sample.
type Seen struct {
	t table[struct{}]
}

// NewSeen returns a Seen holding at most lim (SeenKeyBytes per key).
func NewSeen(lim Limit) *Seen {
	s := &Seen{}
	s.t.init(lim, 0)
	return s
}

// Add remembers key until now+ttl (refreshing the expiry of a key already
// held). A ttl <= 0 forgets the key. Zero allocations once the key exists.
func (x *Seen) Add(key uint64, now int64, ttl time.Duration) {
	s := x.t.shardFor(key)
	s.mu.Lock()
	x.add(s, key, now, ttl)
	s.mu.Unlock()
}

// Has reports whether key is held and unexpired at now. An expired key is
// dropped. Never allocates.
func (x *Seen) Has(key uint64, now int64) bool {
	s := x.t.shardFor(key)
	s.mu.Lock()
	held := x.has(s, key, now)
	s.mu.Unlock()
	return held
}

// Touch is Has followed by Add under one lock (one shard lookup where the
// two took two locks): it reports whether key was held and unexpired at
// now, then remembers it until now+ttl.
func (x *Seen) Touch(key uint64, now int64, ttl time.Duration) bool {
	s := x.t.shardFor(key)
	s.mu.Lock()
	i := s.find(key) // one lookup for both halves
	held := i >= 0
	if held && now >= s.ents[i].exp {
		x.t.remove(s, i)
		s.expired++
		i, held = -1, false
	}
	x.addAt(s, i, key, now, ttl)
	s.mu.Unlock()
	return held
}

// add is Add with s (key's shard) locked.
func (x *Seen) add(s *shard[struct{}], key uint64, now int64, ttl time.Duration) {
	x.addAt(s, s.find(key), key, now, ttl)
}

// addAt is add with key's index in s found already (-1: absent).
func (x *Seen) addAt(s *shard[struct{}], i int, key uint64, now int64, ttl time.Duration) {
	if ttl <= 0 {
		if i >= 0 {
			x.t.remove(s, i)
		}
		return
	}
	if i < 0 {
		i = x.t.insert(s, key, now)
	}
	e := &s.ents[i]
	e.used = now
	e.exp = now + int64(ttl)
}

// has is Has with s (key's shard) locked.
func (x *Seen) has(s *shard[struct{}], key uint64, now int64) bool {
	i := s.find(key)
	if i < 0 {
		return false
	}
	e := &s.ents[i]
	if now >= e.exp {
		x.t.remove(s, i)
		s.expired++
		return false
	}
	e.used = now
	return true
}

// Remove forgets key and reports whether it was held (expired or not).
func (x *Seen) Remove(key uint64) bool {
	s := x.t.shardFor(key)
	s.mu.Lock()
	i := s.find(key)
	if i >= 0 {
		x.t.remove(s, i)
	}
	s.mu.Unlock()
	return i >= 0
}

// Len returns the number of keys held (expired ones included until they
// are reclaimed).
func (x *Seen) Len() int { return x.t.len() }

// Stats returns counters for metrics.
func (x *Seen) Stats() Stats { return x.t.stats() }
