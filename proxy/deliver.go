package proxy

import (
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Deliveries toward a peer (MO and receipts from the SMSC, receipts of
// smsfw's own) take a slot in the session's delivery window. When the
// window is full they wait in the session's FIFO queue instead of being
// refused: the SMSC's deliver_sm stays unanswered meanwhile, so the SMSC's
// own window is the back-pressure, as it is on the direct path. The
// upstream read loop never blocks on a peer's window (the answers that free
// MT slots arrive on it). A queued delivery waits at most response_timeout
// from when it was read; then the SMSC gets ESME_RTHROTTLED and retries.
// Only a full queue (delivery_queue) refuses at once, with the same status.

// queued is a delivery waiting for a slot in the peer's window.
type queued struct {
	buf      *pdu.Buf // a copy of the PDU
	leg      *upLeg   // relayed from this leg; nil: a receipt of smsfw's own
	upSeq    uint32
	cmd      pdu.CommandID
	start    int64
	deadline int64
	ev       *filter.Event
}

// Reasons a delivery was refused or dropped (label values).
const (
	dlvQueueFull  = "queue_full"
	dlvExpired    = "expired"
	dlvNoReceiver = "no_receiver"
	dlvSessionEnd = "session_ended"
)

// deliverOrQueue sends a deliver_sm/data_sm from leg l to the peer now when
// the window has room and nothing waits before it, else queues a copy.
// false: refused (queue full or session ended); the caller answers the SMSC.
func (d *downstream) deliverOrQueue(l *upLeg, p pdu.PDU, start int64, ev *filter.Event, out *batch, st *loopStats) (bool, string) {
	d.qmu.Lock()
	if d.qclosed {
		d.qmu.Unlock()
		return false, dlvSessionEnd
	}
	if d.qlen() == 0 && d.tryAcquire() {
		d.qmu.Unlock()
		if d.deliver(l, p, start, ev, out, st) {
			return true, ""
		}
		d.releaseWindow()
		return false, dlvSessionEnd
	}
	if d.qlen() >= d.s.cfg.DeliveryQueue {
		d.qmu.Unlock()
		return false, dlvQueueFull
	}
	d.queue = append(d.queue, queued{buf: pdu.Clone(p), leg: l, upSeq: p.Seq(), cmd: p.ID(), start: start,
		deadline: start + int64(d.s.cfg.ResponseTimeout), ev: ev})
	l.owedDn.Add(1)
	d.qmu.Unlock()
	d.s.m.deliveries.WithLabelValues(d.key, dlvQueued).Inc()
	d.s.m.queuedDlv.Add(1)
	return true, ""
}

// queueLocal sends a request of smsfw's own (a receipt) when the window
// has room, else queues it; false when the session ended or the queue is full.
func (d *downstream) queueLocal(id pdu.CommandID, raw []byte) bool {
	d.qmu.Lock()
	if d.qclosed {
		d.qmu.Unlock()
		return false
	}
	if d.qlen() == 0 && d.tryAcquire() {
		d.qmu.Unlock()
		if d.sendLocal(id, raw) {
			return true
		}
		d.releaseWindow()
		return false
	}
	if d.qlen() >= d.s.cfg.DeliveryQueue {
		d.qmu.Unlock()
		return false
	}
	now := time.Now().UnixNano()
	d.queue = append(d.queue, queued{buf: pdu.Clone(raw), cmd: id, start: now, deadline: now + int64(d.s.cfg.ResponseTimeout)})
	d.qmu.Unlock()
	d.s.m.deliveries.WithLabelValues(d.key, dlvQueued).Inc()
	d.s.m.queuedDlv.Add(1)
	return true
}

func (d *downstream) qlen() int { return len(d.queue) - d.qhead }

// pop removes the queue's head; the caller holds qmu and checked qlen.
func (d *downstream) pop() queued {
	q := d.queue[d.qhead]
	d.queue[d.qhead] = queued{}
	d.s.m.queuedDlv.Add(-1)
	d.qhead++
	if d.qhead == len(d.queue) {
		d.queue, d.qhead = d.queue[:0], 0
	} else if d.qhead > 1024 && d.qhead*2 > len(d.queue) {
		n := copy(d.queue, d.queue[d.qhead:])
		clear(d.queue[n:])
		d.queue, d.qhead = d.queue[:n], 0
	}
	return q
}

// releaseWindow frees a delivery slot, or hands it to the oldest queued
// delivery that is still in time.
func (d *downstream) releaseWindow() {
	for {
		d.qmu.Lock()
		if d.qlen() == 0 || d.qclosed {
			<-d.window
			d.qmu.Unlock()
			return
		}
		q := d.pop()
		d.qmu.Unlock()
		if q.deadline < time.Now().UnixNano() {
			d.refuseQueued(q, dlvExpired)
			continue
		}
		if d.sendQueued(q) {
			return
		}
	}
}

// sendQueued sends a queued delivery on the slot the caller holds; false
// (the delivery answered or dropped) leaves the slot with the caller.
func (d *downstream) sendQueued(q queued) bool {
	defer q.buf.Release()
	if q.leg == nil {
		if d.sendLocal(q.cmd, append([]byte(nil), q.buf.PDU()...)) {
			return true
		}
		d.s.m.deliveries.WithLabelValues(d.key, dlvSessionEnd).Inc()
		return false
	}
	q.leg.owedDn.Add(-1) // deliver counts it again
	var out batch
	var st loopStats
	ok := d.deliver(q.leg, q.buf.PDU(), q.start, q.ev, &out, &st)
	out.flush()
	st.publish(d.s.m, 0)
	if !ok {
		q.leg.owedDn.Add(1)
		d.refuseQueued(q, dlvSessionEnd)
	}
	return ok
}

// refuseQueued answers the SMSC for a queued delivery that goes no further:
// ESME_RTHROTTLED when it waited too long (the SMSC retries), 0x64 when the
// session ended.
func (d *downstream) refuseQueued(q queued, reason string) {
	d.s.m.deliveries.WithLabelValues(d.key, reason).Inc()
	if q.leg == nil {
		q.buf.Release()
		return
	}
	st := pdu.StatusThrottled
	if reason == dlvSessionEnd {
		st = pdu.StatusXTAppn
	}
	q.leg.owedDn.Add(-1)
	q.leg.respond(q.cmd, st, q.upSeq, "")
	d.s.record(q.ev, st, "")
	d.noteRefused(reason)
	q.buf.Release()
}

// expireQueue answers queued deliveries whose time is up.
func (d *downstream) expireQueue(now int64) {
	for {
		d.qmu.Lock()
		if d.qlen() == 0 || d.queue[d.qhead].deadline >= now {
			d.qmu.Unlock()
			return
		}
		q := d.pop()
		d.qmu.Unlock()
		d.refuseQueued(q, dlvExpired)
	}
}

// closeQueue refuses everything queued; later deliveries are refused.
func (d *downstream) closeQueue() {
	d.qmu.Lock()
	d.qclosed = true
	var qs []queued
	for d.qlen() > 0 {
		qs = append(qs, d.pop())
	}
	d.qmu.Unlock()
	for _, q := range qs {
		d.refuseQueued(q, dlvSessionEnd)
	}
}

// noteRefused logs refused deliveries at most once per 10 s per session.
func (d *downstream) noteRefused(reason string) {
	n, ok := d.refusedLog.Tick(10 * time.Second)
	if !ok {
		return
	}
	d.log.Warn("deliveries to peer refused; the SMSC will retry them", zap.String("reason", reason), zap.Int64("count", n),
		zap.Int("delivery_queue", d.s.cfg.DeliveryQueue))
}
