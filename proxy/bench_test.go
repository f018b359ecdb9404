package proxy

import (
	"context"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/sim"
)

// BenchmarkRelaySubmit measures a submit_sm and its response through the
// proxy over loopback TCP, window 100. allocs/op covers the whole process
// (client, proxy, simulator): the relay path itself must add none.
func BenchmarkRelaySubmit(b *testing.B) {
	addr := benchProxy(b)
	cl, err := esme.Dial(context.Background(), addr, esme.Options{SkipMessageID: true})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	raw := submit("Your verification code is 482913")
	slots := make(chan struct{}, 100)
	cb := func(esme.Resp) { <-slots }
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		select {
		case slots <- struct{}{}:
		default:
			cl.Flush()
			slots <- struct{}{}
		}
		if _, err := cl.Queue(raw, cb); err != nil {
			b.Fatal(err)
		}
	}
	cl.Flush()
	for cl.Pending() > 0 {
		runtime.Gosched()
	}
}

// BenchmarkRelaySubmitSessions is BenchmarkRelaySubmit with 64 sessions,
// window 10 each, all sending at once: the per-message cost when batches
// are small and every session's read loops share the cores (what shared
// locks or counters on the relay path would show in).
func BenchmarkRelaySubmitSessions(b *testing.B) {
	const sessions, window = 64, 10
	addr := benchProxy(b)
	clients := make([]*esme.Client, sessions)
	for i := range clients {
		cl, err := esme.Dial(context.Background(), addr, esme.Options{SkipMessageID: true})
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		clients[i] = cl
	}
	raw := submit("Your verification code is 482913")
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots := make(chan struct{}, window)
			cb := func(esme.Resp) { <-slots }
			pdu := append([]byte(nil), raw...) // Queue patches the sequence number
			for next.Add(1) <= int64(b.N) {
				select {
				case slots <- struct{}{}:
				default:
					cl.Flush()
					slots <- struct{}{}
				}
				if _, err := cl.Queue(pdu, cb); err != nil {
					b.Error(err)
					return
				}
			}
			cl.Flush()
			for cl.Pending() > 0 {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
}

// reportCPU reports the CPU time the whole process (client, proxy and
// simulator) spent per op, user and system, from now until the returned
// function runs: on a machine others share it moves far less than ns/op.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

// The relay path allocates nothing in steady state: a guard, not a timing.
func TestRelayPathAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark")
	}
	r := testing.Benchmark(BenchmarkRelaySubmit)
	if r.N == 0 {
		t.Fatal("benchmark did not run")
	}
	if a := r.AllocsPerOp(); a != 0 {
		t.Fatalf("%d allocs per relayed submit_sm (client, proxy and simulator together), want 0", a)
	}
}

// benchProxy serves a simulator that keeps nothing and the proxy in
// pass-through mode in front of it, both closed when b ends; it returns
// the proxy's address.
func benchProxy(b *testing.B) string {
	b.Helper()
	s := sim.New(sim.Config{Keep: -1}, nil)
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve(sln) }()
	b.Cleanup(s.Close)
	srv, err := New(Options{Upstream: sln.Addr().String(), Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(pln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return pln.Addr().String()
}
