//go:build linux

package app_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/testutil/netns"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// BenchmarkSYNFloodSurvival: smsfw in a network namespace behind a veth
// pair with the eBPF shield; a good peer submits through a bind (10 in
// flight) while one source floods smsfw's SMPP port with 100,000 SYNs a
// second (raw frames, valid checksums, a new source port each; RPS
// spreads their handling over the CPUs as a NIC would). The flooding
// source is banned (banned) or only over the SYN rate (over_limit:
// syn_rate 20/s, burst 100); the program is attached as
// native XDP on the veth (xdp) or as TCX (tcx). Alternating in one run,
// twice: the program attached, quiet then under the flood; detached (bans
// enforced at accept only, no SYN rate), under the flood then quiet. It
// reports the good peer's throughput in each phase (best of the two), the
// survival ratios kept_with and kept_without (under the flood / quiet,
// with and without the program) and ratio (msg/s under the flood with the
// program / without it), and the good messages not answered OK.
//
//	go test -run '^$' -bench SYNFloodSurvival -benchtime 1x ./internal/app/
func BenchmarkSYNFloodSurvival(b *testing.B) {
	for _, sc := range []struct {
		name   string
		banned bool
	}{{"banned", true}, {"over_limit", false}} {
		for _, mode := range []string{"xdp", "tcx"} {
			b.Run(sc.name+"/"+mode, func(b *testing.B) {
				for range b.N {
					floodRound(b, sc.banned, mode)
				}
			})
		}
	}
}

func floodRound(b *testing.B, banned bool, mode string) {
	p := netns.New(b)
	good, bad := p.Client4[0], p.Client4[1]
	extra := "  mode: " + mode + "\n"
	if banned {
		extra += fmt.Sprintf("  bans: [%s]\n", bad)
	}
	a := shieldApp(b, p, extra, app.Options{NoAdmin: true, Logger: zap.NewNop()})
	// As a NIC's interrupts would, RPS spreads what the server side's veth
	// receives over every CPU (by flow: each SYN has its own); without it
	// the whole flood is handled on the sending CPU, which smsfw never
	// runs on while the sender spins.
	if out, err := exec.Command("ip", "netns", "exec", p.Server.Name, "sh", "-c",
		fmt.Sprintf("echo %x > /sys/class/net/%s/queues/rx-0/rps_cpus", 1<<runtime.NumCPU()-1, p.ServerIf)).CombinedOutput(); err != nil {
		b.Fatalf("RPS: %v %s", err, out)
	}
	listen := netip.MustParseAddrPort(a.Addr())
	var nc net.Conn
	if err := p.Client.Do(func() (err error) {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(good, 0)), Timeout: 2 * time.Second}
		nc, err = d.Dial("tcp", netip.AddrPortFrom(p.Server4, listen.Port()).String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := esme.Bind(ctx, nc, esme.Options{SystemID: "acme", Password: "pw"})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	const d = 2 * time.Second
	var failed, warm atomic.Int64 // good messages not answered OK
	submitFor(b, cl, d/2, &warm)
	frames := synFrames(b, p, bad, p.Server4, listen.Port())
	var quietWith, floodWith, floodWithout, quietWithout, sentWith, sentWithout, dropped float64
	flooded := func() (msgs, pkts float64) {
		f := startSYNFlood(b, p, frames)
		// The flood under way before measuring: a fifth of a second's SYNs sent.
		testutil.Eventually(b, 5*time.Second, "the SYN flood under way", func() bool { return f.sent.Load() >= floodRate/5 })
		before := f.sent.Load()
		msgs = submitFor(b, cl, d, &failed)
		pkts = float64(f.sent.Load()-before) / d.Seconds()
		f.stop()
		return msgs, pkts
	}
	for round := range 2 {
		if round > 0 {
			_ = p.Server.Do(func() error { a.Shield.Start(listen); return nil })
			if !a.Shield.Status().Kernel {
				b.Fatalf("not attached again: %v", a.Shield.Status().Err())
			}
		}
		quietWith = max(quietWith, submitFor(b, cl, d, &failed))
		before := drops(a)
		msgs, pkts := flooded()
		floodWith, sentWith = max(floodWith, msgs), max(sentWith, pkts)
		dropped = max(dropped, float64(drops(a)-before)/d.Seconds())
		if err := a.Shield.Close(); err != nil { // detached: the same flood reaches the stack
			b.Fatal(err)
		}
		msgs, pkts = flooded()
		floodWithout, sentWithout = max(floodWithout, msgs), max(sentWithout, pkts)
		quietWithout = max(quietWithout, submitFor(b, cl, d, &failed))
	}
	if sentWith == 0 || dropped == 0 {
		b.Fatalf("the flood did not run: %.0f SYNs/s sent, %.0f/s dropped", sentWith, dropped)
	}
	b.ReportMetric(quietWith, "quiet_with_msg/s")
	b.ReportMetric(floodWith, "flood_with_msg/s")
	b.ReportMetric(floodWithout, "flood_without_msg/s")
	b.ReportMetric(quietWithout, "quiet_without_msg/s")
	b.ReportMetric(floodWith/quietWith, "kept_with")
	b.ReportMetric(floodWithout/quietWithout, "kept_without")
	b.ReportMetric(floodWith/floodWithout, "ratio")
	b.ReportMetric(sentWith, "syn_with_pkt/s")
	b.ReportMetric(sentWithout, "syn_without_pkt/s")
	b.ReportMetric(dropped, "dropped_pkt/s")
	b.ReportMetric(float64(failed.Load()), "good_failed")
}

// drops is the kernel program's dropped packets.
func drops(a *app.App) uint64 {
	var n uint64
	for _, c := range a.Shield.Packets() {
		if c.Action == "drop" {
			n += c.Packets
		}
	}
	return n
}

// submitFor sends submit_sm through cl for d, 10 in flight, and returns
// the messages per second answered OK; it counts the others in failed.
func submitFor(b *testing.B, cl *esme.Client, d time.Duration, failed *atomic.Int64) float64 {
	b.Helper()
	slots := make(chan struct{}, 10)
	var answered atomic.Int64
	raw := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: "GoodBank", DstTON: 1,
		Dst: "4915112345678", ShortMessage: []byte("Your code is 123456")})
	start := time.Now()
	for time.Since(start) < d {
		slots <- struct{}{}
		if _, err := cl.Send(raw, func(r esme.Resp) {
			if r.Err != nil || r.Status != 0 {
				failed.Add(1)
			} else {
				answered.Add(1)
			}
			<-slots
		}); err != nil {
			b.Fatal(err)
		}
	}
	for range cap(slots) { // the last answers
		slots <- struct{}{}
	}
	return float64(answered.Load()) / time.Since(start).Seconds()
}

