package proxy

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/yamlx"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

func ctx5s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Relayed bytes are the original bytes; only the sequence number changes.
func TestPassThroughByteExact(t *testing.T) {
	var mu sync.Mutex
	var seen [][]byte
	e := start(t, sim.Config{OnPDU: func(_ string, p pdu.PDU) {
		if p.ID() == pdu.SubmitSM {
			mu.Lock()
			seen = append(seen, append([]byte(nil), p...))
			mu.Unlock()
		}
	}}, nil, nil)
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
	// vendor TLV, odd data_coding, zero-length TLV, a sequence number above 0x7FFFFFFF.
	raw := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{Src: "12345", Dst: "4915112345678",
		DataCoding: 0xF7, ShortMessage: []byte{0xde, 0xad},
		TLVs: append(pdu.AppendTLV(nil, 0x1401, []byte("vendor")), pdu.AppendTLV(nil, 0x3FFF, nil)...)})
	orig := append([]byte(nil), raw...)
	// Bypass the client's allocator to use a high sequence number.
	ch := make(chan esme.Resp, 1)
	if _, err := cl.Send(raw, func(r esme.Resp) { ch <- r }); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.Status != 0 || r.MessageID == "" {
		t.Fatalf("resp %+v", r)
	}
	mu.Lock()
	got := seen[0]
	mu.Unlock()
	if !bytes.Equal(got[:12], orig[:12]) || !bytes.Equal(got[16:], orig[16:]) {
		t.Fatalf("relayed bytes differ:\n got %x\nwant %x", got, orig)
	}
	// Echo a high sequence number exactly.
	hi := submit("hi")
	pdu.PDU(hi).SetSeq(0xFFFFFFF0)
	if err := cl.Write(hi); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "the unsolicited PDU seen", func() bool { return cl.Unmatched() == 1 }) // our client did not send it via Send
	e.m.fold()
	if v := promtest.ToFloat64(e.m.pdus.WithLabelValues(legDownstream, dirIn, "submit_sm")); v != 2 {
		t.Fatalf("submit_sm in = %v", v)
	}
}

func TestPassThroughBindAnswerIsSMSCAnswer(t *testing.T) {
	e := start(t, sim.Config{Accounts: map[string]string{"acme": "secret"}}, nil, nil)
	for _, c := range []struct {
		sys, pw string
		want    pdu.Status
	}{{"acme", "wrong", pdu.StatusInvPaswd}, {"nobody", "x", pdu.StatusInvSysID}, {"acme", "secret", 0}} {
		cl, err := esme.Dial(ctx5s(t), e.addr, esme.Options{SystemID: c.sys, Password: c.pw})
		var be *esme.BindError
		switch {
		case c.want == 0 && err != nil:
			t.Fatalf("%s: %v", c.sys, err)
		case c.want == 0:
			cl.Close()
		case !asBindError(err, &be) || be.Status != c.want:
			t.Fatalf("%s/%s: got %v want %v", c.sys, c.pw, err, c.want)
		}
	}
}

func asBindError(err error, be **esme.BindError) bool {
	b, ok := err.(*esme.BindError)
	if ok {
		*be = b
	}
	return ok
}

