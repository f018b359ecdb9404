//go:build linux

package bpf

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/testutil/netns"
)

// skipIfRefused skips when the kernel or the privileges refused the
// program, with the kernel's error; any other failure fails.
func skipIfRefused(t *testing.T, st Status) {
	t.Helper()
	if st.Kernel {
		return
	}
	if errors.Is(st.Err(), ebpf.ErrNotSupported) || errors.Is(st.Err(), os.ErrPermission) {
		t.Skipf("kernel refused the eBPF program: %v", st.Err())
	}
	t.Fatalf("not attached: %v", st.Err())
}

// dial connects from local to remote inside ns; a dropped SYN shows as a
// timeout.
func dial(ns netns.NS, local netip.Addr, remote netip.AddrPort) error {
	return ns.Do(func() error { return netns.Dial(local, remote, 300*time.Millisecond) })
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// The program attached for real, in each mode: a banned source's SYNs are
// dropped (IPv4 and IPv6), an allowed source connects, a lifted ban lets
// the source in again, and Close detaches.
func TestAttach(t *testing.T) {
	for _, tc := range []struct {
		name, mode, want string
		lo               bool // the server namespace's own lo: generic XDP only
	}{
		{"veth native XDP", ModeXDP, "xdp", false},
		{"veth TCX", ModeTCX, "tcx", false},
		{"veth auto", ModeAuto, "xdp", false},
		{"lo generic XDP", ModeXDP, "xdpgeneric", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := netns.New(t)
			client, ifc := p.Client, p.ServerIf
			srv4, srv6, good4, bad4, good6, bad6 := p.Server4, p.Server6, p.Client4[0], p.Client4[1], p.Client6[0], p.Client6[1]
			if tc.lo {
				client, ifc = p.Server, "lo"
				srv4, srv6 = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
				good4, bad4, good6, bad6 = srv4, netip.MustParseAddr("127.0.0.2"), srv6, srv6
			}
			s, err := New(Options{Config: &Config{Enabled: true, Interfaces: []string{ifc}, Mode: tc.mode,
				Bans: []string{bad4.String()}}, Logger: zaptest.NewLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			a4 := netns.Serve(t, p.Server, netip.AddrPortFrom(srv4, 0).String())
			a6 := netns.Serve(t, p.Server, netip.AddrPortFrom(srv6, a4.Port()).String())
			_ = p.Server.Do(func() error { s.Start(a4, a6); return nil })
			st := s.Status()
			skipIfRefused(t, st)
			if len(st.Attachments) != 1 || st.Attachments[0].Mode != tc.want {
				t.Fatalf("attachments %+v, want mode %s", st.Attachments, tc.want)
			}
			checkAttached(t, p.Server, ifc, tc.want)
			if err := dial(client, good4, a4); err != nil {
				t.Fatalf("allowed source: %v", err)
			}
			if err := dial(client, bad4, a4); !isTimeout(err) {
				t.Fatalf("banned source: %v, want a timeout", err)
			}
			if !tc.lo { // lo: ::1 is the only IPv6 source
				if _, err := s.Ban(netip.PrefixFrom(bad6, 128), time.Hour, "test", OriginAPI, "t"); err != nil {
					t.Fatal(err)
				}
				if err := dial(client, good6, a6); err != nil {
					t.Fatalf("allowed IPv6 source: %v", err)
				}
				if err := dial(client, bad6, a6); !isTimeout(err) {
					t.Fatalf("banned IPv6 source: %v, want a timeout", err)
				}
			}
			counts, err := s.k.packets()
			if err != nil || counts[shieldReasonDROP_BANNED] == 0 || counts[shieldReasonPASS_ALLOWED] == 0 {
				t.Fatalf("counts %v %v", counts, err)
			}
			s.Unban(netip.PrefixFrom(bad4, 32))
			if err := dial(client, bad4, a4); err != nil {
				t.Fatalf("unbanned source: %v", err)
			}
			if _, err := s.Ban(netip.PrefixFrom(bad4, 32), time.Hour, "again", OriginAPI, "t"); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 5*time.Second, "banned again", func() bool {
				return isTimeout(dial(client, bad4, a4))
			})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s.Status().Kernel {
				t.Fatal("still attached after Close")
			}
			checkAttached(t, p.Server, ifc, "")
			// Detached: nothing drops in the kernel any more (the proxy's
			// accept-time check is what remains).
			if err := dial(client, bad4, a4); err != nil {
				t.Fatalf("after Close: %v", err)
			}
		})
	}
}

// checkAttached asks the kernel what is attached to ifc in ns: mode (xdp,
// xdpgeneric or tcx), or nothing ("").
func checkAttached(t *testing.T, ns netns.NS, ifc, mode string) {
	t.Helper()
	xdp, tcx, err := ns.Attached(ifc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]any{"": {"", 0}, "tcx": {"", 1}, "xdp": {"xdp", 0}, "xdpgeneric": {"xdpgeneric", 0}}[mode]
	if xdp != want[0] || tcx != want[1] {
		t.Fatalf("%s: the kernel has XDP %q and %d TCX programs attached, want %q and %d", ifc, xdp, tcx, want[0], want[1])
	}
}
