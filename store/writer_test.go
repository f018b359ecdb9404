package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/filter"
)

// storedLog records the Stored calls of events, and fails the test on a
// second call for the same event.
type storedLog struct {
	t    testing.TB
	mu   sync.Mutex
	errs map[int64]error
}

func newStoredLog(t testing.TB) *storedLog { return &storedLog{t: t, errs: map[int64]error{}} }

func (l *storedLog) event(id int64) *filter.Event {
	return &filter.Event{ID: id, Time: t0.Add(time.Duration(id) * time.Millisecond), Text: "hello", Stored: func(err error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, dup := l.errs[id]; dup {
			l.t.Errorf("Stored called twice for event %d", id)
		}
		l.errs[id] = err
	}}
}

func (l *storedLog) snapshot() map[int64]error {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[int64]error, len(l.errs))
	for k, v := range l.errs {
		m[k] = v
	}
	return m
}

func sqliteStore(t *testing.T) Store {
	return openTest(t, filepath.Join(t.TempDir(), "events.db"))
}

func val(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

func TestWriterNoLossOnClose(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		m := NewWriterMetrics(prometheus.NewRegistry())
		w := NewWriter(s, WriterOptions{BatchSize: 100, FlushInterval: time.Hour, Metrics: m, Logger: zaptest.NewLogger(t)})
		l := newStoredLog(t)
		const n = 2500
		for i := range n {
			if !w.Emit(l.event(int64(i + 1))) {
				t.Fatalf("emit %d refused", i)
			}
		}
		// FlushInterval is an hour: only Close's drain can write the tail.
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c, err := s.Count(context.Background()); err != nil || c != n {
			t.Fatalf("stored %d (%v), want %d", c, err, n)
		}
		got := l.snapshot()
		for i := int64(1); i <= n; i++ {
			if err, ok := got[i]; !ok || err != nil {
				t.Fatalf("event %d: Stored called %v, err %v", i, ok, err)
			}
		}
		if val(m.Queued) != n || val(m.Written) != n || val(m.QueueLength) != 0 {
			t.Errorf("queued %v written %v queue %v", val(m.Queued), val(m.Written), val(m.QueueLength))
		}
		// After Close: refused, counted, told.
		if w.Emit(l.event(n + 1)) {
			t.Error("emit after close accepted")
		}
		if err := l.snapshot()[n+1]; !errors.Is(err, ErrWriterClosed) {
			t.Errorf("emit after close: Stored(%v)", err)
		}
		if val(m.Dropped.WithLabelValues(string(DropClosed))) != 1 {
			t.Error("closed drop not counted")
		}
		if err := w.Close(context.Background()); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
}

// gateStore blocks Insert until released, and tells when an insert starts.
type gateStore struct {
	Store
	entered chan int
	release chan struct{}
	mu      sync.Mutex
	n       int
	fail    int   // fail this many inserts first
	failErr error // with this error
}

func (g *gateStore) Insert(ctx context.Context, evs []*filter.Event) error {
	if g.entered != nil {
		g.entered <- len(evs)
	}
	if g.release != nil {
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	g.mu.Lock()
	g.n++
	fail := g.n <= g.fail || g.fail < 0
	g.mu.Unlock()
	if fail {
		return g.failErr
	}
	return g.Store.Insert(ctx, evs)
}

func TestWriterQueueFull(t *testing.T) {
	s := &gateStore{Store: sqliteStore(t), entered: make(chan int, 10), release: make(chan struct{})}
	m := NewWriterMetrics(nil)
	w := NewWriter(s, WriterOptions{QueueSize: 4, BatchSize: 1, Metrics: m, Logger: zaptest.NewLogger(t)})
	l := newStoredLog(t)
	if !w.Emit(l.event(1)) {
		t.Fatal("first emit refused")
	}
	<-s.entered // the writer holds event 1 in Insert; the queue is empty
	for i := int64(2); i <= 5; i++ {
		if !w.Emit(l.event(i)) {
			t.Fatalf("emit %d refused with room in the queue", i)
		}
	}
	for i := int64(6); i <= 8; i++ {
		if w.Emit(l.event(i)) {
			t.Fatalf("emit %d accepted into a full queue", i)
		}
		// Stored is called by Emit itself, before it returns.
		if err := l.snapshot()[i]; !errors.Is(err, ErrQueueFull) {
			t.Fatalf("event %d: Stored(%v), want ErrQueueFull", i, err)
		}
	}
	if got := val(m.Dropped.WithLabelValues(string(DropQueueFull))); got != 3 {
		t.Errorf("queue_full drops = %v, want 3", got)
	}
	close(s.release)
	go func() {
		for range s.entered {
		}
	}()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(s.entered)
	got := l.snapshot()
	for i := int64(1); i <= 5; i++ {
		if err, ok := got[i]; !ok || err != nil {
			t.Errorf("event %d: %v %v", i, ok, err)
		}
	}
	if c, _ := s.Count(context.Background()); c != 5 {
		t.Errorf("stored %d, want 5", c)
	}
}

var errDown = errors.New("database down")

func TestWriterStoreError(t *testing.T) {
	cases := []struct {
		name      string
		fail      int
		wantErr   bool
		retries   int
		minErrors float64
	}{
		{"recovers within retries", 2, false, 3, 2},
		{"drops after retries", -1, true, 2, 3},
		{"no retries", -1, true, -1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &gateStore{Store: sqliteStore(t), fail: c.fail, failErr: errDown}
			m := NewWriterMetrics(nil)
			// One batch: BatchSize is the event count and FlushInterval is
			// long, so the writer holds the events until it has all three.
			w := NewWriter(s, WriterOptions{BatchSize: 3, FlushInterval: time.Hour, Retries: c.retries, RetryBackoff: time.Microsecond, Metrics: m, Logger: zaptest.NewLogger(t)})
			l := newStoredLog(t)
			for i := int64(1); i <= 3; i++ {
				w.Emit(l.event(i))
			}
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := l.snapshot()
			for i := int64(1); i <= 3; i++ {
				err, ok := got[i]
				if !ok || (err != nil) != c.wantErr || (c.wantErr && !errors.Is(err, errDown)) {
					t.Errorf("event %d: called %v err %v", i, ok, err)
				}
			}
			dropped := val(m.Dropped.WithLabelValues(string(DropStoreError)))
			if c.wantErr && (dropped != 3 || val(m.Written) != 0) || !c.wantErr && (dropped != 0 || val(m.Written) != 3) {
				t.Errorf("dropped %v written %v", dropped, val(m.Written))
			}
			if e := val(m.WriteErrors); e < c.minErrors {
				t.Errorf("write errors %v, want >= %v", e, c.minErrors)
			}
		})
	}
}

// Close's deadline with the writer stuck in Insert (one batch in flight,
// and two): every event is told, none was stored, all counted as closed
// drops.
func TestWriterCloseDeadline(t *testing.T) {
	for _, tt := range []struct {
		name     string
		inflight int // the store's InsertConcurrency (0: none)
		events   int64
	}{
		{"one batch in flight", 0, 5},
		{"two batches in flight", 2, 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gs := &gateStore{Store: sqliteStore(t), entered: make(chan int, 100), release: make(chan struct{})} // never released
			var s Store = gs
			if tt.inflight > 0 {
				s = &concurrentGate{gateStore: gs, n: tt.inflight}
			}
			m := NewWriterMetrics(nil)
			w := NewWriter(s, WriterOptions{BatchSize: 2, Metrics: m, Logger: zaptest.NewLogger(t)})
			l := newStoredLog(t)
			for i := int64(1); i <= tt.events; i++ {
				if !w.Emit(l.event(i)) {
					t.Fatal("refused")
				}
			}
			for range max(tt.inflight, 1) {
				<-gs.entered // every flusher stuck in Insert
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := w.Close(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("close: %v, want context.Canceled", err)
			}
			got := l.snapshot()
			for i := int64(1); i <= tt.events; i++ {
				if err := got[i]; !errors.Is(err, ErrWriterClosed) {
					t.Errorf("event %d: Stored(%v), want ErrWriterClosed", i, err)
				}
			}
			if d := val(m.Dropped.WithLabelValues(string(DropClosed))); d != float64(tt.events) {
				t.Errorf("closed drops %v, want %d", d, tt.events)
			}
		})
	}
}

// Many goroutines emit while Close runs: each event is either refused
// (Stored(err) by Emit) or written; none is lost or told twice.
func TestWriterConcurrentEmit(t *testing.T) {
	s := sqliteStore(t)
	m := NewWriterMetrics(nil)
	// No per-peer rate: all events are one peer's, and a writer fast
	// enough to keep the queue from filling would meet it instead.
	w := NewWriter(s, WriterOptions{QueueSize: 512, BatchSize: 64, FlushInterval: time.Millisecond, PeerRate: -1, Metrics: m, Logger: zaptest.NewLogger(t)})
	l := newStoredLog(t)
	const workers, per = 8, 1000
	var accepted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range per {
				if w.Emit(l.event(int64(g*per + i + 1))) {
					accepted.Add(1)
				}
			}
		}()
	}
	close(start)
	// Close while some workers are still emitting.
	closeErr := make(chan error)
	go func() { closeErr <- w.Close(context.Background()) }()
	wg.Wait()
	if err := <-closeErr; err != nil {
		t.Fatal(err)
	}
	got := l.snapshot()
	if len(got) != workers*per {
		t.Fatalf("Stored called for %d events, want %d", len(got), workers*per)
	}
	var ok int64
	for _, err := range got {
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrQueueFull) && !errors.Is(err, ErrWriterClosed) {
			t.Errorf("unexpected error %v", err)
		}
	}
	c, _ := s.Count(context.Background())
	if ok != accepted.Load() || c != ok {
		t.Errorf("accepted %d, stored ok %d, in store %d", accepted.Load(), ok, c)
	}
	drops := val(m.Dropped.WithLabelValues(string(DropQueueFull))) + val(m.Dropped.WithLabelValues(string(DropClosed)))
	if val(m.Queued) != float64(accepted.Load()) || val(m.Written) != float64(ok) || drops != float64(workers*per)-float64(ok) {
		t.Errorf("metrics: queued %v written %v drops %v", val(m.Queued), val(m.Written), drops)
	}
}

