//go:build linux

package interop

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// kannelBulkCount is how many MT the Kannel bulk and mtbatch tests send.
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
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			kr := startKannelRoute(t, r, sim.Config{ReceiptDelay: 100 * time.Millisecond, Keep: -1}, kannelOpts{msgIDType: "0x00"})
			start := time.Now()
			kannelSendBulk(kr.ctx, t, kr.k, kr.cb, kannelBulkCount, 20, func(i int) string { return fmt.Sprintf("Your code is %06d", i) })
			accepted := time.Since(start)
			keys := make([]string, kannelBulkCount)
			for i := range keys {
				keys[i] = strconv.Itoa(i)
			}
			atSMSC, dlrs := kr.checkBulk(t, r.name, keys, start)
			logFigure(t, figure{test: "Kannel bulk", path: r.name, n: kannelBulkCount, d: atSMSC,
				note: fmt.Sprintf("MT at the SMSC (sendsms all accepted after %v); all %d DLRs at the dlr-url after %v",
					accepted.Round(time.Millisecond), kannelBulkCount, dlrs.Round(time.Millisecond))})
		})
	}
}

// TestKannelMtbatch: Kannel's own mtbatch tool injects 2,000 MT asking
// for delivery reports straight into bearerbox (as a box, all at once,
// not paced by sendsms HTTP), which submits them over SMPP with decimal
// message ids (the simulator's default, Kannel msg-id-type 0x00) or hex
// ones (0x03). Straight to the simulator and through smsfw (pass-through,
// config): every submit_sm accepted and answered once, the SMSC's answers
// and receipts relayed byte for byte but the sequence number, each
// answer to its own request, and Kannel matches all 2,000 receipts
// (one type=1 report per MT at the dlr-url).
func TestKannelMtbatch(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with external processes; skipped in -short mode")
	}
	mtbatch := findKannelTool(t, "mtbatch")
	for _, ids := range []struct {
		name      string
		format    string // the simulator's message ids
		msgIDType string // Kannel's msg-id-type
	}{{"decimal-ids", "dec", "0x00"}, {"hex-ids", "hex", "0x03"}} {
		for _, r := range routes {
			t.Run(ids.name+"/"+r.name, func(t *testing.T) {
				kr := startKannelRoute(t, r, sim.Config{ReceiptDelay: 500 * time.Millisecond, MessageIDFormat: ids.format, Keep: -1},
					kannelOpts{msgIDType: ids.msgIDType})
				dir := t.TempDir()
				content, receivers := filepath.Join(dir, "content.txt"), filepath.Join(dir, "receivers.txt")
				keys := make([]string, kannelBulkCount)
				for i := range keys {
					keys[i] = fmt.Sprintf("49151%08d", i)
				}
				if err := os.WriteFile(content, []byte("Your parcel is on its way"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(receivers, []byte(strings.Join(keys, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				// In a delivery report's dlr-url %p is the MT's destination.
				cmd := exec.CommandContext(kr.ctx, mtbatch, "-v", "1", "-b", "127.0.0.1", "-p", strconv.Itoa(kr.k.boxPort),
					"-f", mtFrom, "-D", "3", "-u", kr.cb.url+"/bulk?n=%p&type=%d", content, receivers)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("mtbatch: %v\n%s", err, tail(string(out), 4000))
				}
				injected := time.Since(start)
				atSMSC, dlrs := kr.checkBulk(t, r.name, keys, start)
				logFigure(t, figure{test: "Kannel mtbatch " + ids.name, path: r.name, n: kannelBulkCount, d: atSMSC,
					note: fmt.Sprintf("MT at the SMSC (mtbatch done after %v); all %d DLRs at the dlr-url after %v",
						injected.Round(time.Millisecond), kannelBulkCount, dlrs.Round(time.Millisecond))})
			})
		}
	}
}

// kannelRoute is Kannel bound through a route to an in-process simulator.
type kannelRoute struct {
	ctx  context.Context // ends with the test, after 3 minutes at the latest
	smsc *smsc
	l    legs
	cb   *callbacks
	k    *kannel
}

// startKannelRoute runs the simulator with cfg, route r in front of it,
// and Kannel (configured by o, whose directory, boxes, SMSC port, MO URL
// and credentials it fills in) bound through r; it returns once Kannel
// lists its SMPP connections online.
func startKannelRoute(t *testing.T, r route, cfg sim.Config, o kannelOpts) *kannelRoute {
	t.Helper()
	o.bearerbox, o.smsbox = findKannel(t)
	o.dir = workDir(t)
	dumpLogsOnFailure(t, o.dir)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	kr := &kannelRoute{ctx: ctx, smsc: startSMSC(t, cfg), cb: newCallbacks(t)}
	kr.l = connect(t, r, kr.smsc.addr, "")
	_, port, _ := net.SplitHostPort(kr.l.peer.addr())
	o.smscPort, _ = strconv.Atoi(port)
	o.moURL = kr.cb.url + "/mo"
	o.user, o.pass = peerSystemID, peerPassword // config mode knows these; the simulator takes any
	kr.k = startKannel(ctx, t, o)
	snapshotOnFailure(t, kr.k.statusURL)
	testutil.Await(ctx, t, kannelPoll, "Kannel's SMSC online", func() (bool, string) { return kr.k.smscOnline(ctx) })
	return kr
}

// waitAnswered waits until every request on the tapped connections has
// been answered.
func (kr *kannelRoute) waitAnswered(t *testing.T) {
	t.Helper()
	testutil.Await(kr.ctx, t, kannelPoll, "every request answered on the tapped connections", func() (bool, string) {
		p := kr.l.pending()
		return p == 0, fmt.Sprintf("%d unanswered", p)
	})
}

// checkBulk waits until the SMSC got one MT per key (the n= of the
// dlr-url) and Kannel reported each delivered, then checks what every
// bulk test promises: every MT accepted and answered once with 0, its
// receipt answered 0 by Kannel, one type=1 report per MT, the MT, the
// receipts and their answers relayed unchanged but the sequence number,
// each answer to its own request. It returns when the SMSC had every MT
// and when Kannel had reported every one, counted from start.
func (kr *kannelRoute) checkBulk(t *testing.T, name string, keys []string, start time.Time) (atSMSC, dlrs time.Duration) {
	t.Helper()
	n := len(keys)
	testutil.Await(kr.ctx, t, kannelPoll, "the SMSC got every MT", func() (bool, string) {
		got := kr.smsc.Stats().Messages
		return got >= uint64(n), fmt.Sprintf("%d of %d", got, n)
	})
	atSMSC = time.Since(start)
	testutil.Await(kr.ctx, t, kannelPoll, fmt.Sprintf("%d receipts matched by Kannel (type=1)", n), func() (bool, string) {
		got := kr.cb.bulkDelivered()
		return got == n, fmt.Sprintf("%d of %d delivered so far", got, n)
	})
	dlrs = time.Since(start)
	kr.waitAnswered(t)

	if got := kr.smsc.Stats().Messages; got != uint64(n) {
		t.Errorf("%s: the SMSC got %d submit_sm, want %d", name, got, n)
	}
	kr.cb.checkDLRs(t, name, keys)
	l := kr.l
	if got := len(l.peer.sent(pdu.SubmitSM, true)); got != n {
		t.Errorf("%s: Kannel sent %d submit_sm, want %d", name, got, n)
	}
	if st := l.peer.answers(pdu.SubmitSM, true); st[0] != n || len(st) != 1 {
		t.Errorf("%s: Kannel's submit_sm answered %v (status: count), want %d with 0", name, st, n)
	}
	if got := len(l.peer.sent(pdu.DeliverSM, false)); got != n {
		t.Errorf("%s: %d deliver_sm reached Kannel, want %d", name, got, n)
	}
	if st := l.peer.answers(pdu.DeliverSM, false); st[0] != n || len(st) != 1 {
		t.Errorf("%s: Kannel answered the receipts %v (status: count), want %d with 0", name, st, n)
	}
	l.checkRelayed(t, name, []pdu.CommandID{pdu.SubmitSM, pdu.DeliverSMResp}, []pdu.CommandID{pdu.SubmitSMResp, pdu.DeliverSM})
	return atSMSC, dlrs
}

// kannelSendBulk sends n MT, text(i) to 49151 and i in 8 digits, through
// smsbox's sendsms (parallel at a time) with delivery receipts requested
// (dlr-mask 3: delivered or failed) to /bulk?n=i; each must be accepted.
func kannelSendBulk(ctx context.Context, t *testing.T, k *kannel, cb *callbacks, n, parallel int, text func(i int) string) {
	t.Helper()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			q := url.Values{
				"username": {sendUser}, "password": {sendPass}, "from": {mtFrom},
				"to": {fmt.Sprintf("49151%08d", i)}, "text": {text(i)},
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
		if strings.HasSuffix(key, " 1") {
			n++
		}
	}
	return n
}

// checkDLRs checks that Kannel called the dlr-url exactly once for each
// of keys (its n=), with type=1 (delivered), and for nothing else.
func (cb *callbacks) checkDLRs(t *testing.T, name string, keys []string) {
	t.Helper()
	cb.mu.Lock()
	defer cb.mu.Unlock()
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
		if n := cb.bulk[k+" 1"]; n != 1 {
			t.Errorf("%s: MT %s: %d delivery reports type=1, want 1", name, k, n)
		}
	}
	for key, n := range cb.bulk {
		if k, typ, _ := strings.Cut(key, " "); typ != "1" || !want[k] {
			t.Errorf("%s: %d delivery reports %q (MT, type), want only type=1 for the MT sent", name, n, key)
		}
	}
}

// findKannelTool locates one of Kannel's command-line tools (Debian puts
// mtbatch in /usr/bin).
func findKannelTool(t *testing.T, name string) string {
	t.Helper()
	if p := lookTool(name, "/usr/bin", "/usr/sbin", "/usr/local/bin"); p != "" {
		return p
	}
	msg := "Kannel's " + name + " not found; install it with: apt-get install -y kannel"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: the CI script must install Kannel)")
	}
	t.Skip(msg)
	return ""
}
