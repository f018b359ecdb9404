package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/guard"
	"github.com/smsfw/smsfw/internal/tlsfiles"
	"github.com/smsfw/smsfw/internal/yamlx"
)

// Options wire a Server to its collaborators.
type Options struct {
	Config *Config // nil: pass-through with defaults
	// Upstream is the SMSC address for pass-through mode (the --upstream flag).
	Upstream  string
	Inspector filter.Inspector // nil: allow all
	Logger    *zap.Logger
	Metrics   *Metrics
	// TLSMetrics count certificate reloads (registered once per process:
	// the admin server's certificates share them); nil: unregistered.
	TLSMetrics *tlsfiles.Metrics
	// Events receives the analysts' records the inspector attaches to
	// verdicts, completed with the answers; with it, quarantine verdicts
	// hold messages. nil: events are dropped and quarantine answers like
	// reject.
	Events filter.EventSink
	// MO, when set, routes MO messages beyond SMPP: those matching a
	// route with a durable target are queued before the SMSC is answered.
	MO MORouter
	// LockoutObserver, when set, is told of each bind lockout as it begins
	// (e.g. to ban the source in the kernel).
	LockoutObserver LockoutObserver
	// Bans, when set, close connections from banned sources at accept
	// (counted as refused, limit "banned"): the user-space side of the
	// eBPF shield's ban list.
	Bans SourceBans
	// ExternalTLSWatch: the caller polls TLSChanged and reloads through
	// ReloadTLS (internal/app, so that every reload is audited); the server
	// then does not poll its certificate files itself.
	ExternalTLSWatch bool
}

// SourceBans says whether a source is banned.
type SourceBans interface {
	Banned(netip.Addr) bool
}

// Server is the inline proxy: a listener for peers and the upstream legs.
type Server struct {
	cfg      *Config
	upstream string
	extTLS   bool             // Options.ExternalTLSWatch
	upTLS    *tlsfiles.Config // pass-through: TLS toward the SMSC
	insp     filter.Inspector
	obs      filter.AcceptObserver // nil unless the inspector wants accepted ids
	sink     filter.EventSink
	mo       MORouter         // nil: MO go to SMPP receivers only
	moLog    guard.SampledLog // "MO not queued" logs
	holding  atomic.Int64     // quarantined and routed MO messages waiting for the store before their answer
	released releasedIDs      // SMSC ids of released messages -> the ids their peers know
	park     receiptPark      // receipts that came before their held parts' answers
	link     ClusterLink      // nil: a single node (clusterids.go)
	remote   remotePark       // receipts waiting for other nodes' mappings
	log      *zap.Logger
	m        *Metrics
	srvTLS   *tls.Config
	auth     *authenticator
	bans     SourceBans
	tlsm     *tlsfiles.Metrics
	certMu   sync.Mutex               // certs and upCerts: a reload adds upstreams
	certs    []*tlsfiles.CertReloader // listener and upstream TLS files, reloaded on change
	upCerts  map[*tlsfiles.Config]*tlsfiles.CertReloader
	reconfMu sync.Mutex // one Reconfigure at a time
	authNow  AuthConfig // the auth settings in force (under reconfMu)

	mu       sync.Mutex
	ln       net.Listener
	sessions map[*downstream]struct{}
	byPeer   map[string][]*downstream // bound sessions by peer key
	live     map[string]*livePeer     // config mode: the configured peers by name (Reconfigure changes it)
	bySysID  map[string]*livePeer     // the same by system_id

	draining   atomic.Bool
	closed     chan struct{}
	wg         sync.WaitGroup
	ids        *msgIDs
	conns      atomic.Int64     // open peer connections, bound or not
	perSource  sourceConns      // open connections per source
	refusedLog guard.SampledLog // "connection limit" logs
	bannedLog  guard.SampledLog // "banned source" logs
	rr         atomic.Uint32

	asm        *assembler
	owedN      atomic.Int64    // long-message parts answered by smsfw, not yet relayed
	receipts   delayedReceipts // receipts of dropped messages waiting for their delay
	panicSites sync.Map        // panic sites in inspection already logged with their stack
	verdicts   verdictLog      // verdict lines, sampled per rule
	rates      peerRates       // snapshots of the peers' counts for GET /api/v1/peers

	probeMu   sync.Mutex
	probeAt   time.Time
	probeOK   bool
	probeDial func() error
}

