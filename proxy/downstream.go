package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/guard"
	"github.com/smsfw/smsfw/smpp/link"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// bindType of a peer session.
type bindType uint8

const (
	unbound bindType = iota
	transmitter
	receiver
	transceiver
)

func bindTypeOf(id pdu.CommandID) bindType {
	switch id {
	case pdu.BindTransmitter:
		return transmitter
	case pdu.BindReceiver:
		return receiver
	case pdu.BindTransceiver:
		return transceiver
	}
	return unbound
}

// downPending is a request smsfw sent to the peer (deliver_sm from the SMSC,
// or a local one: enquire_link, unbind, fake receipt).
type downPending struct {
	leg      *upLeg
	upSeq    uint32
	cmd      pdu.CommandID
	start    int64
	deadline int64
	local    bool
	ev       *filter.Event // recorded when the peer answers (MO events)
	reply    chan reply    // a released MO message: its answer goes here
}

// downstream is one peer connection. smsfw is the SMSC here.
type downstream struct {
	s      *Server
	c      *link.Conn
	remote netip.Addr
	log    *zap.Logger

	// Set once at bind, read-only after.
	bind     bindType
	key      string // peer name (config) or system_id (pass-through)
	systemID string
	lp       *livePeer // config mode: the peer's settings and pool, as reloads change them
	leg      *upLeg    // pass-through: the session's own upstream leg

	window chan struct{} // deliver_sm (and receipts of smsfw's own) in flight toward the peer
	msg    pdu.Message   // reused per message: the read loop owns it
	req    filter.Request
	out    batch     // upstream connections written to since the last flush (read loop only)
	st     loopStats // per-PDU counts of the read loop, published per batch
	shard  uint8     // the session's shard of the sharded metrics

	mu      sync.Mutex
	pending *table[downPending]
	dead    bool
	done    chan struct{}
	unbound chan struct{}

	// mt holds the peer's in-flight MT requests on a shared pool (config
	// mode). It is separate from window: MT slots are freed by the SMSC's
	// answers, delivery slots by the peer's, and one sharing both could
	// wait on itself (upstream read loop waiting for a slot that only an
	// answer behind it on the same socket would free).
	mt          chan struct{}
	unboundOnce sync.Once // shutdown and a lost leg may both unbind

	// Deliveries waiting for a slot in window (deliver.go).
	qmu        sync.Mutex
	queue      []queued
	qhead      int
	qclosed    bool
	refusedLog guard.SampledLog

	// inflightMT counts this session's requests relayed upstream and not yet
	// answered; holds, its quarantined messages waiting for the store (each
	// holds a slot of the peer's window). An unbind or a half-close waits
	// for both to reach zero before the session ends.
	inflightMT atomic.Int64
	holds      chan struct{}
	ending     atomic.Bool // the peer unbound or half-closed: no new requests
	// answered: its bind_resp is queued, so PDUs of smsfw's own (deliveries,
	// alerts) may follow it; registered sessions without it are skipped.
	answered atomic.Bool

	// Budget of messages answered locally (read loop only).
	localTokens float64
	localAt     int64
}

// localBudget reports whether the session may have another message
// inspected: false while its budget of locally answered messages is spent.
func (d *downstream) localBudget(now int64) bool {
	rate := d.s.cfg.LocalAnswerRate
	if rate <= 0 {
		return true
	}
	if d.localAt == 0 {
		d.localTokens, d.localAt = 2*rate, now
	}
	d.localTokens = min(d.localTokens+float64(now-d.localAt)/1e9*rate, 2*rate)
	d.localAt = now
	return d.localTokens >= 1
}

// answeredLocally spends the budget for a message smsfw answered itself.
func (d *downstream) answeredLocally(a filter.Action) {
	if a != filter.Allow && a != filter.Flag && d.s.cfg.LocalAnswerRate > 0 {
		d.localTokens--
	}
}

func (s *Server) serveDownstream(nc net.Conn) {
	d := &downstream{s: s, c: link.New(nc, s.cfg.MaxPDUSize, s.cfg.WriteTimeout),
		pending: newTable[downPending](s.cfg.DefaultWindow), done: make(chan struct{}), unbound: make(chan struct{}),
		holds: make(chan struct{}, s.cfg.DefaultWindow), shard: s.m.shard()}
	d.st.shard = d.shard
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		d.remote = ap.Addr().Unmap()
	}
	d.log = s.log.Named("session").With(zap.String("remote", nc.RemoteAddr().String()))
	s.mu.Lock()
	s.sessions[d] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, d)
		s.mu.Unlock()
	}()
	_ = nc.SetReadDeadline(time.Now().Add(s.cfg.BindTimeout))
	d.readLoop()
	d.close("connection ended")
}

func (d *downstream) canTransmit() bool { return d.bind == transmitter || d.bind == transceiver }
func (d *downstream) canReceive() bool {
	return (d.bind == receiver || d.bind == transceiver) && d.answered.Load()
}

