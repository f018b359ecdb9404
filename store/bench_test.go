package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
)

// Benchmarks (figures in docs/benchmarks.md and store/README.md; `make
// bench-store`, `make bench-search`):
//
//	go test -run '^$' -bench Writer -benchtime 100000x ./store/   # writer
//	go test -run '^$' -bench Search1M -benchtime 20x ./store/     # queries on 1M events
//
// The writer benchmarks run each batch size twice in one run: path=fast is
// what Insert does (SQLite: single-row statements; PostgreSQL: COPY),
// path=careful the multi-row INSERT ... ON CONFLICT path (PostgreSQL's
// only path before; SQLite's previous fast path was the same multi-row
// statement as INSERT OR IGNORE), so the ratio of the two is measured under
// the same load. SQLite's batch1000/path=fast runs the writer's defaults
// (batches grow to DefaultMaxBatchSize behind the backlog) and
// batch1000/path=previous fixed batches of 1000, as before. The 1M-event database is built once with the fast path (about
// a minute) and kept in $SMSFW_BENCH_DB (default
// $TMPDIR/smsfw-bench-1m-v2.db); a postgres:// DSN there benchmarks
// PostgreSQL instead. Benchmarks never run in `go test` without -bench.

// benchEvent is a realistic event: ~100 characters of text, two segments
// of raw PDU.
func benchEvent(r *rand.Rand, id int64, at time.Time) *filter.Event {
	tpl := r.IntN(len(benchTemplates))
	variant := r.IntN(25)
	fp := uint64(0)
	if tpl%5 != 0 { // a fifth of the traffic has no campaign fingerprint
		fp = uint64(tpl*1000+variant)*0x9E3779B97F4A7C15 | 1
	}
	text := fmt.Sprintf(benchTemplates[tpl], benchWords[variant%len(benchWords)], r.IntN(1000000), benchWords[r.IntN(len(benchWords))])
	raw := make([]byte, 60+len(text))
	for i := range raw {
		raw[i] = byte(i)
	}
	return &filter.Event{
		ID: id, Time: at,
		Direction: []string{"mt", "mt", "mt", "mo"}[r.IntN(4)],
		Peer:      fmt.Sprintf("peer%02d", r.IntN(20)), SystemID: "sys", PeerClass: "a2p",
		Class:  []string{"a2p", "p2p", "mo", "receipt"}[r.IntN(4)],
		Sender: fmt.Sprintf("S%04d", int(r.ExpFloat64()*500)%5000), SenderKind: "alpha",
		Dest: fmt.Sprintf("4477%07d", r.IntN(200000)), DestCountry: "GB",
		Text: text, DataCoding: 0, Segments: 2, Fingerprint: filter.Fingerprint(fp),
		RuleID: fmt.Sprintf("rule.%02d", r.IntN(40)),
		Action: []string{"allow", "flag", "reject", "drop", "quarantine", "throttle"}[r.IntN(6)],
		Reason: "matched", Evidence: "evidence", Status: 0, MessageID: fmt.Sprintf("m%d", id),
		Raw: [][]byte{raw[:len(raw)/2], raw[len(raw)/2:]},
	}
}

var benchTemplates = []string{
	"Your %s account has been suspended. Verify now at http://secure-%d.example/%s",
	"Dear customer, your parcel %s is waiting: pay the fee of %d at %s",
	"Your verification code is %[2]d. Do not share it. %[1]s %[3]s",
	"WIN a %s! Reply YES to %d to claim your prize before %s",
	"Hi mum, I lost my phone, this is my new number %[2]d, please text %[1]s %[3]s",
	"Ваш код подтверждения %[2]d для %[1]s. Никому не сообщайте %[3]s",
	"%s: payment of %d EUR received, ref %s. Thank you",
	"Reminder: your appointment with %s on %d is confirmed. %s",
	"Loan approved! Get %[2]d today with %[1]s, no checks %[3]s",
	"Votre colis %s est en attente, frais %d, suivez %s",
}