// New builds a Server. Config mode pools start binding upstream at Serve.
func New(o Options) (*Server, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = &Config{}
	}
	cfg = cfg.WithDefaults()
	s := &Server{
		cfg: cfg, upstream: o.Upstream, extTLS: o.ExternalTLSWatch, insp: o.Inspector, log: o.Logger, m: o.Metrics, sink: o.Events, mo: o.MO, bans: o.Bans,
		sessions: map[*downstream]struct{}{}, byPeer: map[string][]*downstream{},
		live: map[string]*livePeer{}, bySysID: map[string]*livePeer{}, closed: make(chan struct{}),
		ids: newMsgIDs(cfg.MessageIDFormat, cfg.ReceiptIDFormat),
	}
	if s.insp == nil {
		s.insp = filter.AllowAll{}
	}
	s.obs, _ = s.insp.(filter.AcceptObserver)
	s.asm = newAssembler(s)
	s.receipts.s = s
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.m == nil {
		s.m = NewMetrics(nil)
	}
	if s.tlsm = o.TLSMetrics; s.tlsm == nil {
		s.tlsm = tlsfiles.NewMetrics(nil)
	}
	s.m.connsOpen = func() float64 { return float64(s.conns.Load()) }
	s.m.heldSegs = s.asm.heldSegments
	s.auth, s.authNow = newAuthenticator(cfg.Auth, o.LockoutObserver, s.m, s.log), cfg.Auth
	if err := s.loadCerts(); err != nil {
		return nil, err
	}
	if cfg.PassThrough() {
		if len(cfg.Upstreams) == 1 {
			for _, u := range cfg.Upstreams {
				if s.upstream == "" {
					s.upstream = u.Address
				}
				s.upTLS = u.TLS
			}
		}
		if s.upstream == "" {
			return nil, fmt.Errorf("%w: pass-through mode needs an upstream address (--upstream HOST:PORT)", yamlx.ErrConfig)
		}
		if err := CheckHostPort(s.upstream); err != nil {
			return nil, fmt.Errorf("%w: upstream: %v", yamlx.ErrConfig, err)
		}
	} else {
		for _, u := range cfg.Upstreams {
			if u.Address == "" {
				u.Address = s.upstream
			}
			if u.Address == "" {
				return nil, fmt.Errorf("%w: upstream without address", yamlx.ErrConfig)
			}
			if err := CheckHostPort(u.Address); err != nil {
				return nil, fmt.Errorf("%w: upstream: %v", yamlx.ErrConfig, err)
			}
		}
		for _, p := range cfg.Peers {
			s.addPeer(p, newPool(s, p, p.Upstream, cfg.Upstreams[p.Upstream]))
		}
	}
	return s, nil
}

// Serve accepts peers on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	if s.srvTLS != nil {
		ln = tls.NewListener(ln, s.srvTLS)
	}
	s.mu.Lock()
	s.ln = ln
	for _, p := range s.allPools() {
		p.start()
	}
	if s.asm.timeout > 0 {
		go s.asm.run()
	}
	if len(s.certs) > 0 && s.cfg.TLSReloadInterval > 0 && !s.extTLS {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.watchCerts() }()
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.sampleRates() }()
	s.mu.Unlock()
	s.log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Bool("pass_through", s.cfg.PassThrough()),
		zap.String("upstream", s.upstream))
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed", zap.Error(err), zap.Duration("retry_in", delay))
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if s.draining.Load() {
			_ = nc.Close()
			continue
		}
		if s.bans != nil && s.bans.Banned(remoteAddr(nc)) {
			s.refuseConn(nc, refusedBanned)
			continue
		}
		if n := s.conns.Add(1); s.cfg.MaxConnections > 0 && n > int64(s.cfg.MaxConnections) {
			s.conns.Add(-1)
			s.refuseConn(nc, refusedTotal)
			continue
		}
		src, ok := s.perSource.take(nc.RemoteAddr(), s.cfg.MaxConnectionsPerSource)
		if !ok {
			s.conns.Add(-1)
			s.refuseConn(nc, refusedPerSource)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.conns.Add(-1)
			defer s.perSource.give(src)
			s.serveDownstream(nc)
		}()
	}
}

