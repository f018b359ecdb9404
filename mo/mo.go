// Package mo delivers MO messages beyond SMPP: routes (`mo_routes:`)
// select MO by destination, keyword and sender; a matching MO is queued in
// the event store before the SMSC's deliver_sm is answered (proxy.MORouter),
// then pushed to an HTTP endpoint (signed, retried with backoff, dead
// letters replayable) and/or kept for consumers that pull it.
package mo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/internal/guard"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
	"github.com/smsfw/smsfw/store"
)

// Errors of QueueMO (the SMSC gets a temporary error and retries).
var (
	ErrQueueFull = errors.New("mo: too many MO waiting for the store")
	ErrClosed    = errors.New("mo: shutting down")
	ErrRouteGone = errors.New("mo: the matched route was replaced by two reloads since")
)

// Options wire a Service.
type Options struct {
	Routes Routes
	Queue  store.MOQueue
	Logger *zap.Logger
	// Registerer takes the metrics (nil: unregistered).
	Registerer prometheus.Registerer
	// Audit records an operator's action (dead-letter replays); nil: none.
	Audit func(ctx context.Context, actor, action, target, reason string, detail map[string]any)
	// Client posts to HTTP targets (default: one refusing redirects to
	// other hosts).
	Client *http.Client
	// Pending bounds MO waiting for the store (default 4096); beyond it the
	// SMSC gets 0x58.
	Pending int
	// SMTP is the mail server of email targets (required with them).
	SMTP *SMTP
	// Replier sends the routes' automatic replies (required with reply).
	Replier Replier
	// PartsWait is how long a long MO's parts wait for the rest of their
	// message (default PartsWait).
	PartsWait time.Duration
}

// Service routes, queues and delivers MO. It implements proxy.MORouter.
type Service struct {
	o   Options
	log *zap.Logger
	m   *Metrics
	q   store.MOQueue
	// set is the configured routes; SetRoutes swaps it whole on a reload.
	// byID finds a route MatchMO chose (MOMatch.Route) even if a reload
	// replaced it meanwhile; setMu serialises SetRoutes.
	set    atomic.Pointer[routeSet]
	byID   sync.Map // int -> *route
	nextID atomic.Int64
	setMu  sync.Mutex
	// retired are the ids of the routes the last SetRoutes replaced or
	// removed: still found by QueueMO for an MO matched just before it,
	// forgotten at the next one.
	retired []int
	client  *http.Client
	mailer  *Mailer

	mu     sync.RWMutex // closed and in: a send never meets a closed channel
	closed bool
	in     chan request
	wg     sync.WaitGroup // writer, push loops and pushes
	stop   context.CancelFunc
	ctx    context.Context
	errLog guard.SampledLog

	own ownSet // smsfw's reply addresses (routes' and rules'): never replied to
	// Rule actions (rules: actions:): a route per rule, named "rule:ID",
	// made when the rule first fires (or by SetRuleActions), its targets
	// re-set when a policy reload changes them.
	rmu     sync.RWMutex
	started bool
	rules   map[string]*ruleRoute
	acts    chan []*store.MOMessage
	actLog  guard.SampledLog
}

// routeSet is the configured routes at one time, in match order.
type routeSet struct {
	list   []*route
	byName map[string]*route
}

// route is a configured route with its secrets and wake-ups.
type route struct {
	Route
	conf    Route // as configured (Route gets defaults): what a reload compares
	id      int
	done    chan struct{} // closed when a reload removes or replaces the route: its loops end
	targets []*target     // served from the queue by delivery loops, in order
	token   [32]byte      // sha256 of the pull token
	limit   *replyLimit

	pmu      sync.Mutex
	pullWake chan struct{} // closed when pull messages were queued
	amu      sync.Mutex    // pull consumers' claims (assemble one at a time)
}

// target is a queued target delivered by a loop: http, webhook, email,
// reply. They share the queue, the retries and the dead letters; send
// is what differs.
type target struct {
	name   string
	digest time.Duration
	wake   chan struct{}

	mu    sync.RWMutex // a rule's actions change on policy reload
	retry Retry        // with defaults
	send  sendFunc
}

// sendFunc delivers items: one, or a digest's.
type sendFunc func(ctx context.Context, items []*item) error

// config is the target's retry settings and sender.
func (t *target) config() (Retry, sendFunc) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.retry, t.send
}

func (t *target) set(rt Retry, send sendFunc) {
	t.mu.Lock()
	t.retry, t.send = rt.WithDefaults(), send
	t.mu.Unlock()
}

func (t *target) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

var _ proxy.MORouter = (*Service)(nil)

// request is one MO waiting for the store.
type request struct {
	rows []*store.MOMessage
	done func(error)
}

