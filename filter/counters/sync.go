package counters

import (
	"errors"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Sharing counts between nodes. A table may be given a sync (SetSync)
// before it is used by other goroutines: after its local update, every hot
// method tells the sync what it did and may let it adjust the result with
// what the other nodes counted. A sync must return at once: it queues the
// update for a background flush and answers from what it last learned,
// never waiting on the network (filter/counters/shared implements them on
// Redis). A table without a sync pays one nil check.
type (
	// LimiterSync learns the budget a Limiter's keys used: cost is n
	// events times the emission interval, in nanoseconds (negative for a
	// refund). What the other nodes used comes back through Limiter.Raise.
	LimiterSync interface {
		Charged(key uint64, now int64, cost int64)
	}
	// WindowSync learns the events a Window counted (n at now; local is
	// the table's own count after them) and returns the count to report:
	// local plus the other nodes' events it knows of. Count is the same
	// without an event (n = 0).
	WindowSync interface {
		Added(key uint64, now int64, n uint32, local uint64) uint64
	}
	// DistinctSync learns the values a Distinct saw and returns the number
	// of distinct values to report (at least local).
	DistinctSync interface {
		Added(key, value uint64, now int64, local uint32) uint32
	}
)

// SetSync shares the limiter's counts (call before the limiter is used
// concurrently; nil: none).
func (l *Limiter) SetSync(s LimiterSync) { l.sync = s }

// Sync returns the limiter's sync (nil: none).
func (l *Limiter) Sync() LimiterSync { return l.sync }

// Raise moves key's TAT to at least tat (the budget other nodes used):
// nothing when tat is not after now. It never lowers a TAT.
func (l *Limiter) Raise(key uint64, now, tat int64) {
	if tat <= now {
		return
	}
	s, h := l.t.locate(key)
	s.mu.Lock()
	e := l.t.find(s, h, key)
	if e == nil {
		e = l.t.insert(s, h, key, now)
	}
	e.tat = max(e.tat, tat)
	s.mu.Unlock()
}

// SetSync shares the window's counts (call before the window is used
// concurrently; nil: none).
func (w *Window) SetSync(s WindowSync) { w.sync = s }

// Sync returns the window's sync (nil: none).
func (w *Window) Sync() WindowSync { return w.sync }

// Span returns the window's length and bucket width.
func (w *Window) Span() (window, width time.Duration) {
	return time.Duration(w.nb * w.width), time.Duration(w.width)
}

// SetSync shares the distinct sets (call before the table is used
// concurrently; nil: none).
func (d *Distinct) SetSync(s DistinctSync) { d.sync = s }

// Sync returns the table's sync (nil: none).
func (d *Distinct) Sync() DistinctSync { return d.sync }

// Window returns the table's (tumbling) window.
func (d *Distinct) Window() time.Duration { return time.Duration(d.window) }

// stableSeed, when set, replaces the per-process maphash seed with a
// seeded xxHash64 of the same inputs: keys then agree between processes
// that share the secret, as shared counters need.
var stableSeed atomic.Uint64

// ErrStableKeys: a process uses one key secret.
var ErrStableKeys = errors.New("counters: stable keys already set with another secret")

// UseStableKeys makes Key and KeyString agree between processes that call
// it with the same secret (shared counters): xxHash64 seeded from the
// secret instead of the per-process maphash seed. Call it before any key is
// computed (keys made before differ); calling it again with the same secret
// does nothing, with another one fails. Without an attacker-unknown secret,
// colliding inputs can be crafted offline: keep it out of the policy.
func UseStableKeys(secret string) error {
	seed := xxhash.Sum64String("smsfw/counters\x00"+secret) | 1
	if stableSeed.CompareAndSwap(0, seed) || stableSeed.Load() == seed {
		return nil
	}
	return ErrStableKeys
}

// StableKeys reports whether keys are stable between processes.
func StableKeys() bool { return stableSeed.Load() != 0 }

func hashBytes(p []byte) uint64 {
	if seed := stableSeed.Load(); seed != 0 {
		var d xxhash.Digest
		d.ResetWithSeed(seed)
		_, _ = d.Write(p)
		return d.Sum64()
	}
	return maphash.Bytes(keySeed, p)
}

func hashString(p string) uint64 {
	if seed := stableSeed.Load(); seed != 0 {
		var d xxhash.Digest
		d.ResetWithSeed(seed)
		_, _ = d.WriteString(p)
		return d.Sum64()
	}
	return maphash.String(keySeed, p)
}
