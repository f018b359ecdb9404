package store

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// fullEvent has every field set.
func fullEvent(id int64) *filter.Event {
	dec := t0.Add(time.Hour)
	return &filter.Event{
		ID: id, Time: t0.Add(1234567 * time.Microsecond),
		Direction: "mt", Peer: "acme", SystemID: "acme1", PeerClass: "a2p", Class: "a2p",
		Sender: "BANK", SenderKind: "alpha", Dest: "447700900123", DestCountry: "GB", DestCount: 3,
		Text: "Your account is locked: http://x.example", TextMasked: true, DataCoding: 8, Segments: 2,
		Fingerprint: 0xfedcba9876543210, // top bit set: stored as a negative int64
		RuleID:      "phish.url", Action: "quarantine", Monitor: true, Sampled: true,
		Reason: "url on blocklist", Evidence: "x.example", Highlight: "http://x.example", Leakage: 0.0125,
		Status: 0xffffffff, MessageID: "m-1", Quarantine: filter.QuarantineHeld,
		UpstreamMessageID: "up-1", DecidedAt: &dec, DecidedBy: "alice",
		Raw: [][]byte{{0, 0, 0, 16, 1, 2, 3}, {}, {9}},
	}
}

func TestInsertGet(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		want := fullEvent(42)
		if err := s.Insert(ctx, []*filter.Event{want}); err != nil {
			t.Fatal(err)
		}
		// Idempotent: a retried batch neither fails nor duplicates.
		if err := s.Insert(ctx, []*filter.Event{want, fullEvent(43)}); err != nil {
			t.Fatalf("second insert: %v", err)
		}
		got, err := s.Get(ctx, 42)
		if err != nil {
			t.Fatal(err)
		}
		want.Stored = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
		if n, _ := s.Count(ctx); n != 2 {
			t.Errorf("count = %d, want 2", n)
		}
		if _, err := s.Get(ctx, 7); !errors.Is(err, ErrNotFound) {
			t.Errorf("get missing: %v, want ErrNotFound", err)
		}
		// A minimal event: nil raw, nil decided_at.
		min := &filter.Event{ID: 50, Time: t0}
		if err := s.Insert(ctx, []*filter.Event{min}); err != nil {
			t.Fatal(err)
		}
		got, err = s.Get(ctx, 50)
		if err != nil || !reflect.DeepEqual(got, min) {
			t.Errorf("minimal event: %+v %v", got, err)
		}
	})
}

// Text is the sender's: invalid UTF-8 and NUL must not fail the batch
// (PostgreSQL refuses both in text columns).
func TestInsertHostileText(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		evs := []*filter.Event{
			{ID: 1, Time: t0, Text: "bad \xff\xfe utf8", Sender: "a\x00b"},
			{ID: 2, Time: t0, Text: "ok"},
		}
		if err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got.Text != "bad \uFFFD utf8" || got.Sender != "a\uFFFDb" {
			t.Errorf("cleaned to %q %q", got.Text, got.Sender)
		}
	})
}

func TestInsertLargeBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		evs := dataset(1234) // more than one INSERT chunk
		if err := s.Insert(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Count(context.Background()); n != int64(len(evs)) {
			t.Errorf("count = %d, want %d", n, len(evs))
		}
	})
}

var texts = []string{
	"Your BANK account is locked, verify at http://bank-secure.example",
	"Ваш код: 1234. ПРИВЕТ от банка",
	"50% off today_only *deal* [promo] what? yes",
	"hello world",
	"Hello World, again",
	"",
	"ab",
	`say "hi" ' OR 1=1 -- AND NEAR(x)`,
}

