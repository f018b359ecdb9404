package admin

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Default connection caps of the admin listener.
const (
	DefaultMaxConnections          = 256
	DefaultMaxConnectionsPerSource = 32
)

// Limits cap the admin server's open connections: in all, and from one
// source (an IPv4 address or an IPv6 /64). Zero takes the default; a
// negative PerSource means no per-source cap.
type Limits struct {
	Max       int
	PerSource int
}

// Listener caps the admin server's open connections: beyond a limit, a new
// connection is closed at once, counted and logged (at most every 10 s),
// so idle keep-alive clients cannot take every file descriptor the SMPP
// side needs, and one source cannot take every slot from the operators'
// browsers and Prometheus (the server's timeouts end idle ones; this
// bounds how many there are meanwhile).
type Listener struct {
	net.Listener
	max, perSource int
	m              *Metrics
	log            *zap.Logger
	refusedLog     sampledLog

	mu     sync.Mutex
	open   int
	source map[netip.Prefix]int
}

// NewListener wraps ln. m and log may be nil.
func NewListener(ln net.Listener, l Limits, m *Metrics, log *zap.Logger) *Listener {
	if l.Max <= 0 {
		l.Max = DefaultMaxConnections
	}
	if l.PerSource == 0 {
		l.PerSource = DefaultMaxConnectionsPerSource
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Listener{Listener: ln, max: l.Max, perSource: l.PerSource, m: m, log: log.Named("admin"),
		source: map[netip.Prefix]int{}}
}

// Accept returns the next connection within the caps.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c.RemoteAddr().String())
		if limit := l.take(src); limit != "" {
			l.m.connsRefused.WithLabelValues(limit).Inc()
			if n, ok := l.refusedLog.tick(10 * time.Second); ok {
				l.log.Warn("admin connection limit reached; closing new connections", zap.String("limit", limit),
					zap.Int("max_connections", l.max), zap.Int("max_connections_per_source", l.perSource),
					zap.Stringer("remote", c.RemoteAddr()), zap.Int64("count", n))
			}
			_ = c.Close()
			continue
		}
		return &countedConn{Conn: c, l: l, src: src}, nil
	}
}

// take counts a connection from src, or names the limit it is over.
func (l *Listener) take(src netip.Prefix) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		return limitTotal
	}
	if src.IsValid() && l.perSource > 0 && l.source[src] >= l.perSource {
		return limitPerSource
	}
	l.open++
	if src.IsValid() {
		l.source[src]++
	}
	return ""
}

func (l *Listener) give(src netip.Prefix) {
	l.mu.Lock()
	l.open--
	if src.IsValid() {
		if l.source[src]--; l.source[src] <= 0 {
			delete(l.source, src)
		}
	}
	l.mu.Unlock()
}

// Open is the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

type countedConn struct {
	net.Conn
	l    *Listener
	src  netip.Prefix
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.give(c.src) })
	return c.Conn.Close()
}

// sourceOf is the address block connection and login limits apply to: an
// IPv4 address or an IPv6 /64 (a host usually owns the whole /64); the
// zero Prefix when remote is not an address.
func sourceOf(remote string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// Timeouts of the admin HTTP server: a slow or idle client holds a
// connection no longer than these. WriteTimeout runs from the end of the
// request's header, so it also bounds how long a handler may take to
// answer (a long poll must finish within it).
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = time.Minute
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 30 * time.Second
)

// NewServer is the admin HTTP server for h (Protect's handler), with the
// timeouts above; log (may be nil) receives the server's own errors.
func NewServer(h http.Handler, log *zap.Logger) *http.Server {
	if log == nil {
		log = zap.NewNop()
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, ErrorLog: zap.NewStdLog(log.Named("admin"))}
}
