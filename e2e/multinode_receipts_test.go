package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// receiptSink is a peer's receiver session: the receipt ids it got.
type receiptSink struct {
	mu  sync.Mutex
	ids []string
}

func (r *receiptSink) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

func (r *receiptSink) has(id string) bool {
	for _, x := range r.got() {
		if x == id {
			return true
		}
	}
	return false
}

// bindReceiver binds acme to n as a receiver that collects receipt ids.
func bindReceiver(t *testing.T, n *app.App) *receiptSink {
	t.Helper()
	sink := &receiptSink{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, n.Addr(), esme.Options{Bind: pdu.BindReceiver, SystemID: "acme", Password: "pw",
		OnDeliver: func(p pdu.PDU) pdu.Status {
			var m pdu.Message
			if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() {
				sink.mu.Lock()
				sink.ids = append(sink.ids, string(m.ReceiptID()))
				sink.mu.Unlock()
			}
			return pdu.StatusOK
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return sink
}

// TestMultiNodeReceiptIDs: a message smsfw answered itself on node a (held
// in quarantine and released; the parts of a long message held while they
// were inspected) has its receipt delivered by the SMSC over node b's
// bind; the peer, bound on b as a receiver, gets it under the id a gave
// it. With receipts 1 s after the submit the mapping is shared before;
// with receipts 20 ms after, they may arrive before it and wait on b for
// it; a release, and the parts of a long message, are announced in
// flight before they are sent, so even a receipt 1 ms after them waits.
func TestMultiNodeReceiptIDs(t *testing.T) {
	for _, delay := range []time.Duration{time.Second, 20 * time.Millisecond, time.Millisecond} {
		t.Run(fmt.Sprint("receipt_delay=", delay), func(t *testing.T) {
			c := newClusterWith(t, sim.Config{ReceiptsElsewhere: true, ReceiptDelay: delay})
			a := c.node("a", c.smsc)
			b := c.node("b", c.smsc)
			for _, n := range []*app.App{a, b} {
				testutil.Eventually(t, 10*time.Second, "node ready", func() bool { ok, _ := n.Proxy.Ready(); return ok })
			}
			sink := bindReceiver(t, b)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tx, err := esme.Dial(ctx, a.Addr(), esme.Options{Bind: pdu.BindTransmitter, SystemID: "acme", Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()

			// Quarantined on a, released on a: the SMSC's receipt comes on b.
			text := "Congratulations, you WON THE JACKPOT! Reply R" + fmt.Sprint(delay.Milliseconds())
			r, err := tx.Do(ctx, pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: sender, DstTON: 1, DstNPI: 1, Dst: dest,
				ShortMessage: []byte(text), RegisteredDelivery: 1}))
			if err != nil || r.Status != pdu.StatusOK || r.MessageID == "" {
				t.Fatalf("held message answered %+v %v", r, err)
			}
			var evID int64
			testutil.Eventually(t, 10*time.Second, "the message held", func() bool {
				p, err := c.st.Search(ctx, store.Query{Quarantine: filter.QuarantineHeld, Text: text})
				if err != nil || len(p.Events) != 1 {
					return false
				}
				evID = p.Events[0].ID
				return true
			})
			if code, body := releaseOn(t, a, evID); code != http.StatusOK {
				t.Fatalf("release: %d %s", code, body)
			}
			testutil.Eventually(t, 10*time.Second, "the released message's receipt on b under the peer's id "+r.MessageID, func() bool {
				return sink.has(r.MessageID)
			})

			// A long message: both parts answered by a while held, both ask for receipts.
			var ids []string
			for i, part := range []string{"Your parcel arrives tomorrow ", "between 9 and 12, part two"} {
				ud := append([]byte{5, 0, 3, byte(40 + delay.Milliseconds()%100), 2, byte(i + 1)}, part...)
				r, err := tx.Do(ctx, pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: sender, DstTON: 1, DstNPI: 1, Dst: dest,
					ESMClass: pdu.ESMUDHI, ShortMessage: ud, RegisteredDelivery: 1}))
				if err != nil || r.Status != pdu.StatusOK || r.MessageID == "" {
					t.Fatalf("part %d answered %+v %v", i+1, r, err)
				}
				ids = append(ids, r.MessageID)
			}
			testutil.Eventually(t, 10*time.Second, fmt.Sprint("the parts' receipts on b under the peer's ids ", ids), func() bool {
				return sink.has(ids[0]) && sink.has(ids[1])
			})
			if got := sink.got(); len(got) != 3 {
				t.Fatalf("receipts on b: %v (want 3: the released message's and the parts')", got)
			}
			// The peer's answers reach the SMSC after the peer got the receipts.
			testutil.Eventually(t, 10*time.Second, "the SMSC's 3 receipts accepted", func() bool { return c.sim.Stats().Receipts == 3 })
			logWaits(t, b)
		})
	}
}

// logWaits logs how the receipts' waits on n ended.
func logWaits(t *testing.T, n *app.App) {
	t.Helper()
	var out []string
	for _, o := range []string{"rewritten", "passed", "expired"} {
		out = append(out, fmt.Sprintf("%s=%v", o, testutil.Metric(t, n.Registry, "smsfw_cluster_receipt_waits_total", "outcome", o)))
	}
	t.Logf("receipt waits on b: %v; learned %v", out, testutil.Metric(t, n.Registry, "smsfw_cluster_receipt_ids_total", "result", "learned"))
}
