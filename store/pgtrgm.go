package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
)

// PostgreSQL's text index is smsfw's own (migration 0009): pg_trgm's GIN
// index cost the server more CPU per stored event than the row and its
// seven b-trees together. The store computes the trigrams of each event's
// text folded as SQLite's index folds it (foldText: strings.ToLower) and
// writes, in the transaction that stores a part of a batch, one event_trgm
// row per distinct trigram of the part listing the ids of its events that
// have it (delta varints): a part of 500 events is a few thousand small
// rows instead of ~60 index entries per event.
//
// A text search of 3+ characters reads the postings of its trigrams (at
// most maxTrigrams, spread over it, rarest first), intersects them, and
// adds "id = ANY(candidates)" to the ILIKE predicate, which checks each
// candidate exactly: the candidates are a superset of the matches (an
// event whose text contains the substring has all its trigrams), so
// nothing stored is missed, and the postings commit with their events, so
// an event is found as soon as Insert returns. Many candidates
// (denseMatches or more) are instead found by walking the time index with
// ILIKE alone, as SQLite does.

// trgmKey packs three runes (21 bits each) into a key.
func trgmKey(a, b, c rune) int64 { return int64(a)<<42 | int64(b)<<21 | int64(c) }

// eachTrigram calls f with the key of each trigram of text as stored
// (clean) and folded (foldText: strings.ToLower, rune by rune), repeats
// included, without copying the text.
func eachTrigram(text string, f func(int64)) {
	var rs [3]rune
	n := 0
	for _, r := range clean(text) {
		rs[0], rs[1], rs[2] = rs[1], rs[2], unicode.ToLower(r)
		if n++; n >= 3 {
			f(trgmKey(rs[0], rs[1], rs[2]))
		}
	}
}

// trgmPostings are one part's event_trgm rows.
type trgmPostings struct {
	lo, hi int64
	tris   []int64
	ns     []int32
	ids    [][]byte
}

// makePostings builds the postings of evs (any order).
func makePostings(evs []*filter.Event) *trgmPostings {
	type idText struct {
		id   int64
		text string
	}
	sorted := make([]idText, 0, len(evs))
	for _, ev := range evs {
		sorted = append(sorted, idText{ev.ID, ev.Text})
	}
	slices.SortFunc(sorted, func(a, b idText) int { return cmp.Compare(a.id, b.id) })
	p := &trgmPostings{}
	if len(sorted) == 0 {
		return p
	}
	p.lo, p.hi = sorted[0].id, sorted[len(sorted)-1].id
	// Lists by value in one slice, found by index: no allocation per
	// trigram, nothing for the collector to chase.
	type list struct {
		last int64
		n    int32
		buf  []byte
	}
	lists := make([]list, 0, 1024)
	index := make(map[int64]int32, 1024)
	for i, e := range sorted {
		if i > 0 && e.id == sorted[i-1].id {
			continue
		}
		eachTrigram(e.text, func(k int64) {
			j, ok := index[k]
			if !ok {
				j = int32(len(lists))
				index[k] = j
				lists = append(lists, list{last: p.lo})
			}
			l := &lists[j]
			if ok && l.last == e.id {
				return // once per event (ids ascend)
			}
			l.buf = binary.AppendUvarint(l.buf, uint64(e.id-l.last))
			l.last, l.n = e.id, l.n+1
		})
	}
	order := make([]int64, 0, len(lists))
	for k := range index {
		order = append(order, k)
	}
	slices.Sort(order) // rows in key order: the index is written in order
	p.tris = order
	p.ns = make([]int32, len(order))
	p.ids = make([][]byte, len(order))
	for i, k := range order {
		l := &lists[index[k]]
		p.ns[i], p.ids[i] = l.n, l.buf
	}
	return p
}

// decodePosting decodes a posting's ids (lo is the part's smallest id).
func decodePosting(lo int64, b []byte, out []int64) ([]int64, error) {
	last := lo
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return out, errors.New("store: text index: bad posting")
		}
		last += int64(d)
		out = append(out, last)
		b = b[n:]
	}
	return out, nil
}

// insertPostings is the statement that stores a part's postings: one
// statement, whatever their number.
const insertPostings = `INSERT INTO event_trgm (tri, lo, hi, n, ids)
SELECT t, $1, $2, n, i FROM unnest($3::bigint[], $4::int[], $5::bytea[]) AS u(t, n, i)`

// execer is a transaction of either kind (pgx's for COPY, database/sql's
// for the careful path and the backfill).
type execer func(ctx context.Context, q string, args ...any) error

// storePostings writes evs' postings in the transaction ex runs in.
func storePostings(ctx context.Context, ex execer, evs []*filter.Event) error {
	p := makePostings(evs)
	if len(p.tris) == 0 {
		return nil
	}
	if err := ex(ctx, insertPostings, p.lo, p.hi, p.tris, p.ns, p.ids); err != nil {
		return fmt.Errorf("store: insert: text index: %w", err)
	}
	return nil
}

