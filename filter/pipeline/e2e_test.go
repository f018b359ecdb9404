package pipeline_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
)

// world is a simulator, the proxy in config mode with the shipped default
// policy, and peers of each class: the fraud patterns are sent through the
// running proxy, not only to the detectors.
type world struct {
	t      *testing.T
	sim    *sim.Server
	app    *app.App
	addr   string
	engine *rules.Engine
	chain  *pipeline.Chain
	policy string
}

func newWorld(t *testing.T, policy string) *world {
	t.Helper()
	w := &world{t: t, policy: policy}
	w.sim = sim.New(sim.Config{ReceiptDelay: 20 * time.Millisecond}, nil)
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = w.sim.Serve(sln) }()
	cfgText := fmt.Sprintf(`
upstreams:
  smsc: {address: %q}
peers:
  - {system_id: acme, password: pw, class: a2p}
  - {system_id: paypal-gw, password: pw, class: a2p}
  - {system_id: p2pnet, password: pw, class: p2p}
  - {system_id: app, password: pw, class: enterprise, upstream_system_id: appup}
`, sln.Addr().String())
	cfg, err := config.Parse("test.yaml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	src := rules.FileSource(policy)
	a, err := app.New(context.Background(), app.Options{Config: cfg, Listen: "127.0.0.1:0", NoAdmin: true, Policy: &src,
		DB: "none", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	w.app, w.engine, w.chain, w.addr = a, a.Engine, a.Chain, a.Addr()
	t.Cleanup(func() {
		_ = a.Shutdown(context.Background())
		w.sim.Close()
	})
	testutil.Eventually(t, 5*time.Second, "proxy ready", func() bool { ok, _ := w.app.Proxy.Ready(); return ok })
	return w
}

func (w *world) peer(name string, onDeliver func(pdu.PDU) pdu.Status) *esme.Client {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, w.addr, esme.Options{SystemID: name, Password: "pw", OnDeliver: onDeliver})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(cl.Close)
	return cl
}

func mt(from, to, text string) []byte {
	f := &pdu.SMFields{Src: from, Dst: to, RegisteredDelivery: 1}
	f.SrcTON = 1
	for _, c := range from {
		if c < '0' || c > '9' {
			f.SrcTON = 5
			break
		}
	}
	if len(from) <= 6 && f.SrcTON == 1 {
		f.SrcTON = 0
	}
	f.DstTON = 1
	if smstext.CanGSM7(text) {
		f.ShortMessage, _ = smstext.EncodeGSM7(nil, text)
	} else {
		f.DataCoding, f.ShortMessage = 8, smstext.EncodeUCS2(nil, text)
	}
	return pdu.AppendSM(nil, pdu.SubmitSM, 0, f)
}

func send(t *testing.T, cl *esme.Client, raw []byte) esme.Resp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := cl.Do(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func defaultPolicy(t *testing.T) string {
	p, err := filepath.Abs("../../deploy/rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultPolicyEndToEnd(t *testing.T) {
	w := newWorld(t, defaultPolicy(t))
	acme := w.peer("acme", nil)
	paypal := w.peer("paypal-gw", nil)
	p2p := w.peer("p2pnet", nil)
	const user = "4915112345678"

	cases := []struct {
		name   string
		cl     *esme.Client
		raw    []byte
		status pdu.Status
	}{
		{"legitimate OTP", acme, mt("Shop", user, "Your code is 482913. Do not share it."), 0},
		{"registered sender from its own peer", paypal, mt("PayPal", user, "Your PayPal code is 118822"), 0},
		{"P2P chat", p2p, mt("4917611111111", user, "Hi Anna, are we still on for dinner tonight?"), 0},
		{"spoofed sender", acme, mt("PayPal", user, "Your account is limited, log in"), pdu.StatusInvSrcAdr},
		{"lookalike sender", acme, mt("PAYPA1", user, "Your code is 552211"), pdu.StatusInvSrcAdr},
		{"phishing shortener with brand", acme, mt("Parcels", user, "DHL: your parcel is on hold, pay the fee at bit.ly/3xYzAb"), pdu.StatusSubmitFail},
		{"IP literal link", acme, mt("Info", user, "Update now: http://203.0.113.9/login"), pdu.StatusSubmitFail},
		{"blocked domain", acme, mt("Info", user, "Check https://secure-login.xyz/a now"), pdu.StatusSubmitFail},
		{"spam keyword obfuscated", acme, mt("Promo", user, "CL41M Y0UR PR1ZE today!"), pdu.StatusSubmitFail},
		{"scam pattern", acme, mt("Bank", user, "Your card has been suspended, call us"), pdu.StatusSubmitFail},
		{"lure without a link", p2p, mt("447700900123", user, "Hi mum it's me, new number. Can you do me a favour and pay a bill for me today?"), pdu.StatusSubmitFail},
		{"a child asking mum for money", p2p, mt("4917622222222", user, "Mum can you send me 20 euros for the train? Call me"), 0},
	}
	for _, c := range cases {
		r := send(t, c.cl, c.raw)
		if r.Status != c.status {
			t.Errorf("%s: status %v, want %v", c.name, r.Status, c.status)
		}
	}
	// Grey route: an alphanumeric (A2P) sender on the P2P-billed peer is
	// relayed but flagged (the leakage ledger, kept in the event store,
	// is tested in store and review).
	before := w.sim.Stats().Messages
	if r := send(t, p2p, mt("BigBrand", user, "Sale! 50% off everything this weekend")); r.Status != 0 {
		t.Fatalf("grey route: %v", r.Status)
	}
	if w.sim.Stats().Messages != before+1 {
		t.Fatal("grey-route message not relayed")
	}
}

func TestPumpingIsDropped(t *testing.T) {
	w := newWorld(t, defaultPolicy(t))
	acme := w.peer("acme", nil)
	before := w.sim.Stats().Messages
	dropped := 0
	for i := 0; i < 30; i++ {
		r := send(t, acme, mt("Verify", fmt.Sprintf("4490012345%02d", i%7), "Your code is 1234"))
		if r.Status != 0 || r.MessageID == "" {
			t.Fatalf("pumping must be accepted (and dropped): %+v", r)
		}
	}
	relayed := int(w.sim.Stats().Messages - before)
	dropped = 30 - relayed
	if dropped < 5 {
		t.Fatalf("only %d of 30 premium-range messages dropped", dropped)
	}
	// Sequential destinations.
	before = w.sim.Stats().Messages
	for i := 0; i < 10; i++ {
		send(t, acme, mt("Verify", fmt.Sprintf("491701234%04d", 5000+i), "Your code is 9876"))
	}
	if relayed := int(w.sim.Stats().Messages - before); relayed > 5 {
		t.Fatalf("sequential run: %d of 10 relayed", relayed)
	}
}

func TestCampaignAndRateLimit(t *testing.T) {
	w := newWorld(t, defaultPolicy(t))
	p2p := w.peer("p2pnet", nil)
	blocked := 0
	for i := 0; i < 15; i++ {
		r := send(t, p2p, mt(fmt.Sprintf("49176%08d", 1000+i), fmt.Sprintf("49151%08d", 2000+i*7919), "hey check this out, great deal on phones"))
		if r.Status == pdu.StatusSubmitFail {
			blocked++
		}
	}
	if blocked < 5 {
		t.Fatalf("snowshoe campaign: %d of 15 blocked", blocked)
	}
	acme := w.peer("acme", nil)
	throttled := 0
	for i := 0; i < 30; i++ {
		if r := send(t, acme, mt("Shop", "4915199999999", fmt.Sprintf("Order %d shipped", i))); r.Status == pdu.StatusThrottled {
			throttled++
		}
	}
	if throttled < 5 {
		t.Fatalf("recipient flood: %d of 30 throttled", throttled)
	}
}

func TestMOSIMFarmAndFakeReceipts(t *testing.T) {
	w := newWorld(t, defaultPolicy(t))
	var mu sync.Mutex
	var receipts []string
	app := w.peer("app", func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() {
			mu.Lock()
			receipts = append(receipts, string(m.Payload()))
			mu.Unlock()
		}
		return 0
	})
	// A genuine receipt: for a message the SMSC accepted for this peer.
	if r := send(t, app, mt("Shop", "4915112345678", "Your order shipped")); r.Status != 0 {
		t.Fatal(r.Status)
	}
	testutil.Eventually(t, 3*time.Second, "genuine receipt delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(receipts) == 1 })
	ctx := context.Background()
	// SIM farm: many numbers, one text, one short code.
	var refused int
	for i := 0; i < 30; i++ {
		st, err := w.sim.InjectMO(ctx, sim.MO{SystemID: "appup", From: fmt.Sprintf("49170%08d", i), To: "55555", Text: "VOTE 7"})
		if err != nil {
			t.Fatal(err)
		}
		if st == pdu.StatusXRAppn {
			refused++
		}
	}
	if refused < 5 {
		t.Fatalf("SIM farm: %d of 30 refused", refused)
	}
	// Opt-outs: as many numbers answering STOP to one short code all pass
	// (the SIM-farm counters alone would refuse them past 20 senders).
	for i := 0; i < 30; i++ {
		text := []string{"STOP", "Stop", " stop "}[i%3]
		st, err := w.sim.InjectMO(ctx, sim.MO{SystemID: "appup", From: fmt.Sprintf("49171%08d", i), To: "55556", Text: text})
		if err != nil || st != 0 {
			t.Fatalf("opt-out %d (%q): %v %v", i, text, st, err)
		}
	}
	// A forged receipt for an id the SMSC never issued to this peer.
	if st, err := w.sim.InjectReceipt(ctx, "appup", "4915112345678", "Shop", "99887766"); err != nil || st != pdu.StatusXRAppn {
		t.Fatalf("fake receipt: %v %v", st, err)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	base, err := os.ReadFile(defaultPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policy, base, 0o644); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, policy)
	acme := w.peer("acme", nil)
	const n = 2000
	got := make(chan esme.Resp, n)
	var seqs []uint32
	underway := make(chan struct{}) // a tenth of the messages sent: reload while the rest flow
	defer func() {
		select {
		case <-underway:
		default:
			close(underway) // the test failed early: let the reloader end
		}
	}()
	go func() {
		<-underway
		extra := strings.Replace(string(base), "rules:\n", "rules:\n  - {id: new-block, when: 'msg.text_norm == \"reload probe\"', action: block}\n", 1)
		_ = os.WriteFile(policy, []byte(extra), 0o644)
		_ = w.engine.Reload()
		// A broken file keeps the running policy.
		_ = os.WriteFile(policy, []byte("version: 1\nrules: [{id: x}]\n"), 0o644)
		_ = w.engine.Reload()
	}()
	for i := 0; i < n; i++ {
		s, err := acme.Send(mt("Shop", fmt.Sprintf("49151%08d", i), fmt.Sprintf("Your code is %d", i)), func(r esme.Resp) { got <- r })
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
		if i == n/10 {
			close(underway)
		}
		if i%100 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	seen := map[uint32]int{}
	timeout := time.After(10 * time.Second)
	for len(seen) < n {
		select {
		case r := <-got:
			seen[r.Seq]++
			if seen[r.Seq] > 1 {
				t.Fatalf("seq %d answered twice", r.Seq)
			}
			if r.Err != nil {
				t.Fatalf("lost: %v", r.Err)
			}
		case <-timeout:
			t.Fatalf("%d of %d answered", len(seen), n)
		}
	}
	for _, s := range seqs {
		if seen[s] != 1 {
			t.Fatalf("seq %d answered %d times", s, seen[s])
		}
	}
	if r := send(t, acme, mt("Shop", "4915100000001", "Reload probe")); r.Status != pdu.StatusSubmitFail {
		t.Fatalf("rule added by reload not in force: %v", r.Status)
	}
	if w.engine.Snapshot().File != policy {
		t.Fatal("snapshot file")
	}
}
