package counters

import "time"

// Limiter is a GCRA (generic cell rate algorithm) rate limiter per key. Its
// state is one timestamp a key, the theoretical arrival time (TAT): with
// emission interval T = 1s/rate, an event of cost n at now conforms when
// max(TAT, now) + n*T - now <= burst*T, and then moves TAT there. An idle
// key so accepts `burst` events at once, then one every T. Rate and burst
// are passed on every call, so each key can have its own limits (and a
// change takes effect at once).
type Limiter struct {
	t    limTable
	sync LimiterSync
}

// NewLimiter returns a Limiter holding at most lim (LimiterKeyBytes per
// key). A key whose TAT has passed is idle and carries no state, so it is
// the first to go when room is needed (see limTable).
func NewLimiter(lim Limit) *Limiter {
	l := &Limiter{}
	l.t.init(lim)
	return l
}

// maxSpan clamps durations computed in float64 so int64 maths cannot
// overflow (~146 years).
const maxSpan = float64(1 << 62)

func span(f float64) int64 {
	if f >= maxSpan {
		return 1 << 62
	}
	return int64(f)
}

// Rate is a rate and burst prepared once for AllowRate (NewRate): a caller
// that checks the same limit for every message does not divide per call.
type Rate struct {
	t     float64 // emission interval T, nanoseconds per event
	tau   int64   // burst*T
	burst int     // at least 1
	never bool    // no event can ever conform (rate <= 0 or NaN)
}

// NewRate prepares ratePerSec and burst (values below 1 mean 1) for
// AllowRate, exactly as Allow reads them.
func NewRate(ratePerSec float64, burst int) Rate {
	if !(ratePerSec > 0) {
		return Rate{never: true}
	}
	burst = max(burst, 1)
	T := 1e9 / ratePerSec
	return Rate{t: T, tau: span(T * float64(burst)), burst: burst}
}

// Allow reports whether n events for key at now conform to ratePerSec with
// the given burst (values below 1 mean 1) and, if so, records them. When
// they do not, nothing is recorded and retryAfter is how long until they
// would. Requests that can never conform (ratePerSec <= 0 or NaN, n > burst)
// return (false, -1). n <= 0 asks without recording. Zero allocations once
// the key exists; a denied request never inserts a key.
func (l *Limiter) Allow(key uint64, now int64, ratePerSec float64, burst int, n int) (ok bool, retryAfter time.Duration) {
	r := NewRate(ratePerSec, burst)
	return l.AllowRate(key, now, &r, n)
}

// AllowRate is Allow with the rate and burst prepared by NewRate.
func (l *Limiter) AllowRate(key uint64, now int64, r *Rate, n int) (ok bool, retryAfter time.Duration) {
	if r.never || n > r.burst {
		return false, -1
	}
	inc := int64(0)
	if n > 0 {
		inc = span(r.t * float64(n))
	}
	s, h := l.t.locate(key)
	s.mu.Lock()
	e := l.t.find(s, h, key)
	tat := now
	if e != nil && e.tat > now {
		tat = e.tat
	}
	newTAT := tat + inc
	if over := newTAT - now - r.tau; over > 0 {
		s.mu.Unlock()
		return false, time.Duration(over)
	}
	if n > 0 {
		if e == nil {
			e = l.t.insert(s, h, key, now)
		}
		e.tat = max(newTAT, 1) // 0 marks an empty slot
	}
	s.mu.Unlock()
	if n > 0 && l.sync != nil {
		l.sync.Charged(key, now, inc)
	}
	return true, 0
}

// Refund gives back n events recorded for key at ratePerSec: a message one
// limit admitted and another then refused must not use up the first one's
// budget. The TAT never moves before now.
func (l *Limiter) Refund(key uint64, now int64, ratePerSec float64, n int) {
	if !(ratePerSec > 0) || n <= 0 {
		return
	}
	dec := span(1e9 / ratePerSec * float64(n))
	s, h := l.t.locate(key)
	s.mu.Lock()
	if e := l.t.find(s, h, key); e != nil {
		e.tat = max(e.tat-dec, now, 1)
	}
	s.mu.Unlock()
	if l.sync != nil {
		l.sync.Charged(key, now, -dec)
	}
}

// Len returns the number of keys held.
func (l *Limiter) Len() int { return l.t.len() }

// Stats returns counters for metrics.
func (l *Limiter) Stats() Stats { return l.t.stats() }
