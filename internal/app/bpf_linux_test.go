//go:build linux

package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/testutil/netns"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// shieldApp starts smsfw in p's server namespace in config mode (peer acme,
// password pw; the simulator as SMSC) with the shield enabled on the veth;
// extra is added to the configuration after the bpf section (bpf keys
// indented, or top-level sections). It skips with the kernel's own reason
// when the program is refused, and shuts smsfw down when the test ends.
func shieldApp(tb testing.TB, p *netns.Pair, extra string, o app.Options) *app.App {
	tb.Helper()
	cfg, err := config.Parse("c.yaml", fmt.Appendf(nil, `
listen: "[::]:0"
upstreams:
  smsc: {address: %s, system_id: smsfw, password: x}
peers:
  - {system_id: acme, password: pw}
bpf:
  enabled: true
  interfaces: [%s]
%s`, startSim(tb), p.ServerIf, extra))
	if err != nil {
		tb.Fatal(err)
	}
	o.Config, o.DB = cfg, "none"
	var a *app.App
	// The listeners and the attachment are the namespace's; the upstream
	// pool dials the simulator from the host's goroutines.
	if err := p.Server.Do(func() (err error) {
		a, err = app.New(context.Background(), o)
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	a.Start()
	tb.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	if st := a.Shield.Status(); !st.Kernel {
		if errors.Is(st.Err(), ebpf.ErrNotSupported) || errors.Is(st.Err(), os.ErrPermission) {
			tb.Skipf("kernel refused the eBPF program: %v", st.Err())
		}
		tb.Fatalf("not attached: %v", st.Err())
	}
	return a
}

// smsfw in a network namespace of its own behind a veth pair, with the
// shield attached to it: an allowed source binds, a source banned through
// the admin API cannot even connect (its SYNs are dropped in the kernel and
// counted), a source locked out by failed binds is banned for the lockout,
// and Shutdown detaches the program.
func TestShieldInNamespace(t *testing.T) {
	p := netns.New(t)
	a := shieldApp(t, p, "auth:\n  source_lockout: {failures: 2, window: 1m, duration: 5m}\n",
		app.Options{Admin: "127.0.0.1:0", Logger: zaptest.NewLogger(t)})
	if xdp, tcx, err := p.Server.Attached(p.ServerIf); err != nil || xdp != a.Shield.Status().Attachments[0].Mode || tcx != 0 {
		t.Fatalf("the kernel has XDP %q and %d TCX programs on %s (%v), want %+v", xdp, tcx, p.ServerIf, err, a.Shield.Status().Attachments)
	}
	port := netip.MustParseAddrPort(a.Addr()).Port()
	admin := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = p.Server.Do(func() error { c, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
		return c, err
	}}}
	dial := func(src netip.Addr) (net.Conn, error) {
		dst := p.Server4
		if src.Is6() {
			dst = p.Server6
		}
		var c net.Conn
		err := p.Client.Do(func() (err error) {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 500 * time.Millisecond}
			c, err = d.Dial("tcp", netip.AddrPortFrom(dst, port).String())
			return err
		})
		return c, err
	}
	bind := func(src netip.Addr, pw string) error {
		nc, err := dial(src)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl, err := esme.Bind(ctx, nc, esme.Options{SystemID: "acme", Password: pw})
		if err != nil {
			return err
		}
		cl.Close()
		return nil
	}
	timedOut := func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
	good, banned := p.Client4[0], p.Client4[1]
	if err := bind(good, "pw"); err != nil {
		t.Fatalf("allowed source: %v", err)
	}
	if code, body := postJSON(t, admin, "http://"+a.AdminAddr()+"/api/v1/bans",
		fmt.Sprintf(`{"source":%q,"reason":"test"}`, banned)); code != http.StatusCreated {
		t.Fatalf("POST /api/v1/bans: %d %s", code, body)
	}
	if _, err := dial(banned); !timedOut(err) {
		t.Fatalf("banned source: %v, want a timeout (SYN dropped)", err)
	}
	if v := testutil.Metric(t, a.Registry, "smsfw_bpf_packets_total", "action", "drop", "reason", "banned"); v < 1 {
		t.Fatalf("drops counted: %v", v)
	}
	// The ban list (the console's Bans page) shows the ban's own drops.
	if bans := getBans(t, admin, "http://"+a.AdminAddr()); len(bans) != 1 || bans[0].Source != netip.PrefixFrom(banned, 32) ||
		bans[0].Drops < 1 || bans[0].Refused != 0 {
		t.Fatalf("GET /api/v1/bans: %+v", bans)
	}
	if v := testutil.Metric(t, a.Registry, "smsfw_bpf_enabled"); v != 1 {
		t.Fatalf("smsfw_bpf_enabled %v", v)
	}
	// Two wrong passwords lock the IPv6 source out: its /64 is banned.
	guesser := p.Client6[0]
	for i := range 2 {
		var be *esme.BindError
		if err := bind(guesser, "guess"); !errors.As(err, &be) || be.Status != pdu.StatusInvPaswd {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := dial(p.Client6[1]); !timedOut(err) {
		t.Fatalf("a locked-out /64: %v, want a timeout", err)
	}
	if err := bind(good, "pw"); err != nil {
		t.Fatalf("allowed source after the bans: %v", err)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Shield.Status().Kernel {
		t.Fatal("still attached after Shutdown")
	}
	// The kernel agrees: nothing is attached to the interface any more.
	if xdp, tcx, err := p.Server.Attached(p.ServerIf); err != nil || xdp != "" || tcx != 0 {
		t.Fatalf("after Shutdown the kernel still has XDP %q and %d TCX programs on %s (%v)", xdp, tcx, p.ServerIf, err)
	}
}
