package proxy

// Fault injection: real TCP on 127.0.0.1, a hand-written SMSC that
// misbehaves on demand and records the order of deliver_sm answers. Every
// test asserts one response per request (counted by sequence number on the
// client side), no deliver_sm acked to the SMSC before the peer acked it,
// no goroutine left behind (goleak, per test) and a bounded heap.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/link"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// guard checks, at the very end of the test (after every cleanup), that no
// goroutine started by it is left, and returns a function that checks the
// heap grew by less than limit since the call.
func heapGuard(t *testing.T) (checkHeap func(limit uint64)) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // registered first: runs last
	before := heapInuse()
	return func(limit uint64) {
		t.Helper()
		if after := heapInuse(); after > before+limit {
			t.Fatalf("heap in use grew from %d to %d bytes (limit +%d)", before, after, limit)
		}
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Answer modes of the fault SMSC.
const (
	answerNow   = iota // answer every request at once (message_id "id-<text>")
	answerHold         // keep requests until release
	answerTick         // answer what is held every few milliseconds
	answerNever        // read and forget
)

type stray struct {
	id  pdu.CommandID
	st  pdu.Status
	seq uint32
}

type heldReq struct {
	c    *link.Conn
	id   pdu.CommandID
	seq  uint32
	text string
}

// faultSMSC is an SMSC that holds, reorders, duplicates or drops answers,
// sends deliver_sm, writes garbage, and checks that every deliver_sm_resp
// with status 0 came after the peer acked that message.
type faultSMSC struct {
	*fakeSMSC
	t    *testing.T
	mode atomic.Int32

	mu          sync.Mutex
	held        []heldReq
	received    int
	outstanding int // requests received and not yet answered
	maxOut      int
	dlv         map[uint32]string       // deliver_sm seq -> message key
	dlvAnswers  map[uint32][]pdu.Status // deliver_sm seq -> answers seen
	peerAcked   map[string]bool
	violations  []string
	stray       []stray // answers to requests this SMSC did not send as deliver_sm
	stopTick    chan struct{}
	tickWG      sync.WaitGroup
}

func newFaultSMSC(t *testing.T) *faultSMSC {
	f := &faultSMSC{t: t, dlv: map[uint32]string{}, dlvAnswers: map[uint32][]pdu.Status{},
		peerAcked: map[string]bool{}, stopTick: make(chan struct{})}
	f.fakeSMSC = newFakeSMSC(t, f.handle)
	f.tickWG.Add(1)
	go func() {
		defer f.tickWG.Done()
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-f.stopTick:
				return
			case <-tk.C:
				if f.mode.Load() == answerTick {
					f.release(nil, false)
				}
			}
		}
	}()
	t.Cleanup(func() { close(f.stopTick); f.tickWG.Wait() }) // runs before the fake's own cleanup
	return f
}

func (f *faultSMSC) handle(c *link.Conn, p pdu.PDU) {
	id := p.ID()
	switch {
	case id == pdu.EnquireLink || id == pdu.Unbind:
		_ = c.Write(pdu.AppendResp(nil, id, 0, p.Seq(), ""))
	case id.IsResponse():
		f.mu.Lock()
		defer f.mu.Unlock()
		key, ok := f.dlv[p.Seq()]
		if !ok {
			f.stray = append(f.stray, stray{id, p.Status(), p.Seq()})
			return
		}
		f.dlvAnswers[p.Seq()] = append(f.dlvAnswers[p.Seq()], p.Status())
		if p.Status() == pdu.StatusOK && !f.peerAcked[key] {
			f.violations = append(f.violations, fmt.Sprintf("deliver_sm %q acked to the SMSC before the peer acked it", key))
		}
	default:
		text := ""
		var m pdu.Message
		if id.IsMessage() && pdu.ParseMessage(p, &m) == nil {
			text = string(m.Payload())
		}
		f.mu.Lock()
		f.received++
		f.outstanding++
		f.maxOut = max(f.maxOut, f.outstanding)
		mode := f.mode.Load()
		if mode == answerHold || mode == answerTick {
			f.held = append(f.held, heldReq{c: c, id: id, seq: p.Seq(), text: text})
		}
		if mode == answerNever {
			f.outstanding--
		}
		f.mu.Unlock()
		if mode == answerNow {
			f.answer(heldReq{c: c, id: id, seq: p.Seq(), text: text}, 1)
		}
	}
}

