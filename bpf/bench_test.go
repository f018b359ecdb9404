//go:build linux

package bpf

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// BenchmarkProgram runs the program on one frame b.N times in the kernel
// (BPF_PROG_TEST_RUN with repeat) with 10,000 bans in the trie: ns/pkt is
// the kernel's own time per packet, pkts/s its inverse on one core.
func BenchmarkProgram(b *testing.B) {
	k := loadForTest(b, Config{SynRate: 1, SynBurst: 1})
	now := time.Now()
	for i := range 10000 { // /32s in 10.0.0.0/16 and /64s in 2001:db8::/48
		v4 := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		v6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, byte(i >> 8), byte(i)})
		for _, p := range []netip.Prefix{netip.PrefixFrom(v4, 32), netip.PrefixFrom(v6, 64)} {
			if err := k.put(Ban{Source: p, Expires: now.Add(time.Hour)}, now, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	dst4, dst6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8:ffff::1")
	cases := []struct {
		name string
		p    pkt
	}{
		{"v4-banned-drop", pkt{src: netip.MustParseAddr("10.0.3.7"), dst: dst4, dport: 2775, flags: flagSYN}},
		{"v6-banned-drop", pkt{src: netip.MustParseAddr("2001:db8:0:307::1"), dst: dst6, dport: 2775, flags: flagSYN}},
		{"v4-syn-rate-drop", pkt{src: netip.MustParseAddr("172.16.0.1"), dst: dst4, dport: 2775, flags: flagSYN}},
		{"v4-allowed-ack-pass", pkt{src: netip.MustParseAddr("172.16.0.2"), dst: dst4, dport: 2775, flags: flagACK}},
		{"v4-other-port-pass", pkt{src: netip.MustParseAddr("10.0.3.7"), dst: dst4, dport: 443, flags: flagACK}},
	}
	for _, prog := range []struct {
		name string
		p    *ebpf.Program
	}{{"xdp", k.objs.XdpShield}, {"tcx", k.objs.TcxShield}} {
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/%s", prog.name, c.name), func(b *testing.B) {
				frame := c.p.frame()
				if _, _, err := prog.p.Benchmark(frame, 1, nil); err != nil { // the SYN budget spent
					b.Fatal(err)
				}
				_, per, err := prog.p.Benchmark(frame, b.N, b.ResetTimer)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(per.Nanoseconds()), "ns/pkt")
				if per > 0 {
					b.ReportMetric(float64(time.Second)/float64(per), "pkts/s")
				}
			})
		}
	}
}
