package interop

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	fsmpp "github.com/fiorix/go-smpp/smpp"
	fpdu "github.com/fiorix/go-smpp/smpp/pdu"
	fpdufield "github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	fpdutext "github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	fpdutlv "github.com/fiorix/go-smpp/smpp/pdu/pdutlv"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// fiorix/go-smpp (a third-party Go client) sends a long message with
// Transceiver.SubmitLongMsg: part 2 only after part 1's submit_sm_resp,
// each within its default 1 s response timeout. smsfw holds the parts to
// judge the message whole, so it must answer each part at once and relay
// the whole message afterwards.
//
// For each path (straight to the simulator as the baseline, smsfw
// pass-through, smsfw with a configuration) it sends fiorixMessages UCS-2
// and fiorixMessages GSM 7-bit three-part messages with a receipt asked
// for on every part, and checks:
//   - SubmitLongMsg succeeds for every message with three parts, each
//     answered with a message id;
//   - every request both ways (submit_sm, deliver_sm) is answered exactly
//     once, by sequence number, on the client's connection;
//   - the SMSC receives every part fiorix sent, byte for byte but the
//     sequence number, exactly once, and the parts of a message in order;
//   - every part's receipt reaches fiorix exactly once, under the id it
//     was given for that part (smsfw's own id through smsfw), in the
//     receipted_message_id TLV and the receipt text.
func TestFiorixSubmitLongMsg(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test; skipped in -short mode")
	}
	for _, path := range []string{"direct", "pass-through", "config", "config+default-policy"} {
		t.Run(path, func(t *testing.T) {
			smsc := startSMSC(t, sim.Config{ReceiptDelay: 50 * time.Millisecond})
			target := smsc.addr
			switch path {
			case "pass-through":
				target = startSmsfwMode(t, passThrough, smsc.addr, "", "").Addr()
			case "config":
				target = startSmsfwMode(t, configMode, smsc.addr, "", "").Addr()
			case "config+default-policy":
				target = startSmsfwMode(t, configMode, smsc.addr, "", defaultPolicy).Addr()
			}
			runFiorixLong(t, path, newTap(t, target), smsc, nil)
		})
	}
}

// TestFiorixSubmitLongMsgSMSCUnreachable: in config mode a peer may bind
// and send while smsfw's upstream session is down (at start, or while the
// SMSC restarts). smsfw answers the held parts at once and owes their
// delivery: once the SMSC is back every part reaches it once, whole and
// in order, and every receipt comes back under the id fiorix was given.
func TestFiorixSubmitLongMsgSMSCUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test; skipped in -short mode")
	}
	smsc := startSMSC(t, sim.Config{ReceiptDelay: 50 * time.Millisecond})
	gate := newTap(t, smsc.addr)
	gate.down.Store(true)
	fw := startSmsfwApp(t, configMode, gate.addr(), "", "")
	runFiorixLong(t, "config, SMSC unreachable", newTap(t, fw.Addr()), smsc, func() {
		// Every part's relay has found no upstream session and waits for
		// its retry; now the SMSC comes back.
		testutil.Eventually(t, 5*time.Second, "every part's relay waiting for a retry", func() bool {
			return metric(t, fw, "smsfw_proxy_held_relays_total", "result", "retried") >= 6*fiorixMessages
		})
		gate.down.Store(false)
	})
}

const fiorixMessages = 10 // per alphabet

// defaultPolicy is the policy smsfw ships (relative to the module root).
const defaultPolicy = "deploy/rules/default.yaml"

// fiorixReceipts collects the receipts fiorix's handler sees.
type fiorixReceipts struct {
	mu   sync.Mutex
	byID map[string]int
	bad  []string
}

func (r *fiorixReceipts) handle(p fpdu.Body) {
	if p.Header().ID != fpdu.DeliverSMID {
		return
	}
	text := p.Fields()[fpdufield.ShortMessage].String()
	var tlv string
	if b, ok := p.TLVFields()[fpdutlv.TagReceiptedMessageID]; ok {
		tlv = string(bytes.TrimRight(b.Bytes(), "\x00"))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !strings.HasPrefix(text, "id:") {
		r.bad = append(r.bad, fmt.Sprintf("deliver_sm that is not a receipt: %q", text))
		return
	}
	id := strings.Fields(strings.TrimPrefix(text, "id:"))[0]
	if tlv != "" && tlv != id {
		r.bad = append(r.bad, fmt.Sprintf("receipt text id %q, receipted_message_id %q", id, tlv))
	}
	r.byID[id]++
}

func (r *fiorixReceipts) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.byID {
		n += c
	}
	return n
}