func (f *faultSMSC) answer(r heldReq, times int) {
	f.mu.Lock()
	f.outstanding--
	f.mu.Unlock()
	for i := 0; i < times; i++ {
		_ = r.c.Write(pdu.AppendResp(nil, r.id, 0, r.seq, "id-"+r.text))
	}
}

// release answers what is held, in the order order puts it (nil: as
// received), each answer written twice when dup.
func (f *faultSMSC) release(order func([]heldReq), dup bool) int {
	f.mu.Lock()
	held := f.held
	f.held = nil
	f.mu.Unlock()
	if order != nil {
		order(held)
	}
	times := 1
	if dup {
		times = 2
	}
	for _, r := range held {
		f.answer(r, times)
	}
	return len(held)
}

func (f *faultSMSC) stats() (received, held, maxOut int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.received, len(f.held), f.maxOut
}

// deliver sends a deliver_sm carrying key on the newest connection.
func (f *faultSMSC) deliver(key string) uint32 {
	c := f.conn()
	seq := c.NextSeq()
	f.mu.Lock()
	f.dlv[seq] = key
	f.mu.Unlock()
	_ = c.Write(pdu.AppendSM(nil, pdu.DeliverSM, seq, &pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: "4917600000001",
		Dst: "12345", ShortMessage: []byte(key)}))
	return seq
}

// peerAck records that the peer acks key; call before writing the ack.
func (f *faultSMSC) peerAck(p pdu.PDU) {
	var m pdu.Message
	if pdu.ParseMessage(p, &m) != nil {
		f.t.Errorf("peer got a malformed deliver_sm")
		return
	}
	f.mu.Lock()
	f.peerAcked[string(m.Payload())] = true
	f.mu.Unlock()
}

// kill drops every SMSC connection at once.
func (f *faultSMSC) kill() {
	f.mu.Lock()
	f.held = nil
	f.outstanding = 0
	f.mu.Unlock()
	f.fakeSMSC.mu.Lock()
	for _, c := range f.conns {
		c.Abort()
	}
	f.fakeSMSC.mu.Unlock()
}

// checkDeliveries asserts no early ack and at most one answer per
// deliver_sm (exactly one, with status want when want >= 0).
func (f *faultSMSC) checkDeliveries(want int) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.violations {
		f.t.Error(v)
	}
	for _, s := range f.stray {
		f.t.Errorf("answer to nothing the SMSC sent: %+v", s)
	}
	for seq, key := range f.dlv {
		got := f.dlvAnswers[seq]
		switch {
		case len(got) > 1:
			f.t.Errorf("deliver_sm %q answered %d times: %v", key, len(got), got)
		case want >= 0 && len(got) != 1:
			f.t.Errorf("deliver_sm %q answered %d times, want once", key, len(got))
		case want >= 0 && got[0] != pdu.Status(want):
			f.t.Errorf("deliver_sm %q answered %v, want %v", key, got[0], pdu.Status(want))
		}
	}
}

func (f *faultSMSC) answers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.dlvAnswers {
		n += len(a)
	}
	return n
}

// faultProxy runs a config-mode proxy with peer "acme" (password "pw",
// window peerWindow) in front of f (window upWindow, one session).
func faultProxy(t *testing.T, f *faultSMSC, cfg *Config, peerWindow, upWindow int) *env {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	cfg.Upstreams = map[string]*Upstream{"smsc": {Address: f.ln.Addr().String(), Window: upWindow}}
	cfg.Peers = []*Peer{{SystemID: "acme", Password: "pw", Window: peerWindow}}
	mustValidate(t, cfg)
	e := &env{t: t}
	e.serveProxy(cfg, nil)
	e.waitReady()
	return e
}

// sendN sends n submit_sm "<prefix>-i" and returns their sequence numbers
// with the text of each.
func sendN(t *testing.T, cl *esme.Client, col *collector, prefix string, n int) ([]uint32, map[uint32]string) {
	t.Helper()
	var seqs []uint32
	texts := map[uint32]string{}
	for i := 0; i < n; i++ {
		text := fmt.Sprintf("%s-%d", prefix, i)
		s, err := cl.Send(submit(text), col.cb)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
		texts[s] = text
	}
	return seqs, texts
}

