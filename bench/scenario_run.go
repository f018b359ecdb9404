package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// ScenarioRun puts a scenario file's traffic mix through smsfw (in this
// process, config mode, with a policy) and counts what happened to each
// scenario's messages: a benchmark that doubles as a detection check.
type ScenarioRun struct {
	File *ScenarioFile
	// Policy file; "" runs the shipped default policy (deploy/rules/default.yaml).
	Policy   string
	Rate     float64       // total events per second (0: the file's)
	Duration time.Duration // (0: the file's)
	Progress *Progress
}

// ScenarioResult is what happened to one scenario's messages. Counts are
// in SMPP messages: a long MT message counts once per segment, as smsfw's
// verdicts, limits and billing do.
type ScenarioResult struct {
	Name     string             `json:"name"`
	Kind     string             `json:"kind"`
	Peer     string             `json:"peer"`
	Sent     uint64             `json:"sent"`
	Outcomes map[string]uint64  `json:"outcomes"`
	Statuses map[string]uint64  `json:"refused_by_status,omitempty"` // rejected/refused by status (hex)
	Rules    map[string]uint64  `json:"rules,omitempty"`             // rule or limit id of non-allow verdicts
	Expect   map[string]float64 `json:"expect,omitempty"`
	Missed   []string           `json:"missed,omitempty"` // expectations not met
	// Skipped genuine receipts: the message they were for was not accepted.
	Skipped uint64 `json:"skipped,omitempty"`
}

// Fraction returns the share of Sent that ended with outcome.
func (r ScenarioResult) Fraction(outcome string) float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.Outcomes[outcome]) / float64(r.Sent)
}

// ScenarioReport is a whole scenario run.
type ScenarioReport struct {
	Time     time.Time        `json:"time"`
	File     string           `json:"file"`
	Policy   string           `json:"policy"`
	Rate     float64          `json:"rate"`
	Duration time.Duration    `json:"duration_ns"`
	Results  []ScenarioResult `json:"results"`
}

// Met reports whether every scenario met its expectations.
func (r *ScenarioReport) Met() bool {
	for _, s := range r.Results {
		if len(s.Missed) > 0 {
			return false
		}
	}
	return true
}

// vehicle marks the MT messages that genuine-receipt scenarios send to get
// a real message id: their verdicts are not the scenario's outcome.
const vehicle = 0x80

// scenarioState counts one scenario during a run.
type scenarioState struct {
	sc  *Scenario
	idx int

	sent, ok, throttled, lost, skipped atomic.Uint64
	mu                                 sync.Mutex
	statuses                           map[pdu.Status]uint64
	flagged, dropped                   uint64
	rules                              map[string]uint64
}

func (s *scenarioState) verdict(v filter.Verdict, segs uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch v.Action {
	case filter.Flag:
		s.flagged += segs
	case filter.Drop:
		s.dropped += segs
	}
	if v.RuleID != "" {
		s.rules[v.RuleID] += segs
	}
}

func (s *scenarioState) answer(st pdu.Status, err error) {
	switch {
	case err != nil:
		s.lost.Add(1)
	case st == pdu.StatusOK:
		s.ok.Add(1)
	case st == pdu.StatusThrottled && s.sc.Kind == KindMT:
		s.throttled.Add(1)
	default:
		s.mu.Lock()
		s.statuses[st]++
		s.mu.Unlock()
	}
}

