package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/guard"
)

// Errors the writer hands to Event.Stored.
var (
	// ErrQueueFull: Emit found the writer's queue full; the event was dropped.
	ErrQueueFull = errors.New("store: event queue full")
	// ErrWriterClosed: Emit after Close, or Close gave up before the event
	// was written.
	ErrWriterClosed = errors.New("store: event writer closed")
	// ErrPeerBudget: the event's peer already has PeerQueueBytes of events
	// queued; the event was dropped.
	ErrPeerBudget = errors.New("store: peer's event queue budget exhausted")
	// ErrQueueBytes: the queue already holds QueueBytes of events; the event
	// was dropped.
	ErrQueueBytes = errors.New("store: event queue byte budget exhausted")
	// ErrPeerRate: the event's peer is over PeerRate events a second; the
	// event was dropped (quarantine events never are).
	ErrPeerRate = errors.New("store: peer's event rate exceeded")
)

// DefaultMaxBatchSize is WriterOptions.MaxBatchSize's default.
const DefaultMaxBatchSize = 5000

// DefaultPeerRate is the events a second one peer may have recorded.
const DefaultPeerRate = 2000

// Defaults of the byte budgets.
const (
	DefaultQueueBytes     = 64 << 20
	DefaultPeerQueueBytes = 8 << 20
)

// WriterOptions configure a Writer; zero values take the defaults.
type WriterOptions struct {
	QueueSize int // events queued at most (default 65536)
	// QueueBytes bounds the memory of the queued events, by
	// filter.Event.Size (default DefaultQueueBytes), and PeerQueueBytes
	// one peer's part of it (default DefaultPeerQueueBytes), so that a
	// peer whose every message is blocked cannot crowd the others' events
	// out. An event is taken whatever its size when its peer (or the
	// queue) has nothing queued: the bounds are the budget plus one event.
	QueueBytes     int64
	PeerQueueBytes int64
	// PeerRate bounds the events a second one peer may have recorded
	// (default DefaultPeerRate, bursts of two seconds; negative: no
	// bound): writing events costs the store far more than answering a
	// blocked message costs the proxy, so a peer whose every message is
	// refused must not keep the store's CPU for itself. Quarantine events
	// (they hold messages) are always taken.
	PeerRate  float64
	BatchSize int // events per insert once that many are queued (default 1000)
	// MaxBatchSize: a batch takes whatever else is queued at once, up to
	// this many events, so that under a backlog each transaction carries
	// more events (SQLite: ~20% less CPU per event at 5000 than at 1000,
	// the commit's WAL write being shared by more rows) at the cost of
	// holding the store's write lock longer (~0.1 s per 5000 events).
	// Default: DefaultMaxBatchSize when BatchSize is left 0, else BatchSize
	// (an explicit BatchSize keeps batches of that size at most).
	MaxBatchSize  int
	FlushInterval time.Duration // longest wait before a partial batch is written (default 200ms)
	// Inflight is how many batches are written at once (default: the
	// store's InsertConcurrency, 1 without one). Above 1 the next batch is
	// written while the previous one commits, each in transactions of its
	// own, so batches may commit (and call Event.Stored) out of order;
	// while every writer is busy the next batch keeps growing up to
	// MaxBatchSize.
	Inflight int
	// Retries after a failed insert before the batch is dropped (default 3;
	// negative: none), waiting RetryBackoff (default 100ms), doubling.
	Retries      int
	RetryBackoff time.Duration
	Logger       *zap.Logger
	Metrics      *WriterMetrics // nil: unregistered metrics
}

// Writer takes events off the hot path: Emit queues without blocking, one
// goroutine gathers them into batches and writes them to the store
// (WriterOptions.Inflight batches at once, each on a goroutine of its
// own). It implements filter.EventSink. Event.Stored runs on the goroutine
// that wrote the event's batch once it is committed (or dropped): it must
// return quickly. On shutdown, stop the emitters and call Close, which
// writes everything still queued.
type Writer struct {
	s   Store
	o   WriterOptions
	log *zap.Logger
	m   *WriterMetrics

	// mu guards closed and the channel's closing against Emit's send: Emit
	// holds it shared (it never waits while holding it), Close exclusively.
	mu     sync.RWMutex
	closed bool
	ch     chan queued

	// bmu guards the byte budgets: bytes queued in all and per peer (a
	// peer's entry goes when it reaches zero). Held for a few map
	// operations, never while waiting.
	bmu    sync.Mutex
	qbytes int64
	peers  map[string]int64
	rates  map[string]*bucket // per-peer event rate (under bmu)

	// ctx is the writer goroutine's; Close cancels it when its own context
	// ends before the drain does.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	fullLog   guard.SampledLog // "queue full" logs
	budgetLog guard.SampledLog // "over budget" logs
}