func allStatus(t *testing.T, rs []esme.Resp, want pdu.Status) {
	t.Helper()
	for _, r := range rs {
		if r.Err != nil || r.Status != want {
			t.Fatalf("response %+v, want status %v", r, want)
		}
	}
}

// The SMSC dies with a full window of MT and deliver_sm awaiting the peer.
func TestFaultUpstreamKilledMidWindow(t *testing.T) {
	checkHeap := heapGuard(t)
	f := newFaultSMSC(t)
	f.mode.Store(answerHold)
	e := faultProxy(t, f, nil, 100, 40)
	releaseAcks := make(chan struct{})
	var delivered atomic.Int32
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", OnDeliver: func(p pdu.PDU) pdu.Status {
		delivered.Add(1)
		<-releaseAcks
		f.peerAck(p)
		return 0
	}})
	col := newCollector(40)
	seqs, _ := sendN(t, cl, col, "mt", 40)
	testutil.Eventually(t, 5*time.Second, "40 at the SMSC", func() bool { r, _, _ := f.stats(); return r == 40 })
	for i := 0; i < 5; i++ {
		f.deliver(fmt.Sprintf("mo-%d", i))
	}
	testutil.Eventually(t, 5*time.Second, "first deliver_sm at the peer", func() bool { return delivered.Load() == 1 })
	f.kill()
	close(releaseAcks) // the peer acks after the SMSC is gone
	rs := col.wait(t, 40, 5*time.Second)
	exactlyOnce(t, seqs, rs)
	allStatus(t, rs, pdu.StatusSysErr)
	testutil.Eventually(t, 5*time.Second, "deliveries settled", func() bool { return e.m.inflightDn.Load() == 0 && e.m.inflightUp.Load() == 0 })
	f.checkDeliveries(-1) // the connection is gone: nothing may be acked early, nothing twice
	// The pool reconnects and traffic flows again.
	f.mode.Store(answerNow)
	e.waitReady()
	testutil.Eventually(t, 5*time.Second, "submit after reconnect", func() bool {
		r, err := cl.Do(ctx5s(t), submit("again"))
		return err == nil && r.Status == 0 && r.MessageID == "id-again"
	})
	if cl.Unmatched() != 0 {
		t.Fatal("a response matched no request")
	}
	checkHeap(64 << 20)
}

// The SMSC stops answering: every request gets 0x08 after
// response_timeout, late answers are dropped; deliver_sm that the peer
// never answers are answered 0x64 to the SMSC.
func TestFaultUpstreamStalls(t *testing.T) {
	checkHeap := heapGuard(t)
	f := newFaultSMSC(t)
	f.mode.Store(answerHold)
	e := faultProxy(t, f, &Config{ResponseTimeout: 150 * time.Millisecond}, 100, 5)
	var seen atomic.Int32
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", NoAutoRespond: true,
		OnDeliver: func(pdu.PDU) pdu.Status { seen.Add(1); return 0 }})
	col := newCollector(20)
	seqs, _ := sendN(t, cl, col, "stall", 20)
	for i := 0; i < 4; i++ {
		f.deliver(fmt.Sprintf("unanswered-%d", i))
	}
	rs := col.wait(t, 20, 10*time.Second)
	exactlyOnce(t, seqs, rs)
	allStatus(t, rs, pdu.StatusSysErr)
	if n := f.release(nil, false); n != 20 { // far too late
		t.Fatalf("held %d", n)
	}
	testutil.Eventually(t, 5*time.Second, "late answers dropped", func() bool { return promtest.ToFloat64(e.m.late.WithLabelValues(legUpstream)) == 20 })
	testutil.Eventually(t, 5*time.Second, "deliver_sm timed out", func() bool { return f.answers() == 4 })
	if v := promtest.ToFloat64(e.m.timeouts.WithLabelValues(legUpstream)); v != 20 {
		t.Fatalf("upstream timeouts %v", v) // each timeout freed a slot of the window of 5
	}
	f.checkDeliveries(int(pdu.StatusXTAppn))
	if cl.Unmatched() != 0 || seen.Load() != 4 {
		t.Fatalf("unmatched %d, delivered %d", cl.Unmatched(), seen.Load())
	}
	checkHeap(64 << 20)
}

