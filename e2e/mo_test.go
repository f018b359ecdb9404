package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// MO routes through the running smsfw: the simulator injects MO through
// its HTTP API; a vote goes to the HTTP endpoint only (signed, the SMSC
// answered once it is queued), a poll answer to the pull queue and to the
// peer (the SMSC gets the peer's answer), anything else to the peer alone.
func TestMORoutesEndToEnd(t *testing.T) {
	dir := t.TempDir()
	secret, token := "e2e-secret", "e2e-pull-token-0123456789"
	if err := os.WriteFile(filepath.Join(dir, "mo.key"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pull.token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	app := newSignedReceiver(t, secret)
	w := newWorld(t, worldOptions{proxy: fmt.Sprintf(`mo_routes:
  - name: votes
    match: {to: ["80080"], keyword: [VOTE]}
    http: {url: %q, secret_file: %q, backoff: 10ms}
    smpp: false
  - name: polls
    match: {to: ["8009*"]}
    pull: true
    pull_token_file: %q
`, app.URL, filepath.Join(dir, "mo.key"), filepath.Join(dir, "pull.token"))})
	var dmu sync.Mutex
	var toPeer []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, w.addr, esme.Options{SystemID: "acme", Password: "pw", OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		_ = pdu.ParseMessage(p, &m)
		dmu.Lock()
		toPeer = append(toPeer, string(m.Dst.Addr))
		dmu.Unlock()
		return pdu.StatusOK
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	simAPI := httptest.NewServer(w.sim.Handler())
	defer simAPI.Close()
	inject := func(to, text string) string {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"system_id": "fw", "from": "4917600000009", "to": to, "text": text})
		resp, err := http.Post(simAPI.URL+"/v1/mo", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct{ State string }
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return r.State
	}
	for _, tc := range [][2]string{{"80080", "vote blue"}, {"80091", "Yes please"}, {"12345", "hello"}} {
		if st := inject(tc[0], tc[1]); st != "delivered" {
			t.Fatalf("MO to %s: %s", tc[0], st)
		}
	}
	testutil.Eventually(t, 5*time.Second, "vote pushed", func() bool { return len(app.got()) == 1 })
	if m := app.got()[0]; m.Text != "vote blue" || m.Destination != "80080" || m.Sender != "4917600000009" || m.Route != "votes" ||
		m.Peer != "acme" || m.Verdict.Action != "allow" {
		t.Fatalf("pushed %+v", m)
	}
	dmu.Lock()
	if fmt.Sprint(toPeer) != "[80091 12345]" {
		t.Errorf("the peer got MO to %v", toPeer)
	}
	dmu.Unlock()
	req, _ := http.NewRequest(http.MethodGet, w.admin+"/api/v1/mo?route=polls", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b mo.Batch
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || len(b.Messages) != 1 || b.Messages[0].Text != "Yes please" {
		t.Fatalf("pulled %+v %v", b, err)
	}
	// Dead letters are behind the admin credentials (loopback here).
	dead, err := http.Get(w.admin + "/api/v1/mo/dead")
	if err != nil {
		t.Fatal(err)
	}
	dead.Body.Close()
	if dead.StatusCode != http.StatusOK {
		t.Fatalf("dead letters: %d", dead.StatusCode)
	}
}

// Two routes with automatic replies and a network that turns their MT
// back into MO (each route's number texting the other's, and an echo bot
// at 3000 answering everything): the loop stops at once. A reply to
// smsfw's own reply address is skipped; the echo bot gets one reply per
// route, its echoes are skipped by per_sender.
func TestMOAutoReplyLoop(t *testing.T) {
	w := newWorld(t, worldOptions{proxy: `mo_routes:
  - name: a
    match: {to: ["1000"]}
    reply: {text: "A got it", from: "1000", backoff: 10ms}
    smpp: false
  - name: b
    match: {to: ["2000"]}
    reply: {text: "B got it", from: "2000", backoff: 10ms}
    smpp: false
`})
	cl := w.dial() // binds the peer's upstream, which the replies take
	defer cl.Close()
	replyLoopContained(t, w, "")
}

// signedReceiver is an HTTP endpoint that checks the signature as
// docs/mo.md shows and keeps what it got.
type signedReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []mo.Message
	keys []string
}

func newSignedReceiver(t *testing.T, secret string) *signedReceiver {
	rc := &signedReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if !hmac.Equal([]byte(r.Header.Get("X-Smsfw-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil)))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m mo.Message
		_ = json.Unmarshal(body, &m)
		rc.mu.Lock()
		rc.msgs = append(rc.msgs, m)
		rc.keys = append(rc.keys, r.Header.Get("Idempotency-Key"))
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *signedReceiver) got() []mo.Message {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.msgs)
}

// idempotencyKeys are the pushes' Idempotency-Keys, in order.
func (rc *signedReceiver) idempotencyKeys() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.keys)
}

// echoNetwork is a network that turns each MT the simulator takes back
// into an MO: to the MT's destination from its sender, except that the
// echo bot at 3000 answers what it gets (from 3000 to the MT's sender).
// It counts the MT it saw; done closes once ctx ends.
func echoNetwork(ctx context.Context, w *world) (mts *atomic.Int64, done chan struct{}) {
	mts, done = new(atomic.Int64), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		seen := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			msgs := w.sim.Messages()
			for _, m := range msgs[seen:] {
				mts.Add(1)
				in := sim.MO{SystemID: "fw", From: m.From, To: m.To, Text: m.Text}
				if m.To == "3000" {
					in.From, in.To = "3000", m.From // the echo bot answers
				}
				_, _ = w.sim.InjectMO(ctx, in)
			}
			seen = len(msgs)
		}
	}()
	return mts, done
}

