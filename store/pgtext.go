package store

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
)

// pgState is PostgreSQL's writer-side state (pgcopy.go, pgtext.go).
type pgState struct {
	// written counts the events the COPY path stored since the text
	// index's pending list was last merged (startTextMerger).
	written atomic.Int64
	// merges counts the merges that succeeded (tests).
	merges atomic.Int64
	// stop stops the merger, which then closes done; both nil without one.
	stop context.CancelFunc
	done chan struct{}
	// noPostings: the COPY path writes no postings (benchmarks of the
	// previous path, pg_trgm only).
	noPostings bool
	// trgmReady: the text index (pgtrgm.go) holds every stored event.
	trgmReady atomic.Bool
	// stopBackfill stops the backfill (pgtrgm.go), which then closes
	// backfillDone; both nil without one.
	stopBackfill context.CancelFunc
	backfillDone chan struct{}
}

// The pg_trgm GIN index takes new rows in its pending list (fastupdate,
// migration 0008 sets a 64 MiB gin_pending_list_limit on it): appending a
// row's ~60 trigrams there costs a fraction of inserting each into the
// index's trees, and merging many rows at once (gin_clean_pending_list)
// costs a fraction of merging them a few MiB at a time, which the inserting
// backend did itself each time the list passed the default 4 MiB. A search
// reads the whole pending list, so it is merged often: textMergeEvents
// events after the last merge (looked at every textMergeTick), or
// textMergeIdle after it if anything was written at all.
var (
	textMergeTick         = 100 * time.Millisecond
	textMergeEvents int64 = 10_000
	textMergeIdle         = time.Second
)

// textMergeWorkMem is the merging session's work_mem: the merge
// accumulates the pending rows' keys in memory up to it, then writes them
// into the index's trees; a larger one writes each key's tree once per
// merge instead of once per 4 MiB.
const textMergeWorkMem = "64MB"

// startTextMerger merges the trigram index's pending list on a connection
// of its own until Close, off the writer's transactions: the COPY
// backends only append to the list. Should it fall behind (or fail), the
// list reaching gin_pending_list_limit makes an inserting backend merge it
// as before, and autovacuum merges it too: it never grows without bound.
func (s *sqlStore) startTextMerger(index string) {
	ctx, cancel := context.WithCancel(context.Background())
	s.pg.stop, s.pg.done = cancel, make(chan struct{})
	log := s.log.Named("text_merge")
	go func() {
		defer close(s.pg.done)
		t := time.NewTicker(textMergeTick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n := s.pg.written.Load()
			if n < textMergeEvents && (n == 0 || time.Since(last) < textMergeIdle) {
				continue
			}
			s.pg.written.Add(-n)
			last = time.Now()
			if err := s.mergeText(ctx, index); err != nil && ctx.Err() == nil {
				// The backends and autovacuum merge as before.
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "42501" {
					// Only the index's owner may merge (the role that ran
					// the migrations): no use trying again.
					log.Warn("text index pending list: not its owner, merging left to PostgreSQL", zap.String("index", index), zap.Error(err))
					return
				}
				log.Warn("text index pending list merge failed", zap.String("index", index), zap.Error(err))
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Minute):
				}
			}
		}
	}()
}

// mergeText runs one merge of index's pending list.
func (s *sqlStore) mergeText(ctx context.Context, index string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SET LOCAL work_mem = '`+textMergeWorkMem+`'`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `SELECT gin_clean_pending_list($1::regclass)`, index); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.pg.merges.Add(1)
	return nil
}

func (s *sqlStore) stopTextMerger() {
	if s.pg.stop != nil {
		s.pg.stop()
		<-s.pg.done
	}
}
