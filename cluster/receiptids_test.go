package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/store"
)

// fakeRewriter records what a node tells its proxy.
type fakeRewriter struct {
	mu      sync.Mutex
	learned map[string]string
	flying  map[string]bool
	events  []string      // "learn up", "fly peer", "land peer", in order
	slow    time.Duration // RemoteFlying takes this long (a node slow to apply)
}

func (f *fakeRewriter) LearnReceiptID(up, ours string, _ time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.learned[up] = ours
	f.events = append(f.events, "learn "+up)
}

func (f *fakeRewriter) RemoteFlying(peer string, flying bool) {
	time.Sleep(f.slow)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flying[peer] = flying
	if flying {
		f.events = append(f.events, "fly "+peer)
	} else {
		f.events = append(f.events, "land "+peer)
	}
}

func (f *fakeRewriter) ReceiptWaits() proxy.ReceiptWaits { return proxy.ReceiptWaits{} }

func (f *fakeRewriter) snapshot() (map[string]string, map[string]bool, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, fl := map[string]string{}, map[string]bool{}
	for k, v := range f.learned {
		l[k] = v
	}
	for k, v := range f.flying {
		fl[k] = v
	}
	return l, fl, append([]string(nil), f.events...)
}

// TestReceiptIDsShared: two nodes on one PostgreSQL store. A peer's
// message in flight on a is known on b at once; its mapping is learnt on
// b before b hears that a has nothing in flight any more; a node started
// later reads the mappings already shared; a node ignores its own.
func TestReceiptIDsShared(t *testing.T) {
	dsn := testutil.PostgresSchema(t, "smsfw_cluster_")
	start := func(name string) (*Node, *fakeRewriter) { return startIDsNode(t, dsn, name, 200*time.Millisecond, 0) }
	a, aw := start("a")
	_, bw := start("b")

	// b must be listening before a notifies: wait for a round trip of a's own.
	testutil.Eventually(t, 10*time.Second, "b hears a", func() bool {
		a.Flying("acme", 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		a.Announce(ctx)
		cancel()
		_, fl, _ := bw.snapshot()
		if !fl["acme"] {
			a.Flying("acme", -1)
			return false
		}
		return true
	})
	a.ShareReceiptID("SMSC-1", "our-1", "acme")
	a.Flying("acme", -1)
	testutil.Eventually(t, 10*time.Second, "acme landed on b", func() bool {
		_, fl, _ := bw.snapshot()
		return !fl["acme"]
	})
	learned, _, events := bw.snapshot()
	if learned["SMSC-1"] != "our-1" {
		t.Fatalf("b learned %v", learned)
	}
	iLearn, iLand := -1, -1
	for i, e := range events {
		switch e {
		case "learn SMSC-1":
			iLearn = i
		case "land acme":
			iLand = i
		}
	}
	if iLearn < 0 || iLand < iLearn {
		t.Fatalf("b's events %v: the mapping must be learnt before the peer lands", events)
	}
	if l, _, _ := aw.snapshot(); len(l) != 0 {
		t.Fatalf("a learned its own mappings: %v", l)
	}
	_, cw := start("c")
	testutil.Eventually(t, 10*time.Second, "c reads what was shared before it started", func() bool {
		l, _, _ := cw.snapshot()
		return l["SMSC-1"] == "our-1"
	})
}

// TestAnnounceAcknowledged: a release's announcement returns only once
// every live node applied it, even a node slow to apply it; a node that
// stopped is waited for only until it is no longer live.
func TestAnnounceAcknowledged(t *testing.T) {
	dsn := testutil.PostgresSchema(t, "smsfw_cluster_")
	start := func(name string, slow time.Duration) (*Node, *fakeRewriter) {
		return startIDsNode(t, dsn, name, 100*time.Millisecond, slow)
	}
	a, _ := start("a", 0)
	b, bw := start("b", 50*time.Millisecond)
	heardB := func() bool {
		a.ids.hmu.Lock()
		defer a.ids.hmu.Unlock()
		_, ok := a.ids.heard["b"]
		return ok
	}
	testutil.Eventually(t, 10*time.Second, "a hears b's heartbeat", heardB)
	for i := range 5 {
		a.Flying("acme", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.Announce(ctx)
		cancel()
		if _, fl, _ := bw.snapshot(); !fl["acme"] {
			t.Fatalf("announcement %d returned before b applied it", i)
		}
		a.Flying("acme", -1)
		testutil.Eventually(t, 10*time.Second, "acme landed on b", func() bool {
			_, fl, _ := bw.snapshot()
			return !fl["acme"]
		})
	}
	if got := promtest.ToFloat64(a.m.announce.WithLabelValues(string(announceAcked))); got != 5 {
		t.Fatalf("acknowledged announcements: %v, want 5", got)
	}
	// b stops: a waits for it only while it is live (three poll intervals).
	b.Close()
	testutil.Eventually(t, 10*time.Second, "b no longer live", func() bool {
		a.ids.hmu.Lock()
		defer a.ids.hmu.Unlock()
		return a.ids.heard["b"].at.Before(a.ids.liveSince())
	})
	a.Flying("acme", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.Announce(ctx)
	if ctx.Err() != nil {
		t.Fatal("an announcement waited for a node that stopped")
	}
}

// startIDsNode starts a node sharing receipt ids on the store at dsn; its
// proxy side takes slow to apply another node's peers in flight.
func startIDsNode(t *testing.T, dsn, name string, poll, slow time.Duration) (*Node, *fakeRewriter) {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs, _ := store.ClusterOf(st)
	rw := &fakeRewriter{learned: map[string]string{}, flying: map[string]bool{}, slow: slow}
	n, err := New(Options{Config: &Config{Node: name, PollInterval: poll}, Store: cs, Receipts: rw,
		Logger: zaptest.NewLogger(t).Named(name)})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	t.Cleanup(n.Close)
	return n, rw
}
