// Package alerts watches the event store and tells operators when a
// campaign starts (many stored events with one text fingerprint), when a
// rule's hits jump, and when the day's grey-route leakage passes a
// threshold: one alert per condition while it lasts, to a signed webhook
// and/or by mail, with a link to the console.
//
// It reads the store periodically (it does not hook into the filters) and
// delivers with package mo's signed POST and mailer. What it alerted
// (and delivered) is kept in the event store (store.AlertState): a
// restart does not alert a condition still holding once more; an alert
// still undelivered at a restart is sent again.
package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/store"
)

// Kind is what an alert is about.
type Kind string

// Kinds.
const (
	KindCampaign Kind = "campaign"
	KindRuleHits Kind = "rule_hits"
	KindLeakage  Kind = "leakage"
)

// Alert is what the webhook gets (JSON) and what a mail says.
type Alert struct {
	// ID is the same for every attempt at one alert (the webhook's
	// Idempotency-Key and the mail's Message-ID).
	ID      string         `json:"id"`
	Kind    Kind           `json:"kind"`
	Subject string         `json:"subject"` // the fingerprint (hex), the rule, the day
	Time    time.Time      `json:"time"`
	Summary string         `json:"summary"`
	Link    string         `json:"link,omitempty"` // the console page that shows it
	Detail  map[string]any `json:"detail,omitempty"`
}

// Options wire a Service.
type Options struct {
	Config Config
	Store  store.Store
	// Mailer sends the email alerts (required with email).
	Mailer *mo.Mailer
	Logger *zap.Logger
	// Registerer takes the metrics (nil: unregistered).
	Registerer prometheus.Registerer
	// Client posts to the webhook (default mo.NewClient()).
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service checks the store every interval and sends alerts.
type Service struct {
	o      Options
	c      Config
	log    *zap.Logger
	m      *metrics
	secret []byte

	mu      sync.Mutex
	active  map[string]time.Time // condition key -> last time it held
	pending []*pending           // alerts whose delivery failed, retried next check
	state   store.AlertState     // nil: active is not saved
	saved   string               // what was saved last (fmt of the map)
	stop    context.CancelFunc
	done    chan struct{}
}

type pending struct {
	a        *Alert
	channels []string // left to deliver to: webhook, email
	attempts int
}

// maxAttempts bounds the deliveries of one alert (one per check).
const maxAttempts = 10

// New builds a Service; Start runs it.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("alerts: need the event store (events.db or --db)")
	}
	if o.Config.Email != nil && o.Mailer == nil {
		return nil, errors.New("alerts: email needs the smtp section")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Client == nil {
		o.Client = mo.NewClient()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{o: o, c: o.Config.WithDefaults(), log: o.Logger.Named("alerts"), m: newMetrics(o.Registerer),
		active: map[string]time.Time{}}
	if w := o.Config.Webhook; w != nil {
		b, err := mo.ReadSecret(w.SecretFile)
		if err != nil {
			return nil, err
		}
		s.secret = b
	}
	// Every series of the configured channels from the start (0), so a
	// rate of failures is defined before the first one.
	var channels []string
	if o.Config.Webhook != nil {
		channels = append(channels, "webhook")
	}
	if o.Config.Email != nil {
		channels = append(channels, "email")
	}
	for _, k := range []Kind{KindCampaign, KindRuleHits, KindLeakage} {
		for _, ch := range channels {
			for _, r := range []string{"sent", "failed"} {
				s.m.sent.WithLabelValues(string(k), ch, r)
			}
		}
	}
	s.load()
	return s, nil
}

// load reads what was alerted before a restart.
func (s *Service) load() {
	st, ok := store.AlertStateOf(s.o.Store)
	if !ok {
		return
	}
	s.state = st
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	active, err := st.LoadAlertState(ctx)
	if err != nil {
		s.log.Warn("alert state not loaded: conditions still holding are alerted again", zap.Error(err))
		return
	}
	maps.Copy(s.active, active)
	s.saved = fmt.Sprint(active)
}

// Start checks the store every interval until Close.
func (s *Service) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.c.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.Check(ctx)
			}
		}
	}()
}

// Close stops the checks.
func (s *Service) Close() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
}

