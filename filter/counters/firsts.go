package counters

import "time"

// FirstsMax is how many records Firsts keeps per key.
const FirstsMax = 4

// A FirstRecord is one remembered event: two numbers (a sender and a
// destination) and when.
type FirstRecord struct {
	A, B uint64
	At   int64 // unix nanos
}

type firstsState struct {
	n int
	r [FirstsMax]FirstRecord
}

// Firsts keeps, per key, the first FirstsMax records added within a
// window anchored at the key's first record (tumbling, as Distinct): the
// first messages of a text, to be named once the text turns out to be a
// campaign. Zero allocations once the key exists.
type Firsts struct {
	t      table[firstsState]
	window time.Duration
}

// FirstsKeyBytes is the estimated memory of one key of a Firsts.
var FirstsKeyBytes = keyBytes[firstsState](0)

// NewFirsts returns a Firsts whose windows last window.
func NewFirsts(window time.Duration, lim Limit) *Firsts {
	x := &Firsts{window: window}
	x.t.init(lim, 0)
	return x
}

// Add records r under key unless FirstsMax records are held in the key's
// window; a window that has ended starts again with r.
func (x *Firsts) Add(key uint64, r FirstRecord, now int64) {
	s := x.t.shardFor(key)
	s.mu.Lock()
	i := s.find(key)
	if i < 0 {
		i = x.t.insert(s, key, now)
	}
	e := &s.ents[i]
	if now >= e.exp {
		e.p = firstsState{}
		e.exp = now + int64(x.window)
	}
	e.used = now
	if e.p.n < FirstsMax {
		e.p.r[e.p.n] = r
		e.p.n++
	}
	s.mu.Unlock()
}

// Get copies the records held for key in its current window into dst and
// returns how many there are. Never allocates.
func (x *Firsts) Get(key uint64, dst *[FirstsMax]FirstRecord, now int64) int {
	s := x.t.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(key)
	if i < 0 || now >= s.ents[i].exp {
		return 0
	}
	e := &s.ents[i]
	e.used = now
	*dst = e.p.r
	return e.p.n
}

// Len returns the keys held.
func (x *Firsts) Len() int { return x.t.len() }

// Stats implements Table.
func (x *Firsts) Stats() Stats { return x.t.stats() }
