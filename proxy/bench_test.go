package proxy

import (
	"context"
	"net"
	"runtime"
	"testing"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/sim"
)

// BenchmarkRelaySubmit measures a submit_sm and its response through the
// proxy over loopback TCP, window 100. allocs/op covers the whole process
// (client, proxy, simulator): the relay path itself must add none.
func BenchmarkRelaySubmit(b *testing.B) {
	s := sim.New(sim.Config{Keep: -1}, nil)
	sln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = s.Serve(sln) }()
	defer s.Close()
	srv, err := New(Options{Upstream: sln.Addr().String(), Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	pln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(pln) }()
	defer srv.Close()
	cl, err := esme.Dial(context.Background(), pln.Addr().String(), esme.Options{SkipMessageID: true})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	raw := submit("Your verification code is 482913")
	slots := make(chan struct{}, 100)
	cb := func(esme.Resp) { <-slots }
	b.ReportAllocs()
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
