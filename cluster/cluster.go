// Package cluster makes several smsfw nodes one firewall over a shared
// PostgreSQL event store: the nodes hear each other's changes through
// LISTEN/NOTIFY (and poll, so a lost notification or SQLite only delays
// them), the API's bans are shared (bpf.BanStore over the store's bans
// table), and the review service carries quarantine decisions across
// nodes (review/cluster.go), and the proxy's receipt ids are shared so a
// receipt is rewritten on whichever node it arrives (receiptids.go).
// Counters shared across nodes are not here.
package cluster

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/bpf"
	"github.com/smsfw/smsfw/store"
)

// Node is this node's link to the others: it listens for notifications
// and wakes its subscribers, and keeps the shield's shared bans in sync.
type Node struct {
	cfg    *Config
	st     store.Cluster
	log    *zap.Logger
	m      *Metrics
	shield *bpf.Shield

	subs []chan struct{}
	bans <-chan struct{}
	ids  *receiptIDs // nil: receipt ids not shared

	stop context.CancelFunc
	wg   sync.WaitGroup
	// heard: closed once listen first holds its connection (or the store
	// has none).
	heard     chan struct{}
	heardOnce sync.Once
}

// Options wire a Node.
type Options struct {
	Config *Config // defaults filled in by New
	Store  store.Cluster
	Shield *bpf.Shield // nil: bans are not shared
	// Receipts, when set, shares the proxy's receipt ids with the other
	// nodes (the Node is then the proxy's ClusterLink).
	Receipts   Rewriter
	Logger     *zap.Logger
	Registerer prometheus.Registerer
}

// New builds a Node; Subscribe before Start.
func New(o Options) (*Node, error) {
	if o.Store == nil {
		return nil, errors.New("cluster: the event store is required (events.db: a postgres:// DSN)")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	cfg := o.Config
	if cfg == nil {
		cfg = &Config{}
	}
	n := &Node{cfg: cfg.WithDefaults(), st: o.Store, log: o.Logger.Named("cluster"), m: NewMetrics(o.Registerer), shield: o.Shield,
		heard: make(chan struct{})}
	if n.shield != nil {
		n.bans = n.Subscribe()
		n.shield.ShareBans(banStore{n})
	}
	if o.Receipts != nil {
		n.ids = newReceiptIDs(n, o.Receipts)
		n.m.registerWaits(o.Registerer, o.Receipts)
	}
	return n, nil
}

// Config is the node's configuration, defaults filled in.
func (n *Node) Config() *Config { return n.cfg }

// Subscribe returns a channel that receives a value when another node
// announced a change (coalesced: one value stands for any number).
func (n *Node) Subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	n.subs = append(n.subs, ch)
	return ch
}

// Start listens for notifications and syncs the bans until Close.
func (n *Node) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	n.wg.Go(func() { n.listen(ctx) })
	if n.shield != nil {
		n.wg.Go(func() { n.syncBans(ctx) })
	}
	if n.ids != nil {
		// Listening, then a heartbeat, before the proxy binds upstream: a
		// node releasing a message waits for this one's acknowledgement
		// from then on.
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		select {
		case <-n.heard:
		case <-hctx.Done():
		}
		n.notify(hctx, notePayload(idsNote{Node: n.cfg.Node}))
		cancel()
		n.wg.Go(func() { n.ids.share(ctx) })
		n.wg.Go(func() { n.ids.learn(ctx) })
	}
	n.log.Info("cluster node started", zap.String("node", n.cfg.Node), zap.Duration("poll_interval", n.cfg.PollInterval))
}

// Close stops the node and waits for its goroutines.
func (n *Node) Close() {
	if n.stop != nil {
		n.stop()
	}
	n.wg.Wait()
}

