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