// Check evaluates every condition once, sends the new alerts and retries
// the failed ones.
func (s *Service) Check(ctx context.Context) {
	now := s.o.Now().UTC()
	var fresh []*Alert
	for _, c := range []func(context.Context, time.Time) ([]*Alert, error){s.campaigns, s.ruleHits, s.leakage} {
		as, err := c(ctx, now)
		if err != nil {
			if ctx.Err() == nil {
				s.m.checkFailed.Inc()
				s.log.Warn("alert check failed", zap.Error(err))
			}
			continue
		}
		fresh = append(fresh, as...)
	}
	s.mu.Lock()
	for _, a := range fresh {
		if s.firing(a.ID, now) {
			continue
		}
		p := &pending{a: a}
		if s.c.Webhook != nil {
			p.channels = append(p.channels, "webhook")
		}
		if s.c.Email != nil {
			p.channels = append(p.channels, "email")
		}
		s.pending = append(s.pending, p)
	}
	// Forget conditions that stopped holding, so that they alert again
	// when they come back.
	for k, last := range s.active {
		if now.Sub(last) > 2*s.cooldown(Kind(strings.SplitN(k, "|", 2)[0])) {
			delete(s.active, k)
		}
	}
	work := s.pending
	s.pending = nil
	s.mu.Unlock()
	var keep []*pending
	for _, p := range work {
		if s.deliver(ctx, p) {
			continue
		}
		if p.attempts >= maxAttempts {
			s.log.Error("alert dropped after repeated delivery failures", zap.String("id", p.a.ID), zap.Strings("channels", p.channels))
			continue
		}
		keep = append(keep, p)
	}
	s.mu.Lock()
	s.pending = append(keep, s.pending...)
	s.mu.Unlock()
	s.save(ctx)
}

// save keeps the alerted conditions in the store when they changed, but
// not those whose alert is still undelivered (after a restart they are
// alerted again rather than lost).
func (s *Service) save(ctx context.Context) {
	if s.state == nil {
		return
	}
	s.mu.Lock()
	out := maps.Clone(s.active)
	for _, p := range s.pending {
		delete(out, p.a.ID)
	}
	s.mu.Unlock()
	if fmt.Sprint(out) == s.saved {
		return
	}
	if err := s.state.SaveAlertState(ctx, out); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("alert state not saved; it is tried again next check", zap.Error(err))
		}
		return
	}
	s.saved = fmt.Sprint(out)
}

// firing records that condition key holds at now and reports whether it
// already did (it was alerted).
func (s *Service) firing(key string, now time.Time) bool {
	_, seen := s.active[key]
	s.active[key] = now
	return seen
}

func (s *Service) cooldown(k Kind) time.Duration {
	switch k {
	case KindCampaign:
		return s.c.Campaign.Window
	case KindRuleHits:
		return s.c.RuleHits.Window
	}
	return 24 * time.Hour
}

// deliver sends p to the channels it has not reached; true when none is
// left.
func (s *Service) deliver(ctx context.Context, p *pending) bool {
	p.attempts++
	var left []string
	for _, ch := range p.channels {
		var err error
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		switch ch {
		case "webhook":
			var body []byte
			if body, err = json.Marshal(p.a); err == nil {
				err = mo.PostSigned(cctx, s.o.Client, s.c.Webhook.URL, s.secret, p.a.ID, body)
			}
		case "email":
			err = s.o.Mailer.Send(cctx, mo.Mail{To: s.c.Email.To, Subject: "smsfw alert: " + p.a.Summary, Body: mailBody(p.a),
				ID: p.a.ID, Headers: map[string]string{"X-Smsfw-Alert": string(p.a.Kind)}})
		}
		cancel()
		if err != nil {
			s.m.sent.WithLabelValues(string(p.a.Kind), ch, "failed").Inc()
			s.log.Warn("alert not delivered; retried at the next check", zap.String("id", p.a.ID), zap.String("channel", ch), zap.Error(err))
			left = append(left, ch)
			continue
		}
		s.m.sent.WithLabelValues(string(p.a.Kind), ch, "sent").Inc()
	}
	p.channels = left
	return len(left) == 0
}

func mailBody(a *Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nKind:    %s\nSubject: %s\nTime:    %s\n", a.Summary, a.Kind, a.Subject, a.Time.Format(time.RFC3339))
	if a.Link != "" {
		fmt.Fprintf(&b, "Console: %s\n", a.Link)
	}
	keys := make([]string, 0, len(a.Detail))
	for k := range a.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %v\n", k, a.Detail[k])
	}
	return b.String()
}

