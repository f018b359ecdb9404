package cluster

import "github.com/prometheus/client_golang/prometheus"

// part is a metric label: what failed.
type part string

const (
	partListen     part = "listen"      // the LISTEN connection
	partBans       part = "bans"        // reading the shared bans
	partNotify     part = "notify"      // telling the other nodes
	partReceiptIDs part = "receipt_ids" // writing or reading the shared receipt ids
)

// idsResult is a metric label: what became of a receipt id mapping.
type idsResult string

const (
	idsShared  idsResult = "shared"  // written for the other nodes
	idsLearned idsResult = "learned" // read from another node
	idsDropped idsResult = "dropped" // not shared: the queue was full
)

// waitOutcome is a metric label: how a receipt's wait for another node's mapping ended.
type waitOutcome string

const (
	waitRewritten waitOutcome = "rewritten" // its id was learnt
	waitPassed    waitOutcome = "passed"    // no node had its peer's messages in flight any more
	waitExpired   waitOutcome = "expired"   // cluster.receipt_wait ran out
)

// announceResult is a metric label: how an announcement (a release, held
// long-message parts) ended.
type announceResult string

const (
	announceAcked    announceResult = "acknowledged" // every live node applied it
	announceTimedOut announceResult = "timed_out"    // cluster.receipt_wait ran out first
)

// Metrics are the cluster link's Prometheus metrics.
type Metrics struct {
	listening     prometheus.Gauge
	notifications prometheus.Counter
	shared        prometheus.Gauge
	errors        *prometheus.CounterVec
	receiptIDs    *prometheus.CounterVec
	announce      *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		listening: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_cluster_listening",
			Help: "1 while this node holds its LISTEN connection to the shared store; 0: it sees other nodes' changes by polling only."}),
		notifications: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_cluster_notifications_total",
			Help: "Notifications from other nodes received (LISTEN/NOTIFY): changes, acknowledgements and a heartbeat each poll_interval."}),
		shared: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_cluster_shared_bans",
			Help: "Bans in the shared ban list at the last sync."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_cluster_errors_total",
			Help: "Failures of the link between nodes: listen (connection lost), bans (shared list not read), notify, receipt_ids (shared receipt ids not written or read)."}, []string{"part"}),
		receiptIDs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_cluster_receipt_ids_total",
			Help: "Receipt id mappings (SMSC id -> the id a peer was given): shared with the other nodes, learned from them, dropped (not shared: queue full)."}, []string{"result"}),
		announce: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_cluster_announcements_total",
			Help: "Announcements to the other nodes of messages in flight (a release, a long message's held parts), by result: acknowledged (every live node applied it before the message was sent), timed_out (cluster.receipt_wait ran out first)."}, []string{"result"}),
	}
	for _, a := range []announceResult{announceAcked, announceTimedOut} {
		m.announce.WithLabelValues(string(a))
	}
	for _, p := range []part{partListen, partBans, partNotify, partReceiptIDs} {
		m.errors.WithLabelValues(string(p))
	}
	for _, r := range []idsResult{idsShared, idsLearned, idsDropped} {
		m.receiptIDs.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.listening, m.notifications, m.shared, m.errors, m.receiptIDs, m.announce)
	}
	return m
}

// registerWaits registers the counts of receipts that waited for another
// node's mapping, read from the proxy.
func (m *Metrics) registerWaits(reg prometheus.Registerer, rw Rewriter) {
	if reg == nil {
		return
	}
	for _, o := range []waitOutcome{waitRewritten, waitPassed, waitExpired} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "smsfw_cluster_receipt_waits_total",
			Help:        "Receipts with an unknown id that waited while another node had messages of their peer in flight, by how the wait ended: rewritten (the id was learnt), passed (no node had any in flight any more), expired (cluster.receipt_wait).",
			ConstLabels: prometheus.Labels{"outcome": string(o)}}, func() float64 {
			w := rw.ReceiptWaits()
			switch o {
			case waitRewritten:
				return float64(w.Rewritten)
			case waitPassed:
				return float64(w.Passed)
			default:
				return float64(w.Expired)
			}
		}))
	}
}
