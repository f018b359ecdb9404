package bpf

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// reasons name the program's reasons (enum reason in shield.c, in its
// order): the action and reason labels of smsfw_bpf_packets_total.
var reasons = [...]struct{ action, reason string }{
	{"pass", "allowed"},
	{"pass", "other_port"},
	{"pass", "not_tcp"},
	{"pass", "fragment"},
	{"pass", "malformed"},
	{"drop", "banned"},
	{"drop", "syn_rate"},
}

// Metrics are the shield's Prometheus metrics. The packet counts, the ban
// count and whether the program is attached are read when scraped.
type Metrics struct {
	s         *Shield
	packets   *prometheus.Desc
	bans      *prometheus.Desc
	enabled   *prometheus.Desc
	mapErrors prometheus.Counter
	full      prometheus.Counter
	// shareErrors: API changes the shared ban list (several nodes) refused.
	shareErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Shield) *Metrics {
	m := &Metrics{s: s,
		packets: prometheus.NewDesc("smsfw_bpf_packets_total",
			"Packets the eBPF shield saw on its interfaces, by action (pass, drop) and reason.", []string{"action", "reason"}, nil),
		bans: prometheus.NewDesc("smsfw_bpf_bans", "Sources in the ban list (config, API, lockouts).", nil, nil),
		enabled: prometheus.NewDesc("smsfw_bpf_enabled",
			"1 when the eBPF program is attached; 0 when bans are enforced at accept time only.", nil, nil),
		mapErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_bpf_map_errors_total",
			Help: "Ban list changes the kernel's map refused (the ban is then enforced at accept time only)."}),
		full: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_bpf_bans_refused_total",
			Help: "Bans refused because the ban list held max_bans entries."}),
		shareErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_bpf_share_errors_total",
			Help: "Ban API changes not written to the shared ban list of several nodes (the event store)."}),
	}
	if reg != nil {
		reg.MustRegister(m, m.mapErrors, m.full, m.shareErrors)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.packets
	ch <- m.bans
	ch <- m.enabled
}

// Collect implements prometheus.Collector: it reads the program's per-CPU
// counters.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(m.bans, prometheus.GaugeValue, float64(len(m.s.Bans())))
	s := m.s
	s.mu.Lock()
	var counts []uint64
	var err error
	attached := s.k != nil
	if attached {
		counts, err = s.k.packets()
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("reading the eBPF counters", zap.Error(err))
	}
	on := 0.0
	if attached {
		on = 1
	}
	for i, n := range counts {
		if i < len(reasons) {
			ch <- prometheus.MustNewConstMetric(m.packets, prometheus.CounterValue, float64(n), reasons[i].action, reasons[i].reason)
		}
	}
	ch <- prometheus.MustNewConstMetric(m.enabled, prometheus.GaugeValue, on)
}

// PacketCount is one counter of the kernel program.
type PacketCount struct {
	Action  string `json:"action"`
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
}

// Packets returns the kernel program's counters by action and reason (nil
// when it is not attached), for the ban API and the console.
func (s *Shield) Packets() []PacketCount {
	s.mu.Lock()
	var counts []uint64
	if s.k != nil {
		counts, _ = s.k.packets() // an error is logged at scrape time
	}
	s.mu.Unlock()
	out := make([]PacketCount, 0, len(counts))
	for i, n := range counts {
		if i < len(reasons) {
			out = append(out, PacketCount{Action: reasons[i].action, Reason: reasons[i].reason, Packets: n})
		}
	}
	return out
}
