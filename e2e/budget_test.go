package e2e

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// slowStore is a store slower than the traffic, whatever the machine's
// speed: each insert waits until the flood has sent step more messages
// since the insert before it (or sent all it will), so the writer's queue
// fills on a fast machine and on a loaded one alike.
type slowStore struct {
	store.Store
	sent      *atomic.Int64 // messages the flood has sent
	step, all int64
	last      int64 // sent when the previous insert went on
	mu        sync.Mutex
}

func (s *slowStore) Insert(ctx context.Context, evs []*filter.Event) error {
	s.mu.Lock()
	for n := s.sent.Load(); n < s.all && n < s.last+s.step; n = s.sent.Load() {
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return s.Store.Insert(ctx, evs)
		case <-time.After(time.Millisecond):
		}
		s.mu.Lock()
	}
	s.last = s.sent.Load()
	s.mu.Unlock()
	return s.Store.Insert(ctx, evs)
}

// TestEventBudgetOneHostilePeer is the events attack of issue 18: one peer
// sends 60 KB messages that are all blocked, as fast as its window allows,
// to a store slower than that. Every message is still answered; the events
// of that peer stop at its byte budget (counted as peer_budget drops), the
// queue as a whole stays within its budget, each event keeps at most the
// text cap and no 60 KB PDU, and another peer's events are all recorded.
func TestEventBudgetOneHostilePeer(t *testing.T) {
	const (
		queueBytes = 4 << 20
		peerBytes  = 1 << 20
		hostileN   = 1000
		goodN      = 100
	)
	var sent atomic.Int64 // hostile messages sent: the store's pace
	w := newWorld(t, worldOptions{noAdmin: true, peers: []string{"good"},
		writer: store.WriterOptions{QueueBytes: queueBytes, PeerQueueBytes: peerBytes, BatchSize: 20},
		wrap: func(st store.Store) store.Store {
			return &slowStore{Store: st, sent: &sent, step: 100, all: hostileN}
		}})
	hostile, good := w.dial(), w.dialAs("good")

	// The writer's queue (smsfw_events_queue_bytes), sampled while the
	// attack runs.
	var maxTotal atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if total := int64(w.metric("smsfw_events_queue_bytes", "")); total > maxTotal.Load() {
				maxTotal.Store(total)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	// The hostile peer: 60 KB of text behind a blocked phrase, 50 in flight.
	big := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: sender, DstTON: 1, DstNPI: 1, Dst: dest,
		TLVs: pdu.AppendTLV(nil, pdu.TagMessagePayload, append([]byte(textBlocked+" "), bytes.Repeat([]byte("x"), 60_000)...))})
	var answered, wrong atomic.Int64
	// Every 50th message of the flood is one to quarantine: answered
	// accepted once stored with its PDU, or 0x58 when over the budget.
	type heldAnswer struct {
		text string
		r    esme.Resp
	}
	var heldMu sync.Mutex
	var held []heldAnswer
	var inflight sync.WaitGroup
	slots := make(chan struct{}, 50)
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		defer sent.Store(hostileN) // a failed send lets the store go on
		for i := range hostileN {
			slots <- struct{}{}
			inflight.Add(1)
			sent.Add(1)
			if i%50 == 25 {
				text := fmt.Sprintf("%s (q%d)", textQuarantined, i)
				if _, err := hostile.Send(submit(sender, text), func(r esme.Resp) {
					heldMu.Lock()
					held = append(held, heldAnswer{text, r})
					heldMu.Unlock()
					<-slots
					inflight.Done()
				}); err != nil {
					inflight.Done()
					t.Errorf("hostile send: %v", err)
					return
				}
				continue
			}
			if _, err := hostile.Send(big, func(r esme.Resp) {
				answered.Add(1)
				if r.Err != nil || r.Status != pdu.StatusSubmitFail {
					wrong.Add(1)
				}
				<-slots
				inflight.Done()
			}); err != nil {
				inflight.Done()
				t.Errorf("hostile send: %v", err)
				return
			}
		}
		inflight.Wait()
	}()

	// The good peer, meanwhile: blocked messages of its own, one at a time.
	for i := range goodN {
		if r := w.send(good, sender, textBlocked); r.Status != pdu.StatusSubmitFail {
			t.Fatalf("good message %d answered %v", i, r.Status)
		}
	}
	select {
	case <-floodDone:
	case <-time.After(60 * time.Second):
		t.Fatal("the hostile peer's messages were not all answered")
	}
	close(stopSampling)
	<-sampled
	if answered.Load()+int64(len(held)) != hostileN || wrong.Load() != 0 {
		t.Fatalf("hostile peer: %d of %d answered, %d not 0x45", answered.Load()+int64(len(held)), hostileN, wrong.Load())
	}

	peerDrops := w.metric("smsfw_events_dropped_total", string(store.DropPeerBudget))
	if peerDrops == 0 {
		t.Fatal("no peer_budget drops: the store kept up and the test proves nothing")
	}
	// The good peer has a few small events queued at most (it sends one
	// at a time): beyond them, the queue is the hostile peer's budget.
	if maxTotal.Load() > peerBytes+256<<10 {
		t.Fatalf("queued at most %d bytes, hostile peer's budget %d", maxTotal.Load(), peerBytes)
	}
	// Every one of the good peer's events is stored.
	testutil.Eventually(w.t, 30*time.Second, "the good peer's events stored", func() bool {
		p, err := w.st.Search(context.Background(), store.Query{Peer: "good", Limit: store.MaxLimit})
		return err == nil && len(p.Events) == goodN
	})
	if d := w.metric("smsfw_events_dropped_total", string(store.DropBytes)); d != 0 {
		t.Errorf("%v events dropped on the global budget: one peer filled it", d)
	}
	// What a hostile event holds: the cut text, no PDU.
	p, err := w.st.Search(context.Background(), store.Query{Peer: "acme", RuleID: "casino-spam", Limit: 1})
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("no hostile event stored: %v", err)
	}
	ev, err := w.st.Get(context.Background(), p.Events[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Text) > pipeline.DefaultTextMax+40 || !strings.Contains(ev.Text, pipeline.TruncatedMarker) || len(ev.Raw) != 0 {
		t.Fatalf("hostile event keeps %d bytes of text, %d PDUs", len(ev.Text), len(ev.Raw))
	}
	// A quarantined message told "accepted" is held with its PDU; one told
	// 0x58 (over the budget: sent again) is not in the store.
	var accepted, retry int
	for _, h := range held {
		p, err := w.st.Search(context.Background(), store.Query{Peer: "acme", Text: h.text})
		if err != nil {
			t.Fatal(err)
		}
		switch h.r.Status {
		case pdu.StatusOK:
			accepted++
			ev := w.one(store.Query{Peer: "acme", Text: h.text})
			if ev.Quarantine != filter.QuarantineHeld || ev.MessageID != h.r.MessageID || len(ev.Raw) != 1 {
				t.Fatalf("accepted quarantined message stored as %+v", ev)
			}
		case pdu.StatusThrottled:
			retry++
			if len(p.Events) != 0 {
				t.Fatalf("a quarantined message answered 0x58 was stored")
			}
		default:
			t.Fatalf("quarantined message answered %+v", h.r)
		}
	}
	t.Logf("quarantined during the flood: %d held, %d answered 0x58", accepted, retry)
	t.Logf("hostile: %d answered, %.0f events dropped on its budget; queue peak %d bytes",
		answered.Load(), peerDrops, maxTotal.Load())
}

// metric reads one series of the app's registry: the family name and, for
// labelled families, the value of its one label ("" for none).
func (w *world) metric(name, label string) float64 {
	if label == "" {
		return w.series(name, nil)
	}
	return w.series(name, []string{label})
}

// series reads the series of family name whose label values are values
// (in the labels' order; nil: the first series).
func (w *world) series(name string, values []string) float64 {
	w.t.Helper()
	mfs, err := w.app.Registry.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if values != nil && !slices.EqualFunc(m.Label, values, func(l *dto.LabelPair, v string) bool { return l.GetValue() == v }) {
				continue
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return 0
}
