//go:build linux

package interop

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// kannelBulkCount is how many MT the Kannel bulk test sends.
const kannelBulkCount = 2000

// TestKannelBulk sends 2,000 MT with delivery receipts requested through
// Kannel's sendsms HTTP interface (20 requests at a time) to the
// simulator, straight (the baseline), through smsfw pass-through and
// through smsfw with a configuration:
//
//	test --sendsms--> smsbox -> bearerbox --tap--> smsfw --tap--> sim
//
// Every sendsms is accepted, the SMSC gets every submit_sm once, byte for
// byte as Kannel sent it but the sequence number, every request on both
// tapped connections is answered exactly once, and Kannel's dlr-url is
// called exactly once per message with type=1 (delivered, matched by
// Kannel to its MT), for all 2,000.
func TestKannelBulk(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with external processes; skipped in -short mode")
	}
	bearerbox, smsbox := findKannel(t)
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			dir := workDir(t)
			dumpLogsOnFailure(t, dir)
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()

			smsc := startSMSC(t, sim.Config{ReceiptDelay: 100 * time.Millisecond, Keep: -1})
			l := connect(t, r, smsc.addr, "")
			_, port, _ := net.SplitHostPort(l.peer.addr())
			smscPort, _ := strconv.Atoi(port)
			cb := newCallbacks(t)
			k := startKannel(ctx, t, kannelOpts{dir: dir, bearerbox: bearerbox, smsbox: smsbox, smscPort: smscPort,
				msgIDType: "0x00", moURL: cb.url + "/mo", user: peerSystemID, pass: peerPassword})
			snapshotOnFailure(t, k.statusURL)
			waitFor(ctx, t, "Kannel's SMSC online", func() (bool, string) { return k.smscOnline(ctx) })

			start := time.Now()
			kannelSendBulk(ctx, t, k, cb, kannelBulkCount)
			accepted := time.Since(start)
			waitFor(ctx, t, "the SMSC got every MT", func() (bool, string) {
				n := smsc.Stats().Messages
				return n >= kannelBulkCount, fmt.Sprintf("%d of %d", n, kannelBulkCount)
			})
			atSMSC := time.Since(start)
			waitFor(ctx, t, fmt.Sprintf("%d receipts matched by Kannel (type=1)", kannelBulkCount), func() (bool, string) {
				n := cb.bulkDelivered()
				return n == kannelBulkCount, fmt.Sprintf("%d of %d delivered so far", n, kannelBulkCount)
			})
			dlrs := time.Since(start)
			waitFor(ctx, t, "every request answered on the tapped connections", func() (bool, string) {
				p := l.peer.pending()
				if l.smsc != nil {
					p += l.smsc.pending()
				}
				return p == 0, fmt.Sprintf("%d unanswered", p)
			})

			if n := smsc.Stats().Messages; n != kannelBulkCount {
				t.Errorf("%s: the SMSC got %d submit_sm, want %d", r.name, n, kannelBulkCount)
			}
			cb.mu.Lock()
			for i := 0; i < kannelBulkCount; i++ {
				if n := cb.bulk[fmt.Sprintf("%d 1", i)]; n != 1 {
					t.Errorf("%s: MT %d: %d delivery reports type=1, want 1", r.name, i, n)
				}
			}
			for key, n := range cb.bulk {
				var i, typ int
				if _, err := fmt.Sscanf(key, "%d %d", &i, &typ); err != nil || typ != 1 {
					t.Errorf("%s: %d delivery reports %q (MT, type), want only type=1", r.name, n, key)
				}
			}
			cb.mu.Unlock()
			if got := len(l.peer.sent(pdu.SubmitSM, true)); got != kannelBulkCount {
				t.Errorf("%s: Kannel sent %d submit_sm, want %d", r.name, got, kannelBulkCount)
			}
			if got := len(l.peer.sent(pdu.DeliverSM, false)); got != kannelBulkCount {
				t.Errorf("%s: %d deliver_sm reached Kannel, want %d", r.name, got, kannelBulkCount)
			}
			l.checkRelayed(t, r.name, []pdu.CommandID{pdu.SubmitSM, pdu.DeliverSMResp}, []pdu.CommandID{pdu.SubmitSMResp, pdu.DeliverSM})
			logFigure(t, figure{test: "Kannel bulk", path: r.name, n: kannelBulkCount, d: atSMSC,
				note: fmt.Sprintf("MT at the SMSC (sendsms all accepted after %v); all %d DLRs at the dlr-url after %v",
					accepted.Round(time.Millisecond), kannelBulkCount, dlrs.Round(time.Millisecond))})
		})
	}
}

// kannelSendBulk sends n MT through smsbox's sendsms (20 at a time) with
// delivery receipts requested (dlr-mask 3: delivered or failed); each
// must be accepted.
func kannelSendBulk(ctx context.Context, t *testing.T, k *kannel, cb *callbacks, n int) {
	t.Helper()
	sem := make(chan struct{}, 20)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			q := url.Values{
				"username": {sendUser}, "password": {sendPass}, "from": {mtFrom},
				"to": {fmt.Sprintf("49151%08d", i)}, "text": {fmt.Sprintf("Your code is %06d", i)},
				"dlr-mask": {"3"}, "dlr-url": {fmt.Sprintf("%s/bulk?n=%d&type=%%d", cb.url, i)},
			}
			body, code, err := httpGet(ctx, k.sendsmsURL+"?"+q.Encode())
			if err != nil || code != http.StatusAccepted && code != http.StatusOK {
				failed.Add(1)
				t.Logf("sendsms %d: code %d body %q err %v", i, code, body, err)
			}
		}(i)
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d sendsms refused", f, n)
	}
}

// bulkDelivered counts the bulk MT reported delivered (type=1) at least once.
func (cb *callbacks) bulkDelivered() int {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	n := 0
	for key := range cb.bulk {
		var i, typ int
		if _, err := fmt.Sscanf(key, "%d %d", &i, &typ); err == nil && typ == 1 {
			n++
		}
	}
	return n
}
