package review

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/store"
)

// Several smsfw nodes share one PostgreSQL store. An analyst may act on
// any node's API; the store's quarantine_decisions row of a message is the
// lock that keeps two nodes from deciding it twice, and the way a node
// asks another to send it:
//
//   - A node that can send the message (a bound upstream of its peer for
//     MT, a bound receiver session for MO: Router.CanRelease) claims the
//     decision and releases it itself. The message's PDUs are in the store,
//     so the node that held it need not be alive.
//   - Otherwise the decision is left pending and the nodes are notified
//     (LISTEN/NOTIFY, and every node polls each PollInterval); the first
//     node that can send it claims it, releases it and finishes the row.
//     The asking node waits up to ReleaseWait for the outcome, then answers
//     a *PendingError (HTTP 202 with the decision; GET
//     /api/v1/quarantine/{id}/decision follows it).
//   - A pending decision nobody could carry out within PendingTTL fails;
//     a claimed one whose node stopped before finishing (lease ended)
//     fails as "outcome unknown": the message stays held, and an analyst
//     checks the SMSC before releasing it again.
//
// Rejects and expiries take the same lock and act on the node asked (the
// failure receipt goes out only if that node has a receiver session of the
// peer). A decision carried out at once (a reject, a release on a node that
// can send it, an expiry) supersedes a pending release. Overrides are re-read on every poll and notification and pushed
// when they changed.

// ClusterOptions configure a Service as one node of several.
type ClusterOptions struct {
	// Node names this node in decisions and audit entries (required).
	Node  string
	Store store.Cluster
	// Wake receives a value when another node may have changed something
	// (a notification); nil: polling only.
	Wake <-chan struct{}
	// PollInterval: how often pending decisions and overrides are re-read
	// (default 2s). ReleaseWait: how long a release asked on a node that
	// cannot send it waits for another node (default 10s). PendingTTL: how
	// long a release may wait for a node that can send it (default 10m).
	// ReleaseLease: how long a node may take to release a message before
	// its claim is failed (default 2m).
	PollInterval, ReleaseWait, PendingTTL, ReleaseLease time.Duration
}

