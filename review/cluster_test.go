package review_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/review/reviewtest"
	"github.com/smsfw/smsfw/store"
)

// routedQuarantiner is a node's proxy: it can send held messages only
// while routed is set.
type routedQuarantiner struct {
	reviewtest.Quarantiner
	routed atomic.Bool
}

func (q *routedQuarantiner) CanRelease(*filter.Event) bool { return q.routed.Load() }

// node is one smsfw node's review service on the shared store.
type node struct {
	st  store.Store
	svc *review.Service
	q   *routedQuarantiner
	ov  *reviewtest.OverrideSetter
	reg *prometheus.Registry
}

// twoNodes opens one SQLite file twice (two processes' stores; nodes poll,
// SQLite has no LISTEN) and seeds it; a routes, b does not.
func twoNodes(t *testing.T, wait time.Duration) (a, b *node, held *filter.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	mk := func(name string, routed bool) *node {
		st, err := store.Open(context.Background(), path, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		c, _ := store.ClusterOf(st)
		n := &node{st: st, q: &routedQuarantiner{}, ov: &reviewtest.OverrideSetter{}, reg: prometheus.NewRegistry()}
		n.q.routed.Store(routed)
		n.svc, err = review.New(review.Options{Store: st, Quarantine: n.q, Overrides: n.ov, Logger: zaptest.NewLogger(t).Named(name),
			Registerer: n.reg, ExpiryInterval: time.Hour,
			Cluster: &review.ClusterOptions{Node: name, Store: c, PollInterval: 20 * time.Millisecond, ReleaseWait: wait}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, b = mk("a", true), mk("b", false)
	evs := reviewtest.Seed(time.Now())
	if err := a.st.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{a, b} {
		if err := n.svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.svc.Stop)
	}
	return a, b, evs[len(evs)-1]
}

// TestClusterForwardedRelease: a release asked on a node without a
// session for the peer is carried out by the node that has one, once, and
// the asking node answers with the outcome.
func TestClusterForwardedRelease(t *testing.T) {
	a, b, held := twoNodes(t, 10*time.Second)
	ev, err := b.svc.Release(context.Background(), held.ID, "bob", "legit")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Quarantine != filter.QuarantineReleased || ev.UpstreamMessageID == "" || ev.DecidedBy != "bob" {
		t.Fatalf("released event %+v", ev)
	}
	relA, _ := a.q.Calls()
	relB, _ := b.q.Calls()
	if len(relA) != 1 || len(relB) != 0 {
		t.Fatalf("released by a %v, by b %v", relA, relB)
	}
	d, err := b.svc.Decision(context.Background(), held.ID)
	if err != nil || d.State != store.DecisionDone || d.Node != "a" || d.AskedOn != "b" || d.Result != ev.UpstreamMessageID {
		t.Fatalf("decision %+v %v", d, err)
	}
	if n := testutil.Metric(t, b.reg, "smsfw_review_cluster_decisions_total", "outcome", "forwarded"); n != 1 {
		t.Fatalf("forwarded %v", n)
	}
	testutil.Eventually(t, 5*time.Second, "carried_out counted", func() bool {
		return testutil.Metric(t, a.reg, "smsfw_review_cluster_decisions_total", "outcome", "carried_out") == 1
	})
	// Released: neither node acts on it again.
	if _, err := a.svc.Release(context.Background(), held.ID, "ann", "again"); !errors.Is(err, review.ErrNotHeld) {
		t.Fatalf("second release: %v", err)
	}
}

// TestClusterPending: with no node able to send it, the asking node
// answers pending; when a node gains a session it sends the message.
func TestClusterPending(t *testing.T) {
	a, b, held := twoNodes(t, 50*time.Millisecond)
	a.q.routed.Store(false)
	_, err := b.svc.Release(context.Background(), held.ID, "bob", "legit")
	var pe *review.PendingError
	if !errors.As(err, &pe) || pe.Decision.State != store.DecisionPending {
		t.Fatalf("want pending, got %v", err)
	}
	// Another release asked where nobody can send it is refused: the
	// pending one holds the lock.
	if _, err := b.svc.Release(context.Background(), held.ID, "bob", "again"); !errors.Is(err, review.ErrBusy) {
		t.Fatalf("second pending release: %v", err)
	}
	a.q.routed.Store(true)
	testutil.Eventually(t, 5*time.Second, "pending release carried out", func() bool {
		d, err := b.svc.Decision(context.Background(), held.ID)
		return err == nil && d.State == store.DecisionDone
	})
	if rel, _ := a.q.Calls(); len(rel) != 1 {
		t.Fatalf("released %v", rel)
	}
}

// TestClusterConcurrentReleases: analysts on both nodes release at once
// (both nodes can send it): the message goes out once.
func TestClusterConcurrentReleases(t *testing.T) {
	for range 5 {
		a, b, held := twoNodes(t, 10*time.Second)
		b.q.routed.Store(true)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, n := range []*node{a, b} {
			wg.Go(func() { _, errs[i] = n.svc.Release(context.Background(), held.ID, "analyst", "legit") })
		}
		wg.Wait()
		relA, _ := a.q.Calls()
		relB, _ := b.q.Calls()
		if len(relA)+len(relB) != 1 {
			t.Fatalf("released %d times (a %v, b %v; errors %v)", len(relA)+len(relB), relA, relB, errs)
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, review.ErrBusy) && !errors.Is(err, review.ErrNotHeld) {
				t.Fatalf("loser's error: %v", err)
			}
		}
	}
}

// TestClusterOverrides: an override added on one node is applied on the
// other by its poll.
func TestClusterOverrides(t *testing.T) {
	a, b, _ := twoNodes(t, time.Second)
	o := &filter.Override{Kind: filter.OverrideSender, Sender: "SPAMMER", Action: filter.OverrideBlock, Reason: "r", Author: "ann", Created: time.Now()}
	if err := a.svc.AddOverride(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "override applied on b", func() bool {
		for _, got := range b.ov.Last() {
			if got.Sender == "SPAMMER" {
				return true
			}
		}
		return false
	})
}

// TestClusterRejectSupersedesPending: an analyst may reject a message
// whose release is still waiting for a node; the release is then never
// sent, and its asker learns it was superseded.
func TestClusterRejectSupersedesPending(t *testing.T) {
	a, b, held := twoNodes(t, 2*time.Second)
	a.q.routed.Store(false)
	errc := make(chan error, 1)
	go func() { _, err := b.svc.Release(context.Background(), held.ID, "bob", "legit"); errc <- err }()
	testutil.Eventually(t, 5*time.Second, "release pending", func() bool {
		d, err := a.svc.Decision(context.Background(), held.ID)
		return err == nil && d.State == store.DecisionPending
	})
	ev, err := a.svc.Reject(context.Background(), held.ID, "ann", "fraud after all")
	if err != nil || ev.Quarantine != filter.QuarantineRejected {
		t.Fatalf("reject over a pending release: %v %+v", err, ev)
	}
	if err := <-errc; !errors.Is(err, review.ErrBusy) || !strings.Contains(err.Error(), "superseded by a reject") {
		t.Fatalf("the release's asker: %v", err)
	}
	a.q.routed.Store(true)
	if err := a.svc.SyncCluster(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rel, rej := a.q.Calls(); len(rel) != 0 || len(rej) != 1 {
		t.Fatalf("released %v rejected %v", rel, rej)
	}
}