// Run executes the scenario run.
func (r ScenarioRun) Run(ctx context.Context) (*ScenarioReport, error) {
	f := r.File
	rate, dur := f.Rate, f.Duration
	if r.Rate > 0 {
		rate = r.Rate
	}
	if r.Duration > 0 {
		dur = r.Duration
	}
	policy := deploy.DefaultPolicySource()
	if r.Policy != "" {
		policy = rules.FileSource(r.Policy)
	}
	rep := &ScenarioReport{Time: time.Now().UTC(), File: f.path, Policy: r.Policy, Rate: rate, Duration: dur}
	if rep.Policy == "" {
		rep.Policy = "deploy/rules/default.yaml (embedded)"
	}

	states := make([]*scenarioState, len(f.Scenarios))
	total := 0.0
	for i := range f.Scenarios {
		total += f.Scenarios[i].Share
	}
	for i := range f.Scenarios {
		sc := f.Scenarios[i]
		sc.rate = rate * sc.Share / total
		states[i] = &scenarioState{sc: &sc, idx: i, statuses: map[pdu.Status]uint64{}, rules: map[string]uint64{}}
	}
	// Verdicts the sender cannot see (flag, drop) are counted per scenario;
	// the tag is the scenario's index (receipt vehicles marked).
	insp := &tap{
		tagged: func(b []byte) any {
			if len(b) == 1 && int(b[0]) < len(states) {
				return states[b[0]]
			}
			return nil
		},
		seen: func(owner any, r *filter.Request, v filter.Verdict) {
			if v.Action != filter.Allow {
				owner.(*scenarioState).verdict(v, uint64(r.Segments()))
			}
		},
	}
	ids, classes := make([]string, len(f.Peers)), make([]string, len(f.Peers))
	for i, p := range f.Peers {
		ids[i], classes[i] = p.SystemID, p.Class
	}
	rg, err := startSMSFWRig(ctx, smsfwRigOptions{policy: policy, peers: ids, tap: insp,
		config: func(simAddr string) (*config.Config, error) {
			cfg, err := peersConfig(simAddr, ids, classes, "")
			if err != nil {
				return nil, fmt.Errorf("bench: peers of %s: %w", f.path, err)
			}
			return cfg, nil
		}})
	if err != nil {
		return nil, err
	}
	defer rg.close()
	clients, simSrv := rg.clients, rg.sim

	r.Progress.Step(fmt.Sprintf("scenarios: %d at %.0f/s for %v", len(f.Scenarios), rate, dur), dur)
	runCtx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var wg, inject sync.WaitGroup
	for i, st := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.drive(runCtx, st, uint64(i), clients[st.sc.Peer], simSrv, insp, &inject)
		}()
	}
	tick := time.NewTicker(250 * time.Millisecond)
	start := time.Now()
	for runCtx.Err() == nil {
		select {
		case <-runCtx.Done():
		case <-tick.C:
			var n uint64
			for _, st := range states {
				n += st.sent.Load()
			}
			r.Progress.Update(fmt.Sprintf("%d sent, %.0f/s", n, float64(n)/time.Since(start).Seconds()))
		}
	}
	tick.Stop()
	wg.Wait()
	// Everything sent gets its answer or is lost after a grace period.
	rg.waitAnswered(10 * time.Second)
	inject.Wait()
	for _, st := range states {
		res := ScenarioResult{Name: st.sc.Name, Kind: st.sc.Kind, Peer: st.sc.Peer, Sent: st.sent.Load(),
			Outcomes: map[string]uint64{}, Statuses: map[string]uint64{}, Rules: map[string]uint64{}, Expect: st.sc.Expect,
			Skipped: st.skipped.Load()}
		st.mu.Lock()
		var refused uint64
		for s, n := range st.statuses {
			res.Statuses[fmt.Sprintf("0x%02x", uint32(s))] = n
			refused += n
		}
		for id, n := range st.rules {
			res.Rules[id] = n
		}
		ok := st.ok.Load()
		flagged, dropped := min(st.flagged, ok), min(st.dropped, ok)
		st.mu.Unlock()
		// Sent but neither answered nor failed: still pending after the grace.
		answered := ok + refused + st.throttled.Load() + st.lost.Load()
		lost := st.lost.Load()
		if res.Sent > answered {
			lost += res.Sent - answered
		}
		passed := ok - flagged - min(dropped, ok-flagged)
		if st.sc.Kind == KindMT {
			res.Outcomes[OutAccepted] = passed
			res.Outcomes[OutDropped] = min(dropped, ok-flagged)
			res.Outcomes[OutThrottled] = st.throttled.Load()
			res.Outcomes[OutRejected] = refused
		} else {
			res.Outcomes[OutDelivered] = ok - flagged
			res.Outcomes[OutRefused] = refused
		}
		res.Outcomes[OutFlagged] = flagged
		res.Outcomes[OutLost] = lost
		keys := make([]string, 0, len(st.sc.Expect))
		for k := range st.sc.Expect {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if got := res.Fraction(k); got < st.sc.Expect[k] {
				res.Missed = append(res.Missed, fmt.Sprintf("%s %.0f%% < %.0f%%", k, got*100, st.sc.Expect[k]*100))
			}
		}
		if lost > 0 {
			res.Missed = append(res.Missed, fmt.Sprintf("%d lost", lost))
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// drive sends one scenario's traffic on its schedule until ctx ends.
func (r ScenarioRun) drive(ctx context.Context, st *scenarioState, seed uint64, c *esme.Client, simSrv *sim.Server,
	insp *tap, inject *sync.WaitGroup) {
	sc := st.sc
	rng := rand.New(rand.NewPCG(seed+1, 0x5ce4a210))
	var rmu sync.Mutex // rng is used by inject goroutines too
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// MO and receipts are injected one request each (the simulator waits for
	// the answer); at most this many at once, the rest wait their turn.
	slots := make(chan struct{}, 64)
	injectOne := func(from string, do func(ctx context.Context) (pdu.Status, error)) {
		st.sent.Add(1)
		slots <- struct{}{}
		inject.Add(1)
		go func() {
			defer inject.Done()
			defer func() { <-slots }()
			insp.mo.Store(from, st)
			defer insp.mo.Delete(from)
			ictx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			s, err := do(ictx)
			st.answer(s, err)
		}()
	}
	for n := uint64(0); ; n++ {
		due := start.Add(time.Duration(float64(n) / sc.rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		rmu.Lock()
		from, to := pick(sc.Senders, rng, n), pick(sc.Destinations, rng, n)
		text := ""
		if len(sc.Texts) > 0 {
			text = pick(sc.Texts, rng, n)
		}
		forgedID := fmt.Sprintf("7%09d", rng.IntN(1_000_000_000))
		rmu.Unlock()
		switch sc.Kind {
		case KindMT:
			for _, raw := range buildMT(from, to, text, byte(st.idx), byte(n)) {
				st.sent.Add(1)
				if _, err := c.Send(raw, func(rs esme.Resp) { st.answer(rs.Status, rs.Err) }); err != nil {
					st.answer(0, err)
				}
			}
		case KindMO:
			injectOne(from, func(ctx context.Context) (pdu.Status, error) {
				return simSrv.InjectMO(ctx, sim.MO{SystemID: sc.Peer, From: from, To: to, Text: text})
			})
		case KindReceipt:
			// A receipt goes from the recipient (to) back to the sender (from).
			if sc.Forged {
				injectOne(to, func(ctx context.Context) (pdu.Status, error) {
					return simSrv.InjectReceipt(ctx, sc.Peer, to, from, forgedID)
				})
				continue
			}
			// Genuine: send the message first, then the receipt for the id
			// the SMSC gave it.
			if text == "" {
				text = "Your order has shipped"
			}
			raws := buildMT(from, to, text, byte(st.idx)|vehicle, byte(n))
			// inject counts the message until its receipt is under way, so
			// that the run's end waits for it: the client's Pending drops
			// to 0 just before it calls the callback.
			inject.Add(1)
			var once sync.Once
			release := func() { once.Do(inject.Done) }
			_, err := c.Send(raws[0], func(rs esme.Resp) {
				if rs.Err != nil || rs.Status != pdu.StatusOK || rs.MessageID == "" {
					st.skipped.Add(1)
					release()
					return
				}
				// Not from the client's read loop: injectOne may wait for a slot.
				go func() {
					defer release()
					injectOne(to, func(ctx context.Context) (pdu.Status, error) {
						return simSrv.InjectReceipt(ctx, sc.Peer, to, from, rs.MessageID)
					})
				}()
			})
			if err != nil {
				st.skipped.Add(1)
				release()
			}
		}
	}
}

// WriteTable prints the outcomes per scenario.
func (r *ScenarioReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "scenarios through smsfw (%s), %.0f events/s for %v\n", r.Policy, r.Rate, r.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tkind\tsent\taccepted|delivered\tflagged\tdropped\tthrottled\trejected|refused\tlost\trules\texpected\t")
	for _, s := range r.Results {
		passed := s.Outcomes[OutAccepted] + s.Outcomes[OutDelivered]
		refused := s.Outcomes[OutRejected] + s.Outcomes[OutRefused]
		ref := fmt.Sprint(refused)
		if len(s.Statuses) > 0 {
			ref += " (" + joinCounts(s.Statuses) + ")"
		}
		exp := "ok"
		if len(s.Missed) > 0 {
			exp = "MISSED: " + strings.Join(s.Missed, ", ")
		}
		if len(s.Expect) == 0 && len(s.Missed) == 0 {
			exp = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\t\n", s.Name, s.Kind, s.Sent, passed,
			s.Outcomes[OutFlagged], s.Outcomes[OutDropped], s.Outcomes[OutThrottled], ref, s.Outcomes[OutLost],
			joinCounts(s.Rules), exp)
	}
	_ = tw.Flush()
}

// joinCounts formats a count map as "a 3, b 2", largest first.
func joinCounts(m map[string]uint64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the report to path.
func (r *ScenarioReport) WriteJSON(path string) error {
	return writeJSON(path, r)
}
