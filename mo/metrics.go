package mo

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the MO delivery's Prometheus metrics, per route and target
// (http, pull, email, webhook, reply).
type Metrics struct {
	queued      *prometheus.CounterVec
	delivered   *prometheus.CounterVec
	retries     *prometheus.CounterVec
	dead        *prometheus.CounterVec
	replayed    *prometheus.CounterVec
	queueFailed *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	partsHeld   *prometheus.CounterVec
	incomplete  *prometheus.CounterVec
	// actionsDropped counts rule actions never queued, by reason.
	actionsDropped *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	rt := []string{"route", "target"}
	m := &Metrics{
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_queued_total",
			Help: "MO messages queued in the event store, per route and target: a route's before the SMSC was answered, a rule's actions (route rule:ID) after the verdict."}, rt),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_delivered_total",
			Help: "MO messages delivered: pushes answered 2xx (http, webhook), messages acknowledged by a consumer (pull), mails the server took (email), replies the SMSC accepted (reply)."}, rt),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_retries_total",
			Help: "Failed pushes scheduled for another attempt."}, rt),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_dead_letters_total",
			Help: "MO messages that became dead letters (max_attempts or max_age reached)."}, rt),
		replayed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_replayed_total",
			Help: "Dead letters queued again by an operator."}, rt),
		queueFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_queue_failures_total",
			Help: "MO messages that could not be queued (store error, too many waiting, shutdown): the SMSC got 0x58 and sends them again."},
			[]string{"route"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_replies_skipped_total",
			Help: "Automatic replies not sent on purpose: per_sender, per_route, own_address (the sender is smsfw's own reply address)."},
			[]string{"route", "reason"}),
		partsHeld: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_parts_held_total",
			Help: "Times a long MO's parts went back to wait for the rest of the message (up to a minute after its first part)."}, rt),
		incomplete: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_incomplete_total",
			Help: "Long MO delivered without all their parts (the rest did not come within a minute), marked incomplete."}, rt),
		actionsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_mo_actions_dropped_total",
			Help: "Actions of policy rules never queued: queue_full (too many waiting for the store), store (still refused at shutdown), closed (stopping), config (could not be set up)."},
			[]string{"reason"}),
	}
	for _, why := range []string{DropFull, DropClosed, DropStore, DropConfig} {
		m.actionsDropped.WithLabelValues(why)
	}
	if reg != nil {
		reg.MustRegister(m.queued, m.delivered, m.retries, m.dead, m.replayed, m.queueFailed, m.skipped, m.partsHeld, m.incomplete, m.actionsDropped)
	}
	return m
}

// init makes a route's series visible at zero.
func (m *Metrics) init(route, target string) {
	for _, v := range []*prometheus.CounterVec{m.queued, m.delivered, m.retries, m.dead, m.replayed, m.partsHeld, m.incomplete} {
		v.WithLabelValues(route, target)
	}
	m.queueFailed.WithLabelValues(route)
}

func (m *Metrics) initSkipped(route, rate string) {
	for _, why := range []string{SkipOwnAddress, SkipSender, rate} {
		m.skipped.WithLabelValues(route, why)
	}
}