func (c *ClusterOptions) init() error {
	if c.Node == "" || c.Store == nil {
		return errors.New("review: ClusterOptions needs Node and Store")
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.ReleaseWait <= 0 {
		c.ReleaseWait = 10 * time.Second
	}
	if c.PendingTTL <= 0 {
		c.PendingTTL = 10 * time.Minute
	}
	if c.ReleaseLease <= 0 {
		c.ReleaseLease = 2 * time.Minute
	}
	return nil
}

// Router is implemented by a Quarantiner that can tell whether it could
// send a held message now (the proxy). Without it a node assumes it can.
type Router interface {
	CanRelease(ev *filter.Event) bool
}

// PendingError: the release was handed to another node and had not
// finished when the asking node stopped waiting.
type PendingError struct{ Decision *store.Decision }

func (e *PendingError) Error() string {
	return fmt.Sprintf("review: release of event %d is %s (asked on node %q)", e.Decision.EventID, e.Decision.State, e.Decision.AskedOn)
}

// ClusterOutcome is a metric label: what became of a decision crossing nodes.
type ClusterOutcome string

// Outcomes counted by smsfw_review_cluster_decisions_total.
const (
	// OutcomeForwarded: asked here, left pending for a node that can send it.
	OutcomeForwarded ClusterOutcome = "forwarded"
	// OutcomeCarriedOut: asked on another node, released here.
	OutcomeCarriedOut ClusterOutcome = "carried_out"
	// OutcomePending: the asking node answered "pending" (202).
	OutcomePending ClusterOutcome = "pending"
	// OutcomeStale: failed by the poll (lease ended, or no node in time).
	OutcomeStale ClusterOutcome = "stale"
)

// Payloads of the notifications.
const (
	notifyDecision  = "decision"
	notifyOverrides = "overrides"
)

func (s *Service) canRelease(ev *filter.Event) bool {
	if r, ok := s.o.Quarantine.(Router); ok {
		return r.CanRelease(ev)
	}
	return true
}

// notify wakes the other nodes; a failure only delays them to their poll.
func (s *Service) notify(ctx context.Context, payload string) {
	if s.c == nil {
		return
	}
	if err := s.c.Store.Notify(context.WithoutCancel(ctx), payload); err != nil {
		s.log.Warn("notifying the other nodes failed; they see the change at their next poll", zap.String("what", payload), zap.Error(err))
	}
}

// beginDecision takes the shared decision on a held event for this node
// (a no-op on a single node); finish(result, err) ends it: done unless err
// says the action did not happen.
func (s *Service) beginDecision(ctx context.Context, id int64, act Action, by, reason string) (finish func(string, error), err error) {
	if s.c == nil {
		return func(string, error) {}, nil
	}
	now := s.o.Now()
	d := &store.Decision{EventID: id, Action: string(act), Actor: by, Reason: reason, AskedOn: s.c.Node, Node: s.c.Node,
		Requested: now, LeaseUntil: now.Add(s.c.ReleaseLease)}
	if err := s.c.Store.BeginDecision(ctx, d); err != nil {
		return nil, decisionError(err)
	}
	return func(result string, err error) { s.finishDecision(ctx, d, result, err) }, nil
}

func (s *Service) finishDecision(ctx context.Context, d *store.Decision, result string, err error) {
	state, text := store.DecisionDone, ""
	var sns *StateNotSavedError
	if err != nil && !errors.As(err, &sns) { // a release whose state was not saved did happen
		state, text = store.DecisionFailed, err.Error()
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ferr := s.c.Store.FinishDecision(fctx, d.EventID, s.c.Node, state, result, text, s.o.Now()); ferr != nil {
		s.log.Error("decision carried out but not finished in the store", zap.Int64("event", d.EventID),
			zap.String("action", d.Action), zap.String("state", state), zap.Error(ferr))
	}
	s.notify(fctx, notifyDecision)
}

// decisionError maps the store's answer to BeginDecision to the API's.
func decisionError(err error) error {
	var nh *store.NotHeldError
	switch {
	case errors.As(err, &nh):
		return fmt.Errorf("%w: %v", ErrNotHeld, nh)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w (%v)", ErrBusy, err)
	}
	return err
}

// releasedAs is the SMSC's ids of a released event.
func releasedAs(ev *filter.Event, err error) string {
	var sns *StateNotSavedError
	if errors.As(err, &sns) {
		return sns.UpstreamID
	}
	if err != nil || ev == nil {
		return ""
	}
	return ev.UpstreamMessageID
}

// clusterRelease releases here when this node can send the message, else
// asks the other nodes and waits for the outcome.
func (s *Service) clusterRelease(ctx context.Context, id int64, by, reason string) (*filter.Event, error) {
	if s.o.Quarantine == nil {
		return nil, ErrNoQuarantine
	}
	ev, err := s.o.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if ev.Quarantine != filter.QuarantineHeld {
		return ev, notHeld(ev)
	}
	if s.canRelease(ev) {
		ev, done, err := s.lockHeld(ctx, id, ActRelease, by, reason)
		if err != nil {
			return ev, err
		}
		out, err := s.releaseHeld(ctx, ev, by, reason, map[string]any{"node": s.c.Node})
		done(releasedAs(out, err), err)
		return out, err
	}
	d := &store.Decision{EventID: id, Action: string(ActRelease), Actor: by, Reason: reason, AskedOn: s.c.Node, Requested: s.o.Now()}
	if err := s.c.Store.BeginDecision(ctx, d); err != nil {
		return ev, decisionError(err)
	}
	s.m.cluster(OutcomeForwarded)
	s.log.Info("release handed to the other nodes (no session for the peer here)", zap.Int64("event", id), zap.String("peer", ev.Peer))
	s.notify(ctx, notifyDecision)
	return s.await(ctx, ev, d)
}

// awaitTick is how often a waiting node reads the decision (one row by key).
const awaitTick = 100 * time.Millisecond

// await waits for another node to finish d, up to ReleaseWait.
func (s *Service) await(ctx context.Context, ev *filter.Event, d *store.Decision) (*filter.Event, error) {
	timer := time.NewTimer(s.c.ReleaseWait)
	defer timer.Stop()
	tick := time.NewTicker(awaitTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.m.cluster(OutcomePending)
			return ev, &PendingError{Decision: d}
		case <-timer.C:
			s.m.cluster(OutcomePending)
			return ev, &PendingError{Decision: d}
		case <-tick.C:
		}
		cur, err := s.c.Store.Decision(ctx, d.EventID)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return ev, err
		}
		if cur.Action != d.Action {
			// A reject or expiry carried out on another node took over
			// (another release taking over is followed: same outcome).
			return ev, fmt.Errorf("%w: the release was superseded by a %s on node %q", ErrBusy, cur.Action, cur.Node)
		}
		switch cur.State {
		case store.DecisionDone:
			return s.o.Store.Get(context.WithoutCancel(ctx), d.EventID)
		case store.DecisionFailed:
			return ev, fmt.Errorf("%w: on node %q: %s", ErrReleaseFailed, cur.Node, cur.Error)
		}
		d = cur
	}
}

