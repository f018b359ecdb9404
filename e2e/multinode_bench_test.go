package e2e

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// benchNode is one smsfw node with the shipped policy in front of its own
// simulator, its counters local (redis "") or shared through redis.
func benchNode(b *testing.B, redis string) (*app.App, []*esme.Client) {
	b.Helper()
	s := sim.New(sim.Config{Keep: -1}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(s.Close)
	counters := ""
	if redis != "" {
		counters = fmt.Sprintf("counters: {backend: redis, key_secret: e2e-shared-counters-secret, redis: {addrs: [%q], prefix: bench}}\n", redis)
	}
	cfg, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(`
upstreams:
  smsc: {address: %q, system_id: fw, password: pw, sessions: 2}
peers:
  - {system_id: acme, password: pw, class: a2p}
%s`, ln.Addr().String(), counters)))
	if err != nil {
		b.Fatal(err)
	}
	src := deploy.DefaultPolicySource()
	a, err := app.New(context.Background(), app.Options{Config: cfg, Listen: "127.0.0.1:0", NoAdmin: true, Policy: &src,
		DB: "none", Logger: zap.NewNop(), WatchInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	a.Start()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	testutil.Eventually(b, 10*time.Second, "proxy ready", func() bool { ok, _ := a.Proxy.Ready(); return ok })
	var cls []*esme.Client
	for range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cl, err := esme.Dial(ctx, a.Addr(), esme.Options{SystemID: "acme", Password: "pw"})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(cl.Close)
		cls = append(cls, cl)
	}
	return a, cls
}

var benchTexts = []string{
	"Your code is %d, valid for 10 minutes",
	"Hi, are we still meeting at %d? Call me",
	"Your parcel %d arrives tomorrow between 9 and 12",
	"Win a prize now! Claim ticket %d at http://prize-claim.example/x",
	"Payment of EUR %d received, thank you",
}

// drive sends n messages over the clients, 64 outstanding on each, many
// senders, recipients and texts (new counter keys all along), and returns
// the time until every one was answered.
func drive(b *testing.B, cls []*esme.Client, n, offset int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	for c, cl := range cls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			window := make(chan struct{}, 64)
			var answered sync.WaitGroup
			for i := c; i < n; i += len(cls) {
				k := offset + i
				window <- struct{}{}
				answered.Add(1)
				raw := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: fmt.Sprintf("4917%08d", k%20000),
					DstTON: 1, DstNPI: 1, Dst: fmt.Sprintf("4915%08d", k%50000), ShortMessage: []byte(fmt.Sprintf(benchTexts[k%len(benchTexts)], k%997))})
				if _, err := cl.Send(raw, func(esme.Resp) { <-window; answered.Done() }); err != nil {
					b.Error(err)
					<-window
					answered.Done()
					return
				}
			}
			answered.Wait()
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkOneNodeSharedVsLocal: one node's throughput (the shipped policy,
// 4 sessions of 64 outstanding) with its counters shared through a real
// Redis, as a fraction of the same node with local counters, in one run
// (shared_vs_local; target >= 0.8). Redis runs on the same machine, so its
// CPU is taken from the node's: redis-cores is what it used during the
// shared runs.
func BenchmarkOneNodeSharedVsLocal(b *testing.B) {
	r := testutil.StartRedis(b)
	_, local := benchNode(b, "")
	node, shared := benchNode(b, r.Addr)
	// After a shared run, its last updates go to Redis (two more syncs,
	// mostly the ticker's wait: not timed) before the local run starts, so
	// that no sync work runs on the local run's time.
	var redisCPU time.Duration
	runShared := func(n, offset int) time.Duration {
		cpu := r.CPU()
		defer func() { redisCPU += r.CPU() - cpu }()
		took := drive(b, shared, n, offset)
		rounds := node.Counters.Rounds()
		testutil.Eventually(b, 30*time.Second, "shared counters synced", func() bool { return node.Counters.Rounds() >= rounds+2 })
		return took
	}
	drive(b, local, 5000, 0) // warm: keys, caches, scripts
	runShared(5000, 0)
	b.ResetTimer()
	redisCPU = 0
	var tl, ts time.Duration
	for round := range 4 { // interleaved, alternating who goes first: machine noise hits both alike
		offset := (round + 1) * 1_000_000
		if round%2 == 0 {
			tl += drive(b, local, b.N, offset)
			ts += runShared(b.N, offset)
		} else {
			ts += runShared(b.N, offset)
			tl += drive(b, local, b.N, offset)
		}
	}
	if f := testutil.Metric(b, node.Registry, "smsfw_counters_shared_fallback"); f != 0 {
		b.Fatal("the shared node fell back to local counters during the run")
	}
	b.StopTimer()
	b.ReportMetric(float64(4*b.N)/tl.Seconds(), "local-msg/s")
	b.ReportMetric(float64(4*b.N)/ts.Seconds(), "shared-msg/s")
	b.ReportMetric(float64(tl)/float64(ts), "shared_vs_local")
	b.ReportMetric(redisCPU.Seconds()/ts.Seconds(), "redis-cores")
}
