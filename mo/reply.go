package mo

import (
	"context"

	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
	"github.com/smsfw/smsfw/store"
)

// Replier sends an MT of smsfw's own: internal/app inspects it with the
// policy like any MT, then sends it on the peer's upstream through the
// proxy's release path.
type Replier interface {
	// SubmitReply sends submit_sm p on peer's upstream and returns the
	// SMSC's message id. An error wrapping ErrReplyRefused is final (the
	// policy refused the reply): the message is a dead letter at once.
	SubmitReply(ctx context.Context, peer string, p pdu.PDU) (string, error)
}

// ErrReplyRefused is wrapped by a Replier's errors that no retry can mend.
var ErrReplyRefused = permanent(errSentinel("mo: reply refused"))

type errSentinel string

func (e errSentinel) Error() string { return string(e) }

// Reasons a reply is skipped (smsfw_mo_replies_skipped_total{reason}).
const (
	SkipOwnAddress = "own_address" // the sender is one of smsfw's reply addresses: a loop
	SkipSender     = "per_sender"  // the route replied to this sender within per_sender
	SkipRoute      = "per_route"   // the route sent per_route replies in the last minute
	SkipRule       = "per_rule"    // the policy rule sent per_rule replies in the last minute
)

// skipped is a reply not sent on purpose: the message is settled
// "skipped", neither retried nor a dead letter.
type skipped struct{ reason string }

func (e *skipped) Error() string {
	switch e.reason {
	case SkipOwnAddress:
		return "not replied: the sender is smsfw's own reply address (a loop)"
	case SkipSender:
		return "not replied: this sender got a reply of the route (or rule) within per_sender"
	case SkipRule:
		return "not replied: the rule's per_rule replies per minute were sent"
	}
	return "not replied: the route's per_route replies per minute were sent"
}

// ownSet is smsfw's reply addresses (every route's and rule's
// reply.from): a sender among them is never replied to, so two of
// smsfw's replies cannot answer each other. Rules add theirs when the
// policy names them; none is removed while the process runs.
type ownSet struct {
	mu sync.RWMutex
	m  map[string]bool
}

func (o *ownSet) add(addr string) {
	o.mu.Lock()
	if o.m == nil {
		o.m = map[string]bool{}
	}
	o.m[addr] = true
	o.mu.Unlock()
}

func (o *ownSet) has(addr string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.m[addr]
}

// replyLimit keeps the reply limits of a route or a rule, in memory; at
// start they are rebuilt from the replies the queue delivered
// (restoreLimits).
type replyLimit struct {
	own *ownSet

	mu        sync.Mutex
	perSender time.Duration
	perRoute  int                  // replies a minute (per_route, or per_rule)
	rate      string               // the skip reason of that limit: SkipRoute or SkipRule
	last      map[string]time.Time // sender -> last reply
	recent    []time.Time          // replies of the last minute
}

// configure sets the limits of p (a policy reload may change a rule's);
// rate is SkipRoute (p.PerRoute counts) or SkipRule (p.PerRule).
func (l *replyLimit) configure(p ReplyAction, rate string) {
	l.own.add(p.From)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.perSender, l.perRoute, l.rate = p.PerSender, p.PerRoute, rate
	if rate == SkipRule {
		l.perRoute = p.PerRule
	}
	if l.perSender == 0 {
		l.perSender = DefaultPerSender
	}
	if l.perRoute == 0 {
		l.perRoute = DefaultPerRoute
	}
}

// take reserves a reply to sender at now; "" when it may go, else the
// reason it may not.
func (l *replyLimit) take(sender string, now time.Time) string {
	if l.own.has(sender) {
		return SkipOwnAddress
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[sender]; ok && now.Sub(t) < l.perSender {
		return SkipSender
	}
	i := 0
	for i < len(l.recent) && now.Sub(l.recent[i]) >= time.Minute {
		i++
	}
	l.recent = l.recent[i:]
	if len(l.recent) >= l.perRoute {
		return l.rate
	}
	l.recent = append(l.recent, now)
	if len(l.last) >= 100000 { // bounded: forget the expired
		for k, t := range l.last {
			if now.Sub(t) >= l.perSender {
				delete(l.last, k)
			}
		}
	}
	l.last[sender] = now
	return ""
}

// note records a reply delivered at at (rebuilt from the queue).
func (l *replyLimit) note(sender string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[sender]; !ok || at.After(t) {
		l.last[sender] = at
	}
	if time.Since(at) < time.Minute {
		l.recent = append(l.recent, at) // SentMO answers oldest first
	}
}

// restoreLimits rebuilds the reply limits of the routes (and rules) with
// replies from the replies delivered within a week (delivered rows are
// kept that long): a restart does not reset per_sender nor the minute's
// per_route/per_rule count.
func (s *Service) restoreLimits() {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	sent, err := s.q.SentMO(ctx, TargetReply, time.Now().Add(-7*24*time.Hour))
	if err != nil {
		s.log.Warn("reply limits not restored: they start empty", zap.Error(err))
		return
	}
	for _, m := range sent {
		if r := s.lookup(m.Route); r != nil && r.limit != nil {
			r.limit.note(m.Sender, m.At)
		}
	}
}

// reply sends automatic reply p to m's sender within limits l; the limits
// are taken on the first attempt only (a retry is the same reply).
func (s *Service) reply(ctx context.Context, l *replyLimit, p ReplyAction, m *store.MOMessage) error {
	if m.Attempts <= 1 {
		if why := l.take(m.Sender, time.Now()); why != "" {
			return &skipped{reason: why}
		}
	}
	_, err := s.o.Replier.SubmitReply(ctx, m.Peer, ReplyPDU(p.From, m.Sender, p.Text))
	return err
}

// ReplyPDU is the submit_sm of a reply from from to to: no receipt is
// requested; GSM 7-bit when the text allows, else UCS-2.
func ReplyPDU(from, to, text string) pdu.PDU {
	f := &pdu.SMFields{SrcTON: 5, SrcNPI: 0, Src: from, DstTON: 1, DstNPI: 1, Dst: to}
	if strings.Trim(from, "0123456789") == "" {
		f.SrcTON, f.SrcNPI = 0, 1 // a short code or a number
	}
	if smstext.CanGSM7(text) {
		f.ShortMessage, _ = smstext.EncodeGSM7(nil, text)
	} else {
		f.DataCoding = 8
		f.ShortMessage = smstext.EncodeUCS2(nil, text)
	}
	return pdu.PDU(pdu.AppendSM(nil, pdu.SubmitSM, 0, f))
}