// The SMSC sends bytes that are not SMPP, or SMPP that answers nothing.
func TestFaultUpstreamGarbage(t *testing.T) {
	header := func(length, id uint32, seq uint32) []byte {
		b := make([]byte, 16)
		for i, v := range []uint32{length, id, 0, seq} {
			b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		}
		return b
	}
	badTLV := pdu.AppendSM(nil, pdu.DeliverSM, 77, &pdu.SMFields{Src: "1", Dst: "2", ShortMessage: []byte("x")})
	badTLV = append(badTLV, 0x04, 0x24, 0x00, 0x40, 'a') // message_payload claiming 64 octets, 1 present
	fixLen(badTLV)
	cases := []struct {
		name   string
		bytes  []byte
		closes bool   // the leg is dropped: in-flight get 0x08
		answer *stray // what the proxy answers the SMSC (0xFFFFFFFF: any error status, any seq)
	}{
		{"length below 16", header(8, 0x80000004, 9), true, &stray{pdu.GenericNack, pdu.StatusInvCmdLen, 9}},
		{"length above the cap", header(1<<30, 0x80000004, 9), true, &stray{pdu.GenericNack, pdu.StatusInvCmdLen, 9}},
		{"random bytes", []byte("\xde\xad\xbe\xef not smpp at all \x00\x01\x02\x03"), true, &stray{pdu.GenericNack, pdu.StatusInvCmdLen, 0xFFFFFFFF}},
		{"truncated PDU then close", header(200, 0x80000004, 1)[:16], true, nil},
		{"response to nothing", pdu.AppendResp(nil, pdu.SubmitSM, 0, 0x7FFF0000, "ghost"), false, nil},
		{"generic_nack to nothing", pdu.AppendGenericNack(nil, pdu.StatusInvCmdID, 0x7FFF0001), false, nil},
		{"unknown command", header(16, 0x00000777, 5), false, &stray{pdu.GenericNack, pdu.StatusInvCmdID, 5}},
		{"deliver_sm with a bad TLV", badTLV, false, &stray{pdu.DeliverSMResp, 0xFFFFFFFF, 77}},
		{"submit_sm from the SMSC", pdu.AppendSM(nil, pdu.SubmitSM, 78, &pdu.SMFields{Src: "1", Dst: "2"}), false,
			&stray{pdu.SubmitSMResp, pdu.StatusInvBndSts, 78}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkHeap := heapGuard(t)
			f := newFaultSMSC(t)
			f.mode.Store(answerHold)
			e := faultProxy(t, f, nil, 100, 100)
			var delivered atomic.Int32
			cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", OnDeliver: func(pdu.PDU) pdu.Status { delivered.Add(1); return 0 }})
			col := newCollector(10)
			seqs, texts := sendN(t, cl, col, "g", 10)
			testutil.Eventually(t, 5*time.Second, "10 at the SMSC", func() bool { r, _, _ := f.stats(); return r == 10 })
			conn := f.conn()
			if err := conn.Write(c.bytes); err != nil {
				t.Fatal(err)
			}
			if c.name == "truncated PDU then close" {
				f.kill() // a close after the write: TCP hands over the bytes first
			}
			if !c.closes {
				// The leg survives: once it has handled the garbage, the held
				// requests get their real answers.
				testutil.Eventually(t, 5*time.Second, "the proxy handled "+c.name, func() bool {
					if c.answer != nil {
						f.mu.Lock()
						defer f.mu.Unlock()
						return len(f.stray) > 0
					}
					return promtest.ToFloat64(e.m.late.WithLabelValues(legUpstream)) >= 1
				})
				f.release(nil, false)
			}
			rs := col.wait(t, 10, 5*time.Second)
			exactlyOnce(t, seqs, rs)
			for _, r := range rs {
				switch {
				case c.closes && r.Status != pdu.StatusSysErr:
					t.Fatalf("leg dropped: %+v, want 0x08", r)
				case !c.closes && (r.Status != 0 || r.MessageID != "id-"+texts[r.Seq]):
					t.Fatalf("leg kept: %+v for %q", r, texts[r.Seq])
				}
			}
			if delivered.Load() != 0 {
				t.Fatal("garbage reached the peer as a deliver_sm")
			}
			f.mu.Lock()
			strays := append([]stray(nil), f.stray...)
			f.mu.Unlock()
			if w := c.answer; w != nil {
				ok := len(strays) == 1 && strays[0].id == w.id && (strays[0].seq == w.seq || w.seq == 0xFFFFFFFF) &&
					(strays[0].st == w.st || w.st == 0xFFFFFFFF && strays[0].st != 0)
				if !ok {
					t.Fatalf("SMSC got %+v, want one %+v", strays, *w)
				}
			} else if len(strays) != 0 {
				t.Fatalf("SMSC got answers %+v to nothing it sent", strays)
			}
			e.waitReady()
			f.mode.Store(answerNow)
			testutil.Eventually(t, 5*time.Second, "traffic after garbage", func() bool {
				r, err := cl.Do(ctx5s(t), submit("after"))
				return err == nil && r.Status == 0
			})
			if cl.Unmatched() != 0 {
				t.Fatal("garbage reached the peer as a response")
			}
			checkHeap(64 << 20)
		})
	}
}