func TestEveryRequestAnsweredOnUpstreamDrop(t *testing.T) {
	e := start(t, sim.Config{Latency: 300 * time.Millisecond}, nil, nil)
	cl := e.dial(esme.Options{})
	col := newCollector(50)
	var seqs []uint32
	for i := 0; i < 50; i++ {
		s, err := cl.Send(submit("m"), col.cb)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	testutil.Eventually(t, 2*time.Second, "50 messages at the SMSC", func() bool { return e.sim.Stats().Messages == 50 })
	e.sim.DropConnections()
	rs := col.wait(t, 50, 3*time.Second)
	exactlyOnce(t, seqs, rs)
	for _, r := range rs {
		if r.Err == nil && r.Status != pdu.StatusSysErr {
			t.Fatalf("want 0x08 after upstream loss, got %+v", r)
		}
	}
	if cl.Unmatched() != 0 {
		t.Fatal("unmatched responses")
	}
}

func TestSlowUpstreamTimesOutAndDropsLateAnswers(t *testing.T) {
	cfg := &Config{ResponseTimeout: 150 * time.Millisecond}
	e := start(t, sim.Config{Latency: 400 * time.Millisecond}, cfg, nil)
	cl := e.dial(esme.Options{})
	col := newCollector(20)
	var seqs []uint32
	for i := 0; i < 20; i++ {
		s, _ := cl.Send(submit("slow"), col.cb)
		seqs = append(seqs, s)
	}
	rs := col.wait(t, 20, 3*time.Second)
	exactlyOnce(t, seqs, rs)
	for _, r := range rs {
		if r.Status != pdu.StatusSysErr {
			t.Fatalf("want timeout 0x08, got %+v", r)
		}
	}
	testutil.Eventually(t, 2*time.Second, "20 late answers counted", func() bool { return promtest.ToFloat64(e.m.late.WithLabelValues(legUpstream)) == 20 })
	if v := promtest.ToFloat64(e.m.timeouts.WithLabelValues(legUpstream)); v != 20 {
		t.Fatalf("timeouts = %v", v)
	}
	if cl.Unmatched() != 0 {
		t.Fatal("late answers leaked to the peer")
	}
}

func TestMOReachesPeerAndIsAckedOnlyAfterPeer(t *testing.T) {
	e := start(t, sim.Config{}, nil, nil)
	got := make(chan string, 1)
	release := make(chan struct{})
	cl := e.dial(esme.Options{SystemID: "app", OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		_ = pdu.ParseMessage(p, &m)
		got <- string(m.Src.Addr)
		<-release
		return pdu.StatusXRAppn // the peer's own answer must reach the SMSC
	}})
	_ = cl
	res := make(chan pdu.Status, 1)
	go func() {
		st, err := e.sim.InjectMO(context.Background(), sim.MO{From: "4917600000001", To: "12345", Text: "hello"})
		if err != nil {
			t.Error(err)
		}
		res <- st
	}()
	if from := <-got; from != "4917600000001" {
		t.Fatalf("from %q", from)
	}
	select {
	case <-res:
		t.Fatal("SMSC acked before the peer answered")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if st := <-res; st != pdu.StatusXRAppn {
		t.Fatalf("SMSC got %v", st)
	}
}

func TestDownstreamDropAnswersSMSC(t *testing.T) {
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {}}, Peers: []*Peer{{SystemID: "app", Password: "pw"}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	// Nobody bound: temporary error so the SMSC retries.
	st, err := e.sim.InjectMO(ctx5s(t), sim.MO{From: "491", To: "123", Text: "x"})
	if err != nil || st != pdu.StatusXTAppn {
		t.Fatalf("no peer: %v %v", st, err)
	}
	delivered := make(chan struct{}, 1)
	cl := e.dial(esme.Options{SystemID: "app", Password: "pw", NoAutoRespond: true,
		OnDeliver: func(pdu.PDU) pdu.Status { delivered <- struct{}{}; return 0 }})
	res := make(chan pdu.Status, 1)
	go func() {
		st, _ := e.sim.InjectMO(context.Background(), sim.MO{From: "491", To: "123", Text: "y"})
		res <- st
	}()
	<-delivered
	cl.Close()
	select {
	case st := <-res:
		if st != pdu.StatusXTAppn {
			t.Fatalf("SMSC got %v, want 0x64", st)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("SMSC never answered")
	}
}

func mustValidate(t testing.TB, c *Config) {
	t.Helper()
	if err := c.Validate(yamlx.At{File: "test", Lines: yamlx.Lines{}}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigModeBinds(t *testing.T) {
	cfg := &Config{
		Upstreams: map[string]*Upstream{"smsc": {SystemID: "op", Password: "oppw", Sessions: 2}},
		Peers: []*Peer{
			{SystemID: "acme", Password: "pw", Class: "a2p", MaxSessions: 1},
			{SystemID: "far", Password: "pw", AllowedCIDRs: []string{"10.0.0.0/8"}},
		},
	}
	mustValidate(t, cfg)
	e := start(t, sim.Config{Accounts: map[string]string{"op": "oppw"}}, cfg, nil)
	e.waitReady()
	cases := []struct {
		sys, pw string
		want    pdu.Status
	}{
		{"nobody", "pw", pdu.StatusInvSysID},
		{"acme", "bad", pdu.StatusInvPaswd},
		{"far", "pw", pdu.StatusBindFail},
	}
	for _, c := range cases {
		_, err := esme.Dial(ctx5s(t), e.addr, esme.Options{SystemID: c.sys, Password: c.pw})
		var be *esme.BindError
		if !asBindError(err, &be) || be.Status != c.want {
			t.Fatalf("%s/%s: %v, want %v", c.sys, c.pw, err, c.want)
		}
	}
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
	// Second session over the limit.
	if _, err := esme.Dial(ctx5s(t), e.addr, esme.Options{SystemID: "acme", Password: "pw"}); err == nil {
		t.Fatal("session limit not enforced")
	}
	// Bind again on a bound session: ESME_RALYBND.
	r, err := cl.Do(ctx5s(t), pdu.AppendBind(nil, pdu.BindTransceiver, 0, pdu.BindFields{SystemID: "acme", Password: "pw"}))
	if err != nil || r.Status != pdu.StatusAlyBnd {
		t.Fatalf("rebind: %v %+v", err, r)
	}
	r, err = cl.Do(ctx5s(t), submit("hello"))
	if err != nil || r.Status != 0 || r.MessageID == "" {
		t.Fatalf("submit: %v %+v", err, r)
	}
	msgs := e.sim.Messages()
	if len(msgs) != 1 || msgs[0].SystemID != "op" || msgs[0].Text != "hello" {
		t.Fatalf("sim saw %+v", msgs)
	}
}

func TestUpstreamReconnects(t *testing.T) {
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {}}, Peers: []*Peer{{SystemID: "acme"}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	cl := e.dial(esme.Options{SystemID: "acme"})
	e.sim.DropConnections()
	testutil.Eventually(t, 5*time.Second, "sessions reconnected", func() bool {
		r, err := cl.Do(ctx5s(t), submit("again"))
		return err == nil && r.Status == 0
	})
	if v := promtest.ToFloat64(e.m.reconnects.WithLabelValues("smsc")); v < 1 {
		t.Fatalf("reconnects = %v", v)
	}
}

func TestWindowBackPressure(t *testing.T) {
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {Window: 5}}, Peers: []*Peer{{SystemID: "acme", Window: 50}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	e.sim.Stall(true)
	cl := e.dial(esme.Options{SystemID: "acme"})
	col := newCollector(30)
	for i := 0; i < 30; i++ {
		if _, err := cl.Send(submit("w"), col.cb); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 2*time.Second, "five messages at the SMSC", func() bool { return e.sim.Stats().Messages == 5 })
	testutil.Consistently(t, 200*time.Millisecond, "no more than the window upstream", func() bool { return e.sim.Stats().Messages == 5 })
	if n := e.sim.Stats().Messages; n != 5 {
		t.Fatalf("upstream saw %d in flight, window is 5", n)
	}
	e.sim.Stall(false)
	// The stalled five are never answered: the proxy times them out (default 30s is too long
	// for a test), so close the proxy: every request must still get exactly one answer.
	_ = e.srv.Close()
	rs := col.wait(t, 30, 5*time.Second)
	if len(rs) != 30 {
		t.Fatal("missing responses")
	}
}

func TestVerdictActions(t *testing.T) {
	insp := filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		switch string(r.Msg.Payload()) {
		case "reject":
			return filter.Verdict{Action: filter.Reject, RuleID: "r1"}, nil
		case "reject-src":
			return filter.Verdict{Action: filter.Reject, Status: pdu.StatusInvSrcAdr}, nil
		case "throttle":
			return filter.Verdict{Action: filter.Throttle}, nil
		case "drop":
			return filter.Verdict{Action: filter.Drop, Receipt: filter.ReceiptDelivered}, nil
		case "flag":
			return filter.Verdict{Action: filter.Flag, RuleID: "f1"}, nil
		case "broken":
			return filter.Verdict{}, net.ErrClosed
		}
		return filter.AllowVerdict, nil
	})
	e := start(t, sim.Config{}, &Config{DropReceiptDelay: 50 * time.Millisecond}, insp)
	receipts := make(chan string, 1)
	cl := e.dial(esme.Options{OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		_ = pdu.ParseMessage(p, &m)
		if m.IsReceipt() {
			receipts <- string(m.Payload())
		}
		return 0
	}})
	cases := []struct {
		text    string
		status  pdu.Status
		relayed bool
	}{
		{"reject", pdu.StatusSubmitFail, false},
		{"reject-src", pdu.StatusInvSrcAdr, false},
		{"throttle", pdu.StatusThrottled, false},
		{"drop", 0, false},
		{"flag", 0, true},
		{"broken", 0, true}, // fail open by default
		{"fine", 0, true},
	}
	for _, c := range cases {
		before := e.sim.Stats().Messages
		raw := submit(c.text)
		raw[len(raw)-len(c.text)-5] = 1 // registered_delivery
		r, err := cl.Do(ctx5s(t), raw)
		if err != nil || r.Status != c.status {
			t.Fatalf("%s: %v %+v", c.text, err, r)
		}
		if relayed := e.sim.Stats().Messages > before; relayed != c.relayed {
			t.Fatalf("%s: relayed=%v", c.text, relayed)
		}
		if c.text == "drop" {
			if r.MessageID == "" {
				t.Fatal("drop must answer with a message_id")
			}
			select {
			case rc := <-receipts:
				if !strings.Contains(rc, "id:"+r.MessageID+" ") || !strings.Contains(rc, "stat:DELIVRD") {
					t.Fatalf("receipt %q", rc)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("no fake receipt")
			}
		}
	}
	if v := promtest.ToFloat64(e.m.filterErrs); v != 1 {
		t.Fatalf("filter errors %v", v)
	}
}

func TestMalformedFromPeer(t *testing.T) {
	e := start(t, sim.Config{}, nil, nil)
	cl := e.dial(esme.Options{})
	badTLV := submit("x")
	badTLV = append(badTLV, 0x14, 0x01, 0x00, 0x10, 1)
	pdu.PDU(badTLV).SetSeq(0)
	fixLen(badTLV)
	r, err := cl.Do(ctx5s(t), badTLV)
	if err != nil || r.Status != pdu.StatusInvOptParStream {
		t.Fatalf("bad TLV: %v %+v", err, r)
	}
	r, err = cl.Do(ctx5s(t), pdu.AppendHeaderOnly(nil, 0x00000999, 0, 0))
	if err != nil || r.ID != pdu.GenericNack || r.Status != pdu.StatusInvCmdID {
		t.Fatalf("unknown command: %v %+v", err, r)
	}
	r, err = cl.Do(ctx5s(t), pdu.AppendHeaderOnly(nil, pdu.EnquireLink, 0, 0))
	if err != nil || r.ID != pdu.EnquireLinkResp {
		t.Fatalf("enquire_link: %v %+v", err, r)
	}
	// A receiver may not submit.
	rx := e.dial(esme.Options{Bind: pdu.BindReceiver})
	r, err = rx.Do(ctx5s(t), submit("x"))
	if err != nil || r.Status != pdu.StatusInvBndSts {
		t.Fatalf("receiver submit: %v %+v", err, r)
	}
	// Oversized command_length: generic_nack 0x02 then close.
	huge := pdu.AppendHeaderOnly(nil, pdu.SubmitSM, 0, 0)
	huge[0] = 0x7F
	ch := make(chan esme.Resp, 1)
	_, _ = cl.Send(huge, func(r esme.Resp) { ch <- r })
	rr := <-ch
	if rr.ID != pdu.GenericNack || rr.Status != pdu.StatusInvCmdLen {
		t.Fatalf("oversized: %+v", rr)
	}
	<-cl.Done()
	// The proxy is still serving others.
	other := e.dial(esme.Options{})
	if r, err := other.Do(ctx5s(t), submit("ok")); err != nil || r.Status != 0 {
		t.Fatalf("after hostile peer: %v %+v", err, r)
	}
}

func fixLen(b []byte) {
	b[0], b[1], b[2], b[3] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
}

func TestUnboundPeerAndBindTimeout(t *testing.T) {
	e := start(t, sim.Config{}, &Config{BindTimeout: 200 * time.Millisecond}, nil)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = nc.Write(pdu.AppendSM(nil, pdu.SubmitSM, 3, &pdu.SMFields{Src: "1", Dst: "2"}))
	rd := pdu.NewReader(nc, 0)
	p, err := rd.Next()
	if err != nil || p.ID() != pdu.SubmitSMResp || p.Status() != pdu.StatusInvBndSts || p.Seq() != 3 {
		t.Fatalf("unbound submit: %v %v", err, p)
	}
	_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := rd.Next(); err == nil {
		t.Fatal("connection that never binds must be closed")
	}
}

func TestIdlePeerGetsEnquireLinkAndDeadPeerIsClosed(t *testing.T) {
	cfg := &Config{EnquireLinkInterval: 50 * time.Millisecond, InactivityTimeout: 300 * time.Millisecond}
	e := start(t, sim.Config{}, cfg, nil)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = nc.Write(pdu.AppendBind(nil, pdu.BindTransceiver, 1, pdu.BindFields{SystemID: "mute"}))
	rd := pdu.NewReader(nc, 0)
	_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	sawEnquire := false
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		if p.ID() == pdu.EnquireLink {
			sawEnquire = true
		}
	}
	if !sawEnquire {
		t.Fatal("no enquire_link on an idle session")
	}
	testutil.Eventually(t, 2*time.Second, "no downstream session left", func() bool { return promtest.ToFloat64(e.m.sessions.WithLabelValues(legDownstream)) == 0 })
}

func TestGracefulShutdownDrains(t *testing.T) {
	e := start(t, sim.Config{Latency: 200 * time.Millisecond}, nil, nil)
	cl := e.dial(esme.Options{})
	col := newCollector(10)
	for i := 0; i < 10; i++ {
		_, _ = cl.Send(submit("drain"), col.cb)
	}
	testutil.Eventually(t, 2*time.Second, "ten messages at the SMSC", func() bool { return e.sim.Stats().Messages == 10 })
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(context.Background()) }()
	rs := col.wait(t, 10, 3*time.Second)
	for _, r := range rs {
		if r.Status != 0 || r.MessageID == "" {
			t.Fatalf("in-flight not drained: %+v", r)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-cl.Done(): // unbound by the proxy
	case <-time.After(3 * time.Second):
		t.Fatal("peer not unbound at shutdown")
	}
}

func TestOutOfOrderResponses(t *testing.T) {
	// Random latency per message makes the SMSC answer out of order.
	e := start(t, sim.Config{}, nil, nil)
	cl := e.dial(esme.Options{})
	col := newCollector(200)
	var seqs []uint32
	for i := 0; i < 200; i++ {
		if i == 100 {
			e.sim.SetLatency(20 * time.Millisecond)
		}
		s, _ := cl.Send(submit("o"), col.cb)
		seqs = append(seqs, s)
	}
	rs := col.wait(t, 200, 5*time.Second)
	exactlyOnce(t, seqs, rs)
	if e.sim.Stats().Duplicates != 0 {
		t.Fatal("proxy reused an in-flight sequence number upstream")
	}
}
