package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/browsertest"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// TestAnalystWorkflowInBrowser sends traffic through the running proxy
// (legitimate, blocked, flagged, quarantined), then works it as an analyst
// in headless Chromium: filter the events, open the blocked one and see its
// evidence marked, release the held message from the quarantine queue with
// a reason, and mark the blocked message a false positive. It checks the
// effects outside the browser: the released message reached the SMSC, its
// event is released with the SMSC's message id, the audit log has both
// decisions, and the next identical message from the same sender now
// passes the proxy (the override applied live) while another sender's is
// still blocked.
func TestAnalystWorkflowInBrowser(t *testing.T) {
	w := newWorld(t, worldOptions{})
	cl := w.dial()

	// Traffic.
	if r := w.send(cl, sender, textLegit); r.Status != pdu.StatusOK {
		t.Fatalf("legitimate: %v", r.Status)
	}
	if r := w.send(cl, sender, textBlocked); r.Status == pdu.StatusOK {
		t.Fatal("blocked message accepted")
	}
	if r := w.send(cl, sender, textFlagged); r.Status != pdu.StatusOK {
		t.Fatalf("flagged: %v", r.Status)
	}
	held := w.send(cl, sender, textQuarantined)
	if held.Status != pdu.StatusOK || held.MessageID == "" {
		t.Fatalf("quarantined: %v id %q, want accepted with smsfw's id", held.Status, held.MessageID)
	}
	// The proxy answers a quarantined message once the store has it.
	heldEv := w.one(store.Query{Quarantine: filter.QuarantineHeld})
	if heldEv.MessageID != held.MessageID || heldEv.RuleID != "prize-hold" || heldEv.Text != textQuarantined || len(heldEv.Raw) != 1 {
		t.Fatalf("held event %+v (answered id %q)", heldEv, held.MessageID)
	}
	testutil.Eventually(w.t, 5*time.Second, "three events stored", func() bool { return w.count() == 3 })
	blocked := w.one(store.Query{Action: "reject"})
	if blocked.RuleID != "casino-spam" || blocked.Highlight == "" || blocked.Sender != sender || blocked.Fingerprint == 0 {
		t.Fatalf("blocked event %+v", blocked)
	}
	if f := w.one(store.Query{Action: "flag"}); f.RuleID != "crypto-mention" {
		t.Fatalf("flag event %+v", f)
	}
	for text, n := range map[string]int{textLegit: 1, textFlagged: 1, textBlocked: 0, textQuarantined: 0} {
		if got := len(w.delivered(text)); got != n {
			t.Fatalf("SMSC got %q %d times, want %d", text, got, n)
		}
	}

	// The browser.
	b := browsertest.New(t, "e2e-", 120*time.Second)
	shot, do, text, poll := b.Shot, b.Do, b.Text, browsertest.Poll
	rows := `document.querySelectorAll('#events-table tbody tr[data-id]').length`
	heldID, blockedID := strconv.FormatInt(heldEv.ID, 10), strconv.FormatInt(blocked.ID, 10)

	// Events: all three, then filtered to the blocked one by action.
	do("events", chromedp.Navigate(w.admin+"/#/events"),
		chromedp.WaitVisible(chromedp.CSS(`#events-table tbody tr[data-id]`)),
		poll(rows+` === 3`))
	do("filter", chromedp.SetValue(chromedp.CSS(`#filters select[name=action]`), "reject"),
		chromedp.Click(chromedp.CSS(`#apply`)),
		poll(rows+` === 1 && location.hash.includes('action=reject')`))
	shot("events-filtered")

	// Open it: the evidence is marked in the text.
	do("open blocked", chromedp.Click(chromedp.CSS(`#events-table tr[data-id="`+blockedID+`"] td.text`)),
		chromedp.WaitVisible(chromedp.CSS(`#ev-text mark.hl`)))
	shot("blocked")
	if mark := text(`#ev-text mark.hl`); !strings.EqualFold(mark, blocked.Highlight) || !strings.Contains(textBlocked, mark) {
		t.Fatalf("marked %q, highlight %q", mark, blocked.Highlight)
	}
	if got := text(`#ev-evidence`); !strings.Contains(got, "casino bonus") {
		t.Fatalf("evidence %q", got)
	}
	// One destination (dest_count 1 for submit_sm) is not "+1 destinations".
	if got := text(`#event-detail`); !strings.Contains(got, dest) || strings.Contains(got, "destinations") {
		t.Fatalf("detail shows the destination as %q", got)
	}

	// The quarantine queue: release the held message with a reason.
	do("quarantine", chromedp.Navigate(w.admin+"/#/quarantine"),
		chromedp.WaitVisible(chromedp.CSS(`#quarantine-table tr[data-id="`+heldID+`"] .btn-release`)))
	shot("quarantine")
	do("release", chromedp.Click(chromedp.CSS(`#quarantine-table tr[data-id="`+heldID+`"] .btn-release`)),
		chromedp.WaitVisible(chromedp.CSS(`#ask textarea[name=reason]`)),
		chromedp.SendKeys(chromedp.CSS(`#ask textarea[name=reason]`), "sender confirmed the promotion"),
		chromedp.Click(chromedp.CSS(`#ask-ok`)),
		chromedp.WaitVisible(chromedp.CSS(`#quarantine-table td.empty`)))
	shot("released")

	// Outside the browser: the SMSC has it, the event says so, the audit
	// log has the decision.
	msgs := w.delivered(textQuarantined)
	if len(msgs) != 1 || msgs[0].From != sender || msgs[0].To != dest || msgs[0].SystemID != "fw" {
		t.Fatalf("SMSC got the released message as %+v", msgs)
	}
	rel, err := w.st.Get(context.Background(), heldEv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Quarantine != filter.QuarantineReleased || rel.UpstreamMessageID != msgs[0].MessageID || rel.DecidedBy != "local" || rel.DecidedAt == nil {
		t.Fatalf("after release: state %q, SMSC id %q (SMSC said %q), by %q", rel.Quarantine, rel.UpstreamMessageID, msgs[0].MessageID, rel.DecidedBy)
	}
	audit, err := w.st.Audit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Action != "release" || audit[0].Actor != "local" || audit[0].Target != heldID ||
		audit[0].Reason != "sender confirmed the promotion" || !strings.Contains(audit[0].Detail, msgs[0].MessageID) {
		t.Fatalf("audit %+v", audit)
	}
	// The released state and the SMSC's id show on the event page.
	do("released event", chromedp.Navigate(w.admin+"/#/event/"+heldID),
		poll(`(document.querySelector('#ev-quarantine')||{}).textContent === 'released'`))
	if got := text(`#ev-upstream-id`); got != msgs[0].MessageID {
		t.Fatalf("console shows SMSC id %q, want %q", got, msgs[0].MessageID)
	}

	// False positive on the blocked message: allow this text from this
	// sender (the dialog's default scope when there is a fingerprint).
	do("false positive", chromedp.Navigate(w.admin+"/#/event/"+blockedID),
		chromedp.WaitVisible(chromedp.CSS(`#btn-fp`)),
		chromedp.Click(chromedp.CSS(`#btn-fp`)),
		chromedp.WaitVisible(chromedp.CSS(`#ask textarea[name=reason]`)),
		poll(`document.querySelector('#ask select[name=scope]').value === 'sender_fingerprint'`),
		chromedp.SendKeys(chromedp.CSS(`#ask textarea[name=reason]`), "the shop's real casino partner"),
		chromedp.Click(chromedp.CSS(`#ask-ok`)),
		poll(`[...document.querySelectorAll('#toast .toast')].some((e) => e.textContent === 'false positive: done')`))
	shot("false-positive")
	ovs, err := w.st.Overrides(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ovs) != 1 || ovs[0].Kind != filter.OverrideSenderFingerprint || ovs[0].Sender != sender ||
		ovs[0].Fingerprint != blocked.Fingerprint || ovs[0].Author != "local" || ovs[0].EventID != blocked.ID {
		t.Fatalf("overrides %+v", ovs)
	}

	// Live: the same message from the same sender passes now; from another
	// sender it is still blocked.
	if r := w.send(cl, sender, textBlocked); r.Status != pdu.StatusOK {
		t.Fatalf("after the false positive: %v, want accepted", r.Status)
	}
	if got := w.delivered(textBlocked); len(got) != 1 || got[0].From != sender {
		t.Fatalf("SMSC got %+v", got)
	}
	if r := w.send(cl, "OTHER", textBlocked); r.Status == pdu.StatusOK {
		t.Fatal("another sender's identical message passed: the override is wider than sender+fingerprint")
	}

	// The audit page lists both decisions, by the loopback actor.
	do("audit", chromedp.Navigate(w.admin+"/#/audit"),
		poll(`document.querySelectorAll('#audit-table tbody tr').length === 2`))
	shot("audit")
	page := text(`#audit-table tbody`)
	for _, want := range []string{"false_positive", "release", "local", "sender confirmed the promotion", "the shop's real casino partner"} {
		if !strings.Contains(page, want) {
			t.Fatalf("audit page lacks %q: %q", want, page)
		}
	}

	b.CheckProblems()
}