// Responses come back reversed or shuffled, each twice; the peer answers
// deliver_sm out of order and twice too.
func TestFaultReorderedAndDuplicated(t *testing.T) {
	checkHeap := heapGuard(t)
	f := newFaultSMSC(t)
	f.mode.Store(answerHold)
	e := faultProxy(t, f, nil, 100, 100)
	var mu sync.Mutex
	var dlvs []pdu.PDU
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", NoAutoRespond: true, OnDeliver: func(p pdu.PDU) pdu.Status {
		mu.Lock()
		dlvs = append(dlvs, append(pdu.PDU(nil), p...))
		mu.Unlock()
		return 0
	}})
	for round, order := range []func([]heldReq){
		func(h []heldReq) { sort.Slice(h, func(i, j int) bool { return h[i].seq > h[j].seq }) },
		func(h []heldReq) { rand.Shuffle(len(h), func(i, j int) { h[i], h[j] = h[j], h[i] }) },
	} {
		col := newCollector(50)
		seqs, texts := sendN(t, cl, col, fmt.Sprintf("r%d", round), 50)
		testutil.Eventually(t, 5*time.Second, "50 held", func() bool { _, h, _ := f.stats(); return h == 50 })
		f.release(order, true)
		rs := col.wait(t, 50, 5*time.Second)
		exactlyOnce(t, seqs, rs)
		for _, r := range rs {
			if r.Status != 0 || r.MessageID != "id-"+texts[r.Seq] {
				t.Fatalf("%+v answered with the wrong message id (sent %q)", r, texts[r.Seq])
			}
		}
	}
	testutil.Eventually(t, 5*time.Second, "duplicates dropped", func() bool { return promtest.ToFloat64(e.m.late.WithLabelValues(legUpstream)) == 100 })
	for i := 0; i < 20; i++ {
		f.deliver(fmt.Sprintf("mo-%d", i))
	}
	testutil.Eventually(t, 5*time.Second, "20 deliver_sm at the peer", func() bool { mu.Lock(); defer mu.Unlock(); return len(dlvs) == 20 })
	mu.Lock()
	got := dlvs
	mu.Unlock()
	rand.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
	for _, p := range got {
		f.peerAck(p)
		resp := pdu.AppendResp(nil, pdu.DeliverSM, 0, p.Seq(), "")
		_ = cl.Write(append(resp, resp...)) // answered twice
	}
	testutil.Eventually(t, 5*time.Second, "deliver_sm answered", func() bool { return f.answers() == 20 })
	testutil.Consistently(t, 20*time.Millisecond, "each deliver_sm answered once", func() bool { return f.answers() == 20 })
	f.checkDeliveries(0)
	if cl.Unmatched() != 0 {
		t.Fatal("duplicate reached the peer")
	}
	checkHeap(64 << 20)
}

