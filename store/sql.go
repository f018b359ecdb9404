package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
)

// sqlStore is the Store over database/sql, for both dialects.
type sqlStore struct {
	db *sql.DB
	// rdb runs the searches: db itself, or on SQLite with a text index a
	// pool whose connections attach the text database (textindex.go).
	rdb *sql.DB
	d   dialect
	log *zap.Logger
	// wmu serializes writes on SQLite (nil on PostgreSQL).
	wmu *sync.Mutex
	// direct is SQLite's event writer connection (sqlitedirect.go); nil
	// on PostgreSQL and where directPath refuses the DSN.
	direct *directConn
	// carefulBatches counts the batches the careful path inserted (no
	// fast path, or it met a stored id, or it failed).
	carefulBatches atomic.Int64
	// carefulOnly skips the fast insert paths (benchmarks compare them
	// with the careful path in one run).
	carefulOnly bool
	// stopCkpt stops the SQLite checkpointer (startCheckpointer), which
	// then closes ckptDone; both nil without one.
	stopCkpt context.CancelFunc
	ckptDone chan struct{}
	// walEvents counts the events stored since the last checkpoint.
	walEvents atomic.Int64

	// pg: PostgreSQL's COPY path and text index merger (pgtext.go).
	pg pgState
}

// errStoredIDs: the fast insert path met ids already stored.
var errStoredIDs = errors.New("store: batch holds stored ids")

var _ Store = (*sqlStore)(nil)

func (s *sqlStore) lockWrite() func() {
	if s.wmu == nil {
		return func() {}
	}
	s.wmu.Lock()
	return s.wmu.Unlock
}

// eventCols are the columns of an event without raw, in scan order.
const eventCols = "id, t, direction, peer, system_id, peer_class, class, sender, sender_kind, dest, dest_country, dest_count, " +
	"text, text_masked, data_coding, segments, fingerprint, rule_id, action, monitor, sampled, reason, evidence, highlight, " +
	"leakage, status, message_id, quarantine, upstream_message_id, decided_at, decided_by"

const nEventCols = 32 // eventCols + raw

// insertChunk rows per INSERT statement: 32 columns x 500 rows stays under
// SQLite's 32766 and PostgreSQL's 65535 parameters.
const insertChunk = 500

// clean makes a string storable on both dialects: PostgreSQL refuses
// invalid UTF-8 and NUL in text, and one such event (message text is the
// sender's choice) would otherwise fail its whole batch.
func clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func micros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// eventBinder takes an event's columns in eventCols order, then raw:
// bindEvent is the one place that order is written for both the
// database/sql arguments (argList) and SQLite's direct connection (binder).
type eventBinder interface {
	int64(v int64)
	float(v float64)
	text(s string) // cleaned by the binder (clean)
	null()
	raw(segs [][]byte) // as encodeRaw encodes them; NULL without segments
}

func bindEvent(b eventBinder, ev *filter.Event) {
	b.int64(ev.ID)
	b.int64(ev.Time.UnixMicro())
	for _, s := range [...]string{ev.Direction, ev.Peer, ev.SystemID, ev.PeerClass, ev.Class, ev.Sender, ev.SenderKind, ev.Dest, ev.DestCountry} {
		b.text(s)
	}
	b.int64(int64(ev.DestCount))
	b.text(ev.Text)
	b.int64(b2i(ev.TextMasked))
	b.int64(int64(ev.DataCoding))
	b.int64(int64(ev.Segments))
	b.int64(int64(ev.Fingerprint))
	b.text(ev.RuleID)
	b.text(ev.Action)
	b.int64(b2i(ev.Monitor))
	b.int64(b2i(ev.Sampled))
	for _, s := range [...]string{ev.Reason, ev.Evidence, ev.Highlight} {
		b.text(s)
	}
	b.float(ev.Leakage)
	b.int64(int64(ev.Status))
	for _, s := range [...]string{ev.MessageID, ev.Quarantine, ev.UpstreamMessageID} {
		b.text(s)
	}
	if ev.DecidedAt == nil {
		b.null()
	} else {
		b.int64(ev.DecidedAt.UnixMicro())
	}
	b.text(ev.DecidedBy)
	b.raw(ev.Raw)
}

// argList collects an event's columns as database/sql arguments.
type argList []any

