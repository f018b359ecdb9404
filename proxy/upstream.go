package proxy

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/tlsfiles"
	"github.com/smsfw/smsfw/smpp/link"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// upPending is a request smsfw sent on an upstream leg.
type upPending struct {
	down     *downstream // who gets the response; nil for local requests
	downSeq  uint32
	cmd      pdu.CommandID
	start    int64 // when the request was read from the peer
	deadline int64
	local    bool          // enquire_link / unbind of our own: no window, no relay
	peerSlot bool          // the request also holds a slot in the peer's window
	ev       *filter.Event // recorded with the SMSC's answer
	reply    chan reply    // a request smsfw originated (a released message): its answer goes here
	owed     *owed         // a long-message part smsfw answered itself: its relay's outcome goes here
}

// lateEntry remembers a request answered on timeout, so that the SMSC's
// late answer still tells the inspector which message id it accepted
// (else that message's genuine receipts look fake).
type lateEntry struct {
	seq uint32
	key string
	cmd pdu.CommandID
}

const lateRemembered = 1024

// upLeg is one bound session toward the SMSC. smsfw is the ESME here.
type upLeg struct {
	s      *Server
	c      *link.Conn
	name   string      // upstream name for metrics and logs
	key    string      // peer key whose sessions get this leg's deliver_sm
	owner  *downstream // pass-through: the peer session this leg belongs to
	pool   *pool       // config mode: the pool this leg belongs to
	window chan struct{}
	log    *zap.Logger

	mu      sync.Mutex
	pending *table[upPending]
	dead    bool
	done    chan struct{}
	unbound chan struct{} // closed when our unbind is answered

	lastEnquire atomic.Int64
	out         batch     // peer connections written to since the last flush (read loop only)
	st          loopStats // per-PDU counts of the read loop, published per batch
	shard       uint8     // the leg's shard of the sharded metrics

	// owedDn counts deliveries from this leg awaiting the peer (sent or
	// queued): the SMSC is owed their answers before the leg may close.
	owedDn atomic.Int64
	// closing: the SMSC unbound (or the leg is being retired); no new
	// requests go on it while what is in flight is answered.
	closing atomic.Bool
	late    [lateRemembered]lateEntry // under mu; indexed by seq
	ended   string                    // why the leg ended (under mu): the read error, else fail's reason
}

func newUpLeg(s *Server, c *link.Conn, name, key string, window int, owner *downstream) *upLeg {
	l := &upLeg{
		s: s, c: c, name: name, key: key, owner: owner, window: make(chan struct{}, window),
		pending: newTable[upPending](window), done: make(chan struct{}), unbound: make(chan struct{}),
		log: s.log.Named("upstream").With(zap.String("upstream", name), zap.String("peer", key)), shard: s.m.shard(),
	}
	l.st.shard = l.shard
	return l
}

// bindUpstream dials addr and binds with the given bind PDU (relayed as is in
// pass-through mode), returning the connection and the raw bind response.
func bindUpstream(ctx context.Context, s *Server, addr string, t *tlsfiles.Config, bind []byte) (*link.Conn, pdu.PDU, error) {
	nc, err := s.dialUpstream(ctx, addr, t)
	if err != nil {
		return nil, nil, err
	}
	c := link.New(nc, s.cfg.MaxPDUSize, s.cfg.WriteTimeout)
	seq := c.NextSeq()
	pdu.PDU(bind).SetSeq(seq)
	if err := c.Write(bind); err != nil {
		c.Abort()
		return nil, nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(s.cfg.BindTimeout))
	for {
		p, err := c.Read()
		if err != nil {
			c.Abort()
			return nil, nil, err
		}
		s.m.in(1, p.ID())
		switch {
		case p.ID() == pdu.EnquireLink:
			_ = c.Write(pdu.AppendHeaderOnly(nil, pdu.EnquireLinkResp, 0, p.Seq()))
			continue
		case p.Seq() != seq || (p.ID() != pdu.PDU(bind).ID().Resp() && p.ID() != pdu.GenericNack):
			continue
		}
		_ = nc.SetReadDeadline(time.Time{})
		resp := append([]byte(nil), p...)
		return c, resp, nil
	}
}