// retainSpy tells when Retain ran.
type retainSpy struct {
	Store
	ran chan int64
}

func (r *retainSpy) Retain(ctx context.Context, before time.Time, max int64) (int64, error) {
	n, err := r.Store.Retain(ctx, before, max)
	r.ran <- n
	return n, err
}

func TestRunRetention(t *testing.T) {
	base := sqliteStore(t)
	old := time.Now().Add(-48 * time.Hour)
	evs := []*filter.Event{
		{ID: 1, Time: old}, {ID: 2, Time: old, Quarantine: filter.QuarantineHeld}, {ID: 3, Time: time.Now()},
	}
	if err := base.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	s := &retainSpy{Store: base, ran: make(chan int64, 1)}
	m := NewWriterMetrics(nil)
	w := NewWriter(s, WriterOptions{Metrics: m, Logger: zaptest.NewLogger(t)})
	defer w.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.RunRetention(ctx, time.Hour, 24*time.Hour, 0); close(done) }()
	if n := <-s.ran; n != 1 {
		t.Errorf("first run deleted %d, want 1", n)
	}
	cancel()
	<-done
	if val(m.RetentionDeleted) != 1 {
		t.Errorf("retention metric %v", val(m.RetentionDeleted))
	}
	if c, _ := base.Count(context.Background()); c != 2 {
		t.Errorf("left %d, want 2 (the held one stays)", c)
	}
}

