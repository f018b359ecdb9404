//go:build linux

package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Attach modes as they happened (Attachment.Mode).
const (
	attachedXDPNative  = "xdp"
	attachedXDPGeneric = "xdpgeneric"
	attachedTCX        = "tcx"
)

// kernel is the loaded program, its maps and its links.
type kernel struct {
	objs  shieldObjects
	links []link.Link
	att   []Attachment
}

// loadKernel loads the program, writes its settings and ports, and
// attaches it to every interface (all or none).
func loadKernel(cfg *Config, ports []uint16, ifaces []string) (_ *kernel, err error) {
	// Kernels before 5.11 charge maps against RLIMIT_MEMLOCK; newer ones
	// use the memory cgroup and this is a no-op.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("removing the memlock limit: %w", err)
	}
	k, err := loadObjects(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			k.close()
		}
	}()
	if err := k.setPorts(ports); err != nil {
		return nil, err
	}
	for _, name := range ifaces {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", name, err)
		}
		l, mode, err := k.attach(ifc.Index, cfg.Mode)
		if err != nil {
			return nil, fmt.Errorf("attaching to %s (mode %s): %w", name, cfg.Mode, err)
		}
		k.links = append(k.links, l)
		k.att = append(k.att, Attachment{Interface: name, Mode: mode})
	}
	return k, nil
}

// loadObjects loads the program and its maps, sized and set from cfg,
// without attaching them.
func loadObjects(cfg *Config) (*kernel, error) {
	spec, err := loadShield()
	if err != nil {
		return nil, err
	}
	spec.Maps[shieldMapBans].MaxEntries = uint32(cfg.MaxBans)
	spec.Maps[shieldMapBanDrops].MaxEntries = uint32(cfg.MaxBans)
	k := &kernel{}
	if err := spec.LoadAndAssign(&k.objs, nil); err != nil {
		return nil, fmt.Errorf("loading the program: %w", err)
	}
	var st shieldSettings
	if cfg.SynRate > 0 {
		st.SynIntervalNs = uint64(time.Second) / uint64(cfg.SynRate)
		st.SynBurstNs = uint64(max(cfg.SynBurst, 1)) * st.SynIntervalNs
	}
	if err := k.objs.Config.Put(uint32(0), st); err != nil {
		k.close()
		return nil, fmt.Errorf("writing the settings: %w", err)
	}
	return k, nil
}

func (k *kernel) setPorts(ports []uint16) error {
	for _, p := range ports {
		var be [2]byte
		binary.BigEndian.PutUint16(be[:], p)
		if err := k.objs.Ports.Put(binary.NativeEndian.Uint16(be[:]), uint8(1)); err != nil {
			return fmt.Errorf("writing port %d: %w", p, err)
		}
	}
	return nil
}

// attach links the program to one interface in mode: auto tries native
// XDP, then TCX, then generic XDP; xdp native then generic; tcx only TCX.
func (k *kernel) attach(ifindex int, mode string) (link.Link, string, error) {
	xdp := func(flags link.XDPAttachFlags) (link.Link, error) {
		return link.AttachXDP(link.XDPOptions{Program: k.objs.XdpShield, Interface: ifindex, Flags: flags})
	}
	tcx := func() (link.Link, error) {
		return link.AttachTCX(link.TCXOptions{Program: k.objs.TcxShield, Interface: ifindex, Attach: ebpf.AttachTCXIngress})
	}
	type try struct {
		name string
		f    func() (link.Link, error)
	}
	native := try{attachedXDPNative, func() (link.Link, error) { return xdp(link.XDPDriverMode) }}
	generic := try{attachedXDPGeneric, func() (link.Link, error) { return xdp(link.XDPGenericMode) }}
	tc := try{attachedTCX, tcx}
	tries := map[string][]try{ModeAuto: {native, tc, generic}, ModeXDP: {native, generic}, ModeTCX: {tc}}[mode]
	var errs []error
	for _, t := range tries {
		l, err := t.f()
		if err == nil {
			return l, t.name, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
	}
	return nil, "", errors.Join(errs...)
}

// banKey is p as the trie's key: IPv4 as v4-mapped IPv6.
func banKey(p netip.Prefix) shieldBanKey {
	k := shieldBanKey{Prefixlen: uint32(p.Bits()), Addr: p.Addr().As16()}
	if p.Addr().Is4() {
		k.Prefixlen += 96
	}
	return k
}

// bootNanos is CLOCK_BOOTTIME, the program's clock (bpf_ktime_get_boot_ns).
func bootNanos() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// put adds or replaces the ban on b.Source (a replaced ban keeps its drop
// count; a new one starts without: ban_drops has no entry for it).
func (k *kernel) put(b Ban, now time.Time, replace bool) error {
	key := banKey(b.Source)
	v := shieldBan{Key: key}
	if !b.Expires.IsZero() {
		v.ExpiresNs = bootNanos() + uint64(max(b.Expires.Sub(now), 1))
	}
	if !replace {
		if err := ignoreMissing(k.objs.BanDrops.Delete(key)); err != nil {
			return err
		}
	}
	return k.objs.Bans.Put(key, v)
}

// drops are the packets each ban dropped, summed over the CPUs.
func (k *kernel) drops() map[netip.Prefix]uint64 {
	out := map[netip.Prefix]uint64{}
	var key shieldBanKey
	var perCPU []uint64
	it := k.objs.BanDrops.Iterate()
	for it.Next(&key, &perCPU) {
		a, bits := netip.AddrFrom16(key.Addr), int(key.Prefixlen)
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		var n uint64
		for _, c := range perCPU {
			n += c
		}
		out[netip.PrefixFrom(a, bits)] = n
	}
	return out
}

// del removes the ban on p and its drop count.
func (k *kernel) del(p netip.Prefix) error {
	key := banKey(p)
	return errors.Join(ignoreMissing(k.objs.Bans.Delete(key)), ignoreMissing(k.objs.BanDrops.Delete(key)))
}

func ignoreMissing(err error) error {
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return err
}

// packets are the stats map's counts summed over the CPUs, by reason.
func (k *kernel) packets() ([]uint64, error) {
	out := make([]uint64, shieldReasonREASONS)
	var perCPU []uint64
	for r := range out {
		if err := k.objs.Stats.Lookup(uint32(r), &perCPU); err != nil {
			return nil, err
		}
		for _, n := range perCPU {
			out[r] += n
		}
	}
	return out, nil
}

func (k *kernel) attachments() []Attachment { return k.att }

// close detaches the program from every interface and frees the maps.
func (k *kernel) close() error {
	var errs []error
	for _, l := range k.links {
		errs = append(errs, l.Close())
	}
	k.links = nil
	errs = append(errs, k.objs.Close())
	return errors.Join(errs...)
}