// The peer writes far more than its window without waiting: the proxy
// stops reading, the SMSC never sees more than the window, every request
// is answered once, and memory stays bounded.
func TestFaultDownstreamFloodsPastWindow(t *testing.T) {
	checkHeap := heapGuard(t)
	f := newFaultSMSC(t)
	f.mode.Store(answerTick)
	e := faultProxy(t, f, nil, 8, 100)
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", SkipMessageID: true})
	const n = 3000
	col := newCollector(n)
	var seqs []uint32
	for i := 0; i < n; i++ {
		s, err := cl.Queue(submit("flood"), col.cb)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
		if i%500 == 499 {
			cl.Flush()
		}
	}
	cl.Flush()
	rs := col.wait(t, n, 30*time.Second)
	exactlyOnce(t, seqs, rs)
	allStatus(t, rs, 0)
	if _, _, maxOut := f.stats(); maxOut > 8 {
		t.Fatalf("%d requests in flight at the SMSC; the peer's window is 8", maxOut)
	}
	checkHeap(64 << 20)
}

// The peer vanishes with MT in flight and deliver_sm it has not answered.
func TestFaultDownstreamDisconnects(t *testing.T) {
	checkHeap := heapGuard(t)
	f := newFaultSMSC(t)
	f.mode.Store(answerHold)
	e := faultProxy(t, f, nil, 100, 100)
	var got atomic.Int32
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", NoAutoRespond: true,
		OnDeliver: func(pdu.PDU) pdu.Status { got.Add(1); return 0 }})
	col := newCollector(20)
	seqs, _ := sendN(t, cl, col, "gone", 20)
	testutil.Eventually(t, 5*time.Second, "20 at the SMSC", func() bool { r, _, _ := f.stats(); return r == 20 })
	for i := 0; i < 10; i++ {
		f.deliver(fmt.Sprintf("mo-%d", i))
	}
	testutil.Eventually(t, 5*time.Second, "10 deliver_sm at the peer", func() bool { return got.Load() == 10 })
	cl.Close()
	// The client itself reports its unanswered requests as cut off.
	rs := col.wait(t, 20, 5*time.Second)
	exactlyOnce(t, seqs, rs)
	testutil.Eventually(t, 5*time.Second, "SMSC told to retry", func() bool { return f.answers() == 10 })
	f.checkDeliveries(int(pdu.StatusXTAppn))
	f.release(nil, false) // answers for a peer that is gone (written while its socket may take them: a half-close)
	testutil.Eventually(t, 5*time.Second, "answers for the gone peer settled", func() bool { return e.m.inflightUp.Load() == 0 })
	testutil.Eventually(t, 5*time.Second, "session gone", func() bool { return promtest.ToFloat64(e.m.sessions.WithLabelValues(legDownstream)) == 0 })
	// Others still get served.
	f.mode.Store(answerNow)
	other := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
	if r, err := other.Do(ctx5s(t), submit("still here")); err != nil || r.Status != 0 {
		t.Fatalf("after the peer vanished: %v %+v", err, r)
	}
	checkHeap(64 << 20)
}

const (
	policyA = "version: 1\ndefault: allow\nrules:\n  - {id: probe, when: 'msg.text_norm == \"blockme\"', action: block}\n"
	policyB = "version: 1\ndefault: allow\nrules:\n  - {id: probe, when: 'msg.text_norm == \"blockme\"', action: block}\n  - {id: other, when: 'msg.text_norm == \"never sent\"', action: block}\n"
)

