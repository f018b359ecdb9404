package proxy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fsmpp "github.com/fiorix/go-smpp/smpp"
	fpdu "github.com/fiorix/go-smpp/smpp/pdu"
	fpdufield "github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	fpdutext "github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Tests of the "inline without harm" guarantees: long messages from
// stop-and-wait clients, deliveries beyond a peer's window, unbind and
// half-close with requests in flight, inspector panics, message ids.

// rdSegment is segment part/total with a receipt requested on the last part.
func rdSegment(ref, total, part byte, text string) []byte {
	ud := append([]byte{5, 0, 3, ref, total, part}, text...)
	rd := byte(0)
	if part == total {
		rd = 1
	}
	return pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 1, Src: "4917600000001", DstTON: 1, Dst: "4915112345678",
		ESMClass: pdu.ESMUDHI, DataCoding: 8, ShortMessage: ud, RegisteredDelivery: rd})
}

// recorder keeps what the SMSC received, per text, to compare bytes.
type recorder struct {
	mu   sync.Mutex
	pdus [][]byte
}

func (r *recorder) onPDU(_ string, p pdu.PDU) {
	if p.ID() != pdu.SubmitSM {
		return
	}
	r.mu.Lock()
	r.pdus = append(r.pdus, append([]byte(nil), p...))
	r.mu.Unlock()
}

func (r *recorder) n() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.pdus) }

// sameExceptSeq compares two PDUs ignoring the sequence number.
func sameExceptSeq(a, b []byte) bool {
	return len(a) == len(b) && bytes.Equal(a[:12], b[:12]) && bytes.Equal(a[16:], b[16:])
}

// A client that sends part 2 only after part 1's answer, with a 1 s
// timeout per part (fiorix/go-smpp's SubmitLongMsg does this): every part
// is answered at once, the SMSC gets every part whole and unchanged, and
// the last part's receipt reaches the peer under the id it was given.
func TestLongMessageStopAndWait(t *testing.T) {
	var rec recorder
	var sn seen
	e := start(t, sim.Config{OnPDU: rec.onPDU, ReceiptDelay: 50 * time.Millisecond}, nil, sn.inspector(""))
	receipts := make(chan string, 16)
	cl := e.dial(esme.Options{OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() {
			receipts <- string(m.ReceiptID())
		}
		return 0
	}})
	const messages = 20
	var sent [][]byte
	var lastIDs []string
	start := time.Now()
	for msg := 0; msg < messages; msg++ {
		for part := byte(1); part <= 3; part++ {
			raw := rdSegment(byte(msg), 3, part, fmt.Sprintf("part %d of message %d ", part, msg))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			r, err := cl.Do(ctx, raw)
			cancel()
			if err != nil || r.Status != 0 || r.MessageID == "" {
				t.Fatalf("message %d part %d: %v %+v", msg, part, err, r)
			}
			sent = append(sent, raw)
			if part == 3 {
				lastIDs = append(lastIDs, r.MessageID)
			}
		}
	}
	t.Logf("%d three-part messages stop-and-wait in %v", messages, time.Since(start))
	testutil.Eventually(t, 5*time.Second, "every part at the SMSC", func() bool { return rec.n() == len(sent) })
	rec.mu.Lock()
	for _, want := range sent {
		found := 0
		for _, got := range rec.pdus {
			if sameExceptSeq(want, got) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("part %q reached the SMSC %d times", want[len(want)-20:], found)
		}
	}
	rec.mu.Unlock()
	sn.mu.Lock()
	for _, inc := range sn.inc {
		if inc {
			t.Errorf("a message was judged incomplete")
		}
	}
	if sn.mt != messages { // receipts are inspected too, and some may have come already
		t.Errorf("inspected %d times, want once per message (%d)", sn.mt, messages)
	}
	sn.mu.Unlock()
	want := map[string]bool{}
	for _, id := range lastIDs {
		want[id] = true
	}
	for i := 0; i < messages; i++ {
		select {
		case id := <-receipts:
			if !want[id] {
				t.Fatalf("receipt for %q, an id the peer was never given", id)
			}
			delete(want, id)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d receipts missing", len(want))
		}
	}
}

