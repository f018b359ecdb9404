package proxy

import (
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/link"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// fakeSMSC answers binds and hands every other PDU to handle, which may
// write anything back: it plays SMSCs that misbehave.
type fakeSMSC struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []*link.Conn
	handle func(c *link.Conn, p pdu.PDU)
	wg     sync.WaitGroup
}

func newFakeSMSC(t *testing.T, handle func(c *link.Conn, p pdu.PDU)) *fakeSMSC {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMSC{ln: ln, handle: handle}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := link.New(nc, 0, time.Second)
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Abort()
				for {
					p, err := c.Read()
					if err != nil {
						return
					}
					if p.ID().IsBind() {
						_ = c.Write(pdu.AppendResp(nil, p.ID(), 0, p.Seq(), "fake"))
						continue
					}
					f.handle(c, p)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Abort()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeSMSC) conn() *link.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.conns) == 0 {
		return nil
	}
	return f.conns[len(f.conns)-1]
}

func startProxy(t *testing.T, upstream string, cfg *Config) (*Server, string) {
	t.Helper()
	srv, err := New(Options{Config: cfg, Upstream: upstream, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, ln.Addr().String()
}

func TestGenericNackMappedBack(t *testing.T) {
	f := newFakeSMSC(t, func(c *link.Conn, p pdu.PDU) {
		if p.ID() == pdu.SubmitSM {
			_ = c.Write(pdu.AppendGenericNack(nil, pdu.StatusInvCmdLen, p.Seq()))
		}
	})
	_, addr := startProxy(t, f.ln.Addr().String(), nil)
	cl, err := esme.Dial(ctx5s(t), addr, esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := cl.Do(ctx5s(t), submit("x"))
	if err != nil || r.ID != pdu.GenericNack || r.Status != pdu.StatusInvCmdLen {
		t.Fatalf("%v %+v", err, r)
	}
}

func TestWrongResponseCommandAnswered(t *testing.T) {
	f := newFakeSMSC(t, func(c *link.Conn, p pdu.PDU) {
		if p.ID() == pdu.SubmitSM { // answers with the wrong command id
			_ = c.Write(pdu.AppendResp(nil, pdu.DeliverSM, 0, p.Seq(), ""))
		}
	})
	_, addr := startProxy(t, f.ln.Addr().String(), nil)
	cl, err := esme.Dial(ctx5s(t), addr, esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := cl.Do(ctx5s(t), submit("x"))
	if err != nil || r.ID != pdu.SubmitSMResp || r.Status != pdu.StatusSysErr {
		t.Fatalf("%v %+v", err, r)
	}
}

// The SMSC unbinds with a request in flight and never answers it: the
// request gets 0x08 at response_timeout, then unbind_resp goes out and the
// peer (pass-through) is unbound.
func TestSMSCUnbindAnswersInFlightOnTimeout(t *testing.T) {
	var once sync.Once
	f := newFakeSMSC(t, func(c *link.Conn, p pdu.PDU) {
		if p.ID() == pdu.SubmitSM {
			// Never answers; unbinds instead.
			once.Do(func() { _ = c.Write(pdu.AppendHeaderOnly(nil, pdu.Unbind, 0, 99)) })
		}
	})
	_, addr := startProxy(t, f.ln.Addr().String(), &Config{ResponseTimeout: 300 * time.Millisecond})
	cl, err := esme.Dial(ctx5s(t), addr, esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := cl.Do(ctx5s(t), submit("x"))
	if err != nil || r.Status != pdu.StatusSysErr {
		t.Fatalf("%v %+v", err, r)
	}
	select {
	case <-cl.Done(): // pass-through: the peer is unbound when its SMSC leg goes
	case <-time.After(3 * time.Second):
		t.Fatal("peer not unbound after the SMSC unbound")
	}
}

// The SMSC unbinds, then answers what was in flight (as SMSCs draining
// for maintenance do): the peer gets the SMSC's answer, not 0x08, and
// unbind_resp follows it.
func TestSMSCUnbindThenAnswersInFlight(t *testing.T) {
	var mu sync.Mutex
	var order []string
	f := newFakeSMSC(t, func(c *link.Conn, p pdu.PDU) {
		switch p.ID() {
		case pdu.SubmitSM:
			seq := p.Seq()
			_ = c.Write(pdu.AppendHeaderOnly(nil, pdu.Unbind, 0, 99))
			go func() {
				time.Sleep(100 * time.Millisecond) // the SMSC's own latency, not synchronisation
				mu.Lock()
				order = append(order, "submit_sm_resp")
				mu.Unlock()
				_ = c.Write(pdu.AppendResp(nil, pdu.SubmitSM, 0, seq, "smsc-1"))
			}()
		case pdu.UnbindResp:
			mu.Lock()
			order = append(order, "unbind_resp")
			mu.Unlock()
		}
	})
	_, addr := startProxy(t, f.ln.Addr().String(), nil)
	cl, err := esme.Dial(ctx5s(t), addr, esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := cl.Do(ctx5s(t), submit("x"))
	if err != nil || r.Status != 0 || r.MessageID != "smsc-1" {
		t.Fatalf("%v %+v", err, r)
	}
	testutil.Eventually(t, 3*time.Second, "both answers relayed", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 2 })
	mu.Lock()
	defer mu.Unlock()
	if order[0] != "submit_sm_resp" || order[1] != "unbind_resp" {
		t.Fatalf("order at the SMSC: %v", order)
	}
}

func TestRelaysEveryMessageKind(t *testing.T) {
	var mu sync.Mutex
	seen := map[pdu.CommandID]int{}
	e := start(t, sim.Config{OnPDU: func(_ string, p pdu.PDU) {
		mu.Lock()
		seen[p.ID()]++
		mu.Unlock()
	}}, nil, nil)
	cl := e.dial(esme.Options{})
	multi := pdu.NewBuilder(nil, pdu.SubmitMulti, 0, 0)
	multi.CString("").Addr(5, 0, "Shop").Byte(2).Byte(1).Addr(1, 1, "4911").Byte(1).Addr(1, 1, "4922").
		Byte(0).Byte(0).Byte(0).CString("").CString("").Byte(0).Byte(0).Byte(0).Byte(0).SM([]byte("multi"))
	data := pdu.NewBuilder(nil, pdu.DataSM, 0, 0)
	data.CString("").Addr(1, 1, "4933").Addr(1, 1, "4944").Byte(0).Byte(0).Byte(0).TLV(pdu.TagMessagePayload, []byte("data"))
	query := pdu.NewBuilder(nil, pdu.QuerySM, 0, 0)
	query.CString("1000001").Addr(0, 0, "Shop")
	cancel := pdu.NewBuilder(nil, pdu.CancelSM, 0, 0)
	cancel.CString("").CString("1000001").Addr(0, 0, "Shop").Addr(1, 1, "4911")
	replace := pdu.NewBuilder(nil, pdu.ReplaceSM, 0, 0)
	replace.CString("1000001").Addr(0, 0, "Shop").CString("").CString("").Byte(0).Byte(0).SM([]byte("new"))
	for _, c := range []struct {
		raw  []byte
		resp pdu.CommandID
	}{
		{multi.Done(), pdu.SubmitMultiResp},
		{data.Done(), pdu.DataSMResp},
		{query.Done(), pdu.QuerySMResp},
		{cancel.Done(), pdu.CancelSMResp},
		{replace.Done(), pdu.ReplaceSMResp},
	} {
		r, err := cl.Do(ctx5s(t), c.raw)
		if err != nil || r.ID != c.resp || r.Status != 0 {
			t.Fatalf("%v: %v %+v", pdu.PDU(c.raw).ID(), err, r)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []pdu.CommandID{pdu.SubmitMulti, pdu.DataSM, pdu.QuerySM, pdu.CancelSM, pdu.ReplaceSM} {
		if seen[id] != 1 {
			t.Fatalf("%v reached the SMSC %d times", id, seen[id])
		}
	}
}

func TestMODataSMAndAlertNotification(t *testing.T) {
	resps := make(chan pdu.PDU, 8)
	f := newFakeSMSC(t, func(c *link.Conn, p pdu.PDU) {
		select {
		case resps <- append(pdu.PDU(nil), p...):
		default:
		}
	})
	_, addr := startProxy(t, f.ln.Addr().String(), nil)
	got := make(chan pdu.CommandID, 8)
	cl, err := esme.Dial(ctx5s(t), addr, esme.Options{Bind: pdu.BindReceiver, OnDeliver: func(p pdu.PDU) pdu.Status {
		got <- p.ID()
		return 0
	}, OnAlert: func(p pdu.PDU) { got <- p.ID() }})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	testutil.Eventually(t, 2*time.Second, "SMSC connection up", func() bool { return f.conn() != nil })
	smsc := f.conn()
	data := pdu.NewBuilder(nil, pdu.DataSM, 0, 4242)
	data.CString("").Addr(1, 1, "4917").Addr(0, 1, "123").Byte(0).Byte(0).Byte(0).TLV(pdu.TagMessagePayload, []byte("mo"))
	alert := pdu.NewBuilder(nil, pdu.AlertNotification, 0, 4243)
	alert.Addr(1, 1, "4917").Addr(0, 1, "123")
	_ = smsc.Write(data.Done())
	_ = smsc.Write(alert.Done())
	select {
	case id := <-got:
		if id != pdu.DataSM {
			t.Fatalf("peer got %v", id)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("data_sm not delivered")
	}
	select {
	case p := <-resps:
		if p.ID() != pdu.DataSMResp || p.Seq() != 4242 || p.Status() != 0 {
			t.Fatalf("SMSC got %v seq %d status %v", p.ID(), p.Seq(), p.Status())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no data_sm_resp at the SMSC")
	}
	// alert_notification has no response and reaches the receiver.
	select {
	case id := <-got:
		if id != pdu.AlertNotification {
			t.Fatalf("peer got %v", id)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("alert_notification not relayed")
	}
	select {
	case p := <-resps:
		t.Fatalf("SMSC got an answer to alert_notification: %v", p.ID())
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSilentSMSCIsDetectedAndPeerUnbound(t *testing.T) {
	f := newFakeSMSC(t, func(c *link.Conn, p pdu.PDU) {}) // answers binds, nothing else
	_, addr := startProxy(t, f.ln.Addr().String(), &Config{EnquireLinkInterval: 50 * time.Millisecond,
		InactivityTimeout: 300 * time.Millisecond})
	cl, err := esme.Dial(ctx5s(t), addr, esme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Keep the peer side busy so only the SMSC leg is idle.
	stop := time.After(3 * time.Second)
	for {
		select {
		case <-cl.Done():
			return
		case <-stop:
			t.Fatal("a silent SMSC was not detected")
		case <-time.After(40 * time.Millisecond):
			_, _ = cl.Do(ctx5s(t), pdu.AppendHeaderOnly(nil, pdu.EnquireLink, 0, 0))
		}
	}
}