// dataset makes n varied events, deterministic.
func dataset(n int) []*filter.Event {
	r := rand.New(rand.NewPCG(1, 2))
	evs := make([]*filter.Event, n)
	for i := range evs {
		q := ""
		if i%7 == 0 {
			q = []string{filter.QuarantineHeld, filter.QuarantineReleased, filter.QuarantineRejected}[i%3]
		}
		fp := uint64(0)
		if i%5 != 0 {
			fp = uint64(1+r.IntN(4)) << 60 // some above 1<<63
		}
		evs[i] = &filter.Event{
			ID:          int64(1000 + i),
			Time:        t0.Add(time.Duration(i/3) * time.Minute), // ties on time: paging must break them by id
			Direction:   []string{"mt", "mo"}[i%2],
			Peer:        fmt.Sprintf("peer%d", r.IntN(3)),
			Class:       []string{"a2p", "p2p", "mo", "receipt"}[r.IntN(4)],
			Sender:      fmt.Sprintf("S%d", r.IntN(10)),
			Dest:        fmt.Sprintf("4477%d", r.IntN(20)),
			Text:        texts[r.IntN(len(texts))],
			Fingerprint: filter.Fingerprint(fp),
			RuleID:      fmt.Sprintf("rule.%d", r.IntN(4)),
			Action:      []string{"allow", "flag", "reject", "drop", "quarantine"}[r.IntN(5)],
			Monitor:     r.IntN(4) == 0,
			Quarantine:  q,
			Raw:         [][]byte{{byte(i)}},
		}
	}
	return evs
}

// matches is the reference semantics of Query.
func matches(ev *filter.Event, q Query) bool {
	return (q.From.IsZero() || !ev.Time.Before(q.From)) &&
		(q.To.IsZero() || ev.Time.Before(q.To)) &&
		(q.Peer == "" || ev.Peer == q.Peer) &&
		(q.Sender == "" || ev.Sender == q.Sender) &&
		(q.Dest == "" || ev.Dest == q.Dest) &&
		(q.RuleID == "" || ev.RuleID == q.RuleID) &&
		(q.Action == "" || ev.Action == q.Action) &&
		(q.Class == "" || ev.Class == q.Class) &&
		(q.Direction == "" || ev.Direction == q.Direction) &&
		(q.Text == "" || strings.Contains(strings.ToLower(ev.Text), strings.ToLower(q.Text))) &&
		(q.Fingerprint == 0 || ev.Fingerprint == q.Fingerprint) &&
		(q.Quarantine == "" || ev.Quarantine == q.Quarantine) &&
		(q.Monitor == nil || ev.Monitor == *q.Monitor)
}

// expected returns the ids matching q, newest first.
func expected(evs []*filter.Event, q Query) []int64 {
	var m []*filter.Event
	for _, ev := range evs {
		if matches(ev, q) {
			m = append(m, ev)
		}
	}
	slices.SortFunc(m, func(a, b *filter.Event) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	ids := []int64{}
	for _, ev := range m {
		ids = append(ids, ev.ID)
	}
	return ids
}

// searchAll walks every page of q.
func searchAll(t *testing.T, s Store, q Query) []int64 {
	t.Helper()
	ids := []int64{}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		p, err := s.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		for _, ev := range p.Events {
			ids = append(ids, ev.ID)
			if ev.Raw != nil {
				t.Fatal("search returned raw PDUs")
			}
		}
		if p.Next == "" {
			return ids
		}
		if len(p.Events) == 0 {
			t.Fatal("empty page with a next cursor")
		}
		q.Cursor = p.Next
	}
}

