package proxy

import (
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// MORouter sends MO messages beyond SMPP (package mo implements it): an
// MO that matches a route with a durable target (HTTP push, pull) is
// queued in the event store before the SMSC's deliver_sm is answered.
type MORouter interface {
	// MatchMO is called on the upstream read loop for each MO message (not
	// a receipt) the verdict allows or flags, before it is relayed: it
	// must be quick and must not block. Without Queue the message goes on
	// as before.
	MatchMO(mo *MO) MOMatch
	// QueueMO stores a matched message durably. It copies what it needs
	// (mo's views are valid during the call only) and calls done exactly
	// once, on any goroutine (possibly before it returns), when the
	// message is queued (nil) or cannot be: then the SMSC gets
	// ESME_RTHROTTLED and sends it again.
	QueueMO(r MOMatch, mo *MO, done func(error))
}

// MOMatch is the route an MO matched.
type MOMatch struct {
	Route int  // the router's own reference
	Queue bool // a durable target: queue before the SMSC is answered
	SMPP  bool // once queued, on to the peer's receiver as before (the SMSC gets its answer)
}

// MO is an MO message offered to the MORouter.
type MO struct {
	Peer   string        // the peer whose receivers get it
	PDU    pdu.PDU       // the deliver_sm/data_sm as read (a view)
	Msg    *pdu.Message  // parsed (views into PDU)
	Action filter.Action // the verdict's (allow or flag)
	RuleID string
	Time   int64 // unix nanoseconds, when it was read
}

// MO queueing outcomes (smsfw_proxy_mo_routed_total{result}).
const (
	moQueued      = "queued"       // queued; the SMSC answered 0
	moQueuedSMPP  = "queued_smpp"  // queued; on to the peer's receiver, whose answer the SMSC gets
	moQueueFailed = "queue_failed" // not queued; the SMSC answered 0x58
)

// routeMO offers an allowed MO to the router; true: it is queued first and
// the SMSC is answered once it is (0x58 when it cannot be), after the
// peer's answer when SMPP is a target too.
func (l *upLeg) routeMO(p pdu.PDU, m *pdu.Message, peer string, v filter.Verdict, start int64, ev *filter.Event) bool {
	s := l.s
	mo := MO{Peer: peer, PDU: p, Msg: m, Action: v.Action, RuleID: v.RuleID, Time: start}
	r := s.mo.MatchMO(&mo)
	if !r.Queue {
		return false
	}
	id, seq := p.ID(), p.Seq()
	var raw []byte
	if r.SMPP {
		raw = append([]byte(nil), p...)
	}
	// Owed to the SMSC while the store writes: the leg's unbind and the
	// drain at shutdown wait for the answer.
	l.owedDn.Add(1)
	s.holding.Add(1)
	s.mo.QueueMO(r, &mo, func(err error) {
		go func() { // done may run on the store writer's goroutine
			defer s.holding.Add(-1)
			defer l.owedDn.Add(-1) // after the delivery took its own count
			switch {
			case err != nil:
				s.m.moRouted.WithLabelValues(moQueueFailed).Inc()
				if n, ok := s.moLog.Tick(10 * time.Second); ok {
					l.log.Warn("MO not queued; SMSC asked to retry", zap.Int64("count", n), zap.Error(err))
				}
				l.respond(id, pdu.StatusThrottled, seq, "")
				s.record(ev, pdu.StatusThrottled, "")
			case raw == nil:
				s.m.moRouted.WithLabelValues(moQueued).Inc()
				l.respond(id, pdu.StatusOK, seq, "")
				s.record(ev, pdu.StatusOK, "")
			default:
				s.m.moRouted.WithLabelValues(moQueuedSMPP).Inc()
				l.deliverQueued(raw, start, ev)
			}
		}()
	})
	return true
}

// deliverQueued carries an MO the router queued on to a receiver session
// of the peer, as onDeliver does: the SMSC gets the peer's answer.
func (l *upLeg) deliverQueued(raw []byte, start int64, ev *filter.Event) {
	p := pdu.PDU(raw)
	target := l.s.receiverFor(l.key, l.owner)
	peer := l.key
	if target != nil {
		peer = target.key
	}
	st := pdu.StatusXTAppn
	var why string
	if target == nil {
		why = dlvNoReceiver
	} else {
		var out batch
		var ls loopStats
		ok, w := target.deliverOrQueue(l, p, start, ev, &out, &ls)
		out.flush()
		ls.publish(l.s.m, 0)
		if ok {
			return
		}
		why = w
		if why == dlvQueueFull {
			st = pdu.StatusThrottled
		}
		target.noteRefused(why)
	}
	l.s.m.deliveries.WithLabelValues(peer, why).Inc()
	l.respond(p.ID(), st, p.Seq(), "")
	l.s.record(ev, st, "")
}
