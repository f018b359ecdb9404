package mo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testSecret = "mo-secret-for-tests"
	testToken  = "pull-token-0123456789"
)

// receiver is an HTTP endpoint written from docs/mo.md: it checks the
// signature, keeps each Idempotency-Key once, and answers as told.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	byKey  map[string]Message
	keys   []string // every request's key, repeats included
	answer func(n int) int
	stall  chan struct{} // when set, requests wait on it
	n      atomic.Int64
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// Verification as docs/mo.md shows it.
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-Smsfw-Signature")), []byte(want)) {
		rc.t.Errorf("bad signature %q", r.Header.Get("X-Smsfw-Signature"))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	n := int(rc.n.Add(1))
	if rc.stall != nil {
		select {
		case <-rc.stall:
		case <-r.Context().Done():
			return
		}
	}
	code := http.StatusOK
	if rc.answer != nil {
		code = rc.answer(n)
	}
	if code/100 == 2 {
		var m Message
		if err := json.Unmarshal(body, &m); err != nil {
			rc.t.Errorf("body: %v", err)
		}
		key := r.Header.Get("Idempotency-Key")
		rc.mu.Lock()
		if prev, dup := rc.byKey[key]; dup && prev.Text != m.Text {
			rc.t.Errorf("key %s reused for %q and %q", key, prev.Text, m.Text)
		}
		rc.byKey[key] = m
		rc.keys = append(rc.keys, key)
		rc.mu.Unlock()
	}
	w.WriteHeader(code)
}

func (rc *receiver) texts() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for _, m := range rc.byKey {
		out[m.Text]++
	}
	return out
}

type harness struct {
	t   *testing.T
	svc *Service
	q   store.MOQueue
	st  store.Store
}

func newHarness(t *testing.T, routes Routes, wrap func(store.MOQueue) store.MOQueue) *harness {
	t.Helper()
	return newHarnessWith(t, Options{Routes: routes}, wrap)
}

// newHarnessWith is newHarness with more options (o.Routes the routes).
func newHarnessWith(t *testing.T, o Options, wrap func(store.MOQueue) store.MOQueue) *harness {
	t.Helper()
	routes := o.Routes
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "mo.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q, _ := store.MOQueueOf(st)
	if wrap != nil {
		q = wrap(q)
	}
	for i := range routes {
		for _, h := range []*HTTPTarget{routes[i].HTTP, routes[i].Webhook} {
			if h != nil {
				h.SecretFile = "testdata/mo.key"
			}
		}
		if routes[i].Pull {
			routes[i].PullTokenFile = "testdata/pull.token"
		}
	}
	o.Queue, o.Logger = q, zaptest.NewLogger(t)
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	t.Cleanup(svc.Close)
	return &harness{t: t, svc: svc, q: q, st: st}
}

// offer hands an MO to the service as the proxy does and waits for done.
func (h *harness) offer(to, text string) (proxy.MOMatch, error) {
	h.t.Helper()
	return h.offerFrom("4917600000001", to, text)
}

func (h *harness) offerFrom(from, to, text string) (proxy.MOMatch, error) {
	h.t.Helper()
	return h.offerSM(&pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: from, DstNPI: 1, Dst: to, DataCoding: 1, ShortMessage: []byte(text)})
}

// offerPart offers part seq of total of long message ref.
func (h *harness) offerPart(from, to string, ref, total, seq int, text string) (proxy.MOMatch, error) {
	h.t.Helper()
	udh := []byte{5, 0, 3, byte(ref), byte(total), byte(seq)}
	return h.offerSM(&pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: from, DstNPI: 1, Dst: to, DataCoding: 1, ESMClass: 0x40,
		ShortMessage: append(udh, text...)})
}

func (h *harness) offerSM(f *pdu.SMFields) (proxy.MOMatch, error) {
	h.t.Helper()
	raw := pdu.AppendSM(nil, pdu.DeliverSM, 7, f)
	p, err := pdu.FromBytes(raw)
	if err != nil {
		h.t.Fatal(err)
	}
	var m pdu.Message
	if err := pdu.ParseMessage(p, &m); err != nil {
		h.t.Fatal(err)
	}
	mo := &proxy.MO{Peer: "acme", PDU: p, Msg: &m, Action: filter.Allow, Time: time.Now().UnixNano()}
	r := h.svc.MatchMO(mo)
	if !r.Queue {
		return r, nil
	}
	done := make(chan error, 1)
	h.svc.QueueMO(r, mo, func(err error) { done <- err })
	clear(raw) // the views die with the call
	return r, <-done
}

