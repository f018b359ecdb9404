package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Errors of Release.
var (
	// ErrNotHeld: the event is not a held quarantined message.
	ErrNotHeld = errors.New("proxy: message is not held in quarantine")
	// ErrNoRoute: no upstream session (MT) or bound receiver (MO) for the
	// message's peer right now; try again later.
	ErrNoRoute = errors.New("proxy: no session to send the released message on")
)

// StatusError is a release refused by the SMSC or the peer.
type StatusError struct{ Status pdu.Status }

func (e *StatusError) Error() string { return fmt.Sprintf("proxy: answered with status %s", e.Status) }

// reply is the answer to a request smsfw originates (a released message).
type reply struct {
	status pdu.Status
	msgID  string
}

// record completes an event with what the sender was answered and hands it
// to the sink (keepRaw has copied the PDUs before).
func (s *Server) record(ev *filter.Event, st pdu.Status, msgID string) {
	if ev == nil || s.sink == nil {
		return
	}
	ev.Status = uint32(st)
	if msgID != "" {
		ev.MessageID = msgID
	}
	s.sink.Emit(ev)
}

// keepRaw copies the PDUs an event is about when the event keeps them
// (filter.Event.KeepsRaw: quarantine always; else all of them within its
// RawMax, none for masked text or a throttle). A refusal is final, so a
// later call with fewer parts cannot keep some segments of a message.
func keepRaw(ev *filter.Event, ps ...pdu.PDU) {
	if ev == nil || ev.Raw != nil {
		return
	}
	n := 0
	for _, p := range ps {
		n += len(p)
	}
	if !ev.KeepsRaw(n) {
		ev.RawMax = -1
		return
	}
	ev.Raw = make([][]byte, len(ps))
	for i, p := range ps {
		ev.Raw[i] = append([]byte(nil), p...)
	}
}

// heldPart is one PDU of a quarantined MT message: who sent it and what it
// must be answered.
type heldPart struct {
	d   *downstream
	id  pdu.CommandID
	seq uint32
	// slot: the part holds a slot of its session's window until answered.
	slot bool
	// answered: a long-message part smsfw already accepted with msgID.
	answered bool
	msgID    string
}

// canHold says whether quarantine verdicts hold messages (a sink stores
// them); without one they are answered like a reject.
func (s *Server) canHold(v filter.Verdict) bool {
	return v.Action == filter.Quarantine && s.sink != nil
}

// quarantineMT hands a message to the store and answers each part once the
// store has it: accepted (with smsfw's message_id) or the configured status;
// ESME_RTHROTTLED when it could not be stored, so the peer retries and
// nothing is lost.
func (s *Server) quarantineMT(v filter.Verdict, parts []heldPart, pdus []pdu.PDU) {
	ev := heldEvent(v, filter.MT, parts[0].d.key, pdus...)
	q := s.cfg.quarantine()
	ids := make([]string, len(parts))
	st := q.status
	for i, p := range parts {
		switch {
		case p.answered:
			ids[i] = p.msgID
		case q.accept:
			ids[i] = s.newMessageID()
		}
	}
	if q.accept || parts[0].answered {
		ev.MessageID = strings.Join(ids, ",")
	}
	if q.accept {
		st = pdu.StatusOK
	}
	ev.Status = uint32(st)
	s.hold(ev, func(err error) {
		if err != nil {
			s.m.quarantine.WithLabelValues(quarStoreFailed).Inc()
			s.log.Warn("quarantined message not stored; peer asked to retry", zap.Int64("event", ev.ID), zap.Error(err))
		} else {
			s.m.quarantine.WithLabelValues(quarHeld).Add(float64(len(parts)))
		}
		for i, p := range parts {
			switch {
			case p.answered: // accepted already; the analyst's decision follows with a receipt
			case err != nil:
				p.d.respond(p.id, pdu.StatusThrottled, p.seq, "")
			default:
				p.d.respond(p.id, st, p.seq, ids[i])
			}
			if p.slot {
				p.d.releaseHold()
			}
		}
	})
}