// queued is an event in the queue with the bytes it was counted for.
type queued struct {
	ev   *filter.Event
	size int64
}

var _ filter.EventSink = (*Writer)(nil)

// ConcurrentInserter is a Store whose Insert calls may run at once, each
// committing on its own (PostgreSQL: its own connections and
// transactions). The Writer then keeps InsertConcurrency batches in
// flight, so the database works on the next batch while the previous one
// commits. Readers must not rely on events committing in id order.
type ConcurrentInserter interface {
	InsertConcurrency() int
}

// NewWriter starts a writer over s. Close it to flush.
func NewWriter(s Store, o WriterOptions) *Writer {
	if o.QueueSize <= 0 {
		o.QueueSize = 65536
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
		o.MaxBatchSize = cmp.Or(o.MaxBatchSize, DefaultMaxBatchSize)
	}
	o.MaxBatchSize = max(o.MaxBatchSize, o.BatchSize)
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.Retries == 0 {
		o.Retries = 3
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.PeerQueueBytes <= 0 {
		o.PeerQueueBytes = DefaultPeerQueueBytes
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 100 * time.Millisecond
	}
	if o.PeerRate == 0 {
		o.PeerRate = DefaultPeerRate
	}
	if o.Inflight <= 0 {
		o.Inflight = 1
		if c, ok := s.(ConcurrentInserter); ok {
			o.Inflight = max(1, c.InsertConcurrency())
		}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Metrics == nil {
		o.Metrics = NewWriterMetrics(nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		s: s, o: o, log: o.Logger.Named("store").Named("writer"), m: o.Metrics,
		ch: make(chan queued, o.QueueSize), peers: map[string]int64{}, rates: map[string]*bucket{}, ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	go w.run()
	return w
}

// Emit queues ev and returns true, or returns false at once when the
// queue is full, over a byte budget or the writer is closed, after calling
// ev.Stored with ErrQueueFull, ErrPeerBudget, ErrQueueBytes or
// ErrWriterClosed if it is set. Emit never blocks.
func (w *Writer) Emit(ev *filter.Event) bool {
	if ev == nil {
		return false
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.m.dropped(DropClosed, 1)
		stored(ev, ErrWriterClosed)
		return false
	}
	size := int64(ev.Size())
	if r := w.reserve(ev.Peer, size, ev.Quarantine == ""); r != "" {
		w.mu.RUnlock()
		w.m.dropped(r, 1)
		err := ErrQueueBytes
		switch r {
		case DropPeerBudget:
			err = ErrPeerBudget
		case DropPeerRate:
			err = ErrPeerRate
		}
		w.logDrop(&w.budgetLog, "event byte budget exhausted: dropping events (see smsfw_events_dropped_total)",
			zap.String("reason", string(r)), zap.String("peer", ev.Peer), zap.Int64("queue_bytes", w.o.QueueBytes),
			zap.Int64("peer_queue_bytes", w.o.PeerQueueBytes))
		stored(ev, err)
		return false
	}
	select {
	case w.ch <- queued{ev: ev, size: size}:
		w.mu.RUnlock()
		w.m.Queued.Inc()
		return true
	default:
	}
	w.mu.RUnlock()
	w.release(ev.Peer, size)
	w.m.dropped(DropQueueFull, 1)
	w.logDrop(&w.fullLog, "event queue full: dropping events (see smsfw_events_dropped_total)", zap.Int("queue_size", w.o.QueueSize))
	stored(ev, ErrQueueFull)
	return false
}

// logDrop logs a drop once per few seconds, with how many there were:
// drops come by the thousand, the counter has the numbers.
func (w *Writer) logDrop(sl *guard.SampledLog, msg string, fields ...zap.Field) {
	if n, ok := sl.Tick(5 * time.Second); ok {
		w.log.Warn(msg, append(fields, zap.Int64("count", n))...)
	}
}

// reserve counts size bytes for peer, or says which budget refuses them;
// rated events also take a token of the peer's event rate.
func (w *Writer) reserve(peer string, size int64, rated bool) DropReason {
	w.bmu.Lock()
	defer w.bmu.Unlock()
	if rated && w.o.PeerRate > 0 && !w.rate(peer).take(w.o.PeerRate, time.Now().UnixNano()) {
		return DropPeerRate
	}
	p := w.peers[peer]
	if p > 0 && p+size > w.o.PeerQueueBytes {
		return DropPeerBudget
	}
	if w.qbytes > 0 && w.qbytes+size > w.o.QueueBytes {
		return DropBytes
	}
	w.peers[peer] = p + size
	w.qbytes += size
	w.m.QueueBytes.Set(float64(w.qbytes))
	return ""
}

// release gives back what reserve counted.
func (w *Writer) release(peer string, size int64) {
	w.bmu.Lock()
	w.releaseLocked(peer, size)
	w.m.QueueBytes.Set(float64(w.qbytes))
	w.bmu.Unlock()
}

func (w *Writer) releaseLocked(peer string, size int64) {
	w.qbytes -= size
	if p := w.peers[peer] - size; p > 0 {
		w.peers[peer] = p
	} else {
		delete(w.peers, peer)
	}
}

// QueuedBytes returns the bytes of events queued, in all and for peer.
func (w *Writer) QueuedBytes(peer string) (total, ofPeer int64) {
	w.bmu.Lock()
	defer w.bmu.Unlock()
	return w.qbytes, w.peers[peer]
}

func stored(ev *filter.Event, err error) {
	if ev.Stored != nil {
		ev.Stored(err)
	}
}

// Close stops accepting events and waits until everything queued is
// written (or dropped after the retries). If ctx ends first, the writer
// abandons what is left: those events count as dropped (closed), get
// Stored(ErrWriterClosed), and Close returns ctx's error once the
// goroutine has stopped. Close does not close the Store. Safe to call
// more than once.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.cancel()
		<-w.done
		return fmt.Errorf("store: writer close: %w", ctx.Err())
	}
}

func (w *Writer) run() {
	defer close(w.done)
	defer w.cancel()
	if w.o.Inflight > 1 {
		w.runPipelined()
		return
	}
	batch := make([]queued, 0, w.o.BatchSize)
	evs := make([]*filter.Event, 0, w.o.BatchSize)
	timer := time.NewTimer(w.o.FlushInterval)
	defer timer.Stop()
	for {
		select {
		case q, ok := <-w.ch:
			// Take whatever else is queued without waiting, up to
			// MaxBatchSize: under load batches fill at once and the timer
			// never matters; behind a backlog they grow.
			for ok {
				batch = append(batch, q)
				if len(batch) >= w.o.MaxBatchSize {
					break
				}
				select {
				case q, ok = <-w.ch:
					continue
				default:
				}
				break
			}
			if !ok { // closed: what is queued is all there is
				w.flush(batch, evs)
				w.m.QueueLength.Set(0)
				return
			}
			if len(batch) >= w.o.BatchSize {
				w.flush(batch, evs)
				batch = batch[:0]
			}
		case <-timer.C:
			timer.Reset(w.o.FlushInterval)
			if len(batch) > 0 {
				w.flush(batch, evs)
				batch = batch[:0]
			}
		}
		w.m.QueueLength.Set(float64(len(w.ch)))
	}
}

// runPipelined is run with Inflight batches written at once: Inflight
// flushers take full batches from work; while none is free, the batch
// being gathered keeps taking what is queued, up to MaxBatchSize.
func (w *Writer) runPipelined() {
	work := make(chan []queued)
	free := make(chan []queued, w.o.Inflight+1) // written batches' slices, for reuse
	var wg sync.WaitGroup
	for range w.o.Inflight {
		wg.Go(func() {
			evs := make([]*filter.Event, 0, w.o.BatchSize)
			for b := range work {
				w.flush(b, evs)
				select {
				case free <- b[:0]:
				default:
				}
			}
		})
	}
	defer wg.Wait()
	defer close(work)
	next := func() []queued {
		select {
		case b := <-free:
			return b
		default:
			return make([]queued, 0, w.o.BatchSize)
		}
	}
	batch := next()
	timer := time.NewTimer(w.o.FlushInterval)
	defer timer.Stop()
	in := w.ch
	ready := false // batch is to be written as soon as a flusher is free
	for {
		// Take whatever is queued without waiting, up to MaxBatchSize.
	drain:
		for in != nil && len(batch) < w.o.MaxBatchSize {
			select {
			case q, ok := <-in:
				if !ok { // closed: what is queued is all there is
					in = nil
					break drain
				}
				batch = append(batch, q)
			default:
				break drain
			}
		}
		ready = ready || len(batch) >= w.o.BatchSize || (in == nil && len(batch) > 0)
		w.m.QueueLength.Set(float64(len(w.ch)))
		if in == nil && len(batch) == 0 {
			w.m.QueueLength.Set(0)
			return
		}
		var out chan []queued
		if ready {
			out = work
		}
		take := in
		if len(batch) >= w.o.MaxBatchSize {
			take = nil
		}
		select {
		case out <- batch:
			batch, ready = next(), false
		case q, ok := <-take:
			if !ok {
				in = nil
				continue
			}
			batch = append(batch, q)
		case <-timer.C:
			timer.Reset(w.o.FlushInterval)
			ready = ready || len(batch) > 0
		}
	}
}

// flush writes one batch, retrying with backoff; then gives back the
// batch's bytes and tells each event's Stored how it went. evs is scratch
// space for the batch's events.
func (w *Writer) flush(batch []queued, evs []*filter.Event) {
	if len(batch) == 0 {
		return
	}
	evs = evs[:0]
	for _, q := range batch {
		evs = append(evs, q.ev)
	}
	var err error
	backoff := w.o.RetryBackoff
	for attempt := 0; ; attempt++ {
		if w.ctx.Err() != nil {
			err = ErrWriterClosed
			break
		}
		start := time.Now()
		err = w.s.Insert(w.ctx, evs)
		if err == nil {
			w.m.BatchTime.Observe(time.Since(start).Seconds())
			break
		}
		w.m.WriteErrors.Inc()
		if attempt >= w.o.Retries {
			break
		}
		w.log.Warn("event batch insert failed; retrying", zap.Int("events", len(batch)), zap.Int("attempt", attempt+1), zap.Error(err))
		select {
		case <-time.After(backoff):
		case <-w.ctx.Done():
		}
		backoff *= 2
	}
	switch {
	case err == nil:
		w.m.Written.Add(float64(len(batch)))
		for _, r := range LedgerRows(evs) {
			w.m.LeakageSegments.WithLabelValues(r.Peer).Add(float64(r.Segments))
			w.m.LeakageAmount.WithLabelValues(r.Peer).Add(r.Amount)
		}
	case w.ctx.Err() != nil:
		// Close's deadline: the events were abandoned, not refused.
		w.m.dropped(DropClosed, len(batch))
		w.log.Error("writer closed before a batch was stored; dropped", zap.Int("events", len(batch)), zap.Error(err))
		err = fmt.Errorf("%w: %w", ErrWriterClosed, err)
	default:
		w.m.dropped(DropStoreError, len(batch))
		w.log.Error("event batch dropped after retries", zap.Int("events", len(batch)), zap.Error(err))
	}
	w.bmu.Lock()
	for _, q := range batch {
		w.releaseLocked(q.ev.Peer, q.size)
	}
	w.m.QueueBytes.Set(float64(w.qbytes))
	w.bmu.Unlock()
	for i, q := range batch {
		stored(q.ev, err)
		batch[i], evs[i] = queued{}, nil // let the events go; the slices are reused
	}
}

// RunRetention applies the retention policy every interval until ctx ends:
// events older than maxAge (0: no age limit) and the oldest beyond
// maxEvents (0: no count limit) are deleted; held quarantined messages
// never are. It runs once at start. Failures are logged and counted, and
// retried at the next tick.
func (w *Writer) RunRetention(ctx context.Context, every, maxAge time.Duration, maxEvents int64) {
	if every <= 0 || (maxAge <= 0 && maxEvents <= 0) {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var before time.Time
		if maxAge > 0 {
			before = time.Now().Add(-maxAge)
		}
		start := time.Now()
		n, err := w.s.Retain(ctx, before, maxEvents)
		w.m.RetentionDeleted.Add(float64(n))
		if err != nil && ctx.Err() == nil {
			w.m.RetentionErrors.Inc()
			w.log.Error("retention failed", zap.Int64("deleted", n), zap.Error(err))
		} else if n > 0 {
			w.log.Info("retention deleted events", zap.Int64("deleted", n), zap.Duration("took", time.Since(start)))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// bucket is a token bucket of events: rate a second, at most two seconds'
// worth saved up.
type bucket struct {
	tokens float64
	at     int64
}

// rate returns peer's bucket (bounded: past 65536 peers the idle ones go).
func (w *Writer) rate(peer string) *bucket {
	b := w.rates[peer]
	if b == nil {
		if len(w.rates) >= 65536 {
			clear(w.rates)
		}
		b = &bucket{tokens: 2 * w.o.PeerRate, at: time.Now().UnixNano()}
		w.rates[peer] = b
	}
	return b
}

func (b *bucket) take(rate float64, now int64) bool {
	b.tokens = min(b.tokens+float64(now-b.at)/1e9*rate, 2*rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
