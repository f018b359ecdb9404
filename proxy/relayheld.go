package proxy

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/smpp/pdu"
)

// relaySchedule is when a held part the SMSC refused with a temporary
// error (or did not answer) is sent again: smsfw accepted it from the peer,
// so smsfw owes its delivery. After the last try the part has failed: its
// sender gets an UNDELIV receipt when it asked for receipts.
var relaySchedule = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, time.Minute, 2 * time.Minute}

// owed is one long-message part smsfw answered itself and relays after the
// verdict. It holds its copy and its share of the held budget until the
// SMSC accepts it, refuses it for good, or the retries run out.
type owed struct {
	s    *Server
	key  string      // the peer's key: its upstream pool or sessions carry the part
	from *downstream // the session it came from (pass-through: its leg first)
	buf  *pdu.Buf
	size int
	ours string // the id the peer was given
	// shared: in a cluster, the part asked for a receipt, which may come on
	// another node: its mapping is shared (clusterids.go).
	shared bool
	tries  int
	ticket uint64 // while sent and unanswered (receiptpark.go)
}

// relayHeld sends the held parts of one message to the SMSC, in order;
// ownership of their copies and budget passes to the relay. A part that
// finds no leg (no session bound, a leg ending) is tried again with the
// parts after it, in order, so no part overtakes an earlier one.
// out is the caller's pending batch, flushed before any wait.
func (s *Server) relayHeld(key string, held []heldSeg, out *batch) {
	chain := make([]*owed, len(held))
	for i, h := range held {
		chain[i] = &owed{s: s, key: key, from: h.from, buf: h.buf, size: len(h.buf.PDU()), ours: h.id,
			shared: s.link != nil && h.receipt}
	}
	s.owedN.Add(int64(len(chain)))
	if sharedParts(chain) > 0 {
		// The SMSC may send a part's receipt at once, over another node:
		// the parts wait for the other nodes to know (sendChain), which
		// takes a database round trip, so not on the session's read loop.
		go func() {
			var own batch
			sendChain(chain, &own)
			own.flush()
		}()
		return
	}
	sendChain(chain, out)
}

// sendChain sends parts in order until one finds no leg; that one and the
// rest are tried again together. In a cluster, parts whose receipts may
// come over another node are first announced as in flight, and sent once
// every live node acknowledged it (at most the cluster's receipt wait), as
// a release is: the callers may wait (a new goroutine, or a retry's timer).
func sendChain(chain []*owed, out *batch) {
	if n := sharedParts(chain); n > 0 {
		s, key := chain[0].s, chain[0].key
		s.announceFlying(context.Background(), key, n) // until each part counts itself in sendWith
		defer s.flying(key, -n)
	}
	for i, o := range chain {
		if !o.sendWith(out) {
			retryChain(chain[i:])
			return
		}
	}
}

// sharedParts counts the parts whose receipt ids the other nodes learn.
func sharedParts(chain []*owed) int {
	n := 0
	for _, o := range chain {
		if o.shared {
			n++
		}
	}
	return n
}

// send sends a part again after the SMSC refused it with a temporary
// error or did not answer.
func (o *owed) send() {
	var out batch
	sendChain([]*owed{o}, &out)
}

// sendWith puts the part on a leg of its peer, waiting for a window slot
// (back-pressure, as for relayed requests). It reports false when no leg
// took the part: the caller schedules its retry.
func (o *owed) sendWith(out *batch) bool {
	l := o.leg(out)
	if l == nil {
		return false
	}
	now := time.Now().UnixNano()
	p := o.buf.PDU()
	o.ticket = o.s.park.fly(o.key) // before the answer can come
	if o.shared {
		o.s.flying(o.key, 1)
	}
	l.mu.Lock()
	if l.dead || l.closing.Load() {
		l.mu.Unlock()
		o.land("")
		<-l.window
		return false
	}
	seq, ok := l.pending.put(upPending{cmd: p.ID(), start: now, deadline: now + int64(o.s.cfg.ResponseTimeout), owed: o})
	l.mu.Unlock()
	if !ok {
		o.land("")
		<-l.window
		return false
	}
	o.s.m.inflightUp.Add(l.shard, 1)
	p.SetSeq(seq)
	id := p.ID() // p may be released by the answer as soon as it is written
	if err := l.c.Write(p); err != nil {
		l.mu.Lock()
		_, mine := l.pending.take(seq)
		l.mu.Unlock()
		if mine {
			o.s.m.inflightUp.Add(l.shard, -1)
			o.land("")
			<-l.window
			return false
		}
		return true // the leg's end answered it (0x08) and scheduled its retry
	}
	o.s.m.out(1, id)
	return true
}

