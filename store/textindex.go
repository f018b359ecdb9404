package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"modernc.org/sqlite"

	"github.com/smsfw/smsfw/internal/guard"
)

// SQLite's text index lives in a database file of its own, "<path>-text",
// written by a goroutine of its own on its own connection: SQLite has one
// writer per database file, and the trigram index cost as much as the row
// and all its b-tree indexes together, so on one file it halved the rate.
// With two files the events and their text index are written on two cores.
//
// Consistency between the two files rests on text_pending, a table of the
// events database: the transaction that stores a batch of events also adds
// one text_pending row listing the batch's ids (a JSON array; the retention
// deletes add a row too, del = 1). The text database records the highest
// text_pending seq it has applied (state 'applied') in the transaction that
// indexes it, and the events writer deletes the rows the text index has
// applied. So:
//
//   - a search is complete: an event is either indexed or still listed in
//     text_pending, and a text search looks at both (the listed ones are
//     matched by scanning their text). A search reads the events database
//     first (SQLite takes the snapshots of main, then of attached
//     databases, at the start of a statement), so a row deleted from
//     text_pending after being indexed is in the text snapshot it reads.
//   - a restart catches up: the text writer applies the rows with a seq
//     above 'applied' at open (the events database holds them until then).
//   - a text database that is missing, from another events database (state
//     'generation' differs), corrupt or behind a gap in text_pending is
//     rebuilt from the events table; text searches scan meanwhile.
//
// The index is FTS5 trigram with detail=none (row ids only, no positions:
// about half the cost of detail=full to write): a substring of 3+
// characters is looked up as the AND of its trigrams and each candidate's
// text is then checked (smsfw_contains_fold), so the answer is exact.

// textSuffix names the text database after the events database.
const textSuffix = "-text"

// maxTextLag bounds the events stored but not yet text-indexed: past it
// Insert waits for the text writer (the tail a text search scans, and the
// work a restart catches up, stay bounded).
var maxTextLag int64 = 100_000

// textTxEvents: the text writer gathers queued batches up to this many
// events into one transaction.
const textTxEvents = 10_000

// textCatchUpTick: how often an idle text writer looks for rows it missed
// (its queue was full, or the rows came from another process).
var textCatchUpTick = time.Second

const textSchema = `CREATE VIRTUAL TABLE events_fts USING fts5(text, content = '', contentless_delete = 1,
	tokenize = 'trigram case_sensitive 1', detail = none)`

// textIndex is the text database and its writer goroutine.
type textIndex struct {
	s    *sqlStore
	db   *sql.DB // the text database: one connection, the text writer's
	path string
	log  *zap.Logger

	// ready is false while the index is rebuilt: text searches scan.
	ready atomic.Bool
	// rebuilding: close does not wait for a rebuild (the next Open starts
	// it again).
	rebuilding atomic.Bool
	// applied is the highest text_pending seq indexed (committed in the
	// text database).
	applied atomic.Int64
	// lag counts the events stored in the events database and not yet
	// indexed; progress (capacity 1) is signalled when it shrinks.
	lag      atomic.Int64
	progress chan struct{}
	// deleted: the text_pending rows up to it are deleted (under the write
	// lock of the events database).
	deleted int64

	mu     sync.RWMutex // guards closed against sends on ch
	closed bool
	ch     chan *textBatch
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	// replaceUpTo (text goroutine only): rows up to this seq may already be
	// indexed by a rebuild's scan, so they are inserted OR REPLACE.
	replaceUpTo int64
	// failures in a row and their log (text goroutine only).
	failures int
	failLog  guard.SampledLog
}

// textBatch is one text_pending row: event ids to index (with their
// texts, when sent from Insert) or to delete.
type textBatch struct {
	seq   int64
	del   bool
	ids   []int64
	texts []string // for inserts; nil when read back from the database
}

// textPath is the text database's path for the events database at dsn.
func textPath(dsn string) string {
	base, _, _ := strings.Cut(dsn, "?")
	return base + textSuffix
}

