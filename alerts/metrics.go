package alerts

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	sent        *prometheus.CounterVec
	checkFailed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_alerts_total",
			Help: "Alert deliveries per kind (campaign, rule_hits, leakage), channel (webhook, email) and result (sent, failed: retried at the next check)."},
			[]string{"kind", "channel", "result"}),
		checkFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_alerts_check_failures_total",
			Help: "Alert conditions that could not be evaluated (the event store did not answer)."}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.checkFailed)
	}
	return m
}
