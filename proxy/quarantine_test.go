package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// memSink is an EventSink that stores events in memory; fail makes the
// "store" refuse them; hold keeps Stored from being called until released.
type memSink struct {
	mu     sync.Mutex
	events []*filter.Event
	fail   bool
	hold   chan struct{}
}

func (m *memSink) Emit(ev *filter.Event) bool {
	m.mu.Lock()
	fail, hold := m.fail, m.hold
	if !fail {
		m.events = append(m.events, ev)
	}
	m.mu.Unlock()
	if ev.Stored != nil {
		go func() {
			if hold != nil {
				<-hold
			}
			if fail {
				ev.Stored(errors.New("disk full"))
			} else {
				ev.Stored(nil)
			}
		}()
	}
	return true
}

func (m *memSink) all() []*filter.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*filter.Event(nil), m.events...)
}

// verdictByText quarantines "hold", rejects "bad", flags "flag"; each with an event.
func verdictByText(r *filter.Request) (filter.Verdict, error) {
	text := string(r.Msg.Payload())
	if r.Msg.IsReceipt() { // receipts quote the text
		return filter.AllowVerdict, nil
	}
	var v filter.Verdict
	switch {
	case strings.Contains(text, "hold"):
		v = filter.Verdict{Action: filter.Quarantine, RuleID: "q"}
	case strings.Contains(text, "bad"):
		v = filter.Verdict{Action: filter.Reject, RuleID: "r"}
	case strings.Contains(text, "flag"):
		v = filter.Verdict{Action: filter.Flag, RuleID: "f"}
	default:
		return filter.AllowVerdict, nil
	}
	v.Event = &filter.Event{ID: filter.NewEventID(), Direction: r.Direction.String(), Peer: r.Peer, Text: text,
		RuleID: v.RuleID, Action: v.Action.String()}
	return v, nil
}

func quarantineEnv(t *testing.T, sink *memSink, q *QuarantineConfig) (*env, *esme.Client) {
	t.Helper()
	return quarantineEnvSim(t, sim.Config{}, sink, q)
}

