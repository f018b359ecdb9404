package shared

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/internal/testutil"
)

const (
	testSecret   = "test-secret-0123456789"
	testInterval = 20 * time.Millisecond
)

// node is one smsfw node's counters, shared through addr.
type node struct {
	s   *Sharer
	reg *prometheus.Registry
	lim *counters.Limiter
	win *counters.Window
	dst *counters.Distinct
}

func newNode(t testing.TB, addr, prefix string, keys int) *node {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := Config{Backend: BackendRedis, SyncInterval: testInterval, KeySecret: testSecret,
		Redis: Redis{Addrs: []string{addr}, Prefix: prefix}}
	s, err := Open(cfg, Options{Logger: zaptest.NewLogger(t), Metrics: NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{s: s, reg: reg, lim: counters.NewLimiter(counters.Keys(keys)),
		win: counters.NewWindow(time.Minute, 10, counters.Keys(keys)), dst: counters.NewDistinct(time.Hour, counters.Keys(keys))}
	s.Share("test", []counters.Named{{Name: "limits", Table: n.lim}, {Name: "velocity", Table: n.win}, {Name: "senders", Table: n.dst}})
	s.Start()
	t.Cleanup(func() { _ = s.Close() })
	return n
}

func (n *node) fallback(t testing.TB) float64 {
	return testutil.Metric(t, n.reg, "smsfw_counters_shared_fallback")
}

// Two nodes offering far more than a limit admit, together, the limit plus
// the documented error: not twice the limit, and not much less than it.
func TestTwoNodesOneRate(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := []*node{newNode(t, r.Addr, "rate", 1000), newNode(t, r.Addr, "rate", 1000)}
	const rate, burst = 200.0, 20
	key := counters.KeyString("peer-a")
	var admitted atomic.Int64
	start := time.Now()
	const run = 2 * time.Second
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(500 * time.Microsecond) // ~2,000 offers a second a node: 10x the rate
			defer tick.Stop()
			for time.Since(start) < run {
				<-tick.C
				if ok, _ := n.lim.Allow(key, time.Now().UnixNano(), rate, burst, 1); ok {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	// burst + rate*t, plus (N-1)*(burst + rate*(I + round trip)) (see the
	// package comment); the round trip is allowed a whole interval more.
	limit := burst + rate*el
	bound := limit + (burst + rate*(3*testInterval).Seconds())
	got := float64(admitted.Load())
	t.Logf("admitted %.0f in %.2fs: single-node bound %.0f, documented bound %.0f", got, el, limit, bound)
	if got > bound {
		t.Fatalf("two nodes admitted %.0f, more than the documented bound %.0f (limit %.0f)", got, bound, limit)
	}
	if got < 0.8*rate*el {
		t.Fatalf("two nodes admitted %.0f, far less than the rate allows (%.0f)", got, rate*el)
	}
	for _, n := range nodes {
		if f := n.fallback(t); f != 0 {
			t.Fatalf("fallback = %v with Redis up", f)
		}
	}
}

// A distinct count and a window split across two nodes add up on both.
func TestTwoNodesCountTogether(t *testing.T) {
	r := testutil.StartRedis(t)
	a, b := newNode(t, r.Addr, "count", 1000), newNode(t, r.Addr, "count", 1000)
	text := counters.KeyString("one campaign text")
	for i := range 15 {
		now := time.Now().UnixNano()
		a.dst.Add(text, uint64(1000+i), now)
		b.dst.Add(text, uint64(2000+i), now)
		a.win.Add(text, now, 2)
		b.win.Add(text, now, 1)
	}
	// Each node alone saw 15 senders and 30 or 15 segments.
	testutil.Eventually(t, 5*time.Second, "both nodes count 30 senders", func() bool {
		now := time.Now().UnixNano()
		return a.dst.Add(text, 1000, now) == 30 && b.dst.Add(text, 2000, now) == 30
	})
	testutil.Eventually(t, 5*time.Second, "both nodes count 45 segments", func() bool {
		now := time.Now().UnixNano()
		return a.win.Count(text, now) == 45 && b.win.Count(text, now) == 45
	})
}

// Redis killed: the nodes fall back to local counters at once (metric, log
// line), nothing waits; restarted: they share again.
func TestRedisKilledAndRestarted(t *testing.T) {
	r := testutil.StartRedis(t)
	a, b := newNode(t, r.Addr, "kill", 1000), newNode(t, r.Addr, "kill", 1000)
	key := counters.KeyString("peer-k")
	now := time.Now().UnixNano()
	a.dst.Add(key, 1, now)
	testutil.Eventually(t, 5*time.Second, "b sees a's sender", func() bool { return b.dst.Add(key, 2, time.Now().UnixNano()) == 2 })

	r.Kill()
	stop := make(chan struct{})
	var offered atomic.Int64
	done := make(chan struct{})
	go func() { // traffic all along: every call returns, none waits on Redis
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			now := time.Now().UnixNano()
			a.lim.Allow(key, now, 1e6, 1000, 1)
			a.dst.Add(key, uint64(offered.Add(1)%50+10), now)
			a.win.Add(key, now, 1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	testutil.Eventually(t, 5*time.Second, "node a falls back", func() bool { return a.fallback(t) == 1 })
	testutil.Eventually(t, 5*time.Second, "node b falls back", func() bool { return b.fallback(t) == 1 })
	if !a.s.Fallback() || testutil.Metric(t, a.reg, "smsfw_counters_shared_fallbacks_total") != 1 {
		t.Fatal("fallback not reported")
	}
	// Local counting goes on: b knows only its own senders now.
	if n := b.dst.Add(key, 3, time.Now().UnixNano()); n != 2 {
		t.Fatalf("b counts %d senders alone, want its own 2", n)
	}
	before := offered.Load()
	testutil.Eventually(t, 5*time.Second, "traffic goes on without Redis", func() bool { return offered.Load() > before+100 })

	r.Restart()
	testutil.Eventually(t, 10*time.Second, "node a shares again", func() bool { return a.fallback(t) == 0 })
	testutil.Eventually(t, 10*time.Second, "node b shares again", func() bool { return b.fallback(t) == 0 })
	// The restarted Redis is empty; what the nodes count from now on is shared.
	testutil.Eventually(t, 5*time.Second, "b sees a's senders again", func() bool {
		return b.dst.Add(key, 4, time.Now().UnixNano()) >= 40
	})
	close(stop)
	<-done
}