func (d *downstream) isDone() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *downstream) readLoop() {
	defer d.st.publish(d.s.m, 0)
	defer d.out.flush()
	for {
		p, err := d.c.Read()
		if err != nil {
			d.readError(err)
			if errors.Is(err, io.EOF) && d.bind != unbound && !d.ending.Load() {
				// The peer closed its side; it may still read the answers
				// to what it sent (a half-close), but it can answer no
				// delivery: the SMSC gets those back now and retries.
				d.ending.Store(true)
				d.out.flush()
				d.failDeliveries()
				d.awaitAnswers()
			}
			return
		}
		d.st.countIn(p.ID())
		if p.ID().IsResponse() {
			d.onResponse(p)
		} else if !d.onRequest(p) {
			return
		}
		if d.c.Buffered() == 0 {
			d.out.flush()
			d.st.publish(d.s.m, 0)
		} else {
			d.out.late(d.c.ReadAt())
		}
	}
}

// maxBatchWait bounds how long a read loop holds what it relayed before
// writing it. A batch leaves when the loop's socket has nothing more
// buffered; a long batch (a 16 KiB read is some 200 submit_sm) under a
// costly policy would otherwise hold its first message while every other
// one is inspected. With it, a message waits at most about this long plus
// the inspection of the few PDUs read before the clock is looked at.
const maxBatchWait = 100 * time.Microsecond

// batch collects the connections a read loop appended to (link.Conn.Append)
// so that one batch read becomes one write per destination.
type batch struct {
	dirty []*link.Conn
	start int64  // arrival of the batch's first PDU (unix nanos; 0: none yet)
	n     uint32 // PDUs since start
}

// late is called after each PDU of a batch whose socket has more
// buffered, with the PDU's arrival time: it writes what the batch holds
// once its first PDU has waited maxBatchWait. The clock is read every
// eighth PDU only: on the allow path reading it costs more than a PDU.
func (b *batch) late(readAt int64) {
	if b.start == 0 {
		b.start = readAt
	}
	if b.n++; b.n&7 != 0 {
		return
	}
	if now := time.Now().UnixNano(); now-b.start > int64(maxBatchWait) {
		b.flush()
		b.start = now
	}
}

func (b *batch) add(c *link.Conn) {
	for _, x := range b.dirty {
		if x == c {
			return
		}
	}
	b.dirty = append(b.dirty, c)
}

func (b *batch) flush() {
	for i, c := range b.dirty {
		c.Flush()
		b.dirty[i] = nil
	}
	b.dirty = b.dirty[:0]
	b.start, b.n = 0, 0
}

func (d *downstream) readError(err error) {
	var fe *pdu.FrameError
	switch {
	case errors.As(err, &fe):
		d.s.m.malformed.WithLabelValues(legDownstream, badFrame).Inc()
		d.log.Warn("bad command_length; closing", zap.Uint32("length", fe.Length), zap.Uint32("seq", fe.Seq))
		_ = d.c.Write(pdu.AppendGenericNack(nil, pdu.StatusInvCmdLen, fe.Seq))
		d.s.m.out(0, pdu.GenericNack)
	case errors.Is(err, os.ErrDeadlineExceeded) && d.bind == unbound:
		d.s.m.binds.WithLabelValues(legDownstream, bindTimeout).Inc()
		d.log.Info("no bind in time; closing")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		if !d.isDone() {
			d.log.Info("peer connection ended", zap.Error(err))
		}
	}
}

// respond answers a peer request smsfw decided on locally.
func (d *downstream) respond(req pdu.CommandID, st pdu.Status, seq uint32, msgID string) {
	if d.c.WriteWith(func(b []byte) []byte { return pdu.AppendResp(b, req, st, seq, msgID) }) == nil {
		d.s.m.out(0, req.Resp())
		d.s.m.response(0, req, st)
	}
}

// respondRelayed answers a relayed request that the SMSC did not answer.
func (d *downstream) respondRelayed(req pdu.CommandID, st pdu.Status, seq uint32) {
	if req.HasResponse() {
		d.respond(req, st, seq, "")
	}
}