// run reads the leg until it dies; then every in-flight request is answered.
func (l *upLeg) run() {
	defer l.fail("upstream lost")
	defer l.st.publish(l.s.m, 1)
	defer l.out.flush()
	go l.timers()
	for {
		p, err := l.c.Read()
		if err != nil {
			l.readError(err)
			return
		}
		l.st.countIn(p.ID())
		if p.ID().IsResponse() {
			l.onResponse(p)
		} else if !l.onRequest(p) {
			return
		}
		if l.c.Buffered() == 0 {
			l.out.flush()
			l.st.publish(l.s.m, 1)
		} else {
			l.out.late(l.c.ReadAt())
		}
	}
}

func (l *upLeg) readError(err error) {
	l.mu.Lock()
	if l.ended == "" {
		l.ended = err.Error()
	}
	l.mu.Unlock()
	var fe *pdu.FrameError
	if errors.As(err, &fe) {
		l.s.m.malformed.WithLabelValues(legUpstream, badFrame).Inc()
		_ = l.c.Write(pdu.AppendGenericNack(nil, pdu.StatusInvCmdLen, fe.Seq))
		l.log.Warn("bad frame from SMSC; closing", zap.Error(err))
		return
	}
	if !l.isDead() {
		l.log.Info("upstream connection ended", zap.Error(err))
	}
}

func (l *upLeg) isDead() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dead
}

// send relays request p (a view; its sequence number is patched) for peer
// session d. The caller holds a window slot; on false it still does and
// must answer the peer itself.
func (l *upLeg) send(d *downstream, p pdu.PDU, start int64, peerSlot bool, ev *filter.Event, out *batch, st *loopStats) bool {
	downSeq := p.Seq()
	l.mu.Lock()
	if l.dead || l.closing.Load() {
		l.mu.Unlock()
		return false
	}
	seq, ok := l.pending.put(upPending{down: d, downSeq: downSeq, cmd: p.ID(), start: start,
		deadline: start + int64(l.s.cfg.ResponseTimeout), peerSlot: peerSlot, ev: ev})
	if ok {
		d.inflightMT.Add(1)
	}
	l.mu.Unlock()
	if !ok {
		return false
	}
	l.s.m.inflightUp.Add(l.shard, 1)
	p.SetSeq(seq)
	err := l.c.Append(p)
	out.add(l.c)
	p.SetSeq(downSeq)
	if err != nil {
		l.mu.Lock()
		_, mine := l.pending.take(seq)
		l.mu.Unlock()
		if mine {
			l.s.m.inflightUp.Add(l.shard, -1)
			d.inflightMT.Add(-1)
			return false
		}
		// fail() took it and answered the peer already.
		return true
	}
	st.countOut(1, p.ID())
	return true
}

// acquire takes a slot of the leg's window, flushing out before it waits
// (back-pressure); false when the leg ends or cancel fires first.
func (l *upLeg) acquire(out *batch, cancel <-chan struct{}) bool {
	select {
	case l.window <- struct{}{}:
		return true
	default:
	}
	out.flush()
	select {
	case l.window <- struct{}{}:
		return true
	case <-l.done:
		return false
	case <-cancel:
		return false
	}
}

// sendLocal sends a request of smsfw's own (enquire_link, unbind).
func (l *upLeg) sendLocal(id pdu.CommandID) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return
	}
	now := time.Now().UnixNano()
	seq, ok := l.pending.put(upPending{cmd: id, start: now, deadline: now + int64(l.s.cfg.ResponseTimeout), local: true})
	l.mu.Unlock()
	if !ok {
		return
	}
	if l.c.Write(pdu.AppendHeaderOnly(nil, id, 0, seq)) == nil {
		l.s.m.out(1, id)
	}
}

