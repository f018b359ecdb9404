package proxy

import (
	"bytes"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/guard"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// The assembler lets the inspector judge a concatenated MT message whole
// without withholding any answer. Each segment is copied and answered at
// once with smsfw's own message_id (so clients that wait for each part's
// answer before sending the next work, as on the direct path), and held
// until every part is in or segment_timeout passes since the last part.
// The whole message is then inspected once and the verdict applied:
//
//   - allow, flag: every part is relayed to the SMSC in order; a part the
//     SMSC refuses with a temporary error is retried (relaySchedule), and
//     receipts come back under the ids the peer was given;
//   - reject (and throttle on a timeout): the part that completed the
//     message gets the verdict's status; parts answered before get a
//     REJECTD receipt when they asked for one; nothing is relayed;
//   - throttle: the completing part gets 0x58 and the others stay held, so
//     the peer's retry of that part completes the message again;
//   - drop: every part is answered and dropped (fake receipts as asked);
//   - quarantine: the parts go to the store together.
//
// Memory is bounded: segments held or awaiting relay count against a
// global bound (max_held_segments) and a per-peer bound (peer_held_segments,
// peer_held_bytes); a segment over a bound is answered ESME_RTHROTTLED and
// the peer retries it. Single-part messages never come here.
type assembler struct {
	s         *Server
	timeout   time.Duration
	max       int
	peerMax   int
	peerBytes int

	mu    sync.Mutex
	m     map[segKey]*assembly
	held  int // segments held or awaiting relay, all peers
	peers map[string]*peerUse
	left  map[segKey]*leftover // parts of messages decided incomplete, for their late parts' inspection
	stop  chan struct{}
	done  chan struct{}

	overflowLog guard.SampledLog
}

type peerUse struct{ segs, bytes int }

type segKey struct {
	peer     string
	src, dst string
	ref      uint16
	total    uint8
}

type heldSeg struct {
	buf      *pdu.Buf
	from     *downstream
	start    int64
	id       string // smsfw's message_id, given to the peer
	answered bool
	receipt  bool // the part asked for a receipt (registered_delivery set)
}

type assembly struct {
	key      segKey
	parts    []heldSeg // index part-1
	have     int
	deadline int64
}

// leftover keeps copies of the parts of a message decided incomplete, so
// that a part arriving later is inspected with the text before it (a
// phrase split across a pause is still one phrase).
type leftover struct {
	parts []*pdu.Buf
	at    int64
}

const (
	maxLeftovers     = 1024
	maxLeftoverBytes = 64 * 1024
)

func newAssembler(s *Server) *assembler {
	return &assembler{s: s, timeout: s.cfg.SegmentTimeout, max: s.cfg.MaxHeldSegments,
		peerMax: s.cfg.PeerHeldSegments, peerBytes: s.cfg.PeerHeldBytes,
		m: map[segKey]*assembly{}, peers: map[string]*peerUse{}, left: map[segKey]*leftover{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// heldSegments counts segments held or awaiting relay (a gauge).
func (a *assembler) heldSegments() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return float64(a.held)
}

// release gives back the budget of one segment of n bytes.
func (a *assembler) release(peer string, n int) {
	a.mu.Lock()
	a.held--
	if u := a.peers[peer]; u != nil {
		u.segs--
		u.bytes -= n
		if u.segs <= 0 {
			delete(a.peers, peer)
		}
	}
	a.mu.Unlock()
}

// holdMT takes segment p of a concatenated message (parsed in d.msg) and
// answers it; false when holding is disabled (the caller decides the part
// alone). When p completes its message, the message is decided here, on
// the caller's goroutine (out and st are its own).
func (a *assembler) holdMT(d *downstream, p pdu.PDU, c pdu.Concat, start int64, out *batch, st *loopStats) bool {
	if a == nil || a.timeout <= 0 {
		return false
	}
	m := &d.msg
	k := segKey{peer: d.key, src: string(m.Src.Addr), dst: string(m.Dst.Addr), ref: c.Ref, total: c.Total}
	size := len(p)
	a.mu.Lock()
	asm := a.m[k]
	var stale *assembly
	if asm != nil {
		if prev := asm.parts[c.Part-1]; prev.buf != nil {
			if bytes.Equal(prev.buf.PDU()[pdu.HeaderLen:], p[pdu.HeaderLen:]) {
				// The peer resent a part it was answered for (its answer
				// was lost or late): the same answer again, held once.
				id := prev.id
				a.mu.Unlock()
				a.s.m.segments.WithLabelValues(segDuplicate).Inc()
				d.respond(p.ID(), pdu.StatusOK, p.Seq(), id)
				return true
			}
			// A new message reusing the reference: decide what we have.
			stale = asm
			delete(a.m, k)
			asm = nil
		}
	}
	u := a.peers[d.key]
	if u == nil {
		u = &peerUse{}
		a.peers[d.key] = u
	}
	if a.held >= a.max || u.segs >= a.peerMax || u.bytes+size > a.peerBytes {
		a.mu.Unlock()
		if stale != nil {
			a.decide(stale, nil, out, st)
		}
		a.overflow(d)
		d.respond(p.ID(), pdu.StatusThrottled, p.Seq(), "")
		return true
	}
	a.held++
	u.segs++
	u.bytes += size
	if asm == nil {
		asm = &assembly{key: k, parts: make([]heldSeg, c.Total)}
		a.m[k] = asm
	}
	asm.deadline = time.Now().Add(a.timeout).UnixNano()
	h := heldSeg{buf: pdu.Clone(p), from: d, start: start, id: a.s.newMessageID(), receipt: m.RegisteredDelivery != 0}
	asm.have++
	complete := asm.have == int(c.Total)
	if complete {
		delete(a.m, k)
	} else {
		h.answered = true // below, before anyone else may decide it
	}
	asm.parts[c.Part-1] = h
	a.mu.Unlock()
	a.s.m.segments.WithLabelValues(segHeld).Inc()
	if stale != nil {
		a.s.m.segments.WithLabelValues(segDuplicate).Inc()
		a.decide(stale, nil, out, st)
	}
	if !complete {
		d.respond(p.ID(), pdu.StatusOK, p.Seq(), h.id)
		return true
	}
	a.decide(asm, &asm.parts[c.Part-1], out, st)
	return true
}

// overflow counts a segment refused over a budget and logs it at most
// once per 10 s.
func (a *assembler) overflow(d *downstream) {
	a.s.m.segments.WithLabelValues(segOverflow).Inc()
	n, ok := a.overflowLog.Tick(10 * time.Second)
	if !ok {
		return
	}
	d.log.Warn("long-message segments over the held budget; answered 0x58 for the peer to retry",
		zap.Int64("count", n), zap.Int("peer_held_segments", a.peerMax), zap.Int("peer_held_bytes", a.peerBytes),
		zap.Int("max_held_segments", a.max))
}

// run decides assemblies whose time is up.
func (a *assembler) run() {
	defer close(a.done)
	tick := time.NewTicker(max(min(a.timeout/4, 250*time.Millisecond), 5*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-a.stop:
			a.expire(1 << 62) // decide everything still held
			return
		case now := <-tick.C:
			a.expire(now.UnixNano())
		}
	}
}

func (a *assembler) expire(now int64) {
	if a == nil {
		return
	}
	var due []*assembly
	a.mu.Lock()
	for k, asm := range a.m {
		if asm.deadline <= now {
			due = append(due, asm)
			delete(a.m, k)
		}
	}
	ttl := 10 * int64(a.timeout)
	for k, l := range a.left {
		if now-l.at > ttl {
			delete(a.left, k)
			releaseAll(l.parts)
		}
	}
	a.mu.Unlock()
	if len(due) == 0 {
		return
	}
	sort.Slice(due, func(i, j int) bool { return due[i].deadline < due[j].deadline })
	var out batch
	var st loopStats
	for _, asm := range due {
		a.s.m.segments.WithLabelValues(segTimeout).Inc()
		a.decide(asm, nil, &out, &st)
	}
	out.flush()
	st.publish(a.s.m, 0)
}

func releaseAll(bs []*pdu.Buf) {
	for _, b := range bs {
		if b != nil {
			b.Release()
		}
	}
}

// decide inspects the held parts as one message and carries out the
// verdict. last is the part that completed the message, not yet answered
// (nil on a timeout, where every part was answered).
func (a *assembler) decide(asm *assembly, last *heldSeg, out *batch, st *loopStats) {
	held := make([]heldSeg, 0, len(asm.parts))
	msgs := make([]pdu.Message, 0, len(asm.parts))
	for _, h := range asm.parts {
		if h.buf == nil {
			continue
		}
		var m pdu.Message
		if err := pdu.ParseMessage(h.buf.PDU(), &m); err != nil { // parsed once already: cannot fail
			a.release(asm.key.peer, len(h.buf.PDU()))
			h.buf.Release()
			continue
		}
		msgs = append(msgs, m)
		held = append(held, h)
	}
	if len(held) == 0 {
		return
	}
	incomplete := len(held) < int(asm.key.total)
	parts := make([]*pdu.Message, len(msgs))
	for i := range msgs {
		parts[i] = &msgs[i]
	}
	inspected := a.withLeftovers(asm, parts, incomplete)
	first := held[0].from
	req := filter.Request{Direction: filter.MT, Peer: first.key, PeerClass: first.class(), SystemID: first.systemID,
		Msg: inspected[0], Parts: inspected, Incomplete: incomplete, Shard: first.shard}
	v := a.s.inspect(&req, first.log, st)
	if n := len(held) - 1; n > 0 && int(v.Action) < filter.NumActions {
		st.verdict(int(filter.MT), v.Action, uint32(n)) // verdicts count segments
	}
	if incomplete {
		if ce := first.log.Check(zap.InfoLevel, "concatenated message decided incomplete"); ce != nil {
			ce.Write(zap.Int("parts", len(held)), zap.Int("total", int(asm.key.total)))
		}
	}
	pdus := make([]pdu.PDU, len(held))
	ids := make([]string, len(held))
	for i, h := range held {
		pdus[i] = h.buf.PDU()
		ids[i] = h.id
	}
	open := last != nil && !last.answered // the completing part awaits its answer
	peer := asm.key.peer
	done := func(i int) { // a part goes no further
		a.release(peer, len(held[i].buf.PDU()))
		held[i].buf.Release()
	}
	if a.s.canHold(v) {
		hp := make([]heldPart, len(held))
		for i, h := range held {
			hp[i] = heldPart{d: h.from, id: pdus[i].ID(), seq: pdus[i].Seq(), answered: h.answered, msgID: h.id}
		}
		a.s.quarantineMT(v, hp, pdus) // copies the PDUs
		for i := range held {
			done(i)
		}
		return
	}
	ev := v.Event
	keepRaw(ev, pdus...)
	switch v.Action {
	case filter.Allow, filter.Flag:
		if open {
			last.from.respond(pdus[len(pdus)-1].ID(), pdu.StatusOK, seqOf(last), last.id)
		}
		a.s.record(ev, pdu.StatusOK, strings.Join(ids, ","))
		a.s.relayHeld(peer, held, out)
	case filter.Drop:
		if open {
			last.from.respond(pdus[len(pdus)-1].ID(), pdu.StatusOK, seqOf(last), last.id)
		}
		a.s.record(ev, pdu.StatusOK, strings.Join(ids, ","))
		for i, h := range held {
			if v.Receipt != filter.NoReceipt && parts[i].RegisteredDelivery&0x03 != 0 {
				h.from.scheduleReceipt(h.id, parts[i], v.Receipt)
			}
			done(i)
		}
	case filter.Throttle:
		if open {
			status := orStatus(v.Status, pdu.StatusThrottled)
			last.from.respond(pdus[len(pdus)-1].ID(), status, seqOf(last), "")
			a.s.record(ev, status, "")
			a.keepWaiting(asm, last)
			return
		}
		fallthrough // on a timeout every part was accepted already: it cannot be retried
	default: // Reject, and Quarantine when no store holds messages
		status := orStatus(v.Status, pdu.StatusSubmitFail)
		if v.Action == filter.Throttle {
			status = pdu.StatusSubmitFail
		}
		for i, h := range held {
			if open && h.buf == last.buf {
				h.from.respond(pdus[i].ID(), status, seqOf(last), "")
			} else if parts[i].RegisteredDelivery&0x03 != 0 {
				a.s.sendReceipt(h.from.key, h.from, receiptFor(parts[i], h.id, pdu.StateRejected, time.Unix(0, h.start)))
			}
			done(i)
		}
		if open {
			a.s.record(ev, status, "")
		} else {
			a.s.record(ev, pdu.StatusOK, strings.Join(ids, ","))
		}
	}
}

// seqOf is the peer's sequence number of a held part (its copy has it).
func seqOf(h *heldSeg) uint32 { return h.buf.PDU().Seq() }

// keepWaiting puts a throttled message's other parts back, without the
// part that was refused: the peer's retry of it completes the message.
func (a *assembler) keepWaiting(asm *assembly, last *heldSeg) {
	n := len(last.buf.PDU())
	last.buf.Release()
	*last = heldSeg{}
	a.release(asm.key.peer, n)
	asm.have--
	a.mu.Lock()
	if _, taken := a.m[asm.key]; !taken && asm.have > 0 {
		asm.deadline = time.Now().Add(a.timeout).UnixNano()
		a.m[asm.key] = asm
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	// A new message took the reference meanwhile: these parts were
	// accepted and go on alone.
	var out batch
	var st loopStats
	a.decide(asm, nil, &out, &st)
	out.flush()
	st.publish(a.s.m, 0)
}

// withLeftovers returns the parts to inspect: the held ones, plus parts of
// the same message decided incomplete shortly before (a late part is
// judged with the text before it). It remembers this message's parts when
// it is incomplete.
func (a *assembler) withLeftovers(asm *assembly, parts []*pdu.Message, incomplete bool) []*pdu.Message {
	a.mu.Lock()
	l := a.left[asm.key]
	if l != nil {
		delete(a.left, asm.key)
	}
	if incomplete && len(a.left) < maxLeftovers {
		keep := &leftover{parts: make([]*pdu.Buf, len(asm.parts)), at: time.Now().UnixNano()}
		n := 0
		for i, h := range asm.parts {
			if h.buf != nil && n+len(h.buf.PDU()) <= maxLeftoverBytes {
				keep.parts[i] = pdu.Clone(h.buf.PDU())
				n += len(h.buf.PDU())
			}
		}
		a.left[asm.key] = keep
	}
	a.mu.Unlock()
	if l == nil {
		return parts
	}
	defer releaseAll(l.parts)
	out := make([]*pdu.Message, 0, len(asm.parts))
	j := 0
	for i, h := range asm.parts {
		switch {
		case h.buf != nil:
			out = append(out, parts[j])
			j++
		case i < len(l.parts) && l.parts[i] != nil:
			var m pdu.Message
			// a copy of its own: the leftover's buffer is released below
			if pdu.ParseMessage(pdu.PDU(append([]byte(nil), l.parts[i].PDU()...)), &m) == nil {
				out = append(out, &m)
			}
		}
	}
	return out
}

func (a *assembler) close() {
	if a == nil || a.timeout <= 0 {
		return
	}
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	<-a.done
	a.mu.Lock()
	for k, l := range a.left {
		delete(a.left, k)
		releaseAll(l.parts)
	}
	a.mu.Unlock()
}