// The byte budgets: one peer's events stop at PeerQueueBytes (peer_budget)
// while another peer's are still taken, all peers' at QueueBytes (bytes);
// every refused event is told (a held message is then answered 0x58), and
// the bytes come back once the batch is written.
func TestWriterByteBudgets(t *testing.T) {
	s := &gateStore{Store: sqliteStore(t), entered: make(chan int, 100), release: make(chan struct{})}
	m := NewWriterMetrics(nil)
	w := NewWriter(s, WriterOptions{QueueBytes: 300_000, PeerQueueBytes: 100_000, BatchSize: 1, Metrics: m, Logger: zaptest.NewLogger(t)})
	l := newStoredLog(t)
	ev := func(id int64, peer string, text int) *filter.Event {
		e := l.event(id)
		e.Peer, e.Text = peer, strings.Repeat("x", text)
		return e
	}
	// Event 1 keeps the writer in Insert, so what follows stays queued.
	if !w.Emit(ev(1, "other", 10)) {
		t.Fatal("first emit refused")
	}
	<-s.entered
	size := int64(ev(0, "bad", 10_000).Size())
	id := int64(2)
	var taken, refused int
	for ; refused < 10; id++ {
		if w.Emit(ev(id, "bad", 10_000)) {
			taken++
			continue
		}
		refused++
		if err := l.snapshot()[id]; !errors.Is(err, ErrPeerBudget) {
			t.Fatalf("event %d: Stored(%v), want ErrPeerBudget", id, err)
		}
	}
	_, bad := w.QueuedBytes("bad")
	if want := int(100_000 / size); taken != want || bad > 100_000 {
		t.Fatalf("peer took %d events (%d bytes), want %d (<= 100000)", taken, bad, want)
	}
	if got := val(m.Dropped.WithLabelValues(string(DropPeerBudget))); got != 10 {
		t.Errorf("peer_budget drops %v, want 10", got)
	}
	// Other peers still get in, until the queue as a whole is full.
	var good int
	for p := 0; ; p++ {
		e := ev(id, fmt.Sprintf("good-%d", p%5), 10_000)
		id++
		if !w.Emit(e) {
			if err := l.snapshot()[e.ID]; !errors.Is(err, ErrQueueBytes) {
				t.Fatalf("event %d: Stored(%v), want ErrQueueBytes", e.ID, err)
			}
			break
		}
		good++
	}
	total, _ := w.QueuedBytes("")
	if good < 15 || total > 300_000 || val(m.QueueBytes) != float64(total) {
		t.Fatalf("other peers took %d events; queued %d bytes (gauge %v)", good, total, val(m.QueueBytes))
	}
	if got := val(m.Dropped.WithLabelValues(string(DropBytes))); got != 1 {
		t.Errorf("bytes drops %v, want 1", got)
	}
	close(s.release)
	go func() {
		for range s.entered {
		}
	}()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(s.entered)
	if total, bad := w.QueuedBytes("bad"); total != 0 || bad != 0 || val(m.QueueBytes) != 0 {
		t.Fatalf("after the drain: %d bytes queued, %d of them the peer's", total, bad)
	}
	if c, _ := s.Count(context.Background()); c != int64(1+taken+good) {
		t.Errorf("stored %d, want %d", c, 1+taken+good)
	}
}