func (l *upLeg) onResponse(p pdu.PDU) {
	l.mu.Lock()
	e, ok := l.pending.take(p.Seq())
	var le lateEntry
	if !ok {
		if x := &l.late[p.Seq()%lateRemembered]; x.seq == p.Seq() && x.seq != 0 {
			le, *x = *x, lateEntry{}
		}
	}
	l.mu.Unlock()
	if !ok {
		l.s.m.late.WithLabelValues(legUpstream).Inc()
		l.learnLate(le, p)
		if ce := l.log.Check(zap.DebugLevel, "response without request"); ce != nil {
			ce.Write(zap.Stringer("command", p.ID()), zap.Uint32("seq", p.Seq()))
		}
		return
	}
	if e.local {
		if e.cmd == pdu.Unbind {
			close(l.unbound)
		}
		return
	}
	<-l.window
	l.s.m.inflightUp.Add(l.shard, -1)
	wrong := p.ID() != e.cmd.Resp() && p.ID() != pdu.GenericNack
	// The SMSC's id of an accepted message: for fake-receipt detection,
	// the event, and a released message's caller.
	var accepted []byte
	if !wrong && (l.s.obs != nil || e.ev != nil || e.reply != nil || e.owed != nil) && p.Status() == pdu.StatusOK &&
		e.cmd != pdu.QuerySM && e.cmd.IsMessage() {
		var mr pdu.MessageResp
		if pdu.ParseMessageResp(p, &mr) == nil {
			accepted = mr.MessageID
			if l.s.obs != nil {
				key := l.key
				if e.down != nil {
					key = e.down.key
				}
				l.s.obs.Accepted(key, accepted, l.c.ReadAt())
			}
		}
	}
	if e.reply != nil || e.owed != nil {
		r := reply{status: p.Status(), msgID: string(accepted)}
		if wrong {
			r.status = pdu.StatusSysErr
		}
		if e.owed != nil {
			e.owed.done(r)
			return
		}
		e.reply <- r
		return
	}
	d := e.down
	defer d.inflightMT.Add(-1) // after the answer is queued to the peer
	if e.peerSlot {
		d.releaseMT()
	}
	if wrong {
		l.s.m.malformed.WithLabelValues(legUpstream, badUnexpected).Inc()
		l.log.Warn("SMSC answered with the wrong command", zap.Stringer("request", e.cmd), zap.Stringer("response", p.ID()))
		d.respondRelayed(e.cmd, pdu.StatusSysErr, e.downSeq)
		l.s.record(e.ev, pdu.StatusSysErr, "")
		return
	}
	l.s.record(e.ev, p.Status(), string(accepted))
	p.SetSeq(e.downSeq)
	l.out.add(d.c)
	if d.c.Append(p) != nil {
		l.s.m.late.WithLabelValues(legDownstream).Inc()
	} else {
		l.st.countOut(0, p.ID())
		l.st.resp(0, e.cmd, p.Status())
	}
	l.st.observe(e.cmd, l.c.ReadAt()-e.start)
}

// onRequest handles a request from the SMSC; false ends the leg.
func (l *upLeg) onRequest(p pdu.PDU) bool {
	switch id := p.ID(); id {
	case pdu.EnquireLink:
		l.respond(id, pdu.StatusOK, p.Seq(), "")
	case pdu.Unbind:
		if l.closing.Swap(true) {
			l.respond(id, pdu.StatusOK, p.Seq(), "")
			return true
		}
		l.log.Info("SMSC unbound")
		l.s.m.binds.WithLabelValues(legUpstream, bindUnbound).Inc()
		if l.pool != nil {
			l.pool.setLeg(l, false) // new requests go to the pool's other legs
		}
		// What is in flight on this leg is answered first, both ways: the
		// SMSC's answers to our requests (this loop goes on reading them)
		// and the peer's answers to the SMSC's deliveries.
		seq := p.Seq()
		l.out.flush()
		go func() {
			l.awaitIdle()
			l.respond(pdu.Unbind, pdu.StatusOK, seq, "")
			l.c.Close()
		}()
	case pdu.DeliverSM, pdu.DataSM:
		l.onDeliver(p)
	case pdu.AlertNotification:
		if d := l.s.receiverFor(l.key, l.owner); d != nil {
			if d.c.Write(p) == nil {
				l.s.m.out(0, id)
			}
		}
	default:
		if id.Known() {
			l.s.m.malformed.WithLabelValues(legUpstream, badState).Inc()
			if id.HasResponse() {
				l.respond(id, pdu.StatusInvBndSts, p.Seq(), "")
			}
		} else {
			l.s.m.malformed.WithLabelValues(legUpstream, badCommand).Inc()
			_ = l.c.Write(pdu.AppendGenericNack(nil, pdu.StatusInvCmdID, p.Seq()))
			l.s.m.out(1, pdu.GenericNack)
		}
	}
	return true
}

