// Package pipeline is smsfw's inspection chain: it computes a message's
// facts once, runs the detectors in the order declared below, evaluates the
// policy's rules and limits, and returns an explained verdict. It implements
// filter.Inspector for the proxy.
package pipeline

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/campaign"
	"github.com/smsfw/smsfw/filter/classify"
	"github.com/smsfw/smsfw/filter/content"
	"github.com/smsfw/smsfw/filter/greyroute"
	"github.com/smsfw/smsfw/filter/numbers"
	"github.com/smsfw/smsfw/filter/pumping"
	"github.com/smsfw/smsfw/filter/receipts"
	"github.com/smsfw/smsfw/filter/senderid"
	"github.com/smsfw/smsfw/filter/simfarm"
	"github.com/smsfw/smsfw/filter/velocity"
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
}

// Chain is the inspector.
type Chain struct {
	eng  *rules.Engine
	nums *numbers.Resolver
	log  *zap.Logger
	m    *Metrics
	now  func() time.Time

	built atomic.Pointer[built]
	mu    sync.Mutex // rebuilds
	// Detector state survives policy swaps.
	classify *classify.State
	campaign *campaign.State
	pumping  *pumping.State
	simfarm  *simfarm.State
	receipts *receipts.State
	velocity *velocity.State

	scratch sync.Pool
	vms     sync.Pool
	fps     *fpCache
	numc    *numCache
	Ledger  *Ledger

	events    EventOptions
	overrides atomic.Pointer[overrideSet] // the analysts' overrides; nil: none
}

// built is the detector chain configured for one snapshot.
type built struct {
	snap      *rules.Snapshot
	detectors []filter.Detector
	receipts  *receipts.Detector
	limits    []velocity.Limit
	velocity  *velocity.State // the limits' state for this snapshot's budget
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
	nums, err := numbers.NewResolver(o.DefaultRegion, 1<<20)
	if err != nil {
		return nil, err
	}
	c := &Chain{eng: o.Engine, nums: nums, log: o.Logger.Named("filter"), m: o.Metrics, now: o.Now,
		Ledger: newLedger(o.Metrics), fps: newFPCache(), events: o.Events}
	c.numc = newNumCache(nums)
	c.numc.sync = o.SyncNumbers
	c.scratch.New = func() any { return &scratch{text: make([]byte, 0, 1024), norm: make([]byte, 0, 1024)} }
	c.vms.New = func() any { return new(vm.VM) }
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
	p := snap.Policy.Detectors
	mem := p.Memory
	ccfg := classify.Config{FanoutRecipients: p.Classification.FanoutRecipients,
		SenderVelocity: p.Classification.SenderVelocity, Window: p.Classification.Window}.Defaults()
	c.classify = classify.Reuse(c.classify, ccfg, mem.Budget(rules.OwnerClassification))
	kcfg := campaign.Config{Window: p.Campaign.Window, DistinctSenders: p.Campaign.DistinctSenders,
		FanoutRecipients: p.Campaign.FanoutRecipients}.Defaults()
	c.campaign = campaign.Reuse(c.campaign, kcfg, mem.Budget(rules.OwnerCampaign))
	pcfg := pumping.Config{Premium: snap.Lists[p.Pumping.PremiumRanges], Window: p.Pumping.Window,
		PremiumBurst: p.Pumping.PremiumBurst, SequentialRun: p.Pumping.SequentialRun,
		NewCountryAfter: p.Pumping.NewCountryAfter}.Defaults()
	c.pumping = pumping.Reuse(c.pumping, pcfg, mem.Budget(rules.OwnerPumping))
	scfg := simfarm.Config{Window: p.SIMFarm.Window, DistinctSenders: p.SIMFarm.DistinctSenders,
		SpamSenders: p.SIMFarm.SpamSenders}.Defaults()
	c.simfarm = simfarm.Reuse(c.simfarm, scfg, mem.Budget(rules.OwnerSIMFarm))
	c.velocity = velocity.Reuse(c.velocity, mem.Budget(rules.OwnerRateLimits))
	dist := p.SenderID.LookalikeDistance
	if dist == 0 {
		dist = 1
	}
	if c.receipts == nil { // sized once, from the first policy
		n := p.Receipts.MaxIDs
		if n == 0 {
			n = 1_000_000
		}
		c.receipts = receipts.NewState(n)
	}
	rc := receipts.New(c.receipts, p.Receipts.Remember)
	b := &built{snap: snap, receipts: rc, velocity: c.velocity}
	// The chain, in order: classification first (the others read f.Class).
	b.detectors = []filter.Detector{
		classify.New(ccfg, c.classify),
		greyroute.New(greyroute.Tariffs(snap.Tariffs)),
		senderid.New(snap.Registry, snap.RegistryNames, dist),
		content.New(content.Config{Keywords: snap.Lists[p.Content.Keywords], Brands: snap.Lists[p.Content.Brands],
			Regexes: snap.Lists[p.Content.Regexes], BlockDomains: snap.Lists[p.Content.BlockDomains],
			AllowDomains: snap.Lists[p.Content.AllowDomains]}),
		campaign.New(kcfg, c.campaign),
		pumping.New(pcfg, c.pumping),
		simfarm.New(scfg, c.simfarm),
		rc,
	}
	for _, l := range snap.Limits {
		b.limits = append(b.limits, velocity.Limit{ID: l.ID, Key: l.Key, Rate: l.Rate, Burst: l.Burst,
			Direction: l.Direction, Monitor: l.Monitor, Status: l.Status})
	}
	velocity.Prepare(b.limits)
	c.built.Store(b)
	return b
}

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
	c.current().receipts.Observe(peer, id, now)
}

