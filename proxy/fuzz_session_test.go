package proxy

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// FuzzSession: any byte stream from a peer (after a valid bind or not) is
// handled by a live config-mode proxy without a panic, and the session ends
// when the peer goes away.
func FuzzSession(f *testing.F) {
	s := sim.New(sim.Config{Keep: -1}, nil)
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go func() { _ = s.Serve(sln) }()
	cfg := &Config{ResponseTimeout: 200 * time.Millisecond, SegmentTimeout: 50 * time.Millisecond, MaxPDUSize: 4096,
		Auth:      AuthConfig{SourceLockout: LockoutConfig{Disabled: true}, SystemIDLockout: LockoutConfig{Disabled: true}},
		Upstreams: map[string]*Upstream{"smsc": {Address: sln.Addr().String()}},
		Peers:     []*Peer{{SystemID: "fuzz", Password: "pw", Window: 10}}}
	mustValidate(f, cfg)
	srv, err := New(Options{Config: cfg, Logger: zap.NewNop()})
	if err != nil {
		f.Fatal(err)
	}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(pln) }()
	f.Cleanup(func() { _ = srv.Close(); <-served; s.Close() })
	testutil.Eventually(f, 5*time.Second, "proxy ready", func() bool { ok, _ := srv.Ready(); return ok })
	bind := pdu.AppendBind(nil, pdu.BindTransceiver, 1, pdu.BindFields{SystemID: "fuzz", Password: "pw"})
	f.Add(true, submit("hello"))
	f.Add(true, append(pdu.AppendHeaderOnly(nil, pdu.EnquireLink, 0, 2), pdu.AppendHeaderOnly(nil, pdu.Unbind, 0, 3)...))
	f.Add(false, submit("unbound"))
	f.Add(true, pdu.AppendSM(nil, pdu.SubmitSM, 5, &pdu.SMFields{Src: "1", Dst: "2", ESMClass: 0x40, ShortMessage: []byte{5, 0, 3, 9, 2, 1, 'a'}}))
	f.Add(true, []byte{0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, bound bool, stream []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		srv.wg.Add(1)
		go func() { defer srv.wg.Done(); defer close(done); srv.serveDownstream(server) }()
		var rd sync.WaitGroup
		rd.Add(1)
		go func() { defer rd.Done(); _, _ = io.Copy(io.Discard, client) }()
		if bound {
			_, _ = client.Write(bind)
		}
		_, _ = client.Write(stream)
		_ = client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("session did not end after the peer closed")
		}
		rd.Wait()
	})
}