func (l *upLeg) respond(req pdu.CommandID, st pdu.Status, seq uint32, msgID string) {
	if l.c.WriteWith(func(b []byte) []byte { return pdu.AppendResp(b, req, st, seq, msgID) }) == nil {
		l.s.m.out(1, req.Resp())
		l.s.m.response(1, req, st)
	}
}

// onDeliver carries a deliver_sm / data_sm from the SMSC to a peer session,
// after the verdict. The SMSC is answered only when the peer answered.
func (l *upLeg) onDeliver(p pdu.PDU) {
	start := l.c.ReadAt()
	var m pdu.Message
	if err := pdu.ParseMessage(p, &m); err != nil {
		l.s.m.malformed.WithLabelValues(legUpstream, badBody).Inc()
		l.log.Warn("malformed message from SMSC", zap.Error(err))
		l.respond(p.ID(), pdu.StatusOf(err), p.Seq(), "")
		return
	}
	target := l.s.receiverFor(l.key, l.owner)
	var peer, class, sysID string
	if target != nil {
		peer, class, sysID = target.key, target.class(), target.systemID
	} else {
		peer = l.key
	}
	req := filter.Request{Direction: filter.MO, Peer: peer, PeerClass: class, SystemID: sysID, Msg: &m, Time: start, Shard: l.shard}
	if m.IsReceipt() {
		req.AwaitingAnswers = l.s.awaitingAnswers(l)
	}
	v := l.s.inspect(&req, l.log, &l.st)
	if l.s.canHold(v) {
		l.quarantineMO(v, p)
		return
	}
	ev := v.Event
	keepRaw(ev, p)
	answer := func(st pdu.Status) { // to the SMSC, now: the message goes no further
		l.respond(p.ID(), st, p.Seq(), "")
		l.s.record(ev, st, "")
	}
	switch {
	case v.Action == filter.Drop:
		answer(pdu.StatusOK) // deliver_sm_resp carries no message_id
	case v.Action == filter.Throttle:
		answer(orStatus(v.Status, pdu.StatusThrottled))
	case v.Action != filter.Allow && v.Action != filter.Flag: // Reject, and Quarantine when no store holds messages
		answer(orStatus(v.Status, pdu.StatusXPAppn))
	case l.s.mo != nil && !m.IsReceipt() && l.routeMO(p, &m, peer, v, start, ev):
		// Queued for the route's durable targets first; answered once it is (mo.go).
	case target == nil:
		l.s.m.deliveries.WithLabelValues(peer, dlvNoReceiver).Inc()
		answer(pdu.StatusXTAppn)
	case m.IsReceipt() && l.parkReceipt(p, &m, start, ev):
		// Came before the answers of held parts in flight (receiptpark.go).
	default:
		// Sent now, or queued while the peer's window is full.
		if ok, why := target.deliverOrQueue(l, l.s.receiptForPeer(p, &m), start, ev, &l.out, &l.st); !ok {
			st := pdu.StatusXTAppn
			if why == dlvQueueFull {
				st = pdu.StatusThrottled
			}
			l.s.m.deliveries.WithLabelValues(peer, why).Inc()
			target.noteRefused(why)
			answer(st)
		}
	}
}