// sentMT is every MT the simulator took, as "from>to:text", sorted.
func sentMT(w *world) []string {
	var to []string
	for _, m := range w.sim.Messages() {
		to = append(to, m.From+">"+m.To+":"+m.Text)
	}
	slices.Sort(to)
	return to
}

// A policy rule (not a route) answers an MO "STOP" to the operator's
// short code: the automatic reply reaches the subscriber through the
// upstream (the simulator takes it), a ticketing webhook gets the signed
// event, and the MO itself goes on to the peer as before. Another rule's
// reply, which the policy blocks as an MT, is never sent.
func TestRuleActionsOptOut(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "siem.key")
	if err := os.WriteFile(key, []byte("siem-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hook := newSignedReceiver(t, "siem-secret")
	w := newWorld(t, worldOptions{policy: fmt.Sprintf(`version: 1
default: allow
rules:
  - id: opt-out
    direction: mo
    when: msg.dest == "80080" && msg.text_norm == "stop"
    action: allow
    actions:
      reply: {text: "You will get no more messages from us.", from: "80080", backoff: 10ms}
      webhook: {url: %q, secret_file: %q, backoff: 10ms}
  - id: no-casino
    direction: mt
    when: msg.text contains "casino"
    action: block
  - id: promo
    direction: mo
    when: msg.dest == "80081"
    action: allow
    actions:
      reply: {text: "casino bonus for you", from: "80081", backoff: 10ms}
`, hook.URL, key)})
	var dmu sync.Mutex
	var toPeer []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, w.addr, esme.Options{SystemID: "acme", Password: "pw", OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		_ = pdu.ParseMessage(p, &m)
		dmu.Lock()
		toPeer = append(toPeer, string(m.Src.Addr)+">"+string(m.Dst.Addr))
		dmu.Unlock()
		return pdu.StatusOK
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, in := range []sim.MO{{From: "4917600000009", To: "80080", Text: "STOP"}, {From: "4917600000008", To: "80080", Text: "hello"},
		{From: "4917600000007", To: "80081", Text: "promo"}} {
		in.SystemID = "fw"
		if st, err := w.sim.InjectMO(ctx, in); err != nil || st != pdu.StatusOK {
			t.Fatalf("inject %+v: %v %v", in, st, err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "the reply sent and the event posted", func() bool {
		return len(w.sim.Messages()) == 1 && len(hook.got()) == 1
	})
	if to := sentMT(w); fmt.Sprint(to) != "[80080>4917600000009:You will get no more messages from us.]" {
		t.Fatalf("MT sent: %v", to)
	}
	if e, key := hook.got()[0], hook.idempotencyKeys()[0]; e.Route != "rule:opt-out" || e.Sender != "4917600000009" || e.Destination != "80080" ||
		e.Text != "STOP" || e.Peer != "acme" || e.Verdict.Action != "allow" || e.Verdict.Rule != "opt-out" || key != "smsfw-mo-"+e.ID {
		t.Fatalf("webhook got %+v (key %s)", e, key)
	}
	dmu.Lock()
	if fmt.Sprint(toPeer) != "[4917600000009>80080 4917600000008>80080 4917600000007>80081]" {
		t.Errorf("the peer got %v", toPeer)
	}
	dmu.Unlock()
	// Counted once the target answered, which may be just after the
	// receiver has the message.
	for _, target := range []string{mo.TargetReply, mo.TargetWebhook} {
		testutil.Eventually(t, 5*time.Second, "rule:opt-out's "+target+" counted delivered", func() bool {
			return w.series("smsfw_mo_delivered_total", []string{"rule:opt-out", target}) == 1
		})
	}
	// The promo rule's reply is inspected as an MT and blocked: a dead
	// letter at once, nothing sent.
	testutil.Eventually(t, 5*time.Second, "the blocked reply dead-lettered", func() bool {
		return w.series("smsfw_mo_dead_letters_total", []string{"rule:promo", mo.TargetReply}) == 1
	})
	if n := len(w.sim.Messages()); n != 1 {
		t.Fatalf("%d MT sent", n)
	}
}

// Two rules answering each other's short codes and an echo bot, as
// TestMOAutoReplyLoop does with routes: the loop stops at once.
func TestRuleActionsReplyLoop(t *testing.T) {
	w := newWorld(t, worldOptions{policy: `version: 1
default: allow
rules:
  - id: a
    direction: mo
    when: msg.dest == "1000"
    action: allow
    actions:
      reply: {text: "A got it", from: "1000", backoff: 10ms}
  - id: b
    direction: mo
    when: msg.dest == "2000"
    action: allow
    actions:
      reply: {text: "B got it", from: "2000", backoff: 10ms}
`})
	cl := w.dial() // binds the peer's upstream, which the replies take
	defer cl.Close()
	replyLoopContained(t, w, mo.RulePrefix)
}

// replyLoopContained runs the loop of TestMOAutoReplyLoop on w, whose
// replies are configured on routes or rules (prefix: mo.RulePrefix) a and
// b: the echoes are skipped and each side sends one reply.
func replyLoopContained(t *testing.T, w *world, prefix string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mts, done := echoNetwork(ctx, w)
	for _, in := range []sim.MO{{From: "2000", To: "1000", Text: "hi A"}, {From: "3000", To: "1000", Text: "hi A"}, {From: "3000", To: "2000", Text: "hi B"}} {
		in.SystemID = "fw"
		if st, err := w.sim.InjectMO(ctx, in); err != nil || st != pdu.StatusOK {
			t.Fatalf("inject %+v: %v %v", in, st, err)
		}
	}
	skipped := func(route, reason string) float64 {
		return w.series("smsfw_mo_replies_skipped_total", []string{reason, prefix + route}) // labels sorted by name
	}
	testutil.Eventually(t, 10*time.Second, "the echoes skipped", func() bool {
		return skipped("a", mo.SkipOwnAddress) == 1 && skipped("a", mo.SkipSender) >= 1 && skipped("b", mo.SkipSender) >= 1
	})
	testutil.Consistently(t, 300*time.Millisecond, "no more replies", func() bool { return mts.Load() == 2 })
	cancel()
	<-done
	if to := sentMT(w); fmt.Sprint(to) != "[1000>3000:A got it 2000>3000:B got it]" {
		t.Fatalf("MT sent: %v", to)
	}
}
