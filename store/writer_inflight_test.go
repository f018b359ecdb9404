package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
)

// concurrentGate is a gateStore that says it takes concurrent inserts,
// and records how many ran at once.
type concurrentGate struct {
	*gateStore
	n        int
	mu       sync.Mutex
	cur, top int
}

func (c *concurrentGate) InsertConcurrency() int { return c.n }

func (c *concurrentGate) Insert(ctx context.Context, evs []*filter.Event) error {
	c.mu.Lock()
	c.cur++
	c.top = max(c.top, c.cur)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cur--
		c.mu.Unlock()
	}()
	return c.gateStore.Insert(ctx, evs)
}

// With a store taking concurrent inserts the writer keeps that many
// batches in flight, and while none is free the next batch keeps growing
// up to MaxBatchSize; every event is still stored and told once.
func TestWriterInflightBatches(t *testing.T) {
	g := &concurrentGate{gateStore: &gateStore{Store: sqliteStore(t), entered: make(chan int, 1000), release: make(chan struct{})}, n: 2}
	w := NewWriter(g, WriterOptions{BatchSize: 10, MaxBatchSize: 25, QueueSize: 1000, FlushInterval: time.Hour, PeerRate: -1, Logger: zaptest.NewLogger(t)})
	l := newStoredLog(t)
	id := int64(0)
	emit := func(n int) {
		for range n {
			id++
			if !w.Emit(l.event(id)) {
				t.Fatalf("emit %d refused", id)
			}
		}
	}
	emit(10)
	if n := <-g.entered; n != 10 {
		t.Fatalf("first batch %d events, want 10", n)
	}
	// The first is stuck: the second goes to the other flusher at once.
	emit(10)
	if n := <-g.entered; n != 10 {
		t.Fatalf("second batch %d events, want 10", n)
	}
	// Both stuck: the third grows to MaxBatchSize and waits.
	emit(100)
	testutil.Eventually(t, 10*time.Second, "the third batch full", func() bool { return len(w.ch) == 100-25 })
	select {
	case n := <-g.entered:
		t.Fatalf("a third insert (%d events) started while two were in flight", n)
	default:
	}
	close(g.release)
	if n := <-g.entered; n != 25 {
		t.Errorf("third batch %d events, want 25", n)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := g.Count(context.Background()); err != nil || n != id {
		t.Fatalf("stored %d (%v), want %d", n, err, id)
	}
	got := l.snapshot()
	for i := int64(1); i <= id; i++ {
		if err, ok := got[i]; !ok || err != nil {
			t.Fatalf("event %d: Stored called %v, err %v", i, ok, err)
		}
	}
	if g.top != 2 {
		t.Errorf("%d inserts at once, want 2", g.top)
	}
}

// Batches in flight at once on a real store (PostgreSQL: the writer's
// default there), with events emitted twice in different batches and
// searches running meanwhile: an event told stored is found at once by
// every search that starts afterwards (its postings commit with it), none
// is stored twice, the ledger counts each once.
func TestWriterInflightStore(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		w := NewWriter(s, WriterOptions{BatchSize: 50, MaxBatchSize: 400, Inflight: 2, FlushInterval: time.Millisecond,
			PeerRate: -1, Logger: zaptest.NewLogger(t)})
		const n = 3000
		var (
			mu          sync.Mutex
			stored      []int64 // ids told stored, for the searcher
			told        = map[*filter.Event]error{}
			firstStored = make(chan struct{})
			storedOnce  sync.Once
		)
		event := func(id int64) *filter.Event {
			ev := &filter.Event{ID: id, Time: t0.Add(time.Duration(id%97) * time.Second), Direction: "mt", Peer: fmt.Sprintf("p%d", id%3),
				Sender: fmt.Sprintf("S%d", id), Text: fmt.Sprintf("code q%dz ok", id), Action: filter.Allow.String(), Leakage: 0.5, Segments: 1}
			ev.Stored = func(err error) {
				mu.Lock()
				defer mu.Unlock()
				if _, dup := told[ev]; dup {
					t.Errorf("event %d told twice", id)
				}
				told[ev] = err
				if err == nil {
					stored = append(stored, id)
					storedOnce.Do(func() { close(firstStored) })
				}
			}
			return ev
		}
		ctx, cancel := context.WithCancel(context.Background())
		var searched atomic.Int64
		searchErr := make(chan error, 1)
		go func() {
			defer close(searchErr)
			r := rand.New(rand.NewPCG(1, 2))
			select {
			case <-firstStored:
			case <-ctx.Done():
				return
			}
			for ctx.Err() == nil {
				mu.Lock()
				id := stored[r.IntN(len(stored))]
				mu.Unlock()
				for _, q := range []Query{{Text: fmt.Sprintf("Q%dZ", id)}, {Sender: fmt.Sprintf("S%d", id)}} {
					p, err := s.Search(context.Background(), q)
					if err == nil && (len(p.Events) != 1 || p.Events[0].ID != id) {
						err = fmt.Errorf("search %+v after event %d was told stored: %d events", q, id, len(p.Events))
					}
					if err != nil {
						searchErr <- err
						return
					}
				}
				searched.Add(1)
			}
		}()
		var sent []*filter.Event
		for id := int64(1); id <= n; id++ {
			ev := event(id)
			sent = append(sent, ev)
			for !w.Emit(ev) {
				time.Sleep(time.Millisecond)
			}
			if id%10 == 0 && id > 500 { // again, hundreds of events later: another batch
				ev := event(id - 500)
				sent = append(sent, ev)
				for !w.Emit(ev) {
					time.Sleep(time.Millisecond)
				}
			}
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-searchErr; err != nil {
			t.Fatal(err)
		}
		t.Logf("%d events looked up while writing", searched.Load())
		if searched.Load() == 0 {
			t.Error("no search ran while writing")
		}
		mu.Lock()
		for _, ev := range sent {
			if err, ok := told[ev]; !ok || err != nil {
				t.Fatalf("event %d: told %v, err %v", ev.ID, ok, err)
			}
		}
		mu.Unlock()
		if c, err := s.Count(context.Background()); err != nil || c != n {
			t.Fatalf("stored %d (%v), want %d", c, err, n)
		}
		days, err := s.Leakage(context.Background(), "2000-01-01", "2100-01-01")
		if err != nil {
			t.Fatal(err)
		}
		var msgs int64
		for _, d := range days {
			msgs += d.Messages
		}
		if msgs != n {
			t.Errorf("ledger counts %d messages, want %d", msgs, n)
		}
	})
}