// openText opens (creating or rebuilding as needed) the text database of
// s and starts its writer. It returns nil, nil when this SQLite build has
// no FTS5 trigram tokenizer: text searches then scan.
func openText(ctx context.Context, s *sqlStore, dsn string) (*textIndex, error) {
	var generation string
	if err := s.db.QueryRowContext(ctx, `SELECT generation FROM text_index`).Scan(&generation); err != nil {
		return nil, fmt.Errorf("store: text index: %w", err)
	}
	t := &textIndex{s: s, path: textPath(dsn), log: s.log.Named("text"), progress: make(chan struct{}, 1),
		ch: make(chan *textBatch, 64), done: make(chan struct{})}
	rebuild, err := t.open(ctx, generation)
	if err != nil {
		// A text database that cannot be opened is rebuilt from the events.
		t.log.Warn("text index unusable; rebuilding it", zap.String("path", t.path), zap.Error(err))
		if t.db != nil {
			t.db.Close()
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(t.path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("store: text index: %w", err)
			}
		}
		if rebuild, err = t.open(ctx, generation); err != nil {
			if t.db != nil {
				t.db.Close()
			}
			if strings.Contains(err.Error(), "no such module") || strings.Contains(err.Error(), "no such tokenizer") {
				t.log.Warn("no FTS5 trigram in this SQLite build: text searches scan", zap.Error(err))
				return nil, nil
			}
			return nil, fmt.Errorf("store: text index: %w", err)
		}
	}
	if !rebuild {
		// The rows since the last applied one are still listed in
		// text_pending; a gap (rows deleted that this index has not
		// applied) means the file is not the one the events database was
		// written with.
		var maxSeq, n, lag int64
		err := s.db.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'text_pending'), 0),
			(SELECT count(*) FROM text_pending WHERE seq > ?),
			(SELECT coalesce(sum(json_array_length(ids)), 0) FROM text_pending WHERE seq > ? AND del = 0)`,
			t.applied.Load(), t.applied.Load()).Scan(&maxSeq, &n, &lag)
		if err != nil {
			t.db.Close()
			return nil, fmt.Errorf("store: text index: %w", err)
		}
		switch a := t.applied.Load(); {
		case a > maxSeq || n != maxSeq-a:
			t.log.Warn("text index does not match the events database; rebuilding it",
				zap.Int64("applied", a), zap.Int64("pending_max", maxSeq), zap.Int64("pending", n))
			rebuild = true
		default:
			t.lag.Store(lag)
			t.ready.Store(true)
		}
	}
	t.deleted = 0
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.rebuilding.Store(rebuild)
	go t.run(rebuild)
	return t, nil
}

// open opens the text database and creates its schema if needed. It says
// whether the index must be rebuilt (new file, another generation, a
// rebuild that did not finish).
func (t *textIndex) open(ctx context.Context, generation string) (rebuild bool, err error) {
	params := []string{
		"_pragma=busy_timeout(10000)",
		"_pragma=journal_mode(WAL)",
		// The index can be rebuilt from the events, and 'applied' commits
		// with what it covers: durability at checkpoints is enough.
		"_pragma=synchronous(NORMAL)",
		"_pragma=cache_size(-32768)",
		"_pragma=wal_autocheckpoint(16384)",
		"_txlock=immediate",
	}
	t.db, err = sql.Open("sqlite", t.path+"?"+strings.Join(params, "&"))
	if err != nil {
		return false, err
	}
	t.db.SetMaxOpenConns(1)
	t.db.SetConnMaxLifetime(0)
	if _, err := t.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v) WITHOUT ROWID`); err != nil {
		return false, err
	}
	var gen sql.NullString
	var applied sql.NullInt64
	err = t.db.QueryRowContext(ctx, `SELECT (SELECT v FROM state WHERE k = 'generation'), (SELECT v FROM state WHERE k = 'applied')`).Scan(&gen, &applied)
	if err != nil {
		return false, err
	}
	var n int
	if err := t.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'events_fts'`).Scan(&n); err != nil {
		return false, err
	}
	if gen.String == generation && applied.Valid && applied.Int64 >= 0 && n == 1 {
		// An integrity problem would fail the first write; a cheap probe
		// of the index structure catches a damaged file here.
		if _, err := t.db.ExecContext(ctx, `SELECT rowid FROM events_fts WHERE events_fts MATCH '"abc"' LIMIT 1`); err != nil {
			return false, err
		}
		t.applied.Store(applied.Int64)
		return false, nil
	}
	// New, from another events database, or a rebuild that stopped: start
	// empty. The rebuild marks itself (applied -1) until it is done.
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, q := range []string{
		`DROP TABLE IF EXISTS events_fts`,
		textSchema,
		`INSERT INTO events_fts (events_fts, rank) VALUES ('automerge', 8)`,
		`INSERT OR REPLACE INTO state (k, v) VALUES ('applied', -1)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO state (k, v) VALUES ('generation', ?)`, generation); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// waitLag blocks while more than maxTextLag events wait for the text index
// (before Insert takes the write lock). Not while the index is rebuilt:
// searches scan then, and a rebuild may take minutes.
func (t *textIndex) waitLag(ctx context.Context) error {
	for t.lag.Load() > maxTextLag && t.ready.Load() {
		select {
		case <-t.progress:
		case <-time.After(100 * time.Millisecond): // a signal taken by another waiter
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// stage adds b's text_pending row in tx (the events' transaction), setting
// b.seq, and deletes the rows the text index has applied. deleted is what
// to pass to committed.
func (t *textIndex) stage(ctx context.Context, tx txRunner, b *textBatch) (deleted int64, err error) {
	deleted = t.deleted
	if a := t.applied.Load(); a > deleted {
		if err := tx.exec(ctx, `DELETE FROM text_pending WHERE seq <= ?`, a); err != nil {
			return 0, fmt.Errorf("store: text pending: %w", err)
		}
		deleted = a
	}
	if len(b.ids) == 0 {
		return deleted, nil
	}
	if b.seq, err = tx.queryInt64(ctx, `INSERT INTO text_pending (del, ids) VALUES (?, ?) RETURNING seq`, b2i(b.del), formatIDs(b.ids)); err != nil {
		return 0, fmt.Errorf("store: text pending: %w", err)
	}
	return deleted, nil
}

// committed hands b to the text writer once its transaction committed. A
// full queue drops it: the writer reads it back from text_pending.
func (t *textIndex) committed(b *textBatch, deleted int64) {
	t.deleted = deleted
	if b.seq == 0 {
		return
	}
	if !b.del {
		t.lag.Add(int64(len(b.ids)))
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return
	}
	select {
	case t.ch <- b:
	default:
		b.texts = nil
	}
}

// close stops the writer after it has indexed what was handed to it (ctx
// bounds the wait; what is left is caught up at the next open).
func (t *textIndex) close(ctx context.Context) error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.ch)
	}
	t.mu.Unlock()
	if t.rebuilding.Load() {
		t.cancel()
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		t.cancel()
		<-t.done
	}
	t.cancel()
	return t.db.Close()
}

// run is the text writer.
func (t *textIndex) run(rebuild bool) {
	defer close(t.done)
	if rebuild {
		t.ready.Store(false)
		start := time.Now()
		err := t.rebuild(t.ctx)
		t.rebuilding.Store(false)
		if err != nil {
			if t.ctx.Err() == nil {
				t.log.Error("text index rebuild failed; text searches scan until the next start", zap.Error(err))
			}
			for range t.ch { // keep Insert from waiting on a queue no one reads
			}
			return
		}
		t.ready.Store(true)
		t.log.Info("text index rebuilt", zap.Duration("took", time.Since(start)))
	}
	tick := time.NewTicker(textCatchUpTick)
	defer tick.Stop()
	var bs []*textBatch
	for {
		select {
		case b, ok := <-t.ch:
			if !ok {
				t.catchUp(t.ctx, 0)
				return
			}
			bs = append(bs[:0], b)
			n := len(b.ids)
		gather:
			for n < textTxEvents {
				select {
				case b, ok := <-t.ch:
					if !ok {
						break gather
					}
					bs = append(bs, b)
					n += len(b.ids)
				default:
					break gather
				}
			}
			t.result(t.applyQueued(t.ctx, bs))
			clear(bs)
		case <-tick.C:
			t.result(t.catchUp(t.ctx, 0))
		}
	}
}

// textFailures: after this many failed text transactions in a row, text
// searches scan (they are complete either way) and Insert no longer waits
// for the text index, so a failing text file never stops the events from
// being stored; the next success turns the index back on.
const textFailures = 3

// result counts a text transaction's outcome (text goroutine only).
func (t *textIndex) result(err error) {
	switch {
	case err == nil:
		if t.failures >= textFailures {
			t.log.Info("text index writes again")
			t.ready.Store(true)
		}
		t.failures = 0
	case t.ctx.Err() != nil:
	default:
		t.failures++
		if t.failures == textFailures {
			t.ready.Store(false)
		}
		if n, ok := t.failLog.Tick(10 * time.Second); ok {
			t.log.Error("text index write failed; retrying from text_pending (text searches scan after 3 failures)",
				zap.Int64("count", n), zap.Int("in_a_row", t.failures), zap.Error(err))
		}
	}
}

// applyQueued indexes batches from the queue in seq order; a gap (batches
// dropped on a full queue, or written by another process) is read back
// from text_pending first.
func (t *textIndex) applyQueued(ctx context.Context, bs []*textBatch) error {
	todo := bs[:0:0]
	for _, b := range bs {
		a := t.applied.Load()
		if len(todo) > 0 {
			a = todo[len(todo)-1].seq
		}
		switch {
		case b.seq <= a:
			continue
		case b.seq == a+1 && (b.texts != nil || b.del):
			todo = append(todo, b)
			continue
		}
		if err := t.apply(ctx, todo); err != nil {
			return err
		}
		todo = todo[:0]
		if err := t.catchUp(ctx, b.seq); err != nil {
			return err
		}
	}
	return t.apply(ctx, todo)
}

// catchUp indexes the text_pending rows above applied (up to upTo, 0: all)
// from the events database.
func (t *textIndex) catchUp(ctx context.Context, upTo int64) error {
	for ctx.Err() == nil {
		q := `SELECT seq, del, ids FROM text_pending WHERE seq > ?`
		args := []any{t.applied.Load()}
		if upTo > 0 {
			q += ` AND seq <= ?`
			args = append(args, upTo)
		}
		rows, err := t.s.db.QueryContext(ctx, q+` ORDER BY seq LIMIT 20`, args...)
		if err != nil {
			return fmt.Errorf("store: text catch-up: %w", err)
		}
		var bs []*textBatch
		for rows.Next() {
			b := &textBatch{}
			var ids string
			if err := rows.Scan(&b.seq, &b.del, &ids); err != nil {
				rows.Close()
				return fmt.Errorf("store: text catch-up: %w", err)
			}
			if b.ids, err = parseIDs(ids); err != nil {
				rows.Close()
				return fmt.Errorf("store: text catch-up: seq %d: %w", b.seq, err)
			}
			bs = append(bs, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: text catch-up: %w", err)
		}
		for _, b := range bs {
			if !b.del {
				if err := t.readTexts(ctx, b); err != nil {
					return err
				}
			}
		}
		if err := t.apply(ctx, bs); err != nil {
			return err
		}
		if len(bs) < 20 {
			if len(bs) == 0 && upTo == 0 {
				// Nothing left to index: whatever lag says (it is counted
				// from two goroutines around a rebuild), there is none.
				t.lag.Store(0)
			}
			return nil
		}
	}
	return ctx.Err()
}

// readTexts fills b.ids and b.texts from the events still stored.
func (t *textIndex) readTexts(ctx context.Context, b *textBatch) error {
	n := len(b.ids)
	b.ids, b.texts = b.ids[:0], make([]string, 0, n)
	rows, err := t.s.db.QueryContext(ctx, `SELECT id, text FROM events WHERE id IN (SELECT value FROM json_each(?)) AND text <> ''`,
		formatIDs(b.ids[:n]))
	if err != nil {
		return fmt.Errorf("store: text catch-up: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		var text string
		if err := rows.Scan(&id, &text); err != nil {
			return fmt.Errorf("store: text catch-up: %w", err)
		}
		ids = append(ids, id)
		b.texts = append(b.texts, text)
	}
	b.ids = ids
	return rows.Err()
}

func formatIDs(ids []int64) string {
	out := make([]byte, 0, len(ids)*20+2)
	out = append(out, '[')
	for i, id := range ids {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendInt(out, id, 10)
	}
	return string(append(out, ']'))
}

func parseIDs(s string) ([]int64, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, fmt.Errorf("ids %.20q: not a JSON array", s)
	}
	s = s[1 : len(s)-1]
	if s == "" {
		return nil, nil
	}
	out := make([]int64, 0, strings.Count(s, ",")+1)
	for f := range strings.SplitSeq(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ids: %w", err)
		}
		out = append(out, id)
	}
	return out, nil
}

// textApplyHook, when set (tests), runs before each text transaction; an
// error fails it.
var textApplyHook func() error

// apply indexes (or deletes) bs, consecutive seqs, in one transaction of
// the text database that also records the last seq as applied.
func (t *textIndex) apply(ctx context.Context, bs []*textBatch) error {
	if len(bs) == 0 {
		return nil
	}
	if textApplyHook != nil {
		if err := textApplyHook(); err != nil {
			return err
		}
	}
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: text index: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// Statements run without a cancellable context (see insertFast).
	ectx := context.WithoutCancel(ctx)
	if bs[0].seq > 0 {
		// Another process on the same files may have applied some (an
		// SQLite store shared by processes on one host).
		var applied int64
		if err := tx.QueryRowContext(ectx, `SELECT v FROM state WHERE k = 'applied'`).Scan(&applied); err != nil {
			return fmt.Errorf("store: text index: %w", err)
		}
		for len(bs) > 0 && bs[0].seq <= applied {
			if !bs[0].del {
				t.lag.Add(-int64(len(bs[0].ids)))
			}
			bs = bs[1:]
		}
		if len(bs) == 0 {
			if applied > t.applied.Load() {
				t.applied.Store(applied)
			}
			return nil
		}
	}
	ins, err := tx.PrepareContext(ectx, `INSERT INTO events_fts (rowid, text) VALUES (?, ?)`)
	if err != nil {
		return fmt.Errorf("store: text index: %w", err)
	}
	defer ins.Close()
	var rep, del *sql.Stmt
	indexed := int64(0)
	for _, b := range bs {
		st := ins
		switch {
		case b.del:
			if del == nil {
				if del, err = tx.PrepareContext(ectx, `DELETE FROM events_fts WHERE rowid = ?`); err != nil {
					return fmt.Errorf("store: text index: %w", err)
				}
				defer del.Close()
			}
			for _, id := range b.ids {
				if _, err := del.ExecContext(ectx, id); err != nil {
					return fmt.Errorf("store: text index: delete: %w", err)
				}
			}
			continue
		case b.seq <= t.replaceUpTo:
			if rep == nil {
				if rep, err = tx.PrepareContext(ectx, `INSERT OR REPLACE INTO events_fts (rowid, text) VALUES (?, ?)`); err != nil {
					return fmt.Errorf("store: text index: %w", err)
				}
				defer rep.Close()
			}
			st = rep
		}
		for i, id := range b.ids {
			if i%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if _, err := st.ExecContext(ectx, id, foldText(b.texts[i])); err != nil {
				return fmt.Errorf("store: text index: %w", err)
			}
		}
		indexed += int64(len(b.ids))
	}
	last := bs[len(bs)-1].seq
	if _, err := tx.ExecContext(ectx, `UPDATE state SET v = ? WHERE k = 'applied'`, last); err != nil {
		return fmt.Errorf("store: text index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: text index: commit: %w", err)
	}
	t.applied.Store(last)
	if t.lag.Add(-indexed) < 0 {
		t.lag.Store(0)
	}
	select {
	case t.progress <- struct{}{}:
	default:
	}
	return nil
}

// foldText is the text as indexed: cleaned as stored, folded as searched.
func foldText(s string) string { return strings.ToLower(clean(s)) }

// rebuild indexes every stored event into an empty index: the events in
// id order, then (inserting OR REPLACE, since the scan may have seen them)
// the batches stored meanwhile.
func (t *textIndex) rebuild(ctx context.Context) error {
	maxSeq := func() (int64, error) {
		var m int64
		err := t.s.db.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'text_pending'), 0)`).Scan(&m)
		return m, err
	}
	from, err := maxSeq()
	if err != nil {
		return err
	}
	cursor, total := int64(-1<<63), 0
	for {
		rows, err := t.s.db.QueryContext(ctx, `SELECT id, text FROM events WHERE id > ? AND text <> '' ORDER BY id LIMIT 10000`, cursor)
		if err != nil {
			return err
		}
		b := &textBatch{}
		for rows.Next() {
			var id int64
			var text string
			if err := rows.Scan(&id, &text); err != nil {
				rows.Close()
				return err
			}
			b.ids, b.texts = append(b.ids, id), append(b.texts, text)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(b.ids) == 0 {
			break
		}
		cursor = b.ids[len(b.ids)-1]
		b.seq = -1 // applied stays -1 (rebuilding) until the end
		if err := t.apply(ctx, []*textBatch{b}); err != nil {
			return err
		}
		total += len(b.ids)
	}
	to, err := maxSeq()
	if err != nil {
		return err
	}
	if _, err := t.db.ExecContext(ctx, `UPDATE state SET v = ? WHERE k = 'applied'`, from); err != nil {
		return err
	}
	t.applied.Store(from)
	t.replaceUpTo = to
	var lag int64
	if err := t.s.db.QueryRowContext(ctx, `SELECT coalesce(sum(json_array_length(ids)), 0) FROM text_pending WHERE seq > ? AND del = 0`, from).Scan(&lag); err != nil {
		return err
	}
	t.lag.Store(lag)
	t.log.Info("text index: events indexed", zap.Int("events", total))
	return t.catchUp(ctx, 0)
}