// heldEvent is the record of a quarantined message, with copies of its
// PDUs (kept whatever the text setting: release needs them). An inspector
// that attached no event gets a minimal one.
func heldEvent(v filter.Verdict, dir filter.Direction, peer string, ps ...pdu.PDU) *filter.Event {
	ev := v.Event
	if ev == nil {
		ev = &filter.Event{ID: filter.NewEventID(), Time: time.Now().UTC(), Direction: dir.String(), Peer: peer,
			RuleID: v.RuleID, Action: v.Action.String(), Reason: v.Reason, Evidence: v.Evidence}
	}
	ev.Quarantine = filter.QuarantineHeld
	keepRaw(ev, ps...)
	return ev
}

// hold hands a quarantined message's event to the sink; answer runs once
// the store has it (err nil) or could not take it. Shutdown waits for the
// answer (holding counts as in flight).
func (s *Server) hold(ev *filter.Event, answer func(err error)) {
	s.holding.Add(1)
	// Stored runs on the store writer's goroutine: answering a peer that is
	// slow to read must not hold up every other event, so answer aside.
	ev.Stored = func(err error) {
		go func() {
			defer s.holding.Add(-1)
			answer(err)
		}()
	}
	s.sink.Emit(ev)
}

// quarantineMO stores an MO message and answers the SMSC once it is stored.
func (l *upLeg) quarantineMO(v filter.Verdict, p pdu.PDU) {
	s := l.s
	ev := heldEvent(v, filter.MO, l.key, p)
	id, seq := p.ID(), p.Seq()
	ev.Status = uint32(pdu.StatusOK)
	s.hold(ev, func(err error) {
		if err != nil {
			s.m.quarantine.WithLabelValues(quarStoreFailed).Inc()
			s.log.Warn("quarantined MO not stored; SMSC asked to retry", zap.Int64("event", ev.ID), zap.Error(err))
			l.respond(id, pdu.StatusThrottled, seq, "")
			return
		}
		s.m.quarantine.WithLabelValues(quarHeld).Inc()
		l.respond(id, pdu.StatusOK, seq, "")
	})
}

// Release sends a held message on: MT to the SMSC on its peer's upstream
// (the SMSC's message ids are returned, comma-separated for several
// segments), MO to a bound receiver session of its peer. The caller records
// the new state; a failed release leaves the message held.
func (s *Server) Release(ctx context.Context, ev *filter.Event) (string, error) {
	if ev.Quarantine != filter.QuarantineHeld || len(ev.Raw) == 0 {
		return "", ErrNotHeld
	}
	ids := make([]string, 0, len(ev.Raw))
	ours := strings.Split(ev.MessageID, ",") // what the peer was told, per part (accept mode)
	for i, raw := range ev.Raw {
		p, err := pdu.FromBytes(raw)
		if err != nil {
			return "", fmt.Errorf("proxy: stored PDU %d of event %d: %w", i, ev.ID, err)
		}
		var r reply
		// The peer knows this part by ours[i]: other nodes learn the SMSC's id.
		mapped := ev.Direction != filter.MO.String() && i < len(ours) && ours[i] != ""
		if ev.Direction == filter.MO.String() {
			r, err = s.originateMO(ctx, ev.Peer, p)
		} else {
			if mapped && s.link != nil {
				// The SMSC may send the receipt at once, over another node.
				s.announceFlying(ctx, ev.Peer, 1)
			}
			r, err = s.originateMT(ctx, ev.Peer, p)
			if mapped && err == nil && r.status == pdu.StatusOK {
				s.noteReleased(r.msgID, ours[i], ev.Peer, true)
			}
			if mapped {
				s.flying(ev.Peer, -1)
			}
		}
		if err == nil && r.status != pdu.StatusOK {
			err = &StatusError{Status: r.status}
		}
		if err != nil {
			s.m.quarantine.WithLabelValues(quarReleaseFailed).Inc()
			if i > 0 {
				return "", fmt.Errorf("proxy: segment %d of %d not released (earlier ones were: %s): %w", i+1, len(ev.Raw), strings.Join(ids, ","), err)
			}
			return "", err
		}
		ids = append(ids, r.msgID)
	}
	s.m.quarantine.WithLabelValues(quarReleased).Inc()
	return strings.Join(ids, ","), nil
}

