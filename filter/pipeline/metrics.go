package pipeline

import (
	"math/bits"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/filter"
)

// Metrics are the inspection chain's collectors.
type Metrics struct {
	classes  *prometheus.CounterVec
	byClass  map[string]prometheus.Counter
	segments map[string]prometheus.Counter
	findings [filter.MaxFlags]prometheus.Counter // by flag slot

	overrides    prometheus.Gauge
	overrideHits [2]prometheus.Counter // [block, allow]

	counters *counterCollector
}

// NewMetrics registers the collectors on reg (may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		classes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_filter_messages_total",
			Help: "Inspected messages by class (a2p, p2p, mo, receipt)."}, []string{"class"}),
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
	segs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_filter_segments_total",
		Help: "Segments of the inspected messages by class (a long message counts its parts)."}, []string{"class"})
	m.byClass, m.segments = map[string]prometheus.Counter{}, map[string]prometheus.Counter{}
	for _, c := range []string{filter.ClassA2P, filter.ClassP2P, filter.ClassMO, filter.ClassReceipt} {
		m.byClass[c] = m.classes.WithLabelValues(c)
		m.segments[c] = segs.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.classes, segs, findings, m.overrides, hits, m.counters)
	}
	return m
}

func (m *Metrics) count(f *filter.Facts, d *filter.Detections) {
	if c := m.byClass[f.Class]; c != nil {
		c.Inc()
		m.segments[f.Class].Add(float64(max(f.Segments, 1)))
	}
	for x := d.Fired; x != 0; x &= x - 1 {
		if c := m.findings[bits.TrailingZeros64(x)]; c != nil {
			c.Inc()
		}
	}
}