func TestSearch(t *testing.T) {
	evs := dataset(300)
	cases := []struct {
		name string
		q    Query
	}{
		{"all", Query{}},
		{"sender", Query{Sender: "S3"}},
		{"dest", Query{Dest: "447712"}},
		{"peer", Query{Peer: "peer1"}},
		{"rule", Query{RuleID: "rule.2"}},
		{"action", Query{Action: "reject"}},
		{"class", Query{Class: "p2p"}},
		{"direction", Query{Direction: "mo"}},
		{"time range", Query{From: t0.Add(10 * time.Minute), To: t0.Add(40 * time.Minute)}},
		{"empty range", Query{From: t0.Add(10 * time.Minute), To: t0.Add(10 * time.Minute)}},
		{"rule and range", Query{RuleID: "rule.1", From: t0.Add(20 * time.Minute), To: t0.Add(90 * time.Minute)}},
		{"fingerprint high bit", Query{Fingerprint: 3 << 60}},
		{"fingerprint", Query{Fingerprint: 1 << 60}},
		{"held", Query{Quarantine: filter.QuarantineHeld}},
		{"released", Query{Quarantine: filter.QuarantineReleased}},
		{"monitor", Query{Monitor: ptr(true)}},
		{"not monitor", Query{Monitor: ptr(false)}},
		{"text ascii case", Query{Text: "bank ACCOUNT"}},
		{"text mid-word", Query{Text: "ecure.examp"}},
		{"text two letters", Query{Text: "ab"}},
		{"text one letter", Query{Text: "W"}},
		{"text percent", Query{Text: "50%"}},
		{"text underscore", Query{Text: "y_o"}},
		{"text underscore no match", Query{Text: "today_x"}},
		{"text star", Query{Text: "*deal*"}},
		{"text question", Query{Text: "what?"}},
		{"text bracket", Query{Text: "[promo]"}},
		{"text backslash", Query{Text: `\`}},
		{"text no match", Query{Text: "zzz qqq"}},
		{"text quotes", Query{Text: `"hi" '`}},
		{"text fts syntax", Query{Text: `AND NEAR(`}},
		{"text lone quote", Query{Text: `"`}},
		{"text and sender", Query{Text: "hello", Sender: "S1"}},
		{"text unicode case", Query{Text: "привет от"}},
		{"no match", Query{Sender: "nobody"}},
		{"everything", Query{Sender: "S2", Peer: "peer0", Direction: "mt", Monitor: ptr(false), From: t0, To: t0.Add(time.Hour)}},
	}
	eachStore(t, func(t *testing.T, s Store) {
		if err := s.Insert(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		defer func(d int) { denseMatches = d }(denseMatches)
		for _, c := range cases {
			for _, v := range []struct {
				limit, dense int
			}{{0, 10000}, {7, 10000}, {1000, 10000}, {7, 1}} {
				// dense 1: every FTS text search takes the time-index plan.
				denseMatches = v.dense
				limit := v.limit
				t.Run(fmt.Sprintf("%s/limit%d/dense%d", c.name, limit, v.dense), func(t *testing.T) {
					if c.name == "text unicode case" && !unicodeCaseFolds(t, s) {
						t.Skip("this PostgreSQL database's LC_CTYPE folds ASCII only")
					}
					q := c.q
					q.Limit = limit
					got := searchAll(t, s, q)
					want := expected(evs, c.q)
					if !slices.Equal(got, want) {
						t.Errorf("got %d ids %v\nwant %d ids %v", len(got), got, len(want), want)
					}
				})
			}
		}
		// The first page respects the default limit.
		p, err := s.Search(context.Background(), Query{})
		if err != nil || len(p.Events) != DefaultLimit || p.Next == "" {
			t.Errorf("default page: %d events, next %q, %v", len(p.Events), p.Next, err)
		}
	})
}

// unicodeCaseFolds tells whether the database folds non-ASCII case: always
// on SQLite (folded in Go), by LC_CTYPE on PostgreSQL.
func unicodeCaseFolds(t *testing.T, s Store) bool {
	ss := s.(*sqlStore)
	if ss.d.name != "postgres" {
		return true
	}
	var ok bool
	if err := ss.db.QueryRow(`SELECT 'ПРИВЕТ' ILIKE 'привет'`).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestBadQueries(t *testing.T) {
	cases := []struct {
		name string
		q    Query
	}{
		{"from after to", Query{From: t0.Add(time.Hour), To: t0}},
		{"negative limit", Query{Limit: -1}},
		{"limit over max", Query{Limit: MaxLimit + 1}},
		{"cursor not base64", Query{Cursor: "!!!"}},
		{"cursor garbage", Query{Cursor: "Zm9v"}},
		{"cursor bad number", Query{Cursor: encodeCursorRaw("v1:x:1")}},
		{"cursor wrong version", Query{Cursor: encodeCursorRaw("v9:1:1")}},
		{"cursor too long", Query{Cursor: strings.Repeat("A", 200)}},
		{"bad quarantine", Query{Quarantine: "frozen"}},
		{"invalid utf8", Query{Sender: "\xff"}},
		{"nul", Query{Text: "a\x00b"}},
		{"too long", Query{Text: strings.Repeat("x", maxFilterLen+1)}},
	}
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if _, err := s.Search(ctx, c.q); !errors.Is(err, ErrBadQuery) {
					t.Errorf("search: %v, want ErrBadQuery", err)
				}
				if c.q.Cursor == "" {
					if _, err := s.Campaigns(ctx, c.q); !errors.Is(err, ErrBadQuery) {
						t.Errorf("campaigns: %v, want ErrBadQuery", err)
					}
				}
			})
		}
		for _, q := range []StatsQuery{
			{Step: time.Hour, By: "sender"},
			{Step: time.Hour},
			{Step: time.Millisecond, By: "rule"},
			{Step: time.Second, By: "rule", Query: Query{From: t0, To: t0.Add(1000 * time.Hour)}},
			{Step: time.Hour, By: "rule", Query: Query{From: t0.Add(time.Hour), To: t0}},
			{Step: time.Hour, By: "rule", Query: Query{Limit: 5}},
		} {
			if _, err := s.Stats(ctx, q); !errors.Is(err, ErrBadQuery) {
				t.Errorf("stats %+v: %v, want ErrBadQuery", q, err)
			}
		}
		if _, err := s.Campaigns(ctx, Query{Cursor: "x"}); !errors.Is(err, ErrBadQuery) {
			t.Errorf("campaigns with cursor: %v", err)
		}
		if _, err := s.Audit(ctx, AuditQuery{Limit: -1}); !errors.Is(err, ErrBadQuery) {
			t.Errorf("audit: %v", err)
		}
	})
}

func encodeCursorRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestCampaigns(t *testing.T) {
	evs := dataset(300)
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for _, q := range []Query{{}, {Peer: "peer2"}, {From: t0.Add(30 * time.Minute), To: t0.Add(80 * time.Minute)}, {Limit: 2}, {Fingerprint: 2 << 60}} {
			got, err := s.Campaigns(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := refCampaigns(evs, q)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("campaigns %+v:\n got %+v\nwant %+v", q, got, want)
			}
		}
		got, err := s.Campaigns(ctx, Query{Sender: "nobody"})
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("no campaigns: %v %v", got, err)
		}
	})
}

func refCampaigns(evs []*filter.Event, q Query) []Campaign {
	type acc struct {
		c              Campaign
		senders, dests map[string]bool
		peers          map[string]bool
		sample         *filter.Event
	}
	m := map[filter.Fingerprint]*acc{}
	for _, ev := range evs {
		if ev.Fingerprint == 0 || !matches(ev, q) {
			continue
		}
		a := m[ev.Fingerprint]
		if a == nil {
			a = &acc{c: Campaign{Fingerprint: ev.Fingerprint, First: ev.Time, Last: ev.Time, Actions: map[string]int64{}, Rules: map[string]int64{}},
				senders: map[string]bool{}, dests: map[string]bool{}, peers: map[string]bool{}}
			m[ev.Fingerprint] = a
		}
		a.c.Count++
		a.senders[ev.Sender], a.dests[ev.Dest], a.peers[ev.Peer] = true, true, true
		a.c.Actions[ev.Action]++
		a.c.Rules[ev.RuleID]++
		if ev.Time.Before(a.c.First) {
			a.c.First = ev.Time
		}
		if ev.Time.After(a.c.Last) {
			a.c.Last = ev.Time
		}
		if a.sample == nil || ev.ID > a.sample.ID {
			a.sample = ev
		}
	}
	out := []Campaign{}
	for _, a := range m {
		a.c.Senders, a.c.Recipients = int64(len(a.senders)), int64(len(a.dests))
		a.c.Peers = []string{}
		for p := range a.peers {
			a.c.Peers = append(a.c.Peers, p)
		}
		slices.Sort(a.c.Peers)
		a.c.SampleEventID, a.c.SampleText = a.sample.ID, a.sample.Text
		out = append(out, a.c)
	}
	slices.SortFunc(out, func(a, b Campaign) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		// fingerprint order as the database sees it: signed
		return cmp.Compare(int64(a.Fingerprint), int64(b.Fingerprint))
	})
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	return out[:min(limit, len(out))]
}

