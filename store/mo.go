package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MO queue states.
const (
	MOQueued    = "queued"
	MODelivered = "delivered"
	MODead      = "dead"
	// MOSkipped: not delivered on purpose (an automatic reply stopped by
	// its limits); neither retried nor a dead letter.
	MOSkipped = "skipped"
)

// MOMessage is one MO message queued for one durable target (http, pull)
// of the route it matched (package mo).
type MOMessage struct {
	ID         int64 // the row: the message's id toward this target
	Route      string
	Target     string
	State      string
	Received   time.Time
	QueuedAt   time.Time
	NextAt     time.Time
	Attempts   int
	Lease      string
	LastError  string
	Peer       string
	Sender     string
	Dest       string
	DataCoding int
	Text       string
	// A part of a concatenated message (PartTotal > 1): reference, count
	// and number, from the UDH or the sar_* TLVs.
	PartRef, PartTotal, PartSeq int
	Action, RuleID              string
	Raw                         []byte // the deliver_sm/data_sm as the SMSC sent it
}

// MOQueue is the durable MO queue in the event store.
type MOQueue interface {
	// EnqueueMO stores msgs in one transaction (state queued, due now)
	// and sets their IDs.
	EnqueueMO(ctx context.Context, msgs []*MOMessage) error
	// ClaimMO leases at most limit queued messages of route and target due
	// at now, oldest first, until until: their attempts grow by one and
	// their lease becomes lease. Messages leased by someone else are not
	// due until their lease ends.
	ClaimMO(ctx context.Context, route, target, lease string, now, until time.Time, limit int) ([]*MOMessage, error)
	// SettleMO ends the lease of message id (ErrConflict when lease is no
	// longer its lease): state delivered or dead, or queued again, due at next.
	SettleMO(ctx context.Context, id int64, lease, state string, next time.Time, lastError string) error
	// AckMO marks the queued messages of route and target leased with
	// lease delivered and returns how many.
	AckMO(ctx context.Context, route, target, lease string, now time.Time) (int64, error)
	// DeadMO lists dead letters (route "" for every route), newest first.
	DeadMO(ctx context.Context, route string, limit int) ([]*MOMessage, error)
	// ReplayMO queues a dead letter again, due now, with its attempts and
	// age reset; ErrNotFound or ErrConflict (not dead).
	ReplayMO(ctx context.Context, id int64, now time.Time) (*MOMessage, error)
	// PurgeMO deletes delivered (and skipped) messages settled before
	// before.
	PurgeMO(ctx context.Context, before time.Time) (int64, error)
	// ListMO lists messages, newest first.
	ListMO(ctx context.Context, f MOFilter) ([]*MOMessage, error)
	// CountMO counts the messages per route, target and state.
	CountMO(ctx context.Context) ([]MOCount, error)
	// ClaimPartsMO leases to lease, as ClaimMO does but whether due or
	// not, the queued parts of route and target's long message p that no
	// one else holds (not leased, or their lease ended at now) and
	// returns every queued part of it leased with lease, oldest first.
	ClaimPartsMO(ctx context.Context, route, target string, p MOPartKey, lease string, now, until time.Time) ([]*MOMessage, error)
	// HoldMO gives back messages ids leased with lease without counting
	// the attempt: queued again, due at until (parts waiting for the
	// rest of their message).
	HoldMO(ctx context.Context, ids []int64, lease string, until time.Time) error
	// PartsMO lists the parts of route and target's long message p in
	// every state, oldest first.
	PartsMO(ctx context.Context, route, target string, p MOPartKey) ([]*MOMessage, error)
	// SentMO lists, for target, each route's and sender's last delivery
	// at or after since (automatic replies: their limits outlive a
	// restart), oldest first.
	SentMO(ctx context.Context, target string, since time.Time) ([]MOSent, error)
}

// MOSent is a route's last delivery to a sender (SentMO).
type MOSent struct {
	Route, Sender string
	At            time.Time
}

// MOPartKey names a long MO message: the parts of one message share the
// peer, the addresses, the reference and the count, and were received
// within [From, To] (a reference is a byte: a sender reuses it).
type MOPartKey struct {
	Peer, Sender, Dest string
	Ref, Total         int
	From, To           time.Time
}

