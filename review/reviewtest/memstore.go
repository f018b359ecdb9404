// Package reviewtest holds test doubles for the review API: an in-memory
// store.Store and a Quarantiner that records its calls, plus SQLite, the
// real store on a temporary file. The API and `smsfw events` tests run
// against both stores (Stores); the fake stays where a test needs what the
// real one cannot give (a Quarantiner that fails or blocks on demand, a
// seeded console without a proxy). The store package's own tests check the
// real implementations against the contract.
package reviewtest

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/store"
)

// Store is an in-memory store.Store. Events are kept as copies.
type Store struct {
	mu        sync.Mutex
	events    map[int64]*filter.Event
	overrides []filter.Override
	audit     []store.AuditEntry
	nextID    int64
	closed    bool
}

var _ store.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store { return &Store{events: map[int64]*filter.Event{}} }

func clone(ev *filter.Event) *filter.Event {
	c := *ev
	c.Stored = nil
	if ev.DecidedAt != nil {
		t := *ev.DecidedAt
		c.DecidedAt = &t
	}
	c.Raw = make([][]byte, len(ev.Raw))
	for i, p := range ev.Raw {
		c.Raw[i] = slices.Clone(p)
	}
	return &c
}

// Insert implements store.Store.
func (s *Store) Insert(_ context.Context, evs []*filter.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		if ev.ID == 0 {
			ev.ID = filter.NewEventID()
		}
		s.events[ev.ID] = clone(ev)
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, id int64) (*filter.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.events[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(ev), nil
}

func matches(q *store.Query, ev *filter.Event) bool {
	switch {
	case !q.From.IsZero() && ev.Time.Before(q.From),
		!q.To.IsZero() && !ev.Time.Before(q.To),
		q.Peer != "" && ev.Peer != q.Peer,
		q.Sender != "" && ev.Sender != q.Sender,
		q.Dest != "" && ev.Dest != q.Dest,
		q.RuleID != "" && ev.RuleID != q.RuleID,
		q.Action != "" && ev.Action != q.Action,
		q.Class != "" && ev.Class != q.Class,
		q.Direction != "" && ev.Direction != q.Direction,
		q.Text != "" && !strings.Contains(strings.ToLower(ev.Text), strings.ToLower(q.Text)),
		q.Fingerprint != 0 && ev.Fingerprint != q.Fingerprint,
		q.Quarantine != "" && ev.Quarantine != q.Quarantine,
		q.Monitor != nil && ev.Monitor != *q.Monitor:
		return false
	}
	return true
}

// sorted returns the matching events, newest first.
func (s *Store) sorted(q *store.Query) []*filter.Event {
	var out []*filter.Event
	for _, ev := range s.events {
		if matches(q, ev) {
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b *filter.Event) int { return cmp.Compare(b.ID, a.ID) })
	return out
}

// Search implements store.Store; the cursor is the last id returned.
func (s *Store) Search(_ context.Context, q store.Query) (store.Page, error) {
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 0 || limit > store.MaxLimit {
		return store.Page{}, store.ErrBadQuery
	}
	var after int64
	if q.Cursor != "" {
		n, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil {
			return store.Page{}, store.ErrBadQuery
		}
		after = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := store.Page{Events: []*filter.Event{}}
	for _, ev := range s.sorted(&q) {
		if after != 0 && ev.ID >= after {
			continue
		}
		if len(p.Events) == limit {
			p.Next = strconv.FormatInt(p.Events[len(p.Events)-1].ID, 10)
			break
		}
		p.Events = append(p.Events, clone(ev))
	}
	return p, nil
}

// Campaigns implements store.Store.
func (s *Store) Campaigns(_ context.Context, q store.Query) ([]store.Campaign, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type agg struct {
		c              store.Campaign
		senders, dests map[string]bool
		peers          map[string]bool
	}
	by := map[uint64]*agg{}
	for _, ev := range s.sorted(&q) {
		if ev.Fingerprint == 0 {
			continue
		}
		a := by[uint64(ev.Fingerprint)]
		if a == nil {
			a = &agg{c: store.Campaign{Fingerprint: ev.Fingerprint, First: ev.Time, Last: ev.Time,
				SampleText: ev.Text, SampleEventID: ev.ID, Actions: map[string]int64{}, Rules: map[string]int64{}},
				senders: map[string]bool{}, dests: map[string]bool{}, peers: map[string]bool{}}
			by[uint64(ev.Fingerprint)] = a
		}
		a.c.Count++
		a.senders[ev.Sender], a.dests[ev.Dest], a.peers[ev.Peer] = true, true, true
		a.c.First = minTime(a.c.First, ev.Time)
		a.c.Last = maxTime(a.c.Last, ev.Time)
		a.c.Actions[ev.Action]++
		if ev.RuleID != "" {
			a.c.Rules[ev.RuleID]++
		}
	}
	out := make([]store.Campaign, 0, len(by))
	for _, a := range by {
		a.c.Senders, a.c.Recipients = int64(len(a.senders)), int64(len(a.dests))
		for p := range a.peers {
			a.c.Peers = append(a.c.Peers, p)
		}
		slices.Sort(a.c.Peers)
		out = append(out, a.c)
	}
	slices.SortFunc(out, func(a, b store.Campaign) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Stats implements store.Store: buckets start at multiples of Step.
func (s *Store) Stats(_ context.Context, q store.StatsQuery) ([]store.Series, error) {
	if q.Step < time.Second {
		return nil, store.ErrBadQuery
	}
	key := func(ev *filter.Event) string {
		switch q.By {
		case "rule":
			return ev.RuleID
		case "action":
			return ev.Action
		case "class":
			return ev.Class
		case "peer":
			return ev.Peer
		case "direction":
			return ev.Direction
		}
		return ""
	}
	switch q.By {
	case "rule", "action", "class", "peer", "direction":
	default:
		return nil, store.ErrBadQuery
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]map[int64]int64{}
	for _, ev := range s.sorted(&q.Query) {
		k := key(ev)
		if counts[k] == nil {
			counts[k] = map[int64]int64{}
		}
		counts[k][ev.Time.Truncate(q.Step).UnixNano()]++
	}
	out := make([]store.Series, 0, len(counts))
	for k, m := range counts {
		sr := store.Series{Key: k}
		for t, n := range m {
			sr.Points = append(sr.Points, store.Point{T: time.Unix(0, t).UTC(), N: n})
		}
		slices.SortFunc(sr.Points, func(a, b store.Point) int { return a.T.Compare(b.T) })
		out = append(out, sr)
	}
	slices.SortFunc(out, func(a, b store.Series) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// SetQuarantine implements store.Store.
func (s *Store) SetQuarantine(_ context.Context, id int64, from, to, by, upstreamMsgID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.events[id]
	if !ok {
		return store.ErrNotFound
	}
	if ev.Quarantine != from {
		return store.ErrConflict
	}
	ev.Quarantine, ev.DecidedBy = to, by
	ev.DecidedAt = &at
	if upstreamMsgID != "" {
		ev.UpstreamMessageID = upstreamMsgID
	}
	return nil
}

// HeldBefore implements store.Store, oldest first.
func (s *Store) HeldBefore(_ context.Context, t time.Time, limit int) ([]*filter.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := store.Query{To: t, Quarantine: filter.QuarantineHeld}
	evs := s.sorted(&q)
	slices.Reverse(evs)
	if limit > 0 && len(evs) > limit {
		evs = evs[:limit]
	}
	out := make([]*filter.Event, len(evs))
	for i, ev := range evs {
		out[i] = clone(ev)
	}
	return out, nil
}

// AddOverride implements store.Store.
func (s *Store) AddOverride(_ context.Context, o *filter.Override) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	o.ID = s.nextID
	s.overrides = append(s.overrides, *o)
	return nil
}

// DeleteOverride implements store.Store.
func (s *Store) DeleteOverride(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.overrides {
		if o.ID == id {
			s.overrides = slices.Delete(s.overrides, i, i+1)
			return nil
		}
	}
	return store.ErrNotFound
}

// Overrides implements store.Store.
func (s *Store) Overrides(context.Context) ([]filter.Override, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.overrides), nil
}

// AddAudit implements store.Store.
func (s *Store) AddAudit(_ context.Context, a *store.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	a.ID = s.nextID
	s.audit = append(s.audit, *a)
	return nil
}

// Audit implements store.Store, newest first.
func (s *Store) Audit(_ context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.AuditEntry
	for i := len(s.audit) - 1; i >= 0; i-- {
		a := s.audit[i]
		if (!q.From.IsZero() && a.Time.Before(q.From)) || (!q.To.IsZero() && !a.Time.Before(q.To)) ||
			(q.Actor != "" && a.Actor != q.Actor) {
			continue
		}
		out = append(out, a)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// Retain implements store.Store.
func (s *Store) Retain(_ context.Context, before time.Time, maxEvents int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, ev := range s.events {
		if ev.Time.Before(before) && ev.Quarantine != filter.QuarantineHeld {
			delete(s.events, id)
			n++
		}
	}
	if maxEvents > 0 && int64(len(s.events)) > maxEvents {
		evs := s.sorted(&store.Query{})
		for _, ev := range evs[maxEvents:] {
			if ev.Quarantine != filter.QuarantineHeld {
				delete(s.events, ev.ID)
				n++
			}
		}
	}
	return n, nil
}

// Count implements store.Store.
func (s *Store) Count(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.events)), nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Quarantiner records Release and RejectHeld calls; Release answers
// "up-<id>" unless Err is set.
type Quarantiner struct {
	mu       sync.Mutex
	Err      error
	Released []int64
	Rejected []int64
}

// Release implements review.Quarantiner.
func (q *Quarantiner) Release(_ context.Context, ev *filter.Event) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.Err != nil {
		return "", q.Err
	}
	q.Released = append(q.Released, ev.ID)
	return "up-" + strconv.FormatInt(ev.ID, 10), nil
}

// RejectHeld implements review.Quarantiner.
func (q *Quarantiner) RejectHeld(ev *filter.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.Rejected = append(q.Rejected, ev.ID)
}

// Calls returns copies of the recorded ids.
func (q *Quarantiner) Calls() (released, rejected []int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.Released), slices.Clone(q.Rejected)
}

// OverrideSetter records the last set pushed.
type OverrideSetter struct {
	mu    sync.Mutex
	set   []filter.Override
	Calls int
}

// SetOverrides implements filter.OverrideSetter.
func (o *OverrideSetter) SetOverrides(set []filter.Override) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.set = slices.Clone(set)
	o.Calls++
}

// Last returns the last set pushed.
func (o *OverrideSetter) Last() []filter.Override {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.set)
}

// Seed returns events for tests and demos: a mix of actions, peers and
// classes over the hour before now, one campaign of three, and one held
// quarantined message (the last one returned).
func Seed(now time.Time) []*filter.Event {
	mk := func(min int, peer, sender, dest, class, action, rule, text, highlight string, fp uint64) *filter.Event {
		return &filter.Event{ID: now.Add(-time.Duration(min) * time.Minute).UnixMicro(), Time: now.Add(-time.Duration(min) * time.Minute),
			Direction: "mt", Peer: peer, Class: class, Sender: sender, Dest: dest, Text: text, Segments: 1,
			Fingerprint: filter.Fingerprint(fp), RuleID: rule, Action: action, Reason: rule + " matched", Evidence: highlight, Highlight: highlight,
			Raw: [][]byte{[]byte("raw")}}
	}
	evs := []*filter.Event{
		mk(55, "acme", "BANK", "491701234567", "a2p", "reject", "phishing-url", "Your account is locked, verify at http://bank-secure.example/login", "bank-secure.example", 0xabc1),
		mk(50, "acme", "BANK", "491701234568", "a2p", "reject", "phishing-url", "Your account is locked, verify at http://bank-secure.example/login", "bank-secure.example", 0xabc1),
		mk(45, "beta", "PROMO", "491701234569", "a2p", "reject", "phishing-url", "Your account is locked, verify at http://bank-secure.example/login", "bank-secure.example", 0xabc1),
		mk(40, "beta", "PayPa1", "491701234570", "a2p", "flag", "lookalike-sender", "Payment received: 20 EUR", "", 0xdef2),
		mk(30, "gamma", "4915112345678", "491701234571", "p2p", "throttle", "velocity", "hi, call me back", "", 0x1234),
		mk(20, "acme", "SHOP", "491701234572", "a2p", "allow", "", "Your order has shipped", "", 0x5678),
		mk(15, "acme", "WIN", "491701234573", "a2p", "drop", "spam-keywords", "<script>alert(1)</script> You WON a prize! Claim now", "WON a prize", 0x9999),
		mk(5, "beta", "LOTTO", "491701234574", "a2p", "quarantine", "suspicious-prize", "Congratulations, you won the jackpot! Reply YES", "won the jackpot", 0x7777),
	}
	evs[3].Monitor = true
	held := evs[len(evs)-1]
	held.Quarantine = filter.QuarantineHeld
	held.MessageID = "fw-1"
	return evs
}

// Leakage implements store.Store from the stored events.
func (s *Store) Leakage(_ context.Context, from, to string) ([]store.LeakageDay, error) {
	s.mu.Lock()
	var evs []*filter.Event
	for _, ev := range s.events {
		if d := store.LeakageDayOf(ev.Time); d >= from && d <= to {
			evs = append(evs, ev)
		}
	}
	s.mu.Unlock()
	rows := store.LedgerRows(evs)
	slices.SortFunc(rows, func(a, b store.LeakageDay) int {
		if a.Day != b.Day {
			return strings.Compare(a.Day, b.Day)
		}
		return strings.Compare(a.Peer, b.Peer)
	})
	return rows, nil
}