func TestStats(t *testing.T) {
	evs := dataset(300)
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for _, by := range []string{"rule", "action", "class", "peer", "direction"} {
			for _, q := range []StatsQuery{
				{By: by, Step: 10 * time.Minute},
				{By: by, Step: time.Hour, Query: Query{Sender: "S4", From: t0.Add(15 * time.Minute), To: t0.Add(95 * time.Minute)}},
			} {
				got, err := s.Stats(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want := refStats(evs, q)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("stats %+v:\n got %v\nwant %v", q, got, want)
				}
			}
		}
	})
}

func TestStatsTooManyPoints(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		if err := s.Insert(context.Background(), dataset(50)); err != nil {
			t.Fatal(err)
		}
		defer func(m int) { maxPoints = m }(maxPoints)
		maxPoints = 3
		_, err := s.Stats(context.Background(), StatsQuery{By: "rule", Step: time.Second})
		if !errors.Is(err, ErrBadQuery) {
			t.Errorf("stats over the point limit: %v, want ErrBadQuery", err)
		}
	})
}

func refStats(evs []*filter.Event, q StatsQuery) []Series {
	key := func(ev *filter.Event) string {
		return map[string]string{"rule": ev.RuleID, "action": ev.Action, "class": ev.Class, "peer": ev.Peer, "direction": ev.Direction}[q.By]
	}
	counts := map[string]map[time.Time]int64{}
	for _, ev := range evs {
		if !matches(ev, q.Query) {
			continue
		}
		k := key(ev)
		if counts[k] == nil {
			counts[k] = map[time.Time]int64{}
		}
		counts[k][ev.Time.Truncate(q.Step)]++
	}
	out := []Series{}
	for k, m := range counts {
		sr := Series{Key: k}
		for b, n := range m {
			sr.Points = append(sr.Points, Point{T: b, N: n})
		}
		slices.SortFunc(sr.Points, func(a, b Point) int { return a.T.Compare(b.T) })
		out = append(out, sr)
	}
	slices.SortFunc(out, func(a, b Series) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func TestQuarantine(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		evs := []*filter.Event{
			{ID: 1, Time: t0, Quarantine: filter.QuarantineHeld, Raw: [][]byte{{1}}},
			{ID: 2, Time: t0.Add(time.Minute), Quarantine: filter.QuarantineHeld, Raw: [][]byte{{2}}},
			{ID: 3, Time: t0.Add(2 * time.Minute), Quarantine: filter.QuarantineHeld},
			{ID: 4, Time: t0, Action: "reject"},
		}
		if err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Hour)
		steps := []struct {
			id           int64
			from, to, by string
			up           string
			want         error
		}{
			{1, "held", "released", "alice", "SMSC-1", nil},
			{1, "held", "released", "bob", "SMSC-2", ErrConflict}, // released twice
			{1, "held", "rejected", "bob", "", ErrConflict},       // rejected after release
			{2, "held", "rejected", "bob", "", nil},
			{4, "held", "released", "bob", "", ErrConflict}, // never quarantined
			{99, "held", "released", "bob", "", ErrNotFound},
			{3, "held", "thawed", "bob", "", ErrBadQuery},
		}
		for i, st := range steps {
			err := s.SetQuarantine(ctx, st.id, st.from, st.to, st.by, st.up, at)
			if (st.want == nil && err != nil) || (st.want != nil && !errors.Is(err, st.want)) {
				t.Errorf("step %d: %v, want %v", i, err, st.want)
			}
		}
		ev, err := s.Get(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Quarantine != "released" || ev.DecidedBy != "alice" || ev.UpstreamMessageID != "SMSC-1" || ev.DecidedAt == nil || !ev.DecidedAt.Equal(at) {
			t.Errorf("after release: %+v", ev)
		}
		held, err := s.HeldBefore(ctx, t0.Add(3*time.Minute), 0)
		if err != nil || len(held) != 1 || held[0].ID != 3 {
			t.Fatalf("held before: %v %v", held, err)
		}
		if err := s.Insert(ctx, []*filter.Event{{ID: 5, Time: t0.Add(-time.Hour), Quarantine: "held", Raw: [][]byte{{5, 5}}}}); err != nil {
			t.Fatal(err)
		}
		held, err = s.HeldBefore(ctx, t0.Add(3*time.Minute), 1)
		if err != nil || len(held) != 1 || held[0].ID != 5 || !reflect.DeepEqual(held[0].Raw, [][]byte{{5, 5}}) {
			t.Fatalf("held before, oldest first with raw: %v %v", held, err)
		}
	})
}

