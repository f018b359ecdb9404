package proxy

import (
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
)

// peerStatus is the status of the peer named name.
func peerStatus(e *env, name string) PeerStatus {
	for _, p := range e.srv.Peers() {
		if p.Name == name {
			return p
		}
	}
	e.t.Fatalf("no peer %s in %+v", name, e.srv.Peers())
	return PeerStatus{}
}

// GET /api/v1/peers' figures: a peer's messages and their rate, its last
// refused bind; a pool's last refused or failed upstream bind.
func TestPeersStatusRatesAndErrors(t *testing.T) {
	cfg := &Config{
		Upstreams: map[string]*Upstream{
			"smsc":    {SystemID: "smsfw", Password: "x"},
			"refuses": {SystemID: "smsfw", Password: "wrong"},
			"down":    {Address: "127.0.0.1:1", SystemID: "smsfw", Password: "x"},
		},
		Peers: []*Peer{{SystemID: "acme", Password: "pw", Upstream: "smsc"},
			{SystemID: "beta", Password: "pw", Upstream: "refuses"}, {SystemID: "gamma", Password: "pw", Upstream: "down"}},
	}
	mustValidate(t, cfg)
	e := start(t, sim.Config{Accounts: map[string]string{"smsfw": "x"}}, cfg, nil)
	testutil.Eventually(t, 5*time.Second, "acme's pool bound, the others' binds refused and failed", func() bool {
		return peerStatus(e, "acme").Upstream.Bound == 1 && peerStatus(e, "beta").Upstream.LastError != nil &&
			peerStatus(e, "gamma").Upstream.LastError != nil
	})
	if le := peerStatus(e, "beta").Upstream.LastError; le.What != errUpBindRefused || le.Detail == "" || le.Time.IsZero() {
		t.Errorf("beta's pool: %+v", le)
	}
	if le := peerStatus(e, "gamma").Upstream.LastError; le.What != errUpBindFailed || le.Remote != "127.0.0.1:1" {
		t.Errorf("gamma's pool: %+v", le)
	}
	if le := peerStatus(e, "acme").LastError; le != nil {
		t.Fatalf("acme has a last error before any refused bind: %+v", le)
	}
	if st := bindStatus(t, e, "acme", "guess"); st == 0 {
		t.Fatal("a wrong password bound")
	}
	if le := peerStatus(e, "acme").LastError; le == nil || le.What != errBindRefused || le.Detail != bindBadPassword || le.Remote != "127.0.0.1" {
		t.Fatalf("acme after a wrong password: %+v", le)
	}
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
	for range 10 {
		if r, err := cl.Do(ctx5s(t), submit("hello")); err != nil || r.Status != 0 {
			t.Fatalf("submit: %v %+v", err, r)
		}
	}
	var acme PeerStatus
	testutil.Eventually(t, 5*time.Second, "a rate over at least a second", func() bool {
		acme = peerStatus(e, "acme")
		return acme.Rates.Window >= 1
	})
	if acme.Messages.MT != 10 || acme.Messages.MO != 0 || len(acme.Sessions) != 1 {
		t.Fatalf("acme: %+v", acme)
	}
	// The ten messages came after the first snapshot (taken at Serve).
	if want := 10 / acme.Rates.Window; acme.Rates.MT < want*0.99 || acme.Rates.MT > want*1.01 {
		t.Fatalf("acme's MT rate %v over %vs, want %v", acme.Rates.MT, acme.Rates.Window, want)
	}
}
