package tlsfiles

import "github.com/prometheus/client_golang/prometheus"

// Target names a TLS endpoint whose files are reloaded (the target label).
type Target string

// TLS targets.
const (
	Listener Target = "listener" // the peer-facing SMPP listener
	Upstream Target = "upstream" // client side toward an SMSC
	Admin    Target = "admin"    // the admin HTTP server
)

// Reload results (the result label).
const (
	ReloadOK    = "ok"
	ReloadError = "error"
)

// Metrics are the certificate reloads and expiries of every target. The
// names keep the smsfw_proxy_ prefix they had when only the proxy reloaded
// certificates, so dashboards and alerts keep working.
type Metrics struct {
	reloads *prometheus.CounterVec
	expiry  *prometheus.GaugeVec
}

// NewMetrics registers the collectors on reg (which may be nil); register
// them once per process and hand them to every CertReloader.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_tls_reloads_total", Help: "Certificate/key/CA reloads by target and result; on error the previous certificates stay.",
		}, []string{"target", "result"}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "smsfw_proxy_tls_certificate_expiry_timestamp_seconds", Help: "NotAfter of the certificate in use, by target.",
		}, []string{"target"}),
	}
	if reg != nil {
		reg.MustRegister(m.reloads, m.expiry)
	}
	return m
}

// Reloads is the counter of target's reloads with result (ReloadOK, ReloadError).
func (m *Metrics) Reloads(target Target, result string) prometheus.Counter {
	return m.reloads.WithLabelValues(string(target), result)
}

// Expiry is the gauge of the NotAfter of target's certificate.
func (m *Metrics) Expiry(target Target) prometheus.Gauge {
	return m.expiry.WithLabelValues(string(target))
}
