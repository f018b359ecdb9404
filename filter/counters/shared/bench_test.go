package shared

import (
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/internal/testutil"
)

// BenchmarkSharedVsLocal measures one node's counter work a message (a
// rate limit, a sender-velocity window and a campaign distinct count, over
// 10,000 peers, senders and texts) with local tables and with the same
// tables shared through a real Redis, in one run, and reports
// shared_vs_local: the shared tables' throughput as a fraction of the
// local ones' (target >= 0.8).
func BenchmarkSharedVsLocal(b *testing.B) {
	r := testutil.StartRedis(b)
	const keys = 10_000
	n := newNode(b, r.Addr, "bench", 2*keys)
	local := &node{lim: counters.NewLimiter(counters.Keys(2 * keys)), win: counters.NewWindow(time.Minute, 10, counters.Keys(2*keys)),
		dst: counters.NewDistinct(time.Hour, counters.Keys(2*keys))}
	ks := make([]uint64, keys)
	for i := range ks {
		ks[i] = counters.KeyUint64(uint64(i))
	}
	work := func(n *node, iters int) time.Duration {
		start := time.Now()
		for i := range iters {
			now := time.Now().UnixNano()
			k := ks[i%keys]
			n.lim.Allow(k, now, 1e6, 1000, 1)
			n.win.Add(k, now, 1)
			n.dst.Add(ks[(i/7)%keys], uint64(i), now)
		}
		return time.Since(start)
	}
	// Warm both (keys inserted, Redis scripts loaded).
	work(local, keys)
	work(n, keys)
	b.ResetTimer()
	var tl, ts time.Duration
	for range 3 { // interleaved rounds: machine noise hits both alike
		tl += work(local, b.N)
		ts += work(n, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(tl.Nanoseconds())/float64(3*b.N), "local-ns/msg")
	b.ReportMetric(float64(ts.Nanoseconds())/float64(3*b.N), "shared-ns/msg")
	b.ReportMetric(float64(tl)/float64(ts), "shared_vs_local")
	if f := n.fallback(b); f != 0 {
		b.Fatal("Redis fell away during the benchmark")
	}
}