func (a *argList) int64(v int64)     { *a = append(*a, v) }
func (a *argList) float(v float64)   { *a = append(*a, v) }
func (a *argList) text(s string)     { *a = append(*a, clean(s)) }
func (a *argList) null()             { *a = append(*a, nil) }
func (a *argList) raw(segs [][]byte) { *a = append(*a, encodeRaw(segs)) }

// eventArgs appends ev's columns (eventCols, then raw) to args.
func eventArgs(ev *filter.Event, args []any) []any {
	a := argList(args)
	bindEvent(&a, ev)
	return a
}

// valuesList returns "(?,...,?),(?,...)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}

// Insert writes the batch in one transaction. It is idempotent: an event
// whose id is already stored is skipped, so a writer retrying a batch whose
// commit did in fact succeed does not fail or duplicate.
func (s *sqlStore) Insert(ctx context.Context, evs []*filter.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if s.d.text != nil {
		if err := s.d.text.waitLag(ctx); err != nil {
			return fmt.Errorf("store: insert: waiting for the text index: %w", err)
		}
	}
	defer s.lockWrite()()
	// The fast paths assume no id is stored yet (SQLite: single-row INSERT
	// OR IGNORE; PostgreSQL: COPY);
	// should one be, the fast path fails (a row ignored, a unique violation)
	// and rolls back, and the careful path redoes the batch, skipping the
	// stored ids.
	var err error
	switch {
	case s.carefulOnly:
		err = errStoredIDs
	case s.direct != nil:
		err = s.insertFast(ctx, evs)
	case s.d.name == "sqlite": // ":memory:", a URI or a DSN with parameters (directPath)
		err = errStoredIDs
	case s.d.name == "postgres":
		err = s.copyEvents(ctx, evs)
	}
	if err != nil && ctx.Err() == nil {
		if !errors.Is(err, errStoredIDs) {
			s.log.Warn("fast insert failed, retrying the batch on the careful path", zap.Int("events", len(evs)), zap.Error(err))
		}
		s.carefulBatches.Add(1)
		err = s.insertCareful(ctx, evs)
	}
	if err == nil {
		s.walEvents.Add(int64(len(evs)))
	}
	return err
}

// insertFast is SQLite's fast path: one prepared single-row INSERT per
// event, on the direct connection (sqlitedirect.go). A single-row INSERT
// OR IGNORE cannot abort, so SQLite keeps no statement journal for it (a
// multi-row one copied every index page it touched first: ~10% of the
// writer's CPU). The batch checks ctx between rows.
func (s *sqlStore) insertFast(ctx context.Context, evs []*filter.Event) error {
	c := s.direct
	if err := c.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("store: insert: %w", err)
	}
	defer c.rollback() // a no-op after COMMIT
	st, err := c.prepare(insertOrIgnore)
	if err != nil {
		return fmt.Errorf("store: insert: %w", err)
	}
	var text textBatch
	for i, ev := range evs {
		if i%256 == 0 && ctx.Err() != nil {
			return fmt.Errorf("store: insert: %w", ctx.Err())
		}
		inserted, err := c.insertEvent(st, ev)
		if err != nil {
			return fmt.Errorf("store: insert: %w", err)
		}
		if !inserted {
			return errStoredIDs
		}
		text.add(ev)
	}
	return s.commitText(ctx, directTx{c}, evs, &text)
}

// insertOrIgnore is the fast path's statement.
var insertOrIgnore = "INSERT OR IGNORE INTO events (" + eventCols + ", raw) VALUES " + valuesList(1, nEventCols)

// txRunner runs the statements that end an insert's transaction
// (commitText): database/sql's Tx, or SQLite's direct connection.
type txRunner interface {
	exec(ctx context.Context, q string, args ...any) error
	queryInt64(ctx context.Context, q string, args ...any) (int64, error)
	commit() error
}

// sqlTx is a database/sql transaction as a txRunner; q is rebound to the
// dialect's placeholders.
type sqlTx struct {
	tx *sql.Tx
	d  *dialect
}

func (t sqlTx) exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, t.d.rebind(q), args...)
	return err
}

func (t sqlTx) queryInt64(ctx context.Context, q string, args ...any) (n int64, err error) {
	err = t.tx.QueryRowContext(ctx, t.d.rebind(q), args...).Scan(&n)
	return n, err
}

