package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/bcryptx"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

func TestHashPassword(t *testing.T) {
	cases := []struct {
		name string
		pw   string
		cost int
		err  error
	}{
		{"ok", "secret", bcrypt.MinCost, nil},
		{"max length", "12345678", bcrypt.MinCost, nil},
		{"empty", "", bcrypt.MinCost, ErrPasswordEmpty},
		{"too long", "123456789", bcrypt.MinCost, ErrPasswordTooLong},
		{"cost too low", "secret", 3, ErrHashCost},
		{"cost too high", "secret", 15, ErrHashCost},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := HashPassword([]byte(c.pw), c.cost)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if _, err := bcryptx.Check(h); err != nil {
				t.Fatalf("own hash refused: %v", err)
			}
			if bcrypt.CompareHashAndPassword([]byte(h), []byte(c.pw)) != nil {
				t.Fatal("hash does not verify")
			}
		})
	}
}

// hashedPeer is a config-mode configuration with one peer "acme" whose
// password "pw" is stored as a bcrypt hash.
func hashedPeer(t *testing.T, auth AuthConfig, maxSessions int) *Config {
	t.Helper()
	h, err := HashPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Auth: auth, Upstreams: map[string]*Upstream{"smsc": {}},
		Peers: []*Peer{{SystemID: "acme", PasswordHash: h, MaxSessions: maxSessions}, {SystemID: "plain", Password: "pw2"}}}
	mustValidate(t, cfg)
	return cfg
}

func bindStatus(t *testing.T, e *env, sys, pw string) pdu.Status {
	t.Helper()
	cl, err := esme.Dial(ctx5s(t), e.addr, esme.Options{SystemID: sys, Password: pw})
	if err == nil {
		t.Cleanup(cl.Close)
		return pdu.StatusOK
	}
	var be *esme.BindError
	if !errors.As(err, &be) {
		t.Fatalf("bind %s: %v", sys, err)
	}
	return be.Status
}

func TestBindWithPasswordHash(t *testing.T) {
	e := start(t, sim.Config{}, hashedPeer(t, AuthConfig{}, 0), nil)
	e.waitReady()
	cases := []struct {
		sys, pw string
		want    pdu.Status
	}{
		{"acme", "bad", pdu.StatusInvPaswd},
		{"acme", "", pdu.StatusInvPaswd},
		{"acme", "pw", pdu.StatusOK},
		{"plain", "pw2", pdu.StatusOK},
		{"plain", "pw", pdu.StatusInvPaswd},
	}
	for _, c := range cases {
		if got := bindStatus(t, e, c.sys, c.pw); got != c.want {
			t.Errorf("%s/%q: %v, want %v", c.sys, c.pw, got, c.want)
		}
	}
}

type lockoutRecorder struct {
	mu  sync.Mutex
	got []Lockout
}

func (r *lockoutRecorder) LockedOut(l Lockout) {
	r.mu.Lock()
	r.got = append(r.got, l)
	r.mu.Unlock()
}

func (r *lockoutRecorder) list() []Lockout {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Lockout(nil), r.got...)
}

// startWith is start with a lockout observer.
func startWith(t *testing.T, cfg *Config, obs LockoutObserver) *env {
	e := start(t, sim.Config{}, cfg, nil)
	e.srv.auth.obs = obs
	return e
}

