// Package pipeline is smsfw's inspection chain: it computes a message's
// facts once, runs the detectors in the order declared below, evaluates the
// policy's rules and limits, and returns an explained verdict. It implements
// filter.Inspector for the proxy.
package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/greyroute"
	"github.com/smsfw/smsfw/filter/numbers"
	"github.com/smsfw/smsfw/filter/velocity"
	"github.com/smsfw/smsfw/mo/action"
	"github.com/smsfw/smsfw/rules"
)

// Options configure a Chain.
type Options struct {
	Engine *rules.Engine
	// DefaultRegion parses national numbers (ISO code, default "DE").
	DefaultRegion string
	Logger        *zap.Logger
	Metrics       *Metrics
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// SyncNumbers parses first-seen numbers before answering instead of in
	// the background (one-shot tools such as `smsfw rules test`).
	SyncNumbers bool
	// Events says which verdicts carry an analysts' record (Verdict.Event).
	Events EventOptions
	// Detectors replaces the chain's detectors (default: Order), e.g. to
	// try a detector before it has its line in Order.
	Detectors []*filter.Plugin
	// Actions takes the actions of a rule that decided an MO message (not
	// a receipt; Inspect only, not Explain). It is called on the hot path:
	// it must queue them and return at once (mo.Service.QueueAction).
	Actions func(action.Trigger)
	// ShareCounters, when set, is given every detector's counter tables
	// (and the rate limits') after each build, before the build serves a
	// message: shared counters (filter/counters/shared) attach to them.
	ShareCounters func(owner string, tables []counters.Named)
	// States are detectors' states made before the chain, by plugin
	// name: handed to the first build as BuildEnv.Prev (e.g. a
	// *receipts.State whose accepted ids the event store keeps).
	States map[string]any
}

// Chain is the inspector.
type Chain struct {
	eng  *rules.Engine
	nums *numbers.Resolver
	log  *zap.Logger
	m    *Metrics
	now  func() time.Time
	// actions takes the rules' actions (nil: none run).
	actions func(action.Trigger)

	built atomic.Pointer[built]
	mu    sync.Mutex // rebuilds
	// Detector state survives policy swaps: what each plugin's last build
	// returned, by name, and its counter tables.
	plugins  []*filter.Plugin
	states   map[string]any
	tables   map[string][]counters.Named
	velocity *velocity.State

	scratch sync.Pool // *scratch: one inspection's memory, the rules' VM included
	fps     *fpCache
	numc    *numCache

	events    EventOptions
	overrides atomic.Pointer[overrideSet] // the analysts' overrides; nil: none
	share     func(owner string, tables []counters.Named)
}

// built is the detector chain configured for one snapshot.
type built struct {
	snap      *rules.Snapshot
	detectors []filter.Detector
	names     []string // the detectors' plugin names
	observers []filter.Observer
	limits    []velocity.Limit
	velocity  *velocity.State // the limits' state for this snapshot's budget
	// senderNumber: a rule or detector reads the sender's number facts
	// (filter.OnDemandFacts); otherwise they are not looked up.
	senderNumber bool
	// skipped are the detectors this policy does not use (detectorsToRun).
	skipped []string
}

// detectorsToRun is the plan for a policy: which detectors of the chain
// run. A detector runs when it is Always, when a rule reads its findings
// or a fact it sets, or when a running detector uses its findings; the
// others cost nothing (filter.Plugin).
func detectorsToRun(snap *rules.Snapshot, plugins []*filter.Plugin) []bool {
	runs := make([]bool, len(plugins))
	for i, pl := range plugins {
		runs[i] = pl.Always || snap.ReadsFindingsOf(pl.Name) || slices.ContainsFunc(pl.Sets, snap.ReadsFact)
	}
	for changed := true; changed; {
		changed = false
		for i, pl := range plugins {
			if !runs[i] {
				continue
			}
			for j, other := range plugins {
				if !runs[j] && slices.Contains(pl.Uses, other.Name) {
					runs[j], changed = true, true
				}
			}
		}
	}
	return runs
}

