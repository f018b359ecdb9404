package bpf

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// Attach modes (the mode key).
const (
	ModeAuto = "auto" // native XDP, else TCX, else generic XDP
	ModeXDP  = "xdp"  // native XDP, else generic XDP
	ModeTCX  = "tcx"  // tc ingress through TCX links (kernel 6.6+)
)

// Config is the `bpf:` section: the eBPF shield in front of the SMPP
// listener, and the ban list it enforces (in the kernel when it can, at
// accept time always).
type Config struct {
	// Enabled loads the program and attaches it. Without it, bans are
	// still enforced when connections are accepted.
	Enabled bool `yaml:"enabled"`
	// Interfaces to attach to (default: those carrying the SMPP listen
	// address; every interface that is up when it listens on all).
	Interfaces []string `yaml:"interfaces"`
	// Mode: auto (default), xdp or tcx.
	Mode string `yaml:"mode"`
	// SynRate bounds new TCP connections (SYN without ACK) a second from
	// one source (an IPv4 address or an IPv6 /64) to the SMPP ports, with
	// bursts of SynBurst (defaults 20 and 100; SynRate -1: no bound).
	SynRate  int `yaml:"syn_rate"`
	SynBurst int `yaml:"syn_burst"`
	// BanTTL is how long a ban made through the API lasts when the request
	// gives no ttl (default 1h).
	BanTTL time.Duration `yaml:"ban_ttl"`
	// MaxBans bounds the ban list (default 65536).
	MaxBans int `yaml:"max_bans"`
	// Bans are banned from start, without expiry (CIDRs or addresses).
	Bans []string `yaml:"bans"`
}

// Defaults.
const (
	DefaultSynRate  = 20
	DefaultSynBurst = 100
	DefaultBanTTL   = time.Hour
	DefaultMaxBans  = 65536
	maxBanTTL       = 365 * 24 * time.Hour
)

// WithDefaults is a copy with every unset key at its default.
func (c *Config) WithDefaults() *Config {
	d := *c
	if d.Mode == "" {
		d.Mode = ModeAuto
	}
	if d.SynRate == 0 {
		d.SynRate = DefaultSynRate
	}
	if d.SynBurst == 0 {
		d.SynBurst = DefaultSynBurst
	}
	if d.BanTTL == 0 {
		d.BanTTL = DefaultBanTTL
	}
	if d.MaxBans == 0 {
		d.MaxBans = DefaultMaxBans
	}
	return &d
}

// Validate checks the section at at; every problem is returned, each at
// its key's line.
func (c *Config) Validate(at yamlx.At) error {
	probs := at.Problems(" ")
	switch c.Mode {
	case "", ModeAuto, ModeXDP, ModeTCX:
	default:
		probs.Add("mode", "must be auto, xdp or tcx, not %q", c.Mode)
	}
	for i, name := range c.Interfaces {
		if name == "" || len(name) > 15 {
			probs.Add(fmt.Sprintf("interfaces[%d]", i), "%q is not an interface name", name)
		}
	}
	if c.SynRate < -1 || c.SynRate > 1_000_000 {
		probs.Add("syn_rate", "%d outside [1, 1000000] (or -1: no bound)", c.SynRate)
	}
	if c.SynBurst < 0 || c.SynBurst > 1_000_000 {
		probs.Add("syn_burst", "%d outside [1, 1000000]", c.SynBurst)
	}
	if c.BanTTL < 0 || c.BanTTL > maxBanTTL {
		probs.Add("ban_ttl", "%s outside [1s, 8760h]", c.BanTTL)
	}
	if c.MaxBans < 0 || c.MaxBans > 1<<24 {
		probs.Add("max_bans", "%d outside [1, 16777216]", c.MaxBans)
	}
	for i, s := range c.Bans {
		if _, err := ParseSource(s); err != nil {
			probs.Add(fmt.Sprintf("bans[%d]", i), "%v", err)
		}
	}
	if n := len(c.Bans); n > c.WithDefaults().MaxBans {
		probs.Add("bans", "has %d entries, more than max_bans", n)
	}
	return probs.Err()
}

// ParseSource reads a ban's source: a CIDR or an address (a /32 or /128).
// IPv4-mapped IPv6 is read as IPv4; the host bits must be zero; a prefix
// broader than /8 (IPv4) or /16 (IPv6) is refused, so one typo cannot cut
// every peer off.
func ParseSource(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an address", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
	}
	if min := map[bool]int{true: 8, false: 16}[p.Addr().Is4()]; p.Bits() < min {
		return netip.Prefix{}, fmt.Errorf("%q is broader than /%d", s, min)
	}
	return p, nil
}