// synFlood sends SYNs from src to dst:port out of the client side's veth
// (AF_PACKET) until stopped.
type synFlood struct {
	sent atomic.Int64
	quit chan struct{}
	done chan struct{}
}

func (f *synFlood) stop() {
	select {
	case <-f.quit:
	default:
		close(f.quit)
	}
	<-f.done
}

// synFrames builds SYN frames from src to dst:port as the client side's
// veth sends them, each from another source port.
func synFrames(b *testing.B, p *netns.Pair, src, dst netip.Addr, port uint16) [][]byte {
	b.Helper()
	var dstMAC net.HardwareAddr
	if err := p.Server.Do(func() error {
		sIf, err := net.InterfaceByName(p.ServerIf)
		if err == nil {
			dstMAC = sIf.HardwareAddr
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	var frames [][]byte
	if err := p.Client.Do(func() error {
		cIf, err := clientIf(p)
		if err != nil {
			return err
		}
		for i := range 4096 {
			frames = append(frames, synFrame(cIf.HardwareAddr, dstMAC, src, dst, uint16(20000+i), port, uint32(i)*7919))
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return frames
}

// floodRate is the SYNs a second the flood sends.
const floodRate = 100_000

// startSYNFlood sends frames out of the client side's veth (AF_PACKET),
// round and round, floodRate a second, until stopped.
func startSYNFlood(b *testing.B, p *netns.Pair, frames [][]byte) *synFlood {
	b.Helper()
	var fd int
	if err := p.Client.Do(func() error {
		cIf, err := clientIf(p)
		if err != nil {
			return err
		}
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: cIf.Index, Protocol: htons(unix.ETH_P_IP)})
	}); err != nil {
		b.Fatal(err)
	}
	f := &synFlood{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer unix.Close(fd)
		start := time.Now()
		for i := 0; ; {
			select {
			case <-f.quit:
				return
			default:
			}
			// Paced: the same flood whether the program drops it or the
			// stack handles it (the sender's own CPU is then mostly free).
			for due := int(time.Since(start).Seconds() * floodRate); i < due; i++ {
				if _, err := unix.Write(fd, frames[i%len(frames)]); err == nil {
					f.sent.Add(1)
				}
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	return f
}

// clientIf is the client side's veth (the pair's only interface besides lo).
func clientIf(p *netns.Pair) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			return &i, nil
		}
	}
	return nil, fmt.Errorf("no veth in %s", p.Client.Name)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// synFrame is an Ethernet frame with an IPv4 TCP SYN, checksums right.
func synFrame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, sport, dport uint16, seq uint32) []byte {
	f := make([]byte, 14+20+20)
	copy(f[0:], dstMAC)
	copy(f[6:], srcMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	tcp := f[34:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12], tcp[13] = 5<<4, 0x02
	binary.BigEndian.PutUint16(tcp[14:], 64240)
	pseudo := uint32(s4[0])<<8 | uint32(s4[1]) + uint32(s4[2])<<8 | uint32(s4[3]) +
		uint32(d4[0])<<8 | uint32(d4[1]) + uint32(d4[2])<<8 | uint32(d4[3]) + 6 + 20
	binary.BigEndian.PutUint16(tcp[16:], checksum(tcp, pseudo))
	return f
}

// checksum is the Internet checksum of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
