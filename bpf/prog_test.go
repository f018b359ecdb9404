//go:build linux

package bpf

import (
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// loadForTest loads the program without attaching it; it skips with the
// kernel's own error when the kernel or the privileges refuse.
func loadForTest(t testing.TB, cfg Config) *kernel {
	t.Helper()
	k, err := loadObjects(cfg.WithDefaults())
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, os.ErrPermission) {
			t.Skipf("kernel refused the eBPF program: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.close() })
	if err := k.setPorts([]uint16{2775, 3775}); err != nil {
		t.Fatal(err)
	}
	return k
}

func mustPrefix(s string) netip.Prefix {
	p, err := ParseSource(s)
	if err != nil {
		panic(err)
	}
	return p
}

// XDP and TCX verdicts.
const (
	xdpDrop = 1
	xdpPass = 2
	tcxNext = 0xffffffff
	tcxDrop = 2
)

// run feeds a frame to both programs; they must agree. It returns the
// reason the stats map counted.
func run(t *testing.T, k *kernel, frame []byte) (drop bool, reason string) {
	t.Helper()
	xv, reason := runXDP(t, k, frame)
	tv, err := k.objs.TcxShield.Run(&ebpf.RunOptions{Data: frame})
	if errors.Is(err, unix.EINVAL) && reason == "malformed" {
		// The skb test run refuses frames whose IP header is cut (as the
		// stack would before tc); XDP sees them.
		return xv == xdpDrop, reason
	}
	if err != nil {
		t.Fatalf("tcx test run: %v", err)
	}
	if xv != xdpDrop && xv != xdpPass || tv != tcxDrop && tv != tcxNext {
		t.Fatalf("verdicts xdp %d, tcx %#x", xv, tv)
	}
	if (xv == xdpDrop) != (tv == tcxDrop) {
		t.Fatalf("xdp says drop=%v, tcx drop=%v", xv == xdpDrop, tv == tcxDrop)
	}
	return xv == xdpDrop, reason
}

func TestProgram(t *testing.T) {
	k := loadForTest(t, Config{SynRate: -1})
	now := time.Now()
	list := []Ban{
		{Source: mustPrefix("192.0.2.0/24")},
		{Source: mustPrefix("198.51.100.7")},
		{Source: mustPrefix("2001:db8:bad::/48")},
		{Source: mustPrefix("203.0.113.9"), Expires: now.Add(-time.Second)}, // expired
		{Source: mustPrefix("203.0.113.10"), Expires: now.Add(time.Hour)},
		{Source: mustPrefix("100.64.0.0/24")},
		{Source: mustPrefix("100.64.0.0/28"), Expires: now.Add(-time.Second)}, // expired inside the /24
		{Source: mustPrefix("100.64.0.5"), Expires: now.Add(-time.Second)},    // and inside that
	}
	for _, b := range list {
		if err := k.put(b, now, false); err != nil {
			t.Fatal(err)
		}
	}
	wantDrops := map[netip.Prefix]uint64{} // per ban: each frame runs through XDP and TCX
	v4 := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	dst4, dst6 := v4("10.0.0.1"), v4("2001:db8::1")
	for _, tc := range []struct {
		name   string
		p      pkt
		drop   bool
		reason string
	}{
		{"v4 banned /24, SYN", pkt{src: v4("192.0.2.55"), dst: dst4, dport: 2775, flags: flagSYN}, true, "banned"},
		{"v4 banned /24, established", pkt{src: v4("192.0.2.1"), dst: dst4, dport: 2775, flags: flagACK}, true, "banned"},
		{"v4 banned /32, second port", pkt{src: v4("198.51.100.7"), dst: dst4, dport: 3775, flags: flagSYN}, true, "banned"},
		{"v4 neighbour of a /32 ban", pkt{src: v4("198.51.100.8"), dst: dst4, dport: 2775, flags: flagSYN}, false, "allowed"},
		{"v4 allowed", pkt{src: v4("10.9.9.9"), dst: dst4, dport: 2775, flags: flagSYN}, false, "allowed"},
		{"v4 expired ban", pkt{src: v4("203.0.113.9"), dst: dst4, dport: 2775, flags: flagSYN}, false, "allowed"},
		{"v4 ban with ttl", pkt{src: v4("203.0.113.10"), dst: dst4, dport: 2775, flags: flagSYN}, true, "banned"},
		{"v4 expired /32 and /28 inside a /24 ban", pkt{src: v4("100.64.0.5"), dst: dst4, dport: 2775, flags: flagSYN}, true, "banned"},
		{"v4 banned, other port", pkt{src: v4("192.0.2.55"), dst: dst4, dport: 22, flags: flagSYN}, false, "other_port"},
		{"v4 banned, UDP", pkt{src: v4("192.0.2.55"), dst: dst4, dport: 2775, proto: 17}, false, "not_tcp"},
		{"v4 banned, VLAN", pkt{src: v4("192.0.2.55"), dst: dst4, dport: 2775, flags: flagSYN, vlan: true}, true, "banned"},
		{"v4 banned, first fragment", pkt{src: v4("192.0.2.55"), dst: dst4, dport: 2775, flags: flagSYN, fragOff: 0x2000}, true, "banned"},
		{"v4 banned, later fragment", pkt{src: v4("192.0.2.55"), dst: dst4, dport: 2775, fragOff: 0x2000 | 3}, false, "fragment"},
		{"v4 TCP header cut", pkt{src: v4("192.0.2.55"), dst: dst4, dport: 2775, flags: flagSYN, cut: 1}, false, "malformed"},
		{"v4 IP header cut", pkt{src: v4("192.0.2.55"), dst: dst4, dport: 2775, cut: 21}, false, "malformed"},
		{"v6 banned /48", pkt{src: v4("2001:db8:bad::5"), dst: dst6, dport: 2775, flags: flagSYN}, true, "banned"},
		{"v6 banned, hop-by-hop", pkt{src: v4("2001:db8:bad::5"), dst: dst6, dport: 2775, flags: flagSYN, hopByHop: true}, true, "banned"},
		{"v6 banned, first fragment", pkt{src: v4("2001:db8:bad::5"), dst: dst6, dport: 2775, flags: flagSYN, frag6: true}, true, "banned"},
		{"v6 banned, later fragment", pkt{src: v4("2001:db8:bad::5"), dst: dst6, dport: 2775, frag6: true, fragOff: 3}, false, "fragment"},
		{"v6 allowed", pkt{src: v4("2001:db8:900d::5"), dst: dst6, dport: 2775, flags: flagSYN}, false, "allowed"},
		{"v6 banned, other port", pkt{src: v4("2001:db8:bad::5"), dst: dst6, dport: 443, flags: flagSYN}, false, "other_port"},
		{"v6 TCP header cut", pkt{src: v4("2001:db8:bad::5"), dst: dst6, dport: 2775, cut: 10}, false, "malformed"},
		{"v6 header cut", pkt{src: v4("2001:db8:bad::5"), dst: dst6, dport: 2775, cut: 30}, false, "malformed"},
		{"v6 banned, UDP", pkt{src: v4("2001:db8:bad::5"), dst: dst6, dport: 2775, proto: 17}, false, "not_tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drop, reason := run(t, k, tc.p.frame())
			if drop != tc.drop || reason != tc.reason {
				t.Errorf("drop=%v reason=%s, want drop=%v reason=%s", drop, reason, tc.drop, tc.reason)
			}
		})
		// The drop is the longest ban in force covering the source's.
		var by *Ban
		for i, b := range list {
			if tc.drop && b.Source.Contains(tc.p.src) && !b.expired(now) && (by == nil || b.Source.Bits() > by.Source.Bits()) {
				by = &list[i]
			}
		}
		if by != nil {
			wantDrops[by.Source] += 2
		}
	}
	// Each ban counts its own drops; the expired one none.
	drops := k.drops()
	for _, b := range list {
		if drops[b.Source] != wantDrops[b.Source] {
			t.Errorf("ban %s dropped %d packets, want %d", b.Source, drops[b.Source], wantDrops[b.Source])
		}
	}
	// A replaced ban keeps its count; a new one starts at zero.
	p := mustPrefix("192.0.2.0/24")
	if err := k.put(Ban{Source: p, Expires: now.Add(time.Hour)}, now, true); err != nil {
		t.Fatal(err)
	}
	if err := k.put(Ban{Source: mustPrefix("192.0.2.128/25")}, now, false); err != nil {
		t.Fatal(err)
	}
	if d := k.drops(); d[p] != wantDrops[p] || d[mustPrefix("192.0.2.128/25")] != 0 {
		t.Errorf("after replacing %s: %v, want %d", p, d, wantDrops[p])
	}
	// Neither IP nor complete Ethernet.
	t.Run("ARP", func(t *testing.T) {
		f := make([]byte, 42)
		f[12], f[13] = 0x08, 0x06
		if drop, reason := run(t, k, f); drop || reason != "not_tcp" {
			t.Errorf("drop=%v reason=%s", drop, reason)
		}
	})
}

// A source's SYNs beyond syn_burst are dropped; ACKs and other sources are
// not limited.
func TestProgramSynRate(t *testing.T) {
	k := loadForTest(t, Config{SynRate: 1, SynBurst: 3})
	a, b := netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("10.1.1.2")
	dst := netip.MustParseAddr("10.0.0.1")
	xdp := func(p pkt) string {
		t.Helper()
		_, r := runXDP(t, k, p.frame())
		return r
	}
	for i := range 3 {
		if r := xdp(pkt{src: a, dst: dst, dport: 2775, flags: flagSYN}); r != "allowed" {
			t.Fatalf("SYN %d: %s", i+1, r)
		}
	}
	if r := xdp(pkt{src: a, dst: dst, dport: 2775, flags: flagSYN}); r != "syn_rate" {
		t.Fatalf("SYN 4: %s, want syn_rate", r)
	}
	if r := xdp(pkt{src: a, dst: dst, dport: 2775, flags: flagSYN | flagACK}); r != "allowed" {
		t.Errorf("SYN-ACK: %s", r)
	}
	if r := xdp(pkt{src: a, dst: dst, dport: 2775, flags: flagACK}); r != "allowed" {
		t.Errorf("ACK: %s", r)
	}
	if r := xdp(pkt{src: a, dst: dst, dport: 22, flags: flagSYN}); r != "other_port" {
		t.Errorf("other port: %s", r)
	}
	if r := xdp(pkt{src: b, dst: dst, dport: 2775, flags: flagSYN}); r != "allowed" {
		t.Errorf("another source: %s", r)
	}
	// IPv6: one budget per /64.
	d6 := netip.MustParseAddr("2001:db8::1")
	for i := range 3 {
		src := netip.MustParseAddr("2001:db8:1:2::" + string(rune('a'+i)))
		if r := xdp(pkt{src: src, dst: d6, dport: 2775, flags: flagSYN}); r != "allowed" {
			t.Fatalf("v6 SYN %d: %s", i+1, r)
		}
	}
	if r := xdp(pkt{src: netip.MustParseAddr("2001:db8:1:2::ffff"), dst: d6, dport: 2775, flags: flagSYN}); r != "syn_rate" {
		t.Errorf("v6 SYN 4 from the same /64: %s", r)
	}
	if r := xdp(pkt{src: netip.MustParseAddr("2001:db8:1:3::1"), dst: d6, dport: 2775, flags: flagSYN}); r != "allowed" {
		t.Errorf("v6 SYN from another /64: %s", r)
	}
}

// runXDP runs the XDP program on frame: its verdict and the reason counted.
func runXDP(t testing.TB, k *kernel, frame []byte) (uint32, string) {
	t.Helper()
	before, err := k.packets()
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.objs.XdpShield.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("xdp test run: %v", err)
	}
	after, _ := k.packets()
	for i := range after {
		if after[i] != before[i] {
			return v, reasons[i].reason
		}
	}
	return v, ""
}

// The reasons' names follow the program's enum.
func TestReasonNames(t *testing.T) {
	if len(reasons) != int(shieldReasonREASONS) || reasons[shieldReasonDROP_BANNED].reason != "banned" ||
		reasons[shieldReasonDROP_SYN_RATE].reason != "syn_rate" || reasons[shieldReasonPASS_MALFORMED].reason != "malformed" {
		t.Fatalf("reasons out of step with shield.c's enum reason")
	}
}