func (d *downstream) onRequest(p pdu.PDU) bool {
	id := p.ID()
	switch {
	case id == pdu.EnquireLink:
		d.respond(id, pdu.StatusOK, p.Seq(), "")
		return true
	case id == pdu.Unbind:
		// Requests in flight are answered first (the SMSC's answer, or 0x08
		// after response_timeout); the read loop goes on meanwhile, so the
		// peer's answers to deliveries still reach the SMSC.
		if d.ending.Swap(true) {
			d.respond(id, pdu.StatusInvBndSts, p.Seq(), "")
			return true
		}
		d.s.m.binds.WithLabelValues(legDownstream, bindUnbound).Inc()
		d.log.Info("peer unbound")
		d.out.flush()
		seq := p.Seq()
		go func() {
			d.awaitAnswers()
			d.respond(pdu.Unbind, pdu.StatusOK, seq, "")
			d.c.Close()
		}()
		return true
	case d.ending.Load():
		d.s.m.malformed.WithLabelValues(legDownstream, badState).Inc()
		if id.HasResponse() {
			d.respond(id, pdu.StatusInvBndSts, p.Seq(), "")
		}
		return true
	case id.IsBind():
		if d.bind != unbound {
			d.s.m.binds.WithLabelValues(legDownstream, bindAlreadyBound).Inc()
			d.respond(id, pdu.StatusAlyBnd, p.Seq(), "")
			return true
		}
		d.onBind(p)
		return true
	case !id.Known() || id == pdu.Outbind || id == pdu.AlertNotification:
		d.s.m.malformed.WithLabelValues(legDownstream, badCommand).Inc()
		if ce := d.log.Check(zap.InfoLevel, "unsupported command from peer"); ce != nil {
			ce.Write(zap.Stringer("command", id))
		}
		if id.HasResponse() {
			_ = d.c.Write(pdu.AppendGenericNack(nil, pdu.StatusInvCmdID, p.Seq()))
			d.s.m.out(0, pdu.GenericNack)
		}
		return true
	case d.bind == unbound || !d.canTransmit() || id == pdu.DeliverSM:
		d.s.m.malformed.WithLabelValues(legDownstream, badState).Inc()
		d.respond(id, pdu.StatusInvBndSts, p.Seq(), "")
		return true
	}
	d.onSubmit(p)
	return true
}

// onSubmit handles submit_sm, submit_multi, data_sm, query_sm, cancel_sm and replace_sm.
func (d *downstream) onSubmit(p pdu.PDU) {
	start := d.c.ReadAt()
	id := p.ID()
	if d.s.draining.Load() {
		d.respond(id, pdu.StatusThrottled, p.Seq(), "")
		return
	}
	if !id.IsMessage() {
		if err := pdu.Validate(p); err != nil {
			d.malformed(p, err)
			return
		}
		d.forward(p, start, nil, &d.out, &d.st)
		return
	}
	if err := pdu.ParseMessage(p, &d.msg); err != nil {
		d.malformed(p, err)
		return
	}
	if c, ok, _ := d.msg.Concat(); ok && d.s.asm.holdMT(d, p, c, start, &d.out, &d.st) {
		return // held until every segment is in (or the timeout); decided together
	}
	if !d.localBudget(start) {
		// A flood of messages smsfw answers itself: throttled before
		// inspection until the budget refills.
		d.s.m.localThrottled.WithLabelValues(d.key).Inc()
		d.respond(id, pdu.StatusThrottled, p.Seq(), "")
		return
	}
	d.req = filter.Request{Direction: filter.MT, Peer: d.key, PeerClass: d.class(), SystemID: d.systemID, Msg: &d.msg, Time: start,
		Shard: d.shard}
	v := d.s.inspect(&d.req, d.log, &d.st)
	d.answeredLocally(v.Action)
	if d.s.canHold(v) {
		if !d.acquireHold(&d.out) {
			d.respond(id, pdu.StatusThrottled, p.Seq(), "")
			return
		}
		d.s.quarantineMT(v, []heldPart{{d: d, id: id, seq: p.Seq(), slot: true}}, []pdu.PDU{p})
		return
	}
	d.apply(v, p, &d.msg, start, &d.out, &d.st)
}

// apply carries out an MT verdict for one PDU (a whole message or one
// segment of it). out and st belong to the calling goroutine.
// v.Event, when set, is recorded with this PDU's answer (the caller passes
// it with the first part only).
func (d *downstream) apply(v filter.Verdict, p pdu.PDU, m *pdu.Message, start int64, out *batch, st *loopStats) {
	id := p.ID()
	ev := v.Event
	keepRaw(ev, p)
	switch v.Action {
	case filter.Allow, filter.Flag:
		d.forward(p, start, ev, out, st)
	case filter.Throttle:
		status := orStatus(v.Status, pdu.StatusThrottled)
		d.respond(id, status, p.Seq(), "")
		d.s.record(ev, status, "")
	case filter.Drop:
		msgID := d.s.newMessageID()
		d.respond(id, pdu.StatusOK, p.Seq(), msgID)
		if v.Receipt != filter.NoReceipt && m.RegisteredDelivery&0x03 != 0 {
			d.scheduleReceipt(msgID, m, v.Receipt)
		}
		d.s.record(ev, pdu.StatusOK, msgID)
	default: // Reject, and Quarantine when no store holds messages.
		status := orStatus(v.Status, pdu.StatusSubmitFail)
		d.respond(id, status, p.Seq(), "")
		d.s.record(ev, status, "")
	}
}

// forward relays a request upstream, or answers 0x08 when no leg takes it.
func (d *downstream) forward(p pdu.PDU, start int64, ev *filter.Event, out *batch, st *loopStats) {
	id := p.ID()
	// A pass-through leg serves this session alone: its window is the
	// session's window. Pooled legs are shared, so the peer's own window
	// applies as well.
	peerSlot := d.lp != nil
	if peerSlot && !d.acquireMT(out) {
		d.respond(id, pdu.StatusSysErr, p.Seq(), "")
		d.s.record(ev, pdu.StatusSysErr, "")
		return
	}
	for tries := 0; tries < 3; tries++ {
		l := d.upstreamLeg(out)
		if l == nil {
			break
		}
		if l.send(d, p, start, peerSlot, ev, out, st) {
			return
		}
		<-l.window
	}
	if peerSlot {
		d.releaseMT()
	}
	d.respond(id, pdu.StatusSysErr, p.Seq(), "")
	d.s.record(ev, pdu.StatusSysErr, "")
}

