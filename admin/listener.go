package admin

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxConnections bounds the admin server's open connections.
const DefaultMaxConnections = 256

// Listener caps the admin server's open connections: beyond max, a new
// connection is closed at once and counted, so idle keep-alive clients
// cannot take every file descriptor the SMPP side needs (the server's
// timeouts end idle ones; this bounds how many there are meanwhile).
type Listener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused prometheus.Counter
}

// NewListener wraps ln; max <= 0 takes DefaultMaxConnections. refused may
// be nil.
func NewListener(ln net.Listener, max int, refused prometheus.Counter) *Listener {
	if max <= 0 {
		max = DefaultMaxConnections
	}
	return &Listener{Listener: ln, max: int64(max), refused: refused}
}

// Accept returns the next connection within the cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			if l.refused != nil {
				l.refused.Inc()
			}
			_ = c.Close()
			continue
		}
		return &countedConn{Conn: c, l: l}, nil
	}
}

// Open is the number of connections open now.
func (l *Listener) Open() int64 { return l.open.Load() }

type countedConn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// Timeouts of the admin HTTP server: a slow or idle client holds a
// connection no longer than these.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = time.Minute
	IdleTimeout       = 30 * time.Second
)