func TestOverrides(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		exp := t0.Add(24 * time.Hour)
		a := filter.Override{Kind: filter.OverrideSender, Sender: "BANK", Action: filter.OverrideAllow, Reason: "fp", Author: "alice", EventID: 9, Created: t0, Expires: &exp}
		b := filter.Override{Kind: filter.OverrideSenderFingerprint, Sender: "X", Fingerprint: 1 << 63, Action: filter.OverrideBlock, Author: "bob"}
		for _, o := range []*filter.Override{&a, &b} {
			if err := s.AddOverride(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		if a.ID == 0 || b.ID == 0 || a.ID == b.ID || b.Created.IsZero() {
			t.Fatalf("ids %d %d created %v", a.ID, b.ID, b.Created)
		}
		b.Created = b.Created.Truncate(time.Microsecond)
		got, err := s.Overrides(ctx)
		if err != nil || !reflect.DeepEqual(got, []filter.Override{a, b}) {
			t.Fatalf("overrides:\n got %+v\nwant %+v (%v)", got, []filter.Override{a, b}, err)
		}
		if err := s.DeleteOverride(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteOverride(ctx, a.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete twice: %v", err)
		}
		got, _ = s.Overrides(ctx)
		if len(got) != 1 || got[0].ID != b.ID {
			t.Errorf("after delete: %+v", got)
		}
		for _, o := range []filter.Override{
			{Kind: "ip", Action: "allow"},
			{Kind: "sender", Action: "allow"},
			{Kind: "fingerprint", Action: "block"},
			{Kind: "sender_fingerprint", Sender: "x", Action: "block"},
			{Kind: "sender", Sender: "x", Action: "maybe"},
		} {
			if err := s.AddOverride(ctx, &o); !errors.Is(err, ErrBadQuery) {
				t.Errorf("bad override %+v: %v", o, err)
			}
		}
	})
}

func TestAudit(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		var all []AuditEntry
		for i := range 5 {
			a := AuditEntry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: []string{"alice", "bob"}[i%2], Action: "release", Target: fmt.Sprint(i), Reason: "ok", Detail: `{"x":1}`}
			if err := s.AddAudit(ctx, &a); err != nil {
				t.Fatal(err)
			}
			all = append(all, a)
		}
		slices.Reverse(all)
		cases := []struct {
			q    AuditQuery
			want []AuditEntry
		}{
			{AuditQuery{}, all},
			{AuditQuery{Limit: 2}, all[:2]},
			{AuditQuery{Actor: "alice"}, []AuditEntry{all[0], all[2], all[4]}},
			{AuditQuery{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, all[2:4]},
		}
		for _, c := range cases {
			got, err := s.Audit(ctx, c.q)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("audit %+v:\n got %+v\nwant %+v (%v)", c.q, got, c.want, err)
			}
		}
	})
}

