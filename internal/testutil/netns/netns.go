//go:build linux

// Package netns gives tests two network namespaces of their own joined by
// a veth pair, so a program can be attached to an interface and traffic
// sent through it without touching the host's interfaces. It needs root
// (or CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2's ip; without them the
// test is skipped with the command's own error.
package netns

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/smsfw/smsfw/internal/testutil"
)

// NS is a named network namespace (/run/netns/NAME).
type NS struct{ Name string }

// Do runs f on an OS thread inside the namespace: sockets f creates (and
// interfaces it looks up or attaches to) are the namespace's. Goroutines f
// starts run outside it. The thread is discarded afterwards.
func (n NS) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/run/netns/"+n.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Pair is a client and a server namespace joined by a veth pair.
type Pair struct {
	Client, Server NS
	// ServerIf is the server side's veth, carrying Server4 and Server6.
	ServerIf         string
	Server4, Server6 netip.Addr
	// Client4 and Client6 are each two addresses of the client side.
	Client4, Client6 [2]netip.Addr
}

// New creates the pair (198.18.0.0/24 and 2001:db8:5::/64, on no host
// interface) and removes it when the test ends.
func New(t testing.TB) *Pair {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	p := &Pair{Client: NS{"smsfw-c-" + id}, Server: NS{"smsfw-s-" + id}, ServerIf: "vs" + id,
		Server4: netip.MustParseAddr("198.18.0.2"), Server6: netip.MustParseAddr("2001:db8:5::2"),
		Client4: [2]netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.3")},
		Client6: [2]netip.Addr{netip.MustParseAddr("2001:db8:5::1"), netip.MustParseAddr("2001:db8:5::3")}}
	clientIf := "vc" + id
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip("no iproute2: %v", err)
	}
	if err := ip("netns", "add", p.Client.Name); err != nil {
		skip("cannot create a network namespace: %v", err)
	}
	t.Cleanup(func() { _ = ip("netns", "del", p.Client.Name) })
	must := func(args ...string) {
		t.Helper()
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	must("netns", "add", p.Server.Name)
	t.Cleanup(func() { _ = ip("netns", "del", p.Server.Name) })
	must("link", "add", clientIf, "netns", p.Client.Name, "type", "veth", "peer", "name", p.ServerIf, "netns", p.Server.Name)
	for _, a := range p.Client4 {
		must("-n", p.Client.Name, "addr", "add", a.String()+"/24", "dev", clientIf)
	}
	for _, a := range p.Client6 {
		must("-n", p.Client.Name, "addr", "add", a.String()+"/64", "dev", clientIf, "nodad")
	}
	must("-n", p.Server.Name, "addr", "add", p.Server4.String()+"/24", "dev", p.ServerIf)
	must("-n", p.Server.Name, "addr", "add", p.Server6.String()+"/64", "dev", p.ServerIf, "nodad")
	for _, side := range []struct{ ns, ifc string }{{p.Client.Name, clientIf}, {p.Server.Name, p.ServerIf}} {
		must("-n", side.ns, "link", "set", side.ifc, "up")
		must("-n", side.ns, "link", "set", "lo", "up")
	}
	p.waitReady(t)
	return p
}

// waitReady waits until every client address reaches the server: IPv6
// drops the first packets for a moment after the link comes up.
func (p *Pair) waitReady(t testing.TB) {
	t.Helper()
	port := Serve(t, p.Server, "[::]:0").Port()
	testutil.Eventually(t, 10*time.Second, "the veth pair carries IPv4 and IPv6", func() bool {
		for _, from := range append(p.Client4[:], p.Client6[:]...) {
			to := p.Server4
			if from.Is6() {
				to = p.Server6
			}
			if p.Client.Do(func() error { return Dial(from, netip.AddrPortFrom(to, port), 200*time.Millisecond) }) != nil {
				return false
			}
		}
		return true
	})
}

// Serve listens on addr inside ns, accepting and closing every connection,
// until the test ends; it returns the address it listens on.
func Serve(t testing.TB, ns NS, addr string) netip.AddrPort {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// Dial connects from the address local to remote and closes (run it
// inside a namespace with Do).
func Dial(local netip.Addr, remote netip.AddrPort, timeout time.Duration) error {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0)), Timeout: timeout}
	c, err := d.Dial("tcp", remote.String())
	if err == nil {
		_ = c.Close()
	}
	return err
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Attached reports what is attached to the interface ifname of ns in the
// kernel: the XDP program's mode ("" when none; from the kernel through
// iproute2) and how many TCX ingress programs there are.
func (n NS) Attached(ifname string) (xdp string, tcx int, err error) {
	out, err := exec.Command("ip", "-n", n.Name, "-d", "-j", "link", "show", "dev", ifname).Output()
	if err != nil {
		return "", 0, fmt.Errorf("ip link show %s: %w", ifname, err)
	}
	var links []struct {
		IfIndex int `json:"ifindex"`
		XDP     *struct {
			Mode int `json:"mode"`
		} `json:"xdp"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return "", 0, fmt.Errorf("ip link show %s: %v: %s", ifname, err, out)
	}
	if x := links[0].XDP; x != nil {
		// XDP_ATTACHED_*: 1 native (driver), 2 generic (skb), 3 offloaded, 4 several.
		xdp = map[int]string{1: "xdp", 2: "xdpgeneric", 3: "xdpoffload", 4: "xdpmulti"}[x.Mode]
	}
	err = n.Do(func() error {
		res, err := link.QueryPrograms(link.QueryOptions{Target: links[0].IfIndex, Attach: ebpf.AttachTCXIngress})
		if err != nil {
			return err
		}
		tcx = len(res.Programs)
		return nil
	})
	return xdp, tcx, err
}