// A whole message refused: the completing part carries the status, the
// parts answered before get a REJECTD receipt when they asked for one, and
// nothing reaches the SMSC.
func TestLongMessageRejectedWhole(t *testing.T) {
	var rec recorder
	insp := filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		if len(r.Parts) > 1 {
			return filter.Verdict{Action: filter.Reject, Status: pdu.StatusXRAppn}, nil
		}
		return filter.AllowVerdict, nil
	})
	e := start(t, sim.Config{OnPDU: rec.onPDU}, nil, insp)
	receipts := make(chan string, 4)
	cl := e.dial(esme.Options{OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() && strings.Contains(string(m.Payload()), "stat:REJECTD") {
			receipts <- string(m.ReceiptID())
		}
		return 0
	}})
	all := func(part byte) []byte { // every part asks for a receipt
		ud := append([]byte{5, 0, 3, 9, 2, part}, "spam spam"...)
		return pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{Src: "4917600000001", Dst: "4915112345678",
			ESMClass: pdu.ESMUDHI, ShortMessage: ud, RegisteredDelivery: 1})
	}
	r1, err := cl.Do(ctx5s(t), all(1))
	if err != nil || r1.Status != 0 {
		t.Fatalf("part 1: %v %+v", err, r1)
	}
	r2, err := cl.Do(ctx5s(t), all(2))
	if err != nil || r2.Status != pdu.StatusXRAppn {
		t.Fatalf("part 2 (completing): %v %+v", err, r2)
	}
	select {
	case id := <-receipts:
		if id != r1.MessageID {
			t.Fatalf("REJECTD receipt for %q, part 1 was given %q", id, r1.MessageID)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no REJECTD receipt for the part answered before the verdict")
	}
	if rec.n() != 0 {
		t.Fatalf("SMSC got %d parts of a rejected message", rec.n())
	}
}

// Throttled whole message: the completing part gets 0x58, the earlier
// parts stay held, and the retry of that part completes the message.
func TestLongMessageThrottledThenRetried(t *testing.T) {
	var rec recorder
	var calls atomic.Int32
	insp := filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		if len(r.Parts) > 1 && calls.Add(1) == 1 {
			return filter.Verdict{Action: filter.Throttle}, nil
		}
		return filter.AllowVerdict, nil
	})
	e := start(t, sim.Config{OnPDU: rec.onPDU}, nil, insp)
	cl := e.dial(esme.Options{})
	if r, err := cl.Do(ctx5s(t), segment(4, 2, 1, "first ")); err != nil || r.Status != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	if r, err := cl.Do(ctx5s(t), segment(4, 2, 2, "second")); err != nil || r.Status != pdu.StatusThrottled {
		t.Fatalf("completing part: %v %+v", err, r)
	}
	if r, err := cl.Do(ctx5s(t), segment(4, 2, 2, "second")); err != nil || r.Status != 0 {
		t.Fatalf("retried part: %v %+v", err, r)
	}
	testutil.Eventually(t, 3*time.Second, "two parts at the SMSC", func() bool { return rec.n() == 2 })
}

