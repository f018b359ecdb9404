// Package receipts finds fake delivery receipts: a receipt toward a peer
// for a message id the SMSC never accepted from that peer. The proxy reports
// accepted ids (Observe); ids are compared as numbers where they parse, in
// both decimal and hexadecimal readings, because SMSCs write one id in hex
// in submit_sm_resp and in decimal in the receipt (or the reverse).
package receipts

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/internal/unsafex"
)

// State remembers accepted ids per peer; it survives reloads. When a reload
// changes the remember period, ids recorded before stay known (in the
// previous filter) while new ids go to a filter with the new period.
// The journal (Persist) keeps them across restarts and shares them
// between nodes.
type State struct {
	mu        sync.Mutex
	cur, prev *idFilter
	remember  time.Duration
	maxIDs    int

	journal *journal
	shared  *shared // set by Persist before any detector reads it
	// warmFrom: unix nanos from which the warm-up runs (0: none).
	warmFrom atomic.Int64
	metrics  atomic.Pointer[Metrics]
}

// NewState remembers about maxIDs ids per remember period.
func NewState(maxIDs int) *State { return &State{maxIDs: maxIDs} }

// SetMetrics counts the receipts not judged during a warm-up in m.
func (s *State) SetMetrics(m *Metrics) { s.metrics.Store(m) }

func (s *State) filters(remember time.Duration) (cur, prev *idFilter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.remember != remember || s.cur.bits() != filterBits(s.maxIDs) {
		s.prev, s.cur, s.remember = s.cur, newIDFilter(s.maxIDs, remember), remember
	}
	return s.cur, s.prev
}

// allFilters is the current filter and the one before a change of
// remember (the journal's goroutine).
func (s *State) allFilters() []*idFilter {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*idFilter
	for _, f := range []*idFilter{s.cur, s.prev} {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

// filterFor is the filter of a chunk's geometry; a chunk written with
// another remember or max_ids (before a restart) gets the previous
// filter's place when that is free. nil: nowhere to keep it.
func (s *State) filterFor(span, bits int64) *idFilter {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range []*idFilter{s.cur, s.prev} {
		if f != nil && f.span == span && int64(f.bits()) == bits {
			return f
		}
	}
	if span <= 0 || bits < 64 || bits&(bits-1) != 0 || bits > 1<<34 {
		return nil
	}
	if s.cur == nil {
		s.cur, s.remember = newIDFilterBits(uint64(bits), span), time.Duration(span*gens)
		return s.cur
	}
	if s.prev == nil {
		s.prev = newIDFilterBits(uint64(bits), span)
		return s.prev
	}
	return nil
}

// Detector checks receipts.
type Detector struct {
	st      *State
	f, prev *idFilter
	warmup  time.Duration
}

// New returns a detector.
func New(st *State, remember time.Duration) *Detector {
	return NewWith(st, Config{Remember: remember})
}

// NewWith returns a detector with the policy's settings.
func NewWith(st *State, c Config) *Detector {
	if c.Remember == 0 {
		c.Remember = 72 * time.Hour
	}
	d := &Detector{st: st, warmup: defaultWarmUp}
	if c.WarmUp != nil {
		d.warmup = *c.WarmUp
	}
	d.f, d.prev = st.filters(c.Remember)
	return d
}

// Name implements filter.Detector.
func (d *Detector) Name() string { return "receipts" }

// canonical is the one key an accepted id is stored under: its value read
// as decimal when it is all digits, else as hexadecimal when it parses so,
// else the id as written.
func canonical(peer []byte, id []byte) uint64 {
	s := unsafex.String(id)
	if v, err := strconv.ParseUint(s, 10, 64); err == nil {
		return numKey(peer, v)
	}
	if v, err := strconv.ParseUint(s, 16, 64); err == nil {
		return numKey(peer, v)
	}
	return counters.Key(peer, []byte{0}, id)
}

// receiptKeys calls fn with every key a receipt's id may have been stored
// under: SMSCs write one id in hex in submit_sm_resp and in decimal in the
// receipt, or the reverse, and a hex id may consist of digits only. The
// extra readings cost lookups on receipts, not work on every accepted id.
func receiptKeys(peer []byte, id []byte, fn func(uint64)) {
	fn(canonical(peer, id))
	s := unsafex.String(id)
	d, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return
	}
	if h, err := strconv.ParseUint(s, 16, 64); err == nil {
		fn(numKey(peer, h)) // accepted in decimal, receipt in digit-only hex
	}
	var buf [16]byte
	hex := strconv.AppendUint(buf[:0], d, 16)
	if v, err := strconv.ParseUint(unsafex.String(hex), 10, 64); err == nil {
		fn(numKey(peer, v)) // accepted in digit-only hex (stored as decimal), receipt in decimal
	}
}

func numKey(peer []byte, v uint64) uint64 {
	var b [9]byte
	b[0] = 1
	for i := 0; i < 8; i++ {
		b[1+i] = byte(v >> (8 * i))
	}
	return counters.Key(peer, b[:])
}

// Observe records an id the SMSC accepted for peer.
func (d *Detector) Observe(peer string, id []byte, now int64) {
	if len(id) == 0 {
		return
	}
	d.f.add(canonical(unsafex.Bytes(peer), id), now)
}

// Detect flags a receipt whose id was never accepted for this peer.
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, now int64) {
	if !f.Receipt || f.ReceiptID == "" {
		return
	}
	known := false
	receiptKeys(unsafex.Bytes(f.Peer), unsafex.Bytes(f.ReceiptID), func(k uint64) {
		if !known && (d.f.has(k, now) || d.prev != nil && d.prev.has(k, now)) {
			known = true
		}
	})
	switch {
	case known:
	case f.AwaitingAnswers:
		det.Raise(Early)
	case d.st.warming(now, d.warmup):
		if m := d.st.metrics.Load(); m != nil {
			m.unverified.Inc()
		}
	case d.st.shared != nil && !d.st.shared.settled(canonical(unsafex.Bytes(f.Peer), unsafex.Bytes(f.ReceiptID)), now):
		det.Raise(Early) // another node may have accepted it a moment ago
	default:
		det.Raise(Fake)
	}
}
