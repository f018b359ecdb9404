package cluster

import "github.com/prometheus/client_golang/prometheus"

// part is a metric label: what failed.
type part string

const (
	partListen part = "listen" // the LISTEN connection
	partBans   part = "bans"   // reading the shared bans
	partNotify part = "notify" // telling the other nodes
)

// Metrics are the cluster link's Prometheus metrics.
type Metrics struct {
	listening     prometheus.Gauge
	notifications prometheus.Counter
	shared        prometheus.Gauge
	errors        *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		listening: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_cluster_listening",
			Help: "1 while this node holds its LISTEN connection to the shared store; 0: it sees other nodes' changes by polling only."}),
		notifications: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_cluster_notifications_total",
			Help: "Notifications of other nodes' changes received (LISTEN/NOTIFY)."}),
		shared: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_cluster_shared_bans",
			Help: "Bans in the shared ban list at the last sync."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_cluster_errors_total",
			Help: "Failures of the link between nodes: listen (connection lost), bans (shared list not read), notify."}, []string{"part"}),
	}
	for _, p := range []part{partListen, partBans, partNotify} {
		m.errors.WithLabelValues(string(p))
	}
	if reg != nil {
		reg.MustRegister(m.listening, m.notifications, m.shared, m.errors)
	}
	return m
}