// One peer filling the held budget with never-completed messages cannot
// stop another peer's long messages: its own segments get 0x58.
func TestHeldBudgetPerPeer(t *testing.T) {
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {}}, PeerHeldSegments: 10,
		Peers: []*Peer{{SystemID: "bad"}, {SystemID: "good"}}}
	mustValidate(t, cfg)
	var rec recorder
	e := start(t, sim.Config{OnPDU: rec.onPDU}, cfg, nil)
	e.waitReady()
	bad := e.dial(esme.Options{SystemID: "bad"})
	throttled := 0
	for i := 0; i < 20; i++ {
		r, err := bad.Do(ctx5s(t), segment(byte(i), 3, 1, "never completed"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == pdu.StatusThrottled {
			throttled++
		}
	}
	if throttled != 10 {
		t.Fatalf("bad peer: %d of 20 throttled, want 10 over its budget of 10", throttled)
	}
	good := e.dial(esme.Options{SystemID: "good"})
	for part := byte(1); part <= 2; part++ {
		if r, err := good.Do(ctx5s(t), segment(1, 2, part, "fine")); err != nil || r.Status != 0 {
			t.Fatalf("good peer part %d: %v %+v", part, err, r)
		}
	}
	testutil.Eventually(t, 3*time.Second, "two parts at the SMSC", func() bool { return rec.n() == 2 })
	if v := promtest.ToFloat64(e.m.segments.WithLabelValues(segOverflow)); v != 10 {
		t.Fatalf("overflow counted %v", v)
	}
}

// A peer unbinds with 20 submits in flight and the SMSC answers 500 ms
// later: each is answered with the SMSC's answer before unbind_resp.
func TestUnbindAnswersInFlightFirst(t *testing.T) {
	e := start(t, sim.Config{Latency: 500 * time.Millisecond}, nil, nil)
	cl := e.dial(esme.Options{})
	col := newCollector(20)
	var seqs []uint32
	for i := 0; i < 20; i++ {
		seq, err := cl.Send(submit(fmt.Sprintf("in flight %d", i)), col.cb)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	testutil.Eventually(t, 3*time.Second, "20 requests in flight upstream", func() bool { return e.m.inflightUp.Load() == 20 })
	unbound := make(chan esme.Resp, 1)
	if _, err := cl.Send(pdu.AppendHeaderOnly(nil, pdu.Unbind, 0, 0), func(r esme.Resp) { unbound <- r }); err != nil {
		t.Fatal(err)
	}
	rs := col.wait(t, 20, 5*time.Second)
	exactlyOnce(t, seqs, rs)
	for _, r := range rs {
		if r.Status != 0 || r.MessageID == "" {
			t.Fatalf("in-flight submit answered %+v, want the SMSC's answer", r)
		}
	}
	select {
	case r := <-unbound:
		if r.Err != nil || r.Status != 0 || r.ID != pdu.UnbindResp {
			t.Fatalf("unbind: %+v", r)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no unbind_resp")
	}
	if n := e.sim.Stats().Messages; n != 20 {
		t.Fatalf("SMSC got %d", n)
	}
}

// A peer that half-closes after its submits still reads their answers.
func TestHalfCloseGetsAnswers(t *testing.T) {
	e := start(t, sim.Config{Latency: 200 * time.Millisecond}, nil, nil)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bind := pdu.AppendBind(nil, pdu.BindTransceiver, 1, pdu.BindFields{SystemID: "half", Password: "x"})
	if _, err := nc.Write(bind); err != nil {
		t.Fatal(err)
	}
	rd := pdu.NewReader(nc, 0)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if p, err := rd.Next(); err != nil || p.Status() != 0 {
		t.Fatalf("bind: %v", err)
	}
	var out []byte
	for i := uint32(2); i < 7; i++ {
		raw := submit("half-closed")
		pdu.PDU(raw).SetSeq(i)
		out = append(out, raw...)
	}
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := map[uint32]int{}
	for len(got) < 5 {
		p, err := rd.Next()
		if err != nil {
			t.Fatalf("after %d answers: %v", len(got), err)
		}
		if p.ID() == pdu.SubmitSMResp {
			if p.Status() != 0 {
				t.Fatalf("answer %v", p.Status())
			}
			got[p.Seq()]++
		}
	}
	for seq, n := range got {
		if n != 1 {
			t.Fatalf("seq %d answered %d times", seq, n)
		}
	}
}

// A panicking inspector costs the message its verdict (on_filter_error),
// never the session or the process.
func TestInspectorPanicRecovered(t *testing.T) {
	insp := filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		if string(r.Msg.Payload()) == "boom" {
			var parts []int
			_ = parts[len(r.Msg.Payload())] // index out of range: a real bug's panic
		}
		return filter.AllowVerdict, nil
	})
	e := start(t, sim.Config{}, &Config{OnFilterError: "tempfail"}, insp)
	cl := e.dial(esme.Options{})
	for i := 0; i < 3; i++ {
		r, err := cl.Do(ctx5s(t), submit("boom"))
		if err != nil || r.Status != pdu.StatusSysErr {
			t.Fatalf("panicking message: %v %+v", err, r)
		}
	}
	if r, err := cl.Do(ctx5s(t), submit("fine")); err != nil || r.Status != 0 {
		t.Fatalf("after a panic: %v %+v", err, r)
	}
	if v := promtest.ToFloat64(e.m.panics); v != 3 {
		t.Fatalf("panics counted %v", v)
	}
	n := 0
	e.srv.panicSites.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d panic sites logged, want 1", n)
	}
}

// Ids smsfw gives are decimal below 2^63 by default, hex when configured,
// and receipts may write them in the other base (Kannel msg-id-type 1/2).
func TestMessageIDFormats(t *testing.T) {
	for _, tc := range []struct{ resp, rcpt string }{{"", ""}, {idHex, ""}, {idHex, idDecimal}, {idDecimal, idHex}} {
		c := (&Config{MessageIDFormat: tc.resp, ReceiptIDFormat: tc.rcpt}).WithDefaults()
		g := newMsgIDs(c.MessageIDFormat, c.ReceiptIDFormat)
		id := g.next()
		v, err := strconv.ParseUint(id, base(c.MessageIDFormat), 64)
		if err != nil || v >= 1<<63 || id != strings.ToLower(id) {
			t.Fatalf("%+v: id %q (%v)", tc, id, err)
		}
		r := g.inReceipt(id)
		w, err := strconv.ParseUint(r, base(c.ReceiptIDFormat), 64)
		if err != nil || w != v {
			t.Fatalf("%+v: receipt id %q for %q", tc, r, id)
		}
		if g.next() == id {
			t.Fatal("ids repeat")
		}
	}
	if _, err := parseConfig("x.yaml", []byte("message_id_format: octal\n")); err == nil ||
		!strings.Contains(err.Error(), "x.yaml:1: message_id_format must be decimal or hex") {
		t.Fatalf("got %v", err)
	}
}

