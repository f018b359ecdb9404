// Package esme is a small SMPP client (an ESME) for smsfw's tests, demo and
// load generator. It binds, sends requests with its own sequence numbers,
// correlates responses (out of order allowed) and answers deliver_sm.
package esme

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/smsfw/smsfw/smpp/link"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Resp is a response as the client saw it.
type Resp struct {
	ID        pdu.CommandID
	Status    pdu.Status
	Seq       uint32
	MessageID string
	Latency   time.Duration // from Send to the response
	Err       error         // set when the connection ended before a response
}

type pendingReq struct {
	cb   func(Resp)
	sent time.Time
}

// ErrClosed is the Resp.Err of requests cut off by the connection's end.
var ErrClosed = errors.New("esme: connection closed")

// Options for Dial.
type Options struct {
	Bind     pdu.CommandID // BindTransceiver when zero
	SystemID string
	Password string
	// OnDeliver answers deliver_sm / data_sm: the status to return. nil answers 0.
	OnDeliver func(p pdu.PDU) pdu.Status
	// NoAutoRespond leaves deliver_sm unanswered (to test timeouts).
	NoAutoRespond bool
	// OnAlert sees alert_notification PDUs (they have no response).
	OnAlert func(p pdu.PDU)
	// SkipMessageID does not copy message ids into Resp (load generation).
	SkipMessageID bool
}

// Client is one bound ESME session.
type Client struct {
	c    *link.Conn
	opts Options

	mu      sync.Mutex
	pending map[uint32]pendingReq
	done    chan struct{}
	err     error
	// Dups counts responses whose sequence number matched nothing pending.
	unmatched int
}

// Dial connects and binds; the bind status is returned with an error when
// it is not 0.
func Dial(ctx context.Context, addr string, o Options) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return Bind(ctx, nc, o)
}

// BindError is a refused bind.
type BindError struct{ Status pdu.Status }

func (e *BindError) Error() string { return "esme: bind refused with status " + e.Status.String() }

// Bind binds over an established connection.
func Bind(ctx context.Context, nc net.Conn, o Options) (*Client, error) {
	if o.Bind == 0 {
		o.Bind = pdu.BindTransceiver
	}
	cl := &Client{c: link.New(nc, 0, 10*time.Second), opts: o, pending: map[uint32]pendingReq{}, done: make(chan struct{})}
	go cl.readLoop()
	r, err := cl.Do(ctx, pdu.AppendBind(nil, o.Bind, 0, pdu.BindFields{SystemID: o.SystemID, Password: o.Password}))
	if err != nil {
		cl.Close()
		return nil, err
	}
	if r.Status != pdu.StatusOK {
		cl.Close()
		return nil, &BindError{Status: r.Status}
	}
	return cl, nil
}

// Send sends request raw (its sequence number is assigned here) and calls cb
// with the response, exactly once. It returns the sequence number used.
func (cl *Client) Send(raw []byte, cb func(Resp)) (uint32, error) {
	return cl.send(raw, cb, true)
}

// Queue is Send without writing: the request leaves at the next Flush (or
// Send). Load generators queue a window's worth and flush once.
func (cl *Client) Queue(raw []byte, cb func(Resp)) (uint32, error) {
	return cl.send(raw, cb, false)
}

// Flush writes queued requests.
func (cl *Client) Flush() { cl.c.Flush() }

func (cl *Client) send(raw []byte, cb func(Resp), flush bool) (uint32, error) {
	seq := cl.c.NextSeq()
	pdu.PDU(raw).SetSeq(seq)
	cl.mu.Lock()
	if cl.err != nil {
		cl.mu.Unlock()
		return 0, cl.err
	}
	if pdu.PDU(raw).ID().HasResponse() {
		cl.pending[seq] = pendingReq{cb: cb, sent: time.Now()}
	}
	cl.mu.Unlock()
	write := cl.c.Append
	if flush {
		write = cl.c.Write
	}
	if err := write(raw); err != nil {
		cl.mu.Lock()
		delete(cl.pending, seq)
		cl.mu.Unlock()
		return 0, err
	}
	return seq, nil
}