// Inspect implements filter.Inspector.
func (c *Chain) Inspect(r *filter.Request) (filter.Verdict, error) {
	return c.inspect(r, nil), nil
}

func (c *Chain) inspect(r *filter.Request, hook func(*filter.Facts, *filter.Detections)) filter.Verdict {
	b := c.current()
	sc := c.scratch.Get().(*scratch)
	defer c.scratch.Put(sc)
	c.buildFacts(r, sc)
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
	c.m.count(f, det)
	v := c.vms.Get().(*vm.VM)
	var dec rules.Decision
	sc.env = rules.Env{Msg: f, Det: det}
	b.snap.Evaluate(v, &sc.env, r.Direction, &dec)
	c.vms.Put(v)
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
			det.RateLimited, det.LimitID = true, l.ID
			verdict = filter.Verdict{Action: filter.Throttle, Status: l.Status, RuleID: l.ID, Reason: "rate_limit"}
		}
	}
	if det.GreyRoute {
		c.Ledger.add(f.Peer, f.Segments, det.LeakageAmount)
	}
	if verdict.Action != filter.Allow {
		verdict.Evidence = Evidence(f, det)
	}
	if c.events.Enabled {
		if verdict.Action != filter.Allow || len(dec.Monitor) > 0 {
			verdict.Event = c.newEvent(r, f, det, verdict, dec.Monitor, false)
		} else if c.sample() {
			verdict.Event = c.newEvent(r, f, det, verdict, nil, true)
		}
	}
	if hook != nil {
		hook(f, det)
	}
	return verdict
}

// Evidence explains the findings behind a verdict (only built for non-allow
// verdicts, so it may allocate). It never includes the message text beyond
// the matched keyword.
func Evidence(f *filter.Facts, d *filter.Detections) string {
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	add("class=%s(%s)", f.Class, strings.Join(filter.ReasonNames(f.ClassReasons), ","))
	if d.GreyRoute {
		add("grey_route peer_class=%s leakage=%.4f", f.PeerClass, d.LeakageAmount)
	}
	if d.SenderSpoofed {
		add("sender_spoofed registry=%q", d.ProtectedSender)
	}
	if d.SenderLookalike {
		add("sender_lookalike of=%q", d.ProtectedSender)
	}
	if d.Keyword {
		add("keyword=%q", d.KeywordHit)
	}
	if d.Regex {
		add("regex=%q", d.RegexHit)
	}
	if d.BlockedDomain {
		add("blocked_domain=%q", f.FirstDomain)
	}
	if d.Phishing {
		add("phishing=%s domain=%q", d.PhishingWhy, f.FirstDomain)
	}
	if d.Campaign {
		add("campaign senders=%d", d.CampaignSenders)
	}
	if d.Fanout {
		add("fanout recipients=%d", d.FanoutRecipients)
	}
	if d.Pumping {
		add("pumping=%s premium_burst=%d sequential_run=%d", d.PumpingWhy, d.PremiumBurst, d.SequentialRun)
	}
	if d.NewDestCountry {
		add("new_dest_country=%s", f.DestCountry)
	}
	if d.SIMFarm {
		add("sim_farm senders=%d", d.MOSenders)
	}
	if d.MOSpam {
		add("mo_spam")
	}
	if d.FakeReceipt {
		add("fake_receipt id=%q", f.ReceiptID)
	}
	if d.ReceiptEarly {
		add("receipt_early id=%q", f.ReceiptID)
	}
	if d.RateLimited {
		add("rate_limited limit=%s", d.LimitID)
	}
	return strings.Join(parts, "; ")
}

// Explain inspects r like Inspect and also returns copies of the facts and
// findings (for `smsfw rules test` and the console). Not for the hot path.
func (c *Chain) Explain(r *filter.Request) (filter.Verdict, filter.Facts, filter.Detections, error) {
	var facts filter.Facts
	var det filter.Detections
	hook := func(f *filter.Facts, d *filter.Detections) {
		facts, det = *f, *d
		facts.Text = strings.Clone(f.Text)
		facts.Norm = strings.Clone(f.Norm)
		facts.Sender = strings.Clone(f.Sender)
		facts.Dest = strings.Clone(f.Dest)
		facts.ReceiptID = strings.Clone(f.ReceiptID)
	}
	v := c.inspect(r, hook)
	return v, facts, det, nil
}