// runFiorixLong sends the messages through tp and checks what reached
// smsc; afterSubmit (if set) runs once every part has been answered.
func runFiorixLong(t *testing.T, path string, tp *tap, smsc *smsc, afterSubmit func()) {
	rc := &fiorixReceipts{byID: map[string]int{}}
	// RespTimeout left zero: fiorix's default of 1 s per part.
	tx := &fsmpp.Transceiver{Addr: tp.addr(), User: peerSystemID, Passwd: peerPassword, Handler: rc.handle}
	conn := tx.Bind()
	defer tx.Close()
	select {
	case st := <-conn:
		if st.Error() != nil {
			t.Fatalf("fiorix bind: %v", st.Error())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fiorix did not bind within 5 s")
	}

	type sent struct {
		alphabet string
		ids      []string
	}
	var msgs []sent
	given := map[string]bool{}
	rnd := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for i := 0; i < fiorixMessages; i++ {
		// UCS-2: 176 characters, 352 octets: parts of 132, 132 and 88.
		// GSM 7-bit (unpacked): 405 octets: parts of 152, 152 and 101.
		ucs2 := string([]rune(fmt.Sprintf("%03d ", i) + strings.Repeat("Grüße aus Köln ☺ ", 11))[:176])
		gsm := string([]byte(fmt.Sprintf("%03d ", i) + strings.Repeat("Your parcel is on its way. ", 15))[:405])
		for _, m := range []struct {
			alphabet string
			codec    fpdutext.Codec
		}{{"UCS-2", fpdutext.UCS2(ucs2)}, {"GSM", fpdutext.GSM7(gsm)}} {
			// One recipient per message, not consecutive numbers: the shipped
			// policy limits segments per recipient (recipient-flood, 20 in a
			// burst) and drops runs of consecutive numbers (sms-pumping).
			parts, err := tx.SubmitLongMsg(&fsmpp.ShortMessage{Src: "4917600000001", Dst: randomMSISDN(rnd), Text: m.codec,
				Register: fpdufield.FinalDeliveryReceipt})
			if err != nil {
				t.Fatalf("%s message %d: SubmitLongMsg: %v after %d parts", m.alphabet, i, err, len(parts))
			}
			if len(parts) != 3 {
				t.Fatalf("%s message %d: %d parts answered, want 3", m.alphabet, i, len(parts))
			}
			s := sent{alphabet: m.alphabet}
			for j := range parts {
				id := parts[j].RespID()
				if id == "" || given[id] {
					t.Fatalf("%s message %d: part answered with id %q (empty or given twice)", m.alphabet, i, id)
				}
				given[id] = true
				s.ids = append(s.ids, id)
			}
			msgs = append(msgs, s)
		}
	}
	submitted := time.Since(start)
	nParts := 3 * len(msgs)
	if afterSubmit != nil {
		afterSubmit()
	}

	testutil.Eventually(t, 20*time.Second, "the SMSC got every part", func() bool { return smsc.rec.count(pdu.SubmitSM) >= nParts })
	testutil.Eventually(t, 20*time.Second, "fiorix got every receipt", func() bool { return rc.total() >= nParts })
	testutil.Eventually(t, 5*time.Second, "every request answered both ways", func() bool { return tp.pending() == 0 })
	total := time.Since(start)
	// Anything more (a duplicate part, a second receipt) would show in the
	// exact comparisons below; give it a moment to arrive.
	testutil.Consistently(t, 200*time.Millisecond, "nothing more reaches the SMSC or fiorix", func() bool {
		return smsc.rec.count(pdu.SubmitSM) == nParts && rc.total() == nParts
	})

	tp.check(t, path)
	c := tp.counts()
	if c.ClientRequests != c.ClientAnswered || c.ServerRequests != c.ServerAnswered {
		t.Errorf("%s: %+v: a request answered other than once", path, c)
	}

	// Parts at the SMSC: exactly what fiorix sent, but the sequence number.
	fromClient := tp.sent(pdu.SubmitSM, true)
	if len(fromClient) != nParts {
		t.Errorf("%s: fiorix sent %d submit_sm, want %d", path, len(fromClient), nParts)
	}
	atSMSC := smsc.rec.of(pdu.SubmitSM)
	if err := sameMultiset(fromClient, atSMSC); err != nil {
		t.Errorf("%s: relayed parts: %v", path, err)
	}
	checkPartOrder(t, path, atSMSC)

	// Through smsfw each part was held and answered with smsfw's own id
	// (none of the SMSC's); straight to the simulator, with the SMSC's.
	smscIDs := map[string]bool{}
	for _, m := range smsc.Messages() {
		smscIDs[m.MessageID] = true
	}
	for id := range given {
		if smscIDs[id] != (path == "direct") {
			t.Errorf("%s: part answered with id %q; the SMSC issued it: %v", path, id, smscIDs[id])
		}
	}

	// Receipts: one per part, under the ids fiorix was given.
	rc.mu.Lock()
	for _, b := range rc.bad {
		t.Errorf("%s: %s", path, b)
	}
	for id, n := range rc.byID {
		if !given[id] {
			t.Errorf("%s: receipt for %q, an id fiorix was never given", path, id)
		} else if n != 1 {
			t.Errorf("%s: %d receipts for %q, want 1", path, n, id)
		}
	}
	rc.mu.Unlock()
	for id := range given {
		if rc.byID[id] == 0 {
			t.Errorf("%s: no receipt for part id %q", path, id)
		}
	}
	// The receipts on the wire, parsed independently of fiorix.
	for _, p := range tp.sent(pdu.DeliverSM, false) {
		var m pdu.Message
		if err := pdu.ParseMessage(p, &m); err != nil || !m.IsReceipt() {
			t.Errorf("%s: deliver_sm toward fiorix is not a receipt (%v): %x", path, err, p)
		}
	}
	logFigure(t, figure{test: "fiorix SubmitLongMsg", path: path, n: len(msgs),
		d: submitted, note: fmt.Sprintf("%d 3-part messages (UCS-2 and GSM), 1 s timeout per part; all %d receipts back after %v",
			len(msgs), nParts, total.Round(time.Millisecond))})
}

// checkPartOrder checks that the parts of each concatenated message (by
// destination and reference) that reached the SMSC on one connection
// (each of streams) came in order, no part before an earlier one, and
// that every message is complete over all connections.
func checkPartOrder(t reporter, path string, streams ...[][]byte) {
	t.Helper()
	type msgKey struct {
		dst string
		ref uint16
	}
	seen := map[msgKey]int{} // parts seen
	totals := map[msgKey]uint8{}
	for _, stream := range streams {
		last := map[msgKey]uint8{} // the last part seen on this connection
		for _, p := range stream {
			var m pdu.Message
			if err := pdu.ParseMessage(p, &m); err != nil {
				t.Errorf("%s: SMSC got an unparsable submit_sm: %v", path, err)
				continue
			}
			c, ok, _ := m.Concat()
			if !ok {
				t.Errorf("%s: SMSC got a submit_sm without concatenation: %x", path, p)
				continue
			}
			k := msgKey{string(m.Dst.Addr), c.Ref}
			if c.Part <= last[k] {
				t.Errorf("%s: message to %s ref %d: part %d after part %d", path, k.dst, k.ref, c.Part, last[k])
			}
			last[k] = c.Part
			seen[k]++
			totals[k] = c.Total
		}
	}
	for k, n := range seen {
		if n != int(totals[k]) {
			t.Errorf("%s: message to %s ref %d: %d parts of %d reached the SMSC", path, k.dst, k.ref, n, totals[k])
		}
	}
}

// randomMSISDN is a German mobile number; rnd is seeded, so runs repeat.
func randomMSISDN(rnd *rand.Rand) string {
	return fmt.Sprintf("49151%08d", rnd.IntN(100000000))
}

// fiorix/go-smpp as an ESME sends fiorixReceiptCount MT asking for
// receipts (50 at a time); the receipts come back in a burst once every MT
// is answered (the simulator's receipt delay), so a window of deliveries
// toward fiorix fills at once. Every MT is answered once, every receipt
// reaches fiorix once under the SMSC's id, byte-exact but the sequence
// number.
func TestFiorixReceiptBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test; skipped in -short mode")
	}
	receiptDelay := 2 * time.Second
	if raceEnabled {
		receiptDelay = 8 * time.Second
	}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			smsc := startSMSC(t, sim.Config{ReceiptDelay: receiptDelay})
			l := connect(t, r, smsc.addr, "")
			rc := &fiorixReceipts{byID: map[string]int{}}
			tx := &fsmpp.Transceiver{Addr: l.peer.addr(), User: peerSystemID, Passwd: peerPassword, Handler: rc.handle}
			conn := tx.Bind()
			defer tx.Close()
			select {
			case st := <-conn:
				if st.Error() != nil {
					t.Fatalf("fiorix bind: %v", st.Error())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("fiorix did not bind within 5 s")
			}
			start := time.Now()
			ids := make([]string, fiorixReceiptCount)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var errs []string
			work := make(chan int)
			for w := 0; w < 50; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range work {
						sm, err := tx.Submit(&fsmpp.ShortMessage{Src: "FioShop", SourceAddrTON: 5, Dst: fmt.Sprintf("49151%08d", i),
							DestAddrTON: 1, DestAddrNPI: 1, Text: fpdutext.Raw(fmt.Sprintf("Your code is %06d", i)),
							Register: fpdufield.FinalDeliveryReceipt})
						if err != nil {
							mu.Lock()
							errs = append(errs, fmt.Sprintf("MT %d: %v", i, err))
							mu.Unlock()
							continue
						}
						ids[i] = sm.RespID()
					}
				}()
			}
			for i := 0; i < fiorixReceiptCount; i++ {
				work <- i
			}
			close(work)
			wg.Wait()
			submitted := time.Since(start)
			if len(errs) > 0 {
				t.Fatalf("%s: %d of %d MT failed, e.g. %s", r.name, len(errs), fiorixReceiptCount, errs[0])
			}
			if submitted >= receiptDelay {
				// fiorix takes a deliver_sm whose sequence number matches one
				// of its own requests in flight for that request's answer, so
				// receipts must not arrive while it is still submitting.
				t.Fatalf("%s: submitting took %v, longer than the receipt delay %v: the test cannot keep receipts apart from submits", r.name, submitted, receiptDelay)
			}
			testutil.Eventually(t, 30*time.Second, "every receipt at fiorix", func() bool { return rc.total() >= fiorixReceiptCount })
			all := time.Since(start)
			testutil.Eventually(t, 5*time.Second, "every request answered on the tapped connections", func() bool {
				return l.pending() == 0
			})
			rc.mu.Lock()
			for _, b := range rc.bad {
				t.Errorf("%s: %s", r.name, b)
			}
			for _, id := range ids {
				if n := rc.byID[id]; n != 1 {
					t.Errorf("%s: %d receipts for message id %q, want 1", r.name, n, id)
				}
			}
			if len(rc.byID) != fiorixReceiptCount {
				t.Errorf("%s: receipts for %d ids, want %d", r.name, len(rc.byID), fiorixReceiptCount)
			}
			rc.mu.Unlock()
			if n := len(l.peer.sent(pdu.DeliverSM, false)); n != fiorixReceiptCount {
				t.Errorf("%s: %d deliver_sm reached fiorix, want %d", r.name, n, fiorixReceiptCount)
			}
			l.checkRelayed(t, r.name, []pdu.CommandID{pdu.SubmitSM, pdu.DeliverSMResp}, []pdu.CommandID{pdu.SubmitSMResp, pdu.DeliverSM})
			logFigure(t, figure{test: "fiorix receipt burst", path: r.name, n: fiorixReceiptCount, d: submitted,
				note: fmt.Sprintf("MT answered (50 at a time); all receipts at fiorix %v after the first MT (receipt delay %v)", all.Round(time.Millisecond), receiptDelay)})
		})
	}
}

const fiorixReceiptCount = 5000
