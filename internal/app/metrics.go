package app

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is smsfw_build_info: 1 with the module version, the commit and
// the Go version, so a dashboard shows what each node runs.
func buildInfo() prometheus.Collector {
	version, revision := "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "smsfw_build_info",
		Help: "The running smsfw: 1 with its version, commit and Go version."}, []string{"version", "revision", "go_version"})
	g.WithLabelValues(version, revision, runtime.Version()).Set(1)
	return g
}

// reloadMetrics count the configuration file's reloads (the policy's are
// smsfw_rules_*, the certificates' smsfw_proxy_tls_reloads_total).
type reloadMetrics struct {
	lastOK   prometheus.Gauge
	lastTime prometheus.Gauge
	results  map[bool]prometheus.Counter // by success
}

func newReloadMetrics(reg prometheus.Registerer) *reloadMetrics {
	m := &reloadMetrics{
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_config_last_reload_successful",
			Help: "1 when the configuration file's last reload applied (or none was tried), 0 when it failed and the previous configuration is in force."}),
		lastTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "smsfw_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration file was last read successfully (at start or by a reload)."}),
	}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_config_reloads_total",
		Help: "Reloads of the configuration file (SIGHUP, POST /-/reload, a changed file), by result."}, []string{"result"})
	m.results = map[bool]prometheus.Counter{true: reloads.WithLabelValues("success"), false: reloads.WithLabelValues("failure")}
	m.lastOK.Set(1)
	m.lastTime.SetToCurrentTime()
	reg.MustRegister(m.lastOK, m.lastTime, reloads)
	return m
}

// done counts one reload of the configuration file.
func (m *reloadMetrics) done(err error) {
	m.results[err == nil].Inc()
	if err != nil {
		m.lastOK.Set(0)
		return
	}
	m.lastOK.Set(1)
	m.lastTime.SetToCurrentTime()
}
