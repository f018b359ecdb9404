package proxy

import (
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/proxy/pdu"
)

// The assembler holds the segments of concatenated MT messages until every
// part is in (or segment_timeout passes), so the inspector sees the whole
// text once and every segment gets the same verdict. Held segments are
// copies (pdu.Buf); their peers get no response until the verdict, and a
// peer's window is not taken while its segments wait, so a message longer
// than the window cannot deadlock. Single-part messages never come here.
type assembler struct {
	s       *Server
	timeout time.Duration
	max     int

	mu   sync.Mutex
	m    map[segKey]*assembly
	held int
	stop chan struct{}
	done chan struct{}
}

type segKey struct {
	peer     string
	src, dst string
	ref      uint16
	total    uint8
}

type heldSeg struct {
	buf   *pdu.Buf
	from  *downstream
	start int64
}

type assembly struct {
	key      segKey
	parts    []heldSeg // index part-1
	have     int
	deadline int64
}

func newAssembler(s *Server) *assembler {
	return &assembler{s: s, timeout: s.cfg.SegmentTimeout, max: s.cfg.MaxHeldSegments,
		m: map[segKey]*assembly{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// holdMT keeps segment p of a concatenated message. It returns false when
// the segment is to be decided alone (holding disabled or full). When p
// completes its message, the message is decided here, on the caller's
// goroutine (out and st are its own).
func (a *assembler) holdMT(d *downstream, p pdu.PDU, c pdu.Concat, start int64, out *batch, st *loopStats) bool {
	if a == nil || a.timeout <= 0 {
		return false
	}
	m := &d.msg
	k := segKey{peer: d.key, src: string(m.Src.Addr), dst: string(m.Dst.Addr), ref: c.Ref, total: c.Total}
	a.mu.Lock()
	if a.held >= a.max {
		a.mu.Unlock()
		a.s.m.segments.WithLabelValues(segOverflow).Inc()
		return false
	}
	asm := a.m[k]
	var stale *assembly
	if asm != nil && asm.parts[c.Part-1].buf != nil {
		// The same part again: decide what we have, start over with this one.
		stale = asm
		delete(a.m, k)
		a.held -= asm.have
		asm = nil
	}
	if asm == nil {
		asm = &assembly{key: k, parts: make([]heldSeg, c.Total), deadline: time.Now().Add(a.timeout).UnixNano()}
		a.m[k] = asm
	}
	asm.parts[c.Part-1] = heldSeg{buf: pdu.Clone(p), from: d, start: start}
	asm.have++
	a.held++
	complete := asm.have == int(c.Total)
	if complete {
		delete(a.m, k)
		a.held -= asm.have
	}
	a.mu.Unlock()
	a.s.m.segments.WithLabelValues(segHeld).Inc()
	if stale != nil {
		a.s.m.segments.WithLabelValues(segDuplicate).Inc()
		a.decide(stale, out, st)
	}
	if complete {
		a.decide(asm, out, st)
	}
	return true
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
			a.held -= asm.have
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
		a.decide(asm, &out, &st)
	}
	out.flush()
	st.publish(a.s.m, 0)
}

// decide inspects the held parts as one message and applies the verdict to
// each part, in part order.
func (a *assembler) decide(asm *assembly, out *batch, st *loopStats) {
	msgs := make([]pdu.Message, 0, len(asm.parts))
	held := make([]heldSeg, 0, len(asm.parts))
	for _, h := range asm.parts {
		if h.buf == nil {
			continue
		}
		var m pdu.Message
		if err := pdu.ParseMessage(h.buf.PDU(), &m); err != nil { // parsed once already: cannot fail
			h.from.respond(h.buf.PDU().ID(), pdu.StatusOf(err), h.buf.PDU().Seq(), "")
			h.buf.Release()
			continue
		}
		msgs = append(msgs, m)
		held = append(held, h)
	}
	if len(held) == 0 {
		return
	}
	parts := make([]*pdu.Message, len(msgs))
	for i := range msgs {
		parts[i] = &msgs[i]
	}
	first := held[0].from
	req := filter.Request{Direction: filter.MT, Peer: first.key, PeerClass: first.class, SystemID: first.systemID,
		Msg: parts[0], Parts: parts, Incomplete: len(held) < int(asm.key.total)}
	v := a.s.inspect(&req, first.log, st)
	if n := len(held) - 1; n > 0 && int(v.Action) < filter.NumActions {
		st.verdicts[filter.MT][v.Action] += uint32(n) // verdicts count segments
		st.dirty = true
	}
	if req.Incomplete {
		if ce := first.log.Check(zap.InfoLevel, "concatenated message decided incomplete"); ce != nil {
			ce.Write(zap.Int("parts", len(held)), zap.Int("total", int(asm.key.total)))
		}
	}
	pdus := make([]pdu.PDU, len(held))
	for i, h := range held {
		pdus[i] = h.buf.PDU()
	}
	if a.s.canHold(v) {
		hp := make([]heldPart, len(held))
		for i, h := range held {
			hp[i] = heldPart{d: h.from, id: pdus[i].ID(), seq: pdus[i].Seq()}
		}
		a.s.quarantineMT(v, hp, pdus)
		for _, h := range held {
			h.buf.Release()
		}
		return
	}
	keepRaw(v.Event, pdus...) // every part, before the first is relayed
	for i, h := range held {
		if h.from.isDone() {
			h.buf.Release()
			continue
		}
		h.from.apply(v, h.buf.PDU(), parts[i], h.start, out, st)
		v.Event = nil // recorded with the first part's answer
		h.buf.Release()
	}
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
}
