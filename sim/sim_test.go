package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
)

func startSim(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s := New(cfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Close)
	return s, ln.Addr().String()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSubmitReceiptAndMO(t *testing.T) {
	s, addr := startSim(t, Config{ReceiptDelay: 10 * time.Millisecond, MessageIDFormat: "hex",
		Accounts: map[string]string{"app": "pw"}})
	if _, err := esme.Dial(ctx(t), addr, esme.Options{SystemID: "app", Password: "bad"}); err == nil {
		t.Fatal("bad password accepted")
	}
	type got struct {
		receipt bool
		sm, src string
	}
	receipts := make(chan got, 1)
	var rcptID []byte
	cl, err := esme.Dial(ctx(t), addr, esme.Options{SystemID: "app", Password: "pw", OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		if err := pdu.ParseMessage(p, &m); err != nil {
			t.Error(err)
		}
		if m.IsReceipt() {
			v, _ := m.TLVs.Get(pdu.TagReceiptedMessageID)
			rcptID = append([]byte(nil), v...)
		}
		receipts <- got{m.IsReceipt(), string(m.ShortMessage), string(m.Src.Addr)}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ud, _ := smstext.EncodeGSM7(nil, "Grüße € and more text here")
	r, err := cl.Do(ctx(t), pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{Src: "Shop", Dst: "4915", RegisteredDelivery: 1, ShortMessage: ud}))
	if err != nil || r.Status != 0 || r.MessageID == "" || strings.Trim(r.MessageID, "0123456789abcdef") != "" {
		t.Fatalf("%v %+v", err, r)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].Text != "Grüße € and more text here" || msgs[0].SystemID != "app" {
		t.Fatalf("%+v", msgs)
	}
	select {
	case m := <-receipts:
		sm := m.sm
		if !m.receipt || !strings.HasPrefix(sm, "id:"+r.MessageID+" ") || !strings.Contains(sm, "stat:DELIVRD") ||
			!strings.Contains(sm, "text:Gr??e ? and more t") || m.src != "4915" {
			t.Fatalf("receipt %q", sm)
		}
		if !bytes.Equal(rcptID, append([]byte(r.MessageID), 0)) {
			t.Fatalf("receipted_message_id %q", rcptID)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no receipt")
	}
	// MO over the HTTP API.
	h := httptest.NewServer(s.Handler())
	defer h.Close()
	resp, err := http.Post(h.URL+"/v1/mo", "application/json", strings.NewReader(`{"from":"4917","to":"123","text":"STOP"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", err, resp.Status)
	}
	resp.Body.Close()
	m := <-receipts
	if m.receipt || m.sm != "STOP" || m.src != "4917" {
		t.Fatalf("MO %+v", m)
	}
	resp, _ = http.Post(h.URL+"/v1/mo", "application/json", strings.NewReader(`{"from":"1","bogus":1}`))
	if resp.StatusCode != 400 {
		t.Fatalf("bad MO JSON: %v", resp.Status)
	}
	resp.Body.Close()
	// The counters move after the ESME's answer arrives.
	testutil.Eventually(t, 2*time.Second, "stats count the message, receipt, MO and bind", func() bool {
		var st Stats
		resp, err := http.Get(h.URL + "/v1/stats")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&st)
		return st.Messages == 1 && st.Receipts == 1 && st.MO == 1 && st.Binds == 1
	})
}

func TestErrorsAndNoReceiver(t *testing.T) {
	s, addr := startSim(t, Config{ErrorRate: 1, ErrorStatus: pdu.StatusThrottled})
	if _, err := s.InjectMO(ctx(t), MO{From: "1", To: "2", Text: "x"}); err != ErrNoReceiver {
		t.Fatalf("want ErrNoReceiver, got %v", err)
	}
	cl, err := esme.Dial(ctx(t), addr, esme.Options{Bind: pdu.BindTransmitter})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := cl.Do(ctx(t), pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{Src: "1", Dst: "2"}))
	if err != nil || r.Status != pdu.StatusThrottled {
		t.Fatalf("%v %+v", err, r)
	}
	// A transmitter gets no MO.
	if _, err := s.InjectMO(ctx(t), MO{From: "1", To: "2", Text: "x"}); err != ErrNoReceiver {
		t.Fatalf("transmitter got MO: %v", err)
	}
	r, err = cl.Do(ctx(t), pdu.AppendHeaderOnly(nil, 0x1234, 0, 0))
	if err != nil || r.ID != pdu.GenericNack || r.Status != pdu.StatusInvCmdID {
		t.Fatalf("unknown command: %v %+v", err, r)
	}
}

// retryESME binds as a transceiver and answers deliveries from script, in
// order; past its end it accepts.
func retryESME(t *testing.T, addr string, script ...pdu.Status) (*esme.Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, addr, esme.Options{SystemID: "app", OnDeliver: func(pdu.PDU) pdu.Status {
		i := int(n.Add(1)) - 1
		if i < len(script) {
			return script[i]
		}
		return pdu.StatusOK
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, &n
}

// A delivery refused with temporary statuses is sent again on the
// schedule and counted once, as accepted; a permanent refusal ends it; an
// exhausted schedule expires it.
func TestDeliveryRetries(t *testing.T) {
	sched := []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}
	for _, tc := range []struct {
		name                       string
		script                     []pdu.Status
		mo, refused, expired, sent int
	}{
		{"accepted after two throttles", []pdu.Status{pdu.StatusThrottled, pdu.StatusXTAppn}, 1, 0, 0, 3},
		{"permanent refusal", []pdu.Status{pdu.StatusXRAppn}, 0, 1, 0, 1},
		{"schedule runs out", []pdu.Status{0x58, 0x58, 0x58, 0x58, 0x58}, 0, 0, 1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := startSim(t, Config{RetrySchedule: sched})
			_, n := retryESME(t, addr, tc.script...)
			st, err := s.InjectMO(context.Background(), MO{From: "4917600000001", To: "12345", Text: "hello"})
			if err != nil || st != tc.script[0] {
				t.Fatalf("first attempt: %v %v", st, err)
			}
			testutil.Eventually(t, 3*time.Second, "delivery settled", func() bool {
				x := s.Stats()
				return x.Pending == 0 && int(x.MO)+int(x.Refused)+int(x.Expired) == 1
			})
			x := s.Stats()
			if int(x.MO) != tc.mo || int(x.Refused) != tc.refused || int(x.Expired) != tc.expired || int(n.Load()) != tc.sent {
				t.Fatalf("stats %+v, ESME saw %d", x, n.Load())
			}
		})
	}
}

// A delivery that finds no receiver waits for one: an ESME binding later
// gets it.
func TestDeliveryWaitsForReceiver(t *testing.T) {
	s, addr := startSim(t, Config{RetrySchedule: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, time.Second}})
	if _, err := s.InjectMO(context.Background(), MO{SystemID: "app", From: "4917600000001", To: "12345", Text: "later"}); !errors.Is(err, ErrNoReceiver) {
		t.Fatalf("no receiver bound: %v", err)
	}
	_, n := retryESME(t, addr)
	testutil.Eventually(t, 3*time.Second, "delivered to the late receiver", func() bool { return s.Stats().MO == 1 })
	if n.Load() != 1 {
		t.Fatalf("ESME saw %d", n.Load())
	}
}

// Deliveries unanswered per session stay within the window: an ESME that
// answers nothing gets exactly Window of them until they time out.
func TestDeliveryWindow(t *testing.T) {
	s, addr := startSim(t, Config{Window: 3, DeliveryTimeout: 300 * time.Millisecond})
	var arrived atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, addr, esme.Options{SystemID: "app", NoAutoRespond: true,
		OnDeliver: func(pdu.PDU) pdu.Status { arrived.Add(1); return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < 10; i++ {
		go func() { _, _ = s.InjectMO(context.Background(), MO{From: "4917600000001", To: "12345", Text: "w"}) }()
	}
	testutil.Eventually(t, 3*time.Second, "a window of deliveries sent", func() bool { return arrived.Load() == 3 })
	testutil.Consistently(t, 150*time.Millisecond, "no more than the window unanswered", func() bool { return arrived.Load() == 3 })
	testutil.Eventually(t, 5*time.Second, "all tried as the window frees", func() bool { return s.Stats().Expired == 10 })
	if n := arrived.Load(); n != 10 {
		t.Fatalf("ESME saw %d", n)
	}
}

// Receipt text is GSM 03.38-safe: characters that are not the same octet
// in GSM and ASCII are written '?'.
func TestReceiptTextGSMSafe(t *testing.T) {
	f := &pdu.SMFields{Src: "a", Dst: "b", DataCoding: 8, ShortMessage: smstext.EncodeUCS2(nil, "Grüße @ $5_[ok]")}
	var m pdu.Message
	if err := pdu.ParseMessage(pdu.AppendSM(nil, pdu.SubmitSM, 1, f), &m); err != nil {
		t.Fatal(err)
	}
	if got := receiptText(&m); got != "Gr??e ? ?5??ok?" {
		t.Fatalf("%q", got)
	}
}

// An ESME that unbinds with messages in flight gets their (delayed)
// answers before unbind_resp, as from a real SMSC.
func TestUnbindAnswersInFlightFirst(t *testing.T) {
	_, addr := startSim(t, Config{Latency: 200 * time.Millisecond, Keep: -1})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	out := pdu.AppendBind(nil, pdu.BindTransceiver, 1, pdu.BindFields{SystemID: "app", Password: "pw"})
	for i := uint32(2); i < 7; i++ {
		out = pdu.AppendSM(out, pdu.SubmitSM, i, &pdu.SMFields{Src: "1", Dst: "2"})
	}
	out = pdu.AppendHeaderOnly(out, pdu.Unbind, 0, 7)
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	r := pdu.NewReader(c, 1<<16)
	var got []string
	for {
		p, err := r.Next()
		if err != nil {
			break
		}
		got = append(got, fmt.Sprintf("%s %d %d", p.ID(), p.Seq(), uint32(p.Status())))
	}
	if len(got) > 2 {
		sort.Strings(got[1 : len(got)-1]) // delayed answers come in any order
	}
	want := []string{"bind_transceiver_resp 1 0"}
	for i := 2; i < 7; i++ {
		want = append(want, fmt.Sprintf("submit_sm_resp %d 0", i))
	}
	want = append(want, "unbind_resp 7 0")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