func TestSourceLockout(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	rec := &lockoutRecorder{}
	cfg := hashedPeer(t, AuthConfig{
		SourceLockout:   LockoutConfig{Failures: 3, Window: time.Minute, Duration: time.Minute},
		SystemIDLockout: LockoutConfig{Disabled: true},
	}, 0)
	e := startWith(t, cfg, rec)
	e.srv.auth.now = func() time.Time { return time.Unix(0, clock.Load()) }
	e.waitReady()
	// Mixed failures from one source: unknown system_id, wrong password.
	for i, c := range []struct {
		sys, pw string
		want    pdu.Status
	}{{"nobody", "x", pdu.StatusInvSysID}, {"acme", "bad", pdu.StatusInvPaswd}, {"plain", "bad", pdu.StatusInvPaswd}} {
		if got := bindStatus(t, e, c.sys, c.pw); got != c.want {
			t.Fatalf("failure %d: %v, want %v", i, got, c.want)
		}
	}
	// Locked out: the right password is refused with 0x0D, unchecked.
	for _, c := range [][2]string{{"acme", "pw"}, {"plain", "pw2"}, {"nobody", "x"}} {
		if got := bindStatus(t, e, c[0], c[1]); got != pdu.StatusBindFail {
			t.Fatalf("%s while locked out: %v, want 0x0D", c[0], got)
		}
	}
	if v := promtest.ToFloat64(e.m.lockouts.WithLabelValues(scopeSource)); v != 1 {
		t.Fatalf("lockouts = %v", v)
	}
	if v := promtest.ToFloat64(e.m.lockedBinds.WithLabelValues(scopeSource)); v != 3 {
		t.Fatalf("locked-out binds = %v", v)
	}
	if v := promtest.ToFloat64(e.m.binds.WithLabelValues(legDownstream, bindLockedOut)); v != 3 {
		t.Fatalf("bind_events{locked_out} = %v", v)
	}
	got := rec.list()
	if len(got) != 1 || got[0].Source != netip.MustParsePrefix("127.0.0.1/32") || got[0].Peer != "" {
		t.Fatalf("observer saw %+v", got)
	}
	// After the lockout the source may try again.
	clock.Add(int64(time.Minute + time.Second))
	if got := bindStatus(t, e, "acme", "pw"); got != pdu.StatusOK {
		t.Fatalf("after lockout: %v", got)
	}
}

func TestSystemIDLockout(t *testing.T) {
	rec := &lockoutRecorder{}
	cfg := hashedPeer(t, AuthConfig{
		SourceLockout:   LockoutConfig{Disabled: true},
		SystemIDLockout: LockoutConfig{Failures: 2},
	}, 0)
	e := startWith(t, cfg, rec)
	e.waitReady()
	for i := 0; i < 2; i++ {
		if got := bindStatus(t, e, "acme", "guess"); got != pdu.StatusInvPaswd {
			t.Fatalf("guess %d: %v", i, got)
		}
	}
	if got := bindStatus(t, e, "acme", "pw"); got != pdu.StatusBindFail {
		t.Fatalf("locked system_id: %v, want 0x0D", got)
	}
	// Other peers from the same source are unaffected (source lockout off).
	if got := bindStatus(t, e, "plain", "pw2"); got != pdu.StatusOK {
		t.Fatalf("other peer: %v", got)
	}
	// A source outside a peer's allowed_cidrs cannot lock that peer out.
	cfg2 := hashedPeer(t, AuthConfig{SourceLockout: LockoutConfig{Disabled: true}, SystemIDLockout: LockoutConfig{Failures: 1}}, 0)
	cfg2.Peers[0].AllowedCIDRs = []string{"192.0.2.0/24"}
	mustValidate(t, cfg2)
	far := start(t, sim.Config{}, cfg2, nil)
	far.waitReady()
	for i := 0; i < 3; i++ {
		if got := bindStatus(t, far, "acme", "pw"); got != pdu.StatusBindFail {
			t.Fatalf("outside allowed_cidrs: %v", got)
		}
	}
	if far.srv.auth.tracked() != 0 {
		t.Fatal("binds from outside allowed_cidrs counted against the system_id")
	}
	// Unknown system_ids are not tracked (an attacker could fill the table).
	for i := 0; i < 5; i++ {
		if got := bindStatus(t, e, "nobody", "x"); got != pdu.StatusInvSysID {
			t.Fatalf("unknown: %v", got)
		}
	}
	if n := e.srv.auth.tracked(); n != 1 {
		t.Fatalf("tracked %d keys, want 1", n)
	}
	if got := rec.list(); len(got) != 1 || got[0].Peer != "acme" || got[0].Source.IsValid() {
		t.Fatalf("observer saw %+v", got)
	}
	if v := promtest.ToFloat64(e.m.lockouts.WithLabelValues(scopeSystemID)); v != 1 {
		t.Fatalf("lockouts = %v", v)
	}
}

