package proxy

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// An SMSC may send a message's receipt before the submit_sm_resp that
// gives its id (the receipt is scheduled when the message is taken, the
// answer may still sit in the SMSC's write buffer, or come on another bind
// of the pool). For a relayed message that is harmless: the peer got the
// SMSC's id. For a long-message part smsfw answered itself (relayheld.go)
// the peer knows smsfw's id, and the SMSC's id is learnt only from that
// answer: a receipt read first would reach the peer under an id it never
// saw. So a receipt whose id is unknown, read while held parts of its peer
// await the SMSC's answer, is parked: it goes on (rewritten when its id
// became known) once the parts in flight when it came are answered, or at
// response_timeout at the latest. Meanwhile the SMSC's deliver_sm stays
// unanswered, as for any delivery waiting for the peer's window.

// receiptPark tracks held parts in flight per peer, by ticket, and the
// receipts waiting for them.
type receiptPark struct {
	flyingN atomic.Int64 // held parts in flight, all peers: 0 skips the lock
	mu      sync.Mutex
	next    uint64
	flying  map[string]map[uint64]struct{} // peer key -> tickets in flight
	parked  map[string][]*parkedReceipt
}

type parkedReceipt struct {
	leg   *upLeg
	raw   []byte
	id    string // the receipt's message id (the SMSC's)
	upto  uint64 // goes on once no ticket <= upto is in flight
	start int64
	ev    *filter.Event
	timer *time.Timer
	// remote: waited for another node's mapping (clusterids.go), once.
	remote bool
}

// fly registers a held part sent to the SMSC; its ticket lands with the answer.
func (r *receiptPark) fly(key string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flying == nil {
		r.flying = map[string]map[uint64]struct{}{}
		r.parked = map[string][]*parkedReceipt{}
	}
	r.next++
	t := r.next
	f := r.flying[key]
	if f == nil {
		f = map[uint64]struct{}{}
		r.flying[key] = f
	}
	f[t] = struct{}{}
	r.flyingN.Add(1)
	return t
}

// land ends a ticket (the SMSC answered, or the part was not sent) and
// returns the receipts that may now go on: those with the answer's id
// (msgID, "" when none) and those no earlier part holds back.
func (r *receiptPark) land(key string, t uint64, msgID string) []*parkedReceipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.flying[key]
	if _, ok := f[t]; !ok {
		return nil
	}
	delete(f, t)
	r.flyingN.Add(-1)
	waiting := r.parked[key]
	if len(f) == 0 {
		delete(r.flying, key)
	}
	if len(waiting) == 0 {
		return nil
	}
	low := uint64(math.MaxUint64)
	for x := range f {
		low = min(low, x)
	}
	return takeParked(r.parked, key, func(p *parkedReceipt) bool { return (msgID != "" && p.id == msgID) || p.upto < low })
}

// takeParked removes the receipts take selects from m[key] and returns them.
func takeParked(m map[string][]*parkedReceipt, key string, take func(*parkedReceipt) bool) []*parkedReceipt {
	waiting := m[key]
	var out []*parkedReceipt
	kept := waiting[:0]
	for _, p := range waiting {
		if take(p) {
			out = append(out, p)
		} else {
			kept = append(kept, p)
		}
	}
	clear(waiting[len(kept):])
	if len(kept) == 0 {
		delete(m, key)
	} else {
		m[key] = kept
	}
	return out
}

// unpark removes p if it still waits (its timer fired); false when it went on already.
func (r *receiptPark) unpark(key string, p *parkedReceipt) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(takeParked(r.parked, key, func(x *parkedReceipt) bool { return x == p })) > 0
}

// parkReceipt parks receipt p of leg l when its id is unknown and held
// parts of the peer are in flight; true when parked (the caller is done
// with it: p's bytes are copied).
func (l *upLeg) parkReceipt(p pdu.PDU, m *pdu.Message, start int64, ev *filter.Event) bool {
	s := l.s
	r := &s.park
	if r.flyingN.Load() == 0 {
		return s.remote.n.Load() != 0 && l.parkRemote(p, m, start, ev)
	}
	id := m.ReceiptID()
	if len(id) == 0 || s.released.has(id) {
		return false
	}
	r.mu.Lock()
	if len(r.flying[l.key]) == 0 {
		r.mu.Unlock()
		return s.remote.n.Load() != 0 && l.parkRemote(p, m, start, ev)
	}
	pr := &parkedReceipt{leg: l, raw: append([]byte(nil), p...), id: string(id), upto: r.next, start: start, ev: ev}
	r.parked[l.key] = append(r.parked[l.key], pr)
	// Owed to the SMSC while parked: the leg's unbind and the drain wait.
	l.owedDn.Add(1)
	s.holding.Add(1)
	pr.timer = time.AfterFunc(s.cfg.ResponseTimeout, func() {
		if r.unpark(l.key, pr) {
			s.resumeReceipt(pr)
		}
	})
	r.mu.Unlock()
	s.m.receiptsParked.Inc()
	return true
}

// landed ends a held part's ticket and lets the receipts it held back go on.
func (s *Server) landed(key string, t uint64, msgID string) {
	if t == 0 {
		return
	}
	for _, p := range s.park.land(key, t, msgID) {
		p.timer.Stop()
		go s.resumeReceipt(p) // land may run on another leg's read loop
	}
}

// resumeReceipt sends a parked receipt on, under the peer's id when it is known now.
func (s *Server) resumeReceipt(p *parkedReceipt) {
	if s.repark(p) { // still unknown, and another node may be about to share it
		return
	}
	defer s.holding.Add(-1)
	defer p.leg.owedDn.Add(-1) // after the delivery took its own count
	raw := pdu.PDU(p.raw)
	var m pdu.Message
	if pdu.ParseMessage(raw, &m) == nil {
		raw = s.receiptForPeer(raw, &m)
	}
	p.leg.deliverQueued(raw, p.start, p.ev)
}
