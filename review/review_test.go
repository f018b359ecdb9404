package review_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/review/reviewtest"
	"github.com/smsfw/smsfw/store"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	srv   *httptest.Server
	svc   *review.Service
	st    store.Store
	q     *reviewtest.Quarantiner
	ov    *reviewtest.OverrideSetter
	reg   *prometheus.Registry
	evs   []*filter.Event
	clock time.Time
	logs  *observer.ObservedLogs // what the service logged at warn and above
}

// eachStore runs a test against the in-memory fake and the real store
// (SQLite on a temporary file).
func eachStore(t *testing.T, test func(t *testing.T, open func(testing.TB) store.Store)) {
	for _, s := range reviewtest.Stores {
		t.Run(s.Name, func(t *testing.T) { test(t, s.Open) })
	}
}

func newEnv(t *testing.T, open func(testing.TB) store.Store) *env {
	t.Helper()
	e := &env{t: t, st: open(t), q: &reviewtest.Quarantiner{}, ov: &reviewtest.OverrideSetter{},
		reg: prometheus.NewRegistry(), evs: reviewtest.Seed(now), clock: now}
	if err := e.st.Insert(context.Background(), e.evs); err != nil {
		t.Fatal(err)
	}
	obs, logs := observer.New(zap.WarnLevel)
	e.logs = logs
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), obs))
	svc, err := review.New(review.Options{Store: e.st, Quarantine: e.q, Overrides: e.ov, Logger: log,
		Registerer: e.reg, Now: func() time.Time { return e.clock }})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	// The admin server puts the authenticated name in the context.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc.Handler().ServeHTTP(w, r.WithContext(admin.WithActor(r.Context(), "alice")))
	}))
	t.Cleanup(e.srv.Close)
	t.Cleanup(svc.Stop)
	return e
}

func (e *env) held() *filter.Event { return e.evs[len(e.evs)-1] }

// do sends a request; body nil means none. It returns status and body.
func (e *env) do(method, path, ctype, body string) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, string(b)
}

