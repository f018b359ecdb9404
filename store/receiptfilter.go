package store

import (
	"context"
	"fmt"
	"time"

	"github.com/smsfw/smsfw/filter/receipts"
)

// ReceiptJournalOf returns the journal of the fake-receipt check's
// accepted ids in a store opened by Open.
func ReceiptJournalOf(s Store) (receipts.Journal, bool) {
	j, ok := s.(*sqlStore)
	return j, ok
}

var _ receipts.Journal = (*sqlStore)(nil)

func (s *sqlStore) AppendChunks(ctx context.Context, chunks []receipts.Chunk) error {
	if len(chunks) == 0 {
		return nil
	}
	defer s.lockWrite()()
	tx, err := s.beginAppend(ctx, "receipt_filter")
	if err != nil {
		return fmt.Errorf("store: append receipt id chunks: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	q := s.d.rebind(`INSERT INTO receipt_filter (node, kind, span, bits, epoch, at, words, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	for i := range chunks {
		c := &chunks[i]
		var seq int64
		if err := tx.QueryRowContext(ctx, q+" RETURNING seq", clean(c.Node), int64(c.Kind), c.Span, c.Bits, c.Epoch, c.At,
			nonNil(c.Words), c.Expires().UnixMicro()).Scan(&seq); err != nil {
			return fmt.Errorf("store: append receipt id chunks: %w", err)
		}
		c.Seq = seq
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: append receipt id chunks: commit: %w", err)
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (s *sqlStore) ChunksAfter(ctx context.Context, after int64, limit int) ([]receipts.Chunk, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT seq, node, kind, span, bits, epoch, at, words FROM receipt_filter
		WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: receipt id chunks: %w", err)
	}
	defer rows.Close()
	var out []receipts.Chunk
	for rows.Next() {
		var c receipts.Chunk
		var kind int64
		if err := rows.Scan(&c.Seq, &c.Node, &kind, &c.Span, &c.Bits, &c.Epoch, &c.At, &c.Words); err != nil {
			return nil, fmt.Errorf("store: receipt id chunks: %w", err)
		}
		c.Kind = receipts.ChunkKind(kind)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: receipt id chunks: %w", err)
	}
	return out, nil
}

func (s *sqlStore) DropChunks(ctx context.Context, node string, before int64, now time.Time) (int64, error) {
	defer s.lockWrite()()
	res, err := s.db.ExecContext(ctx, s.d.rebind(`DELETE FROM receipt_filter WHERE (node = ? AND seq < ?) OR expires <= ?`),
		clean(node), before, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: drop receipt id chunks: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