func quarantineEnvSim(t *testing.T, sc sim.Config, sink *memSink, q *QuarantineConfig) (*env, *esme.Client) {
	t.Helper()
	cfg, err := parseConfig("q.yaml", []byte(`
upstreams:
  smsc: {address: "", system_id: fw, password: pw}
peers:
  - {system_id: acme, password: pw}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Quarantine = q
	e := start(t, sc, cfg, filter.Func(verdictByText), func(o *Options) { o.Events = sink })
	e.waitReady()
	return e, e.dial(esme.Options{SystemID: "acme", Password: "pw"})
}

func do(t *testing.T, cl *esme.Client, raw []byte) esme.Resp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := cl.Do(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestQuarantineHoldAndRelease(t *testing.T) {
	sink := &memSink{}
	e, cl := quarantineEnv(t, sink, nil)

	r := do(t, cl, submit("please hold this"))
	if r.Status != pdu.StatusOK || r.MessageID == "" {
		t.Fatalf("quarantined message answered %v id %q, want accepted with an id", r.Status, r.MessageID)
	}
	if n := len(e.sim.Messages()); n != 0 {
		t.Fatalf("held message reached the SMSC (%d messages)", n)
	}
	evs := sink.all()
	if len(evs) != 1 || evs[0].Quarantine != filter.QuarantineHeld || len(evs[0].Raw) != 1 || evs[0].MessageID != r.MessageID {
		t.Fatalf("events %+v", evs)
	}
	ev := evs[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	upID, err := e.srv.Release(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.sim.Messages()
	if len(msgs) != 1 || msgs[0].Text != "please hold this" || msgs[0].MessageID != upID {
		t.Fatalf("SMSC got %+v, release returned %q", msgs, upID)
	}
	// The peer's session is unaffected: its next message still flows.
	if r := do(t, cl, submit("hello")); r.Status != pdu.StatusOK {
		t.Fatalf("after release: %v", r.Status)
	}
	ev.Quarantine = filter.QuarantineReleased
	if _, err := e.srv.Release(ctx, ev); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second release: %v, want ErrNotHeld", err)
	}
}

func TestQuarantineAnswers(t *testing.T) {
	tests := []struct {
		name string
		sink *memSink
		q    *QuarantineConfig
		want pdu.Status
	}{
		{"accept", &memSink{}, nil, pdu.StatusOK},
		{"reject with status", &memSink{}, &QuarantineConfig{Answer: "reject", Status: 0x0B}, pdu.StatusInvDstAdr},
		{"store fails: retry", &memSink{fail: true}, nil, pdu.StatusThrottled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, cl := quarantineEnv(t, tc.sink, tc.q)
			if r := do(t, cl, submit("hold")); r.Status != tc.want {
				t.Fatalf("status %v, want %v", r.Status, tc.want)
			}
		})
	}
}

// The peer hears nothing until the store has the message, and a shutdown
// waits for that answer.
func TestQuarantineAnswersAfterStore(t *testing.T) {
	sink := &memSink{hold: make(chan struct{})}
	_, cl := quarantineEnv(t, sink, nil)
	got := make(chan esme.Resp, 1)
	if _, err := cl.Send(submit("hold"), func(r esme.Resp) { got <- r }); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		t.Fatalf("answered %v before the store had it", r.Status)
	case <-time.After(100 * time.Millisecond):
	}
	close(sink.hold)
	select {
	case r := <-got:
		if r.Status != pdu.StatusOK {
			t.Fatalf("status %v", r.Status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer after store")
	}
}

func TestEventsCarryAnswers(t *testing.T) {
	sink := &memSink{}
	e, cl := quarantineEnv(t, sink, nil)
	rFlag := do(t, cl, submit("flag me"))
	rBad := do(t, cl, submit("bad one"))
	do(t, cl, submit("fine"))
	testutil.Eventually(t, 5*time.Second, "two events recorded", func() bool { return len(sink.all()) == 2 })
	by := map[string]*filter.Event{}
	for _, ev := range sink.all() {
		by[ev.RuleID] = ev
	}
	if f := by["f"]; f == nil || f.Status != 0 || f.MessageID != rFlag.MessageID || len(f.Raw) != 1 {
		t.Fatalf("flag event %+v (answer id %q)", f, rFlag.MessageID)
	}
	if b := by["r"]; b == nil || pdu.Status(b.Status) != rBad.Status || rBad.Status != pdu.StatusSubmitFail {
		t.Fatalf("reject event %+v (answer %v)", b, rBad.Status)
	}
	if n := len(e.sim.Messages()); n != 2 {
		t.Fatalf("SMSC got %d messages, want the flagged and the fine one", n)
	}
}

func TestRejectHeldSendsReceipt(t *testing.T) {
	sink := &memSink{}
	e, _ := quarantineEnv(t, sink, nil)
	receipts := make(chan pdu.PDU, 1)
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", OnDeliver: func(p pdu.PDU) pdu.Status {
		receipts <- append(pdu.PDU(nil), p...)
		return pdu.StatusOK
	}})
	raw := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: "Shop", DstTON: 1, Dst: "4915112345678",
		RegisteredDelivery: 1, ShortMessage: []byte("hold")})
	r := do(t, cl, raw)
	ev := sink.all()[0]
	e.srv.RejectHeld(ev)
	select {
	case p := <-receipts:
		var m pdu.Message
		if err := pdu.ParseMessage(p, &m); err != nil {
			t.Fatal(err)
		}
		if txt := string(m.Payload()); !strings.Contains(txt, "id:"+r.MessageID) || !strings.Contains(txt, "stat:REJECTD") {
			t.Fatalf("receipt %q for %q", txt, r.MessageID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no receipt")
	}
}

func TestReleaseMO(t *testing.T) {
	sink := &memSink{}
	e, first := quarantineEnv(t, sink, nil)
	first.Close() // the receiver below is the peer's only session
	testutil.Eventually(t, 5*time.Second, "acme's sessions gone", func() bool { e.srv.mu.Lock(); defer e.srv.mu.Unlock(); return len(e.srv.byPeer["acme"]) == 0 })
	got := make(chan string, 2)
	e.dial(esme.Options{SystemID: "acme", Password: "pw", OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		_ = pdu.ParseMessage(p, &m)
		got <- string(m.Payload())
		return pdu.StatusOK
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := e.sim.InjectMO(ctx, sim.MO{From: "4915112345678", To: "1234", Text: "hold me"})
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("MO answered %v %v", st, err)
	}
	select {
	case txt := <-got:
		t.Fatalf("held MO delivered: %q", txt)
	case <-time.After(100 * time.Millisecond):
	}
	evs := sink.all()
	if len(evs) != 1 || evs[0].Direction != "mo" {
		t.Fatalf("events %+v", evs)
	}
	if _, err := e.srv.Release(ctx, evs[0]); err != nil {
		t.Fatal(err)
	}
	select {
	case txt := <-got:
		if txt != "hold me" {
			t.Fatalf("released MO %q", txt)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("released MO not delivered")
	}
}

// The receipt of a released message reaches the peer under the id the
// peer was given when the message was held, not the SMSC's.
func TestReleasedReceiptCarriesPeerID(t *testing.T) {
	sink := &memSink{}
	e, first := quarantineEnvSim(t, sim.Config{ReceiptDelay: 10 * time.Millisecond}, sink, nil)
	first.Close() // the receipt goes to the session below
	receipts := make(chan string, 2)
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw", OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() {
			v, _ := m.TLVs.Get(pdu.TagReceiptedMessageID)
			receipts <- string(m.ShortMessage) + "|" + strings.TrimRight(string(v), "\x00")
		}
		return pdu.StatusOK
	}})
	raw := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: "Shop", DstTON: 1, Dst: "4915112345678",
		RegisteredDelivery: 1, ShortMessage: []byte("hold")})
	r := do(t, cl, raw)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	upID, err := e.srv.Release(ctx, sink.all()[0])
	if err != nil {
		t.Fatal(err)
	}
	if upID == r.MessageID {
		t.Fatal("test needs different ids")
	}
	select {
	case got := <-receipts:
		if !strings.HasPrefix(got, "id:"+r.MessageID+" ") || strings.Contains(got, upID) {
			t.Fatalf("receipt %q: want id %s (SMSC id %s)", got, r.MessageID, upID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no receipt")
	}
}
