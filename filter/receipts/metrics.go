package receipts

import "github.com/prometheus/client_golang/prometheus"

// Journal operations (label op of smsfw_receipts_ids_errors_total).
const (
	opLoad    = "load"
	opAppend  = "append"
	opRead    = "read"
	opCompact = "compact"
)

// Metrics are the fake-receipt check's journal and warm-up counts.
type Metrics struct {
	chunks     prometheus.Counter
	words      prometheus.Counter
	dropped    prometheus.Counter
	errors     *prometheus.CounterVec
	lag        prometheus.Gauge
	unverified prometheus.Counter
}

// NewMetrics registers the metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		chunks: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_receipts_ids_chunks_written_total",
			Help: "Chunks of accepted message ids written to the event store (kept across restarts, shared between nodes)."}),
		words: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_receipts_ids_words_written_total",
			Help: "Words of the accepted-ids filter written to the event store."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_receipts_ids_chunks_skipped_total",
			Help: "Chunks read from the event store and not merged: expired, malformed, or of a filter geometry this node cannot hold."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_receipts_ids_errors_total",
			Help: "Failed operations on the accepted ids kept in the event store, by operation."}, []string{"op"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_receipts_ids_lag_seconds",
			Help: "How far behind this node's knowledge of the other live nodes' accepted ids is (0 alone)."}),
		unverified: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_receipts_unverified_total",
			Help: "Receipts of unknown message ids let through unjudged during the warm-up after a start without every id accepted before."}),
	}
	for _, op := range []string{opLoad, opAppend, opRead, opCompact} {
		m.errors.WithLabelValues(op)
	}
	if reg != nil {
		reg.MustRegister(m.chunks, m.words, m.dropped, m.errors, m.lag, m.unverified)
	}
	return m
}