func (d *downstream) malformed(p pdu.PDU, err error) {
	d.s.m.malformed.WithLabelValues(legDownstream, badBody).Inc()
	if ce := d.log.Check(zap.InfoLevel, "malformed PDU from peer"); ce != nil {
		ce.Write(zap.Stringer("command", p.ID()), zap.Uint32("seq", p.Seq()), zap.Error(err))
	}
	d.respond(p.ID(), pdu.StatusOf(err), p.Seq(), "")
}

// upstreamLeg returns a leg with a window slot taken, or nil.
func (d *downstream) upstreamLeg(out *batch) *upLeg {
	if d.lp != nil {
		return d.lp.pool.Load().acquire(d.done, out)
	}
	if d.leg.acquire(out, d.done) {
		return d.leg
	}
	return nil
}

// acquire takes a slot in the peer's window, blocking (which stops reading
// the peer's socket) while it is full; false if the session or cancel ends.
func (d *downstream) acquire(cancel <-chan struct{}, pending *batch) bool {
	select {
	case d.window <- struct{}{}:
		return true
	default:
	}
	if pending != nil {
		pending.flush()
	}
	select {
	case d.window <- struct{}{}:
		return true
	case <-d.done:
		return false
	case <-cancel:
		return false
	}
}

// acquireHold takes a slot of the session's window for a quarantined
// message waiting for the store, blocking (back-pressure) while it is full.
func (d *downstream) acquireHold(pending *batch) bool {
	select {
	case d.holds <- struct{}{}:
		return true
	default:
	}
	pending.flush()
	select {
	case d.holds <- struct{}{}:
		return true
	case <-d.done:
		return false
	}
}

func (d *downstream) releaseHold() { <-d.holds }