// A peer with nothing queued gets one event in whatever its size, so an
// oversized one (a held message of many long segments) cannot be refused
// forever; the next one waits for it to be written.
func TestWriterOversizedEvent(t *testing.T) {
	s := &gateStore{Store: sqliteStore(t), entered: make(chan int, 10), release: make(chan struct{})}
	w := NewWriter(s, WriterOptions{QueueBytes: 50_000, PeerQueueBytes: 10_000, BatchSize: 1, Logger: zaptest.NewLogger(t)})
	l := newStoredLog(t)
	big := l.event(1)
	big.Peer, big.Quarantine, big.Raw = "p", filter.QuarantineHeld, [][]byte{make([]byte, 40_000)}
	if !w.Emit(big) {
		t.Fatal("an oversized event of a peer with nothing queued was refused")
	}
	<-s.entered
	small := l.event(2)
	small.Peer = "p"
	if w.Emit(small) {
		t.Fatal("the peer got past its budget")
	}
	other := l.event(3)
	other.Peer = "q"
	if !w.Emit(other) {
		t.Fatal("another peer refused with room in the queue")
	}
	close(s.release)
	go func() {
		for range s.entered {
		}
	}()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(s.entered)
	got := l.snapshot()
	if got[1] != nil || !errors.Is(got[2], ErrPeerBudget) || got[3] != nil {
		t.Fatalf("stored: %v", got)
	}
}