// New builds a Service; Start runs its delivery.
func New(o Options) (*Service, error) {
	if o.Queue == nil {
		return nil, errors.New("mo: mo_routes need the event store (events.db or --db)")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Pending <= 0 {
		o.Pending = 4096
	}
	if o.PartsWait <= 0 {
		o.PartsWait = PartsWait
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{o: o, log: o.Logger.Named("mo"), m: NewMetrics(o.Registerer), q: o.Queue,
		client: o.Client, in: make(chan request, o.Pending), ctx: ctx, stop: cancel,
		rules: map[string]*ruleRoute{}, acts: make(chan []*store.MOMessage, o.Pending)}
	if s.client == nil {
		s.client = newClient()
	}
	set, _, err := s.buildSet(o.Routes, &routeSet{byName: map[string]*route{}})
	if err != nil {
		cancel()
		return nil, err
	}
	s.set.Store(set)
	return s, nil
}

// RoutesChanged is what SetRoutes changed, by route name.
type RoutesChanged struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// Empty reports whether nothing changed.
func (c RoutesChanged) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Changed) == 0 }

// SetRoutes replaces the configured routes (a configuration reload). A
// route whose settings are unchanged keeps running as it is; a changed
// one is rebuilt and its delivery loops restarted; a removed one stops
// delivering, its queued messages stay in the store (delivered again if
// a later reload brings the route back). MO matched by a route before the
// swap are still queued for it. On error (a secret file unreadable) the
// previous routes stay.
func (s *Service) SetRoutes(routes Routes) (RoutesChanged, error) {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	old := s.set.Load()
	next, ch, err := s.buildSet(routes, old)
	if err != nil {
		return RoutesChanged{}, err
	}
	s.set.Store(next)
	s.rmu.Lock()
	started := s.started && s.ctx.Err() == nil
	s.rmu.Unlock()
	for _, r := range next.list {
		if old.byName[r.Name] != r && started {
			for _, t := range r.targets {
				s.startTarget(r, t)
			}
		}
	}
	for _, id := range s.retired {
		s.byID.Delete(id)
	}
	s.retired = s.retired[:0]
	for _, r := range old.list {
		if next.byName[r.Name] != r {
			s.retired = append(s.retired, r.id)
			close(r.done)
			r.pmu.Lock() // pull consumers waiting on it look again
			close(r.pullWake)
			r.pullWake = make(chan struct{})
			r.pmu.Unlock()
		}
	}
	return ch, nil
}

// buildSet makes the routes of rcs, keeping those of old whose settings
// are the same.
func (s *Service) buildSet(rcs Routes, old *routeSet) (*routeSet, RoutesChanged, error) {
	next := &routeSet{byName: map[string]*route{}}
	var ch RoutesChanged
	for _, rc := range rcs {
		if o := old.byName[rc.Name]; o != nil && reflect.DeepEqual(o.conf, rc) {
			next.list = append(next.list, o)
			next.byName[rc.Name] = o
			continue
		}
		r, err := s.newRoute(rc)
		if err != nil {
			return nil, RoutesChanged{}, err
		}
		if old.byName[rc.Name] != nil {
			ch.Changed = append(ch.Changed, rc.Name)
		} else {
			ch.Added = append(ch.Added, rc.Name)
		}
		next.list = append(next.list, r)
		next.byName[rc.Name] = r
	}
	for _, o := range old.list {
		if next.byName[o.Name] == nil {
			ch.Removed = append(ch.Removed, o.Name)
		}
	}
	for _, r := range next.list {
		if r.Reply != nil {
			s.own.add(r.Reply.From)
		}
		s.byID.Store(r.id, r)
	}
	return next, ch, nil
}

func (s *Service) newRoute(rc Route) (*route, error) {
	r := &route{Route: rc, conf: rc, id: int(s.nextID.Add(1) - 1), done: make(chan struct{}), pullWake: make(chan struct{})}
	ts, err := s.targetsOf(r, rc, SkipRoute)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		r.targets = append(r.targets, t)
		s.m.init(r.Name, t.name)
	}
	if rc.Pull {
		b, err := ReadSecret(rc.PullTokenFile)
		if err != nil {
			return nil, err
		}
		r.token = sha256.Sum256(b)
		if r.PullVisibility == 0 {
			r.PullVisibility = DefaultPullVisibility
		}
		s.m.init(r.Name, TargetPull)
	}
	return r, nil
}

