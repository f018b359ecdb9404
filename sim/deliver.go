package sim

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/smpp/pdu"
)

// Deliveries (MO and receipts) go to a bound receiver of the system_id as
// a real SMSC sends them: at most Window unanswered per session, and, with
// a RetrySchedule, again after a temporary refusal (0x58, 0x14, 0x08,
// 0x64), no answer, or no receiver bound, until the schedule runs out
// (expired). A permanent refusal ends it (refused). Past MaxPending
// deliveries waiting for a retry, more are dropped. A delivery is counted
// once, by its outcome, in total and per kind.

// Delivery kinds (counters).
const (
	kindMO      = "mo"
	kindReceipt = "receipt"
)

// ErrGaveUp is returned by a synchronous delivery that was not accepted
// and will not be tried again.
var ErrGaveUp = errors.New("sim: delivery not accepted")

// DeliveryStats count the deliveries of one kind by outcome.
type DeliveryStats struct {
	Accepted uint64 `json:"accepted"`
	// Retries are attempts after the first.
	Retries uint64 `json:"retries"`
	Refused uint64 `json:"refused"`
	Expired uint64 `json:"expired"`
	// Dropped were refused or unanswered for now but not kept for a retry:
	// MaxPending deliveries were waiting already.
	Dropped uint64 `json:"dropped"`
}

type kindCounters struct{ accepted, retries, refused, expired, dropped atomic.Uint64 }

func (c *kindCounters) snapshot() DeliveryStats {
	return DeliveryStats{Accepted: c.accepted.Load(), Retries: c.retries.Load(), Refused: c.refused.Load(),
		Expired: c.expired.Load(), Dropped: c.dropped.Load()}
}

func (s *Server) counters(kind string) *kindCounters {
	if kind == kindReceipt {
		return &s.receiptCounts
	}
	return &s.moCounts
}

// delivery is one MO or receipt on its way to an ESME.
type delivery struct {
	kind     string
	systemID string
	prefer   *session
	raw      []byte
	tries    int
}

// temporary reports whether an ESME's status asks the SMSC to retry.
func temporary(st pdu.Status) bool {
	switch st {
	case pdu.StatusThrottled, pdu.StatusMsgQFul, pdu.StatusSysErr, pdu.StatusXTAppn:
		return true
	}
	return false
}

// attempt sends d once and accounts for the outcome: the status (and a nil
// error) when the ESME answered.
func (s *Server) attempt(ctx context.Context, d *delivery) (pdu.Status, error) {
	d.tries++
	target := s.receiver(d.systemID, d.prefer)
	if target == nil {
		return 0, ErrNoReceiver
	}
	if !target.acquire(ctx) {
		return 0, context.DeadlineExceeded
	}
	defer target.release()
	return target.request(ctx, append([]byte(nil), d.raw...))
}

// settle counts a finished attempt and schedules the next one when the
// schedule allows: true when the delivery is over (accepted, refused,
// expired or dropped).
func (s *Server) settle(d *delivery, st pdu.Status, err error) bool {
	c := s.counters(d.kind)
	switch {
	case err == nil && st == pdu.StatusOK:
		if d.kind == kindMO {
			s.mo.Add(1)
		} else {
			s.receipts.Add(1)
		}
		c.accepted.Add(1)
		return true
	case err == nil && !temporary(st):
		c.refused.Add(1)
		s.log.Debug("delivery refused for good", zap.String("kind", d.kind), zap.Stringer("status", st))
		return true
	}
	if d.tries > len(s.cfg.RetrySchedule) {
		c.expired.Add(1)
		return true
	}
	if s.pending.Add(1) > int64(s.cfg.MaxPending) {
		s.pending.Add(-1)
		c.dropped.Add(1)
		return true
	}
	c.retries.Add(1)
	delay := s.cfg.RetrySchedule[d.tries-1]
	time.AfterFunc(delay, func() {
		defer s.pending.Add(-1)
		s.deliverAsync(d)
	})
	return false
}

// deliverAsync runs one attempt in the background (none once the simulator
// is closed: Close waits for the attempts under way, so none may start
// after it).
func (s *Server) deliverAsync(d *delivery) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		st, err := s.attempt(context.Background(), d)
		s.settle(d, st, err)
	}()
}

// deliverSync makes the first attempt on the caller's goroutine and returns
// its status, and whether the delivery goes on: retries, if any, run in
// the background.
func (s *Server) deliverSync(ctx context.Context, d *delivery) (st pdu.Status, retrying bool, err error) {
	st, err = s.attempt(ctx, d)
	return st, !s.settle(d, st, err), err
}

// acquire takes a slot of the session's delivery window (none: unlimited).
func (ss *session) acquire(ctx context.Context) bool {
	if ss.window == nil {
		return true
	}
	select {
	case ss.window <- struct{}{}:
		return true
	case <-ss.done:
		return false
	case <-ctx.Done():
		return false
	}
}

func (ss *session) release() {
	if ss.window != nil {
		<-ss.window
	}
}