func orStatus(s, def pdu.Status) pdu.Status {
	if s == 0 {
		return def
	}
	return s
}

// endReason says why the leg ended.
func (l *upLeg) endReason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// fail marks the leg dead and answers every in-flight request with
// ESME_RSYSERR (temporary), exactly once.
func (l *upLeg) fail(reason string) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return
	}
	l.dead = true
	if l.ended == "" {
		l.ended = reason
	}
	var pending []upPending
	l.pending.drain(func(*upPending) bool { return true }, func(_ uint32, e upPending) { pending = append(pending, e) })
	l.mu.Unlock()
	close(l.done)
	l.c.Abort()
	n := 0
	for _, e := range pending {
		if e.local {
			continue
		}
		n++
		l.finish(e)
	}
	if n > 0 {
		l.s.m.failed.WithLabelValues(legUpstream).Add(float64(n))
		l.log.Warn("answered in-flight requests after upstream loss", zap.Int("count", n), zap.String("reason", reason))
	}
	l.s.m.binds.WithLabelValues(legUpstream, bindLost).Inc()
}

// timers sends enquire_link on idle, detects a dead SMSC and times out
// requests the SMSC never answered.
func (l *upLeg) timers() {
	t := time.NewTicker(tickFor(l.s.cfg))
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case now := <-t.C:
			idle := l.c.IdleFor(now)
			if idle > l.s.cfg.InactivityTimeout {
				l.log.Warn("SMSC silent; closing leg", zap.Duration("idle", idle))
				l.fail("inactivity")
				return
			}
			if idle > l.s.cfg.EnquireLinkInterval && now.UnixNano()-l.lastEnquire.Load() > int64(l.s.cfg.EnquireLinkInterval) {
				l.lastEnquire.Store(now.UnixNano())
				l.sendLocal(pdu.EnquireLink)
			}
			l.expire(now.UnixNano())
		}
	}
}

func tickFor(c *Config) time.Duration {
	t := min(c.ResponseTimeout, c.EnquireLinkInterval) / 4
	return max(min(t, time.Second), 5*time.Millisecond)
}

func (l *upLeg) expire(now int64) {
	var expired []upPending
	l.mu.Lock()
	l.pending.drain(func(e *upPending) bool { return e.deadline < now },
		func(seq uint32, e upPending) {
			expired = append(expired, e)
			if !e.local {
				l.rememberLate(seq, &e)
			}
		})
	l.mu.Unlock()
	for _, e := range expired {
		if e.local {
			continue
		}
		l.s.m.timeouts.WithLabelValues(legUpstream).Inc()
		l.finish(e)
	}
}

// rememberLate keeps what a late answer to seq needs; the caller holds mu.
func (l *upLeg) rememberLate(seq uint32, e *upPending) {
	key := l.key
	if e.down != nil {
		key = e.down.key
	}
	l.late[seq%lateRemembered] = lateEntry{seq: seq, key: key, cmd: e.cmd}
}

// finish answers a relayed request the SMSC will not answer (timeout or
// loss) with a temporary error and frees its window slots.
func (l *upLeg) finish(e upPending) {
	<-l.window
	l.s.m.inflightUp.Add(l.shard, -1)
	if e.owed != nil {
		e.owed.done(reply{status: pdu.StatusSysErr})
		return
	}
	if e.reply != nil {
		e.reply <- reply{status: pdu.StatusSysErr}
		return
	}
	l.s.record(e.ev, pdu.StatusSysErr, "")
	if e.peerSlot {
		e.down.releaseMT()
	}
	e.down.respondRelayed(e.cmd, pdu.StatusSysErr, e.downSeq)
	e.down.inflightMT.Add(-1)
}

