// Package review is the analysts' API (/api/v1): search events and
// campaigns, traffic statistics, the quarantine queue with release and
// reject, false positives and block overrides, and the audit log of every
// analyst action. It reads the event store and acts on the proxy through
// two small interfaces; it never sits on the relay path.
package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/store"
)

// Quarantiner acts on held messages: the proxy implements it.
type Quarantiner interface {
	// Release sends a held message's PDUs upstream and returns the SMSC's
	// message id.
	Release(ctx context.Context, ev *filter.Event) (upstreamMsgID string, err error)
	// RejectHeld tells the sender, best effort, that the message failed
	// (a failure receipt when one was asked for).
	RejectHeld(ev *filter.Event)
}

// Options configure a Service.
type Options struct {
	Store      store.Store
	Quarantine Quarantiner           // nil: release and reject answer 503
	Overrides  filter.OverrideSetter // nil: overrides are stored but not applied live
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time

	// QuarantineTTL is how long a message may stay held before it expires
	// (default 24h); ExpiryInterval how often expiry runs (default 1m).
	QuarantineTTL  time.Duration
	ExpiryInterval time.Duration

	// Cluster makes this Service one node of several sharing the store
	// (nil: the only one). See cluster.go.
	Cluster *ClusterOptions
}

// SystemActor is the audit actor of the expiry.
const SystemActor = "system"

// Service is the review API and its background work (override loading,
// quarantine expiry).
type Service struct {
	o       Options
	c       *ClusterOptions // nil: a single node
	log     *zap.Logger
	m       *Metrics
	handler http.Handler

	// busy holds the ids of quarantined events being decided, so two
	// analysts (or an analyst and the expiry) cannot both act on one: a
	// release must reach the SMSC once. The store's SetQuarantine catches
	// the rest (another process) after the fact.
	busyMu sync.Mutex
	busy   map[int64]bool

	// pushMu orders override pushes so a slow push of an older set cannot
	// overwrite a newer one; pushed is the set last pushed.
	pushMu sync.Mutex
	pushed []filter.Override

	// carrying counts the releases this node carries out for other nodes.
	carrying sync.WaitGroup

	started  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	loops    sync.WaitGroup // the expiry and cluster loops
}

// Sentinel errors of the actions.
var (
	ErrNotHeld       = errors.New("review: the message is not held in quarantine")
	ErrBusy          = errors.New("review: another decision on this message is in progress")
	ErrNoQuarantine  = errors.New("review: quarantine actions are not available (no proxy attached)")
	ErrReleaseFailed = errors.New("review: release upstream failed")
	ErrNoFingerprint = errors.New("review: the event has no text fingerprint")
)

// New returns a Service. Start loads the overrides and starts the expiry.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("review: Options.Store is required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QuarantineTTL <= 0 {
		o.QuarantineTTL = 24 * time.Hour
	}
	if o.ExpiryInterval <= 0 {
		o.ExpiryInterval = time.Minute
	}
	s := &Service{o: o, log: o.Logger.Named("review"), m: NewMetrics(o.Registerer), busy: map[int64]bool{},
		stop: make(chan struct{})}
	if o.Cluster != nil {
		if err := o.Cluster.init(); err != nil {
			return nil, err
		}
		s.c = o.Cluster
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves /api/v1/... (mount it at "/api/v1/").
func (s *Service) Handler() http.Handler { return s.handler }

// Start pushes the stored overrides to the inspector and starts the
// quarantine expiry; Stop ends it. An error loading the overrides is
// returned (the caller decides whether to run without them).
func (s *Service) Start(ctx context.Context) error {
	err := s.pushOverrides(ctx)
	if s.started.CompareAndSwap(false, true) {
		s.loops.Go(s.expiryLoop)
		if s.c != nil {
			s.loops.Go(s.clusterLoop)
		}
	}
	return err
}

// Stop ends the expiry loop and waits for it. Safe to call more than once,
// and without Start.
func (s *Service) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.loops.Wait()
	s.carrying.Wait()
}

func (s *Service) expiryLoop() {
	t := time.NewTicker(s.o.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.o.ExpiryInterval)
			if n, err := s.ExpireHeld(ctx); err != nil {
				s.log.Warn("quarantine expiry failed", zap.Error(err))
			} else if n > 0 {
				s.log.Info("quarantined messages expired", zap.Int("count", n))
			}
			cancel()
		}
	}
}