// One peer's events beyond its rate are dropped (counted, Stored told);
// another peer's and quarantine events are taken.
func TestWriterPeerRate(t *testing.T) {
	s := &gateStore{Store: sqliteStore(t), entered: make(chan int, 1000), release: make(chan struct{})}
	m := NewWriterMetrics(nil)
	w := NewWriter(s, WriterOptions{PeerRate: 100, BatchSize: 1, Metrics: m, Logger: zaptest.NewLogger(t)})
	l := newStoredLog(t)
	var taken, refused int
	for id := int64(1); id <= 1000; id++ {
		e := l.event(id)
		e.Peer = "flood"
		if w.Emit(e) {
			taken++
		} else {
			refused++
			if err := l.snapshot()[id]; !errors.Is(err, ErrPeerRate) {
				t.Fatalf("event %d: Stored(%v), want ErrPeerRate", id, err)
			}
		}
	}
	// Two seconds' worth of burst (200) plus what refilled meanwhile.
	if taken < 200 || taken > 260 {
		t.Fatalf("flood: %d taken, %d refused", taken, refused)
	}
	other := l.event(5000)
	other.Peer = "quiet"
	held := l.event(5001)
	held.Peer, held.Quarantine = "flood", filter.QuarantineHeld
	if !w.Emit(other) || !w.Emit(held) {
		t.Fatal("another peer's event or a quarantine event refused")
	}
	if v := testutil.ToFloat64(m.Dropped.WithLabelValues(string(DropPeerRate))); int(v) != refused {
		t.Fatalf("dropped{peer_rate} = %v, refused %d", v, refused)
	}
	close(s.release)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Behind a backlog a batch takes whatever is queued, up to MaxBatchSize;
// an explicit BatchSize alone keeps batches at that size.
func TestWriterBatchGrowsBehindBacklog(t *testing.T) {
	cases := []struct {
		name       string
		o          WriterOptions
		queued     int
		wantSecond int // events of the batch taken while the first was stuck
	}{
		{"defaults grow to DefaultMaxBatchSize", WriterOptions{}, 12000, DefaultMaxBatchSize},
		{"up to MaxBatchSize", WriterOptions{BatchSize: 10, MaxBatchSize: 25}, 100, 25},
		{"all that is queued", WriterOptions{BatchSize: 10, MaxBatchSize: 25}, 18, 18},
		{"explicit BatchSize stays fixed", WriterOptions{BatchSize: 10}, 100, 10},
		{"MaxBatchSize below BatchSize is BatchSize", WriterOptions{BatchSize: 10, MaxBatchSize: 3}, 100, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &gateStore{Store: sqliteStore(t), entered: make(chan int, 1000), release: make(chan struct{})}
			o := c.o
			o.QueueSize, o.FlushInterval, o.PeerRate, o.Logger = 20000, time.Hour, -1, zaptest.NewLogger(t)
			w := NewWriter(s, o)
			l := newStoredLog(t)
			if !w.Emit(l.event(1)) {
				t.Fatal("refused")
			}
			// FlushInterval is an hour: the first batch is written when
			// Close drains, or once a full batch is there; hold it until
			// the backlog is queued behind it.
			bs := cmp.Or(o.BatchSize, 1000)
			for i := 2; i <= bs; i++ {
				w.Emit(l.event(int64(i)))
			}
			if n := <-s.entered; n != bs {
				t.Fatalf("first batch %d events, want %d", n, bs)
			}
			for i := bs + 1; i <= bs+c.queued; i++ {
				if !w.Emit(l.event(int64(i))) {
					t.Fatalf("emit %d refused", i)
				}
			}
			close(s.release)
			if n := <-s.entered; n != c.wantSecond {
				t.Errorf("second batch %d events, want %d", n, c.wantSecond)
			}
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n, err := s.Count(context.Background()); err != nil || n != int64(bs+c.queued) {
				t.Fatalf("stored %d (%v), want %d", n, err, bs+c.queued)
			}
		})
	}
}