// Policies are swapped (and a broken one refused) while two peers send:
// every request is answered once and no message is judged without a
// policy. filter/pipeline's TestReloadUnderLoad runs the shipped policy.
func TestFaultRulesReloadUnderLoad(t *testing.T) {
	checkHeap := heapGuard(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(file, []byte(policyA), 0o600); err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t)
	engine, err := rules.NewEngine(file, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := pipeline.New(pipeline.Options{Engine: engine, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chain.Close)
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {}}, Peers: []*Peer{{SystemID: "a"}, {SystemID: "b"}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{Keep: -1}, cfg, chain)
	e.waitReady()
	stop := make(chan struct{})
	var reloads sync.WaitGroup
	reloads.Add(1)
	go func() {
		defer reloads.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			text := []string{policyA, policyB, "version: 1\nrules: [{id: broken}]\n"}[i%3]
			_ = os.WriteFile(file, []byte(text), 0o600)
			_ = engine.Reload()
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for _, peer := range []string{"a", "b"} {
		cl := e.dial(esme.Options{SystemID: peer})
		wg.Add(1)
		go func() {
			defer wg.Done()
			const n = 1000
			col := newCollector(n)
			var seqs []uint32
			blocked := map[uint32]bool{}
			for i := 0; i < n; i++ {
				text := fmt.Sprintf("hello %d", i)
				if i%10 == 0 {
					text = "BlockMe"
				}
				s, err := cl.Send(submit(text), col.cb)
				if err != nil {
					t.Error(err)
					return
				}
				seqs = append(seqs, s)
				blocked[s] = i%10 == 0
			}
			rs := col.wait(t, n, 20*time.Second)
			exactlyOnce(t, seqs, rs)
			for _, r := range rs {
				want := pdu.StatusOK
				if blocked[r.Seq] {
					want = pdu.StatusSubmitFail
				}
				if r.Err != nil || r.Status != want {
					t.Errorf("peer %s seq %d: %+v, want %v", peer, r.Seq, r, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	reloads.Wait()
	if n := engine.Snapshot(); n == nil {
		t.Fatal("no policy in force")
	}
	checkHeap(64 << 20)
}

// Shutdown (what SIGTERM calls) while peers send and the SMSC delivers:
// every request written before Shutdown began gets exactly one real
// response (relayed, or 0x58 while draining); nothing is acked to the
// SMSC before the peer acked it; Shutdown ends in time and leaves nothing.
func TestFaultShutdownUnderLoad(t *testing.T) {
	checkHeap := heapGuard(t)
	f := newFaultSMSC(t)
	f.mode.Store(answerTick)
	e := faultProxy(t, f, &Config{DrainTimeout: 3 * time.Second}, 50, 100)
	var shuttingDown atomic.Bool
	type tally struct {
		mu     sync.Mutex
		before map[uint32]bool
		got    map[uint32][]esme.Resp
	}
	var clients sync.WaitGroup
	tallies := make([]*tally, 3)
	for i := range tallies {
		tl := &tally{before: map[uint32]bool{}, got: map[uint32][]esme.Resp{}}
		tallies[i] = tl
		cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", SkipMessageID: true, OnDeliver: func(p pdu.PDU) pdu.Status {
			f.peerAck(p)
			return 0
		}})
		clients.Add(1)
		go func() {
			defer clients.Done()
			cb := func(r esme.Resp) {
				tl.mu.Lock()
				tl.got[r.Seq] = append(tl.got[r.Seq], r)
				tl.mu.Unlock()
			}
			for j := 0; j < 20000; j++ {
				select {
				case <-cl.Done():
					return
				default:
				}
				s, err := cl.Send(submit("load"), cb)
				if err != nil {
					return
				}
				if !shuttingDown.Load() {
					tl.mu.Lock()
					tl.before[s] = true
					tl.mu.Unlock()
				}
				if j%20 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	var mos sync.WaitGroup
	mos.Add(1)
	go func() {
		defer mos.Done()
		for i := 0; i < 50 && !shuttingDown.Load(); i++ {
			f.deliver(fmt.Sprintf("mo-%d", i))
			time.Sleep(2 * time.Millisecond)
		}
	}()
	testutil.Eventually(t, 5*time.Second, "load flowing", func() bool { r, _, _ := f.stats(); return r > 500 })
	shuttingDown.Store(true)
	mos.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	clients.Wait()
	statuses := map[pdu.Status]int{}
	for i, tl := range tallies {
		tl.mu.Lock()
		for _, rs := range tl.got {
			if rs[0].Err == nil {
				statuses[rs[0].Status]++
			}
		}
		for seq, rs := range tl.got {
			if len(rs) > 1 {
				t.Errorf("client %d seq %d answered %d times", i, seq, len(rs))
			}
		}
		for seq := range tl.before {
			rs := tl.got[seq]
			if len(rs) != 1 || rs[0].Err != nil {
				t.Errorf("client %d seq %d sent before shutdown: %+v", i, seq, rs)
				continue
			}
			if st := rs[0].Status; st != 0 && st != pdu.StatusThrottled && st != pdu.StatusSysErr {
				t.Errorf("client %d seq %d: status %v", i, seq, st)
			}
		}
		tl.mu.Unlock()
	}
	t.Logf("answers by status during the shutdown run: %v; deliver_sm answered: %d", statuses, f.answers())
	f.checkDeliveries(-1)
	checkHeap(64 << 20)
}

// Shutdown whose drain times out (the SMSC never answers): the requests
// still in flight are answered 0x08 before the peer is unbound.
func TestFaultShutdownDrainTimeout(t *testing.T) {
	checkHeap := heapGuard(t)
	f := newFaultSMSC(t)
	f.mode.Store(answerNever)
	e := faultProxy(t, f, &Config{DrainTimeout: 100 * time.Millisecond}, 100, 100)
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
	col := newCollector(30)
	seqs, _ := sendN(t, cl, col, "stuck", 30)
	testutil.Eventually(t, 5*time.Second, "30 at the SMSC", func() bool { r, _, _ := f.stats(); return r == 30 })
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs := col.wait(t, 30, 5*time.Second)
	exactlyOnce(t, seqs, rs)
	allStatus(t, rs, pdu.StatusSysErr)
	checkHeap(64 << 20)
}

// A peer with a full window of unanswered deliver_sm: further ones wait
// in the session's queue (the SMSC is not answered meanwhile), the leg
// keeps relaying MT answers, and a delivery that waited response_timeout
// is answered 0x58 (the SMSC retries), never refused at once.
func TestFaultDeliveryWindowFull(t *testing.T) {
	checkHeap := heapGuard(t)
	f := newFaultSMSC(t)
	f.mode.Store(answerNow)
	e := faultProxy(t, f, &Config{ResponseTimeout: 300 * time.Millisecond}, 2, 100)
	var got atomic.Int32
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", NoAutoRespond: true,
		OnDeliver: func(pdu.PDU) pdu.Status { got.Add(1); return 0 }})
	var seqs [4]uint32
	for i := range seqs {
		seqs[i] = f.deliver(fmt.Sprintf("mo-%d", i))
	}
	testutil.Eventually(t, 5*time.Second, "two delivered, two queued", func() bool {
		return got.Load() == 2 && promtest.ToFloat64(e.m.deliveries.WithLabelValues("acme", dlvQueued)) == 2
	})
	if n := f.answers(); n != 0 {
		t.Fatalf("SMSC answered %d deliveries while they wait", n)
	}
	if r, err := cl.Do(ctx5s(t), submit("MT meanwhile")); err != nil || r.Status != 0 {
		t.Fatalf("MT while deliveries wait: %v %+v", err, r)
	}
	testutil.Eventually(t, 5*time.Second, "all four answered at the timeout", func() bool { return f.answers() == 4 })
	f.mu.Lock()
	for _, s := range seqs[:2] {
		if a := f.dlvAnswers[s]; len(a) != 1 || a[0] != pdu.StatusXTAppn {
			t.Errorf("unanswered deliver_sm: %v, want 0x64", a)
		}
	}
	for _, s := range seqs[2:] {
		if a := f.dlvAnswers[s]; len(a) != 1 || a[0] != pdu.StatusThrottled {
			t.Errorf("deliver_sm that waited too long: %v, want 0x58", a)
		}
	}
	f.mu.Unlock()
	if got.Load() != 2 {
		t.Fatalf("peer got %d deliver_sm, window 2", got.Load())
	}
	f.checkDeliveries(-1)
	checkHeap(64 << 20)
}

// A burst of deliveries far beyond a peer's window, toward a peer that
// answers them: every one is delivered and acknowledged to the SMSC,
// none refused (the direct path would carry them all).
func TestFaultDeliveryBurstBeyondWindow(t *testing.T) {
	f := newFaultSMSC(t)
	f.mode.Store(answerNow)
	e := faultProxy(t, f, nil, 10, 100)
	var got atomic.Int32
	e.dial(esme.Options{SystemID: "acme", Password: "pw", OnDeliver: func(p pdu.PDU) pdu.Status { f.peerAck(p); got.Add(1); return 0 }})
	const n = 3000 // node-smpp as an SMSC bursts this many without a window of its own
	for i := 0; i < n; i++ {
		f.deliver(fmt.Sprintf("mo-%d", i))
	}
	testutil.Eventually(t, 5*time.Second, "every delivery answered", func() bool { return f.answers() == n })
	if got.Load() != n {
		t.Fatalf("peer got %d of %d", got.Load(), n)
	}
	f.checkDeliveries(0)
}
