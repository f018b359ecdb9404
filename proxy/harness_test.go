package proxy

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/tlsfiles"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type env struct {
	t     *testing.T
	sim   *sim.Server
	simLn net.Listener
	srv   *Server
	addr  string
	m     *Metrics
	tm    *tlsfiles.Metrics
}

// start runs a simulator and a proxy on loopback; cfg nil = pass-through.
func start(t *testing.T, simCfg sim.Config, cfg *Config, insp filter.Inspector, opts ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t}
	e.sim = sim.New(simCfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.simLn = ln
	go func() { _ = e.sim.Serve(ln) }()
	if cfg != nil {
		for _, u := range cfg.Upstreams {
			if u.Address == "" {
				u.Address = ln.Addr().String()
			}
		}
	}
	e.m, e.tm = NewMetrics(nil), tlsfiles.NewMetrics(nil)
	o := Options{Config: cfg, Upstream: ln.Addr().String(), Inspector: insp,
		Logger: zaptest.NewLogger(t), Metrics: e.m, TLSMetrics: e.tm}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = pln.Addr().String()
	go func() { _ = srv.Serve(pln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		e.sim.Close()
	})
	return e
}

// serveProxy starts smsfw with cfg (and fresh metrics) on loopback for
// e.t; when the test ends it closes it, then calls after (to stop the
// SMSC), if set.
func (e *env) serveProxy(cfg *Config, after func()) {
	t := e.t
	t.Helper()
	e.m, e.tm = NewMetrics(nil), tlsfiles.NewMetrics(nil)
	srv, err := New(Options{Config: cfg, Logger: zaptest.NewLogger(t), Metrics: e.m, TLSMetrics: e.tm})
	if err != nil {
		if after != nil {
			after()
		}
		t.Fatal(err)
	}
	e.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		if after != nil {
			after()
		}
	})
}

func (e *env) dial(o esme.Options) *esme.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if o.SystemID == "" {
		o.SystemID = "peer"
	}
	cl, err := esme.Dial(ctx, e.addr, o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

func (e *env) waitReady() {
	e.t.Helper()
	testutil.Eventually(e.t, 5*time.Second, "proxy ready", func() bool { ok, _ := e.srv.Ready(); return ok })
}

func submit(text string) []byte {
	return pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: "Shop", DstTON: 1, DstNPI: 1,
		Dst: "4915112345678", ShortMessage: []byte(text)})
}

// collector counts responses per sequence number.
type collector struct {
	ch chan esme.Resp
}

func newCollector(n int) *collector { return &collector{ch: make(chan esme.Resp, n*2)} }

func (c *collector) cb(r esme.Resp) { c.ch <- r }

// wait returns n responses or fails.
func (c *collector) wait(t *testing.T, n int, d time.Duration) []esme.Resp {
	t.Helper()
	var out []esme.Resp
	timeout := time.After(d)
	for len(out) < n {
		select {
		case r := <-c.ch:
			out = append(out, r)
		case <-timeout:
			t.Fatalf("got %d of %d responses", len(out), n)
		}
	}
	select {
	case r := <-c.ch:
		t.Fatalf("extra response %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	return out
}

// exactlyOnce checks every sequence number got one response.
func exactlyOnce(t *testing.T, seqs []uint32, rs []esme.Resp) {
	t.Helper()
	got := map[uint32]int{}
	for _, r := range rs {
		got[r.Seq]++
	}
	for _, s := range seqs {
		if got[s] != 1 {
			t.Fatalf("seq %d answered %d times", s, got[s])
		}
	}
}