func (e *env) getJSON(path string, v any) {
	e.t.Helper()
	code, body := e.do("GET", path, "", "")
	if code != 200 {
		e.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func TestBadRequests(t *testing.T) { eachStore(t, testBadRequests) }

func testBadRequests(t *testing.T, open func(testing.TB) store.Store) {
	e := newEnv(t, open)
	id := strconv.FormatInt(e.held().ID, 10)
	cases := []struct {
		name, method, path, ctype, body string
		code                            int
		want                            string
	}{
		{"unknown param", "GET", "/api/v1/events?sendr=BANK", "", "", 400, `unknown query parameter \"sendr\"`},
		{"repeated param", "GET", "/api/v1/events?peer=a&peer=b", "", "", 400, "given 2 times"},
		{"bad time", "GET", "/api/v1/events?from=yesterday", "", "", 400, "from: \\\"yesterday\\\" is neither RFC 3339"},
		{"from after to", "GET", "/api/v1/events?from=2026-03-02T00:00:00Z&to=1700000000", "", "", 400, "is after to"},
		{"limit too big", "GET", "/api/v1/events?limit=1001", "", "", 400, "limit \\\"1001\\\" must be a number from 1 to 1000"},
		{"limit zero", "GET", "/api/v1/events?limit=0", "", "", 400, "limit"},
		{"bad fingerprint", "GET", "/api/v1/events?fingerprint=xyz", "", "", 400, "not a non-zero hex number"},
		{"bad action", "GET", "/api/v1/events?action=nuke", "", "", 400, "action \\\"nuke\\\" is not one of"},
		{"bad monitor", "GET", "/api/v1/events?monitor=maybe", "", "", 400, "monitor"},
		{"bad cursor", "GET", "/api/v1/events?cursor=zz", "", "", 400, "bad query"},
		{"non-numeric id", "GET", "/api/v1/events/abc", "", "", 400, "id \\\"abc\\\" is not a positive number"},
		{"unknown id", "GET", "/api/v1/events/42", "", "", 404, "not found"},
		{"unknown endpoint", "GET", "/api/v1/nope", "", "", 404, "no such API endpoint"},
		{"wrong method", "PUT", "/api/v1/events", "", "", 405, "method not allowed"},
		{"stats bad by", "GET", "/api/v1/stats?by=sender", "", "", 400, "by \\\"sender\\\" is not one of"},
		{"stats bad step", "GET", "/api/v1/stats?step=1ms", "", "", 400, "at least 1s"},
		{"stats too many buckets", "GET", "/api/v1/stats?step=1s&from=1600000000", "", "", 400, "buckets"},
		{"campaigns cursor", "GET", "/api/v1/campaigns?cursor=1", "", "", 400, "unknown query parameter"},
		{"quarantine bad state", "GET", "/api/v1/quarantine?state=lost", "", "", 400, "quarantine \\\"lost\\\""},
		{"release no content type", "POST", "/api/v1/quarantine/" + id + "/release", "", `{"reason":"ok"}`, 415, "Content-Type: application/json"},
		{"release form", "POST", "/api/v1/quarantine/" + id + "/release", "application/x-www-form-urlencoded", `reason=ok`, 415, "must be JSON"},
		{"release no reason", "POST", "/api/v1/quarantine/" + id + "/release", "application/json", `{"reason":"  "}`, 400, "a reason is required"},
		{"release empty body", "POST", "/api/v1/quarantine/" + id + "/release", "application/json", ``, 400, "empty request body"},
		{"release unknown field", "POST", "/api/v1/quarantine/" + id + "/release", "application/json", `{"reason":"x","force":true}`, 400, "unknown field \\\"force\\\""},
		{"release trailing", "POST", "/api/v1/quarantine/" + id + "/release", "application/json", `{"reason":"x"} {}`, 400, "trailing data"},
		{"release too large", "POST", "/api/v1/quarantine/" + id + "/release", "application/json", `{"reason":"` + strings.Repeat("x", 20000) + `"}`, 413, "larger than"},
		{"release unknown", "POST", "/api/v1/quarantine/9/release", "application/json", `{"reason":"x"}`, 404, "not found"},
		{"release not quarantined", "POST", "/api/v1/quarantine/" + strconv.FormatInt(e.evs[0].ID, 10) + "/release", "application/json", `{"reason":"x"}`, 409, "was not quarantined"},
		{"release by GET", "GET", "/api/v1/quarantine/" + id + "/release", "", "", 405, "allowed: POST"},
		{"fp bad scope", "POST", "/api/v1/events/" + id + "/false-positive", "application/json", `{"scope":"peer","reason":"x"}`, 400, "scope \\\"peer\\\""},
		{"override bad kind", "POST", "/api/v1/overrides", "application/json", `{"kind":"dest","sender":"X","action":"block","reason":"x"}`, 400, "kind \\\"dest\\\""},
		{"override bad action", "POST", "/api/v1/overrides", "application/json", `{"kind":"sender","sender":"X","action":"nuke","reason":"x"}`, 400, "action \\\"nuke\\\""},
		{"override sender missing", "POST", "/api/v1/overrides", "application/json", `{"kind":"sender","action":"block","reason":"x"}`, 400, "needs a sender"},
		{"override fingerprint not hex", "POST", "/api/v1/overrides", "application/json", `{"kind":"fingerprint","fingerprint":"q1","action":"block","reason":"x"}`, 400, "hex"},
		{"override numeric fingerprint", "POST", "/api/v1/overrides", "application/json", `{"kind":"fingerprint","fingerprint":12,"action":"block","reason":"x"}`, 400, "cannot unmarshal number"},
		{"delete unknown override", "DELETE", "/api/v1/overrides/77", "", "", 404, "not found"},
		{"delete override text body", "DELETE", "/api/v1/overrides/77", "text/plain", "why", 415, "must be JSON"},
		{"audit bad limit", "GET", "/api/v1/audit?limit=-1", "", "", 400, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := e.do(c.method, c.path, c.ctype, c.body)
			if code != c.code || !strings.Contains(body, c.want) || !strings.Contains(body, `"error"`) {
				t.Fatalf("%s %s: got %d %s, want %d containing %s", c.method, c.path, code, body, c.code, c.want)
			}
			if code < 500 && strings.Contains(body, "internal error") {
				t.Errorf("%s %s: a client error answered as an internal one: %s", c.method, c.path, body)
			}
		})
	}
	if rel, rej := e.q.Calls(); len(rel)+len(rej) != 0 {
		t.Fatalf("bad requests reached the proxy: %v %v", rel, rej)
	}
	for _, l := range e.logs.All() {
		t.Errorf("a client error logged at %s: %s %v", l.Level, l.Message, l.ContextMap())
	}
}

func TestEventsSearch(t *testing.T) { eachStore(t, testEventsSearch) }

func testEventsSearch(t *testing.T, open func(testing.TB) store.Store) {
	e := newEnv(t, open)
	cases := []struct {
		query string
		want  int // events
	}{
		{"", 8},
		{"?peer=acme", 4},
		{"?sender=BANK", 2},
		{"?rule=phishing-url&action=reject", 3},
		{"?class=p2p", 1},
		{"?text=ACCOUNT%20is", 3},
		{"?fingerprint=ABC1", 3},
		{"?fingerprint=0xabc1&peer=beta", 1},
		{"?quarantine=held", 1},
		{"?monitor=true", 1},
		{"?direction=mo", 0},
		{"?from=" + now.Add(-31*time.Minute).Format(time.RFC3339) + "&to=" + strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10), 3},
	}
	for _, c := range cases {
		var p store.Page
		e.getJSON("/api/v1/events"+c.query, &p)
		if len(p.Events) != c.want {
			t.Errorf("%q: %d events, want %d", c.query, len(p.Events), c.want)
		}
	}
	// Paging: 3 + 3 + 2, newest first, no duplicates.
	seen := map[int64]bool{}
	cursor, pages := "", 0
	for {
		var p store.Page
		e.getJSON("/api/v1/events?limit=3&cursor="+cursor, &p)
		pages++
		for _, ev := range p.Events {
			if seen[ev.ID] {
				t.Fatalf("event %d twice", ev.ID)
			}
			seen[ev.ID] = true
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if pages != 3 || len(seen) != 8 {
		t.Fatalf("%d pages, %d events", pages, len(seen))
	}
	// Detail: the evidence and highlight are there, the raw PDUs are not.
	held := e.held()
	code, body := e.do("GET", "/api/v1/events/"+strconv.FormatInt(held.ID, 10), "", "")
	if code != 200 || !strings.Contains(body, `"highlight":"won the jackpot"`) || strings.Contains(body, "raw") {
		t.Fatalf("detail: %d %s", code, body)
	}
	// Hostile text is escaped in JSON (no literal '<').
	var p store.Page
	code, body = e.do("GET", "/api/v1/events?rule=spam-keywords", "", "")
	if code != 200 || strings.Contains(body, "<script>") || json.Unmarshal([]byte(body), &p) != nil ||
		!strings.Contains(p.Events[0].Text, "<script>") {
		t.Fatalf("escaping: %s", body)
	}
}

func TestCampaignsStatsLeakage(t *testing.T) { eachStore(t, testCampaignsStatsLeakage) }

func testCampaignsStatsLeakage(t *testing.T, open func(testing.TB) store.Store) {
	e := newEnv(t, open)
	var cs struct{ Campaigns []store.Campaign }
	e.getJSON("/api/v1/campaigns?limit=2", &cs)
	if len(cs.Campaigns) != 2 || cs.Campaigns[0].Fingerprint != 0xabc1 || cs.Campaigns[0].Count != 3 || cs.Campaigns[0].Senders != 2 {
		t.Fatalf("campaigns: %+v", cs)
	}
	var st struct {
		By     string
		Step   string
		Series []store.Series
	}
	e.getJSON("/api/v1/stats?by=peer&step=10m", &st)
	total := map[string]int64{}
	for _, s := range st.Series {
		for _, p := range s.Points {
			total[s.Key] += p.N
		}
	}
	if st.By != "peer" || st.Step != "10m0s" || total["acme"] != 4 || total["beta"] != 3 || total["gamma"] != 1 {
		t.Fatalf("stats: %+v %v", st, total)
	}
	testLeakageLedger(t, e)
}

// The ledger counts grey-route traffic the SMSC accepted (allowed, flagged,
// monitor-only), per UTC day and peer, once per event however often its
// batch is written; blocked, quarantined and refused messages cost nothing.
func testLeakageLedger(t *testing.T, e *env) {
	day1 := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Minute) // the next UTC day
	grey := func(peer string, at time.Time, action string, status uint32, segs int, amount float64) *filter.Event {
		return &filter.Event{ID: filter.NewEventID(), Time: at, Direction: "mt", Peer: peer, Class: "a2p",
			Action: action, Status: status, Segments: segs, Leakage: amount, RuleID: "grey-route"}
	}
	monitor := grey("acme", day2, "reject", 0, 1, 0.05)
	monitor.Monitor = true
	held := grey("acme", day2, "quarantine", 0, 1, 0.05)
	held.Quarantine = filter.QuarantineHeld
	evs := []*filter.Event{
		grey("acme", day1, "flag", 0, 2, 0.12),
		grey("acme", day2, "flag", 0, 1, 0.06),
		grey("acme", day2, "allow", 0, 1, 0.06),
		monitor,
		grey("beta", day2, "flag", 0, 3, 0.30),
		grey("beta", day2, "flag", 0x58, 1, 0.10), // refused by the SMSC
		grey("beta", day2, "reject", 0x45, 1, 0.10),
		held,
		{ID: filter.NewEventID(), Time: day2, Direction: "mo", Peer: "beta", Action: "flag", Leakage: 1},
	}
	ctx := context.Background()
	for range 2 { // a batch written twice (a retried commit) counts once
		if err := e.st.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		From, To string
		Peers    []struct {
			Peer               string
			Messages, Segments int64
			Amount             float64
		}
		Days []store.LeakageDay
	}
	e.getJSON("/api/v1/leakage?from=2026-11-30&to=2026-12-01", &got)
	round := func(f float64) float64 { return math.Round(f*1000) / 1000 }
	if got.From != "2026-11-30" || got.To != "2026-12-01" || len(got.Peers) != 2 || len(got.Days) != 3 {
		t.Fatalf("ledger %+v", got)
	}
	if p := got.Peers[0]; p.Peer != "beta" || p.Messages != 1 || p.Segments != 3 || round(p.Amount) != 0.30 {
		t.Fatalf("largest peer %+v", p)
	}
	if p := got.Peers[1]; p.Peer != "acme" || p.Messages != 4 || p.Segments != 5 || round(p.Amount) != 0.29 {
		t.Fatalf("acme %+v", p)
	}
	if d := got.Days[0]; d.Day != "2026-11-30" || d.Peer != "acme" || d.Messages != 1 {
		t.Fatalf("first day %+v", d)
	}
	// Only the days asked for; bad ranges are refused.
	e.getJSON("/api/v1/leakage?from=2026-12-01&to=2026-12-01", &got)
	if len(got.Days) != 2 {
		t.Fatalf("one day: %+v", got.Days)
	}
	for _, q := range []string{"from=yesterday", "to=2026-13-01", "from=2026-12-02&to=2026-12-01", "from=2024-01-01&to=2026-12-01"} {
		if code, body := e.do("GET", "/api/v1/leakage?"+q, "", ""); code != 400 {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
}

func TestReleaseRejectAudit(t *testing.T) { eachStore(t, testReleaseRejectAudit) }

func testReleaseRejectAudit(t *testing.T, open func(testing.TB) store.Store) {
	e := newEnv(t, open)
	held := e.held()
	id := strconv.FormatInt(held.ID, 10)
	var q store.Page
	e.getJSON("/api/v1/quarantine", &q)
	if len(q.Events) != 1 || q.Events[0].ID != held.ID {
		t.Fatalf("queue: %+v", q)
	}
	code, body := e.do("POST", "/api/v1/quarantine/"+id+"/release", "application/json", `{"reason":"customer confirmed"}`)
	var ev filter.Event
	if code != 200 || json.Unmarshal([]byte(body), &ev) != nil || ev.Quarantine != "released" ||
		ev.UpstreamMessageID != "up-"+id || ev.DecidedBy != "alice" || ev.DecidedAt == nil {
		t.Fatalf("release: %d %s", code, body)
	}
	// Twice: conflict, and the proxy sent it once.
	for _, action := range []string{"release", "reject"} {
		code, body = e.do("POST", "/api/v1/quarantine/"+id+"/"+action, "application/json", `{"reason":"again"}`)
		if code != 409 || !strings.Contains(body, "is released") {
			t.Fatalf("%s after release: %d %s", action, code, body)
		}
	}
	if rel, rej := e.q.Calls(); len(rel) != 1 || len(rej) != 0 {
		t.Fatalf("proxy calls: %v %v", rel, rej)
	}
	e.getJSON("/api/v1/quarantine", &q)
	if len(q.Events) != 0 {
		t.Fatalf("queue after release: %+v", q.Events)
	}
	e.getJSON("/api/v1/quarantine?state=released", &q)
	if len(q.Events) != 1 {
		t.Fatalf("released: %+v", q.Events)
	}

	// Reject another held message.
	other := *held
	other.ID, other.Quarantine, other.UpstreamMessageID, other.DecidedAt, other.DecidedBy = held.ID+1, "held", "", nil, ""
	_ = e.st.Insert(context.Background(), []*filter.Event{&other})
	oid := strconv.FormatInt(other.ID, 10)
	code, body = e.do("POST", "/api/v1/quarantine/"+oid+"/reject", "application/json", `{"reason":"scam"}`)
	if code != 200 || !strings.Contains(body, `"quarantine":"rejected"`) {
		t.Fatalf("reject: %d %s", code, body)
	}
	if _, rej := e.q.Calls(); len(rej) != 1 || rej[0] != other.ID {
		t.Fatalf("RejectHeld: %v", rej)
	}

	// A failing upstream: 502, state unchanged, the attempt audited.
	third := other
	third.ID, third.Quarantine, third.DecidedAt, third.DecidedBy = held.ID+2, "held", nil, ""
	_ = e.st.Insert(context.Background(), []*filter.Event{&third})
	e.q.Err = errors.New("upstream down")
	code, body = e.do("POST", "/api/v1/quarantine/"+strconv.FormatInt(third.ID, 10)+"/release", "application/json", `{"reason":"x"}`)
	if code != 502 || !strings.Contains(body, "upstream down") {
		t.Fatalf("failing release: %d %s", code, body)
	}
	if got, _ := e.st.Get(context.Background(), third.ID); got.Quarantine != "held" {
		t.Fatalf("state after failed release: %s", got.Quarantine)
	}

	var audit struct{ Entries []store.AuditEntry }
	e.getJSON("/api/v1/audit", &audit)
	if len(audit.Entries) != 3 {
		t.Fatalf("audit: %+v", audit.Entries)
	}
	if f := audit.Entries[0]; f.Action != "release_failed" || f.Target != strconv.FormatInt(third.ID, 10) || !strings.Contains(f.Detail, "upstream down") {
		t.Fatalf("failed release audit: %+v", f)
	}
	audit.Entries = audit.Entries[1:]
	a := audit.Entries[1] // newest first
	if a.Action != "release" || a.Actor != "alice" || a.Target != id || a.Reason != "customer confirmed" ||
		!strings.Contains(a.Detail, `"upstream_message_id":"up-`+id) || strings.Contains(a.Detail, "jackpot") {
		t.Fatalf("audit entry: %+v", a)
	}
	if audit.Entries[0].Action != "reject" || audit.Entries[0].Target != oid {
		t.Fatalf("audit entry: %+v", audit.Entries[0])
	}
	if n := promtest.ToFloat64(mustCounter(t, e.reg, "smsfw_review_actions_total", "action", "release")); n != 1 {
		t.Fatalf("release actions metric %v", n)
	}
}

// blockingQuarantiner holds Release until released, to race two analysts.
type blockingQuarantiner struct {
	reviewtest.Quarantiner
	entered chan struct{}
	proceed chan struct{}
}

func (b *blockingQuarantiner) Release(ctx context.Context, ev *filter.Event) (string, error) {
	b.entered <- struct{}{}
	<-b.proceed
	return b.Quarantiner.Release(ctx, ev)
}

func TestConcurrentDecisions(t *testing.T) { eachStore(t, testConcurrentDecisions) }

func testConcurrentDecisions(t *testing.T, open func(testing.TB) store.Store) {
	st := open(t)
	evs := reviewtest.Seed(now)
	_ = st.Insert(context.Background(), evs)
	bq := &blockingQuarantiner{entered: make(chan struct{}), proceed: make(chan struct{})}
	svc, _ := review.New(review.Options{Store: st, Quarantine: bq, Logger: zaptest.NewLogger(t), Now: func() time.Time { return now }})
	id := evs[len(evs)-1].ID
	errc := make(chan error, 1)
	go func() { _, err := svc.Release(context.Background(), id, "alice", "ok"); errc <- err }()
	<-bq.entered
	if _, err := svc.Release(context.Background(), id, "bob", "ok"); !errors.Is(err, review.ErrBusy) {
		t.Fatalf("second release: %v", err)
	}
	if _, err := svc.Reject(context.Background(), id, "bob", "no"); !errors.Is(err, review.ErrBusy) {
		t.Fatalf("reject during release: %v", err)
	}
	close(bq.proceed)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if rel, rej := bq.Calls(); len(rel) != 1 || len(rej) != 0 {
		t.Fatalf("calls %v %v", rel, rej)
	}
}

func TestOverrides(t *testing.T) { eachStore(t, testOverrides) }

func testOverrides(t *testing.T, open func(testing.TB) store.Store) {
	e := newEnv(t, open)
	if err := e.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.ov.Calls != 1 {
		t.Fatalf("start pushed %d times", e.ov.Calls)
	}
	ev := e.evs[0] // BANK, fingerprint abc1
	id := strconv.FormatInt(ev.ID, 10)
	cases := []struct {
		scope  string
		sender string
		fp     filter.Fingerprint
	}{
		{"sender", "BANK", 0},
		{"fingerprint", "", 0xabc1},
		{"sender_fingerprint", "BANK", 0xabc1},
	}
	for i, c := range cases {
		code, body := e.do("POST", "/api/v1/events/"+id+"/false-positive", "application/json", `{"scope":"`+c.scope+`","reason":"bank's real campaign"}`)
		var o filter.Override
		if code != 201 || json.Unmarshal([]byte(body), &o) != nil || o.Kind != c.scope || o.Sender != c.sender ||
			o.Fingerprint != c.fp || o.Action != "allow" || o.Author != "alice" || o.EventID != ev.ID {
			t.Fatalf("%s: %d %s", c.scope, code, body)
		}
		if got := e.ov.Last(); len(got) != i+1 {
			t.Fatalf("%s: pushed %d overrides", c.scope, len(got))
		}
	}
	code, body := e.do("POST", "/api/v1/overrides", "application/json", `{"kind":"sender","sender":"LOTTO","action":"block","reason":"scam sender"}`)
	if code != 201 {
		t.Fatalf("block sender: %d %s", code, body)
	}
	code, body = e.do("POST", "/api/v1/overrides", "application/json", `{"kind":"fingerprint","fingerprint":"7777","action":"block","reason":"scam text"}`)
	var blockFP filter.Override
	if code != 201 || json.Unmarshal([]byte(body), &blockFP) != nil || blockFP.Fingerprint != 0x7777 {
		t.Fatalf("block fingerprint: %d %s", code, body)
	}
	// A message without fingerprint cannot be allowed by fingerprint.
	noFP := *ev
	noFP.ID, noFP.Fingerprint = ev.ID+1, 0
	_ = e.st.Insert(context.Background(), []*filter.Event{&noFP})
	code, body = e.do("POST", "/api/v1/events/"+strconv.FormatInt(noFP.ID, 10)+"/false-positive", "application/json", `{"scope":"fingerprint","reason":"x"}`)
	if code != 400 || !strings.Contains(body, "no text fingerprint") {
		t.Fatalf("no fingerprint: %d %s", code, body)
	}

	var list struct{ Overrides []filter.Override }
	e.getJSON("/api/v1/overrides", &list)
	if len(list.Overrides) != 5 {
		t.Fatalf("overrides: %+v", list)
	}
	code, body = e.do("DELETE", "/api/v1/overrides/"+strconv.FormatInt(blockFP.ID, 10), "application/json", `{"reason":"too broad"}`)
	if code != 200 || len(e.ov.Last()) != 4 {
		t.Fatalf("delete: %d %s (%d pushed)", code, body, len(e.ov.Last()))
	}
	code, _ = e.do("DELETE", "/api/v1/overrides/"+strconv.FormatInt(list.Overrides[0].ID, 10), "", "")
	if code != 200 || len(e.ov.Last()) != 3 {
		t.Fatalf("delete without body: %d", code)
	}
	var audit struct{ Entries []store.AuditEntry }
	e.getJSON("/api/v1/audit?actor=alice", &audit)
	var actions []string
	for _, a := range audit.Entries {
		actions = append(actions, a.Action)
	}
	want := "delete_override delete_override block_fingerprint block_sender false_positive false_positive false_positive"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audit actions: %v", actions)
	}
	if a := audit.Entries[2]; a.Reason != "scam text" || !strings.Contains(a.Detail, `"fingerprint":"7777"`) {
		t.Fatalf("block audit: %+v", a)
	}
	if a := audit.Entries[6]; a.Target != id || !strings.Contains(a.Detail, `"override_id"`) {
		t.Fatalf("false positive audit: %+v", a)
	}
}

func TestExpiry(t *testing.T) { eachStore(t, testExpiry) }

func testExpiry(t *testing.T, open func(testing.TB) store.Store) {
	e := newEnv(t, open)
	held := e.held()
	// Not yet expired.
	if n, err := e.svc.ExpireHeld(context.Background()); n != 0 || err != nil {
		t.Fatalf("early expiry: %d %v", n, err)
	}
	e.clock = now.Add(25 * time.Hour)
	if n, err := e.svc.ExpireHeld(context.Background()); n != 1 || err != nil {
		t.Fatalf("expiry: %d %v", n, err)
	}
	got, _ := e.st.Get(context.Background(), held.ID)
	if got.Quarantine != "expired" || got.DecidedBy != "system" {
		t.Fatalf("after expiry: %+v", got)
	}
	if _, rej := e.q.Calls(); len(rej) != 1 {
		t.Fatalf("RejectHeld not called: %v", rej)
	}
	var audit struct{ Entries []store.AuditEntry }
	e.getJSON("/api/v1/audit?actor=system", &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Action != "expire" {
		t.Fatalf("audit: %+v", audit)
	}
}

// TestExpiryLoop runs the ticker for real, briefly, and stops it.
func TestExpiryLoop(t *testing.T) { eachStore(t, testExpiryLoop) }

func testExpiryLoop(t *testing.T, open func(testing.TB) store.Store) {
	st := open(t)
	evs := reviewtest.Seed(time.Now().Add(-2 * time.Hour))
	_ = st.Insert(context.Background(), evs)
	q := &reviewtest.Quarantiner{}
	svc, _ := review.New(review.Options{Store: st, Quarantine: q, Logger: zaptest.NewLogger(t),
		QuarantineTTL: time.Hour, ExpiryInterval: 10 * time.Millisecond})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "held message expired by the loop", func() bool { _, rej := q.Calls(); return len(rej) == 1 })
	svc.Stop()
	svc.Stop()
}

func TestNoQuarantiner(t *testing.T) {
	st := reviewtest.NewStore()
	evs := reviewtest.Seed(now)
	_ = st.Insert(context.Background(), evs)
	svc, _ := review.New(review.Options{Store: st})
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/v1/quarantine/"+strconv.FormatInt(evs[len(evs)-1].ID, 10)+"/release",
		"application/json", bytes.NewReader([]byte(`{"reason":"x"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := review.New(review.Options{}); err == nil {
		t.Fatal("New without store")
	}
}

func TestRequestMetrics(t *testing.T) {
	e := newEnv(t, reviewtest.Stores[0].Open)
	e.do("GET", "/api/v1/events", "", "")
	e.do("GET", "/api/v1/events?x=1", "", "")
	e.do("GET", "/api/v1/events/1", "", "")
	for _, c := range []struct {
		route, code string
		want        float64
	}{{"events", "2xx", 1}, {"events", "4xx", 1}, {"event", "4xx", 1}} {
		got := promtest.ToFloat64(mustCounter(t, e.reg, "smsfw_review_requests_total", "route", c.route, "code", c.code))
		if got != c.want {
			t.Errorf("%s %s: %v", c.route, c.code, got)
		}
	}
}

// mustCounter finds one series of a counter vector in reg.
func mustCounter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return m.GetCounter().GetValue() })
		}
	}
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return 0 })
}