// awaitAnswers waits until the session's relayed requests and held
// messages are answered, at most response_timeout and a second.
func (d *downstream) awaitAnswers() {
	if d.inflightMT.Load() == 0 && len(d.holds) == 0 {
		return
	}
	deadline := time.NewTimer(d.s.cfg.ResponseTimeout + time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for d.inflightMT.Load() > 0 || len(d.holds) > 0 {
		select {
		case <-deadline.C:
			d.log.Warn("session ending with requests unanswered", zap.Int64("inflight", d.inflightMT.Load()))
			return
		case <-d.done:
			return
		case <-tick.C:
		}
	}
}

// tryAcquire takes a delivery slot without waiting. The upstream read loop
// must never wait for one: the answers that free MT slots arrive on it.
func (d *downstream) tryAcquire() bool {
	select {
	case d.window <- struct{}{}:
		return true
	default:
		return false
	}
}

// acquireMT takes a slot of the peer's MT window, blocking (which stops
// reading the peer's socket) while it is full.
func (d *downstream) acquireMT(pending *batch) bool {
	select {
	case d.mt <- struct{}{}:
		return true
	default:
	}
	if pending != nil {
		pending.flush()
	}
	select {
	case d.mt <- struct{}{}:
		return true
	case <-d.done:
		return false
	}
}

func (d *downstream) releaseMT() { <-d.mt }

// deliver sends a deliver_sm/data_sm from leg l to the peer; the caller
// holds a window slot and keeps it on failure.
func (d *downstream) deliver(l *upLeg, p pdu.PDU, start int64, ev *filter.Event, out *batch, st *loopStats) bool {
	upSeq := p.Seq()
	d.mu.Lock()
	if d.dead {
		d.mu.Unlock()
		return false
	}
	seq, ok := d.pending.put(downPending{leg: l, upSeq: upSeq, cmd: p.ID(), start: start, deadline: start + int64(d.s.cfg.ResponseTimeout), ev: ev})
	d.mu.Unlock()
	if !ok {
		return false
	}
	d.s.m.inflightDn.Add(d.shard, 1)
	l.owedDn.Add(1)
	p.SetSeq(seq)
	err := d.c.Append(p)
	out.add(d.c)
	p.SetSeq(upSeq)
	if err != nil {
		d.mu.Lock()
		_, mine := d.pending.take(seq)
		d.mu.Unlock()
		if mine {
			d.s.m.inflightDn.Add(d.shard, -1)
			l.owedDn.Add(-1)
			return false
		}
		return true
	}
	st.countOut(0, p.ID())
	return true
}

// onResponse correlates a peer's response to a deliver_sm we sent.
func (d *downstream) onResponse(p pdu.PDU) {
	d.mu.Lock()
	e, ok := d.pending.take(p.Seq())
	d.mu.Unlock()
	if !ok {
		d.s.m.late.WithLabelValues(legDownstream).Inc()
		return
	}
	if e.reply != nil {
		d.releaseWindow()
		st := p.Status()
		if p.ID() != e.cmd.Resp() && p.ID() != pdu.GenericNack {
			st = pdu.StatusXTAppn
		}
		e.reply <- reply{status: st}
		return
	}
	if e.local {
		if e.cmd == pdu.Unbind {
			d.unboundOnce.Do(func() { close(d.unbound) }) // shutdown and a lost leg may both unbind
		}
		if e.cmd == pdu.DeliverSM {
			d.releaseWindow()
		}
		return
	}
	d.s.m.inflightDn.Add(d.shard, -1)
	e.leg.owedDn.Add(-1)
	d.releaseWindow()
	if p.ID() != e.cmd.Resp() && p.ID() != pdu.GenericNack {
		d.s.m.malformed.WithLabelValues(legDownstream, badUnexpected).Inc()
		e.leg.respond(e.cmd, pdu.StatusXTAppn, e.upSeq, "")
		d.s.record(e.ev, pdu.StatusXTAppn, "")
		return
	}
	d.s.record(e.ev, p.Status(), "")
	p.SetSeq(e.upSeq)
	if e.leg.c.Write(p) != nil {
		d.s.m.late.WithLabelValues(legUpstream).Inc()
		return
	}
	d.st.countOut(1, p.ID())
	d.st.resp(1, e.cmd, p.Status())
	d.st.observe(e.cmd, d.c.ReadAt()-e.start)
}

// sendLocal sends a request of smsfw's own to the peer.
func (d *downstream) sendLocal(id pdu.CommandID, raw []byte) bool {
	now := time.Now().UnixNano()
	d.mu.Lock()
	if d.dead {
		d.mu.Unlock()
		return false
	}
	seq, ok := d.pending.put(downPending{cmd: id, start: now, deadline: now + int64(d.s.cfg.ResponseTimeout), local: true})
	d.mu.Unlock()
	if !ok {
		return false
	}
	if raw == nil {
		raw = pdu.AppendHeaderOnly(nil, id, 0, seq)
	} else {
		pdu.PDU(raw).SetSeq(seq)
	}
	if d.c.Write(raw) != nil {
		return false
	}
	d.s.m.out(0, id)
	return true
}

// timers: enquire_link on idle, dead peer detection, response timeouts.
func (d *downstream) timers() {
	t := time.NewTicker(tickFor(d.s.cfg))
	defer t.Stop()
	var lastEnquire int64
	for {
		select {
		case <-d.done:
			return
		case now := <-t.C:
			idle := d.c.IdleFor(now)
			if idle > d.s.cfg.InactivityTimeout {
				d.log.Info("peer silent; closing", zap.Duration("idle", idle))
				d.c.Abort()
				return
			}
			if idle > d.s.cfg.EnquireLinkInterval && now.UnixNano()-lastEnquire > int64(d.s.cfg.EnquireLinkInterval) {
				lastEnquire = now.UnixNano()
				d.sendLocal(pdu.EnquireLink, nil)
			}
			d.expire(now.UnixNano())
		}
	}
}

func (d *downstream) expire(now int64) {
	var expired []downPending
	d.mu.Lock()
	d.pending.drain(func(e *downPending) bool { return e.deadline < now },
		func(_ uint32, e downPending) { expired = append(expired, e) })
	d.mu.Unlock()
	for _, e := range expired {
		if e.reply != nil {
			d.releaseWindow()
			e.reply <- reply{status: pdu.StatusXTAppn}
			continue
		}
		if e.local {
			if e.cmd == pdu.DeliverSM {
				d.releaseWindow()
			}
			continue
		}
		d.s.m.inflightDn.Add(d.shard, -1)
		d.s.m.timeouts.WithLabelValues(legDownstream).Inc()
		e.leg.owedDn.Add(-1)
		d.releaseWindow()
		e.leg.respond(e.cmd, pdu.StatusXTAppn, e.upSeq, "")
		d.s.record(e.ev, pdu.StatusXTAppn, "")
	}
	d.expireQueue(now)
}

// failDeliveries answers the SMSC for every delivery awaiting the peer
// (0x64: it retries) when the peer can no longer answer them.
func (d *downstream) failDeliveries() {
	var pending []downPending
	d.mu.Lock()
	d.pending.drain(func(e *downPending) bool { return !e.local && e.reply == nil },
		func(_ uint32, e downPending) { pending = append(pending, e) })
	d.mu.Unlock()
	d.closeQueue()
	for _, e := range pending {
		d.s.m.inflightDn.Add(d.shard, -1)
		e.leg.owedDn.Add(-1)
		e.leg.respond(e.cmd, pdu.StatusXTAppn, e.upSeq, "")
		d.s.record(e.ev, pdu.StatusXTAppn, "")
	}
	if n := len(pending); n > 0 {
		d.s.m.failed.WithLabelValues(legDownstream).Add(float64(n))
		d.log.Warn("answered SMSC deliveries after peer loss", zap.Int("count", n))
	}
}

// close ends the session: deliver_sm awaiting the peer are answered to the
// SMSC with ESME_RX_T_APPN (it retries), and a pass-through leg is unbound.
func (d *downstream) close(reason string) {
	d.mu.Lock()
	if d.dead {
		d.mu.Unlock()
		return
	}
	d.dead = true
	var pending []downPending
	d.pending.drain(func(*downPending) bool { return true }, func(_ uint32, e downPending) { pending = append(pending, e) })
	d.mu.Unlock()
	close(d.done)
	if d.bind != unbound {
		d.s.unregister(d)
	}
	d.closeQueue()
	d.c.Close()
	n := 0
	for _, e := range pending {
		if e.reply != nil {
			e.reply <- reply{status: pdu.StatusXTAppn}
			continue
		}
		if e.local {
			continue
		}
		n++
		d.s.m.inflightDn.Add(d.shard, -1)
		e.leg.owedDn.Add(-1)
		e.leg.respond(e.cmd, pdu.StatusXTAppn, e.upSeq, "")
		d.s.record(e.ev, pdu.StatusXTAppn, "")
	}
	if n > 0 {
		d.s.m.failed.WithLabelValues(legDownstream).Add(float64(n))
		d.log.Warn("answered SMSC deliveries after peer loss", zap.Int("count", n))
	}
	if d.leg != nil {
		// Long-message parts this session was answered for may still be
		// on their way to the SMSC on this leg: unbind once they are.
		// Tracked: Shutdown waits for it (close runs on a session
		// goroutine, so the group is not at zero here).
		d.s.wg.Add(1)
		go func() { defer d.s.wg.Done(); d.leg.unbindWhenIdle() }()
	}
	if d.bind != unbound {
		d.log.Info("session closed", zap.String("reason", reason))
	}
}

// unbindWait bounds how long shutdown waits for a peer's unbind_resp.
// Until it comes the session reads on: every request the peer sent before
// it saw the unbind is answered (0x58 while draining), since TCP delivers
// those before the unbind_resp. A peer that never answers costs this much.
const unbindWait = 5 * time.Second

// unbindAndClose is used at shutdown: unbind the peer, wait for its
// unbind_resp (bounded), then close, writing what is queued for it first
// (bounded by the write timeout): answers are never dropped.
func (d *downstream) unbindAndClose(reason string) {
	if d.bind != unbound && d.sendLocal(pdu.Unbind, nil) {
		t := time.NewTimer(unbindWait)
		select {
		case <-d.unbound:
		case <-d.done:
		case <-t.C:
		}
		t.Stop()
	}
	d.c.Close()
	d.close(reason)
}

// onBind authenticates (config mode) or relays (pass-through) a bind.
func (d *downstream) onBind(p pdu.PDU) {
	var b pdu.Bind
	if err := pdu.ParseBind(p, &b); err != nil {
		d.s.m.binds.WithLabelValues(legDownstream, bindBadSystemID).Inc()
		d.malformed(p, err)
		return
	}
	sysID := string(b.SystemID)
	log := d.log.With(zap.String("system_id", sysID), zap.Stringer("bind", p.ID()))
	if d.s.draining.Load() {
		d.respond(p.ID(), pdu.StatusBindFail, p.Seq(), "")
		return
	}
	if d.s.cfg.PassThrough() {
		d.bindPassThrough(p, sysID, log)
		return
	}
	lp := d.s.peerBySystemID(sysID)
	var peer *Peer
	if lp != nil {
		peer = lp.cfg.Load()
	}
	fail := func(st pdu.Status, result string) {
		d.s.m.binds.WithLabelValues(legDownstream, result).Inc()
		lvl := zap.WarnLevel
		if result == bindLockedOut || result == bindAuthBusy { // floods: the lockout itself is the warning
			lvl = zap.InfoLevel
		}
		if ce := log.Check(lvl, "bind refused"); ce != nil {
			ce.Write(zap.String("result", result))
		}
		if lp != nil {
			lp.lastErr.set(errBindRefused, result, d.remote.String())
		}
		d.respond(p.ID(), st, p.Seq(), "")
	}
	if !d.authenticate(peer, b.Password, fail) {
		return
	}
	w := peer.Window
	if w == 0 {
		w = d.s.cfg.DefaultWindow
	}
	d.lp, d.key, d.systemID = lp, peer.Name, sysID
	d.window = make(chan struct{}, w)
	d.mt = make(chan struct{}, w)
	d.holds = make(chan struct{}, w)
	d.pending = newTable[downPending](w)
	if !d.bound(p.ID(), log, peer.MaxSessions) {
		fail(pdu.StatusBindFail, bindTooMany)
		return
	}
	id, seq := p.ID(), p.Seq()
	if d.answerBind(id.Resp(), func(b []byte) []byte { return pdu.AppendResp(b, id, pdu.StatusOK, seq, "smsfw") }) {
		d.s.m.response(0, id, pdu.StatusOK)
	}
}

// answerBind queues the bind_resp, lets deliveries and smsfw's own requests
// reach the session, then sends: a delivery routed to the session once it
// registered must not reach the peer before its bind is answered, and one
// routed after the peer can read the bind_resp must not be refused (it is
// queued behind the bind_resp). A session that registered but has not
// answered is skipped by receiverFor.
func (d *downstream) answerBind(respID pdu.CommandID, resp func([]byte) []byte) bool {
	err := d.c.AppendWith(resp)
	d.answered.Store(true)
	d.c.Flush()
	if err != nil {
		return false
	}
	d.s.m.out(0, respID)
	return true
}

// authenticate checks a config-mode bind: lockouts first (no password
// check for a locked-out source or system_id), then system_id, source
// address and password. Failures count toward lockouts; fail answers.
func (d *downstream) authenticate(peer *Peer, password []byte, fail func(pdu.Status, string)) bool {
	a := d.s.auth
	if locked, _ := a.lockedOut(d.remote, peer); locked {
		fail(pdu.StatusBindFail, bindLockedOut)
		return false
	}
	switch {
	case peer == nil:
		a.failed(d.remote, nil, "")
		fail(pdu.StatusInvSysID, bindBadSystemID)
		return false
	case !peer.allows(d.remote):
		// Counts against the source only: binds from outside allowed_cidrs
		// can never succeed, and must not lock the real peer out.
		a.failed(d.remote, nil, peer.Name)
		fail(pdu.StatusBindFail, bindNotAllowed)
		return false
	}
	// A guess is admitted only while failures plus guesses under way stay
	// under the lockout thresholds: a burst of concurrent binds cannot put
	// more guesses through than the lockout allows.
	switch r, _ := a.admit(d.remote, peer); r {
	case admitLocked:
		fail(pdu.StatusBindFail, bindLockedOut)
		return false
	case admitBusy:
		fail(pdu.StatusThrottled, bindAuthBusy)
		return false
	}
	switch a.verify(peer, password) {
	case authBusy:
		a.settle(d.remote, peer, peer.Name, guessUnchecked)
		fail(pdu.StatusThrottled, bindAuthBusy)
		return false
	case authMismatch:
		a.settle(d.remote, peer, peer.Name, guessFailed)
		fail(pdu.StatusInvPaswd, bindBadPassword)
		return false
	}
	if !a.settle(d.remote, peer, peer.Name, guessOK) { // locked out meanwhile
		fail(pdu.StatusBindFail, bindLockedOut)
		return false
	}
	return true
}

func (p *Peer) allows(a netip.Addr) bool {
	if len(p.prefixes) == 0 {
		return true
	}
	for _, pfx := range p.prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// boundHook, when set (tests), runs once a session has registered and
// before its bind is answered.
var boundHook func()

// bound registers the session as bound, unless its peer is at maxSessions.
func (d *downstream) bound(id pdu.CommandID, log *zap.Logger, maxSessions int) bool {
	d.bind = bindTypeOf(id)
	if !d.s.register(d, maxSessions) {
		d.bind = unbound
		return false
	}
	d.log = log
	if boundHook != nil {
		boundHook()
	}
	_ = d.c.NC.SetReadDeadline(time.Time{})
	d.s.m.binds.WithLabelValues(legDownstream, bindOK).Inc()
	log.Info("peer bound")
	go d.timers()
	return true
}

// bindPassThrough relays the peer's bind, byte for byte, on a new upstream
// connection; the SMSC's answer is the peer's answer.
func (d *downstream) bindPassThrough(p pdu.PDU, sysID string, log *zap.Logger) {
	// The SMSC checks the credentials; smsfw still locks out a source whose
	// binds it keeps refusing, so guesses through smsfw stay bounded.
	if locked, _ := d.s.auth.lockedOut(d.remote, nil); locked {
		d.s.m.binds.WithLabelValues(legDownstream, bindLockedOut).Inc()
		if ce := log.Check(zap.InfoLevel, "bind refused"); ce != nil {
			ce.Write(zap.String("result", bindLockedOut))
		}
		d.respond(p.ID(), pdu.StatusBindFail, p.Seq(), "")
		return
	}
	// The guess is reserved before the round trip, so concurrent binds
	// from one source cannot put more guesses through than the lockout
	// allows (failures are known only when the SMSC answers).
	switch r, _ := d.s.auth.admit(d.remote, nil); r {
	case admitLocked:
		d.s.m.binds.WithLabelValues(legDownstream, bindLockedOut).Inc()
		d.respond(p.ID(), pdu.StatusBindFail, p.Seq(), "")
		return
	case admitBusy:
		d.s.m.binds.WithLabelValues(legDownstream, bindAuthBusy).Inc()
		d.respond(p.ID(), pdu.StatusThrottled, p.Seq(), "")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.s.cfg.BindTimeout)
	defer cancel()
	bind := append([]byte(nil), p...)
	c, resp, err := bindUpstream(ctx, d.s, d.s.upstream, d.s.upTLS, bind)
	if err != nil {
		d.s.auth.settle(d.remote, nil, sysID, guessUnchecked)
		d.s.m.binds.WithLabelValues(legDownstream, bindUpstreamError).Inc()
		log.Warn("upstream bind failed", zap.Error(err))
		d.respond(p.ID(), pdu.StatusBindFail, p.Seq(), "")
		return
	}
	resp.SetSeq(p.Seq())
	if resp.Status() != pdu.StatusOK || resp.ID() == pdu.GenericNack {
		d.s.m.binds.WithLabelValues(legDownstream, bindRejected).Inc()
		log.Info("SMSC refused bind", zap.Stringer("status", resp.Status()))
		switch resp.Status() {
		case pdu.StatusInvPaswd, pdu.StatusInvSysID, pdu.StatusBindFail:
			d.s.auth.settle(d.remote, nil, sysID, guessFailed)
		default:
			d.s.auth.settle(d.remote, nil, sysID, guessUnchecked)
		}
		c.Abort()
		_ = d.c.Write(resp)
		d.s.m.out(0, resp.ID())
		return
	}
	if !d.s.auth.settle(d.remote, nil, sysID, guessOK) {
		// Locked out while the SMSC checked: its yes must not bind.
		d.s.m.binds.WithLabelValues(legDownstream, bindLockedOut).Inc()
		c.Abort()
		d.respond(p.ID(), pdu.StatusBindFail, p.Seq(), "")
		return
	}
	d.key, d.systemID = sysID, sysID
	d.window = make(chan struct{}, d.s.cfg.DefaultWindow)
	d.leg = newUpLeg(d.s, c, "passthrough", sysID, d.s.cfg.DefaultWindow, d)
	d.bound(p.ID(), log, 0)
	d.answerBind(resp.ID(), func(b []byte) []byte { return append(b, resp...) })
	d.s.wg.Add(1) // on the session's goroutine: the group is not at zero
	go func() {
		defer d.s.wg.Done()
		d.leg.run()
		// The SMSC side is gone: the peer's bind no longer means anything.
		if !d.isDone() {
			select {
			case <-d.s.closed: // Shutdown unbound the leg first
				d.unbindAndClose("shutdown")
			default:
				log.Warn("upstream lost; unbinding peer")
				d.unbindAndClose("upstream lost")
			}
		}
	}()
}

// inspect runs the inspector and applies the fail mode on error or panic.
func (s *Server) inspect(r *filter.Request, log *zap.Logger, st *loopStats) filter.Verdict {
	v, err := s.safeInspect(r, log)
	if err != nil {
		s.m.filterErrs.Inc()
		if ce := log.Check(zap.ErrorLevel, "inspector failed"); ce != nil {
			ce.Write(zap.Error(err))
		}
		if s.cfg.OnFilterError == "tempfail" {
			return filter.Verdict{Action: filter.Throttle, Status: pdu.StatusSysErr, RuleID: "filter-error"}
		}
		return filter.AllowVerdict
	}
	if int(v.Action) >= filter.NumActions {
		s.m.filterErrs.Inc()
		log.Error("inspector returned an unknown action", zap.Uint8("action", uint8(v.Action)))
		v = filter.AllowVerdict
	}
	kind := verdictKind(r)
	st.verdict(kind, v.Action, 1)
	st.peerVerdict(s.m, r.Peer, kind, v.Action)
	if v.Action != filter.Allow {
		s.verdicts.log(log, r, &v)
	}
	return v
}

// ErrInspectorPanic wraps a panic recovered in inspection.
var ErrInspectorPanic = errors.New("proxy: inspector panicked")

// safeInspect calls the inspector, turning a panic into an error: a bug in
// a detector or a rule costs one message its verdict, never the process.
// The stack is logged once per distinct panic site.
func (s *Server) safeInspect(r *filter.Request, log *zap.Logger) (v filter.Verdict, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.m.panics.Inc()
			stack := debug.Stack()
			site := panicSite(stack)
			if _, seen := s.panicSites.LoadOrStore(site, true); !seen {
				log.Error("inspector panicked; applying on_filter_error (stack logged once per site)",
					zap.Any("panic", p), zap.String("site", site), zap.ByteString("stack", stack))
			}
			v, err = filter.Verdict{}, fmt.Errorf("%w: %v", ErrInspectorPanic, p)
		}
	}()
	return s.insp.Inspect(r)
}

// panicSite is the first frame below the panic that is not the runtime's:
// function and file:line, without arguments or offsets (they vary).
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "panic(") {
			continue
		}
		for j := i + 2; j+1 < len(lines); j += 2 {
			fn := lines[j]
			if k := strings.LastIndexByte(fn, '('); k > 0 {
				fn = fn[:k]
			}
			if strings.HasPrefix(fn, "runtime.") {
				continue
			}
			at := strings.TrimSpace(lines[j+1])
			if k := strings.LastIndex(at, " +0x"); k > 0 {
				at = at[:k]
			}
			return fn + " " + at
		}
	}
	return "unknown"
}
