// Package link is one SMPP TCP connection as smsfw's proxy, simulator and
// load generator use it: a framing reader for the owning goroutine and a
// combining writer any goroutine may append whole PDUs to.
package link

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsfw/smsfw/smpp/pdu"
)

// ErrClosed is returned by writes on a closed connection.
var ErrClosed = errors.New("link: connection closed")

// maxWriteBacklog bounds what may queue for one socket before writers block:
// back-pressure instead of unbounded buffering.
const maxWriteBacklog = 256 * 1024

// Conn is one SMPP TCP connection: a framing reader for its owner goroutine
// and a combining writer that any goroutine may append PDUs to. There is no
// writer goroutine: whoever flushes writes everything queued so far, and
// appends made meanwhile leave with the flusher's next write. A batch of
// PDUs read from one socket thus leaves in one write syscall, without a
// goroutine hand-off: that is what lets the proxy keep up with a TCP relay.
type Conn struct {
	NC net.Conn
	rd *pdu.Reader

	mu      sync.Mutex
	cond    sync.Cond // signalled when the backlog shrinks or a flush ends
	buf     []byte
	spare   []byte
	writing bool
	closed  bool // no more appends
	werr    error
	timeout time.Duration
	// deadline is the write deadline last set (unix nanos), touched only
	// by the goroutine writing (writing is true).
	deadline int64

	seq      atomic.Uint32
	lastRead atomic.Int64 // unix nanos of the last read that needed the socket
	readAt   int64        // the same, for the reading goroutine without atomics
}

// New wraps nc; maxPDU caps command_length, writeTimeout bounds each write.
func New(nc net.Conn, maxPDU int, writeTimeout time.Duration) *Conn {
	c := &Conn{NC: nc, rd: pdu.NewReader(nc, maxPDU), timeout: writeTimeout}
	c.cond.L = &c.mu
	c.buf = make([]byte, 0, 16*1024)
	c.spare = make([]byte, 0, 16*1024)
	c.readAt = time.Now().UnixNano()
	c.lastRead.Store(c.readAt)
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

// Read returns the next PDU; valid until the next read. The clock is read
// once per socket read, not per PDU: PDUs that arrive together share an
// arrival time (ReadAt), which keeps time.Now off the per-PDU path.
func (c *Conn) Read() (pdu.PDU, error) {
	fill := c.rd.Buffered() == 0
	p, err := c.rd.Next()
	if err == nil && fill {
		c.readAt = time.Now().UnixNano()
		c.lastRead.Store(c.readAt)
	}
	return p, err
}

// ReadAt returns the arrival time (unix nanos) of the PDU Read last
// returned. Only the reading goroutine may call it.
func (c *Conn) ReadAt() int64 { return c.readAt }

// Write queues whole PDUs and flushes. It blocks while the backlog is full
// (back-pressure) and while the socket does not take the bytes.
func (c *Conn) Write(b []byte) error {
	return c.put(func(buf []byte) []byte { return append(buf, b...) }, true)
}

// WriteWith lets the caller append PDUs straight into the write buffer (no
// intermediate copy), then flushes; fn must only append.
func (c *Conn) WriteWith(fn func([]byte) []byte) error { return c.put(fn, true) }

// Append queues whole PDUs without writing, so that a batch read from one
// socket leaves in one write on another: the caller must Flush before it
// blocks or runs out of input. A large backlog flushes by itself.
func (c *Conn) Append(b []byte) error {
	return c.put(func(buf []byte) []byte { return append(buf, b...) }, false)
}

// AppendWith is Append with the caller appending into the buffer.
func (c *Conn) AppendWith(fn func([]byte) []byte) error { return c.put(fn, false) }

// flushAt is the backlog at which Append flushes anyway.
const flushAt = 32 * 1024

func (c *Conn) put(fn func([]byte) []byte, flush bool) error {
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
	c.buf = fn(c.buf)
	n := len(c.buf)
	c.mu.Unlock()
	if flush || n >= flushAt {
		c.Flush()
	}
	return nil
}

// Flush writes everything queued, unless another goroutine is already
// writing (it then writes ours too).
func (c *Conn) Flush() {
	c.mu.Lock()
	if c.writing || len(c.buf) == 0 || c.werr != nil {
		c.mu.Unlock()
		return
	}
	c.writing = true
	for len(c.buf) > 0 && c.werr == nil {
		out := c.buf
		c.buf = c.spare[:0]
		closing := c.closed
		c.mu.Unlock()
		c.cond.Broadcast()
		c.extendDeadline(closing)
		_, err := c.NC.Write(out)
		c.mu.Lock()
		if cap(out) <= 1<<20 {
			c.spare = out[:0]
		}
		if err != nil {
			c.werr = err
			c.closed = true
			c.buf = c.buf[:0]
			_ = c.NC.Close()
		}
	}
	c.writing = false
	c.mu.Unlock()
	c.cond.Broadcast()
}

// extendDeadline gives the write about to start between half the write
// timeout and all of it: the deadline moves only once less than half is
// left, so a busy connection resets its deadline timer once every half
// timeout rather than on every write (a runtime timer change per batch,
// which with many sessions and small batches is one per message or two).
// Closing, a write gets at most two more seconds.
func (c *Conn) extendDeadline(closing bool) {
	d := c.timeout
	if closing {
		d = min(d, 2*time.Second)
	}
	if d <= 0 {
		return
	}
	now := time.Now()
	if !closing && c.deadline-now.UnixNano() > int64(d/2) {
		return
	}
	c.deadline = now.Add(d).UnixNano()
	_ = c.NC.SetWriteDeadline(now.Add(d))
}

// Buffered returns how many bytes were read from the socket and not yet
// returned by Read: zero means the next Read waits for the network, the
// moment to Flush what the batch produced.
func (c *Conn) Buffered() int { return c.rd.Buffered() }

// Close flushes what is queued (bounded by the write timeout) and closes
// the socket. Safe to call more than once.
func (c *Conn) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cond.Broadcast()
	// A write in progress gets at most two more seconds.
	_ = c.NC.SetWriteDeadline(time.Now().Add(2 * time.Second))
	c.mu.Lock()
	for c.writing {
		c.cond.Wait()
	}
	c.mu.Unlock()
	c.Flush()
	_ = c.NC.Close()
}

// Abort closes the socket at once, dropping the backlog.
func (c *Conn) Abort() {
	c.mu.Lock()
	c.closed = true
	c.buf = c.buf[:0]
	if c.werr == nil {
		c.werr = ErrClosed
	}
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