// Receipts of dropped messages wait in one FIFO, not a goroutine each, and
// each peer has a budget of them.
func TestDroppedReceiptsBounded(t *testing.T) {
	insp := filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		return filter.Verdict{Action: filter.Drop, Receipt: filter.ReceiptDelivered}, nil
	})
	e := start(t, sim.Config{}, &Config{DropReceiptDelay: time.Hour, MaxPendingReceipts: 1000, LocalAnswerRate: -1}, insp)
	cl := e.dial(esme.Options{})
	before := runtime.NumGoroutine()
	const n = 3000
	col := newCollector(n)
	for i := 0; i < n; i++ {
		raw := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{Src: "Shop", Dst: "4915112345678",
			ShortMessage: []byte("dropped"), RegisteredDelivery: 1})
		if _, err := cl.Queue(raw, col.cb); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			cl.Flush()
		}
	}
	cl.Flush()
	col.wait(t, n, 10*time.Second)
	if g := runtime.NumGoroutine(); g > before+10 {
		t.Fatalf("goroutines %d -> %d for %d pending receipts", before, g, n)
	}
	if v := promtest.ToFloat64(e.m.ownReceipts.WithLabelValues(rcptOverBudget)); v != n-1000 {
		t.Fatalf("over budget %v, want %d", v, n-1000)
	}
}

// A quarantined message waiting for the store holds a window slot: a peer
// cannot have more of them than its window.
func TestQuarantineHoldsTakeWindow(t *testing.T) {
	sink := &stallSink{release: make(chan struct{})}
	insp := filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		return filter.Verdict{Action: filter.Quarantine}, nil
	})
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {}}, Peers: []*Peer{{SystemID: "acme", Window: 5}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{}, cfg, insp, func(o *Options) { o.Events = sink })
	e.waitReady()
	cl := e.dial(esme.Options{SystemID: "acme"})
	col := newCollector(20)
	for i := 0; i < 20; i++ {
		if _, err := cl.Send(submit("held"), col.cb); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 3*time.Second, "five events recorded", func() bool { return sink.count() == 5 })
	// The read loop waits for a slot: no more than the window are held.
	testutil.Consistently(t, 100*time.Millisecond, "at most a window of held messages", func() bool { return sink.count() == 5 })
	close(sink.release)
	rs := col.wait(t, 20, 5*time.Second)
	for _, r := range rs {
		if r.Status != 0 {
			t.Fatalf("%+v", r)
		}
	}
}

// stallSink stores events only when released.
type stallSink struct {
	mu      sync.Mutex
	n       int
	release chan struct{}
}

func (s *stallSink) Emit(ev *filter.Event) bool {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	if ev.Stored != nil {
		go func() { <-s.release; ev.Stored(nil) }()
	}
	return true
}

func (s *stallSink) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.n }

// A phrase split over two parts sent further apart than segment_timeout:
// the late part is judged with the text before it, so it is refused.
func TestLatePartJudgedWithEarlierText(t *testing.T) {
	var sn seen
	var rec recorder
	e := start(t, sim.Config{OnPDU: rec.onPDU}, &Config{SegmentTimeout: 100 * time.Millisecond}, sn.inspector("claim your prize"))
	cl := e.dial(esme.Options{})
	if r, err := cl.Do(ctx5s(t), segment(5, 2, 1, "claim your ")); err != nil || r.Status != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	testutil.Eventually(t, 3*time.Second, "the incomplete message relayed", func() bool { return rec.n() == 1 }) // decided incomplete, relayed
	if r, err := cl.Do(ctx5s(t), segment(5, 2, 2, "prize")); err != nil || r.Status != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	testutil.Eventually(t, 3*time.Second, "two requests at the SMSC", func() bool { sn.mu.Lock(); defer sn.mu.Unlock(); return len(sn.reqs) == 2 })
	sn.mu.Lock()
	got := sn.reqs[1]
	sn.mu.Unlock()
	if got != "claim your prize" {
		t.Fatalf("late part inspected as %q", got)
	}
	testutil.Consistently(t, 50*time.Millisecond, "the refused part never reaches the SMSC", func() bool { return rec.n() == 1 })
}

