// Package receipts finds fake delivery receipts: a receipt toward a peer
// for a message id the SMSC never accepted from that peer. The proxy reports
// accepted ids (Observe); ids are compared as numbers where they parse, in
// both decimal and hexadecimal readings, because SMSCs write one id in hex
// in submit_sm_resp and in decimal in the receipt (or the reverse).
package receipts

import (
	"github.com/smsfw/smsfw/internal/unsafex"
	"strconv"
	"sync"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
)

// State remembers accepted ids per peer; it survives reloads. When a reload
// changes the remember period, ids recorded before stay known (in the
// previous filter) while new ids go to a filter with the new period.
type State struct {
	mu        sync.Mutex
	cur, prev *idFilter
	remember  time.Duration
	maxIDs    int
}

// NewState remembers about maxIDs ids per remember period.
func NewState(maxIDs int) *State { return &State{maxIDs: maxIDs} }

func (s *State) filters(remember time.Duration) (cur, prev *idFilter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.remember != remember {
		s.prev, s.cur, s.remember = s.cur, newIDFilter(s.maxIDs, remember), remember
	}
	return s.cur, s.prev
}

// Detector checks receipts.
type Detector struct {
	f, prev *idFilter
}

// New returns a detector.
func New(st *State, remember time.Duration) *Detector {
	if remember == 0 {
		remember = 72 * time.Hour
	}
	d := &Detector{}
	d.f, d.prev = st.filters(remember)
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
	default:
		det.Raise(Fake)
	}
}