// With every bcrypt slot taken, a bind waits check_wait and is told to
// retry (0x58) without counting as a failure.
func TestAuthBusy(t *testing.T) {
	cfg := hashedPeer(t, AuthConfig{MaxConcurrentChecks: 1, CheckWait: time.Millisecond,
		SourceLockout: LockoutConfig{Failures: 1}}, 0)
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	e.srv.auth.sem <- struct{}{} // a check in progress
	for i := 0; i < 3; i++ {
		if got := bindStatus(t, e, "acme", "pw"); got != pdu.StatusThrottled {
			t.Fatalf("busy: %v, want 0x58", got)
		}
	}
	// Plaintext passwords need no slot.
	if got := bindStatus(t, e, "plain", "pw2"); got != pdu.StatusOK {
		t.Fatalf("plaintext peer: %v", got)
	}
	<-e.srv.auth.sem
	if got := bindStatus(t, e, "acme", "pw"); got != pdu.StatusOK {
		t.Fatalf("after: %v", got)
	}
	if v := promtest.ToFloat64(e.m.binds.WithLabelValues(legDownstream, bindAuthBusy)); v != 3 {
		t.Fatalf("auth_busy = %v", v)
	}
	if v := promtest.ToFloat64(e.m.lockouts.WithLabelValues(scopeSource)); v != 0 {
		t.Fatal("busy answers counted as failures")
	}
}

// A bind flood: every bind gets exactly one answer, bcrypt never runs more
// than max_concurrent_checks at once, and a bound session keeps flowing.
func TestBindFlood(t *testing.T) {
	cfg := hashedPeer(t, AuthConfig{MaxConcurrentChecks: 2, CheckWait: 50 * time.Millisecond,
		SourceLockout: LockoutConfig{Disabled: true}, SystemIDLockout: LockoutConfig{Disabled: true}}, 0)
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	good := e.dial(esme.Options{SystemID: "plain", Password: "pw2"})
	const n = 40
	statuses := make(chan pdu.Status, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := esme.Dial(ctx5s(t), e.addr, esme.Options{SystemID: "acme", Password: "wrong"})
			var be *esme.BindError
			switch {
			case err == nil:
				cl.Close()
				statuses <- pdu.StatusOK
			case errors.As(err, &be):
				statuses <- be.Status
			default:
				t.Errorf("bind: %v", err)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if r, err := good.Do(ctx5s(t), submit("during flood")); err != nil || r.Status != 0 {
			t.Fatalf("good session during flood: %v %+v", err, r)
		}
	}
	wg.Wait()
	close(statuses)
	count := map[pdu.Status]int{}
	for st := range statuses {
		count[st]++
	}
	if count[pdu.StatusInvPaswd]+count[pdu.StatusThrottled] != n {
		t.Fatalf("answers %v, want %d of 0x0E or 0x58", count, n)
	}
	if p := e.srv.auth.peak.Load(); p < 1 || p > 2 {
		t.Fatalf("%d bcrypt checks at once, limit 2", p)
	}
}

// max_sessions holds under concurrent binds: check and register are one step.
func TestMaxSessionsConcurrentBinds(t *testing.T) {
	e := start(t, sim.Config{}, hashedPeer(t, AuthConfig{MaxConcurrentChecks: 8}, 2), nil)
	e.waitReady()
	const n = 10
	var ok atomic.Int32
	var clients sync.Map
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := esme.Dial(ctx5s(t), e.addr, esme.Options{SystemID: "acme", Password: "pw"})
			var be *esme.BindError
			switch {
			case err == nil:
				ok.Add(1)
				clients.Store(cl, true)
			case errors.As(err, &be) && be.Status == pdu.StatusBindFail:
			default:
				t.Errorf("bind: %v", err)
			}
		}()
	}
	wg.Wait()
	clients.Range(func(k, _ any) bool { t.Cleanup(k.(*esme.Client).Close); return true })
	if got := ok.Load(); got != 2 {
		t.Fatalf("%d sessions bound, max_sessions 2", got)
	}
	if v := promtest.ToFloat64(e.m.binds.WithLabelValues(legDownstream, bindTooMany)); v != n-2 {
		t.Fatalf("session_limit refusals = %v", v)
	}
}

