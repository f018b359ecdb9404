package bpf

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/proxy"
)

// Options wire a Shield.
type Options struct {
	Config     *Config // nil: disabled, no bans
	Logger     *zap.Logger
	Registerer prometheus.Registerer // nil: unregistered
	// SweepInterval is how often expired bans leave the lists (default 10s;
	// the kernel and the accept-time check ignore them as soon as they end).
	SweepInterval time.Duration
	now           func() time.Time
	load          func(cfg *Config, ports []uint16, ifaces []string) (*kernel, error)
}

// Attachment is the program on one interface.
type Attachment struct {
	Interface string `json:"interface"`
	Mode      string `json:"mode"` // xdp (native), xdpgeneric or tcx
}

// Status says where bans are enforced.
type Status struct {
	// Kernel: the program is attached (to Attachments); otherwise bans are
	// enforced at accept time only, and Reason says why.
	Kernel      bool         `json:"kernel"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	err         error        // why the program is not attached
}

// Err is why the program is not attached (the kernel's error, when it
// refused), nil when it is.
func (st Status) Err() error { return st.err }

// Shield is the ban list and, where the kernel allows it, the eBPF program
// enforcing it with the SYN rate in front of the SMPP listener. Without
// the program the same bans are enforced when connections are accepted
// (Banned, the proxy's SourceBans). It is the proxy's LockoutObserver: a
// locked-out source is banned for the lockout's duration.
type Shield struct {
	cfg   *Config
	log   *zap.Logger
	m     *Metrics
	now   func() time.Time
	load  func(cfg *Config, ports []uint16, ifaces []string) (*kernel, error)
	sweep time.Duration
	bans  *banList
	share sharing

	mu     sync.Mutex // writes to the lists; k
	k      *kernel
	status Status
	stop   context.CancelFunc
	done   chan struct{}
}

// New builds the shield with the configured bans; nothing is loaded
// before Start.
func New(o Options) (*Shield, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = &Config{}
	}
	cfg = cfg.WithDefaults()
	s := &Shield{cfg: cfg, log: o.Logger, now: o.now, load: o.load, sweep: o.SweepInterval,
		bans: newBanList(cfg.MaxBans), status: Status{Reason: "bpf.enabled is false"}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("bpf")
	if s.now == nil {
		s.now = time.Now
	}
	if s.load == nil {
		s.load = loadKernel
	}
	if s.sweep <= 0 {
		s.sweep = 10 * time.Second
	}
	now := s.now()
	for _, src := range cfg.Bans {
		p, err := ParseSource(src)
		if err != nil {
			return nil, err
		}
		if _, _, err := s.bans.put(Ban{Source: p, Reason: "configured", Origin: OriginConfig, Created: now}, false); err != nil {
			return nil, err
		}
	}
	s.m = newMetrics(o.Registerer, s)
	return s, nil
}

// Start loads and attaches the program when enabled, protecting the ports
// of addrs (the SMPP listener's) on the configured interfaces (default:
// those carrying addrs). When the kernel or the privileges refuse, it logs
// one warning and bans are enforced at accept time only; it never fails.
// Expired bans are swept until Close.
func (s *Shield) Start(addrs ...netip.AddrPort) {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stop, s.done = cancel, make(chan struct{})
	if s.cfg.Enabled {
		s.startKernel(addrs)
	}
	s.mu.Unlock()
	go s.sweeper(ctx)
}

func (s *Shield) startKernel(addrs []netip.AddrPort) {
	var ports []uint16
	for _, a := range addrs {
		ports = append(ports, a.Port())
	}
	ifaces := s.cfg.Interfaces
	if len(ifaces) == 0 {
		ifaces = interfacesOf(addrs)
	}
	k, err := s.load(s.cfg, ports, ifaces)
	if err == nil && len(ifaces) == 0 {
		err = errors.New("no interface carries the listen address")
	}
	if err == nil {
		now := s.now()
		for _, b := range s.bans.list() {
			if err = k.put(b, now, false); err != nil {
				break
			}
		}
		if err != nil {
			_ = k.close()
		}
	}
	if err != nil {
		s.status = Status{Reason: err.Error(), err: err}
		s.log.Warn("eBPF shield not loaded: banned sources are refused when their connections are accepted, "+
			"without kernel drops or the SYN rate (needs Linux 6.6+ for TCX, root or CAP_BPF+CAP_NET_ADMIN+CAP_PERFMON)",
			zap.Error(err), zap.Strings("interfaces", ifaces), zap.String("mode", s.cfg.Mode))
		return
	}
	s.k = k
	s.status = Status{Kernel: true, Attachments: k.attachments()}
	s.log.Info("eBPF shield attached", zap.Any("attachments", s.status.Attachments), zap.Uint16s("ports", ports),
		zap.Int("syn_rate", s.cfg.SynRate), zap.Int("syn_burst", s.cfg.SynBurst), zap.Int("bans", s.bans.len()))
}

// interfacesOf names the interfaces carrying addrs' addresses (every
// interface that is up for an unspecified address).
func interfacesOf(addrs []netip.AddrPort) []string {
	ifcs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []string
	for _, ifc := range ifcs {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		ias, _ := ifc.Addrs()
	match:
		for _, a := range addrs {
			if a.Addr().IsUnspecified() {
				out = append(out, ifc.Name)
				break
			}
			for _, ia := range ias {
				if n, ok := ia.(*net.IPNet); ok && n.IP.Equal(net.IP(a.Addr().Unmap().AsSlice())) {
					out = append(out, ifc.Name)
					break match
				}
			}
		}
	}
	return out
}

// Status says where bans are enforced now.
func (s *Shield) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Close stops the sweeper and detaches the program. Bans stay enforced at
// accept time.
func (s *Shield) Close() error {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k == nil {
		return nil
	}
	err := s.k.close()
	s.k = nil
	s.status = Status{Reason: "closed"}
	s.log.Info("eBPF shield detached")
	return err
}

func (s *Shield) sweeper(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep removes expired bans from the lists (they stopped counting when
// they expired).
func (s *Shield) Sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bans.sweep(s.now()) {
		s.kernelDo("delete", b.Source, func(k *kernel) error { return k.del(b.Source) })
	}
}

// kernelDo applies one change to the kernel's list; a failure leaves the
// ban to the accept-time check and is logged and counted.
func (s *Shield) kernelDo(op string, p netip.Prefix, f func(*kernel) error) {
	if s.k == nil {
		return
	}
	if err := f(s.k); err != nil {
		s.m.mapErrors.Inc()
		s.log.Error("eBPF ban list not updated; the ban is enforced at accept time", zap.String("op", op),
			zap.Stringer("source", p), zap.Error(err))
	}
}

// Ban bans src for ttl (0: the configured ban_ttl; negative: no expiry).
// A ban on the same source is replaced, except that a lockout never
// shortens one.
func (s *Shield) Ban(src netip.Prefix, ttl time.Duration, reason, origin, actor string) (Ban, error) {
	now := s.now()
	b := Ban{Source: src, Reason: reason, Origin: origin, Actor: actor, Created: now}
	if ttl == 0 {
		ttl = s.cfg.BanTTL
	}
	if ttl > 0 {
		b.Expires = now.Add(ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, replace := s.bans.get(src)
	b, changed, err := s.bans.put(b, origin == OriginLockout)
	if err != nil {
		s.m.full.Inc()
		return b, err
	}
	if changed {
		s.kernelDo("put", src, func(k *kernel) error { return k.put(b, now, replace) })
	}
	return b, nil
}

// Unban lifts the ban on exactly src; false when there was none.
func (s *Shield) Unban(src netip.Prefix) (Ban, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bans.remove(src)
	if ok {
		s.kernelDo("delete", src, func(k *kernel) error { return k.del(src) })
	}
	return b, ok
}

// Bans lists the bans in force (expired ones until the next sweep are left out).
func (s *Shield) Bans() []Ban {
	now := s.now()
	all := s.bans.list()
	out := all[:0]
	for _, b := range all {
		if !b.expired(now) {
			out = append(out, b)
		}
	}
	return out
}

// Banned reports whether addr is banned now: the proxy closes such a
// connection at accept (its SourceBans), so a yes is counted as a refusal
// of the ban that matched (BanList).
func (s *Shield) Banned(addr netip.Addr) bool {
	b, ok := s.bans.match(addr, s.now())
	if ok {
		s.bans.refuse(b.Source)
	}
	return ok
}

// BanStatus is a ban in force with what it stopped.
type BanStatus struct {
	Ban
	// Drops: packets the kernel program dropped for this ban (0 when it is
	// not attached); Refused: connections refused at accept.
	Drops   uint64 `json:"drops"`
	Refused uint64 `json:"refused"`
}

// BanList lists the bans in force (as Bans) with their drops and
// refusals, for the ban API and the console.
func (s *Shield) BanList() []BanStatus {
	bans := s.Bans()
	s.mu.Lock()
	var drops map[netip.Prefix]uint64
	if s.k != nil {
		drops = s.k.drops()
	}
	s.mu.Unlock()
	out := make([]BanStatus, len(bans))
	for i, b := range bans {
		out[i] = BanStatus{Ban: b, Drops: drops[b.Source], Refused: s.bans.refusals(b.Source)}
	}
	return out
}

// LockedOut bans the source of a bind lockout for its duration (the
// proxy's LockoutObserver; a system_id lockout has no source to ban).
func (s *Shield) LockedOut(l proxy.Lockout) {
	if !l.Source.IsValid() {
		return
	}
	ttl := l.Until.Sub(s.now())
	if ttl <= 0 {
		return
	}
	b, err := s.Ban(l.Source, ttl, "SMPP bind lockout", OriginLockout, "")
	if err != nil {
		s.log.Warn("lockout not banned", zap.Stringer("source", l.Source), zap.Error(err))
		return
	}
	s.log.Info("source banned for its bind lockout", zap.Stringer("source", b.Source), zap.Time("until", b.Expires))
}

var (
	_ proxy.LockoutObserver = (*Shield)(nil)
	_ proxy.SourceBans      = (*Shield)(nil)
)