func sqlExecer(tx *sql.Tx) execer {
	return func(ctx context.Context, q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
}

// queryTrigrams are the distinct trigram keys of sub folded, at most
// maxTrigrams spread over it (first and last included), or none under
// three characters.
func queryTrigrams(sub string) []int64 { return queryGrams(sub, trgmKey) }

// trgmFetchMax: a trigram in more events than this is not fetched (the
// search walks the time index instead when no rarer trigram narrows it).
const trgmFetchMax = 400_000

// textCandidates returns the ids of the events whose folded text has every
// trigram of sub (a superset of the matches), or ok false when the search
// should not use them: fewer than three characters, the index not built
// yet, or denseMatches candidates or more.
func (s *sqlStore) textCandidates(ctx context.Context, sub string) (ids []int64, ok bool, err error) {
	if !s.pg.trgmReady.Load() {
		return nil, false, nil
	}
	keys := queryTrigrams(sub)
	if len(keys) == 0 {
		return nil, false, nil
	}
	counts := map[int64]int64{}
	rows, err := s.db.QueryContext(ctx, `SELECT tri, sum(n) FROM event_trgm WHERE tri = ANY($1) GROUP BY tri`, keys)
	if err != nil {
		return nil, false, fmt.Errorf("store: text search: %w", err)
	}
	for rows.Next() {
		var k, n int64
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("store: text search: %w", err)
		}
		counts[k] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: text search: %w", err)
	}
	// Rarest first: the first posting bounds the candidates, the next ones
	// only narrow them.
	slices.SortFunc(keys, func(a, b int64) int { return cmp.Compare(counts[a], counts[b]) })
	if counts[keys[0]] == 0 {
		return []int64{}, true, nil
	}
	if counts[keys[0]] > trgmFetchMax {
		return nil, false, nil
	}
	var cand []int64
	for i, k := range keys {
		if i > 0 && (counts[k] > trgmFetchMax || counts[k] > 50*int64(len(cand))) {
			// Fetching it would cost more than checking the candidates.
			break
		}
		got, err := s.posting(ctx, k)
		if err != nil {
			return nil, false, err
		}
		if i == 0 {
			cand = got
		} else {
			cand = intersectSorted(cand, got)
		}
		if len(cand) == 0 {
			break
		}
	}
	if len(cand) >= denseMatches {
		return nil, false, nil
	}
	return cand, true, nil
}