// learnLate tells the inspector the id the SMSC accepted in a response
// that came after its request was answered on timeout.
func (l *upLeg) learnLate(le lateEntry, p pdu.PDU) {
	if le.seq == 0 || l.s.obs == nil || p.Status() != pdu.StatusOK || p.ID() != le.cmd.Resp() ||
		!le.cmd.IsMessage() || le.cmd == pdu.QuerySM {
		return
	}
	var mr pdu.MessageResp
	if pdu.ParseMessageResp(p, &mr) == nil && len(mr.MessageID) > 0 {
		l.s.obs.Accepted(le.key, mr.MessageID, l.c.ReadAt())
	}
}

// awaitIdle waits until nothing is in flight on the leg either way (our
// requests answered by the SMSC, its deliveries answered by the peer), at
// most response_timeout and a second.
func (l *upLeg) awaitIdle() {
	busy := func() bool {
		l.mu.Lock()
		n := l.pending.len()
		l.mu.Unlock()
		return n > 0 || l.owedDn.Load() > 0
	}
	if !busy() {
		return
	}
	deadline := time.NewTimer(l.s.cfg.ResponseTimeout + time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for busy() {
		select {
		case <-deadline.C:
			return
		case <-l.done:
			return
		case <-l.s.closed: // shutting down: its own drain already waited
			return
		case <-tick.C:
		}
	}
}

// unbindWhenIdle retires a pass-through leg whose peer session ended: no
// new requests, then unbind once what is in flight (long-message parts
// smsfw answered itself, deliveries) is answered.
func (l *upLeg) unbindWhenIdle() {
	l.closing.Store(true)
	l.awaitIdle()
	l.unbind()
}

// unbind sends unbind, waits briefly for the answer, and closes.
func (l *upLeg) unbind() {
	if !l.isDead() {
		l.sendLocal(pdu.Unbind)
		select {
		case <-l.unbound:
		case <-l.done:
		case <-time.After(time.Second):
		}
	}
	l.fail("unbind")
}

// pool keeps sessions bound to one upstream for one peer (config mode),
// reconnecting with backoff.
type pool struct {
	s      *Server
	peer   *Peer
	name   string
	up     *Upstream
	window int
	legs   atomic.Pointer[[]*upLeg]
	rr     atomic.Uint32
	mu     sync.Mutex
	change chan struct{}
	bound  chan struct{} // closed at the first bind
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// lastErr is the pool's last failed bind or lost session.
	lastErr lastError
}

func newPool(s *Server, p *Peer, name string, u *Upstream) *pool {
	w := u.Window
	if w == 0 {
		w = s.cfg.DefaultWindow
	}
	ctx, cancel := context.WithCancel(context.Background())
	pl := &pool{s: s, peer: p, name: name, up: u, window: w, change: make(chan struct{}), bound: make(chan struct{}),
		ctx: ctx, cancel: cancel}
	pl.legs.Store(&[]*upLeg{})
	// The upstream's series from the start: 0 bound, 0 reconnects.
	s.m.upstreamUp.WithLabelValues(name)
	s.m.reconnects.WithLabelValues(name)
	return pl
}

func (p *pool) boundLegs() []*upLeg { return *p.legs.Load() }

func (p *pool) start() {
	n := max(p.up.Sessions, 1)
	for i := 0; i < n; i++ {
		p.wg.Add(1)
		go p.maintain(i)
	}
}

func (p *pool) stop() {
	p.cancel()
	for _, l := range p.boundLegs() {
		l.unbind()
	}
	p.wg.Wait()
}

// retire ends a pool a reload replaced or removed: no reconnects, no new
// requests on its legs, each unbound once what is in flight on it (both
// ways) is answered.
func (p *pool) retire() {
	p.cancel()
	var wg sync.WaitGroup
	for _, l := range p.boundLegs() {
		wg.Add(1)
		go func() { defer wg.Done(); l.unbindWhenIdle() }()
	}
	wg.Wait()
	p.wg.Wait()
}

func (p *pool) setLeg(l *upLeg, add bool) {
	p.mu.Lock()
	old := p.boundLegs()
	next := make([]*upLeg, 0, len(old)+1)
	for _, x := range old {
		if x != l {
			next = append(next, x)
		}
	}
	if add {
		next = append(next, l)
	}
	p.legs.Store(&next)
	if add {
		p.once.Do(func() { close(p.bound) })
	}
	close(p.change)
	p.change = make(chan struct{})
	p.mu.Unlock()
	// Every peer's pool binds to its upstream: the gauge is their sum, so
	// each pool adds what it changed (a Set would keep the last pool's).
	if d := len(next) - len(old); d != 0 {
		p.s.m.upstreamUp.WithLabelValues(p.name).Add(float64(d))
	}
}

func (p *pool) changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.change
}