// PartKey is m's long message's key with the window around its receipt.
func (m *MOMessage) PartKey(window time.Duration) MOPartKey {
	return MOPartKey{Peer: m.Peer, Sender: m.Sender, Dest: m.Dest, Ref: m.PartRef, Total: m.PartTotal,
		From: m.Received.Add(-window), To: m.Received.Add(window)}
}

// MOFilter selects messages for ListMO; empty fields select all.
type MOFilter struct {
	Route, Target, State string
	// BeforeID pages: only messages with a smaller id (0: from the newest).
	BeforeID int64
	Limit    int // default and at most MaxLimit
}

// MOCount is the number of messages of a route's target in a state.
type MOCount struct {
	Route  string `json:"route"`
	Target string `json:"target"`
	State  string `json:"state"`
	N      int    `json:"n"`
}

// MOQueueOf returns the MO queue of a store opened by Open.
func MOQueueOf(s Store) (MOQueue, bool) {
	q, ok := s.(*sqlStore)
	return q, ok
}

var _ MOQueue = (*sqlStore)(nil)

const moCols = "id, route, target, state, received, queued_at, next_at, attempts, lease, last_error, peer, sender, dest, " +
	"data_coding, text, part_ref, part_total, part_seq, action, rule_id, raw"

func (s *sqlStore) EnqueueMO(ctx context.Context, msgs []*MOMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	defer s.lockWrite()()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: enqueue mo: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	q := s.d.rebind(`INSERT INTO mo_queue (route, target, state, received, queued_at, next_at, peer, sender, dest, data_coding, text,
		part_ref, part_total, part_seq, action, rule_id, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	now := time.Now()
	for _, m := range msgs {
		if m.QueuedAt.IsZero() {
			m.QueuedAt = now
		}
		m.State, m.NextAt = MOQueued, m.QueuedAt
		err := tx.QueryRowContext(ctx, q, clean(m.Route), clean(m.Target), MOQueued, m.Received.UnixMicro(), m.QueuedAt.UnixMicro(),
			m.NextAt.UnixMicro(), clean(m.Peer), clean(m.Sender), clean(m.Dest), int64(m.DataCoding), clean(m.Text),
			int64(m.PartRef), int64(m.PartTotal), int64(m.PartSeq), clean(m.Action), clean(m.RuleID), m.Raw).Scan(&m.ID)
		if err != nil {
			return fmt.Errorf("store: enqueue mo: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: enqueue mo: commit: %w", err)
	}
	return nil
}

func (s *sqlStore) ClaimMO(ctx context.Context, route, target, lease string, now, until time.Time, limit int) ([]*MOMessage, error) {
	defer s.lockWrite()()
	// The outer conditions repeat the inner ones: on PostgreSQL a claim
	// racing another re-checks the row it waited for, and skips it.
	q := s.d.rebind(`UPDATE mo_queue SET lease = ?, next_at = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM mo_queue WHERE route = ? AND target = ? AND state = 'queued' AND next_at <= ? ORDER BY id LIMIT ?)
		AND state = 'queued' AND next_at <= ? RETURNING ` + moCols)
	rows, err := s.db.QueryContext(ctx, q, lease, until.UnixMicro(), route, target, now.UnixMicro(), limit, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("store: claim mo: %w", err)
	}
	msgs, err := scanMOs(rows)
	if err != nil {
		return nil, fmt.Errorf("store: claim mo: %w", err)
	}
	sortMOs(msgs)
	return msgs, nil
}

func (s *sqlStore) SettleMO(ctx context.Context, id int64, lease, state string, next time.Time, lastError string) error {
	defer s.lockWrite()()
	var done any
	if state != MOQueued {
		done = time.Now().UnixMicro()
	}
	res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE mo_queue SET state = ?, next_at = ?, last_error = ?, done_at = ?, lease = ''
		WHERE id = ? AND lease = ? AND state = 'queued'`), state, next.UnixMicro(), clean(lastError), done, id, lease)
	if err != nil {
		return fmt.Errorf("store: settle mo %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("mo %d is no longer leased by this worker: %w", id, ErrConflict)
	}
	return nil
}