func (t sqlTx) commit() error { return t.tx.Commit() }

// directTx is the direct connection's open transaction as a txRunner.
type directTx struct{ c *directConn }

func (t directTx) exec(ctx context.Context, q string, args ...any) error {
	return t.c.exec(ctx, q, args...)
}

func (t directTx) queryInt64(ctx context.Context, q string, args ...any) (int64, error) {
	return t.c.queryInt64(ctx, q, args...)
}

func (t directTx) commit() error { return t.c.exec(context.Background(), "COMMIT") }

// add lists ev for the text index (SQLite), if it has text.
func (b *textBatch) add(ev *filter.Event) {
	if ev.Text != "" {
		b.ids, b.texts = append(b.ids, ev.ID), append(b.texts, ev.Text)
	}
}

// commitText counts evs (all of them newly stored) in the leakage ledger
// and, on SQLite with a text index (textindex.go), lists the batch in
// text_pending, in the transaction tx, commits it, and hands the text
// batch to the text writer.
func (s *sqlStore) commitText(ctx context.Context, tx txRunner, evs []*filter.Event, text *textBatch) error {
	var deleted int64
	if s.d.text != nil {
		var err error
		if deleted, err = s.d.text.stage(ctx, tx, text); err != nil {
			return err
		}
	}
	for _, r := range LedgerRows(evs) {
		if err := tx.exec(ctx, ledgerUpsert, r.Day, r.Peer, r.Messages, r.Segments, r.Amount); err != nil {
			return fmt.Errorf("store: insert: leakage ledger: %w", err)
		}
	}
	if err := tx.commit(); err != nil {
		return fmt.Errorf("store: insert: commit: %w", err)
	}
	if s.d.text != nil {
		s.d.text.committed(text, deleted)
	}
	return nil
}

// ledgerUpsert adds one LedgerRows row to the leakage ledger.
const ledgerUpsert = `INSERT INTO leakage (day, peer, messages, segments, amount) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (day, peer) DO UPDATE SET messages = leakage.messages + excluded.messages,
	segments = leakage.segments + excluded.segments, amount = leakage.amount + excluded.amount`

// insertCareful inserts the batch skipping ids already stored (ON
// CONFLICT DO NOTHING), and counts in the ledger and the text index only
// the events it inserted.
func (s *sqlStore) insertCareful(ctx context.Context, evs []*filter.Event) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: insert: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	args := make([]any, 0, min(len(evs), insertChunk)*nEventCols)
	var ledger []*filter.Event // inserted now (not stored before) and counted in the leakage ledger
	var text textBatch         // inserted now, for SQLite's text index
	for start := 0; start < len(evs); start += insertChunk {
		chunk := evs[start:min(start+insertChunk, len(evs))]
		args = args[:0]
		for _, ev := range chunk {
			args = eventArgs(ev, args)
		}
		q := s.d.rebind("INSERT INTO events (" + eventCols + ", raw) VALUES " + valuesList(len(chunk), nEventCols) + " ON CONFLICT (id) DO NOTHING")
		if s.d.text == nil && !anyDelivered(chunk) {
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("store: insert: %w", err)
			}
			continue
		}
		inserted, err := insertReturning(ctx, tx, q, args)
		if err != nil {
			return err
		}
		ledger = appendDelivered(ledger, chunk, inserted)
		if s.d.text == nil {
			continue
		}
		for _, ev := range chunk {
			if inserted[ev.ID] {
				delete(inserted, ev.ID) // once per id, should a batch hold one twice
				text.add(ev)
			}
		}
	}
	if s.d.name == "postgres" {
		// All of the batch: postings of an event stored before are
		// redundant, never wrong (a superset of the matches).
		if err := storePostings(ctx, sqlExecer(tx), evs); err != nil {
			return err
		}
	}
	return s.commitText(ctx, sqlTx{tx, &s.d}, ledger, &text)
}

// insertReturning runs an INSERT ... ON CONFLICT DO NOTHING and returns the
// ids it actually inserted (RETURNING lists only those).
func insertReturning(ctx context.Context, tx *sql.Tx, q string, args []any) (map[int64]bool, error) {
	rows, err := tx.QueryContext(ctx, q+" RETURNING id", args...)
	if err != nil {
		return nil, fmt.Errorf("store: insert: %w", err)
	}
	defer rows.Close()
	inserted := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: insert: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: insert: %w", err)
	}
	return inserted, nil
}