// targetsOf builds the queued targets of rc (http, webhook, email, reply)
// for route r, not yet attached to it; a reply sets up r's limits (rate
// is the reason of its per-minute limit: per_route or per_rule).
func (s *Service) targetsOf(r *route, rc Route, rate string) ([]*target, error) {
	var ts []*target
	add := func(name string, rt Retry, send sendFunc) *target {
		t := &target{name: name, wake: make(chan struct{}, 1)}
		t.set(rt, send)
		ts = append(ts, t)
		return t
	}
	for _, h := range []struct {
		name string
		t    *HTTPTarget
	}{{TargetHTTP, rc.HTTP}, {TargetWebhook, rc.Webhook}} {
		if h.t == nil {
			continue
		}
		secret := h.t.Secret()
		if secret == nil {
			var err error
			if secret, err = ReadSecret(h.t.SecretFile); err != nil {
				return nil, err
			}
		}
		url := h.t.URL
		add(h.name, h.t.Retry, func(ctx context.Context, items []*item) error {
			return s.post(ctx, url, secret, items[0])
		})
	}
	if e := rc.Email; e != nil {
		if s.o.SMTP == nil {
			return nil, fmt.Errorf("mo: %s: email needs the smtp section", rc.Name)
		}
		if s.mailer == nil {
			m, err := NewMailer(s.o.SMTP)
			if err != nil {
				return nil, err
			}
			s.mailer = m
		}
		to := e.To
		add(TargetEmail, e.Retry, func(ctx context.Context, items []*item) error {
			return s.mailer.Send(ctx, mailOf(rc.Name, to, items))
		}).digest = e.Digest
	}
	if p := rc.Reply; p != nil {
		if s.o.Replier == nil {
			return nil, fmt.Errorf("mo: %s: reply needs the proxy's upstream", rc.Name)
		}
		if r.limit == nil {
			r.limit = &replyLimit{own: &s.own, last: map[string]time.Time{}}
		}
		r.limit.configure(*p, rate)
		reply := *p
		add(TargetReply, p.Retry, func(ctx context.Context, items []*item) error {
			return s.reply(ctx, r.limit, reply, items[0].head())
		})
		s.m.initSkipped(r.Name, rate)
	}
	return ts, nil
}

// Start runs the store writer, the push workers and the purge of delivered
// messages.
func (s *Service) Start() {
	s.restoreLimits()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.writer() }()
	go func() { defer s.wg.Done(); s.actionWriter() }()
	s.setMu.Lock() // SetRoutes starts the loops of routes it adds once started
	for _, r := range s.set.Load().list {
		for _, t := range r.targets {
			s.startTarget(r, t)
		}
	}
	s.rmu.Lock()
	s.started = true
	for _, rr := range s.rules {
		for _, t := range rr.targets {
			s.startTarget(rr.route, t)
		}
	}
	s.rmu.Unlock()
	s.setMu.Unlock()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.purgeLoop() }()
}

func (s *Service) startTarget(r *route, t *target) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.deliverLoop(r, t) }()
}

// Close stores what waits for the store (the proxy has drained: nothing
// new comes), then stops delivery; pushes under way are cut and their
// messages stay queued.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.in)
	close(s.acts)
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
}

// MatchMO picks the first route mo matches (proxy.MORouter).
func (s *Service) MatchMO(mo *proxy.MO) proxy.MOMatch {
	m := mo.Msg
	var word []byte
	for _, r := range s.set.Load().list {
		if !matchAddr(r.Match.To, m.Dst.Addr) || !matchAddr(r.Match.From, m.Src.Addr) {
			continue
		}
		if len(r.Match.Keyword) > 0 {
			if word == nil {
				word = firstWord(m)
			}
			if !matchWord(r.Match.Keyword, word) {
				continue
			}
		}
		return proxy.MOMatch{Route: r.id, Queue: r.Durable(), SMPP: r.SendsSMPP()}
	}
	return proxy.MOMatch{}
}

// QueueMO hands mo to the store writer (proxy.MORouter): one row per
// durable target of the route; done runs once they are committed.
func (s *Service) QueueMO(match proxy.MOMatch, mo *proxy.MO, done func(error)) {
	v, ok := s.byID.Load(match.Route)
	if !ok { // two reloads between MatchMO and here: the SMSC retries, and the MO meets the new routes
		done(ErrRouteGone)
		return
	}
	r := v.(*route)
	m := mo.Msg
	base := store.MOMessage{Route: r.Name, Received: time.Unix(0, mo.Time).UTC(), Peer: mo.Peer,
		Sender: string(m.Src.Addr), Dest: string(m.Dst.Addr), DataCoding: int(m.DataCoding),
		Action: mo.Action.String(), RuleID: mo.RuleID, Raw: append([]byte(nil), mo.PDU...)}
	if txt, err := smstext.Decode(nil, m.DataCoding, userData(m)); err == nil || errors.Is(err, smstext.ErrTruncated) {
		base.Text = string(txt)
	}
	if c, ok, _ := m.Concat(); ok {
		base.PartRef, base.PartTotal, base.PartSeq = int(c.Ref), int(c.Total), int(c.Part)
	}
	rows := rowsFor(&base, r.queued())
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.m.queueFailed.WithLabelValues(r.Name).Inc()
		done(ErrClosed)
		return
	}
	select {
	case s.in <- request{rows: rows, done: done}:
	default:
		s.m.queueFailed.WithLabelValues(r.Name).Inc()
		done(ErrQueueFull)
	}
}

