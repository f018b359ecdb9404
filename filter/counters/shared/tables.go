package shared

import (
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/smsfw/smsfw/filter/counters"
)

const (
	nShards = 16
	// maxQueued bounds one shard's updates between two syncs (16 shards:
	// about a million updates a table an interval); beyond, updates are
	// counted locally only (smsfw_counters_shared_dropped_updates_total).
	maxQueued = 1 << 16
	// minRemote is the fewest keys a table remembers the others' counts of.
	minRemote = 1024
)

// queue is a shard of a table's sync: its pending updates, and what the
// replies said of its keys (R), bounded.
type queue[O, R any] struct {
	mu     sync.Mutex
	ops    []O
	spare  []O
	remote map[uint64]R
	_      [64]byte
}

type queues[O, R any] struct {
	s        *Sharer
	name     string
	maxKeys  int // remote entries a shard keeps
	shards   [nShards]queue[O, R]
	redisKey []byte // scratch of the sync goroutine
}

func (q *queues[O, R]) init(s *Sharer, name string, capacity int) {
	q.s, q.name = s, name
	q.maxKeys = max(capacity/nShards, minRemote)
	for i := range q.shards {
		q.shards[i].remote = map[uint64]R{}
	}
}

func (q *queues[O, R]) shard(key uint64) *queue[O, R] { return &q.shards[key>>60] }

// push queues op (the shard is locked).
func (q *queues[O, R]) push(sh *queue[O, R], op O) {
	if len(sh.ops) >= maxQueued {
		q.s.m.dropped.WithLabelValues(reasonQueueFull).Inc()
		return
	}
	sh.ops = append(sh.ops, op)
}

// remember stores r for key (the shard is locked), making room by
// dropping an arbitrary entry.
func (q *queues[O, R]) remember(sh *queue[O, R], key uint64, r R) {
	if _, ok := sh.remote[key]; !ok && len(sh.remote) >= q.maxKeys {
		for k := range sh.remote {
			delete(sh.remote, k)
			break
		}
	}
	sh.remote[key] = r
}

// drain calls f with every shard's queued updates (valid until the next
// drain: the buffers alternate).
func (q *queues[O, R]) drain(f func(ops []O)) {
	for i := range q.shards {
		sh := &q.shards[i]
		sh.mu.Lock()
		ops := sh.ops
		sh.ops, sh.spare = sh.spare[:0], ops
		sh.mu.Unlock()
		f(ops)
	}
}

func (q *queues[O, R]) discard() int {
	n := 0
	q.drain(func(ops []O) { n += len(ops) })
	return n
}

func (q *queues[O, R]) forget() {
	for i := range q.shards {
		sh := &q.shards[i]
		sh.mu.Lock()
		clear(sh.remote)
		sh.mu.Unlock()
	}
}

