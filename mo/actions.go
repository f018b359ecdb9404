package mo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/store"
)

// ruleRoute is the route of a rule's actions.
type ruleRoute struct {
	*route
	actions *Actions // the snapshot's, to see a reload's change
}

// Reasons a rule's actions were not queued
// (smsfw_mo_actions_dropped_total{reason}).
const (
	DropFull   = "queue_full" // more actions waiting for the store than options.Pending
	DropClosed = "closed"     // smsfw was stopping
	DropStore  = "store"      // the store still refused them at shutdown
	DropConfig = "config"     // the action could not be set up (logged)
)

// SetRuleActions sets up the routes of the policy's rules with actions
// (rule id -> actions), so actions queued before a restart are delivered
// before the rule fires again; QueueAction does the same for a rule it
// meets first or whose actions a reload changed.
func (s *Service) SetRuleActions(byRule map[string]*Actions) error {
	var errs []error
	for id, a := range byRule {
		if _, err := s.ruleRoute(id, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ruleRoute returns the route of rule id, made or brought up to date with
// a (the snapshot's actions: a pointer compare tells a reload's change).
// A target the rule no longer has stays, refusing what it still holds
// (dead letters, replayable once the rule has it again).
func (s *Service) ruleRoute(id string, a *Actions) (*ruleRoute, error) {
	s.rmu.RLock()
	rr := s.rules[id]
	s.rmu.RUnlock()
	if rr != nil && rr.actions == a {
		return rr, nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if rr = s.rules[id]; rr != nil && rr.actions == a {
		return rr, nil
	}
	rc := Route{Name: RulePrefix + id, Reply: a.Reply, Webhook: a.Webhook, Email: a.Email, SMPP: new(bool)}
	if rr == nil {
		rr = &ruleRoute{route: &route{Route: rc, pullWake: make(chan struct{})}}
	}
	ts, err := s.targetsOf(rr.route, rc, SkipRule)
	if err != nil {
		return nil, fmt.Errorf("mo: rule %s: %w", id, err)
	}
	rr.actions = a
	have := map[string]*target{}
	for _, t := range rr.targets {
		have[t.name] = t
	}
	for _, t := range ts {
		if old := have[t.name]; old != nil {
			old.set(t.config())
			delete(have, t.name)
			continue
		}
		rr.targets = append(rr.targets, t)
		s.m.init(rr.Name, t.name)
		if s.started && s.ctx.Err() == nil {
			s.startTarget(rr.route, t)
		}
	}
	for _, t := range have {
		rt, _ := t.config()
		t.set(rt, func(context.Context, []*item) error { return errActionGone })
	}
	s.rules[id] = rr
	return rr, nil
}

// allRoutes is the configured routes, then the rules' routes by name.
func (s *Service) allRoutes() []*route {
	out := append([]*route(nil), s.set.Load().list...)
	s.rmu.RLock()
	ids := make([]string, 0, len(s.rules))
	for id := range s.rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, s.rules[id].route)
	}
	s.rmu.RUnlock()
	return out
}

var errActionGone = permanent(errSentinel("mo: the rule no longer has this action (replay it once it has)"))

// QueueAction queues the actions of t's rule, one row per target, for the
// store, without waiting: the message's verdict and relay do not wait for
// them. Once written they are durable like a route's targets; a store
// that refuses them is retried (they wait in memory meanwhile, up to
// options.Pending batches; beyond, and at shutdown, they are dropped and
// counted).
func (s *Service) QueueAction(t Trigger) {
	rr, err := s.ruleRoute(t.Rule, t.Actions)
	if err != nil {
		s.dropActions(t.Rule, DropConfig, err)
		return
	}
	base := store.MOMessage{Route: rr.Name, Received: t.Received.UTC(), Peer: t.Peer, Sender: t.Sender, Dest: t.Dest,
		DataCoding: t.DataCoding, Text: t.Text, Action: t.Action, RuleID: t.Rule, Raw: []byte{}}
	rows := rowsFor(&base, t.Actions.Targets())
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropActions(t.Rule, DropClosed, ErrClosed)
		return
	}
	select {
	case s.acts <- rows:
	default:
		s.dropActions(t.Rule, DropFull, ErrQueueFull)
	}
}

func (s *Service) dropActions(rule, reason string, err error) {
	s.m.actionsDropped.WithLabelValues(reason).Inc()
	if n, ok := s.actLog.Tick(10 * time.Second); ok {
		s.log.Error("rule actions not queued", zap.String("rule", rule), zap.String("reason", reason),
			zap.Int64("count", n), zap.Error(err))
	}
}

// actionWriter stores the rules' actions in batches, retrying a store that
// refuses them until it takes them or smsfw stops (then one last try).
func (s *Service) actionWriter() {
	const maxBatch = 256
	for rows := range s.acts {
		batch := rows
	more:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.acts:
				if !ok {
					break more
				}
				batch = append(batch, r...)
			default:
				break more
			}
		}
		wait := 50 * time.Millisecond
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := s.q.EnqueueMO(ctx, batch)
			cancel()
			if err == nil {
				for _, row := range batch {
					s.m.queued.WithLabelValues(row.Route, row.Target).Inc()
					s.wakeRoute(s.lookup(row.Route), row.Target)
				}
				break
			}
			if s.ctx.Err() != nil {
				for _, row := range batch {
					s.dropActions(row.RuleID, DropStore, err)
				}
				break
			}
			if n, ok := s.actLog.Tick(10 * time.Second); ok {
				s.log.Error("rule actions not queued yet; retrying", zap.Int("rows", len(batch)), zap.Int64("count", n), zap.Error(err))
			}
			select {
			case <-s.ctx.Done():
			case <-time.After(wait):
			}
			wait = min(wait*2, 5*time.Second)
		}
	}
}