// textIndexMatch is the text predicate with the text index (see the top
// of this file): the index's candidates and the events it has not applied
// yet, checked against the text. dense: see sqlStore.filters.
//
// The applied seq is read before the statement starts: text_pending rows
// above it are all still in the events database then (rows are deleted
// only once applied), and those at or below it are in the text index's
// snapshot, which the statement takes after.
func (t *textIndex) match(sub string, dense bool) (string, []any, bool) {
	m, ok := trigramQuery(sub)
	if !ok {
		return "", nil, false
	}
	cond := `id IN (SELECT rowid FROM txt.events_fts WHERE events_fts MATCH ? ` +
		`UNION ALL SELECT j.value FROM text_pending p, json_each(p.ids) j WHERE p.seq > ? AND p.del = 0) AND smsfw_contains_fold(text, ?)`
	if dense {
		// "+id": walk the time index newest first and keep the matching
		// rows rather than look up and sort every candidate.
		cond = "+" + cond
	}
	return "(" + cond + ")", []any{m, t.applied.Load(), strings.ToLower(sub)}, true
}

// maxTrigrams bounds the trigrams a query ANDs: more would narrow the
// candidates little and cost a posting list each.
const maxTrigrams = 12

// queryGrams are the distinct trigrams of sub folded (strings.ToLower),
// each as key makes it, at most maxTrigrams evenly spread over it (first
// and last included), or none under three characters. Both stores look a
// substring up by these.
func queryGrams[K comparable](sub string, key func(a, b, c rune) K) []K {
	rs := []rune(strings.ToLower(sub))
	seen := map[K]bool{}
	var keys []K
	for i := 0; i+3 <= len(rs); i++ {
		if k := key(rs[i], rs[i+1], rs[i+2]); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if len(keys) > maxTrigrams {
		picked := make([]K, 0, maxTrigrams)
		for i := range maxTrigrams {
			picked = append(picked, keys[i*(len(keys)-1)/(maxTrigrams-1)])
		}
		keys = picked
	}
	return keys
}

// trigramQuery is an FTS5 query for the candidates containing sub: the
// AND of its distinct trigrams (detail=none has no phrases), or false
// under three characters.
func trigramQuery(sub string) (string, bool) {
	grams := queryGrams(sub, func(a, b, c rune) string { return string([]rune{a, b, c}) })
	if len(grams) == 0 {
		return "", false
	}
	var b strings.Builder
	for i, g := range grams {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(`"` + strings.ReplaceAll(g, `"`, `""`) + `"`)
	}
	return b.String(), utf8.ValidString(sub)
}

// attachConnector opens the events database's reading connections with the
// text database attached as txt. The writing connections do not attach it:
// BEGIN IMMEDIATE would take the text database's write lock too.
type attachConnector struct {
	driver.Connector
	text string
}

func (c attachConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: sqlite connection cannot exec")
	}
	if _, err := ex.ExecContext(ctx, `ATTACH DATABASE ? AS txt`, []driver.NamedValue{{Ordinal: 1, Value: c.text}}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: attach text index: %w", err)
	}
	return conn, nil
}

// openReader opens the pool text searches run on.
func openReader(dsn, text string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(sqliteDSN(dsn))
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", dsn, err)
	}
	db := sql.OpenDB(attachConnector{Connector: c, text: text})
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// deleteIndexed deletes the events sel selects (Retain, under the write
// lock) and lists them in text_pending for the text writer to delete from
// the index, in one transaction.
func (s *sqlStore) deleteIndexed(ctx context.Context, sel string, args []any) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	rows, err := tx.QueryContext(ctx, "DELETE FROM events WHERE id IN ("+sel+") RETURNING id", args...)
	if err != nil {
		return 0, err
	}
	b := &textBatch{del: true}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		b.ids = append(b.ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	deleted, err := s.d.text.stage(ctx, sqlTx{tx, &s.d}, b)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	s.d.text.committed(b, deleted)
	return int64(len(b.ids)), nil
}
