package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

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
// batch is split across: the server's work per row (the heap, the
// b-trees) then runs on several backends at once instead of one.
// copyMinPart is the smallest part worth a connection of its own: each
// part also writes a text index row per distinct trigram of its texts
// (pgtrgm.go), ~4.6 rows per event in a part of 500, ~1 in a part of 2500,
// fewer in larger ones. The Writer already keeps pgInflight batches in
// flight, each on its own backend, so its batches (up to
// DefaultMaxBatchSize) are one part each: measured against two parts of
// 2500 with two batches in flight, ~10% less server CPU per event and
// more events a second. Larger batches (the 1M-event fixture's 20,000)
// are split. Variables for the benchmarks and tests.
var (
	copyParts   = 2
	copyMinPart = DefaultMaxBatchSize
)

// pgInflight is how many batches the Writer copies at once on
// PostgreSQL (InsertConcurrency). A variable for the benchmarks.
var pgInflight = 2

// InsertConcurrency implements ConcurrentInserter: on PostgreSQL a batch's
// transactions are its own (no lock is shared but the leakage ledger's
// rows, taken in one order at the end), so the Writer copies the next
// batch while the previous one commits.
func (s *sqlStore) InsertConcurrency() int {
	if s.d.name == "postgres" {
		return pgInflight
	}
	return 1
}

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

