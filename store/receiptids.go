package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// ReceiptID maps the SMSC's message id of a message smsfw answered itself
// (a released quarantined message, a long-message part accepted while
// held) to the id its peer was given, so that a receipt arriving on any
// node of a cluster reaches the peer under the id it knows.
type ReceiptID struct {
	Seq      int64 // assigned by PutReceiptIDs: the tail's cursor
	Upstream string
	Ours     string
	Peer     string
	Node     string // the node that learnt it
	Expires  time.Time
}

// ReceiptIDs is the part of Cluster that shares receipt ids.
type ReceiptIDs interface {
	// PutReceiptIDs appends ids in one transaction. Appends are serialised
	// so that a reader never sees a row whose seq is above one committed
	// later (ReceiptIDsAfter's cursor skips nothing).
	PutReceiptIDs(ctx context.Context, ids []ReceiptID) error
	// ReceiptIDsAfter reads up to limit rows with seq > after and returns
	// the unexpired ids among them other than node's own, by seq, the
	// highest seq read (after when none: the next call's cursor), and
	// whether limit rows were read (more may follow).
	ReceiptIDsAfter(ctx context.Context, after int64, node string, now time.Time, limit int) (ids []ReceiptID, last int64, more bool, err error)
	// ReceiptIDsStart is the cursor to start tailing from: keep ids at
	// most are read (the newest).
	ReceiptIDsStart(ctx context.Context, keep int) (int64, error)
	// ExpireReceiptIDs deletes the ids expired at now and those older
	// than the newest keep; it returns how many went.
	ExpireReceiptIDs(ctx context.Context, now time.Time, keep int) (int64, error)
}

var _ ReceiptIDs = (*sqlStore)(nil)

// beginAppend begins a transaction appending to a table whose seq is the
// cursor of readers on other nodes: on PostgreSQL it locks the table, so
// seq is taken inside the lock and the lock held to the commit: seq order
// is commit order and a reader's cursor skips nothing. Readers (SELECT)
// are not blocked. (The caller holds lockWrite.)
func (s *sqlStore) beginAppend(ctx context.Context, table string) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if s.d.name == "postgres" {
		if _, err := tx.ExecContext(ctx, `LOCK TABLE `+table+` IN EXCLUSIVE MODE`); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// receiptIDRows is the rows of one INSERT (5 parameters each).
const receiptIDRows = 200

func (s *sqlStore) PutReceiptIDs(ctx context.Context, ids []ReceiptID) error {
	if len(ids) == 0 {
		return nil
	}
	defer s.lockWrite()()
	tx, err := s.beginAppend(ctx, "receipt_ids")
	if err != nil {
		return fmt.Errorf("store: put receipt ids: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for len(ids) > 0 {
		n := min(len(ids), receiptIDRows)
		var q strings.Builder
		q.WriteString(`INSERT INTO receipt_ids (upstream, ours, peer, node, expires) VALUES `)
		args := make([]any, 0, 5*n)
		for i, r := range ids[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, clean(r.Upstream), clean(r.Ours), clean(r.Peer), clean(r.Node), r.Expires.UnixMicro())
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(q.String()), args...); err != nil {
			return fmt.Errorf("store: put receipt ids: %w", err)
		}
		ids = ids[n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: put receipt ids: commit: %w", err)
	}
	return nil
}

func (s *sqlStore) ReceiptIDsAfter(ctx context.Context, after int64, node string, now time.Time, limit int) ([]ReceiptID, int64, bool, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT seq, upstream, ours, peer, node, expires FROM receipt_ids
		WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
	if err != nil {
		return nil, after, false, fmt.Errorf("store: receipt ids: %w", err)
	}
	defer rows.Close()
	var out []ReceiptID
	last, read := after, 0
	nowUS := now.UnixMicro()
	for rows.Next() {
		read++
		var r ReceiptID
		var exp int64
		if err := rows.Scan(&r.Seq, &r.Upstream, &r.Ours, &r.Peer, &r.Node, &exp); err != nil {
			return nil, after, false, fmt.Errorf("store: receipt ids: %w", err)
		}
		last = r.Seq
		if r.Node == node || exp <= nowUS {
			continue
		}
		r.Expires = time.UnixMicro(exp).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, after, false, fmt.Errorf("store: receipt ids: %w", err)
	}
	return out, last, read == limit, nil
}

func (s *sqlStore) ReceiptIDsStart(ctx context.Context, keep int) (int64, error) {
	var top int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM receipt_ids`).Scan(&top); err != nil {
		return 0, fmt.Errorf("store: receipt ids: %w", err)
	}
	return max(top-int64(keep), 0), nil
}

func (s *sqlStore) ExpireReceiptIDs(ctx context.Context, now time.Time, keep int) (int64, error) {
	defer s.lockWrite()()
	res, err := s.db.ExecContext(ctx, s.d.rebind(`DELETE FROM receipt_ids
		WHERE expires <= ? OR seq <= (SELECT COALESCE(MAX(seq), 0) FROM receipt_ids) - ?`), now.UnixMicro(), int64(keep))
	if err != nil {
		return 0, fmt.Errorf("store: expire receipt ids: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