var benchWords = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
	"kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"}

func BenchmarkWriterSQLite(b *testing.B) {
	benchWriterPaths(b, func(b *testing.B) string { return filepath.Join(b.TempDir(), "events.db") })
}

// BenchmarkWriterPostgres: the same through PostgreSQL, when
// SMSFW_TEST_POSTGRES is set (a fresh schema per run).
func BenchmarkWriterPostgres(b *testing.B) {
	// path=previous: PostgreSQL's fast path before the trigram postings
	// (pg_trgm's GIN index, its pending list merged by the store's own
	// connection), alternating with path=fast in one run. defaults: the
	// writer's defaults (what the proxy runs: BatchSize 1000 growing to
	// DefaultMaxBatchSize behind a backlog, the store's InsertConcurrency
	// batches in flight).
	b.Run("defaults/path=fast", func(b *testing.B) { benchWriterDSN(b, pgSchemaDSN(b), 0, false, false) })
	for _, bs := range []int{1000, 5000} {
		for _, path := range []string{"fast", "previous", "careful"} {
			b.Run(fmt.Sprintf("batch%d/path=%s", bs, path), func(b *testing.B) {
				benchWriterDSN(b, pgSchemaDSN(b), bs, path == "careful", path == "previous")
			})
		}
	}
}