// ExpireHeld expires the messages held longer than the TTL: their state
// becomes expired, the sender gets a failure (RejectHeld) and the audit log
// a line by "system". It returns how many expired.
func (s *Service) ExpireHeld(ctx context.Context) (int, error) {
	cutoff := s.o.Now().Add(-s.o.QuarantineTTL)
	total := 0
	for {
		evs, err := s.o.Store.HeldBefore(ctx, cutoff, 100)
		if err != nil {
			return total, err
		}
		n := 0
		for _, ev := range evs {
			if !s.acquire(ev.ID) {
				continue // an analyst is deciding it right now
			}
			finish, err := s.beginDecision(ctx, ev.ID, ActExpire, SystemActor, "")
			if err != nil {
				s.release(ev.ID)
				if errors.Is(err, ErrBusy) || errors.Is(err, ErrNotHeld) {
					continue // another node decides it, or did
				}
				return total + n, err
			}
			err = s.o.Store.SetQuarantine(ctx, ev.ID, filter.QuarantineHeld, filter.QuarantineExpired, SystemActor, "", s.o.Now())
			finish("", err)
			if err == nil {
				if s.o.Quarantine != nil {
					s.o.Quarantine.RejectHeld(ev)
				}
				s.m.action(ActExpire)
				s.audit(ctx, SystemActor, string(ActExpire), ev.ID, "held longer than "+s.o.QuarantineTTL.String(), eventDetail(ev, nil))
				n++
			}
			s.release(ev.ID)
			if err != nil && !errors.Is(err, store.ErrConflict) {
				return total + n, err
			}
		}
		total += n
		// Stop when the page was short, or when nothing on it could be
		// expired (all busy or conflicting): the next tick retries.
		if len(evs) < 100 || n == 0 {
			return total, nil
		}
	}
}

func (s *Service) acquire(id int64) bool {
	s.busyMu.Lock()
	defer s.busyMu.Unlock()
	if s.busy[id] {
		return false
	}
	s.busy[id] = true
	return true
}

func (s *Service) release(id int64) {
	s.busyMu.Lock()
	delete(s.busy, id)
	s.busyMu.Unlock()
}

// pushOverrides sends the whole stored set to the inspector at once.
func (s *Service) pushOverrides(ctx context.Context) error {
	if s.o.Overrides == nil {
		return nil
	}
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	set, err := s.o.Store.Overrides(ctx)
	if err != nil {
		return fmt.Errorf("review: loading overrides: %w", err)
	}
	s.o.Overrides.SetOverrides(set)
	s.pushed = set
	return nil
}

// Audit records an action taken outside the review API (a configuration
// reload) in the audit log, under a target name of the caller's.
func (s *Service) Audit(ctx context.Context, actor string, action Action, target, reason string, detail map[string]any) {
	s.m.action(action)
	s.auditTarget(ctx, actor, string(action), target, reason, detail)
}

// audit writes one audit entry. A failure is logged and counted, not
// returned: the action it records has already happened.
func (s *Service) audit(ctx context.Context, actor, action string, target int64, reason string, detail map[string]any) {
	s.auditTarget(ctx, actor, action, strconv.FormatInt(target, 10), reason, detail)
}

func (s *Service) auditTarget(ctx context.Context, actor, action, target, reason string, detail map[string]any) {
	var d string
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		d = string(b)
	}
	a := &store.AuditEntry{Time: s.o.Now(), Actor: actor, Action: action, Target: target, Reason: reason, Detail: d}
	// The request may be gone (client hung up) once the action is done:
	// the audit line is written regardless.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.o.Store.AddAudit(ctx, a); err != nil {
		s.m.failure(Action(action))
		s.log.Error("audit entry not written", zap.String("actor", actor), zap.String("action", action),
			zap.String("target", target), zap.Error(err))
	}
}

