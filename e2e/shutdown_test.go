package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// gatedStore holds the writer's inserts while closed, like a store that is
// slow or briefly locked; allow lets n inserts through, open all.
type gatedStore struct {
	store.Store
	tokens chan struct{}
	once   sync.Once
	opened chan struct{}
	mu     sync.Mutex
	closed bool
}

func newGate(st store.Store) *gatedStore {
	return &gatedStore{Store: st, tokens: make(chan struct{}, 100), opened: make(chan struct{})}
}

func (g *gatedStore) Insert(ctx context.Context, evs []*filter.Event) error {
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		select {
		case <-g.tokens:
		case <-g.opened:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Store.Insert(ctx, evs)
}

func (g *gatedStore) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *gatedStore) allow(n int) {
	for range n {
		g.tokens <- struct{}{}
	}
}

func (g *gatedStore) open() { g.once.Do(func() { close(g.opened) }) }

// answers collects the peer's responses by sequence number.
type answers struct {
	mu  sync.Mutex
	got map[uint32]esme.Resp
	ch  chan struct{}
}

func newAnswers() *answers {
	return &answers{got: map[uint32]esme.Resp{}, ch: make(chan struct{}, 1000)}
}

func (a *answers) cb(r esme.Resp) {
	a.mu.Lock()
	a.got[r.Seq] = r
	a.mu.Unlock()
	a.ch <- struct{}{}
}

func (a *answers) get(seq uint32) (esme.Resp, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.got[seq]
	return r, ok
}

func (a *answers) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

// shutdownTraffic sends, with the store's inserts held: a quarantined
// message (its answer waits for the store), then blocked and flagged
// messages (answered at once, their events queue behind it). It returns
// the quarantined message's sequence number once the others are answered.
func shutdownTraffic(t *testing.T, w *world, gate *gatedStore, cl *esme.Client, ans *answers) uint32 {
	t.Helper()
	// A first quarantined message, stored and answered normally.
	if r := w.send(cl, sender, textQuarantined); r.Status != pdu.StatusOK {
		t.Fatalf("first quarantined: %v", r.Status)
	}
	gate.close()
	before := w.sink.emitted.Load()
	qseq, err := cl.Send(submit(sender, textQuarantined+" (2)"), ans.cb)
	if err != nil {
		t.Fatal(err)
	}
	// Its event is queued first, so it is in the batch the gate holds.
	testutil.Eventually(w.t, 5*time.Second, "quarantined event emitted", func() bool { return w.sink.emitted.Load() == before+1 })
	const n = 40
	for i := range n {
		text := textBlocked
		if i%4 == 0 {
			text = textFlagged
		}
		if _, err := cl.Send(submit(sender, text), ans.cb); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(w.t, 10*time.Second, "blocked and flagged answered", func() bool { return ans.len() == n })
	if _, ok := ans.get(qseq); ok {
		t.Fatal("the quarantined message was answered before the store had it")
	}
	return qseq
}

// TestShutdownKeepsEveryEvent is SIGTERM with the writer behind: the proxy
// drains (the peer's quarantined message is answered once stored), then
// the writer is closed with events still queued. Every event the proxy
// emitted must be in the store, and every quarantined message the peer
// was told was accepted must be held there.
func TestShutdownKeepsEveryEvent(t *testing.T) {
	var gate *gatedStore
	w := newWorld(t, worldOptions{noAdmin: true, writer: store.WriterOptions{BatchSize: 5},
		wrap: func(st store.Store) store.Store { gate = newGate(st); return gate }})
	cl := w.dial()
	ans := newAnswers()
	qseq := shutdownTraffic(t, w, gate, cl, ans)

	// SIGTERM: the proxy waits for the held message's store.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- w.srv.Shutdown(ctx) }()
	select {
	case err := <-shut:
		t.Fatalf("shutdown returned (%v) while a quarantined message waited for the store", err)
	case <-time.After(200 * time.Millisecond):
	}
	gate.allow(1) // the batch with the quarantined message; the rest stay queued
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("shutdown did not return")
	}
	r, ok := ans.get(qseq)
	if !ok || r.Status != pdu.StatusOK || r.MessageID == "" {
		t.Fatalf("quarantined message answered %+v (%v) before shutdown ended, want accepted", r, ok)
	}
	emitted := w.sink.emitted.Load()
	if stored := w.count(); stored >= emitted {
		t.Fatalf("%d stored of %d emitted: the writer held nothing back, the test proves nothing", stored, emitted)
	}

	// Then the writer: everything queued is written.
	gate.open()
	if err := w.app.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.count(); got != emitted || w.sink.refused.Load() != 0 {
		t.Fatalf("%d events stored, %d emitted, %d refused by the writer", got, emitted, w.sink.refused.Load())
	}
	// 2 quarantined, 30 blocked, 10 flagged.
	if emitted != 42 {
		t.Fatalf("%d events emitted, want 42", emitted)
	}
	held := w.one(store.Query{Quarantine: filter.QuarantineHeld, Text: "(2)"})
	if held.MessageID != r.MessageID || len(held.Raw) != 1 {
		t.Fatalf("answered quarantined message stored as %+v (answered id %q)", held, r.MessageID)
	}
	if n := len(w.delivered(textQuarantined + " (2)")); n != 0 {
		t.Fatalf("held message reached the SMSC %d times", n)
	}
}

// TestShutdownStoreStuckPastDrain: the store stays blocked past
// drain_timeout. The proxy gives up waiting and unbinds; the peer never
// hears "accepted" for the quarantined message (it will resubmit), and the
// writer, closed afterwards, still stores it: nothing acknowledged is lost,
// and the late answer to a closed session is harmless.
func TestShutdownStoreStuckPastDrain(t *testing.T) {
	var gate *gatedStore
	w := newWorld(t, worldOptions{noAdmin: true, writer: store.WriterOptions{BatchSize: 5}, proxy: "drain_timeout: 300ms",
		wrap: func(st store.Store) store.Store { gate = newGate(st); return gate }})
	cl := w.dial()
	ans := newAnswers()
	qseq := shutdownTraffic(t, w, gate, cl, ans)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := w.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 10*time.Second {
		t.Fatalf("shutdown took %v with drain_timeout 300ms", d)
	}
	select {
	case <-cl.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("peer session not closed by shutdown")
	}
	if r, ok := ans.get(qseq); ok && r.Status == pdu.StatusOK && r.Err == nil {
		t.Fatalf("quarantined message answered accepted without being stored: %+v", r)
	}
	emitted := w.sink.emitted.Load()
	gate.open()
	if err := w.app.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.count(); got != emitted || emitted != 42 {
		t.Fatalf("%d events stored, %d emitted (want 42)", got, emitted)
	}
	w.one(store.Query{Quarantine: filter.QuarantineHeld, Text: "(2)"})
}
