package pipeline

import (
	"math/bits"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/filter"
)

// Metrics are the inspection chain's collectors.
type Metrics struct {
	classes  *prometheus.CounterVec
	byClass  [len(classNames)]prometheus.Counter // by classIndex
	segments [len(classNames)]prometheus.Counter
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
	for i, c := range classNames {
		m.byClass[i] = m.classes.WithLabelValues(c)
		m.segments[i] = segs.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.classes, segs, findings, m.overrides, hits, m.counters)
	}
	return m
}

func (m *Metrics) count(f *filter.Facts, d *filter.Detections) {
	if i := classIndex(f.Class); i >= 0 {
		m.byClass[i].Inc()
		m.segments[i].Add(float64(max(f.Segments, 1)))
	}
	for x := d.Fired; x != 0; x &= x - 1 {
		if c := m.findings[bits.TrailingZeros64(x)]; c != nil {
			c.Inc()
		}
	}
}

// classNames are the message classes counted, in classIndex order.
var classNames = [...]string{filter.ClassA2P, filter.ClassP2P, filter.ClassMO, filter.ClassReceipt}

// classIndex is class's index in classNames, or -1: a switch instead of a
// map lookup per message.
func classIndex(class string) int {
	switch class {
	case filter.ClassA2P:
		return 0
	case filter.ClassP2P:
		return 1
	case filter.ClassMO:
		return 2
	case filter.ClassReceipt:
		return 3
	}
	return -1
}
