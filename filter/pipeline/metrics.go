package pipeline

import (
	"encoding/json"
	"math/bits"
	"net/http"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/filter"
)

// Metrics are the inspection chain's collectors.
type Metrics struct {
	classes  *prometheus.CounterVec
	byClass  map[string]prometheus.Counter
	findings [filter.MaxFlags]prometheus.Counter // by flag slot
	leakMsgs *prometheus.CounterVec
	leakAmt  *prometheus.CounterVec

	overrides    prometheus.Gauge
	overrideHits [2]prometheus.Counter // [block, allow]

	counters *counterCollector
}

// NewMetrics registers the collectors on reg (may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		classes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_filter_messages_total",
			Help: "Inspected messages by class (a2p, p2p, mo, receipt)."}, []string{"class"}),
		leakMsgs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_leakage_segments_total",
			Help: "Segments of A2P traffic on routes billed as P2P, by peer."}, []string{"peer"}),
		leakAmt: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_leakage_amount_total",
			Help: "Estimated revenue lost to grey routes (A2P minus P2P tariff), by peer, in the tariff currency."}, []string{"peer"}),
	}
	findings := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_filter_findings_total",
		Help: "Detector findings by kind."}, []string{"finding"})
	// Label values: the flags the detectors declare (filter.NewFlag).
	for _, f := range filter.Findings() {
		if f.Kind == filter.KindFlag {
			m.findings[f.Slot] = findings.WithLabelValues(f.Name)
		}
	}
	m.overrides = prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_filter_overrides",
		Help: "Analysts' overrides (allow or block a sender or text fingerprint) in force."})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_filter_override_hits_total",
		Help: "Messages decided by an analyst's override, by action."}, []string{"action"})
	m.overrideHits[0] = hits.WithLabelValues(filter.OverrideBlock)
	m.overrideHits[1] = hits.WithLabelValues(filter.OverrideAllow)
	m.counters = newCounterCollector()
	m.byClass = map[string]prometheus.Counter{}
	for _, c := range []string{filter.ClassA2P, filter.ClassP2P, filter.ClassMO, filter.ClassReceipt} {
		m.byClass[c] = m.classes.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.classes, findings, m.leakMsgs, m.leakAmt, m.overrides, hits, m.counters)
	}
	return m
}

func (m *Metrics) count(f *filter.Facts, d *filter.Detections) {
	if c := m.byClass[f.Class]; c != nil {
		c.Add(float64(f.Segments))
	}
	for x := d.Fired; x != 0; x &= x - 1 {
		if c := m.findings[bits.TrailingZeros64(x)]; c != nil {
			c.Inc()
		}
	}
}

// Ledger totals revenue leakage per peer for the API and the console.
type Ledger struct {
	m     *Metrics
	mu    sync.Mutex
	peers map[string]*LedgerEntry
}

// LedgerEntry is one peer's total.
type LedgerEntry struct {
	Peer     string  `json:"peer"`
	Segments int     `json:"segments"`
	Amount   float64 `json:"amount"`
}

func newLedger(m *Metrics) *Ledger { return &Ledger{m: m, peers: map[string]*LedgerEntry{}} }

func (l *Ledger) add(peer string, segments int, amount float64) {
	l.mu.Lock()
	e := l.peers[peer]
	if e == nil {
		e = &LedgerEntry{Peer: string([]byte(peer))} // peer may alias a buffer: copy
		l.peers[e.Peer] = e
	}
	e.Segments += segments
	e.Amount += amount
	l.mu.Unlock()
	l.m.leakMsgs.WithLabelValues(peer).Add(float64(segments))
	l.m.leakAmt.WithLabelValues(peer).Add(amount)
}

// Entries returns the totals, largest amount first.
func (l *Ledger) Entries() []LedgerEntry {
	l.mu.Lock()
	out := make([]LedgerEntry, 0, len(l.peers))
	for _, e := range l.peers {
		out = append(out, *e)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Amount > out[j].Amount })
	return out
}

// Handler serves GET /api/v1/leakage.
func (l *Ledger) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"peers": l.Entries()})
	})
}