// remoteAddr is nc's peer address (invalid when it is not TCP).
func remoteAddr(nc net.Conn) netip.Addr {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// refuseConn closes a connection over a limit or from a banned source:
// counted, logged at most once a second (a flood must not flood the log).
func (s *Server) refuseConn(nc net.Conn, reason string) {
	s.m.connsRefused.WithLabelValues(reason).Inc()
	if reason == refusedBanned {
		if n, ok := s.bannedLog.Tick(time.Second); ok {
			s.log.Info("connection from a banned source closed", zap.Int64("count", n), zap.Stringer("remote", nc.RemoteAddr()))
		}
		_ = nc.Close()
		return
	}
	if n, ok := s.refusedLog.Tick(time.Second); ok {
		s.log.Warn("connection limit reached; closing new connections", zap.String("limit", reason), zap.Int64("count", n),
			zap.Int("max_connections", s.cfg.MaxConnections), zap.Int("max_connections_per_source", s.cfg.MaxConnectionsPerSource),
			zap.Stringer("remote", nc.RemoteAddr()))
	}
	_ = nc.Close()
}

// sourceConns counts open connections per source (IPv4 address, IPv6 /64).
type sourceConns struct {
	mu sync.Mutex
	n  map[netip.Prefix]int
}

// take counts a connection from addr unless the source has max open
// (max <= 0: no cap); the key is for give.
func (c *sourceConns) take(addr net.Addr, max int) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}, true
	}
	k := guard.Source(ap.Addr())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[netip.Prefix]int{}
	}
	if max > 0 && c.n[k] >= max {
		return netip.Prefix{}, false
	}
	c.n[k]++
	return k, true
}

