package store

import "github.com/prometheus/client_golang/prometheus"

// DropReason labels smsfw_events_dropped_total.
type DropReason string

// Why an event was not stored.
const (
	DropQueueFull  DropReason = "queue_full"  // Emit found the queue full
	DropClosed     DropReason = "closed"      // Emit after Close, or Close's deadline passed before the drain ended
	DropStoreError DropReason = "store_error" // the store refused the batch after the retries
	DropPeerBudget DropReason = "peer_budget" // the event's peer had its byte budget (events.peer_queue_bytes) queued
	DropBytes      DropReason = "bytes"       // the queue held its byte budget (events.queue_bytes)
	DropPeerRate   DropReason = "peer_rate"   // the event's peer was over its event rate (events.peer_rate)
)

// WriterMetrics are the event writer's (and retention's) metrics.
type WriterMetrics struct {
	Queued      prometheus.Counter
	Written     prometheus.Counter
	Dropped     *prometheus.CounterVec
	WriteErrors prometheus.Counter
	QueueLength prometheus.Gauge
	QueueBytes  prometheus.Gauge
	BatchTime   prometheus.Histogram

	RetentionDeleted prometheus.Counter
	RetentionErrors  prometheus.Counter

	// The leakage ledger's traffic as it is stored (grey-route messages the
	// SMSC accepted), by peer.
	LeakageSegments *prometheus.CounterVec
	LeakageAmount   *prometheus.CounterVec
}

// NewWriterMetrics creates the metrics and registers them with reg (nil:
// not registered, for tests and tools).
func NewWriterMetrics(reg prometheus.Registerer) *WriterMetrics {
	m := &WriterMetrics{
		Queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsfw_events_queued_total", Help: "Events accepted into the store writer's queue.",
		}),
		Written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsfw_events_written_total", Help: "Events written to the event store.",
		}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_events_dropped_total", Help: "Events not stored, by reason.",
		}, []string{"reason"}),
		WriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsfw_events_write_errors_total", Help: "Failed batch inserts (each attempt, retries included).",
		}),
		QueueLength: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smsfw_events_queue_length", Help: "Events waiting in the store writer's queue.",
		}),
		QueueBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smsfw_events_queue_bytes", Help: "Estimated memory of the events waiting in the store writer's queue (filter.Event.Size).",
		}),
		BatchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "smsfw_events_batch_seconds",
			Help:    "Time to write one batch of events (successful inserts).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. 4 s
		}),
		RetentionDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsfw_events_retention_deleted_total", Help: "Events deleted by retention.",
		}),
		RetentionErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsfw_events_retention_errors_total", Help: "Failed retention runs.",
		}),
		LeakageSegments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_leakage_segments_total",
			Help: "Segments of A2P traffic on routes billed as P2P that the SMSC accepted, by peer (the leakage ledger)."}, []string{"peer"}),
		LeakageAmount: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_leakage_amount_total",
			Help: "Estimated revenue lost to delivered grey-route traffic (A2P minus P2P tariff), by peer, in the tariff currency."}, []string{"peer"}),
	}
	// Label values exist from the start, so dashboards see zeros, not gaps.
	for _, r := range []DropReason{DropQueueFull, DropClosed, DropStoreError, DropPeerBudget, DropBytes, DropPeerRate} {
		m.Dropped.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.Queued, m.Written, m.Dropped, m.WriteErrors, m.QueueLength, m.QueueBytes, m.BatchTime,
			m.RetentionDeleted, m.RetentionErrors, m.LeakageSegments, m.LeakageAmount)
	}
	return m
}

func (m *WriterMetrics) dropped(r DropReason, n int) {
	m.Dropped.WithLabelValues(string(r)).Add(float64(n))
}
