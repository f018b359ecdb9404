package proxy

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// The counts every session changes (requests in flight, relay latency,
// verdicts per peer) are kept per read loop and per shard: with more
// sessions than shards, concurrently, they still add up to what was sent.
func TestShardedMetricsAddUp(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := start(t, sim.Config{Keep: -1}, nil, nil, func(o *Options) { o.Metrics = NewMetrics(reg) })
	const sessions, each = metricShards + 6, 20
	var wg sync.WaitGroup
	cols := make([]*collector, sessions)
	for s := range cols {
		cl := e.dial(esme.Options{SystemID: "bulk", SkipMessageID: true})
		cols[s] = newCollector(each)
		wg.Add(1)
		go func() { // every session at once
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := cl.Send(submit("sharded"), cols[s].cb); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, col := range cols {
		for _, r := range col.wait(t, each, 5*time.Second) {
			if r.Err != nil || r.Status != pdu.StatusOK {
				t.Fatalf("response %+v", r)
			}
		}
	}
	const total = sessions * each
	testutil.Eventually(t, 5*time.Second, "every count published", func() bool {
		return testutil.Metric(t, reg, "smsfw_proxy_peer_verdicts_total", "peer", "bulk", "direction", "mt", "action", "allow") == total &&
			latencyCount(t, reg, "submit_sm") == total
	})
	if n := testutil.Metric(t, reg, "smsfw_proxy_inflight_requests", "leg", legUpstream); n != 0 {
		t.Fatalf("%v requests in flight upstream after every answer, want 0", n)
	}
	if n := e.m.inflightUp.Load(); n != 0 {
		t.Fatalf("inflightUp %d, want 0", n)
	}
}

// latencyCount is the sample count of smsfw_proxy_relay_latency_seconds for
// command (-1 when absent).
func latencyCount(t *testing.T, g prometheus.Gatherer, command string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "smsfw_proxy_relay_latency_seconds" || mf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "command" && l.GetValue() == command {
					h := m.GetHistogram()
					if b := h.GetBucket(); len(b) == 0 || b[len(b)-1].GetCumulativeCount() > h.GetSampleCount() {
						t.Fatalf("histogram buckets %v beyond the count %d", b, h.GetSampleCount())
					}
					return float64(h.GetSampleCount())
				}
			}
		}
	}
	return -1
}

func TestLoopLatencyBuckets(t *testing.T) {
	for _, tc := range []struct {
		ns     int64
		bucket int
	}{
		{0, 0}, {50_000, 0}, {50_001, 1}, {1_000_000, 4}, {30e9, numLatBounds - 1}, {31e9, numLatBounds},
	} {
		var s loopStats
		s.observe(pdu.SubmitSM, tc.ns)
		if s.lat[latSubmit][tc.bucket] != 1 || s.latSum[latSubmit] != tc.ns || s.latMask != 1<<latSubmit {
			t.Errorf("%d ns: counts %v, want bucket %d", tc.ns, s.lat[latSubmit], tc.bucket)
		}
	}
	if len(latBounds) != numLatBounds {
		t.Fatalf("numLatBounds %d, latBounds has %d", numLatBounds, len(latBounds))
	}
}

// publish moves exactly what was counted to the loop's shard, whichever
// rows the batch touched, and leaves the loop's counts at zero.
func TestPublishMovesTouchedRows(t *testing.T) {
	m := NewMetrics(nil)
	s := loopStats{shard: 3}
	s.countIn(pdu.SubmitSM)
	s.countIn(pdu.SubmitSM)
	s.countIn(pdu.EnquireLink)
	s.countOut(1, pdu.SubmitSM)
	s.countOut(0, pdu.DeliverSM)
	s.resp(0, pdu.SubmitSM, pdu.StatusOK)
	s.resp(1, pdu.DeliverSM, pdu.StatusXTAppn)
	s.verdict(int(filter.MT), filter.Reject, 2)
	s.observe(pdu.DeliverSM, 2_000_000)
	s.peerVerdict(m, "p", int(filter.MO), filter.Allow)
	s.publish(m, 0)
	if s != (loopStats{shard: 3, peer: "p", peerCtr: s.peerCtr}) {
		t.Fatalf("loop counts left after publish: %+v", s)
	}
	sh := &m.counts[3]
	switch {
	case sh.in[0][pdu.SubmitSM.Index()] != 2 || sh.in[0][pdu.EnquireLink.Index()] != 1:
		t.Fatalf("in %v", sh.in)
	case sh.out[1][pdu.SubmitSM.Index()] != 1 || sh.out[0][pdu.DeliverSM.Index()] != 1:
		t.Fatalf("out %v", sh.out)
	case sh.resps[0][pdu.SubmitSM.Index()][statusClass(pdu.StatusOK)] != 1 || sh.resps[1][pdu.DeliverSM.Index()][statusClass(pdu.StatusXTAppn)] != 1:
		t.Fatalf("resps %v", sh.resps)
	case sh.verdicts[filter.MT][filter.Reject] != 2:
		t.Fatalf("verdicts %v", sh.verdicts)
	case sh.lat[latDeliver][5] != 1 || sh.latSum[latDeliver] != 2_000_000:
		t.Fatalf("latency %v %v", sh.lat[latDeliver], sh.latSum)
	case sh.peers[s.peerCtr][filter.MO][filter.Allow] != 1:
		t.Fatalf("peer verdicts %v", sh.peers)
	}
	m.fold()
	if v := promtest.ToFloat64(m.pduIn[0][pdu.SubmitSM.Index()]); v != 2 {
		t.Fatalf("folded submit_sm in %v", v)
	}
	if v := promtest.ToFloat64(m.peerVerdicts.WithLabelValues("p", "mo", "allow")); v != 1 {
		t.Fatalf("folded peer verdicts %v", v)
	}
}