// link is the console page at hash (e.g. "#/events?rule=x"); "" without
// a console_url.
func (s *Service) link(hash string) string {
	if s.c.ConsoleURL == "" {
		return ""
	}
	return strings.TrimRight(s.c.ConsoleURL, "/") + "/" + hash
}

// campaigns: fingerprints with at least min_events events in the last
// window.
func (s *Service) campaigns(ctx context.Context, now time.Time) ([]*Alert, error) {
	cs, err := s.o.Store.Campaigns(ctx, store.Query{From: now.Add(-s.c.Campaign.Window), To: now, Limit: 50})
	if err != nil {
		return nil, err
	}
	var out []*Alert
	for _, c := range cs {
		if c.Count < int64(s.c.Campaign.MinEvents) {
			break // largest first
		}
		fp := strconv.FormatUint(uint64(c.Fingerprint), 16)
		out = append(out, &Alert{ID: string(KindCampaign) + "|" + fp, Kind: KindCampaign, Subject: fp, Time: now,
			Summary: fmt.Sprintf("campaign: %d messages with one text from %d senders to %d recipients in %s", c.Count, c.Senders,
				c.Recipients, s.c.Campaign.Window),
			Link: s.link("#/events?fingerprint=" + fp),
			Detail: map[string]any{"count": c.Count, "senders": c.Senders, "recipients": c.Recipients, "peers": c.Peers,
				"first": c.First, "sample_text": c.SampleText, "actions": c.Actions, "rules": c.Rules}})
	}
	return out, nil
}

// ruleHits: rules whose hits in the last full window are at least
// min_hits and factor times those of the window before.
func (s *Service) ruleHits(ctx context.Context, now time.Time) ([]*Alert, error) {
	w := s.c.RuleHits.Window
	step := w.Microseconds()
	end := time.UnixMicro(now.UnixMicro() / step * step).UTC() // the last full window ends here
	series, err := s.o.Store.Stats(ctx, store.StatsQuery{Query: store.Query{From: end.Add(-2 * w), To: end}, Step: w, By: "rule"})
	if err != nil {
		return nil, err
	}
	var out []*Alert
	for _, sr := range series {
		if sr.Key == "" {
			continue // no rule: allowed samples
		}
		var prev, cur int64
		for _, p := range sr.Points {
			if p.T.Before(end.Add(-w)) {
				prev += p.N
			} else {
				cur += p.N
			}
		}
		if cur < int64(s.c.RuleHits.MinHits) || float64(cur) < s.c.RuleHits.Factor*float64(prev) {
			continue
		}
		out = append(out, &Alert{ID: string(KindRuleHits) + "|" + sr.Key + "|" + strconv.FormatInt(end.Unix(), 10), Kind: KindRuleHits,
			Subject: sr.Key, Time: now,
			Summary: fmt.Sprintf("rule %s: %d hits in the %s to %s, %d in the %s before", sr.Key, cur, w, end.Format("15:04"), prev, w),
			Link:    s.link("#/events?rule=" + sr.Key),
			Detail:  map[string]any{"hits": cur, "previous": prev, "window_end": end}})
	}
	return out, nil
}

// leakage: the day's estimated loss over every peer passes per_day.
func (s *Service) leakage(ctx context.Context, now time.Time) ([]*Alert, error) {
	if s.c.Leakage.PerDay <= 0 {
		return nil, nil
	}
	day := store.LeakageDayOf(now)
	rows, err := s.o.Store.Leakage(ctx, day, day)
	if err != nil {
		return nil, err
	}
	var sum float64
	var segs int64
	peers := map[string]float64{}
	for _, r := range rows {
		sum += r.Amount
		segs += r.Segments
		peers[r.Peer] += r.Amount
	}
	if sum < s.c.Leakage.PerDay {
		return nil, nil
	}
	return []*Alert{{ID: string(KindLeakage) + "|" + day, Kind: KindLeakage, Subject: day, Time: now,
		Summary: fmt.Sprintf("leakage on %s: %.2f estimated over %d segments, past %.2f", day, sum, segs, s.c.Leakage.PerDay),
		Link:    s.link("#/leakage"),
		Detail:  map[string]any{"amount": sum, "segments": segs, "per_peer": peers}}}, nil
}
