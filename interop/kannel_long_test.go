//go:build linux

package interop

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// kannelLongCount is how many long messages the Kannel test sends.
const kannelLongCount = 200

// TestKannelLongMessages sends 200 texts of 405 GSM characters through
// Kannel's sendsms with concatenation on and delivery reports requested;
// Kannel splits each into 3 parts (UDH 05 00 03) and sends a message's
// parts without waiting for their answers. Kannel is bound as one
// transceiver, or as a transmitter and a separate receiver (so the
// receipts of the parts come back on the other session than the parts
// went out on; through smsfw, receipts of parts smsfw answered itself and
// relayed later). Straight to the simulator and through smsfw
// (pass-through, config):
//   - every part answered once with 0;
//   - the SMSC gets every part once, byte for byte but the sequence
//     number, the parts of each message in order;
//   - every receipt Kannel asked for (on one part of each message) reaches
//     it, on its receiver session, and is answered 0;
//   - Kannel reports each message delivered exactly once (type=1).
func TestKannelLongMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with external processes; skipped in -short mode")
	}
	const parts = 3
	for _, bind := range []struct {
		name       string
		separateRX bool
	}{{"transceiver", false}, {"transmitter+receiver", true}} {
		for _, r := range routes {
			t.Run(bind.name+"/"+r.name, func(t *testing.T) {
				kr := startKannelRoute(t, r, sim.Config{ReceiptDelay: 500 * time.Millisecond},
					kannelOpts{msgIDType: "0x00", maxParts: parts, separateRX: bind.separateRX})
				name := bind.name + "/" + r.name
				start := time.Now()
				kannelSendBulk(kr.ctx, t, kr.k, kr.cb, kannelLongCount, 10, func(i int) string {
					// 405 GSM characters: 3 parts of at most 153.
					return fmt.Sprintf("%04d ", i) + strings.Repeat("Your parcel is on its way. ", 15)[5:]
				})
				accepted := time.Since(start)
				testutil.Await(kr.ctx, t, kannelPoll, "the SMSC got every part", func() (bool, string) {
					n := kr.smsc.rec.count(pdu.SubmitSM)
					return n >= kannelLongCount*parts, fmt.Sprintf("%d of %d", n, kannelLongCount*parts)
				})
				atSMSC := time.Since(start)
				testutil.Await(kr.ctx, t, kannelPoll, fmt.Sprintf("%d messages reported delivered (type=1)", kannelLongCount), func() (bool, string) {
					n := kr.cb.bulkDelivered()
					return n == kannelLongCount, fmt.Sprintf("%d of %d", n, kannelLongCount)
				})
				dlrs := time.Since(start)
				kr.waitAnswered(t)

				l := kr.l
				sent := l.peer.sent(pdu.SubmitSM, true)
				if len(sent) != kannelLongCount*parts {
					t.Errorf("%s: Kannel sent %d parts, want %d", name, len(sent), kannelLongCount*parts)
				}
				if st := l.peer.answers(pdu.SubmitSM, true); st[0] != len(sent) || len(st) != 1 {
					t.Errorf("%s: Kannel's parts answered %v (status: count), want all %d with 0", name, st, len(sent))
				}
				atSMSCParts := kr.smsc.rec.of(pdu.SubmitSM)
				if err := sameMultiset(sent, atSMSCParts); err != nil {
					t.Errorf("%s: parts at the SMSC: %v", name, err)
				}
				checkPartOrder(t, name, atSMSCParts)
				held := checkHeld(t, name, kr.smsc, l.peer.sent(pdu.SubmitSMResp, false), r.direct)
				// Kannel asks for a receipt on some parts only; each one asked
				// for comes back, on the receiver session, answered 0.
				asked := 0
				for _, p := range sent {
					var m pdu.Message
					if err := pdu.ParseMessage(p, &m); err == nil && m.RegisteredDelivery&0x03 != 0 {
						asked++
					}
				}
				if asked < kannelLongCount {
					t.Errorf("%s: Kannel asked for %d receipts, want at least one per message (%d)", name, asked, kannelLongCount)
				}
				receiver := pdu.BindTransceiver
				if bind.separateRX {
					receiver = pdu.BindReceiver
				}
				if n := len(l.peer.sentOn(receiver, pdu.DeliverSM, false)); n != asked {
					t.Errorf("%s: %d receipts reached Kannel on its %v session, want %d", name, n, receiver, asked)
				}
				if st := l.peer.answers(pdu.DeliverSM, false); st[0] != asked || len(st) != 1 {
					t.Errorf("%s: Kannel answered the receipts %v (status: count), want %d with 0", name, st, asked)
				}
				keys := make([]string, kannelLongCount)
				for i := range keys {
					keys[i] = strconv.Itoa(i)
				}
				kr.cb.checkDLRs(t, name, keys)
				// Through smsfw the parts were answered by smsfw and their
				// receipts carry its ids: only the parts compare byte for byte.
				l.checkRelayed(t, name, []pdu.CommandID{pdu.SubmitSM}, nil)
				logFigure(t, figure{test: "Kannel long messages " + bind.name, path: r.name, n: kannelLongCount, d: atSMSC,
					note: fmt.Sprintf("3-part messages, all parts at the SMSC (sendsms all accepted after %v); all %d reports at the dlr-url after %v; %d receipts asked for, %d parts answered by smsfw",
						accepted.Round(time.Millisecond), kannelLongCount, dlrs.Round(time.Millisecond), asked, held)})
			})
		}
	}
}