func (s *sqlStore) AckMO(ctx context.Context, route, target, lease string, now time.Time) (int64, error) {
	if lease == "" {
		return 0, nil
	}
	defer s.lockWrite()()
	res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE mo_queue SET state = 'delivered', done_at = ?, lease = ''
		WHERE lease = ? AND route = ? AND target = ? AND state = 'queued'`), now.UnixMicro(), lease, route, target)
	if err != nil {
		return 0, fmt.Errorf("store: ack mo: %w", err)
	}
	return res.RowsAffected()
}

func (s *sqlStore) DeadMO(ctx context.Context, route string, limit int) ([]*MOMessage, error) {
	return s.ListMO(ctx, MOFilter{Route: route, State: MODead, Limit: limit})
}

func (s *sqlStore) ListMO(ctx context.Context, f MOFilter) ([]*MOMessage, error) {
	if f.Limit <= 0 || f.Limit > MaxLimit {
		f.Limit = MaxLimit
	}
	q := `SELECT ` + moCols + ` FROM mo_queue WHERE 1 = 1`
	args := []any{}
	for _, c := range []struct{ col, v string }{{"route", f.Route}, {"target", f.Target}, {"state", f.State}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if f.BeforeID > 0 {
		q += ` AND id < ?`
		args = append(args, f.BeforeID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: list mo: %w", err)
	}
	msgs, err := scanMOs(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list mo: %w", err)
	}
	return msgs, nil
}

func (s *sqlStore) CountMO(ctx context.Context) ([]MOCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT route, target, state, COUNT(*) FROM mo_queue GROUP BY route, target, state ORDER BY route, target, state`)
	if err != nil {
		return nil, fmt.Errorf("store: count mo: %w", err)
	}
	defer rows.Close()
	var out []MOCount
	for rows.Next() {
		var c MOCount
		var n int64
		if err := rows.Scan(&c.Route, &c.Target, &c.State, &n); err != nil {
			return nil, fmt.Errorf("store: count mo: %w", err)
		}
		c.N = int(n)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *sqlStore) ReplayMO(ctx context.Context, id int64, now time.Time) (*MOMessage, error) {
	defer s.lockWrite()()
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`UPDATE mo_queue SET state = 'queued', attempts = 0, queued_at = ?, next_at = ?,
		lease = '', done_at = NULL WHERE id = ? AND state = 'dead' RETURNING `+moCols), now.UnixMicro(), now.UnixMicro(), id)
	if err != nil {
		return nil, fmt.Errorf("store: replay mo %d: %w", id, err)
	}
	msgs, err := scanMOs(rows)
	if err != nil {
		return nil, fmt.Errorf("store: replay mo %d: %w", id, err)
	}
	if len(msgs) == 1 {
		return msgs[0], nil
	}
	var state string
	err = s.db.QueryRowContext(ctx, s.d.rebind(`SELECT state FROM mo_queue WHERE id = ?`), id).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("store: replay mo %d: %w", id, err)
	}
	return nil, fmt.Errorf("mo %d is %s, not dead: %w", id, state, ErrConflict)
}

func (s *sqlStore) PurgeMO(ctx context.Context, before time.Time) (int64, error) {
	defer s.lockWrite()()
	res, err := s.db.ExecContext(ctx, s.d.rebind(`DELETE FROM mo_queue WHERE state IN ('delivered', 'skipped') AND done_at < ?`), before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: purge mo: %w", err)
	}
	return res.RowsAffected()
}

const moPartWhere = `route = ? AND target = ? AND peer = ? AND sender = ? AND dest = ? AND part_ref = ? AND part_total = ?
	AND received >= ? AND received <= ?`

func moPartArgs(route, target string, p MOPartKey) []any {
	return []any{clean(route), clean(target), clean(p.Peer), clean(p.Sender), clean(p.Dest), int64(p.Ref), int64(p.Total),
		p.From.UnixMicro(), p.To.UnixMicro()}
}