// The tracker never holds more than max_tracked keys, and a full table of
// fresh failures does not evict active lockouts.
func TestLockoutTableBounded(t *testing.T) {
	a := newAuthenticator(AuthConfig{MaxConcurrentChecks: 1, MaxTracked: 8,
		SourceLockout:   LockoutConfig{Failures: 1, Window: time.Minute, Duration: time.Hour},
		SystemIDLockout: LockoutConfig{Disabled: true}}, nil, NewMetrics(nil), zap.NewNop())
	base := netip.MustParseAddr("2001:db8::1")
	// IPv6 sources in one /64 share a key.
	a.failed(base, nil, "")
	a.failed(netip.MustParseAddr("2001:db8::ffff"), nil, "")
	if n := a.tracked(); n != 1 {
		t.Fatalf("one /64 tracked as %d keys", n)
	}
	if locked, _ := a.lockedOut(netip.MustParseAddr("2001:db8::42"), nil); !locked {
		t.Fatal("neighbour in the /64 not locked out")
	}
	for i := 0; i < 1000; i++ {
		a.failed(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), nil, "")
		if n := a.tracked(); n > 8 {
			t.Fatalf("%d keys tracked, max 8", n)
		}
	}
	if locked, _ := a.lockedOut(base, nil); !locked {
		t.Fatal("an active lockout was evicted")
	}
}

