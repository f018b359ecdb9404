package pipeline_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// counterFamilies gathers the counter metrics by name, summed over tables,
// and the max_bytes per detector.
func counterFamilies(t *testing.T, reg *prometheus.Registry) (sum map[string]float64, max map[string]float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum, max = map[string]float64{}, map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "smsfw_filter_counter_") {
			continue
		}
		for _, m := range mf.Metric {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			sum[mf.GetName()] += v
			if mf.GetName() == "smsfw_filter_counter_max_bytes" {
				max[label(m, "detector")] += v
			}
		}
	}
	return sum, max
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// letters spells i in letters: texts that differ beyond their digits (the
// fingerprint masks digits).
func letters(i int) string {
	b := []byte{}
	for ; i > 0; i /= 26 {
		b = append(b, byte('a'+i%26))
	}
	return string(b) + " place"
}

// The detectors' counter tables take their sizes from detectors.memory:
// 200,000 messages from distinct senders to distinct numbers with distinct
// texts fill them, and they stay within the budget by evicting (counted).
// A reload with a new size starts the affected tables afresh at that size.
func TestCounterBudgets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	write := func(mem string) {
		if err := os.WriteFile(path, []byte(`version: 1
default: allow
detectors:
  memory:
`+mem+`
limits:
  - {id: per-sender, key: sender, rate: 100, burst: 100}
rules: # reads every detector's findings, so every detector runs
  - {id: watch, when: det.Fired != 0, action: flag, mode: monitor}
`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("    total: 8MiB")
	eng, err := rules.NewEngine(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c, err := pipeline.New(pipeline.Options{Engine: eng, Metrics: pipeline.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	_, max := counterFamilies(t, reg)
	var total float64
	for _, v := range max {
		total += v
	}
	if total > 8<<20 || total < 7<<20 || max["campaign"] > 0.3*(8<<20) || max["campaign"] < 0.25*(8<<20) {
		t.Fatalf("max bytes by detector %v (total %.0f)", max, total)
	}

	now := time.Now().UnixNano()
	var m pdu.Message
	for i := range 200_000 {
		raw := pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: fmt.Sprintf("4915%09d", i),
			DstTON: 1, DstNPI: 1, Dst: fmt.Sprintf("4917%09d", i), ShortMessage: []byte("see you at " + letters(i))})
		if err := pdu.ParseMessage(raw, &m); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Inspect(&filter.Request{Direction: filter.MT, Peer: "p", PeerClass: "p2p", Msg: &m, Time: now + int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	sum, _ := counterFamilies(t, reg)
	t.Logf("after 200,000 distinct senders: %.0f keys, %.1f MiB estimated, %.0f evictions",
		sum["smsfw_filter_counter_keys"], sum["smsfw_filter_counter_bytes"]/(1<<20), sum["smsfw_filter_counter_evictions_total"])
	if b := sum["smsfw_filter_counter_bytes"]; b > 8<<20 || b < 4<<20 { // sim_farm (MO) and pumping (per peer) stay nearly empty
		t.Fatalf("counters hold %.0f bytes for a budget of 8 MiB", b)
	}
	evicted := sum["smsfw_filter_counter_evictions_total"]
	if evicted < 100_000 {
		t.Fatalf("%.0f evictions", evicted)
	}

	// A reload with a campaign size of its own: that table is new, its
	// evictions carry on, the others keep their state.
	write("    total: 8MiB\n    campaign: 1MiB")
	if err := eng.Reload(); err != nil {
		t.Fatal(err)
	}
	raw := pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: "4915000000001", DstTON: 1, DstNPI: 1, Dst: "4917000000001", ShortMessage: []byte("hi")})
	if err := pdu.ParseMessage(raw, &m); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Inspect(&filter.Request{Direction: filter.MT, Peer: "p", PeerClass: "p2p", Msg: &m, Time: now + 1e9}); err != nil {
		t.Fatal(err)
	}
	sum2, max2 := counterFamilies(t, reg)
	if max2["campaign"] > 1<<20 || max2["campaign"] < 0.9*(1<<20) || max2["classification"] != max["classification"] {
		t.Fatalf("after the reload: max bytes %v", max2)
	}
	if sum2["smsfw_filter_counter_evictions_total"] < evicted || sum2["smsfw_filter_counter_keys"] >= sum["smsfw_filter_counter_keys"] {
		t.Fatalf("after the reload: %v, before %v", sum2, sum)
	}
}