// Do sends raw and waits for its response.
func (cl *Client) Do(ctx context.Context, raw []byte) (Resp, error) {
	ch := make(chan Resp, 1)
	seq, err := cl.Send(raw, func(r Resp) { ch <- r })
	if err != nil {
		return Resp{}, err
	}
	select {
	case r := <-ch:
		return r, r.Err
	case <-ctx.Done():
		cl.mu.Lock()
		delete(cl.pending, seq)
		cl.mu.Unlock()
		return Resp{}, ctx.Err()
	}
}

// Write sends raw bytes as they are (for malformed-input tests).
func (cl *Client) Write(raw []byte) error { return cl.c.Write(raw) }

// Pending returns how many requests await a response.
func (cl *Client) Pending() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return len(cl.pending)
}

// Unmatched returns how many responses matched no pending request
// (duplicates or strays).
func (cl *Client) Unmatched() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.unmatched
}

// Done is closed when the connection ends.
func (cl *Client) Done() <-chan struct{} { return cl.done }

func (cl *Client) readLoop() {
	var err error
	defer func() {
		cl.mu.Lock()
		if err == nil {
			err = ErrClosed
		}
		cl.err = err
		pending := cl.pending
		cl.pending = map[uint32]pendingReq{}
		cl.mu.Unlock()
		for seq, pr := range pending {
			pr.cb(Resp{Seq: seq, Err: fmt.Errorf("%w: %v", ErrClosed, err)})
		}
		cl.c.Abort()
		close(cl.done)
	}()
	for {
		var p pdu.PDU
		p, err = cl.c.Read()
		if err != nil {
			return
		}
		id := p.ID()
		if id.IsResponse() {
			cl.mu.Lock()
			pr, ok := cl.pending[p.Seq()]
			delete(cl.pending, p.Seq())
			if !ok {
				cl.unmatched++
			}
			cl.mu.Unlock()
			if ok {
				r := Resp{ID: id, Status: p.Status(), Seq: p.Seq(), Latency: time.Since(pr.sent)}
				if !cl.opts.SkipMessageID {
					var mr pdu.MessageResp
					if (id == pdu.SubmitSMResp || id == pdu.DataSMResp || id == pdu.SubmitMultiResp) && pdu.ParseMessageResp(p, &mr) == nil {
						r.MessageID = string(mr.MessageID)
					}
				}
				pr.cb(r)
			}
			continue
		}
		switch id {
		case pdu.EnquireLink:
			_ = cl.c.Write(pdu.AppendResp(nil, id, 0, p.Seq(), ""))
		case pdu.Unbind:
			_ = cl.c.Write(pdu.AppendResp(nil, id, 0, p.Seq(), ""))
			cl.c.Close()
			return
		case pdu.DeliverSM, pdu.DataSM:
			if cl.opts.NoAutoRespond {
				if cl.opts.OnDeliver != nil {
					cl.opts.OnDeliver(p)
				}
				continue
			}
			st := pdu.StatusOK
			if cl.opts.OnDeliver != nil {
				st = cl.opts.OnDeliver(p)
			}
			_ = cl.c.Write(pdu.AppendResp(nil, id, st, p.Seq(), ""))
		case pdu.AlertNotification:
			if cl.opts.OnAlert != nil {
				cl.opts.OnAlert(p)
			}
		default:
			if id.HasResponse() {
				_ = cl.c.Write(pdu.AppendGenericNack(nil, pdu.StatusInvCmdID, p.Seq()))
			}
		}
	}
}

// Unbind unbinds and closes.
func (cl *Client) Unbind(ctx context.Context) error {
	_, err := cl.Do(ctx, pdu.AppendHeaderOnly(nil, pdu.Unbind, 0, 0))
	cl.Close()
	return err
}

// Close closes the connection.
func (cl *Client) Close() {
	cl.c.Abort()
	<-cl.done
}
