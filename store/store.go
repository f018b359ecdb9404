// Package store keeps the analysts' records: events (blocked, flagged,
// monitored and sampled messages), quarantined messages and their fate,
// overrides and the audit log. Embedded SQLite (modernc.org/sqlite, no cgo)
// is the default; a postgres:// DSN selects PostgreSQL (pgx). Both run the
// same schema, migrations and tests.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/smsfw/smsfw/filter"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a quarantine transition from a state the event is not in
	// (released twice, rejected after release, ...).
	ErrConflict = errors.New("store: conflicting state")
	ErrBadQuery = errors.New("store: bad query")
)

// Store is the persistence behind the writer, the review API, replay and
// `smsfw events`. Implementations are safe for concurrent use.
type Store interface {
	// Insert writes a batch of events in one transaction.
	Insert(ctx context.Context, evs []*filter.Event) error
	// Get returns one event with its raw PDUs.
	Get(ctx context.Context, id int64) (*filter.Event, error)
	// Search returns events matching q, newest first, one page at a time.
	Search(ctx context.Context, q Query) (Page, error)
	// Campaigns groups the events matching q by fingerprint, largest first.
	Campaigns(ctx context.Context, q Query) ([]Campaign, error)
	// Stats counts the events matching q.Query per time bucket and key.
	Stats(ctx context.Context, q StatsQuery) ([]Series, error)
	// SetQuarantine moves a quarantined event from state from to state to
	// (ErrConflict when it is not in from), recording who and when, and the
	// SMSC's message id of a released message.
	SetQuarantine(ctx context.Context, id int64, from, to, by, upstreamMsgID string, at time.Time) error
	// HeldBefore lists events still held that arrived before t (expiry).
	HeldBefore(ctx context.Context, t time.Time, limit int) ([]*filter.Event, error)

	AddOverride(ctx context.Context, o *filter.Override) error // sets o.ID
	DeleteOverride(ctx context.Context, id int64) error
	Overrides(ctx context.Context) ([]filter.Override, error)

	AddAudit(ctx context.Context, a *AuditEntry) error // sets a.ID
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)

	// Retain deletes events older than before and then the oldest beyond
	// maxEvents (0: no limit); held quarantined events are never deleted.
	Retain(ctx context.Context, before time.Time, maxEvents int64) (deleted int64, err error)
	// Count returns the number of stored events.
	Count(ctx context.Context) (int64, error)
	// Leakage returns the leakage ledger's rows for the UTC days from to
	// to, inclusive ("YYYY-MM-DD"), by day then peer.
	Leakage(ctx context.Context, from, to string) ([]LeakageDay, error)
	Close() error
}

// Query selects events. Zero fields match everything.
type Query struct {
	From, To    time.Time // arrival time range [From, To)
	Peer        string
	Sender      string // exact
	Dest        string // exact
	RuleID      string
	Action      string
	Class       string
	Direction   string
	Text        string // substring of the text, case-insensitive
	Fingerprint filter.Fingerprint
	Quarantine  string // held, released, rejected, expired
	Monitor     *bool
	Limit       int    // page size (default 50, at most MaxLimit)
	Cursor      string // opaque, from Page.Next
}

// MaxLimit bounds a page.
const MaxLimit = 1000

// Page is one page of search results.
type Page struct {
	Events []*filter.Event `json:"events"`
	Next   string          `json:"next,omitempty"` // cursor of the next page; "" at the end
}

// Campaign is a group of events sharing a text fingerprint.
type Campaign struct {
	Fingerprint   filter.Fingerprint `json:"fingerprint"`
	Count         int64              `json:"count"`
	Senders       int64              `json:"senders"`
	Recipients    int64              `json:"recipients"`
	Peers         []string           `json:"peers"`
	First         time.Time          `json:"first"`
	Last          time.Time          `json:"last"`
	SampleText    string             `json:"sample_text"`
	SampleEventID int64              `json:"sample_event_id,string"`
	Actions       map[string]int64   `json:"actions"`
	Rules         map[string]int64   `json:"rules"`
}

// StatsQuery buckets matching events by time and a key.
type StatsQuery struct {
	Query
	Step time.Duration // bucket width (>= 1s)
	By   string        // rule, action, class, peer, direction
}

// Series is the counts of one key over time.
type Series struct {
	Key    string  `json:"key"`
	Points []Point `json:"points"`
}

// Point is one bucket.
type Point struct {
	T time.Time `json:"t"`
	N int64     `json:"n"`
}

// AuditEntry records one analyst action.
type AuditEntry struct {
	ID     int64     `json:"id,string"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // release, reject, false_positive, block_sender, block_fingerprint, delete_override, ...
	Target string    `json:"target"` // event or override id
	Reason string    `json:"reason"`
	Detail string    `json:"detail,omitempty"` // JSON
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	From, To time.Time
	Actor    string
	Limit    int
}

// LeakageDay is one peer's delivered grey-route traffic on one UTC day.
type LeakageDay struct {
	Day      string  `json:"day"` // YYYY-MM-DD
	Peer     string  `json:"peer"`
	Messages int64   `json:"messages"`
	Segments int64   `json:"segments"`
	Amount   float64 `json:"amount"`
}

// Delivered reports whether an event counts in the leakage ledger: an MT
// message with a grey-route leakage amount that went on to the SMSC (allowed,
// flagged, or only matched by a monitor rule) and was accepted by it. A
// message blocked, dropped, quarantined or refused by the SMSC cost nothing.
func Delivered(ev *filter.Event) bool {
	return ev.Direction == "mt" && ev.Leakage > 0 && ev.Status == 0 && ev.Quarantine == "" &&
		(ev.Monitor || ev.Action == filter.Allow.String() || ev.Action == filter.Flag.String())
}

// LeakageDayOf is the ledger day of an event (UTC).
func LeakageDayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// LedgerRows sums the delivered events among evs by day and peer.
func LedgerRows(evs []*filter.Event) []LeakageDay {
	var out []LeakageDay
	idx := map[[2]string]int{}
	for _, ev := range evs {
		if !Delivered(ev) {
			continue
		}
		k := [2]string{LeakageDayOf(ev.Time), ev.Peer}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, LeakageDay{Day: k[0], Peer: k[1]})
		}
		out[i].Messages++
		out[i].Segments += int64(max(ev.Segments, 1))
		out[i].Amount += ev.Leakage
	}
	return out
}