func fast(url string, attempts int) *HTTPTarget {
	return &HTTPTarget{URL: url, Retry: fastRetry(attempts)}
}

func fastRetry(attempts int) Retry {
	return Retry{Workers: 2, Timeout: 300 * time.Millisecond, Backoff: 5 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond, MaxAttempts: attempts}
}

func TestMatch(t *testing.T) {
	no := false
	h := newHarness(t, Routes{
		{Name: "smpp-only", Match: Match{From: []string{"4917600000001"}, To: []string{"1234"}}},
		{Name: "votes", Match: Match{To: []string{"8008*"}, Keyword: []string{"vote"}}, Pull: true, SMPP: &no},
		{Name: "rest", Match: Match{To: []string{"80080"}}, Pull: true},
	}, nil)
	for _, tc := range []struct {
		to, text string
		want     proxy.MOMatch
	}{
		{"1234", "hello", proxy.MOMatch{Route: 0, SMPP: true}},
		{"80081", "  Vote A", proxy.MOMatch{Route: 1, Queue: true}},
		{"80080", "VOTE", proxy.MOMatch{Route: 1, Queue: true}},
		{"80080", "VOTES A", proxy.MOMatch{Route: 2, Queue: true, SMPP: true}},
		{"80081", "hello", proxy.MOMatch{}},
		{"999", "vote", proxy.MOMatch{}},
	} {
		if got, err := h.offer(tc.to, tc.text); got != tc.want || err != nil {
			t.Errorf("%s %q: %+v %v, want %+v", tc.to, tc.text, got, err, tc.want)
		}
	}
}

