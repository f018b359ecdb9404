package proxy

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// classSeen records the peer class of every message inspected.
type classSeen struct {
	mu      sync.Mutex
	classes []string
}

func (c *classSeen) Inspect(r *filter.Request) (filter.Verdict, error) {
	c.mu.Lock()
	c.classes = append(c.classes, r.PeerClass)
	c.mu.Unlock()
	return filter.AllowVerdict, nil
}

func (c *classSeen) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.classes) == 0 {
		return ""
	}
	return c.classes[len(c.classes)-1]
}

// reloadCfg is a config-mode configuration of the given peers (system_id
// = name, password "pw" unless set), all on upstream "smsc" at addr.
func reloadCfg(t *testing.T, addr string, peers ...*Peer) *Config {
	t.Helper()
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {Address: addr}}}
	for _, p := range peers {
		if p.Password == "" {
			p.Password = "pw"
		}
		cfg.Peers = append(cfg.Peers, p)
	}
	mustValidate(t, cfg)
	return cfg
}

func reconfigure(t *testing.T, e *env, cfg *Config) *Reconfigured {
	t.Helper()
	r, err := e.srv.Reconfigure(ctx5s(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sendOK sends n submit_sm on cl and wants each answered 0 exactly once.
func sendOK(t *testing.T, cl *esme.Client, prefix string, n int) {
	t.Helper()
	col := newCollector(n)
	seqs, _ := sendN(t, cl, col, prefix, n)
	rs := col.wait(t, n, 5*time.Second)
	exactlyOnce(t, seqs, rs)
	allStatus(t, rs, pdu.StatusOK)
}

func stillBound(t *testing.T, cl *esme.Client) {
	t.Helper()
	select {
	case <-cl.Done():
		t.Fatal("an unaffected session was unbound by the reload")
	default:
	}
}

// Peers change while sessions are bound: each case reconfigures the
// running proxy and checks binds, the sessions that were bound, and what
// Reconfigure reports.
func TestReconfigurePeers(t *testing.T) {
	cases := []struct {
		name  string
		next  func(addr string) []*Peer
		check func(t *testing.T, e *env, acme *esme.Client, r *Reconfigured)
	}{
		{"onboard a peer", func(string) []*Peer {
			return []*Peer{{SystemID: "acme"}, {SystemID: "beta", Class: "a2p"}}
		}, func(t *testing.T, e *env, acme *esme.Client, r *Reconfigured) {
			if !slices.Equal(r.Added, []string{"beta"}) || len(r.Removed)+len(r.Changed) > 0 {
				t.Fatalf("reported %+v", r)
			}
			beta := e.dial(esme.Options{SystemID: "beta", Password: "pw"})
			sendOK(t, beta, "beta", 10)
		}},
		{"change a password", func(string) []*Peer {
			return []*Peer{{SystemID: "acme", Password: "new"}}
		}, func(t *testing.T, e *env, acme *esme.Client, r *Reconfigured) {
			if !slices.Equal(r.Changed["acme"], []string{"password"}) {
				t.Fatalf("reported %+v", r)
			}
			if got := bindStatus(t, e, "acme", "pw"); got != pdu.StatusInvPaswd {
				t.Errorf("old password: %v, want 0x0E", got)
			}
			if got := bindStatus(t, e, "acme", "new"); got != pdu.StatusOK {
				t.Errorf("new password: %v", got)
			}
		}},
		{"change a class", func(string) []*Peer {
			return []*Peer{{SystemID: "acme", Class: "enterprise"}}
		}, func(t *testing.T, e *env, acme *esme.Client, r *Reconfigured) {
			if !slices.Equal(r.Changed["acme"], []string{"class"}) {
				t.Fatalf("reported %+v", r)
			}
			sendOK(t, acme, "after", 1)
			if got := e.srv.insp.(*classSeen).last(); got != "enterprise" {
				t.Errorf("the bound session's next message has class %q, want enterprise", got)
			}
		}},
		{"narrow allowed_cidrs", func(string) []*Peer {
			return []*Peer{{SystemID: "acme", AllowedCIDRs: []string{"10.0.0.0/8"}}}
		}, func(t *testing.T, e *env, acme *esme.Client, r *Reconfigured) {
			if !slices.Equal(r.Changed["acme"], []string{"allowed_cidrs"}) {
				t.Fatalf("reported %+v", r)
			}
			waitClosed(t, acme, "a session from a source no longer allowed")
			if got := bindStatus(t, e, "acme", "pw"); got != pdu.StatusBindFail {
				t.Errorf("bind from a source no longer allowed: %v, want 0x0D", got)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFaultSMSC(t)
			addr := f.ln.Addr().String()
			insp := &classSeen{}
			e := &env{t: t}
			e.serveProxyWith(reloadCfg(t, addr, &Peer{SystemID: "acme"}), insp)
			e.waitReady()
			acme := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
			sendOK(t, acme, "before", 5)
			r := reconfigure(t, e, reloadCfg(t, addr, c.next(addr)...))
			c.check(t, e, acme, r)
			if c.name != "narrow allowed_cidrs" {
				stillBound(t, acme)
				sendOK(t, acme, "after", 5)
			}
		})
	}
}

func waitClosed(t *testing.T, cl *esme.Client, what string) {
	t.Helper()
	select {
	case <-cl.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s was not unbound", what)
	}
}

// serveProxyWith is serveProxy with an inspector.
func (e *env) serveProxyWith(cfg *Config, insp filter.Inspector) {
	e.serveProxy(cfg, nil)
	e.srv.insp = insp
}

// A peer removed with requests in flight: every request is answered by
// the SMSC, then the session is unbound and the peer's pool stopped; the
// other peer's session goes on.
func TestReconfigureRemovePeerInFlight(t *testing.T) {
	f := newFaultSMSC(t)
	addr := f.ln.Addr().String()
	e := &env{t: t}
	e.serveProxy(reloadCfg(t, addr, &Peer{SystemID: "acme"}, &Peer{SystemID: "beta"}), nil)
	e.waitReady()
	acme := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
	beta := e.dial(esme.Options{SystemID: "beta", Password: "pw"})
	col, seqs := sendHeld(t, f, acme, 20)
	pool := e.srv.poolOf("acme")
	r := reconfigure(t, e, reloadCfg(t, addr, &Peer{SystemID: "beta"}))
	if !slices.Equal(r.Removed, []string{"acme"}) {
		t.Fatalf("reported %+v", r)
	}
	if got := bindStatus(t, e, "acme", "pw"); got != pdu.StatusInvSysID {
		t.Errorf("bind of a removed peer: %v, want 0x0F", got)
	}
	select {
	case <-acme.Done():
		t.Fatal("the removed peer's session was unbound before its requests were answered")
	case <-time.After(100 * time.Millisecond):
	}
	f.mode.Store(answerNow)
	f.release(nil, false)
	rs := col.wait(t, 20, 5*time.Second)
	exactlyOnce(t, seqs, rs)
	allStatus(t, rs, pdu.StatusOK)
	waitClosed(t, acme, "the removed peer's session")
	testutil.Eventually(t, 5*time.Second, "the removed peer's pool unbound", func() bool { return len(pool.boundLegs()) == 0 })
	if e.srv.poolOf("acme") != nil {
		t.Error("the removed peer still has a pool")
	}
	stillBound(t, beta)
	sendOK(t, beta, "beta", 5)
}

// An upstream whose address changed: the new pool binds, takes the new
// requests, and the old one is unbound once its requests in flight are
// answered.
func TestReconfigureUpstreamAddress(t *testing.T) {
	a, b := newFaultSMSC(t), newFaultSMSC(t)
	e := &env{t: t}
	e.serveProxy(reloadCfg(t, a.ln.Addr().String(), &Peer{SystemID: "acme"}), nil)
	e.waitReady()
	acme := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
	col, seqs := sendHeld(t, a, acme, 10)
	old := e.srv.poolOf("acme")
	r := reconfigure(t, e, reloadCfg(t, b.ln.Addr().String(), &Peer{SystemID: "acme"}))
	if !slices.Equal(r.Rebuilt, []string{"acme"}) || !slices.Equal(r.Upstreams["smsc"], []string{"address"}) {
		t.Fatalf("reported %+v", r)
	}
	testutil.Eventually(t, 5*time.Second, "the new pool in use", func() bool { return e.srv.poolOf("acme") != old })
	sendOK(t, acme, "new", 5)
	if got, _, _ := b.stats(); got != 5 {
		t.Errorf("the new SMSC got %d requests, want 5", got)
	}
	if n := len(old.boundLegs()); n != 1 {
		t.Errorf("the old pool has %d legs before its requests are answered, want 1", n)
	}
	a.release(nil, false)
	rs := col.wait(t, 10, 5*time.Second)
	exactlyOnce(t, seqs, rs)
	allStatus(t, rs, pdu.StatusOK)
	testutil.Eventually(t, 5*time.Second, "the old pool unbound", func() bool { return len(old.boundLegs()) == 0 })
	stillBound(t, acme)
}

// Auth settings apply to the next bind; a switch to pass-through mode is
// refused and changes nothing.
func TestReconfigureAuthAndModeSwitch(t *testing.T) {
	f := newFaultSMSC(t)
	addr := f.ln.Addr().String()
	e := &env{t: t}
	e.serveProxy(reloadCfg(t, addr, &Peer{SystemID: "acme"}), nil)
	e.waitReady()
	next := reloadCfg(t, addr, &Peer{SystemID: "acme"})
	next.Auth.SourceLockout.Failures = 1
	r := reconfigure(t, e, next)
	if !slices.Equal(r.Auth, []string{"source_lockout"}) {
		t.Fatalf("reported %+v", r)
	}
	if got := bindStatus(t, e, "acme", "bad"); got != pdu.StatusInvPaswd {
		t.Fatalf("bad password: %v", got)
	}
	if got := bindStatus(t, e, "acme", "pw"); got != pdu.StatusBindFail {
		t.Errorf("after one failure with failures: 1, bind: %v, want 0x0D (locked out)", got)
	}
	if _, err := e.srv.Reconfigure(context.Background(), &Config{}); !errors.Is(err, ErrNeedsRestart) {
		t.Errorf("switch to pass-through: %v, want ErrNeedsRestart", err)
	}
	if got := e.srv.PeerNames(); !slices.Equal(got, []string{"acme"}) {
		t.Errorf("peers after a refused reconfigure: %v", got)
	}
}

// sendHeld has f hold what it gets, sends n submit_sm on cl and waits
// until f holds them all.
func sendHeld(t *testing.T, f *faultSMSC, cl *esme.Client, n int) (*collector, []uint32) {
	t.Helper()
	f.mode.Store(answerHold)
	col := newCollector(n)
	seqs, _ := sendN(t, cl, col, "held", n)
	testutil.Eventually(t, 5*time.Second, "requests held at the SMSC", func() bool { _, held, _ := f.stats(); return held == n })
	return col, seqs
}
