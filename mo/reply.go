package mo

import (
	"context"
	"strings"
	"sync"
	"time"

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
)

// skipped is a reply not sent on purpose: the message is settled
// "skipped", neither retried nor a dead letter.
type skipped struct{ reason string }

func (e *skipped) Error() string {
	switch e.reason {
	case SkipOwnAddress:
		return "not replied: the sender is smsfw's own reply address (a loop)"
	case SkipSender:
		return "not replied: this sender got a reply of the route within per_sender"
	}
	return "not replied: the route's per_route replies per minute were sent"
}

// replyLimit keeps the route's reply limits (in memory: a restart
// forgets them).
type replyLimit struct {
	perSender time.Duration
	perRoute  int
	own       map[string]bool

	mu     sync.Mutex
	last   map[string]time.Time // sender -> last reply
	recent []time.Time          // replies of the last minute
}

func newReplyLimit(p ReplyAction, own map[string]bool) *replyLimit {
	l := &replyLimit{perSender: p.PerSender, perRoute: p.PerRoute, own: own, last: map[string]time.Time{}}
	if l.perSender == 0 {
		l.perSender = DefaultPerSender
	}
	if l.perRoute == 0 {
		l.perRoute = DefaultPerRoute
	}
	return l
}

// take reserves a reply to sender at now; "" when it may go, else the
// reason it may not.
func (l *replyLimit) take(sender string, now time.Time) string {
	if l.own[sender] {
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
		return SkipRoute
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

// reply sends the route's automatic reply to m's sender; the limits are
// taken on the first attempt only (a retry is the same reply).
func (s *Service) reply(ctx context.Context, r *route, m *store.MOMessage) error {
	if m.Attempts <= 1 {
		if why := r.limit.take(m.Sender, time.Now()); why != "" {
			return &skipped{reason: why}
		}
	}
	_, err := s.o.Replier.SubmitReply(ctx, m.Peer, ReplyPDU(r.Reply.From, m.Sender, r.Reply.Text))
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

// replyFits reports whether text goes in one SMS (a reply is never split).
func replyFits(text string) bool {
	if smstext.CanGSM7(text) {
		b, _ := smstext.EncodeGSM7(nil, text)
		return len(b) <= 160
	}
	return len(smstext.EncodeUCS2(nil, text)) <= 140
}