// CanRelease reports whether this process could send a held message on
// now: MT needs a bound upstream of its peer (the peer's pool, or one of
// its sessions' own upstream in pass-through mode), MO a bound receiver
// session of the peer. Several nodes sharing a store release a message on
// a node that can (the message's PDUs are in the store).
func (s *Server) CanRelease(ev *filter.Event) bool {
	if ev.Direction == filter.MO.String() {
		return s.receiverFor(ev.Peer, nil) != nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if lp := s.live[ev.Peer]; lp != nil {
		if pl := lp.pool.Load(); pl != nil {
			return len(pl.boundLegs()) > 0
		}
	}
	for _, d := range s.byPeer[ev.Peer] {
		if d.leg != nil && d.canTransmit() {
			return true
		}
	}
	return false
}

// SubmitMT sends a submit_sm of smsfw's own (an MO route's automatic
// reply) on the peer's upstream, the way Release sends a held MT, and
// returns the SMSC's message id. The caller inspects it first.
func (s *Server) SubmitMT(ctx context.Context, peer string, p pdu.PDU) (string, error) {
	r, err := s.originateMT(ctx, peer, p)
	if err == nil && r.status != pdu.StatusOK {
		err = &StatusError{Status: r.status}
	}
	return r.msgID, err
}

// originateMT sends one PDU of smsfw's own on the peer's upstream and
// waits for the SMSC's answer.
func (s *Server) originateMT(ctx context.Context, peer string, p pdu.PDU) (reply, error) {
	var l *upLeg
	s.mu.Lock()
	var pl *pool
	if lp := s.live[peer]; lp != nil {
		pl = lp.pool.Load()
	}
	var owner *downstream
	if pl == nil {
		for _, d := range s.byPeer[peer] {
			if d.leg != nil && d.canTransmit() {
				owner = d
				break
			}
		}
	}
	s.mu.Unlock()
	switch {
	case pl != nil:
		if l = pl.acquire(ctx.Done(), nil); l == nil {
			return reply{}, ErrNoRoute
		}
	case owner != nil:
		l = owner.leg
		var none batch
		if !l.acquire(&none, ctx.Done()) {
			if err := ctx.Err(); err != nil {
				return reply{}, err
			}
			return reply{}, ErrNoRoute
		}
	default:
		return reply{}, ErrNoRoute
	}
	ch := make(chan reply, 1)
	now := time.Now().UnixNano()
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		<-l.window
		return reply{}, ErrNoRoute
	}
	seq, ok := l.pending.put(upPending{cmd: p.ID(), start: now, deadline: now + int64(s.cfg.ResponseTimeout), reply: ch})
	l.mu.Unlock()
	if !ok {
		<-l.window
		return reply{}, ErrNoRoute
	}
	s.m.inflightUp.Add(l.shard, 1)
	raw := append([]byte(nil), p...)
	pdu.PDU(raw).SetSeq(seq)
	if err := l.c.Write(raw); err != nil {
		l.mu.Lock()
		_, mine := l.pending.take(seq)
		l.mu.Unlock()
		if mine {
			s.m.inflightUp.Add(l.shard, -1)
			<-l.window
			return reply{}, ErrNoRoute
		}
	} else {
		s.m.out(1, p.ID())
	}
	// The leg answers every pending entry exactly once (response, timeout or
	// loss), so this wait ends within response_timeout; its read loop has
	// told the inspector of the accepted id.
	return <-ch, nil
}

// originateMO delivers one PDU of smsfw's own to a receiver session of
// the peer and waits for its answer.
func (s *Server) originateMO(ctx context.Context, peer string, p pdu.PDU) (reply, error) {
	d := s.receiverFor(peer, nil)
	if d == nil || !d.acquire(ctx.Done(), nil) {
		return reply{}, ErrNoRoute
	}
	ch := make(chan reply, 1)
	now := time.Now().UnixNano()
	d.mu.Lock()
	if d.dead {
		d.mu.Unlock()
		d.releaseWindow()
		return reply{}, ErrNoRoute
	}
	seq, ok := d.pending.put(downPending{cmd: p.ID(), start: now, deadline: now + int64(s.cfg.ResponseTimeout), reply: ch})
	d.mu.Unlock()
	if !ok {
		d.releaseWindow()
		return reply{}, ErrNoRoute
	}
	raw := append([]byte(nil), p...)
	pdu.PDU(raw).SetSeq(seq)
	if err := d.c.Write(raw); err != nil {
		d.mu.Lock()
		_, mine := d.pending.take(seq)
		d.mu.Unlock()
		if mine {
			d.releaseWindow()
			return reply{}, ErrNoRoute
		}
	} else {
		s.m.out(0, p.ID())
	}
	return <-ch, nil
}

