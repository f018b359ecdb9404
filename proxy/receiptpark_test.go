package proxy

import (
	"context"
	"fmt"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// An SMSC that sends receipts before its answers (receipt after 1 ms,
// answer after 40 ms): the receipts of the parts smsfw answered itself
// wait for the SMSC's answers and reach the peer under the ids the peer
// was given, each once; none is held until response_timeout (30 s, beyond
// the wait below).
func TestReceiptBeforeAnswerOfHeldPart(t *testing.T) {
	var sn seen
	e := start(t, sim.Config{Latency: 40 * time.Millisecond, ReceiptDelay: time.Millisecond}, nil, sn.inspector(""))
	receipts := make(chan string, 64)
	cl := e.dial(esme.Options{OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() {
			receipts <- string(m.ReceiptID())
		}
		return 0
	}})
	const messages = 5
	given := map[string]bool{}
	for msg := 0; msg < messages; msg++ {
		for part := byte(1); part <= 3; part++ {
			raw := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 1, Src: "4917600000001", DstTON: 1, Dst: "4915112345678",
				ESMClass: pdu.ESMUDHI, DataCoding: 8, RegisteredDelivery: 1,
				ShortMessage: append([]byte{5, 0, 3, byte(msg), 3, part}, fmt.Sprintf("part %d of %d", part, msg)...)})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			r, err := cl.Do(ctx, raw)
			cancel()
			if err != nil || r.Status != 0 || r.MessageID == "" {
				t.Fatalf("message %d part %d: %v %+v", msg, part, err, r)
			}
			given[r.MessageID] = true
		}
	}
	want := len(given)
	for i := 0; i < want; i++ {
		select {
		case id := <-receipts:
			if !given[id] {
				t.Fatalf("receipt under %q, an id the peer was never given (or twice)", id)
			}
			delete(given, id)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d receipts missing: %v", len(given), given)
		}
	}
	if n := promtest.ToFloat64(e.m.receiptsParked); n == 0 {
		t.Error("no receipt was parked: the SMSC's order was not reproduced")
	}
}