func (n *Node) wake() {
	for _, ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// listen holds a LISTEN connection, reconnecting with a growing pause
// (1s to 30s) while the database is away; without LISTEN (SQLite) the
// nodes poll only.
func (n *Node) listen(ctx context.Context) {
	pause := time.Second
	for ctx.Err() == nil {
		ch, errc, err := n.st.Listen(ctx)
		if err == nil || errors.Is(err, store.ErrNotSupported) {
			n.heardOnce.Do(func() { close(n.heard) })
		}
		if errors.Is(err, store.ErrNotSupported) {
			n.log.Info("the event store has no LISTEN/NOTIFY: nodes see each other's changes by polling", zap.Duration("poll_interval", n.cfg.PollInterval))
			return
		}
		if err == nil {
			n.m.listening.Set(1)
			pause = time.Second
			n.wake() // changes missed while not listening
			for p := range ch {
				n.m.notifications.Inc()
				if strings.HasPrefix(p, notifyIDs) { // frequent: wakes only the receipt ids
					if n.ids != nil {
						n.ids.heardNote(p)
					}
					continue
				}
				n.wake()
			}
			n.m.listening.Set(0)
			select {
			case err = <-errc:
			default:
			}
		}
		if ctx.Err() != nil {
			return
		}
		n.m.errors.WithLabelValues(string(partListen)).Inc()
		n.log.Warn("listening for the other nodes' changes failed; polling meanwhile", zap.Duration("retry_in", pause), zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// syncBans applies the shared ban list to the shield at start, on each
// notification and each poll.
func (n *Node) syncBans(ctx context.Context) {
	t := time.NewTicker(n.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := n.SyncBans(ctx); err != nil && ctx.Err() == nil {
			n.m.errors.WithLabelValues(string(partBans)).Inc()
			n.log.Warn("shared bans not read; retried at the next poll", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.bans:
		}
	}
}

// SyncBans reads the shared bans and applies them to the shield once.
func (n *Node) SyncBans(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(n.cfg.PollInterval, 10*time.Second))
	defer cancel()
	rows, err := n.st.Bans(ctx, time.Now())
	if err != nil {
		return err
	}
	bans := make([]bpf.Ban, 0, len(rows))
	for _, r := range rows {
		src, err := netip.ParsePrefix(r.Source)
		if err != nil {
			n.log.Warn("shared ban with a bad source skipped", zap.String("source", r.Source), zap.Error(err))
			continue
		}
		bans = append(bans, bpf.Ban{Source: src, Reason: r.Reason, Origin: r.Origin, Actor: r.Actor, Created: r.Created, Expires: r.Expires})
	}
	n.m.shared.Set(float64(len(bans)))
	if added, lifted := n.shield.SyncShared(bans); added+lifted > 0 {
		n.log.Info("shared bans applied", zap.Int("added", added), zap.Int("lifted", lifted))
	}
	return nil
}

// notifyBans is the payload of a ban list change.
const notifyBans = "bans"

// banStore is the shield's BanStore: the store's bans table, and a
// notification so the other nodes apply the change at once.
type banStore struct{ n *Node }

func (b banStore) SaveBan(ctx context.Context, ban bpf.Ban) error {
	err := b.n.st.PutBan(ctx, store.StoredBan{Source: ban.Source.String(), Reason: ban.Reason, Origin: ban.Origin, Actor: ban.Actor,
		Created: ban.Created, Expires: ban.Expires})
	if err == nil {
		b.n.notify(ctx, notifyBans)
	}
	return err
}

func (b banStore) DeleteBan(ctx context.Context, src netip.Prefix) (bool, error) {
	ok, err := b.n.st.DeleteBan(ctx, src.String())
	if err == nil && ok {
		b.n.notify(ctx, notifyBans)
	}
	return ok, err
}

func (n *Node) notify(ctx context.Context, payload string) {
	if err := n.st.Notify(ctx, payload); err != nil {
		n.m.errors.WithLabelValues(string(partNotify)).Inc()
		n.log.Warn("notifying the other nodes failed; they see the change at their next poll", zap.Error(err))
	}
}
