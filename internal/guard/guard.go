// Package guard holds what the SMPP and admin sides share to bound a
// flood: the address block a limit applies to, and logging that does not
// flood the log.
package guard

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Source is the address block per-source limits and lockouts apply to: one
// IPv4 address, or an IPv6 /64 (a host usually owns the whole /64). The
// zero Prefix for an invalid address.
func Source(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// SourceOf is Source for a "host:port" remote address.
func SourceOf(remote string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Prefix{}
	}
	return Source(ap.Addr())
}

// SampledLog lets a flood be logged without flooding the log: it counts
// occurrences and, at most once per period, says how many there were
// since it last said so.
type SampledLog struct {
	n, last atomic.Int64
}

// Tick counts one occurrence; ok means log now, n occurrences.
func (s *SampledLog) Tick(period time.Duration) (n int64, ok bool) {
	n = s.n.Add(1)
	now := time.Now().UnixNano()
	last := s.last.Load()
	if now-last < int64(period) || !s.last.CompareAndSwap(last, now) {
		return n, false
	}
	s.n.Store(0)
	return n, true
}

// Failures counts the failed guesses of one key (a source, a system_id,
// a user) within a window, and the guesses under way, so that failures
// plus guesses under way never pass the lockout threshold. The caller
// serialises access.
type Failures struct {
	First    int64 // start of the current counting window (unix nanoseconds)
	N        int   // failures in it
	Until    int64 // locked out until (unix nanoseconds)
	Inflight int   // guesses admitted and not yet settled
	// ID is the name all N failures were for; Mixed when they were for
	// more than one. A success forgets the failures only when they were
	// all its own, so one account cannot wipe guesses at another's.
	ID    string
	Mixed bool
}

// Locked reports whether the key is locked out at now.
func (f *Failures) Locked(now int64) bool { return f.Until > now }

// Full reports whether failures within window plus guesses under way have
// reached threshold: one more guess could pass it.
func (f *Failures) Full(now int64, window time.Duration, threshold int) bool {
	n := f.N
	if now-f.First > int64(window) {
		n = 0
	}
	return n+f.Inflight >= threshold
}

// Fail counts a failed guess for id; true when it begins a lockout of
// duration (counting starts again after it).
func (f *Failures) Fail(id string, now int64, window, duration time.Duration, threshold int) bool {
	if now-f.First > int64(window) {
		f.First, f.N = now, 0
	}
	switch {
	case f.N == 0:
		f.ID, f.Mixed = id, false
	case f.ID != id:
		f.Mixed = true
	}
	f.N++
	if f.N < threshold {
		return false
	}
	f.Until = now + int64(duration)
	f.First, f.N, f.Mixed = f.Until, 0, false
	return true
}

// Succeeded forgets the failures if they were all for id, or are older
// than window.
func (f *Failures) Succeeded(id string, now int64, window time.Duration) {
	if f.N == 0 || !f.Mixed && f.ID == id || now-f.First > int64(window) {
		f.N = 0
	}
}
