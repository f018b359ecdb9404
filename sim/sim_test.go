package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
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
	// The counters move after the ESME's answer arrives: poll.
	deadline := time.Now().Add(2 * time.Second)
	for {
		var st Stats
		resp, _ = http.Get(h.URL + "/v1/stats")
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Messages == 1 && st.Receipts == 1 && st.MO == 1 && st.Binds == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
