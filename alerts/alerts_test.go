package alerts

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/smtptest"
	"github.com/smsfw/smsfw/internal/yamlx"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hook is an alert webhook: it checks the signature, fails the first
// fail requests, and keeps each Idempotency-Key once.
type hook struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	fail   int
	calls  int
	alerts map[string]Alert
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get(mo.HeaderSignature) != mo.Sign(h.secret, body) {
		h.t.Errorf("bad signature")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.fail > 0 {
		h.fail--
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var a Alert
	if err := json.Unmarshal(body, &a); err != nil {
		h.t.Error(err)
	}
	if r.Header.Get(mo.HeaderIdempotency) != a.ID {
		h.t.Errorf("key %q for alert %q", r.Header.Get(mo.HeaderIdempotency), a.ID)
	}
	h.alerts[a.ID] = a
}

func (h *hook) got() []Alert {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Alert
	for _, a := range h.alerts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Alert) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// The three conditions over a real store: a campaign, a rule's jump and
// the day's leakage are alerted once each while they hold, with console
// links; a failed delivery is retried at the next check under the same
// key; a campaign below min_events is not alerted.
func TestAlerts(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "ev.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secret := []byte("alert-secret")
	if err := os.WriteFile(filepath.Join(dir, "alert.key"), append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	hk := &hook{t: t, secret: secret, fail: 1, alerts: map[string]Alert{}}
	srv := httptest.NewServer(hk)
	defer srv.Close()

	now := time.Date(2026, 12, 4, 12, 0, 30, 0, time.UTC)
	var evs []*filter.Event
	add := func(at time.Time, n int, fp filter.Fingerprint, rule string, leak float64) {
		for range n {
			evs = append(evs, &filter.Event{ID: filter.NewEventID(), Time: at, Direction: "mt", Peer: "acme", Class: "a2p",
				Sender: "Promo", Dest: "4915100000001", Text: "win", Fingerprint: fp, RuleID: rule, Action: "flag", Segments: 1,
				Leakage: leak})
		}
	}
	add(now.Add(-2*time.Minute), 5, 0xabc, "spam-words", 0)           // a campaign, and the rule's hits
	add(now.Add(-30*time.Second), 2, 0xdef, "", 0)                    // too few for a campaign
	add(now.Add(-90*time.Second), 1, 0, "grey-route", 0)              // the window before
	add(now.Add(-20*time.Second-time.Minute), 4, 0, "grey-route", 30) // the last full window: a jump, and leakage
	if err := st.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Store: st, Logger: zaptest.NewLogger(t), Now: func() time.Time { return now },
		Config: Config{ConsoleURL: "https://fw.example.net/console/", Webhook: &Webhook{URL: srv.URL, SecretFile: filepath.Join(dir, "alert.key")},
			Campaign: Campaign{MinEvents: 5, Window: 10 * time.Minute},
			RuleHits: RuleHits{Window: time.Minute, Factor: 3, MinHits: 4},
			Leakage:  Leakage{PerDay: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		s.Check(ctx)
	}
	got := hk.got()
	type short struct{ id, link string }
	var ids []short
	for _, a := range got {
		ids = append(ids, short{a.ID, a.Link})
	}
	want := []short{
		{"campaign|abc", "https://fw.example.net/console/#/events?fingerprint=abc"},
		{"leakage|2026-12-04", "https://fw.example.net/console/#/leakage"},
		{"rule_hits|grey-route|1796385600", "https://fw.example.net/console/#/events?rule=grey-route"},
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("alerts %v\nwant %v", ids, want)
	}
	if hk.calls != 4 { // three alerts, one of them twice (the first refusal)
		t.Fatalf("%d webhook calls", hk.calls)
	}
	if a := got[1]; a.Detail["amount"] != 120.0 || a.Summary != "leakage on 2026-12-04: 120.00 estimated over 4 segments, past 100.00" {
		t.Fatalf("leakage alert %+v", a)
	}
	// A restart: what was alerted is in the store, nothing is alerted again.
	again, err := New(Options{Store: st, Logger: zaptest.NewLogger(t), Now: func() time.Time { return now.Add(time.Minute) }, Config: s.o.Config})
	if err != nil {
		t.Fatal(err)
	}
	again.Check(ctx)
	if hk.calls != 4 {
		t.Fatalf("%d webhook calls after a restart", hk.calls)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{}, "no destination: set webhook and/or email"},
		{Config{Email: &Email{To: []string{"x"}}, ConsoleURL: "fw.example"}, `want an http:// or https:// URL, not "fw.example"`},
		{Config{Email: &Email{To: []string{"ops@example.net"}}, RuleHits: RuleHits{Factor: 0.5}}, "factor above 1"},
	} {
		err := tc.c.Validate(yamlx.At{File: "smsfw.yaml"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

// Alerts by mail through a real SMTP server (STARTTLS, PLAIN): one mail
// per alert, with the console link, however many checks see it.
func TestAlertsByEmail(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "ev.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	var evs []*filter.Event
	for range 3 {
		evs = append(evs, &filter.Event{ID: filter.NewEventID(), Time: now.Add(-time.Minute), Direction: "mt", Peer: "acme",
			Class: "a2p", Sender: "Bank", Dest: "4915100000001", Text: "verify your account", Fingerprint: 0x5eed, RuleID: "phishing",
			Action: "reject", Segments: 1})
	}
	if err := st.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	mb := smtptest.New(t, 0)
	pw := filepath.Join(dir, "smtp.password")
	if err := os.WriteFile(pw, []byte(smtptest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mailer, err := mo.NewMailer(&mo.SMTP{Host: "127.0.0.1", Port: mb.Port, Username: smtptest.User, PasswordFile: pw,
		From: "smsfw@example.net", CAFile: mb.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Store: st, Mailer: mailer, Logger: zaptest.NewLogger(t), Config: Config{ConsoleURL: "https://fw.example.net",
		Email: &Email{To: []string{"soc@example.net"}}, Campaign: Campaign{MinEvents: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Check(context.Background())
	s.Check(context.Background())
	mails, bodies := mb.Got()
	if len(mails) != 1 || mb.WithoutTLS() {
		t.Fatalf("%d mails (without TLS: %v)", len(mails), mb.WithoutTLS())
	}
	subj := mails[0].Header.Get("Subject")
	if !strings.HasPrefix(subj, "smsfw alert: campaign: 3 messages with one text") ||
		!strings.Contains(bodies[0], "Console: https://fw.example.net/#/events?fingerprint=5eed") ||
		mails[0].Header.Get("X-Smsfw-Alert") != "campaign" {
		t.Fatalf("mail %q\n%s", subj, bodies[0])
	}
}
