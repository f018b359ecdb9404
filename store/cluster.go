package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Decision states.
const (
	// DecisionPending: asked for on a node that could not carry it out; a
	// node that can claims it.
	DecisionPending = "pending"
	// DecisionClaimed: a node is carrying it out, until LeaseUntil.
	DecisionClaimed = "claimed"
	DecisionDone    = "done"
	DecisionFailed  = "failed"
)

// Decision is an analyst's (or the expiry's) decision on a quarantined
// message, shared by the nodes of one store: the lock that keeps two nodes
// from releasing one message, and the way a node asks another to send it.
type Decision struct {
	EventID    int64     `json:"event_id,string"`
	Action     string    `json:"action"` // release, reject, expire
	State      string    `json:"state"`  // pending, claimed, done, failed
	Actor      string    `json:"actor"`
	Reason     string    `json:"reason"`
	AskedOn    string    `json:"asked_on"`       // the node whose API was asked
	Node       string    `json:"node,omitempty"` // the node carrying it out
	Requested  time.Time `json:"requested"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
	Result     string    `json:"result,omitempty"` // the SMSC's message ids of a release
	Error      string    `json:"error,omitempty"`
}

// Over reports whether the decision is over (done or failed).
func (d *Decision) Over() bool { return d.State == DecisionDone || d.State == DecisionFailed }

// StoredBan is one shared ban of the ban list (package bpf's Ban, by
// value: the store does not depend on bpf).
type StoredBan struct {
	Source  string // CIDR
	Reason  string
	Origin  string
	Actor   string
	Created time.Time
	Expires time.Time // zero: never
}

// ErrNotSupported: the store cannot do this (LISTEN/NOTIFY on SQLite).
var ErrNotSupported = errors.New("store: not supported by this database")

// Cluster is what several smsfw nodes sharing one store coordinate
// through: quarantine decisions, the shared ban list, receipt ids, and
// notifications.
type Cluster interface {
	// BeginDecision records d for a held event in one statement: state
	// claimed when d.Node is set (the caller carries it out until
	// d.LeaseUntil), else pending. A claimed decision supersedes a pending
	// one. It fails with ErrConflict when another decision on the event has
	// not failed (claimed, done, or pending while d is pending too), with a *NotHeldError (which
	// unwraps to ErrConflict) when the event is not held, and with
	// ErrNotFound when there is no such event.
	BeginDecision(ctx context.Context, d *Decision) error
	// ClaimDecision takes a pending decision for node until until; false
	// when it is not pending any more (another node took it).
	ClaimDecision(ctx context.Context, eventID int64, node string, until time.Time) (bool, error)
	// FinishDecision ends a decision node claimed: done (result: the SMSC's
	// ids) or failed (errText). ErrConflict when node no longer holds it
	// (its lease ran out and another node failed it).
	FinishDecision(ctx context.Context, eventID int64, node, state, result, errText string, at time.Time) error
	// Decision returns the decision on an event (ErrNotFound: none).
	Decision(ctx context.Context, eventID int64) (*Decision, error)
	// PendingDecisions lists pending decisions, oldest first.
	PendingDecisions(ctx context.Context, limit int) ([]*Decision, error)
	// ExpireDecisions fails the claimed decisions whose lease ended before
	// now (their node stopped while carrying them out: whether the SMSC got
	// the message is unknown) and the pending ones asked before
	// pendingBefore (no node could carry them out), and returns them; it
	// deletes the decisions finished more than DecisionKeep before now.
	ExpireDecisions(ctx context.Context, now, pendingBefore time.Time) ([]*Decision, error)

	// PutBan adds or replaces the shared ban on b.Source.
	PutBan(ctx context.Context, b StoredBan) error
	// DeleteBan removes the shared ban on source; false when there was none.
	DeleteBan(ctx context.Context, source string) (bool, error)
	// Bans returns the shared bans in force at now, and deletes those
	// that ended.
	Bans(ctx context.Context, now time.Time) ([]StoredBan, error)

	// ReceiptIDs shares the SMSC ids of messages smsfw answered itself
	// (receiptids.go).
	ReceiptIDs

	// Notify wakes the nodes listening on this store (PostgreSQL NOTIFY;
	// nothing on SQLite, where nodes poll).
	Notify(ctx context.Context, payload string) error
	// Listen delivers the payloads of Notify until ctx ends or the
	// connection fails (the channel is then closed and the error sent on
	// errc). ErrNotSupported on SQLite.
	Listen(ctx context.Context) (payloads <-chan string, errc <-chan error, err error)
}

// ClusterOf returns the cluster coordination of a store opened by Open.
func ClusterOf(s Store) (Cluster, bool) {
	c, ok := s.(*sqlStore)
	return c, ok
}

var _ Cluster = (*sqlStore)(nil)

// NotHeldError: a decision was asked on an event that is not held.
type NotHeldError struct {
	ID    int64
	State string // "" when the event was never quarantined
}

func (e *NotHeldError) Error() string {
	if e.State == "" {
		return fmt.Sprintf("event %d was not quarantined", e.ID)
	}
	return fmt.Sprintf("event %d is %s", e.ID, e.State)
}

func (e *NotHeldError) Unwrap() error { return ErrConflict }

const decisionCols = "event_id, action, state, actor, reason, asked_on, node, requested, lease_until, finished, result, error"

func (s *sqlStore) BeginDecision(ctx context.Context, d *Decision) error {
	d.State, d.Finished, d.Result, d.Error = DecisionPending, time.Time{}, "", ""
	var lease int64
	if d.Node != "" {
		d.State, lease = DecisionClaimed, d.LeaseUntil.UnixMicro()
	}
	if d.Requested.IsZero() {
		d.Requested = time.Now()
	}
	defer s.lockWrite()()
	// One statement: the event must be held, and a decision already on it
	// must have failed, or be pending while this one is carried out now (a
	// node that can act supersedes a release nobody could send yet: its
	// claim and this upsert both change only a pending row). A done one is never taken over: its event is not
	// held any more, unless the node that sent it could not save the new
	// state, and then sending it again would duplicate it. On PostgreSQL a concurrent insert of the same event
	// waits for the other's commit, then sees its row and changes nothing.
	res, err := s.db.ExecContext(ctx, s.d.rebind(`INSERT INTO quarantine_decisions (`+decisionCols+`)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '', '' FROM events WHERE id = ? AND quarantine = 'held'
		ON CONFLICT (event_id) DO UPDATE SET action = excluded.action, state = excluded.state, actor = excluded.actor,
			reason = excluded.reason, asked_on = excluded.asked_on, node = excluded.node, requested = excluded.requested,
			lease_until = excluded.lease_until, finished = NULL, result = '', error = ''
		WHERE quarantine_decisions.state = 'failed' OR (quarantine_decisions.state = 'pending' AND excluded.state = 'claimed')`),
		d.EventID, clean(d.Action), d.State, clean(d.Actor), clean(d.Reason), clean(d.AskedOn), clean(d.Node),
		d.Requested.UnixMicro(), lease, d.EventID)
	if err != nil {
		return fmt.Errorf("store: begin decision on %d: %w", d.EventID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var state string
	err = s.db.QueryRowContext(ctx, s.d.rebind(`SELECT quarantine FROM events WHERE id = ?`), d.EventID).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("store: begin decision on %d: %w", d.EventID, err)
	case state != "held":
		return &NotHeldError{ID: d.EventID, State: state}
	}
	if cur, err := s.Decision(ctx, d.EventID); err == nil && cur.State == DecisionDone {
		return fmt.Errorf("event %d was decided (%s on node %q, result %q) but its state still says held: %w",
			d.EventID, cur.Action, cur.Node, cur.Result, ErrConflict)
	}
	return fmt.Errorf("another decision on event %d is in progress: %w", d.EventID, ErrConflict)
}

func (s *sqlStore) ClaimDecision(ctx context.Context, eventID int64, node string, until time.Time) (bool, error) {
	defer s.lockWrite()()
	res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE quarantine_decisions SET state = 'claimed', node = ?, lease_until = ?
		WHERE event_id = ? AND state = 'pending'`), clean(node), until.UnixMicro(), eventID)
	if err != nil {
		return false, fmt.Errorf("store: claim decision on %d: %w", eventID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (s *sqlStore) FinishDecision(ctx context.Context, eventID int64, node, state, result, errText string, at time.Time) error {
	if state != DecisionDone && state != DecisionFailed {
		return fmt.Errorf("store: finish decision on %d: state %q: %w", eventID, state, ErrBadQuery)
	}
	defer s.lockWrite()()
	res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE quarantine_decisions SET state = ?, result = ?, error = ?, finished = ?
		WHERE event_id = ? AND state = 'claimed' AND node = ?`), state, clean(result), clean(errText), at.UnixMicro(), eventID, clean(node))
	if err != nil {
		return fmt.Errorf("store: finish decision on %d: %w", eventID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("decision on event %d is no longer held by node %q: %w", eventID, node, ErrConflict)
	}
	return nil
}

func (s *sqlStore) Decision(ctx context.Context, eventID int64) (*Decision, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+decisionCols+` FROM quarantine_decisions WHERE event_id = ?`), eventID)
	if err != nil {
		return nil, fmt.Errorf("store: decision on %d: %w", eventID, err)
	}
	ds, err := scanDecisions(rows)
	if err != nil {
		return nil, fmt.Errorf("store: decision on %d: %w", eventID, err)
	}
	if len(ds) == 0 {
		return nil, ErrNotFound
	}
	return ds[0], nil
}

func (s *sqlStore) PendingDecisions(ctx context.Context, limit int) ([]*Decision, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+decisionCols+` FROM quarantine_decisions
		WHERE state = 'pending' ORDER BY requested LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending decisions: %w", err)
	}
	ds, err := scanDecisions(rows)
	if err != nil {
		return nil, fmt.Errorf("store: pending decisions: %w", err)
	}
	return ds, nil
}

// Errors a decision is failed with when nobody finished it.
const (
	errTextLeaseEnded = "the node carrying it out stopped before finishing: whether the SMSC received the message is unknown (check before releasing again)"
	errTextNoNode     = "no node could carry it out in time (none had a session for the message's peer)"
)

func (s *sqlStore) ExpireDecisions(ctx context.Context, now, pendingBefore time.Time) ([]*Decision, error) {
	defer s.lockWrite()()
	var out []*Decision
	for _, q := range []struct {
		where string
		arg   int64
		text  string
	}{
		{`state = 'claimed' AND lease_until < ?`, now.UnixMicro(), errTextLeaseEnded},
		{`state = 'pending' AND requested < ?`, pendingBefore.UnixMicro(), errTextNoNode},
	} {
		rows, err := s.db.QueryContext(ctx, s.d.rebind(`UPDATE quarantine_decisions SET state = 'failed', error = ?, finished = ?
			WHERE `+q.where+` RETURNING `+decisionCols), q.text, now.UnixMicro(), q.arg)
		if err != nil {
			return out, fmt.Errorf("store: expire decisions: %w", err)
		}
		ds, err := scanDecisions(rows)
		if err != nil {
			return out, fmt.Errorf("store: expire decisions: %w", err)
		}
		out = append(out, ds...)
	}
	// Finished decisions are kept a while for GET .../decision and then
	// go: the table stays the size of the recent decisions.
	if _, err := s.db.ExecContext(ctx, s.d.rebind(`DELETE FROM quarantine_decisions WHERE state IN ('done', 'failed') AND finished < ?`),
		now.Add(-DecisionKeep).UnixMicro()); err != nil {
		return out, fmt.Errorf("store: expire decisions: %w", err)
	}
	return out, nil
}

// DecisionKeep is how long finished decisions are kept.
const DecisionKeep = 30 * 24 * time.Hour

func scanDecisions(rows *sql.Rows) ([]*Decision, error) {
	defer rows.Close()
	var out []*Decision
	for rows.Next() {
		var d Decision
		var requested, lease int64
		var finished sql.NullInt64
		if err := rows.Scan(&d.EventID, &d.Action, &d.State, &d.Actor, &d.Reason, &d.AskedOn, &d.Node, &requested, &lease,
			&finished, &d.Result, &d.Error); err != nil {
			return nil, err
		}
		d.Requested = time.UnixMicro(requested).UTC()
		if lease != 0 {
			d.LeaseUntil = time.UnixMicro(lease).UTC()
		}
		if finished.Valid {
			d.Finished = time.UnixMicro(finished.Int64).UTC()
		}
		out = append(out, &d)
	}
	return out, rows.Err()
}

func (s *sqlStore) PutBan(ctx context.Context, b StoredBan) error {
	var expires any
	if !b.Expires.IsZero() {
		expires = b.Expires.UnixMicro()
	}
	defer s.lockWrite()()
	_, err := s.db.ExecContext(ctx, s.d.rebind(`INSERT INTO bans (source, reason, origin, actor, created, expires) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET reason = excluded.reason, origin = excluded.origin, actor = excluded.actor,
			created = excluded.created, expires = excluded.expires`),
		clean(b.Source), clean(b.Reason), clean(b.Origin), clean(b.Actor), b.Created.UnixMicro(), expires)
	if err != nil {
		return fmt.Errorf("store: put ban %s: %w", b.Source, err)
	}
	return nil
}

func (s *sqlStore) DeleteBan(ctx context.Context, source string) (bool, error) {
	defer s.lockWrite()()
	res, err := s.db.ExecContext(ctx, s.d.rebind(`DELETE FROM bans WHERE source = ?`), source)
	if err != nil {
		return false, fmt.Errorf("store: delete ban %s: %w", source, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (s *sqlStore) Bans(ctx context.Context, now time.Time) ([]StoredBan, error) {
	unlock := s.lockWrite()
	_, err := s.db.ExecContext(ctx, s.d.rebind(`DELETE FROM bans WHERE expires IS NOT NULL AND expires <= ?`), now.UnixMicro())
	unlock()
	if err != nil {
		return nil, fmt.Errorf("store: bans: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT source, reason, origin, actor, created, expires FROM bans ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("store: bans: %w", err)
	}
	defer rows.Close()
	var out []StoredBan
	for rows.Next() {
		var b StoredBan
		var created int64
		var expires sql.NullInt64
		if err := rows.Scan(&b.Source, &b.Reason, &b.Origin, &b.Actor, &created, &expires); err != nil {
			return nil, fmt.Errorf("store: bans: %w", err)
		}
		b.Created = time.UnixMicro(created).UTC()
		if expires.Valid {
			b.Expires = time.UnixMicro(expires.Int64).UTC()
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// notifyChannel is the PostgreSQL channel of this store: per schema, so
// stores in two schemas of one database (tests) do not wake each other.
func (s *sqlStore) notifyChannel(ctx context.Context) (string, error) {
	var schema string
	if err := s.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", err
	}
	ch := "smsfw_cluster_" + schema
	if len(ch) > 63 { // PostgreSQL's identifier limit
		ch = ch[:63]
	}
	return ch, nil
}

func (s *sqlStore) Notify(ctx context.Context, payload string) error {
	if s.d.name != "postgres" {
		return nil
	}
	ch, err := s.notifyChannel(ctx)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ch, payload)
	}
	if err != nil {
		return fmt.Errorf("store: notify: %w", err)
	}
	return nil
}

func (s *sqlStore) Listen(ctx context.Context) (<-chan string, <-chan error, error) {
	if s.d.name != "postgres" {
		return nil, nil, ErrNotSupported
	}
	ch, err := s.notifyChannel(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("store: listen: %w", err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("store: listen: %w", err)
	}
	ready := make(chan error, 1)
	out, errc := make(chan string, 16), make(chan error, 1)
	go func() {
		defer close(out)
		defer conn.Close()
		// The connection is the listener's alone until ctx ends; it is then
		// discarded (ErrBadConn), not returned to the pool mid-wait.
		err := conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
				ready <- err
				return driver.ErrBadConn
			}
			ready <- nil
			for {
				n, err := pc.WaitForNotification(ctx)
				if err != nil {
					return errors.Join(err, driver.ErrBadConn)
				}
				select {
				case out <- n.Payload:
				default: // the reader is behind: it polls anyway
				}
			}
		})
		if ctx.Err() == nil {
			errc <- fmt.Errorf("store: listen: %w", err)
		}
	}()
	if err := <-ready; err != nil {
		return nil, nil, fmt.Errorf("store: listen: %w", err)
	}
	return out, errc, nil
}
