// Package shared shares the detectors' counters between smsfw nodes through
// Redis (the `counters:` section, backend redis): GCRA rate limits, sliding
// windows (sender velocity, pumping volumes) and distinct counts (campaign,
// SIM-farm, fan-out). Local counters stay the default for one node.
//
// The message path never waits on Redis. Every table keeps counting
// locally, exactly as with one node; a sync (counters.LimiterSync, ...)
// queues each update in memory, and one goroutine per node sends every
// table's queued updates to Redis every sync_interval in one pipeline
// (a Lua script a key for limits and windows, PFADD+PFCOUNT for distinct
// counts) and stores what the replies say the other nodes counted. The
// tables answer from that: a limiter's TAT is raised to the global TAT, a
// window adds the other nodes' events, a distinct count takes the global
// estimate when it is larger.
//
// Accuracy traded for it (I = sync_interval, N nodes, rate and burst a
// limit's): a node learns the other nodes' counts up to I plus a round
// trip late. A rate limit admits, over any time t, at most
// burst + rate*t + (N-1)*(burst + rate*I) segments in all: each node may
// spend, before its next sync, the budget the others took since its last
// one. The excess is charged to the global TAT, so the nodes then refuse
// until it is paid back: over a longer run the sum holds to the rate. A
// window or distinct count lags the truth by at most what the other nodes
// counted in the last I (windows: the shared buckets follow the node
// clocks, keep them NTP-synced; distinct: the shared window is tumbling and
// aligned to the wall clock, Redis's HyperLogLog has 0.81% standard error).
//
// When Redis is unreachable (a sync fails or times out), the node logs it
// once, sets smsfw_counters_shared_fallback to 1 and counts alone, with the
// full limits (N nodes may then admit N times a limit); it forgets what it
// had learned from the others and queues nothing. It probes Redis every
// second and shares again as soon as it answers (a restarted, empty Redis
// starts the shared counts afresh).
package shared

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter/counters"
)

// probeEvery is how often a node that fell back tries Redis again.
const probeEvery = time.Second

// ErrDisabled: Open was given a configuration without backend redis.
var ErrDisabled = errors.New("shared counters: backend is not redis")

// Options are what Open needs besides the section.
type Options struct {
	Logger  *zap.Logger
	Metrics *Metrics // nil: unregistered
	// Now is the clock of the syncs (default time.Now); tables get their
	// time from their callers.
	Now func() time.Time
}

// Sharer connects a node's counter tables to Redis.
type Sharer struct {
	cfg Config
	rdb redis.UniversalClient
	log *zap.Logger
	m   *Metrics
	now func() time.Time

	down   atomic.Bool
	mu     sync.Mutex
	tables map[string]tableSync // by owner/table
	loaded bool                 // scripts loaded since the last fallback (sync goroutine)
	probed time.Time            // last probe while down (sync goroutine)

	rounds   atomic.Uint64 // syncs done, with or without updates
	started  atomic.Bool
	stop     chan struct{}
	done     chan struct{}
	closeOne sync.Once
}

// tableSync is one shared table.
type tableSync interface {
	// take moves the queued updates into commands on b and returns the
	// function that reads their replies once b is sent (nil: nothing
	// queued).
	take(b *batch, now int64) (read func())
	// discard forgets the queued updates, returning how many there were.
	discard() int
	// forget drops what was learned from the other nodes.
	forget()
}

// Open connects to Redis (a first ping, bounded by redis.timeout: an
// unreachable Redis is a fallback, not an error) and makes every key
// stable between nodes (counters.UseStableKeys with the key secret). Call
// it before the inspection chain is built, and Start to begin syncing.
func Open(cfg Config, o Options) (*Sharer, error) {
	if !cfg.Enabled() {
		return nil, ErrDisabled
	}
	cfg = cfg.WithDefaults()
	if err := counters.UseStableKeys(cfg.KeySecret); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := cfg.Redis
	uo := &redis.UniversalOptions{Addrs: r.Addrs, Username: r.Username, Password: r.password, DB: r.DB,
		DialTimeout: r.Timeout, ReadTimeout: r.Timeout, WriteTimeout: r.Timeout, MaxRetries: -1,
		PoolSize: 4, MinIdleConns: 1, ContextTimeoutEnabled: true, IsClusterMode: r.Cluster}
	if r.TLS {
		uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	s := &Sharer{cfg: cfg, rdb: redis.NewUniversalClient(uo), log: o.Logger.Named("counters"), m: o.Metrics, now: o.Now,
		tables: map[string]tableSync{}, stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.fallBack(err)
	} else {
		s.log.Info("shared counters on redis", zap.Strings("addrs", r.Addrs), zap.Duration("sync_interval", cfg.SyncInterval))
	}
	return s, nil
}

// Start begins syncing every sync_interval until Close.
func (s *Sharer) Start() {
	if s.started.CompareAndSwap(false, true) {
		go s.run()
	}
}

// Close stops syncing (the queued updates are sent first when Redis is
// reachable) and closes the connections.
func (s *Sharer) Close() error {
	s.closeOne.Do(func() {
		close(s.stop)
		if !s.started.Load() {
			return
		}
		select {
		case <-s.done:
		case <-time.After(2 * s.cfg.Redis.Timeout):
		}
	})
	return s.rdb.Close()
}

// Rounds returns how many syncs ran to the end while Redis answered, with
// or without updates to send: a test waits for two more to know that what
// it counted before went out and the replies were applied.
func (s *Sharer) Rounds() uint64 { return s.rounds.Load() }

// Fallback reports whether the node counts alone (Redis unreachable).
func (s *Sharer) Fallback() bool { return s.down.Load() }

// Share connects owner's tables to Redis (the pipeline calls it for every
// detector's tables after each build): limiters, windows and distinct
// counts; other kinds (sequences, expiring sets) stay local. A table that
// already has a sync keeps it; a new table under a known name (a reload
// changed its window or budget) replaces the old one's sync, which stops
// being sent. Tables are named owner/table in Redis keys.
func (s *Sharer) Share(owner string, tables []counters.Named) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range tables {
		name := owner + "/" + t.Name
		var ts tableSync
		switch tb := t.Table.(type) {
		case *counters.Limiter:
			if tb.Sync() != nil {
				continue
			}
			ls := newLimiterSync(s, name, tb)
			tb.SetSync(ls)
			ts = ls
		case *counters.Window:
			if tb.Sync() != nil {
				continue
			}
			ws := newWindowSync(s, name, tb)
			tb.SetSync(ws)
			ts = ws
		case *counters.Distinct:
			if tb.Sync() != nil {
				continue
			}
			ds := newDistinctSync(s, name, tb)
			tb.SetSync(ds)
			ts = ds
		default:
			continue
		}
		s.tables[name] = ts
	}
}

