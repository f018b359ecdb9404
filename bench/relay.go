package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"
)

// Relay is the baseline: a plain TCP relay (io.Copy both ways), the least
// any inline hop can cost.
type Relay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// NewRelay relays connections accepted on ln to target.
func NewRelay(ln net.Listener, target string) *Relay {
	r := &Relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.serve()
	return r
}

func (r *Relay) track(c net.Conn, add bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if add {
		r.conns[c] = struct{}{}
	} else {
		delete(r.conns, c)
	}
}

func (r *Relay) serve() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", r.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		r.track(in, true)
		r.track(out, true)
		r.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer r.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			r.track(dst, false)
			r.track(src, false)
		}
		go pipe(out, in)
		go pipe(in, out)
	}
}

// Close stops the relay and its connections.
func (r *Relay) Close() {
	_ = r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// ServeRelay runs a Relay to upstream on a kernel-chosen loopback port
// until ctx ends, announcing its address on log as a JSON line
// ({"msg":"listening","addr":...}, as `smsfw run` does): the baseline as a
// child process, for the pinned measurement.
func ServeRelay(ctx context.Context, upstream string, log io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r := NewRelay(ln, upstream)
	line, _ := json.Marshal(map[string]string{"msg": "listening", "addr": ln.Addr().String()})
	if _, err := fmt.Fprintf(log, "%s\n", line); err != nil {
		r.Close()
		return err
	}
	<-ctx.Done()
	r.Close()
	return nil
}