func anyDelivered(evs []*filter.Event) bool {
	for _, ev := range evs {
		if Delivered(ev) {
			return true
		}
	}
	return false
}

// appendDelivered adds the ledger's events of chunk that were inserted,
// each id once (a batch may hold an event twice; RETURNING lists it once).
func appendDelivered(out, chunk []*filter.Event, inserted map[int64]bool) []*filter.Event {
	counted := map[int64]bool{}
	for _, ev := range chunk {
		if Delivered(ev) && inserted[ev.ID] && !counted[ev.ID] {
			counted[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

// Leakage implements Store.
func (s *sqlStore) Leakage(ctx context.Context, from, to string) ([]LeakageDay, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT day, peer, messages, segments, amount FROM leakage
WHERE day >= ? AND day <= ? ORDER BY day, peer`), from, to)
	if err != nil {
		return nil, fmt.Errorf("store: leakage: %w", err)
	}
	defer rows.Close()
	var out []LeakageDay
	for rows.Next() {
		var r LeakageDay
		if err := rows.Scan(&r.Day, &r.Peer, &r.Messages, &r.Segments, &r.Amount); err != nil {
			return nil, fmt.Errorf("store: leakage: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// reader is the pool a search runs on: the one attaching SQLite's text
// index when it searches text.
func (s *sqlStore) reader(text string) *sql.DB {
	if text != "" {
		return s.rdb
	}
	return s.db
}

// denseMatches: a text search matching at least this many events is
// "dense" (see dialect.textMatch). Counting up to it costs a few ms.
var denseMatches = 10000 // a variable for the tests

// filters builds q's conditions. For an FTS text search it first counts
// the matches (up to denseMatches) to choose the plan: few matches are best
// looked up and sorted, many are best found by walking the time index.
func (s *sqlStore) filters(ctx context.Context, q *Query) (*where, error) {
	dense := false
	if q.Text != "" && s.d.text != nil && s.d.text.ready.Load() {
		if err := validString("text", q.Text); err != nil {
			return nil, err
		}
		if m, ok := trigramQuery(q.Text); ok {
			var n int
			err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT rowid FROM txt.events_fts WHERE events_fts MATCH ? LIMIT `+
				strconv.Itoa(denseMatches)+`)`, m).Scan(&n)
			if err != nil {
				return nil, fmt.Errorf("store: text search: %w", err)
			}
			dense = n >= denseMatches
		}
	}
	w, err := s.d.filters(q, dense)
	if err == nil && q.Text != "" && s.d.name == "postgres" {
		err = s.pgTextFilter(ctx, q.Text, w)
	}
	return w, err
}

type scanner interface{ Scan(dest ...any) error }

func scanEvent(r scanner, withRaw bool) (*filter.Event, error) {
	var (
		ev                                          filter.Event
		t, destCount, masked, dc, segs, fp, mon, sp int64
		status                                      int64
		decided                                     sql.NullInt64
		raw                                         []byte
	)
	dest := []any{&ev.ID, &t, &ev.Direction, &ev.Peer, &ev.SystemID, &ev.PeerClass, &ev.Class, &ev.Sender, &ev.SenderKind,
		&ev.Dest, &ev.DestCountry, &destCount, &ev.Text, &masked, &dc, &segs, &fp, &ev.RuleID, &ev.Action, &mon, &sp,
		&ev.Reason, &ev.Evidence, &ev.Highlight, &ev.Leakage, &status, &ev.MessageID, &ev.Quarantine,
		&ev.UpstreamMessageID, &decided, &ev.DecidedBy}
	if withRaw {
		dest = append(dest, &raw)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	ev.Time = time.UnixMicro(t).UTC()
	ev.DestCount, ev.TextMasked, ev.DataCoding, ev.Segments = int(destCount), masked != 0, int(dc), int(segs)
	ev.Fingerprint, ev.Monitor, ev.Sampled, ev.Status = filter.Fingerprint(fp), mon != 0, sp != 0, uint32(status)
	if decided.Valid {
		at := time.UnixMicro(decided.Int64).UTC()
		ev.DecidedAt = &at
	}
	if withRaw {
		segs, err := decodeRaw(raw)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", ev.ID, err)
		}
		ev.Raw = segs
	}
	return &ev, nil
}

func (s *sqlStore) Get(ctx context.Context, id int64) (*filter.Event, error) {
	row := s.db.QueryRowContext(ctx, s.d.rebind("SELECT "+eventCols+", raw FROM events WHERE id = ?"), id)
	ev, err := scanEvent(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("event %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get %d: %w", id, err)
	}
	return ev, nil
}

// Search returns a page without raw PDUs (Get has them): pages are for
// listing, and raw blobs would multiply their size.
func (s *sqlStore) Search(ctx context.Context, q Query) (Page, error) {
	limit, err := q.limit()
	if err != nil {
		return Page{}, err
	}
	w, err := s.filters(ctx, &q)
	if err != nil {
		return Page{}, err
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		w.add("(t, id) < (?, ?)", c.t, c.id)
	}
	// One row more than asked tells whether there is a next page.
	qs := "SELECT " + eventCols + " FROM events" + w.String() + " ORDER BY t DESC, id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.reader(q.Text).QueryContext(ctx, s.d.rebind(qs), w.args...)
	if err != nil {
		return Page{}, fmt.Errorf("store: search: %w", err)
	}
	defer rows.Close()
	page := Page{Events: make([]*filter.Event, 0, min(limit, 64))}
	more := false
	for rows.Next() {
		if len(page.Events) == limit {
			more = true
			break
		}
		ev, err := scanEvent(rows, false)
		if err != nil {
			return Page{}, fmt.Errorf("store: search: %w", err)
		}
		page.Events = append(page.Events, ev)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("store: search: %w", err)
	}
	if more {
		last := page.Events[len(page.Events)-1]
		page.Next = encodeCursor(cursor{last.Time.UnixMicro(), last.ID})
	}
	return page, nil
}

// Campaigns: one grouped query picks the largest groups, a second counts
// their peers, actions and rules, a third fetches their sample texts (the
// newest event of each group).
func (s *sqlStore) Campaigns(ctx context.Context, q Query) ([]Campaign, error) {
	limit, err := q.limit()
	if err != nil {
		return nil, err
	}
	if q.Cursor != "" {
		return nil, fmt.Errorf("%w: campaigns are not paged (cursor given)", ErrBadQuery)
	}
	w, err := s.filters(ctx, &q)
	if err != nil {
		return nil, err
	}
	if q.Fingerprint == 0 {
		w.add("fingerprint <> 0")
	}
	qs := "SELECT fingerprint, count(*), count(DISTINCT sender), count(DISTINCT dest), min(t), max(t), max(id) FROM events" +
		w.String() + " GROUP BY fingerprint ORDER BY count(*) DESC, fingerprint LIMIT " + strconv.Itoa(limit)
	rows, err := s.reader(q.Text).QueryContext(ctx, s.d.rebind(qs), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	var out []Campaign
	byFP := map[int64]*Campaign{}
	for rows.Next() {
		var c Campaign
		var fp, first, last int64
		if err := rows.Scan(&fp, &c.Count, &c.Senders, &c.Recipients, &first, &last, &c.SampleEventID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: campaigns: %w", err)
		}
		c.Fingerprint, c.First, c.Last = filter.Fingerprint(fp), time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		c.Peers, c.Actions, c.Rules = []string{}, map[string]int64{}, map[string]int64{}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	if len(out) == 0 {
		return []Campaign{}, nil
	}
	fps := make([]any, len(out))
	ids := make([]any, len(out))
	for i := range out {
		byFP[int64(out[i].Fingerprint)] = &out[i]
		fps[i] = int64(out[i].Fingerprint)
		ids[i] = out[i].SampleEventID
	}
	in := "fingerprint IN (" + strings.TrimSuffix(strings.Repeat("?,", len(fps)), ",") + ")"
	w.add(in, fps...)
	var parts []string
	var args []any
	for _, kc := range [][2]string{{"p", "peer"}, {"a", "action"}, {"r", "rule_id"}} {
		parts = append(parts, "SELECT fingerprint, '"+kc[0]+"', "+kc[1]+", count(*) FROM events"+w.String()+" GROUP BY fingerprint, "+kc[1])
		args = append(args, w.args...)
	}
	rows, err = s.reader(q.Text).QueryContext(ctx, s.d.rebind(strings.Join(parts, " UNION ALL ")), args...)
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	for rows.Next() {
		var fp, n int64
		var kind, key string
		if err := rows.Scan(&fp, &kind, &key, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: campaigns: %w", err)
		}
		c := byFP[fp]
		if c == nil {
			continue
		}
		switch kind {
		case "p":
			c.Peers = append(c.Peers, key)
		case "a":
			c.Actions[key] = n
		case "r":
			c.Rules[key] = n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, s.d.rebind("SELECT fingerprint, text FROM events WHERE id IN ("+
		strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+")"), ids...)
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var fp int64
		var text string
		if err := rows.Scan(&fp, &text); err != nil {
			return nil, fmt.Errorf("store: campaigns: %w", err)
		}
		if c := byFP[fp]; c != nil {
			c.SampleText = text
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	for i := range out {
		slices.Sort(out[i].Peers)
	}
	return out, nil
}

// Stats returns one Series per key, sorted by key, each with its non-empty
// buckets in time order. Buckets are aligned to multiples of Step since the
// Unix epoch (hours and days fall on UTC boundaries); empty buckets are left
// out, for the caller to fill if it draws a chart.
func (s *sqlStore) Stats(ctx context.Context, q StatsQuery) ([]Series, error) {
	col, ok := statsKeys[q.By]
	if !ok {
		return nil, fmt.Errorf("%w: stats by %q: want rule, action, class, peer or direction", ErrBadQuery, q.By)
	}
	if q.Step < time.Second {
		return nil, fmt.Errorf("%w: stats step %s is under 1s", ErrBadQuery, q.Step)
	}
	if q.Cursor != "" || q.Limit != 0 {
		return nil, fmt.Errorf("%w: stats take no cursor or limit", ErrBadQuery)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Sub(q.From)/q.Step > maxBuckets {
		return nil, fmt.Errorf("%w: stats over %s in steps of %s exceed %d buckets", ErrBadQuery, q.To.Sub(q.From), q.Step, maxBuckets)
	}
	w, err := s.filters(ctx, &q.Query)
	if err != nil {
		return nil, err
	}
	step := strconv.FormatInt(q.Step.Microseconds(), 10)
	qs := "SELECT " + col + ", (t / " + step + ") * " + step + ", count(*) FROM events" + w.String() +
		" GROUP BY 1, 2 ORDER BY 1, 2"
	rows, err := s.reader(q.Text).QueryContext(ctx, s.d.rebind(qs), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	defer rows.Close()
	out := []Series{}
	points := 0
	for rows.Next() {
		var key string
		var b, n int64
		if err := rows.Scan(&key, &b, &n); err != nil {
			return nil, fmt.Errorf("store: stats: %w", err)
		}
		// Without a closed range the bucket count is unknown up front: stop
		// rather than build an answer no chart can draw.
		if points++; points > maxPoints {
			return nil, fmt.Errorf("%w: stats answer over %d points: narrow the range or widen the step", ErrBadQuery, maxPoints)
		}
		if len(out) == 0 || out[len(out)-1].Key != key {
			out = append(out, Series{Key: key})
		}
		sr := &out[len(out)-1]
		sr.Points = append(sr.Points, Point{T: time.UnixMicro(b).UTC(), N: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	return out, nil
}

func (s *sqlStore) SetQuarantine(ctx context.Context, id int64, from, to, by, upstreamMsgID string, at time.Time) error {
	if !validQuarantine(from) || !validQuarantine(to) {
		return fmt.Errorf("%w: quarantine transition %q -> %q: states are held, released, rejected, expired", ErrBadQuery, from, to)
	}
	defer s.lockWrite()()
	// Compare-and-set in one statement: two analysts releasing the same
	// message race on the WHERE, and only one update matches.
	res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE events SET quarantine = ?, decided_at = ?, decided_by = ?,
		upstream_message_id = CASE WHEN ? <> '' THEN ? ELSE upstream_message_id END
		WHERE id = ? AND quarantine = ?`), to, at.UnixMicro(), clean(by), clean(upstreamMsgID), clean(upstreamMsgID), id, from)
	if err != nil {
		return fmt.Errorf("store: set quarantine %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: set quarantine %d: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	var cur string
	err = s.db.QueryRowContext(ctx, s.d.rebind(`SELECT quarantine FROM events WHERE id = ?`), id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("event %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: set quarantine %d: %w", id, err)
	}
	return fmt.Errorf("event %d is %q, not %q: %w", id, cur, from, ErrConflict)
}

// HeldBefore returns the held events that arrived before t, oldest first,
// with their raw PDUs (expiry may answer or release them). limit <= 0 means
// MaxLimit.
func (s *sqlStore) HeldBefore(ctx context.Context, t time.Time, limit int) ([]*filter.Event, error) {
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind("SELECT "+eventCols+", raw FROM events WHERE quarantine = 'held' AND t < ? ORDER BY t, id LIMIT "+
		strconv.Itoa(limit)), t.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("store: held before: %w", err)
	}
	defer rows.Close()
	var out []*filter.Event
	for rows.Next() {
		ev, err := scanEvent(rows, true)
		if err != nil {
			return nil, fmt.Errorf("store: held before: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: held before: %w", err)
	}
	return out, nil
}

func validOverride(o *filter.Override) error {
	switch o.Kind {
	case filter.OverrideSender:
		if o.Sender == "" {
			return fmt.Errorf("%w: override of kind sender without a sender", ErrBadQuery)
		}
	case filter.OverrideFingerprint:
		if o.Fingerprint == 0 {
			return fmt.Errorf("%w: override of kind fingerprint without a fingerprint", ErrBadQuery)
		}
	case filter.OverrideSenderFingerprint:
		if o.Sender == "" || o.Fingerprint == 0 {
			return fmt.Errorf("%w: override of kind sender_fingerprint needs a sender and a fingerprint", ErrBadQuery)
		}
	default:
		return fmt.Errorf("%w: override kind %q: want sender, fingerprint or sender_fingerprint", ErrBadQuery, o.Kind)
	}
	if o.Action != filter.OverrideAllow && o.Action != filter.OverrideBlock {
		return fmt.Errorf("%w: override action %q: want allow or block", ErrBadQuery, o.Action)
	}
	return nil
}

// AddOverride stores o and sets o.ID (and o.Created, when zero).
func (s *sqlStore) AddOverride(ctx context.Context, o *filter.Override) error {
	if err := validOverride(o); err != nil {
		return err
	}
	if o.Created.IsZero() {
		o.Created = time.Now().UTC()
	}
	defer s.lockWrite()()
	err := s.db.QueryRowContext(ctx, s.d.rebind(`INSERT INTO overrides (kind, sender, fingerprint, action, reason, author, event_id, created, expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		o.Kind, clean(o.Sender), int64(o.Fingerprint), o.Action, clean(o.Reason), clean(o.Author), o.EventID,
		o.Created.UnixMicro(), micros(o.Expires)).Scan(&o.ID)
	if err != nil {
		return fmt.Errorf("store: add override: %w", err)
	}
	return nil
}

func (s *sqlStore) DeleteOverride(ctx context.Context, id int64) error {
	defer s.lockWrite()()
	res, err := s.db.ExecContext(ctx, s.d.rebind(`DELETE FROM overrides WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("store: delete override %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: delete override %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("override %d: %w", id, ErrNotFound)
	}
	return nil
}

// Overrides returns every stored override, oldest first, expired ones
// included: the caller compares Expires with its clock.
func (s *sqlStore) Overrides(ctx context.Context) ([]filter.Override, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, sender, fingerprint, action, reason, author, event_id, created, expires FROM overrides ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: overrides: %w", err)
	}
	defer rows.Close()
	out := []filter.Override{}
	for rows.Next() {
		var o filter.Override
		var fp, created int64
		var expires sql.NullInt64
		if err := rows.Scan(&o.ID, &o.Kind, &o.Sender, &fp, &o.Action, &o.Reason, &o.Author, &o.EventID, &created, &expires); err != nil {
			return nil, fmt.Errorf("store: overrides: %w", err)
		}
		o.Fingerprint, o.Created = filter.Fingerprint(fp), time.UnixMicro(created).UTC()
		if expires.Valid {
			e := time.UnixMicro(expires.Int64).UTC()
			o.Expires = &e
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: overrides: %w", err)
	}
	return out, nil
}

// AddAudit appends a and sets a.ID (and a.Time, when zero).
func (s *sqlStore) AddAudit(ctx context.Context, a *AuditEntry) error {
	if a.Time.IsZero() {
		a.Time = time.Now().UTC()
	}
	defer s.lockWrite()()
	err := s.db.QueryRowContext(ctx, s.d.rebind(`INSERT INTO audit (t, actor, action, target, reason, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		a.Time.UnixMicro(), clean(a.Actor), clean(a.Action), clean(a.Target), clean(a.Reason), clean(a.Detail)).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("store: add audit: %w", err)
	}
	return nil
}

func (s *sqlStore) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	limit, err := (&Query{Limit: q.Limit}).limit()
	if err != nil {
		return nil, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		return nil, fmt.Errorf("%w: from is after to", ErrBadQuery)
	}
	w := &where{}
	if !q.From.IsZero() {
		w.add("t >= ?", q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		w.add("t < ?", q.To.UnixMicro())
	}
	if q.Actor != "" {
		if err := validString("actor", q.Actor); err != nil {
			return nil, err
		}
		w.add("actor = ?", q.Actor)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind("SELECT id, t, actor, action, target, reason, detail FROM audit"+w.String()+
		" ORDER BY t DESC, id DESC LIMIT "+strconv.Itoa(limit)), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var a AuditEntry
		var t int64
		if err := rows.Scan(&a.ID, &t, &a.Actor, &a.Action, &a.Target, &a.Reason, &a.Detail); err != nil {
			return nil, fmt.Errorf("store: audit: %w", err)
		}
		a.Time = time.UnixMicro(t).UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	return out, nil
}

// retainChunk: Retain deletes this many events per transaction, so that it
// never holds SQLite's write lock (and so the writer) for long.
const retainChunk = 5000

func (s *sqlStore) Retain(ctx context.Context, before time.Time, maxEvents int64) (int64, error) {
	if maxEvents < 0 {
		return 0, fmt.Errorf("%w: retain max events %d is negative", ErrBadQuery, maxEvents)
	}
	var total int64
	del := func(sel string, args ...any) (int64, error) {
		defer s.lockWrite()()
		if s.d.text != nil {
			return s.deleteIndexed(ctx, sel, args)
		}
		if s.d.name == "postgres" {
			return s.retainPG(ctx, sel, args)
		}
		res, err := s.db.ExecContext(ctx, s.d.rebind("DELETE FROM events WHERE id IN ("+sel+")"), args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	if !before.IsZero() {
		for {
			n, err := del("SELECT id FROM events WHERE t < ? AND quarantine <> 'held' ORDER BY t, id LIMIT "+strconv.Itoa(retainChunk), before.UnixMicro())
			total += n
			if err != nil {
				return total, fmt.Errorf("store: retain: %w", err)
			}
			if n < retainChunk {
				break
			}
		}
	}
	if maxEvents > 0 {
		for {
			count, err := s.Count(ctx)
			if err != nil {
				return total, err
			}
			excess := count - maxEvents
			if excess <= 0 {
				break
			}
			k := min(excess, retainChunk)
			n, err := del("SELECT id FROM events WHERE quarantine <> 'held' ORDER BY t, id LIMIT " + strconv.FormatInt(k, 10))
			total += n
			if err != nil {
				return total, fmt.Errorf("store: retain: %w", err)
			}
			if n < k { // only held events left beyond the limit
				break
			}
		}
	}
	return total, nil
}

func (s *sqlStore) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

func (s *sqlStore) Close() error {
	s.stopBackfill()
	s.stopTextMerger()
	if s.stopCkpt != nil {
		s.stopCkpt()
		<-s.ckptDone
	}
	if s.d.text != nil {
		// The text writer indexes what it was handed (a bounded amount);
		// anything left is caught up at the next Open.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s.d.text.close(ctx)
		cancel()
		s.rdb.Close()
	}
	if s.direct != nil {
		unlock := s.lockWrite()
		s.direct.close() //nolint:errcheck // close_v2 defers what it cannot close yet
		s.direct = nil
		unlock()
	}
	return s.db.Close()
}