// BenchmarkWriterPostgresPaced: b.N events offered at a steady
// 50,000 a second (the issue-16 target, a millisecond's worth at a time)
// to a writer with the defaults, as the proxy would: what it cannot queue
// it drops. Sustained means dropped 0 and the queue bounded, e.g.
// -benchtime 500000x (ten seconds).
func BenchmarkWriterPostgresPaced(b *testing.B) {
	const rate = 50_000
	s, err := Open(context.Background(), pgSchemaDSN(b), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	evs := newBenchEvents(b.N)
	w := NewWriter(s, WriterOptions{PeerRate: -1})
	b.ResetTimer()
	t := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent, dropped, maxQueue := 0, 0, 0
	for sent < b.N {
		<-tick.C
		for due := min(b.N, int(time.Since(t).Seconds()*rate)+1); sent < due; sent++ {
			if !w.Emit(evs[sent]) {
				dropped++
			}
		}
		maxQueue = max(maxQueue, len(w.ch))
	}
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	el := time.Since(t)
	b.StopTimer()
	b.ReportMetric(float64(b.N-dropped)/el.Seconds(), "events/s")
	b.ReportMetric(float64(dropped), "dropped")
	b.ReportMetric(float64(maxQueue), "max-queue")
	if n, _ := s.Count(context.Background()); n != int64(b.N-dropped) {
		b.Fatalf("stored %d of %d", n, b.N-dropped)
	}
}

// benchWriterPaths runs the writer at two batch sizes, through the fast
// insert path and through the careful one, alternating, each on a fresh
// database. At BatchSize 1000, path=fast lets batches grow to
// DefaultMaxBatchSize behind the backlog (the writer's defaults, what the
// proxy runs) and path=previous keeps them at 1000 (as before).
func benchWriterPaths(b *testing.B, dsn func(b *testing.B) string) {
	for _, bs := range []int{1000, 5000} {
		for _, path := range []string{"fast", "previous", "careful"} {
			if path == "previous" && bs != 1000 {
				continue
			}
			b.Run(fmt.Sprintf("batch%d/path=%s", bs, path), func(b *testing.B) {
				if path == "fast" && bs == 1000 {
					defer func() { benchMaxBatch = 0 }()
					benchMaxBatch = DefaultMaxBatchSize
				}
				benchWriterDSN(b, dsn(b), bs, path == "careful", false)
			})
		}
	}
}

// benchMaxBatch is the WriterOptions.MaxBatchSize of benchWriterDSN (0:
// BatchSize).
var benchMaxBatch int

// newBenchEvents makes n events a microsecond apart from now, the same
// sequence in every run.
func newBenchEvents(n int) []*filter.Event {
	r := rand.New(rand.NewPCG(1, 1))
	evs := make([]*filter.Event, n)
	start := time.Now()
	for i := range evs {
		evs[i] = benchEvent(r, int64(i+1), start.Add(time.Duration(i)*time.Microsecond))
	}
	return evs
}

func benchWriterDSN(b *testing.B, dsn string, batch int, careful, pgPrevious bool) {
	s, err := Open(context.Background(), dsn, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.(*sqlStore).carefulOnly = careful
	if pgPrevious {
		pgPreviousPath(b, s.(*sqlStore))
	}
	evs := newBenchEvents(b.N)
	// No per-peer rate: the benchmark measures the store, and its 20
	// peers' default 2,000 events/s each (bursts of two seconds) capped
	// runs of more than ~150,000 events at 40,000/s after the burst.
	w := NewWriter(s, WriterOptions{BatchSize: batch, MaxBatchSize: benchMaxBatch, PeerRate: -1})
	b.ResetTimer()
	ss := s.(*sqlStore)
	srv0 := serverCPU(ss)
	t, cpu0 := time.Now(), cpuTime()
	for _, ev := range evs {
		// Sustained load: when the queue is full the producer waits (in
		// the proxy it would drop; here we measure what the store absorbs).
		for !w.Emit(ev) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if t := s.(*sqlStore).d.text; t != nil {
		// Sustained means the text index keeps up too: the time runs until
		// it has indexed everything.
		for t.lag.Load() > 0 {
			select {
			case <-t.progress:
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	el, cpu := time.Since(t), cpuTime()-cpu0
	srv := serverCPU(ss)
	b.StopTimer()
	if srv != nil {
		// The PostgreSQL backends of this database (the server's shared
		// processes, WAL writer and checkpointer, serve the neighbours too).
		var d time.Duration
		for pid, c := range srv {
			d += c - srv0[pid]
		}
		b.ReportMetric(float64(d.Microseconds())/float64(b.N), "server-cpu-us/event")
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	// CPU per event (user+system, all threads): the machine is shared, so
	// wall-clock rates vary with the neighbours' load; this varies less.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/event")
	if n, _ := s.Count(context.Background()); n != int64(b.N) {
		b.Fatalf("stored %d of %d", n, b.N)
	}
}

const benchEvents = 1_000_000

var benchDays = 30

// benchEpoch is midnight UTC at the start of the benchmark data.
var benchEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	bench1MOnce  sync.Once
	bench1MStore Store
	bench1MErr   error
)

// open1M opens (building if needed) the 1M-event database: 30 days of
// events, ~33k a day, 5000 senders (skewed), 200k recipients, 40 rules.
func open1M(b *testing.B) Store {
	bench1MOnce.Do(func() {
		dsn := os.Getenv("SMSFW_BENCH_DB")
		if dsn == "" {
			dsn = filepath.Join(os.TempDir(), "smsfw-bench-1m-v2.db")
		}
		ctx := context.Background()
		s, err := Open(ctx, dsn, zap.NewNop())
		if err != nil {
			bench1MErr = err
			return
		}
		if n, err := s.Count(ctx); err == nil && n == benchEvents {
			bench1MStore = s
			return
		} else if n != 0 {
			s.Close()
			bench1MErr = fmt.Errorf("%s holds %d events, not %d: remove it", dsn, n, benchEvents)
			return
		}
		t := time.Now()
		r := rand.New(rand.NewPCG(7, 7))
		span := time.Duration(benchDays) * 24 * time.Hour
		const chunk = 20_000 // events per Insert (one transaction, the fast path)
		for i := 0; i < benchEvents; i += chunk {
			evs := make([]*filter.Event, chunk)
			for j := range evs {
				k := i + j
				evs[j] = benchEvent(r, int64(k+1), benchEpoch.Add(span/benchEvents*time.Duration(k)))
			}
			if err := s.Insert(ctx, evs); err != nil {
				s.Close()
				bench1MErr = err
				return
			}
		}
		if ss, ok := s.(*sqlStore); ok {
			// Planner statistics, as a long-running database would have
			// (PostgreSQL's autovacuum does the same by itself).
			if ss.d.name == "sqlite" {
				_, err = ss.db.Exec(`ANALYZE`)
			} else {
				_, err = ss.db.Exec(`VACUUM ANALYZE events`)
			}
			if err != nil {
				bench1MErr = err
				return
			}
		}
		if ss, ok := s.(*sqlStore); ok && ss.d.text != nil {
			// Searches are measured on an index that has caught up, not on
			// the tail the text writer has yet to index.
			for ss.d.text.lag.Load() > 0 {
				select {
				case <-ss.d.text.progress:
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		fmt.Fprintf(os.Stderr, "built %d events in %s (%s)\n", benchEvents, time.Since(t).Round(time.Second), dsn)
		bench1MStore = s
	})
	if bench1MErr != nil {
		b.Fatal(bench1MErr)
	}
	return bench1MStore
}

func BenchmarkSearch1M(b *testing.B) {
	s := open1M(b)
	day := benchEpoch.Add(10 * 24 * time.Hour)
	ctx := context.Background()
	searches := []struct {
		name string
		q    Query
	}{
		{"newest", Query{}},
		{"sender", Query{Sender: "S0042"}},
		{"sender_rare", Query{Sender: "S3999"}},
		{"rule_day", Query{RuleID: "rule.07", From: day, To: day.Add(24 * time.Hour)}},
		{"text_word", Query{Text: "PARCEL"}},
		{"text_rare", Query{Text: "code is 4242"}}, // a dozen among 1M
		{"text_none", Query{Text: "no such text"}},
		{"text_day", Query{Text: "hotel", From: day, To: day.Add(24 * time.Hour)}},
	}
	for _, c := range searches {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				p, err := s.Search(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(p.Events)
			}
			b.ReportMetric(float64(n), "hits")
		})
	}
	b.Run("page10", func(b *testing.B) {
		// Ten pages deep by cursor: keyset paging costs the same per page.
		p, _ := s.Search(ctx, Query{RuleID: "rule.03"})
		for range 9 {
			p, _ = s.Search(ctx, Query{RuleID: "rule.03", Cursor: p.Next})
		}
		for b.Loop() {
			if _, err := s.Search(ctx, Query{RuleID: "rule.03", Cursor: p.Next}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("campaigns_day", func(b *testing.B) {
		for b.Loop() {
			cs, err := s.Campaigns(ctx, Query{From: day, To: day.Add(24 * time.Hour)})
			if err != nil || len(cs) == 0 {
				b.Fatal(len(cs), err)
			}
		}
	})
	b.Run("campaigns_all", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Campaigns(ctx, Query{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, by := range []string{"rule", "action"} {
		b.Run("stats_hourly_day_by_"+by, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Stats(ctx, StatsQuery{Query: Query{From: day, To: day.Add(24 * time.Hour)}, Step: time.Hour, By: by}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("stats_hourly_30days_by_rule", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Stats(ctx, StatsQuery{Step: time.Hour, By: "rule"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Count(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// serverCPU is the CPU time (user+system) of each PostgreSQL backend
// connected to s's database, read from /proc (the server runs on this
// machine in the benchmarks), or nil on SQLite or when it cannot be read.
func serverCPU(s *sqlStore) map[int]time.Duration {
	if s.d.name != "postgres" {
		return nil
	}
	rows, err := s.db.Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return nil
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		// Fields after the command (in parentheses): utime and stime are
		// the 12th and 13th, in clock ticks (100 a second on Linux).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			return nil
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(u+st) * 10 * time.Millisecond
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