// posting reads the ids of trigram k, sorted and distinct.
func (s *sqlStore) posting(ctx context.Context, k int64) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT lo, ids FROM event_trgm WHERE tri = $1`, k)
	if err != nil {
		return nil, fmt.Errorf("store: text search: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var lo int64
		var b []byte
		if err := rows.Scan(&lo, &b); err != nil {
			return nil, fmt.Errorf("store: text search: %w", err)
		}
		if ids, err = decodePosting(lo, b, ids); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: text search: %w", err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// intersectSorted returns the ids in both a and b (sorted, distinct),
// reusing a.
func intersectSorted(a, b []int64) []int64 {
	out := a[:0]
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// pgTextFilter narrows a PostgreSQL text search to its candidates.
func (s *sqlStore) pgTextFilter(ctx context.Context, sub string, w *where) error {
	ids, ok, err := s.textCandidates(ctx, sub)
	if err != nil || !ok {
		return err
	}
	w.add("id = ANY(?::bigint[])", ids)
	return nil
}

// retainPG deletes the events sel selects (Retain) and keeps the postings
// right, in one transaction: each part whose rows list a deleted event
// (found by the deleted texts' trigrams and the part's id range) has its
// rows replaced by the postings of the events left in its id range (none:
// no rows; a held event: its own). Retention deletes oldest first, so the
// next deletion finds few of the parts rewritten again.
func (s *sqlStore) retainPG(ctx context.Context, sel string, args []any) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// Wait for a backfill chunk under way (it would index events deleted
	// here); none is after the upgrade.
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM event_trgm_backfill FOR UPDATE`); err != nil {
		return 0, err
	}
	deleted, err := readTexts(ctx, tx, s.d.rebind("DELETE FROM events WHERE id IN ("+sel+") RETURNING id, text"), args...)
	if err != nil || len(deleted) == 0 {
		return 0, err
	}
	keys := map[int64]bool{}
	lo, hi := deleted[0].ID, deleted[0].ID
	for _, ev := range deleted {
		eachTrigram(ev.Text, func(k int64) { keys[k] = true })
		lo, hi = min(lo, ev.ID), max(hi, ev.ID)
	}
	parts, err := readParts(ctx, tx, `SELECT DISTINCT lo, hi FROM event_trgm WHERE tri = ANY($1) AND lo <= $3 AND hi >= $2`, slices.Collect(maps.Keys(keys)), lo, hi)
	if err != nil {
		return 0, fmt.Errorf("store: retain: text index: %w", err)
	}
	for _, p := range parts {
		left, err := readTexts(ctx, tx, `SELECT id, text FROM events WHERE id BETWEEN $1 AND $2`, p[0], p[1])
		if err != nil {
			return 0, fmt.Errorf("store: retain: text index: %w", err)
		}
		// The part's rows' trigrams are those of its events deleted now
		// or left (an event deleted before made it rewritten then).
		pk := map[int64]bool{}
		for _, evs := range [][]*filter.Event{deleted, left} {
			for _, ev := range evs {
				if ev.ID >= p[0] && ev.ID <= p[1] {
					eachTrigram(ev.Text, func(k int64) { pk[k] = true })
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_trgm WHERE tri = ANY($1) AND lo = $2 AND hi = $3`, slices.Collect(maps.Keys(pk)), p[0], p[1]); err != nil {
			return 0, fmt.Errorf("store: retain: text index: %w", err)
		}
		if err := storePostings(ctx, sqlExecer(tx), left); err != nil {
			return 0, err
		}
	}
	return int64(len(deleted)), tx.Commit()
}

// readParts reads the (lo, hi) pairs q selects.
func readParts(ctx context.Context, tx *sql.Tx, q string, args ...any) ([][2]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var parts [][2]int64
	for rows.Next() {
		var p [2]int64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return parts, rows.Err()
}

// readTexts reads the events (id and text only) q selects or returns.
func readTexts(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]*filter.Event, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []*filter.Event
	for rows.Next() {
		ev := &filter.Event{}
		if err := rows.Scan(&ev.ID, &ev.Text); err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, rows.Err()
}

// backfillChunk: the backfill indexes this many stored events per
// transaction (a variable for the tests).
var backfillChunk = 5000

// startBackfill indexes the events stored before migration 0009 (its
// event_trgm_backfill row says from which id on), a chunk per
// transaction, then deletes the row and drops the pg_trgm index; text
// searches use ILIKE alone until then. Several stores on one database
// take turns (the row is locked per chunk). Returns false if there is
// nothing to do.
func (s *sqlStore) startBackfill(ctx context.Context) (bool, error) {
	var next int64
	err := s.db.QueryRowContext(ctx, `SELECT next_id FROM event_trgm_backfill`).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	bctx, cancel := context.WithCancel(context.Background())
	s.pg.stopBackfill, s.pg.backfillDone = cancel, make(chan struct{})
	log := s.log.Named("text_backfill")
	go func() {
		defer close(s.pg.backfillDone)
		t := time.Now()
		var total int
		for {
			n, done, err := s.backfillStep(bctx)
			total += n
			if bctx.Err() != nil {
				return
			}
			if err != nil {
				log.Warn("text index backfill failed, retrying in a minute", zap.Error(err))
				select {
				case <-bctx.Done():
					return
				case <-time.After(time.Minute):
				}
				continue
			}
			if done {
				if !s.hasGIN(bctx) {
					s.stopTextMerger()
				}
				s.pg.trgmReady.Store(true)
				log.Info("text index built", zap.Int("events", total), zap.Duration("took", time.Since(t)))
				return
			}
		}
	}()
	return true, nil
}

// backfillStep indexes the next chunk; done once none is left (and the
// row and the pg_trgm index are gone).
func (s *sqlStore) backfillStep(ctx context.Context) (n int, done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var next int64
	err = tx.QueryRowContext(ctx, `SELECT next_id FROM event_trgm_backfill FOR UPDATE`).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, true, nil // another store finished it
	}
	if err != nil {
		return 0, false, err
	}
	evs, err := readTexts(ctx, tx, `SELECT id, text FROM events WHERE id > $1 ORDER BY id LIMIT `+fmt.Sprint(backfillChunk), next)
	if err != nil {
		return 0, false, err
	}
	if len(evs) == 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_trgm_backfill`); err != nil {
			return 0, false, err
		}
		if err := tx.Commit(); err != nil {
			return 0, false, err
		}
		// Only its owner (the role that ran the migrations) may drop the
		// pg_trgm index: another role leaves it (searches do not need it;
		// it only costs the writes).
		if _, err := s.db.ExecContext(ctx, `DROP INDEX IF EXISTS events_text_trgm`); err != nil {
			s.log.Warn("text index built, but the pg_trgm index could not be dropped", zap.Error(err))
		}
		return 0, true, nil
	}
	if err := storePostings(ctx, sqlExecer(tx), evs); err != nil {
		return 0, false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE event_trgm_backfill SET next_id = $1`, evs[len(evs)-1].ID); err != nil {
		return 0, false, err
	}
	return len(evs), false, tx.Commit()
}

func (s *sqlStore) stopBackfill() {
	if s.pg.stopBackfill != nil {
		s.pg.stopBackfill()
		<-s.pg.backfillDone
	}
}

// hasGIN tells whether pg_trgm's index (migration 0007) exists.
func (s *sqlStore) hasGIN(ctx context.Context) bool {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = 'events_text_trgm' AND schemaname = current_schema()`).Scan(&n)
	return err == nil && n > 0
}