// Endpoints that fail, stall, answer 500 and come back: every MO arrives,
// a repeat only under the same Idempotency-Key, the signature checks.
func TestPushSurvivesFailingEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(n int) int
		stall  bool
	}{
		{name: "500 then recovers", answer: func(n int) int {
			if n <= 6 {
				return http.StatusInternalServerError
			}
			return http.StatusNoContent
		}},
		{name: "429 and 503 now and then", answer: func(n int) int {
			switch n % 3 {
			case 0:
				return http.StatusTooManyRequests
			case 1:
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}},
		{name: "stalls past the timeout", stall: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{t: t, byKey: map[string]Message{}, answer: tc.answer}
			if tc.stall {
				rc.stall = make(chan struct{})
			}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			h := newHarness(t, Routes{{Name: "votes", HTTP: fast(srv.URL, 1000)}}, nil)
			for i := range 10 {
				if _, err := h.offer("80080", fmt.Sprintf("VOTE %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.stall {
				testutil.Eventually(t, 5*time.Second, "stalled attempts", func() bool { return rc.n.Load() >= 6 })
				close(rc.stall)
			}
			testutil.Eventually(t, 10*time.Second, "every MO delivered", func() bool { return len(rc.texts()) == 10 })
			for txt, n := range rc.texts() {
				if n != 1 {
					t.Errorf("%q delivered under %d keys", txt, n)
				}
			}
		})
	}
}

// A message the endpoint keeps refusing is a dead letter after
// max_attempts; listed, replayed (audited), then delivered.
func TestDeadLetterAndReplay(t *testing.T) {
	var ok atomic.Bool
	rc := &receiver{t: t, byKey: map[string]Message{}, answer: func(int) int {
		if ok.Load() {
			return http.StatusOK
		}
		return http.StatusBadGateway
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var audited []string
	var amu sync.Mutex
	h := newHarness(t, Routes{{Name: "votes", HTTP: fast(srv.URL, 3)}}, nil)
	h.svc.o.Audit = func(_ context.Context, actor, action, target, reason string, _ map[string]any) {
		amu.Lock()
		audited = append(audited, strings.Join([]string{actor, action, target, reason}, " "))
		amu.Unlock()
	}
	if _, err := h.offer("80080", "VOTE X"); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(h.svc.AdminHandler())
	defer api.Close()
	var dead struct{ Dead []DeadLetter }
	testutil.Eventually(t, 5*time.Second, "dead letter", func() bool {
		getJSON(t, api.URL+"/api/v1/mo/dead?route=votes", "", &dead)
		return len(dead.Dead) == 1
	})
	d := dead.Dead[0]
	if d.Attempts != 3 || d.LastError != "HTTP 502" || d.Text != "VOTE X" || d.Target != TargetHTTP {
		t.Fatalf("%+v", d)
	}
	if rc.n.Load() != 3 {
		t.Fatalf("%d attempts", rc.n.Load())
	}
	ok.Store(true)
	resp := post(t, api.URL+"/api/v1/mo/"+d.ID+"/replay", "", `{"reason":"endpoint fixed"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replay: %d", resp.StatusCode)
	}
	testutil.Eventually(t, 5*time.Second, "replayed MO delivered", func() bool { return rc.texts()["VOTE X"] == 1 })
	if resp := post(t, api.URL+"/api/v1/mo/"+d.ID+"/replay", "", ""); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second replay: %d", resp.StatusCode)
	}
	amu.Lock()
	defer amu.Unlock()
	if len(audited) != 1 || audited[0] != " mo_replay "+d.ID+" endpoint fixed" {
		t.Fatalf("audit %q", audited)
	}
}

// Redirects to another host are refused (the message is retried, then dead).
func TestRedirectToOtherHostRefused(t *testing.T) {
	other := &receiver{t: t, byKey: map[string]Message{}}
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(otherSrv.URL, "127.0.0.1", "localhost", 1), http.StatusTemporaryRedirect)
	}))
	defer redir.Close()
	h := newHarness(t, Routes{{Name: "votes", HTTP: fast(redir.URL, 2)}}, nil)
	if _, err := h.offer("80080", "VOTE R"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "dead letter", func() bool {
		d, _ := h.q.DeadMO(context.Background(), "votes", 10)
		return len(d) == 1 && strings.Contains(d[0].LastError, "another host")
	})
	if other.n.Load() != 0 {
		t.Fatal("followed a redirect to another host")
	}
}

// Two consumers pull the same route; one crashes between read and ack:
// its batch comes back after the visibility timeout; nothing is lost and
// an acknowledged message never comes back.
func TestPullTwoConsumersAndACrash(t *testing.T) {
	h := newHarness(t, Routes{{Name: "votes", Pull: true, PullVisibility: 300 * time.Millisecond}}, nil)
	api := httptest.NewServer(h.svc.PullHandler())
	defer api.Close()
	if resp := get(t, api.URL+"/api/v1/mo?route=votes", "wrong-token-0123456789"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	// A long poll returns when a message is queued.
	got := make(chan Batch, 1)
	go func() {
		var b Batch
		getJSON(t, api.URL+"/api/v1/mo?route=votes&wait=10s&limit=1", testToken, &b)
		got <- b
	}()
	for i := range 20 {
		if _, err := h.offer("80080", fmt.Sprintf("VOTE %02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	first := <-got
	if len(first.Messages) != 1 || first.Cursor == "" {
		t.Fatalf("long poll: %+v", first)
	}
	// The first consumer crashes: it never acks `first`.
	seen := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cursor := ""
			for {
				var b Batch
				getJSON(t, api.URL+"/api/v1/mo?route=votes&limit=3&wait=1s&cursor="+cursor, testToken, &b)
				if len(b.Messages) == 0 {
					return
				}
				mu.Lock()
				for _, m := range b.Messages {
					seen[m.Text]++
				}
				mu.Unlock()
				cursor = b.Cursor
			}
		}()
	}
	wg.Wait()
	if len(seen) != 20 {
		t.Fatalf("seen %d of 20: %v", len(seen), seen)
	}
	for txt, n := range seen {
		if n != 1 && txt != first.Messages[0].Text {
			t.Errorf("%q handed out %d times", txt, n)
		}
	}
	if seen[first.Messages[0].Text] != 1 {
		t.Errorf("the crashed consumer's message came back %d times", seen[first.Messages[0].Text])
	}
	// Each consumer's last GET acknowledged its last batch: nothing is left.
	var b Batch
	getJSON(t, api.URL+"/api/v1/mo?route=votes", testToken, &b)
	if len(b.Messages) != 0 {
		t.Fatalf("left: %+v", b)
	}
	if resp := post(t, api.URL+"/api/v1/mo/ack", testToken, `{"route":"votes","cursor":"`+first.Cursor+`"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("late ack: %d", resp.StatusCode)
	}
}

// failingQueue fails every enqueue.
type failingQueue struct{ store.MOQueue }

func (failingQueue) EnqueueMO(context.Context, []*store.MOMessage) error {
	return errors.New("disk I/O error")
}

// When the store cannot queue, done gets the error (the proxy answers the
// SMSC 0x58) and the failure is counted.
func TestQueueFailureReported(t *testing.T) {
	h := newHarness(t, Routes{{Name: "votes", Pull: true}}, func(q store.MOQueue) store.MOQueue { return failingQueue{q} })
	if _, err := h.offer("80080", "VOTE"); err == nil || !strings.Contains(err.Error(), "disk I/O") {
		t.Fatalf("err %v", err)
	}
	h.svc.Close()
	if _, err := h.offer("80080", "VOTE"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func get(t *testing.T, url, token string) *http.Response {
	return do(t, http.MethodGet, url, token, "")
}

func post(t *testing.T, url, token, body string) *http.Response {
	return do(t, http.MethodPost, url, token, body)
}

// do sends a request (from any goroutine: a failure is an error, and the
// answer a 599 without body).
func do(t *testing.T, method, url, token, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return &http.Response{StatusCode: 599, Body: io.NopCloser(bytes.NewReader(nil))}
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	resp := get(t, url, token)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
		return
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Error(err)
	}
}

// fakeReplier records the replies it is asked to send.
type fakeReplier struct {
	mu   sync.Mutex
	sent []string // "peer from->to text"
	fail error
}

func (f *fakeReplier) SubmitReply(_ context.Context, peer string, p pdu.PDU) (string, error) {
	var m pdu.Message
	if err := pdu.ParseMessage(p, &m); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	f.sent = append(f.sent, fmt.Sprintf("%s %s->%s %s", peer, m.Src.Addr, m.Dst.Addr, m.ShortMessage))
	return "id", nil
}

func (f *fakeReplier) replies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

// Replies and webhooks: a route's reply goes to the sender once per
// per_sender, at most per_route a minute, never to smsfw's own reply
// address; the webhook gets every MO, as http does; the skipped replies
// are settled, not retried.
func TestReplyAndWebhook(t *testing.T) {
	rc := &receiver{t: t, byKey: map[string]Message{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rp := &fakeReplier{}
	one := fastRetry(10)
	one.Workers = 1 // in order: which three senders get a reply is certain
	h := newHarnessWith(t, Options{Replier: rp, Routes: Routes{
		{Name: "help", Match: Match{To: []string{"80080"}}, SMPP: new(bool), Webhook: fast(srv.URL, 10),
			Reply: &ReplyAction{Text: "Thanks, we got it", From: "80080", PerSender: time.Hour, PerRoute: 3, Retry: one}},
	}}, nil)
	for _, from := range []string{"4917600000001", "4917600000001", "4917600000002", "80080", "4917600000003", "4917600000004"} {
		if _, err := h.offerFrom(from, "80080", "HELP"); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "webhook gets all six", func() bool { return rc.n.Load() == 6 })
	want := []string{"acme 80080->4917600000001 Thanks, we got it", "acme 80080->4917600000002 Thanks, we got it",
		"acme 80080->4917600000003 Thanks, we got it"}
	testutil.Eventually(t, 5*time.Second, "replies settled", func() bool {
		n, err := h.q.CountMO(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, c := range n {
			if c.Target == TargetReply {
				got[c.State] += c.N
			}
		}
		return got[store.MODelivered] == 3 && got[store.MOSkipped] == 3
	})
	got := rp.replies()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("replies %q, want %q", got, want)
	}
}