// maintain keeps one session bound.
func (p *pool) maintain(i int) {
	defer p.wg.Done()
	log := p.s.log.Named("pool").With(zap.String("upstream", p.name), zap.String("peer", p.peer.Name), zap.Int("session", i))
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if p.ctx.Err() != nil {
			return
		}
		if attempt > 0 {
			p.s.m.reconnects.WithLabelValues(p.name).Inc()
			sleep := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(sleep):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		sys, pw := p.up.SystemID, p.up.Password
		if p.peer.UpstreamSystemID != "" {
			sys, pw = p.peer.UpstreamSystemID, p.peer.UpstreamPassword
		}
		bind := pdu.AppendBind(nil, pdu.BindTransceiver, 0, pdu.BindFields{SystemID: sys, Password: pw, SystemType: p.up.SystemType})
		ctx, cancel := context.WithTimeout(p.ctx, p.s.cfg.BindTimeout)
		c, resp, err := bindUpstream(ctx, p.s, p.up.Address, p.up.TLS, bind)
		cancel()
		if err != nil {
			p.s.m.binds.WithLabelValues(legUpstream, bindUpstreamError).Inc()
			log.Warn("upstream bind failed", zap.Error(err))
			p.lastErr.set(errUpBindFailed, err.Error(), p.up.Address)
			continue
		}
		if st := resp.Status(); st != pdu.StatusOK {
			p.s.m.binds.WithLabelValues(legUpstream, bindRejected).Inc()
			log.Warn("upstream refused bind", zap.Stringer("status", st))
			p.lastErr.set(errUpBindRefused, st.String(), p.up.Address)
			c.Abort()
			continue
		}
		p.s.m.binds.WithLabelValues(legUpstream, bindOK).Inc()
		log.Info("upstream bound")
		backoff = 100 * time.Millisecond
		l := newUpLeg(p.s, c, p.name, p.peer.Name, p.window, nil)
		l.pool = p
		if p.ctx.Err() != nil { // stopped while binding: unbind at once
			go l.run()
			l.unbind()
			return
		}
		p.setLeg(l, true)
		l.run()
		p.setLeg(l, false)
		if p.ctx.Err() == nil && !l.closing.Load() {
			p.lastErr.set(errUpLost, l.endReason(), p.up.Address)
		}
	}
}

// acquire returns a bound leg with a window slot taken, blocking while all
// are full (back-pressure); nil when no leg is bound or cancel fires.
func (p *pool) acquire(cancel <-chan struct{}, pending *batch) *upLeg {
	for {
		legs := p.boundLegs()
		n := len(legs)
		if n == 0 {
			return nil
		}
		start := int(p.rr.Add(1))
		for i := 0; i < n; i++ {
			l := legs[(start+i)%n]
			select {
			case l.window <- struct{}{}:
				return l
			default:
			}
		}
		pending.flush()
		l := legs[start%n]
		select {
		case l.window <- struct{}{}:
			return l
		case <-l.done:
		case <-p.changed():
		case <-cancel:
			return nil
		}
	}
}

// awaitingAnswers reports whether the peer that leg l serves has requests
// on their way to the SMSC: a receipt may overtake its submit_sm_resp
// (on another session of the pool, or from a hasty SMSC).
func (s *Server) awaitingAnswers(l *upLeg) bool {
	legs := []*upLeg{l}
	if l.pool != nil {
		legs = l.pool.boundLegs()
	}
	for _, x := range legs {
		x.mu.Lock()
		n := x.pending.len()
		x.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}
