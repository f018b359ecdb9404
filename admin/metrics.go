package admin

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Login results (the result label of smsfw_admin_logins_total).
const (
	loginOK     = "ok"     // authenticated (a token, a password, or a remembered password)
	loginFailed = "failed" // wrong or missing credentials: 401
	loginBusy   = "busy"   // no bcrypt slot in time: 503
	loginLocked = "locked" // the source is locked out or has too many checks under way: 429
)

// Connection limits (the limit label of smsfw_admin_connections_refused_total).
const (
	limitTotal     = "total"      // admin_max_connections
	limitPerSource = "per_source" // admin_max_connections_per_source
)

// Metrics are the admin server's collectors.
type Metrics struct {
	logins       *prometheus.CounterVec
	lockouts     prometheus.Counter
	connsRefused *prometheus.CounterVec
	forbidden    prometheus.Counter
}

// NewMetrics registers the admin server's collectors on reg (which may be
// nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_admin_logins_total",
			Help: "Authentication of admin requests (everything but /healthz and anonymous /readyz probes) by result: ok, failed (401), busy (503: no bcrypt slot in time), locked (429: too many failed logins from the source).",
		}, []string{"result"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsfw_admin_login_lockouts_total",
			Help: "Sources locked out of the admin server after too many failed logins.",
		}),
		connsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_admin_connections_refused_total",
			Help: "Admin HTTP connections closed at accept, by the limit reached: total (admin_max_connections) or per_source (admin_max_connections_per_source).",
		}, []string{"limit"}),
		forbidden: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsfw_admin_forbidden_total",
			Help: "Authenticated admin requests refused 403 because the credential's role does not allow them.",
		}),
	}
	for _, r := range []string{loginOK, loginFailed, loginBusy, loginLocked} {
		m.logins.WithLabelValues(r)
	}
	for _, l := range []string{limitTotal, limitPerSource} {
		m.connsRefused.WithLabelValues(l)
	}
	if reg != nil {
		reg.MustRegister(m.logins, m.lockouts, m.connsRefused, m.forbidden)
	}
	return m
}