// New returns a chain over the engine's policy.
func New(o Options) (*Chain, error) {
	if o.DefaultRegion == "" {
		o.DefaultRegion = "DE"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	plugins := o.Detectors
	if plugins == nil {
		plugins = Order
	}
	if err := checkOrder(plugins); err != nil {
		return nil, err
	}
	nums, err := numbers.NewResolver(o.DefaultRegion, 1<<20)
	if err != nil {
		return nil, err
	}
	c := &Chain{eng: o.Engine, nums: nums, log: o.Logger.Named("filter"), m: o.Metrics, now: o.Now, actions: o.Actions,
		fps: newFPCache(), events: o.Events, share: o.ShareCounters,
		plugins: plugins, states: maps.Clone(o.States), tables: map[string][]counters.Named{}}
	if c.states == nil {
		c.states = map[string]any{}
	}
	c.numc = newNumCache(nums)
	c.numc.sync = o.SyncNumbers
	c.scratch.New = func() any {
		return &scratch{text: make([]byte, 0, 1024), norm: make([]byte, 0, 1024), fpKey: make([]byte, 0, 1024)}
	}
	c.rebuild(o.Engine.Snapshot())
	c.m.counters.set(c.counterTables)
	return c, nil
}

// Close releases the number cache.
func (c *Chain) Close() { c.nums.Close() }

// rebuild configures the detectors for snap, reusing counter state.
func (c *Chain) rebuild(snap *rules.Snapshot) *built {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.built.Load(); b != nil && b.snap == snap {
		return b
	}
	b := &built{snap: snap}
	data := snap.Data()
	runs := detectorsToRun(snap, c.plugins)
	for _, name := range filter.OnDemandFacts {
		b.senderNumber = b.senderNumber || snap.ReadsFact(name)
		for i, pl := range c.plugins {
			b.senderNumber = b.senderNumber || runs[i] && slices.Contains(pl.Reads, name)
		}
	}
	for i, pl := range c.plugins {
		// Built even when skipped: its counters survive for the policy
		// that reads it again.
		out := pl.Build(&filter.BuildEnv{Settings: snap.Settings[pl.Name], Policy: data,
			Budget: snap.Memory.Budget(pl.Name), Prev: c.states[pl.Name]})
		c.states[pl.Name], c.tables[pl.Name] = out.State, out.Tables
		// Observers observe even when skipped: a reload that starts
		// reading the fake-receipt findings must know the ids the SMSC
		// accepted before it, or every receipt of an earlier message
		// would look forged.
		if o, ok := out.Detector.(filter.Observer); ok {
			b.observers = append(b.observers, o)
		}
		if !runs[i] {
			b.skipped = append(b.skipped, pl.Name)
			continue
		}
		b.detectors = append(b.detectors, out.Detector)
		b.names = append(b.names, pl.Name)
	}
	c.velocity = velocity.Reuse(c.velocity, snap.Memory.Budget(velocity.Owner))
	c.tables[velocity.Owner] = c.velocity.Tables()
	if c.share != nil {
		for owner, tables := range c.tables {
			c.share(owner, tables)
		}
	}
	b.velocity = c.velocity
	for _, l := range snap.Limits {
		b.limits = append(b.limits, velocity.Limit{ID: l.ID, Key: l.Key, Rate: l.Rate, Burst: l.Burst,
			Direction: l.Direction, Monitor: l.Monitor, Status: l.Status})
	}
	velocity.Prepare(b.limits)
	if len(b.skipped) > 0 {
		c.log.Info("detectors skipped: no rule reads their findings", zap.Strings("running", b.names),
			zap.Strings("skipped", b.skipped))
	}
	c.built.Store(b)
	return b
}

// Running lists the detectors the current policy runs, in chain order
// (the others are skipped: no rule reads them; see filter.Plugin).
func (c *Chain) Running() []string { return slices.Clone(c.current().names) }

func (c *Chain) current() *built {
	snap := c.eng.Snapshot()
	if b := c.built.Load(); b != nil && b.snap == snap {
		return b
	}
	return c.rebuild(snap)
}

// Accepted implements filter.AcceptObserver.
func (c *Chain) Accepted(peer string, id []byte, now int64) {
	if now == 0 {
		now = c.now().UnixNano()
	}
	for _, o := range c.current().observers {
		o.Observe(peer, id, now)
	}
}

// Inspect implements filter.Inspector.
func (c *Chain) Inspect(r *filter.Request) (filter.Verdict, error) {
	return c.inspect(r, nil), nil
}

func (c *Chain) inspect(r *filter.Request, hook func(*filter.Facts, *filter.Detections)) filter.Verdict {
	b := c.current()
	sc := c.scratch.Get().(*scratch) // put back at the end (a panic only loses it to the GC)
	c.buildFacts(r, sc, b.senderNumber || hook != nil)
	f, det := &sc.facts, &sc.det
	*det = filter.Detections{}
	if f.Receipt {
		f.ReceiptID = str(r.Msg.ReceiptID())
	}
	now := r.Time
	if now == 0 {
		now = c.now().UnixNano()
	}
	for _, d := range b.detectors {
		d.Detect(f, det, now)
	}
	c.m.count(r.Shard, f, det)
	var dec rules.Decision
	sc.env = rules.Env{Msg: f, Det: det}
	b.snap.Evaluate(&sc.vm, &sc.env, r.Direction, &dec)
	for _, err := range dec.Errors {
		c.eng.Metrics().EvalError()
		if ce := c.log.Check(zap.WarnLevel, "rule failed to evaluate"); ce != nil {
			ce.Write(zap.Error(err))
		}
	}
	for _, mr := range dec.Monitor {
		c.eng.Metrics().Hit(mr.ID, true)
		if ce := c.log.Check(zap.InfoLevel, "monitor rule matched"); ce != nil {
			ce.Write(zap.String("rule", mr.ID), zap.Stringer("would", mr.Verdict.Action), zap.String("peer", f.Peer))
		}
	}
	verdict := dec.Verdict
	if dec.Rule != nil {
		c.eng.Metrics().Hit(dec.Rule.ID, false)
	}
	if o := c.override(f); o != nil {
		verdict = applyOverride(o)
		if o.Action == filter.OverrideAllow {
			c.m.overrideHits[1].Inc()
		} else {
			c.m.overrideHits[0].Inc()
		}
	}
	if verdict.Action == filter.Allow || verdict.Action == filter.Flag {
		if l := velocity.Check(b.velocity, b.limits, f, r.Direction, now, func(l *velocity.Limit) {
			c.eng.Metrics().Hit(l.ID, true)
		}); l != nil {
			c.eng.Metrics().Hit(l.ID, false)
			det.Raise(velocity.RateLimited)
			det.SetText(velocity.LimitID, l.ID)
			verdict = filter.Verdict{Action: filter.Throttle, Status: l.Status, RuleID: l.ID, Reason: "rate_limit"}
		}
	}
	if verdict.Action != filter.Allow {
		verdict.Evidence = b.evidence(f, det)
	}
	if c.events.Enabled {
		// Delivered grey-route traffic is counted in the leakage ledger from
		// its event: it gets one even when nothing refuses it.
		if verdict.Action != filter.Allow || len(dec.Monitor) > 0 || det.Amount(greyroute.Leakage) > 0 {
			verdict.Event = c.newEvent(b, r, f, det, verdict, dec.Monitor, false)
		} else if c.sample() {
			verdict.Event = c.newEvent(b, r, f, det, verdict, nil, true)
		}
	}
	if hook != nil {
		hook(f, det)
	} else if dec.Rule != nil && dec.Rule.Actions != nil && c.actions != nil && verdict.RuleID == dec.Rule.ID &&
		r.Direction == filter.MO && !f.Receipt {
		c.actions(action.Trigger{Rule: dec.Rule.ID, Actions: dec.Rule.Actions, Peer: strings.Clone(f.Peer),
			Sender: strings.Clone(f.Sender), Dest: strings.Clone(f.Dest), Text: strings.Clone(f.Text),
			DataCoding: f.DataCoding, Action: verdict.Action.String(), Received: time.Unix(0, now)})
	}
	c.scratch.Put(sc)
	return verdict
}

// evidence explains the findings behind a verdict (only built for non-allow
// verdicts, so it may allocate): each detector's part in chain order, then
// the rate limit. It never includes the message text beyond the matched
// keyword.
func (b *built) evidence(f *filter.Facts, d *filter.Detections) string {
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	for i, det := range b.detectors {
		if e, ok := det.(filter.Explainer); ok {
			e.Explain(f, d, add)
			continue
		}
		explainSet(d, b.names[i], add)
	}
	if d.Has(velocity.RateLimited) {
		add("rate_limited limit=%s", d.Text(velocity.LimitID))
	}
	return strings.Join(parts, "; ")
}

// explainSet lists an owner's findings that are set, for detectors without
// an Explain of their own: "name" for a flag, "name=value" otherwise; only
// when one of its flags fired.
func explainSet(d *filter.Detections, owner string, add func(string, ...any)) {
	var fired bool
	var kv []string
	d.Each(owner, func(f filter.Finding, v any) {
		if f.Kind == filter.KindFlag {
			fired = true
			kv = append(kv, f.Name)
			return
		}
		kv = append(kv, fmt.Sprintf("%s=%v", f.Name, v))
	})
	if fired {
		add("%s", strings.Join(kv, " "))
	}
}

// highlight is the part of the text the findings point at, for the console.
func (b *built) highlight(f *filter.Facts, d *filter.Detections) string {
	for _, det := range b.detectors {
		if h, ok := det.(filter.Highlighter); ok {
			if s := h.Highlight(f, d); s != "" {
				return s
			}
		}
	}
	return ""
}

// Explain inspects r like Inspect and also returns copies of the facts and
// findings (for `smsfw rules test` and the console). Not for the hot path.
func (c *Chain) Explain(r *filter.Request) (filter.Verdict, filter.Facts, filter.Detections, error) {
	var facts filter.Facts
	var det filter.Detections
	hook := func(f *filter.Facts, d *filter.Detections) {
		facts, det = *f, d.Clone()
		facts.Text = strings.Clone(f.Text)
		facts.Norm = strings.Clone(f.Norm)
		facts.NormStarts = slices.Clone(f.NormStarts)
		facts.Sender = strings.Clone(f.Sender)
		facts.Dest = strings.Clone(f.Dest)
		facts.ReceiptID = strings.Clone(f.ReceiptID)
	}
	v := c.inspect(r, hook)
	return v, facts, det, nil
}