func (c *sourceConns) give(k netip.Prefix) {
	if !k.IsValid() {
		return
	}
	c.mu.Lock()
	if c.n[k]--; c.n[k] <= 0 {
		delete(c.n, k)
	}
	c.mu.Unlock()
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// OpenConnections is the number of peer connections open, bound or not.
func (s *Server) OpenConnections() int64 { return s.conns.Load() }

// Ready reports whether smsfw can relay: in config mode every peer pool has
// a bound upstream session; in pass-through mode the SMSC accepts TCP.
func (s *Server) Ready() (bool, string) {
	if s.draining.Load() {
		return false, "shutting down"
	}
	if s.cfg.PassThrough() {
		s.probeMu.Lock()
		defer s.probeMu.Unlock()
		if time.Since(s.probeAt) > 2*time.Second {
			dial := s.probeDial
			if dial == nil {
				dial = func() error {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					c, err := s.dialUpstream(ctx, s.upstream, s.upTLS) // with TLS: the handshake too
					if err == nil {
						_ = c.Close()
					}
					return err
				}
			}
			s.probeOK = dial() == nil
			s.probeAt = time.Now()
		}
		if !s.probeOK {
			return false, "upstream " + s.upstream + " unreachable"
		}
		return true, "pass-through; upstream reachable"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, lp := range s.live {
		if len(lp.pool.Load().boundLegs()) == 0 {
			return false, "no upstream session bound for peer " + name
		}
	}
	return true, "all peer pools bound"
}

// newMessageID returns an id for a message smsfw answers itself.
func (s *Server) newMessageID() string { return s.ids.next() }

// register adds a bound session, unless its peer already has maxSessions
// (0: no limit); check and add are one step, so concurrent binds cannot
// both take the last slot.
func (s *Server) register(d *downstream, maxSessions int) bool {
	s.mu.Lock()
	if d.lp != nil && (s.live[d.key] != d.lp || !d.lp.cfg.Load().allows(d.remote)) {
		// A reload removed the peer (or the source) while it was binding.
		s.mu.Unlock()
		return false
	}
	if maxSessions > 0 && len(s.byPeer[d.key]) >= maxSessions {
		s.mu.Unlock()
		return false
	}
	s.byPeer[d.key] = append(s.byPeer[d.key], d)
	s.mu.Unlock()
	s.m.sessions.WithLabelValues(legDownstream).Inc()
	return true
}

func (s *Server) unregister(d *downstream) {
	s.mu.Lock()
	list := s.byPeer[d.key]
	for i, x := range list {
		if x == d {
			list = append(list[:i:i], list[i+1:]...)
			s.m.sessions.WithLabelValues(legDownstream).Dec()
			break
		}
	}
	if len(list) == 0 {
		delete(s.byPeer, d.key)
	} else {
		s.byPeer[d.key] = list
	}
	s.mu.Unlock()
}

// receiverFor picks a bound session of peer key that can receive
// deliver_sm, preferring prefer.
func (s *Server) receiverFor(key string, prefer *downstream) *downstream {
	if prefer != nil && prefer.canReceive() && !prefer.isDone() && !prefer.ending.Load() {
		return prefer
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.byPeer[key]
	n := len(list)
	if n == 0 {
		return nil
	}
	start := int(s.rr.Add(1))
	for i := 0; i < n; i++ {
		d := list[(start+i)%n]
		if d.canReceive() && !d.isDone() && !d.ending.Load() {
			return d
		}
	}
	return nil
}

// Shutdown stops accepting, lets in-flight requests finish (bounded by ctx
// and drain_timeout), unbinds both legs and closes.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.draining.CompareAndSwap(false, true) {
		return nil
	}
	s.log.Info("draining")
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
	}
	s.mu.Unlock()
	s.asm.expire(1 << 62) // held segments are decided now and drain like the rest
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.inflight() > 0 {
		select {
		case <-ctx.Done():
			s.log.Warn("drain timed out", zap.Int("inflight", s.inflight()))
			goto unbind
		case <-tick.C:
		}
	}
unbind:
	close(s.closed)
	s.mu.Lock()
	serving := s.ln != nil
	s.mu.Unlock()
	if serving {
		s.asm.close() // held segments are decided now, not dropped
	}
	// Upstream legs first: requests still in flight (the drain timed out)
	// are answered 0x08 while the peers' connections are still open; then
	// the peers are unbound.
	var wg sync.WaitGroup
	s.mu.Lock()
	for _, p := range s.allPools() {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	for _, list := range s.byPeer { // bound sessions: their leg was set before they registered
		for _, d := range list {
			if d.leg != nil {
				wg.Add(1)
				go func() { defer wg.Done(); d.leg.unbind() }()
			}
		}
	}
	s.mu.Unlock()
	wg.Wait()
	s.mu.Lock()
	for d := range s.sessions {
		wg.Add(1)
		go func() { defer wg.Done(); d.unbindAndClose("shutdown") }()
	}
	s.mu.Unlock()
	wg.Wait()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return errors.New("proxy: sessions did not end in time")
	}
	s.log.Info("stopped")
	return nil
}

// Close stops at once: in-flight requests are answered with a temporary error.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}

// inflight counts relayed requests awaiting an answer on either leg.
func (s *Server) inflight() int {
	return int(s.m.inflightUp.Load() + s.m.inflightDn.Load() + s.holding.Load() + s.owedN.Load())
}

// dialUpstream connects to addr, with TLS when t is set.
func (s *Server) dialUpstream(ctx context.Context, addr string, t *tlsfiles.Config) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if t == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	s.certMu.Lock()
	r := s.upCerts[t]
	s.certMu.Unlock()
	tc := r.ClientConfig(addr)
	td := tls.Dialer{NetDialer: &d, Config: tc}
	return td.DialContext(ctx, "tcp", addr)
}
