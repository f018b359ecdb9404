package cluster

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/bpf"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/store"
)

// fakeStore is the part of store.Cluster a Node uses: LISTEN sessions the
// test ends at will, and a ban table.
type fakeStore struct {
	store.Cluster
	mu       sync.Mutex
	listens  int
	sessions chan chan string // each Listen hands its channel to the test
	bans     map[string]store.StoredBan
	notified []string
}

func (f *fakeStore) Listen(ctx context.Context) (<-chan string, <-chan error, error) {
	f.mu.Lock()
	f.listens++
	f.mu.Unlock()
	// Like the store: the payloads channel closes when ctx ends or the
	// connection is lost (the test closes in).
	in, out, errc := make(chan string), make(chan string), make(chan error, 1)
	select {
	case f.sessions <- in:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	go func() {
		defer close(out)
		for {
			select {
			case p, ok := <-in:
				if !ok {
					errc <- errors.New("connection lost")
					return
				}
				select {
				case out <- p:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc, nil
}

func (f *fakeStore) Notify(_ context.Context, p string) error {
	f.mu.Lock()
	f.notified = append(f.notified, p)
	f.mu.Unlock()
	return nil
}

func (f *fakeStore) PutBan(_ context.Context, b store.StoredBan) error {
	f.mu.Lock()
	f.bans[b.Source] = b
	f.mu.Unlock()
	return nil
}

func (f *fakeStore) DeleteBan(_ context.Context, src string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.bans[src]
	delete(f.bans, src)
	return ok, nil
}

func (f *fakeStore) Bans(context.Context, time.Time) ([]store.StoredBan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.StoredBan
	for _, b := range f.bans {
		out = append(out, b)
	}
	return out, nil
}

// TestNodeWakesAndReconnects: a notification wakes every subscriber; a
// lost LISTEN connection is counted, reopened, and the subscribers woken
// for what they may have missed.
func TestNodeWakesAndReconnects(t *testing.T) {
	f := &fakeStore{sessions: make(chan chan string), bans: map[string]store.StoredBan{}}
	reg := prometheus.NewRegistry()
	n, err := New(Options{Store: f, Logger: zaptest.NewLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	a, b := n.Subscribe(), n.Subscribe()
	n.Start()
	defer n.Close()
	ch := <-f.sessions
	drain := func(c <-chan struct{}) {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatal("no wake")
		}
	}
	drain(a) // the wake after (re)connecting
	drain(b)
	ch <- "decision"
	drain(a)
	drain(b)
	if v := testutil.Metric(t, reg, "smsfw_cluster_listening"); v != 1 {
		t.Fatalf("listening %v", v)
	}
	close(ch) // the connection is lost
	ch = <-f.sessions
	drain(a)
	if v := testutil.Metric(t, reg, "smsfw_cluster_errors_total", "part", "listen"); v != 1 {
		t.Fatalf("listen errors %v", v)
	}
	if v := testutil.Metric(t, reg, "smsfw_cluster_notifications_total"); v != 1 {
		t.Fatalf("notifications %v", v)
	}
	_ = ch
}

// TestNodeSharesBans: the shield's API bans go to the store with a
// notification, and the store's bans reach the shield.
func TestNodeSharesBans(t *testing.T) {
	f := &fakeStore{sessions: make(chan chan string, 1), bans: map[string]store.StoredBan{}}
	sh, err := bpf.New(bpf.Options{Config: &bpf.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	n, err := New(Options{Store: f, Shield: sh, Logger: zaptest.NewLogger(t), Config: &Config{Node: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := (banStore{n}).SaveBan(context.Background(), bpf.Ban{Source: netip.MustParsePrefix("198.51.100.0/24"), Origin: bpf.OriginAPI, Reason: "scan"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.bans["198.51.100.0/24"]; !ok || len(f.notified) != 1 || f.notified[0] != notifyBans {
		t.Fatalf("bans %v, notified %v", f.bans, f.notified)
	}
	f.bans["203.0.113.5/32"] = store.StoredBan{Source: "203.0.113.5/32", Origin: bpf.OriginAPI, Reason: "flood", Created: time.Now()}
	f.bans["bogus"] = store.StoredBan{Source: "bogus"}
	if err := n.SyncBans(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !sh.Banned(netip.MustParseAddr("203.0.113.5")) || !sh.Banned(netip.MustParseAddr("198.51.100.9")) {
		t.Fatalf("bans not applied: %+v", sh.Bans())
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a store")
	}
}
