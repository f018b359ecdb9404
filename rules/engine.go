package rules

import (
	"bytes"
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Engine holds the live snapshot and reloads it: read, strict decode,
// validate, compile, swap. A bad file keeps the old snapshot. Counters and
// caches live outside the snapshot and survive swaps.
type Engine struct {
	path string
	log  *zap.Logger
	m    *Metrics

	cur atomic.Pointer[Snapshot]

	mu       sync.Mutex // serializes reloads
	lastData []byte
	// OnSwap, if set, is called after each successful swap (detector state
	// reuse, logging by callers).
	OnSwap func(old, new *Snapshot)
}

// NewEngine loads path; the first load must succeed.
func NewEngine(path string, log *zap.Logger, m *Metrics) (*Engine, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	e := &Engine{path: path, log: log.Named("rules"), m: m}
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
func (e *Engine) Path() string { return e.path }

// Reload reads and compiles the file and swaps it in; on error the old
// snapshot stays and smsfw_rules_last_reload_successful is 0.
func (e *Engine) Reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	data, err := os.ReadFile(e.path)
	if err == nil {
		var s *Snapshot
		if s, err = Parse(e.path, data); err == nil {
			old := e.cur.Swap(s)
			e.lastData = data
			e.m.reloaded(true, s)
			e.log.Info("policy loaded", zap.String("file", e.path), zap.String("hash", s.Hash),
				zap.Int("rules", len(s.Rules)), zap.Int("limits", len(s.Limits)), zap.Int("lists", len(s.Lists)))
			if e.OnSwap != nil && old != nil {
				e.OnSwap(old, s)
			}
			return nil
		}
	}
	e.m.reloaded(false, nil)
	e.log.Error("policy reload failed; keeping the previous policy", zap.String("file", e.path), zap.Error(err))
	return err
}

// Watch reloads when the file's content changes, checking every interval,
// until ctx ends. Polling the content (not inotify) also sees editors that
// replace the file and config-map symlink swaps.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			data, err := os.ReadFile(e.path)
			if err != nil {
				continue
			}
			e.mu.Lock()
			same := bytes.Equal(data, e.lastData)
			e.mu.Unlock()
			if !same {
				_ = e.Reload()
				e.mu.Lock()
				e.lastData = data // a bad file is reported once, not every tick
				e.mu.Unlock()
			}
		}
	}
}

// Metrics are the rules engine's collectors.
type Metrics struct {
	lastOK     prometheus.Gauge
	lastOKTime prometheus.Gauge
	reloads    *prometheus.CounterVec
	ruleCount  prometheus.Gauge
	hits       *prometheus.CounterVec
	evalErrors prometheus.Counter
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
		ruleCount: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_rules_rules",
			Help: "Rules in the policy in force."}),
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_rules_hits_total",
			Help: "Rule and limit matches by rule id (from the policy file) and mode."}, []string{"rule", "mode"}),
		evalErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_rules_eval_errors_total",
			Help: "Rule conditions that failed to evaluate (the rule was skipped)."}),
	}
	if reg != nil {
		reg.MustRegister(m.lastOK, m.lastOKTime, m.reloads, m.ruleCount, m.hits, m.evalErrors)
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
}

// Hit counts a rule or limit match.
func (m *Metrics) Hit(id string, monitor bool) {
	mode := "enforce"
	if monitor {
		mode = "monitor"
	}
	m.hits.WithLabelValues(id, mode).Inc()
}

// EvalError counts a failed condition.
func (m *Metrics) EvalError() { m.evalErrors.Inc() }
