package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/smsfw/smsfw/filter"
)

// copyColumns are the events columns in eventArgs' order (eventCols, raw).
var copyColumns = func() []string {
	cols := strings.Split(eventCols+", raw", ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	return cols
}()

// copyEvents is PostgreSQL's fast path: the batch goes in with COPY (pgx's
// CopyFrom, binary format: one round trip and no statement to parse or
// plan for thousands of parameters) in a transaction that also adds the
// batch to the leakage ledger. COPY cannot skip stored ids: a unique
// violation fails the transaction, which rolls back, and Insert's careful
// path (INSERT ... ON CONFLICT DO NOTHING) takes over.
func (s *sqlStore) copyEvents(ctx context.Context, evs []*filter.Event) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: insert: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("store: insert: %w", err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		rows := make([][]any, len(evs))
		vals := make([]any, 0, len(evs)*nEventCols)
		for i, ev := range evs {
			n := len(vals)
			vals = eventArgs(ev, vals)
			rows[i] = vals[n:len(vals):len(vals)]
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, copyColumns, pgx.CopyFromRows(rows)); err != nil {
			if isUniqueViolation(err) {
				return errStoredIDs
			}
			return fmt.Errorf("store: insert: copy: %w", err)
		}
		for _, r := range LedgerRows(evs) {
			if _, err := tx.Exec(ctx, s.d.rebind(ledgerUpsert), r.Day, r.Peer, r.Messages, r.Segments, r.Amount); err != nil {
				return fmt.Errorf("store: insert: leakage ledger: %w", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("store: insert: commit: %w", err)
		}
		return nil
	})
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
