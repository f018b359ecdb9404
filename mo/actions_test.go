package mo

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/store"
)

// flakyQueue refuses the first n enqueues (a store that is down a while).
type flakyQueue struct {
	store.MOQueue
	n atomic.Int64
}

func (q *flakyQueue) EnqueueMO(ctx context.Context, msgs []*store.MOMessage) error {
	if q.n.Add(-1) >= 0 {
		return errors.New("database is locked")
	}
	return q.MOQueue.EnqueueMO(ctx, msgs)
}

func checked(t *testing.T, a *Actions) *Actions {
	t.Helper()
	a.Check(func(name string) (string, []byte, error) { return name, []byte(testSecret + "\n"), nil },
		func(key, format string, args ...any) { t.Fatalf("actions.%s: "+format, append([]any{key}, args...)...) })
	return a
}

// A rule's actions: queued while the store refuses them at first, then
// the webhook gets every trigger (signed) and the reply goes out within
// per_rule; a reload's new actions apply to the next trigger, and what
// was queued for an action the rule lost becomes a dead letter.
func TestRuleActions(t *testing.T) {
	rc := &receiver{t: t, byKey: map[string]Message{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rp := &fakeReplier{}
	one := fastRetry(10)
	one.Workers = 1
	flaky := &flakyQueue{}
	flaky.n.Store(3)
	reg := prometheus.NewRegistry()
	h := newHarnessWith(t, Options{Replier: rp, Registerer: reg}, func(q store.MOQueue) store.MOQueue { flaky.MOQueue = q; return flaky })
	hook := fast(srv.URL, 10)
	hook.SecretFile = "mo.key"
	v1 := checked(t, &Actions{Webhook: hook, Reply: &ReplyAction{Text: "bye", From: "80080", PerRule: 2, Retry: one}})
	fire := func(a *Actions, from string) {
		h.svc.QueueAction(Trigger{Rule: "stop", Actions: a, Peer: "acme", Sender: from, Dest: "80080", Text: "STOP " + from,
			Action: "allow", Received: time.Now()})
	}
	for _, from := range []string{"4917600000001", "4917600000002", "4917600000003"} {
		fire(v1, from)
	}
	testutil.Eventually(t, 5*time.Second, "webhook gets all three", func() bool { return len(rc.texts()) == 3 })
	testutil.Eventually(t, 5*time.Second, "replies settled", func() bool {
		return testutil.Metric(t, reg, "smsfw_mo_replies_skipped_total", "route", "rule:stop", "reason", SkipRule) == 1 &&
			testutil.Metric(t, reg, "smsfw_mo_delivered_total", "route", "rule:stop", "target", TargetReply) == 2
	})
	for _, m := range rc.byKey {
		if m.Route != "rule:stop" || m.Verdict.Rule != "stop" || m.Destination != "80080" {
			t.Fatalf("webhook got %+v", m)
		}
	}

	v2 := checked(t, &Actions{Reply: &ReplyAction{Text: "bye now", From: "80080", PerRule: 5, Retry: one}})
	fire(v2, "4917600000004")
	testutil.Eventually(t, 5*time.Second, "the new reply", func() bool { return len(rp.replies()) == 3 })
	got := rp.replies()
	slices.Sort(got)
	want := []string{"acme 80080->4917600000001 bye", "acme 80080->4917600000002 bye", "acme 80080->4917600000004 bye now"}
	if !slices.Equal(got, want) {
		t.Fatalf("replies %q, want %q", got, want)
	}
	if n := len(rc.texts()); n != 3 {
		t.Fatalf("webhook after the reload: %d", n)
	}
	// A webhook row left from before the reload: the rule lost the action.
	left := &store.MOMessage{Route: "rule:stop", Target: TargetWebhook, Received: time.Now(), Sender: "1", Dest: "2", Raw: []byte{}}
	if err := h.q.EnqueueMO(t.Context(), []*store.MOMessage{left}); err != nil {
		t.Fatal(err)
	}
	h.svc.wakeRoute(h.svc.lookup("rule:stop"), TargetWebhook)
	testutil.Eventually(t, 5*time.Second, "dead letter", func() bool {
		d, err := h.q.DeadMO(t.Context(), "rule:stop", 10)
		return err == nil && len(d) == 1 && d[0].ID == left.ID
	})
	if n := testutil.Metric(t, reg, "smsfw_mo_actions_dropped_total", "reason", DropFull); n != 0 {
		t.Fatalf("dropped %v", n)
	}
}

// Reply limits outlive a restart: they are rebuilt from the replies the
// queue delivered.
func TestReplyLimitsSurviveRestart(t *testing.T) {
	rp := &fakeReplier{}
	routes := Routes{{Name: "stop", Match: Match{To: []string{"80080"}}, SMPP: new(bool),
		Reply: &ReplyAction{Text: "bye", From: "80080", PerSender: time.Hour, PerRoute: 2, Retry: fastRetry(3)}}}
	h := newHarnessWith(t, Options{Replier: rp, Routes: routes}, nil)
	for _, from := range []string{"4917600000001", "4917600000002"} {
		if _, err := h.offerFrom(from, "80080", "STOP"); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "two replies", func() bool { return len(rp.replies()) == 2 })
	testutil.Eventually(t, 5*time.Second, "both replies recorded as sent", func() bool {
		sent, err := h.q.SentMO(t.Context(), TargetReply, time.Now().Add(-time.Hour))
		return err == nil && len(sent) == 2
	})
	h.svc.Close()

	reg := prometheus.NewRegistry()
	svc, err := New(Options{Queue: h.q, Routes: routes, Replier: rp, Registerer: reg, Logger: h.svc.o.Logger})
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	defer svc.Close()
	h.svc = svc
	for _, from := range []string{"4917600000001", "4917600000003"} {
		if _, err := h.offerFrom(from, "80080", "STOP"); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "both skipped", func() bool {
		return testutil.Metric(t, reg, "smsfw_mo_replies_skipped_total", "route", "stop", "reason", SkipSender) == 1 &&
			testutil.Metric(t, reg, "smsfw_mo_replies_skipped_total", "route", "stop", "reason", SkipRoute) == 1
	})
	if n := len(rp.replies()); n != 2 {
		t.Fatalf("%d replies", n)
	}
}
