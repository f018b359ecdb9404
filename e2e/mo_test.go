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
	var mu sync.Mutex
	var pushed []mo.Message
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		if !hmac.Equal([]byte(r.Header.Get("X-Smsfw-Signature")), []byte("sha256="+hex.EncodeToString(mac.Sum(nil)))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m mo.Message
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		pushed = append(pushed, m)
		mu.Unlock()
	}))
	defer app.Close()
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
	testutil.Eventually(t, 5*time.Second, "vote pushed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(pushed) == 1
	})
	if m := pushed[0]; m.Text != "vote blue" || m.Destination != "80080" || m.Sender != "4917600000009" || m.Route != "votes" ||
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mts atomic.Int64
	done := make(chan struct{})
	go func() { // the network: each MT comes back as an MO
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
	for _, in := range []sim.MO{{From: "2000", To: "1000", Text: "hi A"}, {From: "3000", To: "1000", Text: "hi A"}, {From: "3000", To: "2000", Text: "hi B"}} {
		in.SystemID = "fw"
		if st, err := w.sim.InjectMO(ctx, in); err != nil || st != pdu.StatusOK {
			t.Fatalf("inject %+v: %v %v", in, st, err)
		}
	}
	skipped := func(route, reason string) float64 {
		return w.series("smsfw_mo_replies_skipped_total", []string{reason, route}) // labels sorted by name
	}
	testutil.Eventually(t, 10*time.Second, "the echoes skipped", func() bool {
		return skipped("a", mo.SkipOwnAddress) == 1 && skipped("a", mo.SkipSender) >= 1 && skipped("b", mo.SkipSender) >= 1
	})
	testutil.Consistently(t, 300*time.Millisecond, "no more replies", func() bool { return mts.Load() == 2 })
	cancel()
	<-done
	var to []string
	for _, m := range w.sim.Messages() {
		to = append(to, m.From+">"+m.To+":"+m.Text)
	}
	slices.Sort(to)
	if fmt.Sprint(to) != "[1000>3000:A got it 2000>3000:B got it]" {
		t.Fatalf("MT sent: %v", to)
	}
}
