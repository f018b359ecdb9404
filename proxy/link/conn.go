// Package link is one SMPP TCP connection as smsfw's proxy, simulator and
// load generator use it: a framing reader for the owning goroutine and a
// coalescing writer any goroutine may append whole PDUs to.
package link

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsfw/smsfw/proxy/pdu"
)

// ErrClosed is returned by writes on a closed connection.
var ErrClosed = errors.New("link: connection closed")

// maxWriteBacklog bounds what may queue for one socket before writers block:
// back-pressure instead of unbounded buffering.
const maxWriteBacklog = 256 * 1024

// Conn is one SMPP TCP connection: a framing reader for its owner goroutine
// and a coalescing writer that any goroutine may append PDUs to. Appends are
// batched into one write syscall per wake-up, which is what lets a proxy
// keep up with a plain TCP relay.
type Conn struct {
	NC net.Conn
	rd *pdu.Reader

	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte
	closed  bool
	werr    error
	wdone   chan struct{}
	timeout time.Duration

	seq      atomic.Uint32
	lastRead atomic.Int64 // unix nanos
}

// New wraps nc; maxPDU caps command_length, writeTimeout bounds each write.
func New(nc net.Conn, maxPDU int, writeTimeout time.Duration) *Conn {
	c := &Conn{NC: nc, rd: pdu.NewReader(nc, maxPDU), wdone: make(chan struct{}), timeout: writeTimeout}
	c.cond.L = &c.mu
	c.buf = make([]byte, 0, 16*1024)
	c.lastRead.Store(time.Now().UnixNano())
	go c.writeLoop()
	return c
}

// NextSeq allocates a sequence number in this leg's own space: 1..0x7FFFFFFF, wrapping to 1.
func (c *Conn) NextSeq() uint32 {
	for {
		s := c.seq.Add(1)
		if s <= 0x7FFFFFFF {
			return s
		}
		c.seq.CompareAndSwap(s, 0)
	}
}

// Read returns the next PDU; valid until the next read.
func (c *Conn) Read() (pdu.PDU, error) {
	p, err := c.rd.Next()
	if err == nil {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return p, err
}

// Write queues one or more whole PDUs. It blocks while the backlog is full.
func (c *Conn) Write(b []byte) error {
	c.mu.Lock()
	for len(c.buf) > maxWriteBacklog && !c.closed {
		c.cond.Wait()
	}
	if c.closed {
		err := c.werr
		c.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return err
	}
	wake := len(c.buf) == 0
	c.buf = append(c.buf, b...)
	c.mu.Unlock()
	if wake {
		c.cond.Broadcast()
	}
	return nil
}

// WriteWith lets the caller append a PDU straight into the write buffer
// (no intermediate copy); fn must only append.
func (c *Conn) WriteWith(fn func([]byte) []byte) error {
	c.mu.Lock()
	for len(c.buf) > maxWriteBacklog && !c.closed {
		c.cond.Wait()
	}
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	wake := len(c.buf) == 0
	c.buf = fn(c.buf)
	c.mu.Unlock()
	if wake {
		c.cond.Broadcast()
	}
	return nil
}

func (c *Conn) writeLoop() {
	defer close(c.wdone)
	spare := make([]byte, 0, 16*1024)
	for {
		c.mu.Lock()
		for len(c.buf) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.buf) == 0 && c.closed {
			c.mu.Unlock()
			return
		}
		out := c.buf
		c.buf = spare[:0]
		c.mu.Unlock()
		c.cond.Broadcast()
		if c.timeout > 0 {
			_ = c.NC.SetWriteDeadline(time.Now().Add(c.timeout))
		}
		_, err := c.NC.Write(out)
		if err != nil {
			c.mu.Lock()
			c.closed = true
			c.werr = err
			c.buf = c.buf[:0]
			c.mu.Unlock()
			c.cond.Broadcast()
			_ = c.NC.Close()
			return
		}
		if cap(out) > 1<<20 {
			out = make([]byte, 0, 16*1024)
		}
		spare = out
	}
}

// Close flushes what is queued (bounded by the write timeout) and closes
// the socket. Safe to call more than once.
func (c *Conn) Close() {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	c.cond.Broadcast()
	if !already {
		select {
		case <-c.wdone:
		case <-time.After(2 * time.Second):
		}
	}
	_ = c.NC.Close()
}

// Abort closes the socket at once, dropping the backlog.
func (c *Conn) Abort() {
	c.mu.Lock()
	c.closed = true
	c.buf = c.buf[:0]
	c.mu.Unlock()
	c.cond.Broadcast()
	_ = c.NC.Close()
}

// IsClosed reports whether the connection was closed.
func (c *Conn) IsClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// IdleFor reports how long nothing was read.
func (c *Conn) IdleFor(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, c.lastRead.Load()))
}
