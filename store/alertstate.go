package store

import (
	"context"
	"fmt"
	"time"
)

// AlertState keeps what package alerts has alerted (condition key -> the
// last time the condition held) in the event store, so that it outlives
// a restart.
type AlertState interface {
	// LoadAlertState returns the saved state.
	LoadAlertState(ctx context.Context) (map[string]time.Time, error)
	// SaveAlertState replaces the saved state with state.
	SaveAlertState(ctx context.Context, state map[string]time.Time) error
}

// AlertStateOf returns the alert state of a store opened by Open.
func AlertStateOf(s Store) (AlertState, bool) {
	q, ok := s.(*sqlStore)
	return q, ok
}

var _ AlertState = (*sqlStore)(nil)

func (s *sqlStore) LoadAlertState(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, last_held FROM alert_state`)
	if err != nil {
		return nil, fmt.Errorf("store: load alert state: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var k string
		var at int64
		if err := rows.Scan(&k, &at); err != nil {
			return nil, fmt.Errorf("store: load alert state: %w", err)
		}
		out[k] = time.UnixMicro(at).UTC()
	}
	return out, rows.Err()
}

func (s *sqlStore) SaveAlertState(ctx context.Context, state map[string]time.Time) error {
	defer s.lockWrite()()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save alert state: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM alert_state`); err != nil {
		return fmt.Errorf("store: save alert state: %w", err)
	}
	q := s.d.rebind(`INSERT INTO alert_state (key, last_held) VALUES (?, ?)`)
	for k, at := range state {
		if _, err := tx.ExecContext(ctx, q, clean(k), at.UnixMicro()); err != nil {
			return fmt.Errorf("store: save alert state: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save alert state: commit: %w", err)
	}
	return nil
}