// key is the table's Redis key for k: prefix:owner/table:{hex}, the hash
// tag being the counter's key, so that a cluster spreads the counters over
// its slots and every key of one counter sits in one slot.
func (q *queues[O, R]) key(k uint64, suffix int64, withSuffix bool) string {
	b := append(q.redisKey[:0], q.s.cfg.Redis.Prefix...)
	b = append(b, ':')
	b = append(b, q.name...)
	b = append(b, ":{"...)
	for sh := 60; sh >= 0; sh -= 4 {
		b = append(b, "0123456789abcdef"[k>>uint(sh)&0xF])
	}
	b = append(b, '}')
	if withSuffix {
		b = append(b, ':')
		b = strconv.AppendInt(b, suffix, 10)
	}
	q.redisKey = b
	return string(b)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// limiterSync shares a Limiter: charges are summed per key and sent as one
// GCRA script call a key and sync; the reply raises the local TAT.
type limiterSync struct {
	queues[limOp, struct{}]
	l *counters.Limiter
}

type limOp struct {
	key  uint64
	cost int64 // ns
}

func newLimiterSync(s *Sharer, name string, l *counters.Limiter) *limiterSync {
	ls := &limiterSync{l: l}
	ls.init(s, name, 0)
	return ls
}

// Charged implements counters.LimiterSync.
func (ls *limiterSync) Charged(key uint64, _ int64, cost int64) {
	if ls.s.down.Load() {
		return
	}
	sh := ls.shard(key)
	sh.mu.Lock()
	ls.push(sh, limOp{key, cost})
	sh.mu.Unlock()
}

func (ls *limiterSync) take(b *batch, _ int64) func() {
	sum := map[uint64]int64{}
	ls.drain(func(ops []limOp) {
		for _, o := range ops {
			sum[o.key] += o.cost
		}
	})
	if len(sum) == 0 {
		return nil
	}
	type call struct {
		key uint64
		cmd *redis.Cmd
	}
	calls := make([]call, 0, len(sum))
	for k, cost := range sum {
		us := cost / 1000
		if cost > 0 && us == 0 {
			us = 1
		}
		calls = append(calls, call{k, gcraScript.EvalSha(ctxBackground, b.pipe, []string{ls.key(k, 0, false)}, us)})
		b.queued()
	}
	return func() {
		// Charges made since the take are in the local TAT but not in the
		// reply: add them, or raising the TAT to the reply would forget them.
		inflight := make(map[uint64]int64, len(calls))
		for _, c := range calls {
			inflight[c.key] = 0
		}
		for i := range ls.shards {
			sh := &ls.shards[i]
			sh.mu.Lock()
			for _, o := range sh.ops {
				if v, ok := inflight[o.key]; ok {
					inflight[o.key] = v + o.cost
				}
			}
			sh.mu.Unlock()
		}
		now := ls.s.now().UnixNano()
		for _, c := range calls {
			if ahead, err := c.cmd.Int64(); err == nil && ahead > 0 {
				ls.l.Raise(c.key, now, now+ahead*1000+max(inflight[c.key], 0))
			}
		}
	}
}

// windowSync shares a Window: events are summed per key and bucket and
// added by a script that returns the window's global count; the others'
// part (global minus this node's count) is added to local counts until the
// next reply, while its bucket is live.
type windowSync struct {
	queues[winOp, winRemote]
	w         *counters.Window
	width, nb int64
	ttlMillis int64
	every     int64 // a key only read is refreshed at most this often (ns)
}

type winOp struct {
	key    uint64
	bucket int64
	n      uint32
	local  uint64 // this node's count after the update
	now    int64
}

type winRemote struct {
	others  uint64 // the other nodes' events in the window, at bucket
	bucket  int64
	learned int64 // the time of the update the reply answered
}

func newWindowSync(s *Sharer, name string, w *counters.Window) *windowSync {
	win, width := w.Span()
	ws := &windowSync{w: w, width: int64(width), nb: int64(win / width), ttlMillis: int64(win)/1e6 + 1000,
		every: int64(s.cfg.SyncInterval)}
	ws.init(s, name, w.Stats().Capacity)
	return ws
}

// Added implements counters.WindowSync. An update is queued for every
// event, and for a key only read at most once a sync interval (to learn
// the others').
func (ws *windowSync) Added(key uint64, now int64, n uint32, local uint64) uint64 {
	if ws.s.down.Load() {
		return local
	}
	bucket := floorDiv(now, ws.width)
	sh := ws.shard(key)
	sh.mu.Lock()
	r, ok := sh.remote[key]
	if n > 0 || !ok || now-r.learned >= ws.every {
		ws.push(sh, winOp{key, bucket, n, local, now})
	}
	sh.mu.Unlock()
	if ok && bucket-r.bucket < ws.nb {
		return local + r.others
	}
	return local
}

func (ws *windowSync) take(b *batch, _ int64) func() {
	sum := map[[2]int64]uint64{}
	type newest struct {
		bucket int64
		local  uint64 // this node's count then: the reply minus it is the others'
		now    int64
	}
	last := map[uint64]newest{}
	ws.drain(func(ops []winOp) {
		for _, o := range ops {
			sum[[2]int64{int64(o.key), o.bucket}] += uint64(o.n)
			if l, ok := last[o.key]; !ok || o.bucket >= l.bucket {
				last[o.key] = newest{o.bucket, o.local, o.now}
			}
		}
	})
	if len(sum) == 0 {
		return nil
	}
	type call struct {
		key uint64
		newest
		cmd *redis.Cmd
	}
	calls := make([]call, 0, len(sum))
	for k, n := range sum {
		key := uint64(k[0])
		cmd := windowScript.EvalSha(ctxBackground, b.pipe, []string{ws.key(key, 0, false)}, k[1], n, ws.nb, ws.ttlMillis)
		if l := last[key]; l.bucket == k[1] {
			calls = append(calls, call{key, l, cmd})
		}
		b.queued()
	}
	return func() {
		for _, c := range calls {
			total, err := c.cmd.Uint64()
			if err != nil {
				continue
			}
			sh := ws.shard(c.key)
			sh.mu.Lock()
			if r, ok := sh.remote[c.key]; !ok || c.bucket >= r.bucket {
				ws.remember(sh, c.key, winRemote{others: total - min(total, c.local), bucket: c.bucket, learned: c.now})
			}
			sh.mu.Unlock()
		}
	}
}

// distinctSync shares a Distinct: values are added (distinctScript) to a
// HyperLogLog a key and wall-clock window (tumbling), and its estimate is
// reported while it is larger than the local count.
type distinctSync struct {
	queues[distOp, distRemote]
	d      *counters.Distinct
	window int64
	ttl    int64 // ms
}

type distOp struct {
	key, value uint64
	epoch      int64
}

type distRemote struct {
	epoch int64
	n     uint32
}

func newDistinctSync(s *Sharer, name string, d *counters.Distinct) *distinctSync {
	ds := &distinctSync{d: d, window: max(int64(d.Window()), 1)}
	ds.ttl = 2*ds.window/1e6 + 1000
	ds.init(s, name, d.Stats().Capacity)
	return ds
}

// Added implements counters.DistinctSync.
func (ds *distinctSync) Added(key, value uint64, now int64, local uint32) uint32 {
	if ds.s.down.Load() {
		return local
	}
	epoch := floorDiv(now, ds.window)
	sh := ds.shard(key)
	sh.mu.Lock()
	ds.push(sh, distOp{key, value, epoch})
	r, ok := sh.remote[key]
	sh.mu.Unlock()
	if ok && r.epoch == epoch && r.n > local {
		return r.n
	}
	return local
}

func (ds *distinctSync) take(b *batch, _ int64) func() {
	vals := map[[2]int64][]any{}
	ds.drain(func(ops []distOp) {
		for _, o := range ops {
			k := [2]int64{int64(o.key), o.epoch}
			v, ok := vals[k]
			if !ok {
				v = append(make([]any, 0, 2), ds.ttl) // ARGV[1]: the expiry
			}
			vals[k] = append(v, o.value)
		}
	})
	if len(vals) == 0 {
		return nil
	}
	type call struct {
		key   uint64
		epoch int64
		cmd   *redis.Cmd
	}
	calls := make([]call, 0, len(vals))
	for k, v := range vals {
		cmd := distinctScript.EvalSha(ctxBackground, b.pipe, []string{ds.key(uint64(k[0]), k[1], true)}, v...)
		calls = append(calls, call{uint64(k[0]), k[1], cmd})
		b.queued()
	}
	return func() {
		for _, c := range calls {
			n, err := c.cmd.Int64()
			if err != nil || n < 0 {
				continue
			}
			sh := ds.shard(c.key)
			sh.mu.Lock()
			if r, ok := sh.remote[c.key]; !ok || c.epoch >= r.epoch {
				ds.remember(sh, c.key, distRemote{c.epoch, uint32(min(n, int64(1<<32-1)))})
			}
			sh.mu.Unlock()
		}
	}
}