// eventDetail is what the audit log keeps of an event: who and where, never
// the text.
func eventDetail(ev *filter.Event, extra map[string]any) map[string]any {
	d := map[string]any{"peer": ev.Peer, "sender": ev.Sender, "dest": ev.Dest, "rule_id": ev.RuleID, "action": ev.Action}
	if ev.Fingerprint != 0 {
		d["fingerprint"] = filter.FormatFingerprint(ev.Fingerprint)
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// actor names the analyst: the admin server's authentication puts it in
// the context.
func actor(r *http.Request) string {
	if a := admin.Actor(r.Context()); a != "" {
		return a
	}
	return "anonymous"
}

// Release releases a held message: it must be held; the proxy sends it
// upstream; the state becomes released with the SMSC's id; the audit log
// records it. Exported for tests and tools; the API calls it. With a
// cluster (Options.Cluster) a node that cannot send it asks another node
// and may answer a *PendingError (see cluster.go).
func (s *Service) Release(ctx context.Context, id int64, by, reason string) (*filter.Event, error) {
	if s.c != nil {
		return s.clusterRelease(ctx, id, by, reason)
	}
	ev, done, err := s.lockHeld(ctx, id, ActRelease, by, reason)
	if err != nil {
		return ev, err
	}
	out, err := s.releaseHeld(ctx, ev, by, reason, nil)
	done(releasedAs(out, err), err)
	return out, err
}

// releaseHeld sends a held event's message upstream and records its new
// state and the audit entry (extra: more audit detail). The caller holds
// the decision lock.
func (s *Service) releaseHeld(ctx context.Context, ev *filter.Event, by, reason string, extra map[string]any) (*filter.Event, error) {
	id := ev.ID
	upID, err := s.o.Quarantine.Release(ctx, ev)
	if err != nil {
		s.m.failure(ActRelease)
		s.log.Warn("release failed", zap.Int64("event", id), zap.Error(err))
		// The attempt is part of the record: who tried, why, what the SMSC said.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		s.audit(actx, by, auditReleaseFailed, id, reason, eventDetail(ev, withDetail(extra, "error", err.Error())))
		return ev, fmt.Errorf("%w: %v", ErrReleaseFailed, err)
	}
	// The message is gone upstream: record it even if the client left.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.o.Store.SetQuarantine(sctx, id, filter.QuarantineHeld, filter.QuarantineReleased, by, upID, s.o.Now()); err != nil {
		s.m.failure(ActRelease)
		// The SMSC has the message but the store still says held; an
		// operator must know, or a second release would send it twice.
		s.log.Error("released upstream but the new state was not stored", zap.Int64("event", id),
			zap.String("upstream_message_id", upID), zap.Error(err))
		s.audit(sctx, by, string(ActRelease), id, reason, eventDetail(ev, withDetail(extra, "upstream_message_id", upID, "state_error", err.Error())))
		return ev, &StateNotSavedError{UpstreamID: upID, Err: err}
	}
	s.m.action(ActRelease)
	s.audit(sctx, by, string(ActRelease), id, reason, eventDetail(ev, withDetail(extra, "upstream_message_id", upID)))
	return s.o.Store.Get(sctx, id)
}

// StateNotSavedError: the message was released upstream but its new state
// was not stored.
type StateNotSavedError struct {
	UpstreamID string
	Err        error
}

func (e *StateNotSavedError) Error() string {
	return fmt.Sprintf("released upstream as %q but the state was not saved: %v", e.UpstreamID, e.Err)
}

func (e *StateNotSavedError) Unwrap() error { return e.Err }

// withDetail returns extra plus the key/value pairs kv, in a new map.
func withDetail(extra map[string]any, kv ...string) map[string]any {
	d := make(map[string]any, len(extra)+len(kv)/2)
	for k, v := range extra {
		d[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return d
}

// auditReleaseFailed is the audit action of a release the SMSC (or the
// proxy) refused; the message stays held.
const auditReleaseFailed = "release_failed"

// Reject rejects a held message: the state becomes rejected first (so a
// failure receipt goes out once), then the proxy tells the sender.
func (s *Service) Reject(ctx context.Context, id int64, by, reason string) (*filter.Event, error) {
	ev, done, err := s.lockHeld(ctx, id, ActReject, by, reason)
	if err != nil {
		return ev, err
	}
	err = s.o.Store.SetQuarantine(ctx, id, filter.QuarantineHeld, filter.QuarantineRejected, by, "", s.o.Now())
	done("", err)
	if err != nil {
		return ev, err
	}
	s.o.Quarantine.RejectHeld(ev)
	s.m.action(ActReject)
	s.audit(ctx, by, string(ActReject), id, reason, eventDetail(ev, nil))
	return s.o.Store.Get(context.WithoutCancel(ctx), id)
}

// lockHeld takes the per-event decision lock and returns the event if it is
// held; done(result, err) releases the lock (and, in a cluster, finishes
// the shared decision: done unless err says the action did not happen).
// On error the lock is not held.
func (s *Service) lockHeld(ctx context.Context, id int64, act Action, by, reason string) (ev *filter.Event, done func(string, error), err error) {
	if s.o.Quarantine == nil {
		return nil, nil, ErrNoQuarantine
	}
	if !s.acquire(id) {
		return nil, nil, ErrBusy
	}
	if ev, err = s.o.Store.Get(ctx, id); err == nil && ev.Quarantine != filter.QuarantineHeld {
		err = notHeld(ev)
	}
	var finish func(string, error)
	if err == nil {
		finish, err = s.beginDecision(ctx, id, act, by, reason)
	}
	if err != nil {
		s.release(id)
		return ev, nil, err
	}
	return ev, func(result string, err error) {
		finish(result, err)
		s.release(id)
	}, nil
}

func notHeld(ev *filter.Event) error {
	if ev.Quarantine == "" {
		return fmt.Errorf("%w: event %d was not quarantined (action %s)", ErrNotHeld, ev.ID, ev.Action)
	}
	return fmt.Errorf("%w: event %d is %s", ErrNotHeld, ev.ID, ev.Quarantine)
}

// FalsePositive adds an allow override from an event (scope: sender,
// fingerprint or sender_fingerprint) and applies the new set.
func (s *Service) FalsePositive(ctx context.Context, id int64, scope, by, reason string) (*filter.Override, error) {
	ev, err := s.o.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	o := &filter.Override{Kind: scope, Action: filter.OverrideAllow, Reason: reason, Author: by, EventID: ev.ID, Created: s.o.Now()}
	switch scope {
	case filter.OverrideSender:
		o.Sender = ev.Sender
	case filter.OverrideFingerprint:
		o.Fingerprint = ev.Fingerprint
	case filter.OverrideSenderFingerprint:
		o.Sender, o.Fingerprint = ev.Sender, ev.Fingerprint
	default:
		return nil, badf("scope %q must be sender, fingerprint or sender_fingerprint", scope)
	}
	if scope != filter.OverrideSender && ev.Fingerprint == 0 {
		return nil, fmt.Errorf("%w: %w (scope sender works)", ErrBadRequest, ErrNoFingerprint)
	}
	if scope != filter.OverrideFingerprint && ev.Sender == "" {
		return nil, badf("the event has no sender")
	}
	if err := s.addOverride(ctx, o, string(ActFalsePositive), ActFalsePositive); err != nil {
		return nil, err
	}
	return o, nil
}

// AddOverride stores an analyst's override and applies the new set.
func (s *Service) AddOverride(ctx context.Context, o *filter.Override) error {
	if err := checkOverride(o); err != nil {
		return err
	}
	act := ActBlock
	if o.Action == filter.OverrideAllow {
		act = ActAllow
	}
	return s.addOverride(ctx, o, o.Action+"_"+o.Kind, act)
}

func checkOverride(o *filter.Override) error {
	switch o.Kind {
	case filter.OverrideSender:
		if o.Sender == "" || o.Fingerprint != 0 {
			return badf("kind sender needs a sender and no fingerprint")
		}
	case filter.OverrideFingerprint:
		if o.Fingerprint == 0 || o.Sender != "" {
			return badf("kind fingerprint needs a fingerprint and no sender")
		}
	case filter.OverrideSenderFingerprint:
		if o.Fingerprint == 0 || o.Sender == "" {
			return badf("kind sender_fingerprint needs a sender and a fingerprint")
		}
	default:
		return badf("kind %q must be sender, fingerprint or sender_fingerprint", o.Kind)
	}
	if o.Action != filter.OverrideAllow && o.Action != filter.OverrideBlock {
		return badf("action %q must be block or allow", o.Action)
	}
	if len(o.Sender) > 64 {
		return badf("sender longer than 64 characters")
	}
	return nil
}

func (s *Service) addOverride(ctx context.Context, o *filter.Override, auditAction string, act Action) error {
	if err := s.o.Store.AddOverride(ctx, o); err != nil {
		return err
	}
	s.m.action(act)
	detail := map[string]any{"kind": o.Kind, "action": o.Action}
	if o.Sender != "" {
		detail["sender"] = o.Sender
	}
	if o.Fingerprint != 0 {
		detail["fingerprint"] = filter.FormatFingerprint(o.Fingerprint)
	}
	target := o.ID
	if o.EventID != 0 {
		detail["override_id"] = strconv.FormatInt(o.ID, 10)
		target = o.EventID
	}
	s.audit(ctx, o.Author, auditAction, target, o.Reason, detail)
	s.notify(ctx, notifyOverrides)
	if err := s.pushOverrides(context.WithoutCancel(ctx)); err != nil {
		s.m.failure(act)
		s.log.Error("override stored but not applied", zap.Int64("override", o.ID), zap.Error(err))
		return fmt.Errorf("override %d stored but not applied: %w", o.ID, err)
	}
	return nil
}

// DeleteOverride removes an override and applies the new set.
func (s *Service) DeleteOverride(ctx context.Context, id int64, by, reason string) error {
	var old *filter.Override
	if set, err := s.o.Store.Overrides(ctx); err == nil {
		for i := range set {
			if set[i].ID == id {
				old = &set[i]
			}
		}
	}
	if err := s.o.Store.DeleteOverride(ctx, id); err != nil {
		return err
	}
	s.m.action(ActDeleteOverride)
	detail := map[string]any{}
	if old != nil {
		detail = map[string]any{"kind": old.Kind, "action": old.Action, "sender": old.Sender, "author": old.Author}
		if old.Fingerprint != 0 {
			detail["fingerprint"] = filter.FormatFingerprint(old.Fingerprint)
		}
	}
	s.audit(ctx, by, string(ActDeleteOverride), id, reason, detail)
	s.notify(ctx, notifyOverrides)
	if err := s.pushOverrides(context.WithoutCancel(ctx)); err != nil {
		s.m.failure(ActDeleteOverride)
		return fmt.Errorf("override %d deleted but the new set not applied: %w", id, err)
	}
	return nil
}