// leg returns a leg of the peer with a window slot taken, or nil.
func (o *owed) leg(out *batch) *upLeg {
	s := o.s
	if pl := s.poolOf(o.key); pl != nil { // config mode
		return pl.acquire(s.closed, out)
	}
	var legs []*upLeg
	if o.from.leg != nil {
		legs = append(legs, o.from.leg)
	}
	s.mu.Lock()
	for _, d := range s.byPeer[o.key] {
		if d.leg != nil && d.leg != o.from.leg {
			legs = append(legs, d.leg)
		}
	}
	s.mu.Unlock()
	for _, l := range legs {
		if l.closing.Load() {
			continue
		}
		if l.acquire(out, s.closed) {
			return l
		}
		select {
		case <-s.closed:
			return nil
		default: // the leg ended: try the next
		}
	}
	return nil
}

// done takes the SMSC's answer (or 0x08 for a timeout or a lost leg). It
// runs on a leg's read loop or timer: it never waits.
func (o *owed) done(r reply) {
	if r.status == pdu.StatusOK {
		o.s.noteReleased(r.msgID, o.ours, o.key, o.shared) // before a parked receipt looks for it
		o.land(r.msgID)
	} else {
		o.land("")
	}
	switch {
	case r.status == pdu.StatusOK:
		o.end(relayOK)
	case temporary(r.status) && o.tries < len(relaySchedule):
		o.s.m.heldRelays.WithLabelValues(relayRetried).Inc()
		d := relaySchedule[o.tries]
		o.tries++
		time.AfterFunc(d, o.send)
	default:
		o.fail(r.status)
	}
}

// land ends the part's time in flight: receipts it held back go on.
func (o *owed) land(msgID string) {
	t := o.ticket
	o.ticket = 0
	if t != 0 && o.shared {
		o.s.flying(o.key, -1) // after its id was shared
	}
	o.s.landed(o.key, t, msgID)
}

// retryChain schedules the next try of parts no leg took, in order, on
// the first part's schedule; at shutdown they are lost, and out of tries
// they have failed.
func retryChain(rest []*owed) {
	first := rest[0]
	select {
	case <-first.s.closed:
		first.s.log.Warn("long-message parts not relayed before shutdown", zap.String("peer", first.key),
			zap.String("message_id", first.ours), zap.Int("parts", len(rest)))
		for _, o := range rest {
			o.end(relayLost)
		}
		return
	default:
	}
	if first.tries >= len(relaySchedule) {
		for _, o := range rest {
			o.fail(pdu.StatusSysErr)
		}
		return
	}
	d := relaySchedule[first.tries]
	for _, o := range rest {
		o.s.m.heldRelays.WithLabelValues(relayRetried).Inc()
		o.tries = first.tries + 1
	}
	time.AfterFunc(d, func() {
		var out batch
		sendChain(rest, &out)
	})
}

// fail ends a part the SMSC will not take: its sender learns of it by an
// UNDELIV receipt when it asked for receipts.
func (o *owed) fail(st pdu.Status) {
	var m pdu.Message
	if pdu.ParseMessage(o.buf.PDU(), &m) == nil && m.RegisteredDelivery&0x03 != 0 {
		o.s.sendReceipt(o.key, o.from, receiptFor(&m, o.ours, pdu.StateUndeliverable, time.Now()))
	}
	if ce := o.s.log.Check(zap.WarnLevel, "long-message part refused by the SMSC after smsfw accepted it"); ce != nil {
		ce.Write(zap.String("peer", o.key), zap.String("message_id", o.ours), zap.Stringer("status", st), zap.Int("tries", o.tries+1))
	}
	o.end(relayFailed)
}

func (o *owed) end(result string) {
	o.s.m.heldRelays.WithLabelValues(result).Inc()
	o.s.asm.release(o.key, o.size)
	o.buf.Release()
	o.s.owedN.Add(-1)
}

// temporary reports whether an SMSC status asks the sender to try again.
func temporary(st pdu.Status) bool {
	switch st {
	case pdu.StatusThrottled, pdu.StatusMsgQFul, pdu.StatusSysErr, pdu.StatusXTAppn:
		return true
	}
	return false
}