// copyPart copies evs in one transaction with their ledger rows. The rows
// are encoded by copyReader while the server takes them, and the postings
// are computed meanwhile on another goroutine, so the client's work
// overlaps the server's instead of following it. It returns only once
// that goroutine is done with evs, whatever failed: the caller reuses the
// slice (the Writer clears it for its next batch).
func (s *sqlStore) copyPart(ctx context.Context, evs []*filter.Event) error {
	var (
		postings *trgmPostings
		computed chan struct{} // closed once postings is set
	)
	if !s.pg.noPostings {
		computed = make(chan struct{})
		go func() {
			defer close(computed)
			postings = makePostings(evs)
		}()
		defer func() { <-computed }()
	}
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
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, &copyReader{evs: evs}, copyStatement); err != nil {
			if isUniqueViolation(err) {
				return errStoredIDs
			}
			return fmt.Errorf("store: insert: copy: %w", err)
		}
		if computed != nil {
			<-computed
			if p := postings; len(p.tris) > 0 {
				if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(appendCopyPostings(nil, p)), copyPostingsStatement); err != nil {
					return fmt.Errorf("store: insert: text index: %w", err)
				}
			}
		}
		// In (day, peer) order: parallel parts (and other nodes) lock the
		// ledger rows they share in the same order, so they wait for each
		// other's commit instead of deadlocking. One statement for all.
		if ledger := LedgerRows(evs); len(ledger) > 0 {
			slices.SortFunc(ledger, func(a, b LeakageDay) int {
				return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.Peer, b.Peer))
			})
			days, peers := make([]string, len(ledger)), make([]string, len(ledger))
			msgs, segs, amounts := make([]int64, len(ledger)), make([]int64, len(ledger)), make([]float64, len(ledger))
			for i, r := range ledger {
				days[i], peers[i], msgs[i], segs[i], amounts[i] = r.Day, r.Peer, r.Messages, r.Segments, r.Amount
			}
			if _, err := tx.Exec(ctx, ledgerUpsertArrays, days, peers, msgs, segs, amounts); err != nil {
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

// ledgerUpsertArrays is ledgerUpsert for many rows in one round trip
// (PostgreSQL), upserted in the arrays' order. The rows' (day, peer) are
// distinct (LedgerRows), as ON CONFLICT DO UPDATE requires.
const ledgerUpsertArrays = `INSERT INTO leakage (day, peer, messages, segments, amount)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::float8[])
ON CONFLICT (day, peer) DO UPDATE SET messages = leakage.messages + excluded.messages,
	segments = leakage.segments + excluded.segments, amount = leakage.amount + excluded.amount`

// copyStatement takes copyReader's rows.
var copyStatement = "COPY events (" + strings.Join(copyColumns, ", ") + ") FROM STDIN (FORMAT binary)"

// copyReader is evs in COPY's binary format, encoded as the connection
// reads it (64 KiB at a time), column by column as eventArgs gives them:
// the same values, written directly instead of through pgx's type map
// (boxing every value and planning its encoding per row was a fifth of
// the writer's CPU). The columns' types are migration 0001's (TEXT,
// BIGINT, DOUBLE PRECISION, BYTEA); TestInsertGet reads every
// column back.
type copyReader struct {
	evs    []*filter.Event
	next   int // the next row to encode; len(evs)+1 once the trailer is out
	header bool
	buf    []byte
	off    int
}

func (r *copyReader) Read(p []byte) (int, error) {
	for r.off == len(r.buf) {
		if r.next > len(r.evs) {
			return 0, io.EOF
		}
		r.buf, r.off = r.buf[:0], 0
		if !r.header {
			r.header = true
			r.buf = append(r.buf, copyHeader...)
		}
		for r.next < len(r.evs) && len(r.buf) < len(p) {
			r.buf = appendCopyRow(r.buf, r.evs[r.next])
			r.next++
		}
		if r.next == len(r.evs) {
			r.buf = append(r.buf, 0xff, 0xff) // the trailer: a field count of -1
			r.next++
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// copyPostingsStatement takes appendCopyPostings' rows.
const copyPostingsStatement = "COPY event_trgm (tri, lo, hi, n, ids) FROM STDIN (FORMAT binary)"

// appendCopyPostings appends p's event_trgm rows in COPY's binary format,
// header and trailer included: COPY took a part's postings in about half
// the time of insertPostings' INSERT ... SELECT FROM unnest(...).
func appendCopyPostings(b []byte, p *trgmPostings) []byte {
	b = append(b, copyHeader...)
	for i, k := range p.tris {
		b = binary.BigEndian.AppendUint16(b, 5)
		for _, v := range [...]int64{k, p.lo, p.hi} {
			b = appendCopyInt64(b, v)
		}
		b = binary.BigEndian.AppendUint32(append(b, 0, 0, 0, 4), uint32(p.ns[i]))
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.ids[i])))
		b = append(b, p.ids[i]...)
	}
	return append(b, 0xff, 0xff)
}

// copyHeader starts COPY's binary format: the signature, no flags, no
// header extension.
const copyHeader = "PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00"

// appendCopyRow appends ev's row: the field count, then each field's
// length (-1: NULL) and bytes.
func appendCopyRow(b []byte, ev *filter.Event) []byte {
	i64 := appendCopyInt64
	str := func(b []byte, v string) []byte {
		v = clean(v)
		return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
	}
	b = binary.BigEndian.AppendUint16(b, nEventCols)
	b = i64(b, ev.ID)
	b = i64(b, ev.Time.UnixMicro())
	for _, v := range [...]string{ev.Direction, ev.Peer, ev.SystemID, ev.PeerClass, ev.Class, ev.Sender, ev.SenderKind, ev.Dest, ev.DestCountry} {
		b = str(b, v)
	}
	b = i64(b, int64(ev.DestCount))
	b = str(b, ev.Text)
	for _, v := range [...]int64{b2i(ev.TextMasked), int64(ev.DataCoding), int64(ev.Segments), int64(ev.Fingerprint)} {
		b = i64(b, v)
	}
	b = str(b, ev.RuleID)
	b = str(b, ev.Action)
	b = i64(b, b2i(ev.Monitor))
	b = i64(b, b2i(ev.Sampled))
	b = str(b, ev.Reason)
	b = str(b, ev.Evidence)
	b = str(b, ev.Highlight)
	b = i64(b, int64(math.Float64bits(ev.Leakage))) // DOUBLE PRECISION: the same 8 bytes
	b = i64(b, int64(ev.Status))
	for _, v := range [...]string{ev.MessageID, ev.Quarantine, ev.UpstreamMessageID} {
		b = str(b, v)
	}
	if ev.DecidedAt == nil {
		b = append(b, 0xff, 0xff, 0xff, 0xff)
	} else {
		b = i64(b, ev.DecidedAt.UnixMicro())
	}
	b = str(b, ev.DecidedBy)
	if len(ev.Raw) == 0 {
		return append(b, 0xff, 0xff, 0xff, 0xff)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(rawSize(ev.Raw)))
	return appendRaw(b, ev.Raw)
}

// appendCopyInt64 appends an 8-byte field (BIGINT, or a float64's bits).
func appendCopyInt64(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0, 0, 0, 8), uint64(v))
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