// rowsFor is base's queue row for each of targets.
func rowsFor(base *store.MOMessage, targets []string) []*store.MOMessage {
	rows := make([]*store.MOMessage, len(targets))
	for i, t := range targets {
		row := *base
		row.Target = t
		rows[i] = &row
	}
	return rows
}

// queued lists the route's targets served from the queue.
func (r *route) queued() []string {
	var ts []string
	for _, t := range r.targets {
		ts = append(ts, t.name)
	}
	if r.Pull {
		ts = append(ts, TargetPull)
	}
	return ts
}

// writer stores waiting MO in batches, one transaction each, and answers
// each one's done; after Close it stores what is left.
func (s *Service) writer() {
	const maxBatch = 256
	for req := range s.in {
		batch := []request{req}
	more:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.in:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		var rows []*store.MOMessage
		for _, r := range batch {
			rows = append(rows, r.rows...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.q.EnqueueMO(ctx, rows)
		cancel()
		if err != nil {
			if n, ok := s.errLog.Tick(10 * time.Second); ok {
				s.log.Error("MO not queued; the SMSC is asked to retry", zap.Int64("count", n), zap.Error(err))
			}
		}
		for _, r := range batch {
			if err != nil {
				s.m.queueFailed.WithLabelValues(r.rows[0].Route).Inc()
			}
			r.done(err)
		}
		if err == nil {
			for _, row := range rows {
				s.m.queued.WithLabelValues(row.Route, row.Target).Inc()
				s.wakeRoute(s.lookup(row.Route), row.Target)
			}
		}
	}
}

// lookup finds a route or a rule's route by name (nil: none).
func (s *Service) lookup(name string) *route {
	if r := s.set.Load().byName[name]; r != nil {
		return r
	}
	s.rmu.RLock()
	defer s.rmu.RUnlock()
	if rr := s.rules[strings.TrimPrefix(name, RulePrefix)]; rr != nil && strings.HasPrefix(name, RulePrefix) {
		return rr.route
	}
	return nil
}

func (s *Service) wakeRoute(r *route, target string) {
	if r == nil {
		return
	}
	s.rmu.RLock() // a rule's targets grow on reload
	defer s.rmu.RUnlock()
	for _, t := range r.targets {
		if t.name == target {
			t.signal()
			return
		}
	}
	r.pmu.Lock()
	close(r.pullWake)
	r.pullWake = make(chan struct{})
	r.pmu.Unlock()
}

// purgeLoop deletes messages delivered (or skipped) more than a week
// ago, hourly.
func (s *Service) purgeLoop() {
	s.every(time.Hour, nil, func() {
		if n, err := s.q.PurgeMO(s.ctx, time.Now().Add(-7*24*time.Hour)); err != nil {
			s.log.Warn("purge of delivered MO failed", zap.Error(err))
		} else if n > 0 {
			s.log.Info("purged delivered MO", zap.Int64("count", n))
		}
	})
}

func matchAddr(pats []string, addr []byte) bool {
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(string(addr), pre) {
				return true
			}
		} else if p == string(addr) {
			return true
		}
	}
	return false
}

func matchWord(words []string, w []byte) bool {
	for _, k := range words {
		if strings.EqualFold(k, string(w)) {
			return true
		}
	}
	return false
}

// userData is the message's user data without its UDH.
func userData(m *pdu.Message) []byte {
	ud := m.Payload()
	if m.UDHI() {
		if n, _, _, err := smstext.ParseUDH(ud); n > 0 && n <= len(ud) && err == nil {
			ud = ud[n:]
		}
	}
	return ud
}

// firstWord decodes the start of the text and returns its first word
// (empty, not nil, when there is none).
func firstWord(m *pdu.Message) []byte {
	ud := userData(m)
	if len(ud) > 96 {
		ud = ud[:96] // a keyword is short; UCS-2 stays whole
	}
	txt, _ := smstext.Decode(make([]byte, 0, 192), m.DataCoding, ud)
	txt = []byte(strings.TrimLeft(string(txt), " \t\r\n"))
	if i := strings.IndexAny(string(txt), " \t\r\n"); i >= 0 {
		txt = txt[:i]
	}
	if txt == nil {
		txt = []byte{}
	}
	return txt
}