func TestRetain(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		var evs []*filter.Event
		for i := range 20 {
			q := ""
			if i == 0 || i == 15 {
				q = filter.QuarantineHeld
			}
			evs = append(evs, &filter.Event{ID: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Minute), Quarantine: q, Text: fmt.Sprintf("msg %d", i)})
		}
		if err := s.Insert(ctx, evs); err != nil {
			t.Fatal(err)
		}
		// Age: events 0..9 are older than t0+10m; 0 is held and stays.
		n, err := s.Retain(ctx, t0.Add(10*time.Minute), 0)
		if err != nil || n != 9 {
			t.Fatalf("retain by age: %d %v, want 9", n, err)
		}
		// Count: 11 left (0, 10..19); keep 5: delete the six oldest non-held
		// (10..14 and 16; 15 is held).
		n, err = s.Retain(ctx, time.Time{}, 5)
		if err != nil || n != 6 {
			t.Fatalf("retain by count: %d %v, want 6", n, err)
		}
		got := searchAll(t, s, Query{})
		if want := []int64{20, 19, 18, 16, 1}; !slices.Equal(got, want) {
			t.Errorf("left %v, want %v", got, want)
		}
		// Only held events beyond the limit: nothing more to delete.
		n, err = s.Retain(ctx, t0.Add(time.Hour), 1)
		if err != nil || n != 3 {
			t.Fatalf("retain held only: %d %v, want 3", n, err)
		}
		if got := searchAll(t, s, Query{}); !slices.Equal(got, []int64{16, 1}) {
			t.Errorf("left %v", got)
		}
		// Deleted events leave the text index too.
		if got := searchAll(t, s, Query{Text: "msg"}); !slices.Equal(got, []int64{16, 1}) {
			t.Errorf("text search after retain: %v", got)
		}
		if ss := s.(*sqlStore); ss.d.text != nil {
			// The text writer deletes them from the index.
			testutil.Eventually(t, 5*time.Second, "events_fts keeps 2 rows", func() bool {
				var n int
				ss.d.text.db.QueryRow(`SELECT count(*) FROM events_fts`).Scan(&n)
				return n == 2
			})
		}
		if _, err := s.Retain(ctx, time.Time{}, -1); !errors.Is(err, ErrBadQuery) {
			t.Errorf("negative max: %v", err)
		}
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			var dsn string
			if b.name == "sqlite" {
				dsn = t.TempDir() + "/e.db"
			} else {
				dsn = pgSchemaDSN(t)
			}
			s1 := openTest(t, dsn)
			if err := s1.Insert(context.Background(), []*filter.Event{fullEvent(1)}); err != nil {
				t.Fatal(err)
			}
			s2 := openTest(t, dsn) // migrations already applied: a no-op
			if n, err := s2.Count(context.Background()); err != nil || n != 1 {
				t.Fatalf("count %d %v", n, err)
			}
			ss := s2.(*sqlStore)
			var v int
			ms, _ := loadMigrations(&ss.d)
			if err := ss.db.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil || v != ms[len(ms)-1].version || v < 3 {
				t.Errorf("schema version %d %v", v, err)
			}
			if b.name == "sqlite" && ss.d.text == nil {
				t.Error("modernc's SQLite has FTS5 trigram; the index is missing")
			}
			// A schema newer than this build is refused.
			if _, err := ss.db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)`); err != nil {
				t.Fatal(err)
			}
			if s3, err := Open(context.Background(), dsn, nil); err == nil {
				s3.Close()
				t.Error("opened a database with a newer schema")
			}
		})
	}
}

func TestMemory(t *testing.T) {
	s := openTest(t, ":memory:")
	if err := s.Insert(context.Background(), dataset(10)); err != nil {
		t.Fatal(err)
	}
	if got := searchAll(t, s, Query{Text: "hello"}); len(got) == 0 {
		t.Error("no hits in memory store")
	}
}

func TestRaw(t *testing.T) {
	for _, segs := range [][][]byte{nil, {{}}, {{1, 2, 3}}, {{1}, {}, {2, 3}}} {
		got, err := decodeRaw(encodeRaw(segs))
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) == 0 && got == nil {
			continue
		}
		if !reflect.DeepEqual(got, segs) {
			t.Errorf("%v -> %v", segs, got)
		}
	}
	for _, b := range [][]byte{{0}, {0, 0, 0, 5, 1}, {0, 0, 0, 0, 1}} {
		if _, err := decodeRaw(b); !errors.Is(err, errBadRaw) {
			t.Errorf("%v: %v", b, err)
		}
	}
}

// The checkpointer copies the WAL into the database file by itself once
// enough events were stored: the writer's own automatic checkpoint starts
// only past 256 MiB of WAL, so a growing database file shows the
// checkpointer's work.
func TestSQLiteCheckpointer(t *testing.T) {
	old := checkpointEvents
	checkpointEvents = 1000
	t.Cleanup(func() { checkpointEvents = old })
	path := filepath.Join(t.TempDir(), "events.db")
	s := openTest(t, path)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	if err := s.Insert(context.Background(), dataset(2000)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the database file grows by the checkpointed events", func() bool {
		return size() > before+256<<10
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // twice is harmless
}
