package pipeline

import (
	"math/bits"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/filter"
)

// Metrics are the inspection chain's collectors.
type Metrics struct {
	counts *messageCounts

	overrides    prometheus.Gauge
	overrideHits [2]prometheus.Counter // [block, allow]

	counters *counterCollector
}

// NewMetrics registers the collectors on reg (may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{counts: newMessageCounts()}
	m.overrides = prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_filter_overrides",
		Help: "Analysts' overrides (allow or block a sender or text fingerprint) in force."})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_filter_override_hits_total",
		Help: "Messages decided by an analyst's override, by action."}, []string{"action"})
	m.overrideHits[0] = hits.WithLabelValues(filter.OverrideBlock)
	m.overrideHits[1] = hits.WithLabelValues(filter.OverrideAllow)
	m.counters = newCounterCollector()
	if reg != nil {
		reg.MustRegister(m.counts, m.overrides, hits, m.counters)
	}
	return m
}

// Classes in the order of messageCounts' arrays.
var classes = [...]string{filter.ClassA2P, filter.ClassP2P, filter.ClassMO, filter.ClassReceipt}

func classIndex(c string) int {
	switch c {
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

// countShards is how many shards the per-message counts have: a session
// counts on its own (filter.Request.Shard), and a scrape sums them. One
// shared counter per class would be a cache line every core writes for
// every message.
const countShards = 64

// countShard is one shard: 9 cache lines no other shard shares.
type countShard struct {
	messages [len(classes)]atomic.Uint64
	segments [len(classes)]atomic.Uint64
	findings [filter.MaxFlags]atomic.Uint64 // by flag slot
}

// messageCounts are smsfw_filter_messages_total, smsfw_filter_segments_total
// (by class) and smsfw_filter_findings_total (by flag), counted in shards.
type messageCounts struct {
	shards   [countShards]countShard
	messages *prometheus.Desc
	segments *prometheus.Desc
	findings *prometheus.Desc
	flags    []filter.Finding // the declared flags, by name
}

func newMessageCounts() *messageCounts {
	c := &messageCounts{
		messages: prometheus.NewDesc("smsfw_filter_messages_total", "Inspected messages by class (a2p, p2p, mo, receipt).",
			[]string{"class"}, nil),
		segments: prometheus.NewDesc("smsfw_filter_segments_total",
			"Segments of the inspected messages by class (a long message counts its parts).", []string{"class"}, nil),
		findings: prometheus.NewDesc("smsfw_filter_findings_total", "Detector findings by kind.", []string{"finding"}, nil),
	}
	// Label values: the flags the detectors declare (filter.NewFlag).
	for _, f := range filter.Findings() {
		if f.Kind == filter.KindFlag {
			c.flags = append(c.flags, f)
		}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *messageCounts) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.segments
	ch <- c.findings
}

// Collect implements prometheus.Collector: the sums of the shards.
func (c *messageCounts) Collect(ch chan<- prometheus.Metric) {
	var msgs, segs [len(classes)]uint64
	var found [filter.MaxFlags]uint64
	for i := range c.shards {
		s := &c.shards[i]
		for k := range classes {
			msgs[k] += s.messages[k].Load()
			segs[k] += s.segments[k].Load()
		}
		for _, f := range c.flags {
			found[f.Slot] += s.findings[f.Slot].Load()
		}
	}
	for k, name := range classes {
		ch <- prometheus.MustNewConstMetric(c.messages, prometheus.CounterValue, float64(msgs[k]), name)
		ch <- prometheus.MustNewConstMetric(c.segments, prometheus.CounterValue, float64(segs[k]), name)
	}
	for _, f := range c.flags {
		ch <- prometheus.MustNewConstMetric(c.findings, prometheus.CounterValue, float64(found[f.Slot]), f.Name)
	}
}

// count counts one inspected message on shard.
func (m *Metrics) count(shard uint8, f *filter.Facts, d *filter.Detections) {
	s := &m.counts.shards[shard%countShards]
	if k := classIndex(f.Class); k >= 0 {
		s.messages[k].Add(1)
		s.segments[k].Add(uint64(max(f.Segments, 1)))
	}
	for x := d.Fired; x != 0; x &= x - 1 {
		s.findings[bits.TrailingZeros64(x)].Add(1)
	}
}