// Every configured limit answers as documented: in-flight per peer session
// (window) stops reading the socket; the upstream window bounds relayed
// requests per leg (TestWindowBackPressure); PDU size and bind timeout are
// in TestMalformedFromPeer, TestHostileInput and TestUnboundPeerAndBindTimeout.
func TestPeerWindowLimitsInFlight(t *testing.T) {
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {Window: 100}},
		Peers: []*Peer{{SystemID: "acme", Window: 3}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	e.sim.Stall(true)
	cl := e.dial(esme.Options{SystemID: "acme"})
	col := newCollector(12)
	var seqs []uint32
	for i := 0; i < 12; i++ {
		s, err := cl.Send(submit("w"), col.cb)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	testutil.Eventually(t, 2*time.Second, "three messages at the SMSC", func() bool { return e.sim.Stats().Messages == 3 })
	testutil.Consistently(t, 100*time.Millisecond, "no more than the window upstream", func() bool { return e.sim.Stats().Messages == 3 })
	if n := e.sim.Stats().Messages; n != 3 {
		t.Fatalf("upstream saw %d in flight, peer window is 3", n)
	}
	if n := e.m.inflightUp.Load(); n != 3 {
		t.Fatalf("in flight %d", n)
	}
	// Close: the stalled three and the nine never read are each answered once.
	_ = e.srv.Close()
	rs := col.wait(t, 12, 5*time.Second)
	exactlyOnce(t, seqs, rs)
}

// max_connections: connections over the limit are closed at accept, bound
// or not, and counted; a slot frees when a connection ends.
func TestMaxConnections(t *testing.T) {
	e := start(t, sim.Config{}, &Config{MaxConnections: 2}, nil)
	open := fillConnections(t, e, 2)
	if !overLimitClosed(t, e.addr) {
		t.Fatal("connection over max_connections not closed")
	}
	if v := promtest.ToFloat64(e.m.connsRefused.WithLabelValues(refusedTotal)); v != 1 {
		t.Fatalf("refused %v", v)
	}
	_ = open[0].Close()
	testutil.Eventually(t, 2*time.Second, "one connection open", func() bool { return e.srv.conns.Load() == 1 })
	cl := e.dial(esme.Options{SystemID: "acme"})
	if r, err := cl.Do(ctx5s(t), submit("fits again")); err != nil || r.Status != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	_ = open[1].Close()
}

// Pass-through: the SMSC judges the credentials, and a source it keeps
// refusing is locked out by smsfw (no more binds reach the SMSC).
func TestPassThroughSourceLockout(t *testing.T) {
	rec := &lockoutRecorder{}
	var smscBinds atomic.Int32
	e := start(t, sim.Config{Accounts: map[string]string{"acme": "secret"}, OnPDU: func(_ string, p pdu.PDU) {
		if p.ID().IsBind() {
			smscBinds.Add(1)
		}
	}}, &Config{Auth: AuthConfig{SourceLockout: LockoutConfig{Failures: 2}}}, nil)
	e.srv.auth.obs = rec
	for i, want := range []pdu.Status{pdu.StatusInvPaswd, pdu.StatusInvSysID, pdu.StatusBindFail, pdu.StatusBindFail} {
		sys := "acme"
		if i == 1 {
			sys = "nobody"
		}
		if got := bindStatus(t, e, sys, "guess"); got != want {
			t.Fatalf("bind %d: %v, want %v", i, got, want)
		}
	}
	if got := bindStatus(t, e, "acme", "secret"); got != pdu.StatusBindFail {
		t.Fatalf("right password while locked out: %v", got)
	}
	if n := smscBinds.Load(); n != 2 {
		t.Fatalf("the SMSC saw %d binds; after the lockout none should reach it", n)
	}
	if got := rec.list(); len(got) != 1 || got[0].Source != netip.MustParsePrefix("127.0.0.1/32") {
		t.Fatalf("observer saw %+v", got)
	}
	if v := promtest.ToFloat64(e.m.binds.WithLabelValues(legDownstream, bindLockedOut)); v != 3 {
		t.Fatalf("locked_out refusals %v", v)
	}
}

// concurrentBinds dials n binds at once and returns how many got each status.
func concurrentBinds(t *testing.T, addr, sys, pw string, n int) map[pdu.Status]int {
	t.Helper()
	var mu sync.Mutex
	got := map[pdu.Status]int{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st := pdu.StatusOK
			cl, err := esme.Dial(ctx, addr, esme.Options{SystemID: sys, Password: pw})
			if err == nil {
				cl.Close()
			} else {
				var be *esme.BindError
				if !errors.As(err, &be) {
					st = 0xFFFFFFFF // connection-level failure
				} else {
					st = be.Status
				}
			}
			mu.Lock()
			got[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return got
}

// 1,000 concurrent wrong binds from one source in pass-through mode put no
// more guesses through to the SMSC than the lockout allows, and a right
// password is refused once the source is locked out.
func TestPassThroughConcurrentGuessesBounded(t *testing.T) {
	var smscBinds atomic.Int32
	e := start(t, sim.Config{Accounts: map[string]string{"acme": "secret"}, OnPDU: func(_ string, p pdu.PDU) {
		if p.ID().IsBind() {
			smscBinds.Add(1)
		}
	}}, &Config{Auth: AuthConfig{SourceLockout: LockoutConfig{Failures: 5}, CheckWait: 200 * time.Millisecond},
		MaxConnectionsPerSource: -1}, nil) // the guess bound, not the connection cap, is under test
	got := concurrentBinds(t, e.addr, "acme", "guess", 1000)
	if n := smscBinds.Load(); n > 5 {
		t.Fatalf("%d guesses reached the SMSC (lockout after 5); answers %v", n, got)
	}
	if got[pdu.StatusOK] != 0 {
		t.Fatalf("answers %v", got)
	}
	if st := bindStatus(t, e, "acme", "secret"); st != pdu.StatusBindFail {
		t.Fatalf("right password from a locked-out source: %v", st)
	}
	t.Logf("answers %v; %d binds reached the SMSC", got, smscBinds.Load())
}

// The same in config mode with a bcrypt hash: at most the threshold of
// password checks fail before the lockout.
func TestConfigModeConcurrentGuessesBounded(t *testing.T) {
	cfg := hashedPeer(t, AuthConfig{SourceLockout: LockoutConfig{Failures: 5}, CheckWait: 200 * time.Millisecond}, 0)
	cfg.MaxConnectionsPerSource = -1 // the guess bound, not the connection cap, is under test
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	got := concurrentBinds(t, e.addr, "acme", "guess", 1000)
	if n := got[pdu.StatusInvPaswd]; n > 5 {
		t.Fatalf("%d passwords checked and refused (lockout after 5); answers %v", n, got)
	}
	if got[pdu.StatusOK] != 0 {
		t.Fatalf("answers %v", got)
	}
	t.Logf("answers %v", got)
}

// A legitimate pool binding many sessions at once from one source is
// serialised by the guess reservation, not refused. (check_wait is long:
// twenty checks one or two at a time may take seconds on a busy machine,
// and a bind that waits longer than check_wait is answered busy by design.)
func TestConcurrentGoodBindsAdmitted(t *testing.T) {
	e := start(t, sim.Config{}, hashedPeer(t, AuthConfig{SourceLockout: LockoutConfig{Failures: 2}, CheckWait: 30 * time.Second}, 0), nil)
	e.waitReady()
	got := concurrentBinds(t, e.addr, "acme", "pw", 20)
	if got[pdu.StatusOK] != 20 {
		t.Fatalf("answers %v", got)
	}
}

// One source holding its share of connections cannot keep another out.
func TestMaxConnectionsPerSource(t *testing.T) {
	e := start(t, sim.Config{}, &Config{MaxConnections: 10, MaxConnectionsPerSource: 3}, nil)
	fillConnections(t, e, 3)
	if !overLimitClosed(t, e.addr) {
		t.Fatal("fourth connection from one source not closed")
	}
	testutil.Eventually(t, 2*time.Second, "the per-source refusal counted", func() bool {
		return promtest.ToFloat64(e.m.connsRefused.WithLabelValues(refusedPerSource)) == 1
	})
	// Another source (127.0.0.2 is loopback too) binds.
	bindFromSecondSource(t, e, "other")
}

// bindFromSecondSource binds systemID from 127.0.0.2 (loopback too; the
// test is skipped where it is not) and unbinds.
func bindFromSecondSource(t *testing.T, e *env, systemID string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", e.addr)
	if err != nil {
		t.Skipf("no second loopback source here: %v", err)
	}
	cl, err := esme.Bind(ctx5s(t), nc, esme.Options{SystemID: systemID})
	if err != nil {
		t.Fatalf("another source could not bind: %v", err)
	}
	cl.Close()
}

// fillConnections opens n idle connections to the proxy (closed when the
// test ends) and waits until it holds them.
func fillConnections(t *testing.T, e *env, n int) []net.Conn {
	t.Helper()
	var open []net.Conn
	for i := 0; i < n; i++ {
		nc, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		open = append(open, nc)
	}
	testutil.Eventually(t, 2*time.Second, "connections open", func() bool { return e.srv.conns.Load() == int64(n) })
	return open
}

// overLimitClosed dials once more and reports whether the proxy closed
// that connection at once.
func overLimitClosed(t *testing.T, addr string) bool {
	t.Helper()
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	_ = over.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = over.Read(make([]byte, 1))
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// bannedSet is a SourceBans over a fixed set.
type bannedSet map[netip.Addr]bool

func (b bannedSet) Banned(a netip.Addr) bool { return b[a] }

// A banned source's connections are closed at accept and counted; another
// source binds (the user-space side of the eBPF shield's ban list).
func TestBannedSourceClosedAtAccept(t *testing.T) {
	e := start(t, sim.Config{}, nil, nil, func(o *Options) { o.Bans = bannedSet{netip.MustParseAddr("127.0.0.1"): true} })
	if !overLimitClosed(t, e.addr) {
		t.Fatal("connection from a banned source not closed")
	}
	testutil.Eventually(t, 2*time.Second, "the ban refusal counted", func() bool {
		return promtest.ToFloat64(e.m.connsRefused.WithLabelValues(refusedBanned)) == 1
	})
	if n := e.srv.OpenConnections(); n != 0 {
		t.Fatalf("%d connections open", n)
	}
	bindFromSecondSource(t, e, "acme")
}
