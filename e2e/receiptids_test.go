package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
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

// receiptPolicy refuses forged receipts as the shipped policy does, with
// no warm-up: only the ids kept in the event store make genuine receipts
// pass after a restart or on another node.
const receiptPolicy = `version: 1
default: allow
detectors:
  receipts: {warm_up: 0s}
rules:
  - {id: receipt-before-response, direction: mo, when: det.receipt_early, action: throttle, status: "0x64"}
  - {id: fake-receipt, direction: mo, when: det.fake_receipt, action: block, status: "0x66"}
`

// retried: the simulated SMSC retries receipts refused temporarily or
// without a receiver bound.
var retried = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 500 * time.Millisecond,
	time.Second, time.Second, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}

// submitForReceipts sends n messages asking for receipts to n and returns
// the ids the peer was given.
func submitForReceipts(t *testing.T, n *app.App, count int) []string {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "node ready", func() bool { ok, _ := n.Proxy.Ready(); return ok })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tx, err := esme.Dial(ctx, n.Addr(), esme.Options{Bind: pdu.BindTransmitter, SystemID: "acme", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	var ids []string
	for i := range count {
		r, err := tx.Do(ctx, pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: sender, DstTON: 1, DstNPI: 1, Dst: dest,
			ShortMessage: []byte(fmt.Sprint("Your code is ", 100000+i)), RegisteredDelivery: 1}))
		if err != nil || r.Status != pdu.StatusOK || r.MessageID == "" {
			t.Fatalf("message %d answered %+v %v", i, r, err)
		}
		ids = append(ids, r.MessageID)
	}
	return ids
}

// noForgedReceipts fails if the policy refused any receipt as forged.
func noForgedReceipts(t *testing.T, c *cluster) {
	t.Helper()
	p, err := c.st.Search(context.Background(), store.Query{RuleID: "fake-receipt"})
	if err != nil || len(p.Events) != 0 {
		t.Fatalf("genuine receipts refused as forged: %d %v", len(p.Events), err)
	}
}

// TestReceiptIDsSurviveRestart: messages accepted before a clean restart
// have their receipts delivered after it (they came after the restart),
// not refused as forged.
func TestReceiptIDsSurviveRestart(t *testing.T) {
	c := newClusterWith(t, sim.Config{ReceiptDelay: 1500 * time.Millisecond, RetrySchedule: retried})
	receiptsAcrossRestart(t, c, receiptPolicy, nil)
}

// receiptsAcrossRestart sends 5 messages through node a with the policy
// pol, stops it cleanly, runs between (if any), starts a again and checks
// that every receipt, coming after the restart, reaches the peer and none
// was refused as forged; it returns the node after the restart and the
// number of receipts.
func receiptsAcrossRestart(t *testing.T, c *cluster, pol string, between func(ctx context.Context)) (*app.App, int) {
	t.Helper()
	a := c.nodeWith("a", c.smsc, pol)
	ids := submitForReceipts(t, a, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if between != nil {
		between(ctx)
	}
	a2 := c.nodeWith("a", c.smsc, pol)
	sink := bindReceiver(t, a2)
	for _, id := range ids {
		testutil.Eventually(t, 20*time.Second, "the receipt of "+id+" after the restart", func() bool { return sink.has(id) })
	}
	noForgedReceipts(t, c)
	return a2, len(ids)
}

// TestReceiptIDsAcrossNodes: messages accepted on a have their receipts
// come over b's bind 50 ms later (before a's ids reached b): b refuses
// them temporarily until it knows the ids, then delivers them; none is
// refused as forged.
func TestReceiptIDsAcrossNodes(t *testing.T) {
	c := newClusterWith(t, sim.Config{ReceiptsElsewhere: true, ReceiptDelay: 50 * time.Millisecond, RetrySchedule: retried})
	a := c.nodeWith("a", c.smsc, receiptPolicy)
	b := c.nodeWith("b", c.smsc, receiptPolicy)
	testutil.Eventually(t, 10*time.Second, "node b ready", func() bool { ok, _ := b.Proxy.Ready(); return ok })
	sink := bindReceiver(t, b)
	ids := submitForReceipts(t, a, 20)
	for _, id := range ids {
		testutil.Eventually(t, 20*time.Second, "the receipt of "+id+" on b", func() bool { return sink.has(id) })
	}
	noForgedReceipts(t, c)
}

// TestReceiptIDsAfterUpgrade: an upgrade from a version without the
// journal (a store that holds events, no receipt_filter chunks): the ids
// accepted before it are unknown, so the node warms up and their
// receipts are delivered (unverified), not refused as forged.
func TestReceiptIDsAfterUpgrade(t *testing.T) {
	c := newClusterWith(t, sim.Config{ReceiptDelay: 1500 * time.Millisecond, RetrySchedule: retried})
	warming := strings.Replace(receiptPolicy, "receipts: {warm_up: 0s}", "receipts: {warm_up: 10m}", 1)
	a2, n := receiptsAcrossRestart(t, c, warming, func(ctx context.Context) {
		// The version before kept no chunks; its store held events.
		j, _ := store.ReceiptJournalOf(c.st)
		if _, err := j.DropChunks(ctx, "a", math.MaxInt64, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := c.st.Insert(ctx, []*filter.Event{{Time: time.Now(), Direction: "mt", Peer: "acme", Action: "block"}}); err != nil {
			t.Fatal(err)
		}
	})
	if got := testutil.Metric(t, a2.Registry, "smsfw_receipts_unverified_total"); got < float64(n) {
		t.Fatalf("unverified receipts: %v, want >= %d", got, n)
	}
}
