package shared

import "github.com/prometheus/client_golang/prometheus"

// Label values.
const (
	resultOK    = "ok"
	resultError = "error"

	reasonQueueFull  = "queue_full"  // more updates in one interval than a table queues
	reasonSyncFailed = "sync_failed" // sent in a sync that failed
)

// Metrics are the shared counters' metrics.
type Metrics struct {
	fallback  prometheus.Gauge
	fallbacks prometheus.Counter
	syncs     *prometheus.CounterVec
	duration  prometheus.Histogram
	dropped   *prometheus.CounterVec
	keys      prometheus.Counter
}

// NewMetrics registers the metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		fallback: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_counters_shared_fallback",
			Help: "1 while Redis is unreachable and this node counts alone (local counters); 0 while counts are shared."}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_counters_shared_fallbacks_total",
			Help: "Times this node lost Redis and fell back to local counters."}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_counters_shared_syncs_total",
			Help: "Syncs with Redis (one pipeline of every table's updates), by result (ok, error)."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "smsfw_counters_shared_sync_duration_seconds",
			Help:    "Time of one sync with Redis (off the message path).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_counters_shared_dropped_updates_total",
			Help: "Counter updates not shared with the other nodes (still counted locally), by reason (queue_full, sync_failed)."}, []string{"reason"}),
		keys: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_counters_shared_keys_synced_total",
			Help: "Counter keys sent to Redis (one script or command group per key and sync)."}),
	}
	for _, r := range []string{resultOK, resultError} {
		m.syncs.WithLabelValues(r)
	}
	for _, r := range []string{reasonQueueFull, reasonSyncFailed} {
		m.dropped.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.fallback, m.fallbacks, m.syncs, m.duration, m.dropped, m.keys)
	}
	return m
}
