package rules

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Engine holds the live snapshot and reloads it: read, strict decode,
// validate, compile, swap. A bad file keeps the old snapshot. Counters and
// caches live outside the snapshot and survive swaps.
type Engine struct {
	src Source
	log *zap.Logger
	m   *Metrics

	cur atomic.Pointer[Snapshot]

	mu sync.Mutex // serializes reloads
	// failed are the inputs of the last load that failed: Watch reports a
	// bad file once, not at every tick.
	failed inputs
	// OnSwap, if set, is called after each successful swap (detector state
	// reuse, logging by callers).
	OnSwap func(old, new *Snapshot)
	// Check, if set, refuses a policy the program cannot serve (rule
	// actions without what they need: the event store, the smtp
	// section); the first load is the caller's to check.
	Check func(*Snapshot) error
}

// NewEngine loads the policy file at path; the first load must succeed.
func NewEngine(path string, log *zap.Logger, m *Metrics) (*Engine, error) {
	return NewEngineSource(FileSource(path), log, m)
}

// NewEngineSource loads the policy from src (a file, or an fs.FS such as
// the policy embedded in the binary); the first load must succeed.
func NewEngineSource(src Source, log *zap.Logger, m *Metrics) (*Engine, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	e := &Engine{src: src, log: log.Named("rules"), m: m}
	if err := e.Reload(); err != nil {
		return nil, err
	}
	return e, nil
}

// NewStatic wraps a compiled snapshot without a file (tests, rules test).
func NewStatic(s *Snapshot, m *Metrics) *Engine {
	if m == nil {
		m = NewMetrics(nil)
	}
	e := &Engine{log: zap.NewNop(), m: m}
	e.cur.Store(s)
	m.observe(s)
	return e
}

// Snapshot returns the live snapshot.
func (e *Engine) Snapshot() *Snapshot { return e.cur.Load() }

// Metrics returns the engine's metrics.
func (e *Engine) Metrics() *Metrics { return e.m }

// Path is the policy file.
func (e *Engine) Path() string { return e.src.path }

// Reload reads and compiles the policy and its list files and swaps it in;
// on error the old snapshot stays and smsfw_rules_last_reload_successful
// is 0.
func (e *Engine) Reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.load()
	if err == nil && e.Check != nil {
		err = e.Check(s)
	}
	if err == nil {
		old := e.cur.Swap(s)
		e.failed = nil
		e.m.reloaded(true, s)
		e.log.Info("policy loaded", zap.String("file", e.src.path), zap.String("hash", s.Hash),
			zap.Int("rules", len(s.Rules)), zap.Int("limits", len(s.Limits)), zap.Int("lists", len(s.Lists)))
		if e.OnSwap != nil && old != nil {
			e.OnSwap(old, s)
		}
		return nil
	}
	if e.cur.Load() == nil {
		return err // the first load: the caller says it could not start
	}
	e.m.reloaded(false, nil)
	e.log.Error("policy reload failed; keeping the previous policy", zap.String("file", e.src.path), zap.Error(err))
	return err
}

// load builds a snapshot and remembers, on failure, which inputs failed.
func (e *Engine) load() (*Snapshot, error) {
	data, err := e.src.read(e.src.path)
	if err != nil {
		return nil, err
	}
	s, err := parse(e.src, data)
	if err != nil {
		e.failed = inputs{}
		e.failed.add(e.src.path, data)
		if cur := e.cur.Load(); cur != nil {
			for name := range cur.inputs { // list files: retried when they change too
				if name != e.src.path {
					if d, rerr := e.src.read(name); rerr == nil {
						e.failed.add(name, d)
					}
				}
			}
		}
	}
	return s, err
}

// Changed reports whether the policy file or one of its list files now
// differs from what the last load read (after a failed load, from what
// that load read: a file that stays broken is reported once). Polling the
// content (not inotify) also sees editors that replace files and
// config-map symlink swaps; the program polls it and reloads through its
// one audited path (internal/app).
func (e *Engine) Changed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	in := e.failed
	if in == nil {
		in = e.cur.Load().inputs
	}
	return in.changed(e.src)
}

// Metrics are the rules engine's collectors.
type Metrics struct {
	lastOK     prometheus.Gauge
	lastOKTime prometheus.Gauge
	reloads    *prometheus.CounterVec
	ruleCount  prometheus.Gauge
	hits       *prometheus.CounterVec
	evalErrors prometheus.Counter
	policy     *prometheus.GaugeVec // 1 for the hash of the policy in force
}

// NewMetrics registers the engine's collectors on reg (may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_rules_last_reload_successful",
			Help: "Whether the last policy (re)load succeeded (1) or failed and the previous policy is still in force (0)."}),
		lastOKTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_rules_last_reload_success_timestamp_seconds",
			Help: "When the policy in force was loaded."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_rules_reloads_total",
			Help: "Policy loads by result."}, []string{"result"}),
		ruleCount: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_rules_policy_rules",
			Help: "Rules in the policy in force."}),
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_rules_hits_total",
			Help: "Rule and limit matches by rule id (from the policy file) and mode."}, []string{"rule", "mode"}),
		evalErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_rules_eval_errors_total",
			Help: "Rule conditions that failed to evaluate (the rule was skipped)."}),
		policy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "smsfw_rules_policy_info",
			Help: "The policy in force: 1 with its content hash (the first 16 hex digits of its SHA-256), so nodes running different policies show."}, []string{"hash"}),
	}
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.lastOK, m.lastOKTime, m.reloads, m.ruleCount, m.hits, m.evalErrors, m.policy)
	}
	return m
}

func (m *Metrics) reloaded(ok bool, s *Snapshot) {
	if !ok {
		m.lastOK.Set(0)
		m.reloads.WithLabelValues("failure").Inc()
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.observe(s)
}

func (m *Metrics) observe(s *Snapshot) {
	m.lastOK.Set(1)
	m.lastOKTime.Set(float64(s.Loaded.Unix()))
	m.ruleCount.Set(float64(len(s.Rules)))
	m.policy.Reset()
	m.policy.WithLabelValues(s.Hash).Set(1)
	// Each rule's and limit's hits from the start (0), so their rates are
	// defined before the first hit.
	for _, r := range s.Rules {
		m.hits.WithLabelValues(r.ID, hitMode(r.Monitor))
	}
	for _, l := range s.Limits {
		m.hits.WithLabelValues(l.ID, hitMode(l.Monitor))
	}
}

func hitMode(monitor bool) string {
	if monitor {
		return "monitor"
	}
	return "enforce"
}

// Hit counts a rule or limit match.
func (m *Metrics) Hit(id string, monitor bool) {
	m.hits.WithLabelValues(id, hitMode(monitor)).Inc()
}

// EvalError counts a failed condition.
func (m *Metrics) EvalError() { m.evalErrors.Inc() }
