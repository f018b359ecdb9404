package mo

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/smtptest"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/store"
)

// A long MO's parts, queued one by one as the SMSC sends them (each
// answered once stored), reach an HTTP push, a pull consumer and a mail
// as one message with the text joined in part order; a message missing a
// part is delivered after the wait with what came, marked incomplete;
// parts that come later are delivered then, also marked.
func TestLongMOJoined(t *testing.T) {
	rc := &receiver{t: t, byKey: map[string]Message{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	mb := smtptest.New(t, 0)
	h := newHarnessWith(t, Options{SMTP: smtpOf(mb), PartsWait: 2 * time.Second, Routes: Routes{
		{Name: "long", Match: Match{To: []string{"80080"}}, SMPP: new(bool), HTTP: fast(srv.URL, 10), Pull: true,
			Email: &EmailTarget{To: []string{"ops@example.net"}, Retry: fastRetry(10)}},
	}}, nil)
	const from = "4917600000001"
	// Message 7 in three parts, out of order; message 8 lacks part 2.
	for _, p := range []struct {
		ref, total, seq int
		text            string
	}{{7, 3, 3, "brown fox"}, {8, 3, 1, "jumps "}, {7, 3, 1, "the quick "}, {8, 3, 3, "dog"}, {7, 3, 2, "lazy "}} {
		if _, err := h.offerPart(from, "80080", p.ref, p.total, p.seq, p.text); err != nil {
			t.Fatal(err)
		}
	}
	text7 := "the quick lazy brown fox"
	testutil.Eventually(t, 15*time.Second, "both pushed", func() bool { return len(rc.texts()) == 2 })
	got := rc.texts()
	if got[text7] != 1 || got["jumps dog"] != 1 {
		t.Fatalf("pushed %v", got)
	}
	rc.mu.Lock()
	for _, m := range rc.byKey {
		switch {
		case m.Text == text7 && (m.Part != nil || m.Incomplete):
			t.Errorf("complete message marked %+v", m)
		case m.Text == "jumps dog" && (!m.Incomplete || m.Part == nil || m.Part.Total != 3 || len(m.Part.Seqs) != 2):
			t.Errorf("incomplete message %+v", m)
		}
	}
	rc.mu.Unlock()

	api := httptest.NewServer(h.svc.PullHandler())
	defer api.Close()
	var b Batch
	testutil.Eventually(t, 5*time.Second, "both pulled", func() bool {
		var more Batch
		getJSON(t, api.URL+"/api/v1/mo?route=long", testToken, &more)
		b.Messages = append(b.Messages, more.Messages...)
		if more.Cursor != "" {
			post(t, api.URL+"/api/v1/mo/ack", testToken, `{"route":"long","cursor":"`+more.Cursor+`"}`)
		}
		return len(b.Messages) >= 2
	})
	if len(b.Messages) != 2 || b.Messages[0].Text != text7 || b.Messages[1].Text != "jumps dog" || !b.Messages[1].Incomplete {
		t.Fatalf("pulled %+v", b.Messages)
	}
	testutil.Eventually(t, 5*time.Second, "two mails", func() bool { _, b := mb.Got(); return len(b) == 2 })
	_, bodies := mb.Got()
	all := strings.Join(bodies, "\n")
	if !strings.Contains(all, text7) || !strings.Contains(all, "Parts:    1,3 of 3") {
		t.Fatalf("mails:\n%s", all)
	}

	// The missing part, late: delivered alone, marked.
	if _, err := h.offerPart(from, "80080", 8, 3, 2, "over the "); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "late part pushed", func() bool { return rc.texts()["over the "] == 1 })
	testutil.Eventually(t, 15*time.Second, "every push and mail delivered", func() bool {
		n, err := h.q.CountMO(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range n {
			if c.State != store.MODelivered && c.Target != TargetPull {
				return false
			}
		}
		return true
	})
	if _, bodies := mb.Got(); len(bodies) != 3 || !strings.Contains(bodies[2], "Parts:    2 of 3") {
		t.Fatalf("mails %q", bodies)
	}
}

// A long message is retried and dead-lettered as one, under one id; its
// replay queues every part again and it is pushed whole.
func TestLongMODeadLetterReplay(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	rc := &receiver{t: t, byKey: map[string]Message{}, answer: func(int) int {
		if fail.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	h := newHarnessWith(t, Options{PartsWait: time.Minute, Routes: Routes{
		{Name: "long", SMPP: new(bool), HTTP: fast(srv.URL, 2)},
	}}, nil)
	for seq, text := range []string{"one ", "two"} {
		if _, err := h.offerPart("4917600000001", "80080", 9, 2, seq+1, text); err != nil {
			t.Fatal(err)
		}
	}
	var dead []*store.MOMessage
	testutil.Eventually(t, 5*time.Second, "dead letter", func() bool {
		d, err := h.q.DeadMO(t.Context(), "long", 10)
		dead = d
		return err == nil && len(d) == 2
	})
	if n := rc.n.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2 (the message, not its parts)", n)
	}
	fail.Store(false)
	api := httptest.NewServer(h.svc.AdminHandler())
	defer api.Close()
	if resp := post(t, api.URL+"/api/v1/mo/"+strconv.FormatInt(dead[0].ID, 10)+"/replay", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("replay: %d", resp.StatusCode)
	}
	testutil.Eventually(t, 5*time.Second, "pushed whole", func() bool { return rc.texts()["one two"] == 1 })
	if got := rc.texts(); len(got) != 1 {
		t.Fatalf("pushed %v", got)
	}
}

// A part that comes after its message was tried incomplete is not slipped
// into the retry (another body under the same Idempotency-Key): it goes
// on its own.
func TestLatePartNotInRetry(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	rc := &receiver{t: t, byKey: map[string]Message{}, answer: func(int) int {
		if fail.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rt := fastRetry(100)
	rt.Backoff, rt.MaxBackoff = 50*time.Millisecond, 50*time.Millisecond
	h := newHarnessWith(t, Options{PartsWait: time.Second, Routes: Routes{
		{Name: "long", SMPP: new(bool), HTTP: &HTTPTarget{URL: srv.URL, Retry: rt}},
	}}, nil)
	for _, p := range []struct {
		seq  int
		text string
	}{{1, "one "}, {3, "three"}} {
		if _, err := h.offerPart("4917600000001", "80080", 5, 3, p.seq, p.text); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 15*time.Second, "tried incomplete", func() bool { return rc.n.Load() >= 1 })
	if _, err := h.offerPart("4917600000001", "80080", 5, 3, 2, "two "); err != nil {
		t.Fatal(err)
	}
	fail.Store(false)
	testutil.Eventually(t, 15*time.Second, "both pushed", func() bool { return len(rc.texts()) == 2 })
	if got := rc.texts(); got["one three"] != 1 || got["two "] != 1 {
		t.Fatalf("pushed %v", got)
	}
}