// RejectHeld tells the sender of a held MT message that it failed, with an
// UNDELIV receipt when it asked for receipts (best effort: a receiver
// session of the peer must be bound). MO needs nothing: the SMSC was
// answered when the message was stored.
func (s *Server) RejectHeld(ev *filter.Event) {
	s.m.quarantine.WithLabelValues(quarRejected).Inc()
	if ev.Direction != filter.MT.String() || len(ev.Raw) == 0 || ev.MessageID == "" {
		return
	}
	ids := strings.Split(ev.MessageID, ",")
	for i, raw := range ev.Raw {
		if i >= len(ids) {
			break
		}
		var m pdu.Message
		p, err := pdu.FromBytes(raw)
		if err != nil || pdu.ParseMessage(p, &m) != nil || m.RegisteredDelivery&0x03 == 0 {
			continue
		}
		s.sendReceipt(ev.Peer, nil, receiptFor(&m, ids[i], pdu.StateRejected, ev.Time))
	}
}

// releasedIDs maps the SMSC's message ids of released messages (and of
// long-message parts smsfw answered itself) to the ids the peers were
// given, so their receipts reach
// the peers under the ids they know. In memory, bounded, kept for
// releasedTTL (receipts of messages released before a restart keep the
// SMSC's id).
type releasedIDs struct {
	mu sync.Mutex
	m  map[string]releasedID
	n  atomic.Int32 // len(m), read without the lock on the receipt path
}

type releasedID struct {
	ours string
	at   int64
}

const (
	releasedTTL = 72 * time.Hour
	releasedMax = 500_000
)

func (r *releasedIDs) add(up, ours string) {
	r.addAt(up, ours, time.Now().UnixNano())
}

// addAt adds a mapping learnt at (unix nanoseconds): another node's keeps
// its age.
func (r *releasedIDs) addAt(up, ours string, at int64) {
	if up == "" || ours == "" {
		return
	}
	now := time.Now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]releasedID{}
	}
	if len(r.m) >= releasedMax {
		// One pass frees an eighth, so the scan is paid once per
		// releasedMax/8 additions: expired ids first, then any.
		for k, v := range r.m {
			if now-v.at > int64(releasedTTL) {
				delete(r.m, k)
			}
		}
		for k := range r.m {
			if len(r.m) <= releasedMax*7/8 {
				break
			}
			delete(r.m, k)
		}
	}
	r.m[up] = releasedID{ours: ours, at: at}
	r.n.Store(int32(len(r.m)))
}

// has reports whether the SMSC id is known.
func (r *releasedIDs) has(up []byte) bool {
	if r.n.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.m[string(up)]
	return ok
}

// lookup returns smsfw's id for an SMSC id, once: a final receipt ends it.
func (r *releasedIDs) lookup(up []byte, final bool) (string, bool) {
	if r.n.Load() == 0 {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[string(up)]
	if ok && final {
		delete(r.m, string(up))
		r.n.Store(int32(len(r.m)))
	}
	return v.ours, ok
}

// receiptForPeer rewrites a receipt of a released message to the id the
// peer was given; p is returned unchanged otherwise.
func (s *Server) receiptForPeer(p pdu.PDU, m *pdu.Message) pdu.PDU {
	if s.released.n.Load() == 0 || !m.IsReceipt() {
		return p
	}
	id := m.ReceiptID()
	if len(id) == 0 {
		return p
	}
	ours, ok := s.released.lookup(id, m.ESMClass&pdu.ESMTypeMask == pdu.ESMTypeReceipt)
	if !ok {
		return p
	}
	if out, ok := pdu.RewriteReceiptID(p, m, string(id), s.ids.inReceipt(ours)); ok {
		return out
	}
	return p
}