// fiorix/go-smpp's SubmitLongMsg (a third-party client) sends each part
// only after the previous part's answer, with its default 1 s response
// timeout: UCS-2 and GSM 7-bit three-part messages all succeed, the SMSC
// gets every part whole, and each part's receipt reaches the client under
// the id it was given.
func TestLongMessageFiorix(t *testing.T) {
	var rec recorder
	e := start(t, sim.Config{OnPDU: rec.onPDU, ReceiptDelay: 20 * time.Millisecond}, nil, nil)
	receipts := make(chan string, 64)
	tx := &fsmpp.Transceiver{Addr: e.addr, User: "fiorix", Passwd: "pw", Handler: func(p fpdu.Body) {
		if p.Header().ID != fpdu.DeliverSMID {
			return
		}
		if txt, ok := p.Fields()[fpdufield.ShortMessage]; ok {
			if s := txt.String(); strings.HasPrefix(s, "id:") {
				receipts <- strings.Fields(strings.TrimPrefix(s, "id:"))[0]
			}
		}
	}}
	conn := tx.Bind()
	defer tx.Close()
	select {
	case st := <-conn:
		if st.Error() != nil {
			t.Fatal(st.Error())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fiorix did not bind")
	}
	long := strings.Repeat("Grüße aus Köln, ", 11)           // UCS-2: 176 chars, 352 octets: 3 parts of 132
	gsm := strings.Repeat("Your parcel is on its way. ", 15) // GSM 7-bit: 405 chars, 3 parts
	given := map[string]bool{}
	parts := 0
	for _, text := range []fpdutext.Codec{fpdutext.UCS2(long), fpdutext.GSM7(gsm)} {
		sms, err := tx.SubmitLongMsg(&fsmpp.ShortMessage{Src: "4917600000001", Dst: "4915112345678", Text: text,
			Register: fpdufield.FinalDeliveryReceipt})
		if err != nil {
			t.Fatalf("SubmitLongMsg: %v", err)
		}
		if len(sms) != 3 {
			t.Fatalf("%d parts answered, want 3", len(sms))
		}
		for i := range sms {
			id := sms[i].RespID()
			if id == "" {
				t.Fatal("part answered without id")
			}
			given[id] = true
		}
		parts += len(sms)
	}
	testutil.Eventually(t, 5*time.Second, "every part at the SMSC", func() bool { return rec.n() == parts })
	for i := 0; i < parts; i++ {
		select {
		case id := <-receipts:
			if !given[id] {
				t.Fatalf("receipt for %q, an id the client was never given", id)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d receipts", i, parts)
		}
	}
}

// A session whose messages smsfw keeps refusing is throttled before
// inspection once its budget of locally answered messages is spent; a
// session relaying normally is not.
func TestLocalAnswerRate(t *testing.T) {
	var inspected atomic.Int32
	insp := filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		inspected.Add(1)
		if string(r.Msg.Payload()) == "spam" {
			return filter.Verdict{Action: filter.Reject}, nil
		}
		return filter.AllowVerdict, nil
	})
	e := start(t, sim.Config{}, &Config{LocalAnswerRate: 50}, insp)
	bad := e.dial(esme.Options{SystemID: "bad"})
	col := newCollector(500)
	for i := 0; i < 500; i++ {
		if _, err := bad.Queue(submit("spam"), col.cb); err != nil {
			t.Fatal(err)
		}
	}
	bad.Flush()
	codes := map[pdu.Status]int{}
	for _, r := range col.wait(t, 500, 5*time.Second) {
		codes[r.Status]++
	}
	// A burst of two seconds' worth (100), plus what refilled meanwhile.
	if codes[pdu.StatusSubmitFail] < 100 || codes[pdu.StatusSubmitFail] > 150 || codes[pdu.StatusThrottled] < 350 {
		t.Fatalf("answers %v", codes)
	}
	if n := int(inspected.Load()); n != codes[pdu.StatusSubmitFail] {
		t.Fatalf("inspected %d, refused after inspection %d", n, codes[pdu.StatusSubmitFail])
	}
	good := e.dial(esme.Options{SystemID: "good"})
	for i := 0; i < 200; i++ {
		if r, err := good.Do(ctx5s(t), submit("hello")); err != nil || r.Status != 0 {
			t.Fatalf("good session: %v %+v", err, r)
		}
	}
}
