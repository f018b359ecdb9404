package bpf

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smsfw/smsfw/proxy"
)

// clock is a settable time for tests.
type clock struct{ ns atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.ns.Store(time.Now().UnixNano()); return c }
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// newTestShield is a shield whose kernel always refuses with refusal.
func newTestShield(t *testing.T, cfg Config, refusal error) (*Shield, *clock, *observer.ObservedLogs, *prometheus.Registry) {
	t.Helper()
	c := newClock()
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	s, err := New(Options{Config: &cfg, Logger: zap.New(core), Registerer: reg, now: c.now,
		load: func(*Config, []uint16, []string) (*kernel, error) { return nil, refusal }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, c, logs, reg
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestBanListLookup(t *testing.T) {
	s, c, _, _ := newTestShield(t, Config{Bans: []string{"192.0.2.0/24", "2001:db8:bad::/48"}}, nil)
	if _, err := s.Ban(mustPrefix("198.51.100.7"), time.Minute, "r", OriginAPI, "a"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"192.0.2.1", true},
		{"::ffff:192.0.2.200", true}, // v4-mapped is IPv4
		{"192.0.3.1", false},
		{"198.51.100.7", true},
		{"198.51.100.8", false},
		{"2001:db8:bad:1::9", true},
		{"2001:db8:bae::1", false},
	} {
		if got := s.Banned(addr(tc.addr)); got != tc.want {
			t.Errorf("Banned(%s) = %v", tc.addr, got)
		}
	}
	c.advance(time.Minute)
	if s.Banned(addr("198.51.100.7")) {
		t.Error("an expired ban still counts")
	}
	if n := len(s.Bans()); n != 2 {
		t.Errorf("%d bans listed after expiry", n)
	}
	s.Sweep()
	if n := s.bans.len(); n != 2 {
		t.Errorf("%d bans after the sweep", n)
	}
}

// A lockout never shortens a ban; an analyst's ban replaces one.
func TestBanMerge(t *testing.T) {
	s, c, _, _ := newTestShield(t, Config{BanTTL: 30 * time.Minute}, nil)
	p := mustPrefix("203.0.113.5")
	s.LockedOut(proxy.Lockout{Source: p, Until: c.now().Add(time.Hour)})
	b, _ := s.Ban(p, 5*time.Minute, "shorter lockout", OriginLockout, "")
	if b.Origin != OriginLockout || b.Expires != c.now().Add(time.Hour) {
		t.Fatalf("a shorter lockout changed the ban: %+v", b)
	}
	b, _ = s.Ban(p, 0, "analyst", OriginAPI, "ann")
	if b.Expires != c.now().Add(30*time.Minute) || b.Actor != "ann" {
		t.Fatalf("API ban with the default ttl: %+v", b)
	}
	// A system_id lockout has no source; a lockout already over bans nothing.
	s.LockedOut(proxy.Lockout{Peer: "acme", Until: c.now().Add(time.Hour)})
	s.LockedOut(proxy.Lockout{Source: mustPrefix("203.0.113.6"), Until: c.now().Add(-time.Second)})
	if n := len(s.Bans()); n != 1 {
		t.Fatalf("%d bans", n)
	}
	if _, ok := s.Unban(p); !ok || s.Banned(addr("203.0.113.5")) {
		t.Fatal("unban")
	}
	if _, ok := s.Unban(p); ok {
		t.Fatal("unbanned twice")
	}
}

func TestBanListFull(t *testing.T) {
	s, _, _, reg := newTestShield(t, Config{MaxBans: 2}, nil)
	for i, src := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		_, err := s.Ban(mustPrefix(src), time.Minute, "r", OriginAPI, "")
		if (i == 2) != errors.Is(err, ErrFull) {
			t.Fatalf("ban %d: %v", i, err)
		}
	}
	// Replacing an existing ban is not growth.
	if _, err := s.Ban(mustPrefix("10.0.0.1"), time.Hour, "r", OriginAPI, ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := gauge(t, reg, "smsfw_bpf_bans"); v != 2 {
		t.Fatalf("smsfw_bpf_bans %v", v)
	}
}

// Where the kernel refuses: one warning with the kernel's reason,
// smsfw_bpf_enabled 0, no packet counts, and every ban (configured,
// lockout) still answered by Banned, the proxy's accept-time check.
func TestFallbackWhenKernelRefuses(t *testing.T) {
	refusal := errors.New("loading the program: operation not permitted")
	s, c, logs, reg := newTestShield(t, Config{Enabled: true, Interfaces: []string{"eth9"}, Bans: []string{"192.0.2.0/24"}}, refusal)
	s.Start(netip.MustParseAddrPort("127.0.0.1:2775"))
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != 1 || !strings.Contains(warns[0].Message, "accept") || warns[0].ContextMap()["error"] != refusal.Error() {
		t.Fatalf("warnings %+v", warns)
	}
	if st := s.Status(); st.Kernel || st.Reason != refusal.Error() {
		t.Fatalf("status %+v", st)
	}
	if v, ok := gauge(t, reg, "smsfw_bpf_enabled"); !ok || v != 0 {
		t.Fatalf("smsfw_bpf_enabled %v %v", v, ok)
	}
	s.LockedOut(proxy.Lockout{Source: mustPrefix("198.51.100.9"), Until: c.now().Add(time.Minute)})
	for _, a := range []string{"192.0.2.77", "198.51.100.9"} {
		if !s.Banned(addr(a)) {
			t.Errorf("%s not banned at accept", a)
		}
	}
	if s.Banned(addr("127.0.0.1")) {
		t.Error("an allowed source is banned")
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "smsfw_bpf_packets_total" {
			t.Error("packet counts without a program")
		}
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"192.0.2.0/24", "192.0.2.0/24", ""},
		{"192.0.2.9", "192.0.2.9/32", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{"192.0.2.1/24", "", "host bits"},
		{"10.0.0.0/7", "", "broader than /8"},
		{"2000::/15", "", "broader than /16"},
		{"fe80::1%eth0", "", "zones"},
		{"example.com", "", "neither"},
	} {
		p, err := ParseSource(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("%s: %v %v", tc.in, p, err)
		}
	}
}
