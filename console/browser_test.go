package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/bpf"
	"github.com/smsfw/smsfw/console"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/browsertest"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/review/reviewtest"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// TestConsoleInBrowser drives the console in headless Chromium against the
// real review API and admin protection over a seeded store: filter events,
// open one and see its highlighted evidence, release a quarantined message
// and find the state change and the audit entry. The page must raise no
// script error and no CSP violation.
func TestConsoleInBrowser(t *testing.T) {
	st := reviewtest.NewStore()
	evs := reviewtest.Seed(time.Now())
	// A delivered grey-route message for the leakage ledger.
	grey := &filter.Event{ID: filter.NewEventID(), Time: time.Now(), Direction: "mt", Peer: "acme", Class: "a2p",
		Action: "flag", RuleID: "grey-route", Segments: 12, Leakage: 0.84}
	if err := st.Insert(context.Background(), append(slices.Clone(evs), grey)); err != nil {
		t.Fatal(err)
	}
	held := evs[len(evs)-1]
	hostile := evs[6] // its text has a <script> tag
	q := &reviewtest.Quarantiner{}
	svc, err := review.New(review.Options{Store: st, Quarantine: q, Overrides: &reviewtest.OverrideSetter{}, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	console.Mount(mux)
	mux.Handle("/api/v1/", svc.Handler())
	// The ban list without the kernel program (bans refused at accept).
	shield, err := bpf.New(bpf.Options{Config: &bpf.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer shield.Close()
	if _, err := shield.Ban(netip.MustParsePrefix("203.0.113.0/24"), time.Hour, "scanning the SMPP port", bpf.OriginAPI, "alice"); err != nil {
		t.Fatal(err)
	}
	// Two connections from the banned range, refused at accept.
	for range 2 {
		if !shield.Banned(netip.MustParseAddr("203.0.113.9")) {
			t.Fatal("203.0.113.9 not banned")
		}
	}
	shield.Mount(mux, nil)
	// The live peers status (the proxy's types, so the JSON names agree).
	mux.HandleFunc("GET /api/v1/peers", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"time": time.Now(), "peers": []proxy.PeerStatus{{
			Name: "acme", SystemID: "acme", Class: "a2p", Configured: true,
			Sessions: []proxy.SessionStatus{{Remote: "192.0.2.7", Bind: "transceiver", InFlight: 2, Deliveries: 1, Window: 100}},
			Upstream: &proxy.PoolStatus{Upstream: "smsc", Address: "10.0.0.5:2775", Sessions: 2, Bound: 2, Window: 100, InFlight: 3,
				LastError: &proxy.LastError{Time: time.Now().Add(-time.Hour), What: "upstream_lost", Detail: "EOF", Remote: "10.0.0.5:2775"}},
			Messages:  proxy.PeerCounts{MT: 1200, MO: 30, Receipts: 1100},
			Rates:     proxy.PeerRates{MT: 12.5, MO: 0.5, Receipts: 11, Window: 60},
			LastError: &proxy.LastError{Time: time.Now(), What: "bind_refused", Detail: "invalid_password", Remote: "192.0.2.99"},
		}}})
	})
	deadID := seedMO(t, mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h, err := admin.Protect(mux, nil, ln.Addr(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	b := browsertest.New(t, "", 90*time.Second)
	shot, do, text, count, poll := b.Shot, b.Do, b.Text, b.Count, browsertest.Poll
	heldID := strconv.FormatInt(held.ID, 10)

	// Dashboard: charts drawn.
	do("dashboard", chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart polyline`)),
		chromedp.WaitVisible(chromedp.CSS(`.cards .barrow`)))
	shot("dashboard")

	// Events: all nine, then filtered to peer beta (three).
	do("events", chromedp.Navigate(srv.URL+"/#/events"),
		chromedp.WaitVisible(chromedp.CSS(`#events-table tbody tr[data-id]`)))
	if n := count(`#events-table tbody tr[data-id]`); n != len(evs)+1 { // and the grey-route one
		t.Fatalf("%d rows, want %d", n, len(evs)+1)
	}
	do("filter", chromedp.SendKeys(chromedp.CSS(`#filters input[name=peer]`), "beta"),
		chromedp.Click(chromedp.CSS(`#apply`)),
		poll(`document.querySelectorAll('#events-table tbody tr[data-id]').length === 3 && location.hash.includes('peer=beta')`))
	shot("events")

	// The hostile text shows as text: no script element, the tag visible.
	do("hostile", chromedp.Navigate(srv.URL+"/#/event/"+strconv.FormatInt(hostile.ID, 10)),
		chromedp.WaitVisible(chromedp.CSS(`#ev-text mark.hl`)))
	if got := text(`#ev-text`); !strings.Contains(got, "<script>alert(1)</script>") || count(`#app script`) != 0 {
		t.Fatalf("hostile text: %q, %d script elements", got, count(`#app script`))
	}

	// Open the held message from the filtered list: evidence highlighted.
	do("open", chromedp.Navigate(srv.URL+"/#/events?peer=beta"),
		chromedp.WaitVisible(chromedp.CSS(`#events-table tr[data-id="`+heldID+`"]`)),
		chromedp.Click(chromedp.CSS(`#events-table tr[data-id="`+heldID+`"] td.text`)),
		chromedp.WaitVisible(chromedp.CSS(`#ev-text mark.hl`)))
	shot("event")
	if mark, state := text(`#ev-text mark.hl`), text(`#ev-quarantine`); mark != held.Highlight || state != "held" {
		t.Fatalf("highlight %q, state %q", mark, state)
	}

	// Release with a reason.
	do("release", chromedp.Click(chromedp.CSS(`#btn-release`)),
		chromedp.WaitVisible(chromedp.CSS(`#ask textarea[name=reason]`)))
	shot("release-dialog")
	do("confirm", chromedp.SendKeys(chromedp.CSS(`#ask textarea[name=reason]`), "customer confirmed the jackpot promo"),
		chromedp.Click(chromedp.CSS(`#ask-ok`)),
		poll(`(document.querySelector('#ev-quarantine')||{}).textContent === 'released'`))
	shot("released")
	if rel, _ := q.Calls(); len(rel) != 1 || rel[0] != held.ID || text(`#ev-upstream-id`) != "up-"+heldID {
		t.Fatalf("release reached the proxy as %v, SMSC id %q", rel, text(`#ev-upstream-id`))
	}

	// The audit log shows it, by the loopback actor.
	do("audit", chromedp.Navigate(srv.URL+"/#/audit"),
		chromedp.WaitVisible(chromedp.CSS(`#audit-table tbody tr`)))
	shot("audit")
	auditRow := text(`#audit-table tbody tr`)
	for _, want := range []string{"local", "release", heldID, "customer confirmed the jackpot promo"} {
		if !strings.Contains(auditRow, want) {
			t.Fatalf("audit row %q lacks %q", auditRow, want)
		}
	}

	// The queue is empty now; the other pages render.
	do("quarantine", chromedp.Navigate(srv.URL+"/#/quarantine"), chromedp.WaitVisible(chromedp.CSS(`#quarantine-table td.empty`)))
	do("campaigns", chromedp.Navigate(srv.URL+"/#/campaigns"), chromedp.WaitVisible(chromedp.CSS(`#campaigns-table tbody tr`)))
	shot("campaigns")
	do("leakage", chromedp.Navigate(srv.URL+"/#/leakage"), chromedp.WaitVisible(chromedp.CSS(`#leakage-table tbody tr`)))
	do("peers", chromedp.Navigate(srv.URL+"/#/peers"), chromedp.WaitVisible(chromedp.CSS(`#peers-table tbody tr`)))
	if got := text(`#peers-table tbody`); !strings.Contains(got, "acme") || !strings.Contains(got, "192.0.2.7") || !strings.Contains(got, "smsc 2/2 bound") ||
		!strings.Contains(got, "MT 13, MO 0.5, DLR 11 (total 1200 / 30 / 1100)") ||
		!strings.Contains(got, "bind refused: invalid_password (192.0.2.99)") || strings.Contains(got, "upstream lost") {
		t.Fatalf("peers page (the rates, the latest error): %q", got)
	}
	do("bans", chromedp.Navigate(srv.URL+"/#/bans"), chromedp.WaitVisible(chromedp.CSS(`#bans-table tbody tr`)))
	if got := text(`#bans-table tbody tr`); !strings.Contains(got, "203.0.113.0/24") || !strings.Contains(got, "scanning the SMPP port") {
		t.Fatalf("bans page: %q", got)
	}
	// Its drops: no kernel program here ("–"), two connections refused.
	if drops, refused := text(`#bans-table tbody tr td:nth-child(7)`), text(`#bans-table tbody tr td:nth-child(8)`); drops != "–" || refused != "2" {
		t.Fatalf("bans page: drops %q, refused %q", drops, refused)
	}
	do("overrides", chromedp.Navigate(srv.URL+"/#/overrides"), chromedp.WaitVisible(chromedp.CSS(`#overrides-table`)))
	shot("overrides")

	// Inbound: per-route counts, the MO with their delivery states; the
	// dead letter replayed is queued again.
	do("inbound", chromedp.Navigate(srv.URL+"/#/inbound"),
		chromedp.WaitVisible(chromedp.CSS(`#mo-table tbody tr[data-id]`)))
	shot("inbound")
	if n := count(`#mo-table tbody tr[data-id]`); n != 4 {
		t.Fatalf("%d MO rows, want 4", n)
	}
	for sel, want := range map[string]string{
		`#mo-routes-table tr[data-target="webhook"]`: "helpwebhook1110", // route, target, queued, delivered, dead, skipped
		`#mo-routes-table tr[data-target="reply"]`:   "helpreply0001",
		`#mo-table tr[data-id="` + deadID + `"]`:     "dead-lettered",
		`#mo-table tr[data-state="queued"]`:          "retrying",
	} {
		if got := strings.Join(strings.Fields(text(sel)), " "); !strings.Contains(got, want) {
			t.Errorf("%s: %q lacks %q", sel, got, want)
		}
	}
	do("replay", chromedp.Click(chromedp.CSS(`#mo-table tr[data-id="`+deadID+`"] .btn-replay`)),
		chromedp.WaitVisible(chromedp.CSS(`#ask textarea[name=reason]`)),
		chromedp.SendKeys(chromedp.CSS(`#ask textarea[name=reason]`), "ticketing system is back"),
		chromedp.Click(chromedp.CSS(`#ask-ok`)),
		poll(`(document.querySelector('#mo-table tr[data-id="`+deadID+`"]')||{dataset:{}}).dataset.state === 'queued'`))
	do("inbound-filter", chromedp.Navigate(srv.URL+"/#/inbound?state=skipped"),
		poll(`document.querySelectorAll('#mo-table tbody tr[data-id]').length === 1`))

	b.CheckProblems()
}

// seedMO mounts the MO API over a store holding one route's messages:
// webhook delivered, retrying and dead (whose id it returns), a reply
// skipped. The service is not started: nothing is delivered.
func seedMO(t *testing.T, mux *http.ServeMux) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "mo.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q, _ := store.MOQueueOf(st)
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, err := mo.New(mo.Options{Queue: q, Replier: noReplier{}, Routes: mo.Routes{{Name: "help",
		Webhook: &mo.HTTPTarget{URL: "http://127.0.0.1:1/", SecretFile: filepath.Join(dir, "key")},
		Reply:   &mo.ReplyAction{Text: "thanks", From: "80080"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	for _, p := range mo.AdminPatterns {
		mux.Handle(p, svc.AdminHandler())
	}
	ctx := context.Background()
	var rows []*store.MOMessage
	for i, target := range []string{"webhook", "webhook", "webhook", "reply"} {
		rows = append(rows, &store.MOMessage{Route: "help", Target: target, Received: time.Now(), Peer: "acme",
			Sender: "4917600000001", Dest: "80080", Text: "help me " + strconv.Itoa(i), Action: "allow", Raw: []byte{0}})
	}
	if err := q.EnqueueMO(ctx, rows); err != nil {
		t.Fatal(err)
	}
	settle := func(target, state, why string) {
		now := time.Now()
		ms, err := q.ClaimMO(ctx, "help", target, "lease", now, now.Add(time.Minute), 1)
		if err != nil || len(ms) != 1 {
			t.Fatal(ms, err)
		}
		if err := q.SettleMO(ctx, ms[0].ID, "lease", state, now.Add(time.Hour), why); err != nil {
			t.Fatal(err)
		}
	}
	settle("webhook", store.MODelivered, "")
	settle("webhook", store.MODead, "HTTP 502")
	settle("webhook", store.MOQueued, "HTTP 503")
	settle("reply", store.MOSkipped, "not replied: per_sender")
	return strconv.FormatInt(rows[1].ID, 10)
}

type noReplier struct{}

func (noReplier) SubmitReply(context.Context, string, pdu.PDU) (string, error) {
	return "", errors.New("not in this test")
}
