package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

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

// copyParts is how many COPY transactions, each on its own connection, a
// batch is split across: the server's work per row (the heap, seven
// b-trees, the trigram index's pending list) then runs on several backends
// at once instead of one. copyMinPart is the smallest part worth a
// connection of its own: each part also writes a text index row per
// distinct trigram of its texts (pgtrgm.go), ~4.6 rows per event in a part
// of 500, ~1 in a part of 2500, so a batch of 1000 (the default) is one
// part. Variables for the benchmarks and tests.
var (
	copyParts   = 2
	copyMinPart = 1000
)

// copyEvents is PostgreSQL's fast path: the batch goes in with COPY (pgx's
// CopyFrom, binary format: one round trip and no statement to parse or
// plan for thousands of parameters), split in up to copyParts consecutive
// parts copied in parallel, each in its own transaction that also adds its
// events to the leakage ledger. COPY cannot skip stored ids: a unique
// violation fails its part, which rolls back, and Insert's careful path
// (INSERT ... ON CONFLICT DO NOTHING) redoes the whole batch, skipping the
// parts that did commit; the ledger counts each event once either way, in
// the transaction that stores it.
func (s *sqlStore) copyEvents(ctx context.Context, evs []*filter.Event) error {
	err := s.copySplit(ctx, evs)
	if err != nil {
		// Insert's careful path stores the batch instead: its rows go to
		// the text index's pending list all the same.
		s.pg.written.Add(int64(len(evs)))
	}
	return err
}

// copySplit copies evs in up to copyParts parts at once.
func (s *sqlStore) copySplit(ctx context.Context, evs []*filter.Event) error {
	n := min(copyParts, len(evs)/copyMinPart)
	if n <= 1 {
		return s.copyPart(ctx, evs)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		part := evs[i*len(evs)/n : (i+1)*len(evs)/n]
		wg.Go(func() { errs[i] = s.copyPart(ctx, part) })
	}
	wg.Wait()
	for _, err := range errs {
		if errors.Is(err, errStoredIDs) {
			return err
		}
	}
	return errors.Join(errs...)
}

// copyPart copies evs in one transaction with their ledger rows.
func (s *sqlStore) copyPart(ctx context.Context, evs []*filter.Event) error {
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
		if !s.pg.noPostings {
			ex := func(ctx context.Context, q string, args ...any) error {
				_, err := tx.Exec(ctx, q, args...)
				return err
			}
			if err := storePostings(ctx, ex, evs); err != nil {
				return err
			}
		}
		// In (day, peer) order: parallel parts (and other nodes) lock the
		// ledger rows they share in the same order, so they wait for each
		// other's commit instead of deadlocking.
		ledger := LedgerRows(evs)
		slices.SortFunc(ledger, func(a, b LeakageDay) int {
			return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.Peer, b.Peer))
		})
		for _, r := range ledger {
			if _, err := tx.Exec(ctx, s.d.rebind(ledgerUpsert), r.Day, r.Peer, r.Messages, r.Segments, r.Amount); err != nil {
				return fmt.Errorf("store: insert: leakage ledger: %w", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("store: insert: commit: %w", err)
		}
		s.pg.written.Add(int64(len(evs)))
		return nil
	})
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