func (s *Sharer) run() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			if !s.down.Load() {
				s.sync()
			}
			return
		case <-t.C:
			s.sync()
		}
	}
}

// sync sends every table's queued updates in one pipeline and applies the
// replies; while Redis is unreachable it probes it instead.
func (s *Sharer) sync() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Redis.Timeout)
	defer cancel()
	s.mu.Lock()
	tables := make([]tableSync, 0, len(s.tables))
	for _, t := range s.tables {
		tables = append(tables, t)
	}
	s.mu.Unlock()
	if s.down.Load() {
		for _, t := range tables {
			t.discard()
		}
		// A probe a second at most: a flapping Redis logs twice a second
		// at most, and a dead one costs one connection attempt a second.
		if time.Since(s.probed) < probeEvery {
			return
		}
		s.probed = time.Now()
		if err := s.rdb.Ping(ctx).Err(); err != nil {
			return
		}
		s.loaded = false
		s.down.Store(false)
		s.m.fallback.Set(0)
		s.log.Info("redis reachable again: sharing counters")
		return
	}
	if !s.loaded {
		if err := loadScripts(ctx, s.rdb); err != nil {
			s.failed(err, tables)
			return
		}
		s.loaded = true
	}
	b := &batch{s: s, pipe: s.rdb.Pipeline()}
	now := s.now().UnixNano()
	var reads []func()
	for _, t := range tables {
		if r := t.take(b, now); r != nil {
			reads = append(reads, r)
		}
	}
	if len(reads) == 0 {
		s.rounds.Add(1)
		return
	}
	b.exec()
	switch {
	case b.err != nil:
		s.m.syncs.WithLabelValues(resultError).Inc()
		s.fallBack(b.err)
		return
	case b.noscript:
		s.loaded = false // Redis restarted between two syncs: load again
		s.m.syncs.WithLabelValues(resultError).Inc()
	default:
		s.m.syncs.WithLabelValues(resultOK).Inc()
	}
	for _, r := range reads {
		r() // commands that failed are skipped by their reader
	}
	s.rounds.Add(1)
}

// chunk is how many commands one round trip carries: a big sync goes out
// in several, each with its own deadline (redis.timeout). A sync slower
// than the interval delays the next one, which then carries more updates
// a key (they are summed): the load on Redis adapts to what it answers.
const chunk = 4096

// batch is one sync's commands, sent a chunk at a time.
type batch struct {
	s        *Sharer
	pipe     redis.Pipeliner
	err      error // the connection failed: nothing more is sent
	noscript bool
}

// queued is called after each key's commands.
func (b *batch) queued() {
	b.s.m.keys.Inc()
	if b.pipe.Len() >= chunk {
		b.exec()
	}
}

func (b *batch) exec() {
	if b.pipe.Len() == 0 {
		return
	}
	if b.err != nil {
		b.s.m.dropped.WithLabelValues(reasonSyncFailed).Add(float64(b.pipe.Len()))
		b.pipe.Discard()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.s.cfg.Redis.Timeout)
	defer cancel()
	start := time.Now()
	cmds, err := b.pipe.Exec(ctx)
	b.s.m.duration.Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
	case replyError(err):
		b.noscript = b.noscript || strings.HasPrefix(err.Error(), "NOSCRIPT")
	default:
		b.err = err
		b.s.m.dropped.WithLabelValues(reasonSyncFailed).Add(float64(len(cmds)))
	}
}

// replyError reports whether err is Redis answering with an error (a
// script error, NOSCRIPT), not the connection failing.
func replyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, context.DeadlineExceeded) && !strings.HasPrefix(err.Error(), "LOADING")
}

// failed falls back to local counting, dropping what tables queued.
func (s *Sharer) failed(err error, tables []tableSync) {
	s.m.syncs.WithLabelValues(resultError).Inc()
	for _, t := range tables {
		s.m.dropped.WithLabelValues(reasonSyncFailed).Add(float64(t.discard()))
	}
	s.fallBack(err)
}

func (s *Sharer) fallBack(err error) {
	if !s.down.CompareAndSwap(false, true) {
		return
	}
	s.probed = time.Now()
	s.m.fallback.Set(1)
	s.m.fallbacks.Inc()
	s.log.Warn("redis unreachable: counting locally until it answers", zap.Error(err))
	s.mu.Lock()
	for _, t := range s.tables {
		t.forget()
	}
	s.mu.Unlock()
}

// ctxBackground queues pipeline commands: the pipeline's Exec carries the
// sync's deadline.
var ctxBackground = context.Background()
