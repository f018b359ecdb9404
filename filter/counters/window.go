package counters

import (
	"math"
	"time"
)

// Window counts events per key in a sliding window made of buckets: the
// window is split into `buckets` slots of window/buckets each, and the count
// is the sum of the live buckets (the current one and the buckets-1 before
// it). An event therefore stays counted for between window-width and window
// after it happened (width = window/buckets): more buckets, finer edges,
// more memory (8 bytes a bucket a key).
type Window struct {
	t     table[winState]
	width int64 // bucket width, ns
	nb    int64 // buckets
	sync  WindowSync
}

type winState struct {
	head  int64  // bucket number (now/width) of the newest bucket
	total uint64 // sum of the live buckets
}

// NewWindow returns a Window of the given length split into buckets
// (clamped to 1..4096; the window is at least one nanosecond a bucket),
// holding at most lim.
func NewWindow(window time.Duration, buckets int, lim Limit) *Window {
	buckets = min(max(buckets, 1), 4096)
	w := &Window{nb: int64(buckets), width: max(int64(window)/int64(buckets), 1)}
	w.t.init(lim, buckets)
	return w
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// advance moves e's head to bucket ep, zeroing the buckets that fall out.
func (w *Window) advance(e *entry[winState], c []uint64, ep int64) {
	d := ep - e.p.head
	if d <= 0 {
		return
	}
	if d >= w.nb {
		clear(c)
		e.p.total = 0
	} else {
		for b := e.p.head + 1; b <= ep; b++ {
			slot := b % w.nb
			if slot < 0 {
				slot += w.nb
			}
			e.p.total -= c[slot]
			c[slot] = 0
		}
	}
	e.p.head = ep
}

func sat32(v uint64) uint32 {
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// Add counts n events for key at now and returns the count in the window,
// this add included. An event older than the window (a caller whose clock
// lags) is not counted. Zero allocations once the key exists.
func (w *Window) Add(key uint64, now int64, n uint32) uint32 {
	s := w.t.shardFor(key)
	ep := floorDiv(now, w.width)
	slot := ep % w.nb // before the lock: the CPU overlaps it with the lookup
	if slot < 0 {
		slot += w.nb
	}
	s.mu.Lock()
	i := s.find(key)
	if i < 0 {
		i = w.t.insert(s, key, now)
		s.ents[i].p.head = ep
	}
	e := &s.ents[i]
	c := w.t.extOf(s, i)
	w.advance(e, c, ep)
	if e.p.head-ep < w.nb { // live bucket (ep < head only for a lagging clock)
		c[slot] += uint64(n)
		e.p.total += uint64(n)
	}
	e.used = now
	e.exp = (e.p.head + w.nb) * w.width
	total := e.p.total
	s.mu.Unlock()
	if w.sync != nil {
		total = w.sync.Added(key, now, n, total)
	}
	return sat32(total)
}

// Count returns the count in the window at now (0 for an unknown key)
// without adding; it does not insert keys.
func (w *Window) Count(key uint64, now int64) uint32 {
	s := w.t.shardFor(key)
	s.mu.Lock()
	i := s.find(key)
	var total uint64
	if i >= 0 {
		e := &s.ents[i]
		w.advance(e, w.t.extOf(s, i), floorDiv(now, w.width))
		total = e.p.total
	}
	s.mu.Unlock()
	if w.sync != nil {
		total = w.sync.Added(key, now, 0, total)
	}
	return sat32(total)
}

// Len returns the number of keys held.
func (w *Window) Len() int { return w.t.len() }

// Stats returns counters for metrics.
func (w *Window) Stats() Stats { return w.t.stats() }