func (s *sqlStore) ClaimPartsMO(ctx context.Context, route, target string, p MOPartKey, lease string, now, until time.Time) ([]*MOMessage, error) {
	defer s.lockWrite()()
	_, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE mo_queue SET lease = ?, next_at = ?, attempts = attempts + 1
		WHERE `+moPartWhere+` AND state = 'queued' AND (lease = '' OR next_at <= ?)`),
		append(append([]any{lease, until.UnixMicro()}, moPartArgs(route, target, p)...), now.UnixMicro())...)
	if err != nil {
		return nil, fmt.Errorf("store: claim mo parts: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+moCols+` FROM mo_queue WHERE `+moPartWhere+
		` AND state = 'queued' AND lease = ? ORDER BY id`), append(moPartArgs(route, target, p), lease)...)
	if err != nil {
		return nil, fmt.Errorf("store: claim mo parts: %w", err)
	}
	msgs, err := scanMOs(rows)
	if err != nil {
		return nil, fmt.Errorf("store: claim mo parts: %w", err)
	}
	return msgs, nil
}

func (s *sqlStore) HoldMO(ctx context.Context, ids []int64, lease string, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	defer s.lockWrite()()
	args := []any{until.UnixMicro(), lease}
	marks := make([]string, len(ids))
	for i, id := range ids {
		marks[i] = "?"
		args = append(args, id)
	}
	_, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE mo_queue SET lease = '', next_at = ?, attempts = attempts - 1
		WHERE lease = ? AND state = 'queued' AND id IN (`+strings.Join(marks, ", ")+`)`), args...)
	if err != nil {
		return fmt.Errorf("store: hold mo: %w", err)
	}
	return nil
}

func (s *sqlStore) PartsMO(ctx context.Context, route, target string, p MOPartKey) ([]*MOMessage, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+moCols+` FROM mo_queue WHERE `+moPartWhere+` ORDER BY id`),
		moPartArgs(route, target, p)...)
	if err != nil {
		return nil, fmt.Errorf("store: mo parts: %w", err)
	}
	msgs, err := scanMOs(rows)
	if err != nil {
		return nil, fmt.Errorf("store: mo parts: %w", err)
	}
	return msgs, nil
}

func (s *sqlStore) SentMO(ctx context.Context, target string, since time.Time) ([]MOSent, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT route, sender, MAX(done_at) AS at FROM mo_queue
		WHERE target = ? AND state = 'delivered' AND done_at >= ? GROUP BY route, sender ORDER BY at`), clean(target), since.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("store: sent mo: %w", err)
	}
	defer rows.Close()
	var out []MOSent
	for rows.Next() {
		var m MOSent
		var at int64
		if err := rows.Scan(&m.Route, &m.Sender, &at); err != nil {
			return nil, fmt.Errorf("store: sent mo: %w", err)
		}
		m.At = time.UnixMicro(at).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

func scanMOs(rows *sql.Rows) ([]*MOMessage, error) {
	defer rows.Close()
	var out []*MOMessage
	for rows.Next() {
		var m MOMessage
		var received, queued, next, dc, ref, total, seq int64
		if err := rows.Scan(&m.ID, &m.Route, &m.Target, &m.State, &received, &queued, &next, &m.Attempts, &m.Lease, &m.LastError,
			&m.Peer, &m.Sender, &m.Dest, &dc, &m.Text, &ref, &total, &seq, &m.Action, &m.RuleID, &m.Raw); err != nil {
			return nil, err
		}
		m.Received, m.QueuedAt, m.NextAt = time.UnixMicro(received).UTC(), time.UnixMicro(queued).UTC(), time.UnixMicro(next).UTC()
		m.DataCoding, m.PartRef, m.PartTotal, m.PartSeq = int(dc), int(ref), int(total), int(seq)
		out = append(out, &m)
	}
	return out, rows.Err()
}

func sortMOs(msgs []*MOMessage) { // RETURNING gives no order
	slices.SortFunc(msgs, func(a, b *MOMessage) int { return cmp.Compare(a.ID, b.ID) })
}