// Decision returns the shared decision on an event (ErrNotFound: none, or
// a single node).
func (s *Service) Decision(ctx context.Context, id int64) (*store.Decision, error) {
	if s.c == nil {
		return nil, store.ErrNotFound
	}
	return s.c.Store.Decision(ctx, id)
}

func (s *Service) clusterLoop() {
	t := time.NewTicker(s.c.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.c.Wake:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(s.c.PollInterval, 10*time.Second))
		if err := s.SyncCluster(ctx); err != nil {
			s.log.Warn("cluster sync failed; retried at the next poll", zap.Error(err))
		}
		cancel()
	}
}

// SyncCluster is one round of a node's share of the work: fail stale
// decisions, carry out the pending releases this node can send, apply the
// overrides if another node changed them. The loop runs it each
// PollInterval and on each notification; exported for tests.
func (s *Service) SyncCluster(ctx context.Context) error {
	now := s.o.Now()
	stale, err := s.c.Store.ExpireDecisions(ctx, now, now.Add(-s.c.PendingTTL))
	for _, d := range stale {
		s.m.cluster(OutcomeStale)
		s.m.failure(Action(d.Action))
		s.log.Warn("quarantine decision failed: not carried out in time", zap.Int64("event", d.EventID), zap.String("action", d.Action),
			zap.String("node", d.Node), zap.String("asked_on", d.AskedOn), zap.String("error", d.Error))
		s.audit(ctx, d.Actor, auditReleaseFailed, d.EventID, d.Reason, map[string]any{"error": d.Error, "node": d.Node, "asked_on": d.AskedOn})
	}
	if err != nil {
		return err
	}
	if s.o.Quarantine != nil {
		pend, err := s.c.Store.PendingDecisions(ctx, 100)
		if err != nil {
			return err
		}
		for _, d := range pend {
			s.carryOut(ctx, d)
		}
	}
	return s.syncOverrides(ctx)
}

// carryOut releases a pending decision's message when this node can send
// it, in the background (a release waits for the SMSC).
func (s *Service) carryOut(ctx context.Context, d *store.Decision) {
	ev, err := s.o.Store.Get(ctx, d.EventID)
	if err != nil || ev.Quarantine != filter.QuarantineHeld || d.Action != string(ActRelease) || !s.canRelease(ev) {
		return // not held any more: BeginDecision refuses new ones, the TTL ends this one
	}
	if !s.acquire(d.EventID) {
		return
	}
	ok, err := s.c.Store.ClaimDecision(ctx, d.EventID, s.c.Node, s.o.Now().Add(s.c.ReleaseLease))
	if err != nil || !ok {
		s.release(d.EventID)
		return
	}
	d.Node = s.c.Node
	s.carrying.Add(1)
	go func() {
		defer s.carrying.Done()
		defer s.release(d.EventID)
		rctx, cancel := context.WithTimeout(context.Background(), s.c.ReleaseLease)
		defer cancel()
		out, err := s.releaseHeld(rctx, ev, d.Actor, d.Reason, map[string]any{"node": s.c.Node, "asked_on": d.AskedOn})
		s.finishDecision(rctx, d, releasedAs(out, err), err)
		s.m.cluster(OutcomeCarriedOut)
		s.log.Info("released a message for another node", zap.Int64("event", d.EventID), zap.String("asked_on", d.AskedOn), zap.Error(err))
	}()
}

// syncOverrides pushes the stored overrides when they differ from the set
// last pushed.
func (s *Service) syncOverrides(ctx context.Context) error {
	if s.o.Overrides == nil {
		return nil
	}
	set, err := s.o.Store.Overrides(ctx)
	if err != nil {
		return fmt.Errorf("review: loading overrides: %w", err)
	}
	s.pushMu.Lock()
	same := reflect.DeepEqual(set, s.pushed)
	s.pushMu.Unlock()
	if same {
		return nil
	}
	return s.pushOverrides(ctx)
}
