package receipts

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"go.uber.org/zap"
)

// The journal keeps the accepted ids across restarts and shares them
// between the nodes of a cluster, through the event store. Every
// syncEvery, the node appends the words of its filter that changed since
// it last wrote (a delta chunk, at least a heartbeat every heartbeat) and
// reads the chunks the other nodes appended, ORing them into its filter.
// Every compactEvery it writes its whole filter (full chunks) and drops
// its older chunks. At a clean stop it writes what is left and a stop
// chunk. A node starting reads every chunk (its own and the others'):
// after a clean stop it knows every id it knew; after a crash it lost at
// most syncEvery of ids, so for the policy's warm-up it judges no receipt
// of an unknown id fake (they are counted as unverified). So does a start
// on an empty journal in a store that held events already (an upgrade
// from a version without the journal: the ids accepted before are
// unknown). A warm-up is written as a chunk: every node that reads it
// warms up too (a receipt of a lost id may come over any node's bind),
// and it is written again at each compaction while it lasts. A first
// start on a new store does not warm up: nothing was accepted before.
//
// In a cluster a receipt may arrive on one node before the id another
// node accepted reached it. A receipt with an unknown id is therefore
// judged fake only when every other live node has written its ids up to
// a time after this node first saw that receipt (plus clockSlack);
// before that it is early: refused temporarily, so the SMSC retries it.

// Journal is where chunks are kept: the event store.
type Journal interface {
	// AppendChunks stores chunks in one transaction, in commit order of
	// Seq across nodes (ChunksAfter's cursor skips nothing).
	AppendChunks(ctx context.Context, chunks []Chunk) error
	// ChunksAfter returns up to limit chunks with Seq > after, by Seq.
	ChunksAfter(ctx context.Context, after int64, limit int) ([]Chunk, error)
	// DropChunks deletes node's chunks with Seq < before and every
	// chunk that expired at now (Chunk.Expires).
	DropChunks(ctx context.Context, node string, before int64, now time.Time) (int64, error)
}

// ChunkKind says what a chunk holds.
type ChunkKind int

const (
	// ChunkDelta: the words that changed since the node's previous chunk
	// (none: a heartbeat).
	ChunkDelta ChunkKind = iota
	// ChunkFull: every word of one generation that is not zero.
	ChunkFull
	// ChunkStop: the node stopped cleanly after writing all its ids.
	ChunkStop
	// ChunkWarmUp: ids accepted before At may be unknown to the journal
	// (a crash, an upgrade): every node warms up from At.
	ChunkWarmUp
)

// Chunk is a part of one node's filter.
type Chunk struct {
	Seq  int64 // assigned by the journal
	Node string
	Kind ChunkKind
	// The filter's geometry: nanoseconds per generation and bits.
	Span, Bits int64
	Epoch      int64 // the generation: [Epoch*Span, (Epoch+1)*Span)
	// At: the node's ids accepted before this time are in this chunk
	// and its earlier ones (unix nanoseconds, the node's clock).
	At    int64
	Words []byte // (uint32 index, uint64 word) little-endian pairs
}

// Expires is when the chunk's generation is forgotten.
func (c Chunk) Expires() time.Time {
	if c.Span <= 0 || c.Kind == ChunkStop {
		return time.Unix(0, c.At).Add(7 * 24 * time.Hour)
	}
	return time.Unix(0, (c.Epoch+gens+1)*c.Span)
}

const (
	syncEvery    = 250 * time.Millisecond
	heartbeat    = time.Second
	compactEvery = 10 * time.Minute
	// staleAfter: a node silent this long is not waited for.
	staleAfter = 10 * time.Second
	// clockSlack covers the clocks of two nodes disagreeing.
	clockSlack = time.Second
	chunksPage = 8 // a full chunk holds up to 12 bytes per 64 bits of filter: ~3 MB at max_ids 1M
	// maxPending bounds the receipts with unknown ids remembered with
	// the time they were first seen.
	maxPending = 1 << 16
)

// JournalOptions configure Persist.
type JournalOptions struct {
	Journal Journal
	Node    string // this node's name ("" alone)
	Logger  *zap.Logger
	Metrics *Metrics
	Now     func() time.Time
	// Used: the store held events before (an empty journal then means
	// ids accepted before it are unknown: an upgrade).
	Used bool
	// WarmUp: how long a warm-up lasts (the policy's warm_up), for how
	// long its chunk is written again at compactions.
	WarmUp time.Duration
	// manual: no goroutine; tests call write and read.
	manual bool
}

// remoteNode is what this node knows of another.
type remoteNode struct {
	at      int64 // its newest chunk's At
	seen    int64 // this node's clock when that chunk was read
	stopped bool
}

// shared is the journal's state that detectors read.
type shared struct {
	mu      sync.Mutex
	nodes   map[string]*remoteNode
	pending map[uint64]int64 // unknown receipt keys: first seen
	// readAt: when the last read of the journal that succeeded began. A
	// node writes a chunk before it serves, so a read begun after a
	// receipt came knows every node that could have accepted its id.
	readAt int64
	named  bool // this node has a name: other nodes may share the journal
}

// noHorizon: no other node is live, every id is known here.
const noHorizon = math.MaxInt64

// horizon is the time up to which every live other node's ids are known
// here (noHorizon when none is live).
func (s *shared) horizon(now int64) int64 {
	h := int64(noHorizon)
	for _, n := range s.nodes {
		if !n.stopped && now-n.seen < int64(staleAfter) {
			h = min(h, n.at)
		}
	}
	return h
}

// settled reports whether a receipt with the unknown key, seen at now,
// can be judged: every live node's ids are known up to after it was
// first seen.
func (s *shared) settled(key uint64, now int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.horizon(now)
	if h == noHorizon && !s.named {
		return true
	}
	first, ok := s.pending[key]
	if !ok {
		if len(s.pending) >= maxPending {
			for k := range s.pending {
				delete(s.pending, k)
				break
			}
		}
		s.pending[key] = now
		first = now
	}
	if s.readAt < first && now-s.readAt < int64(staleAfter) {
		// A node started since the last read may have accepted it (a
		// journal unread for staleAfter is not waited for, as a silent
		// node is not).
		return false
	}
	if h == noHorizon || h > first+int64(clockSlack) {
		delete(s.pending, key)
		return true
	}
	return false
}

// Persist attaches the journal: it reads every chunk into the filter
// (before it returns, so that the first receipt judged knows them) and
// starts the goroutine that writes and reads chunks. Stop ends it. It
// never fails: a journal it cannot read means a warm-up.
func (s *State) Persist(ctx context.Context, o JournalOptions) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.WarmUp <= 0 {
		// Unknown (no policy setting read): rewriting the chunk longer
		// than a warm-up lasts is harmless, each node judges by its own.
		o.WarmUp = defaultWarmUp
	}
	s.SetMetrics(o.Metrics)
	j := &journal{s: s, o: o, log: o.Logger.Named("receipts"), stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.shared = &shared{nodes: map[string]*remoteNode{}, pending: map[uint64]int64{}, named: o.Node != ""}
	s.journal = j
	s.mu.Unlock()
	clean, err := j.load(ctx)
	if err != nil {
		o.Metrics.errors.WithLabelValues(opLoad).Inc()
		j.log.Error("accepted receipt ids not loaded: receipts of unknown ids pass unjudged for the warm-up", zap.Error(err))
	}
	if !clean {
		s.WarmUp(o.Now())
		j.warmed = true
	}
	// A heartbeat at once: the other nodes wait for this one's ids from
	// its first message on.
	if err := j.write(ctx, false); err != nil {
		o.Metrics.errors.WithLabelValues(opAppend).Inc()
		j.log.Warn("accepted receipt ids not written", zap.Error(err))
	}
	if o.manual {
		close(j.done)
		return
	}
	go j.run()
}

// Stop writes the ids not written yet and a stop chunk (after the proxy
// drained: no id is accepted any more), and ends the journal.
func (s *State) Stop(ctx context.Context) error {
	s.mu.Lock()
	j := s.journal
	s.mu.Unlock()
	if j == nil {
		return nil
	}
	j.once.Do(func() {
		close(j.stop)
		<-j.done
		err := j.write(ctx, false)
		if err == nil {
			err = j.o.Journal.AppendChunks(ctx, []Chunk{{Node: j.o.Node, Kind: ChunkStop, At: j.o.Now().UnixNano()}})
		}
		if err != nil {
			j.o.Metrics.errors.WithLabelValues(opAppend).Inc()
			j.stopErr = errors.Join(ErrNotSaved, err)
		}
	})
	return j.stopErr
}

// ErrNotSaved: the ids accepted last were not written at the stop; the
// next start warms up.
var ErrNotSaved = errors.New("receipts: accepted ids not saved")

type journal struct {
	s       *State
	o       JournalOptions
	log     *zap.Logger
	cursor  int64
	last    time.Time // last chunk written
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	stopErr error
	warmed  bool // this node started the warm-up: its chunk is not written yet
}

// load reads every chunk; clean reports that nothing was lost: this
// node's last chunk is a stop chunk, or it has none (its first start).
func (j *journal) load(ctx context.Context) (clean bool, err error) {
	own, some := false, false
	err = j.pages(ctx, func(c Chunk) {
		some = true
		if c.Node == j.o.Node && c.Kind != ChunkWarmUp {
			own, clean = true, c.Kind == ChunkStop
		}
		j.take(c, true)
	})
	if err != nil {
		return false, err
	}
	if !own {
		// A first start on a new store lost nothing it could know; on
		// an empty journal in a used store, the ids before are unknown.
		return some || !j.o.Used, nil
	}
	return clean, nil
}

// pages calls fn with every chunk after the cursor, a page at a time.
func (j *journal) pages(ctx context.Context, fn func(Chunk)) error {
	began := j.o.Now().UnixNano()
	for {
		cs, err := j.o.Journal.ChunksAfter(ctx, j.cursor, chunksPage)
		if err != nil {
			return err
		}
		for _, c := range cs {
			fn(c)
		}
		if len(cs) < chunksPage {
			sh := j.s.shared
			sh.mu.Lock()
			sh.readAt = max(sh.readAt, began)
			sh.mu.Unlock()
			return nil
		}
	}
}

// take merges a chunk read from the journal (the cursor moves past it).
func (j *journal) take(c Chunk, loading bool) {
	j.cursor = max(j.cursor, c.Seq)
	if c.Node == j.o.Node && !loading {
		return
	}
	now := j.o.Now().UnixNano()
	if c.Node != j.o.Node {
		sh := j.s.shared
		sh.mu.Lock()
		n := sh.nodes[c.Node]
		if n == nil {
			n = &remoteNode{}
			sh.nodes[c.Node] = n
		}
		seen := now
		if loading { // a node gone long ago is not waited for
			seen = min(now, c.At)
		}
		n.at, n.seen, n.stopped = max(n.at, c.At), max(n.seen, seen), c.Kind == ChunkStop
		sh.mu.Unlock()
	}
	if c.Kind == ChunkWarmUp {
		j.s.warmUpFrom(c.At)
		return
	}
	if c.Kind == ChunkStop || len(c.Words) == 0 {
		return
	}
	f := j.s.filterFor(c.Span, c.Bits)
	if f == nil || !f.merge(c.Epoch, c.Words, now) {
		j.o.Metrics.dropped.Inc()
	}
}

func (j *journal) run() {
	defer close(j.done)
	t := time.NewTicker(syncEvery)
	defer t.Stop()
	lastCompact := j.o.Now()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		now := j.o.Now()
		full := now.Sub(lastCompact) >= compactEvery
		if err := j.write(ctx, full); err != nil {
			j.o.Metrics.errors.WithLabelValues(opAppend).Inc()
			j.log.Warn("accepted receipt ids not written", zap.Error(err))
		} else if full {
			lastCompact = now
		}
		if err := j.read(ctx); err != nil {
			j.o.Metrics.errors.WithLabelValues(opRead).Inc()
			j.log.Warn("other nodes' receipt ids not read", zap.Error(err))
		}
		cancel()
	}
}

// write appends the changed words (every word with full, then drops this
// node's older chunks); at least a heartbeat every heartbeat.
func (j *journal) write(ctx context.Context, full bool) error {
	now := j.o.Now()
	at := now.UnixNano()
	var cs []Chunk
	kind := ChunkDelta
	if full {
		kind = ChunkFull
	}
	if from := j.s.warmFrom.Load(); from != 0 && (j.warmed || full && at < from+int64(j.o.WarmUp)) {
		// First, so that it is never a node's last chunk (load reads the
		// last one for a clean stop) and a compaction keeps it.
		cs = append(cs, Chunk{Node: j.o.Node, Kind: ChunkWarmUp, At: from})
	}
	for _, f := range j.s.allFilters() {
		f.changes(at, full, func(epoch int64, words []byte) {
			cs = append(cs, Chunk{Node: j.o.Node, Kind: kind, Span: f.span, Bits: int64(f.bits()), Epoch: epoch, At: at,
				Words: append([]byte(nil), words...)})
		})
	}
	if len(cs) == 0 || cs[len(cs)-1].Kind == ChunkWarmUp {
		if len(cs) == 0 && now.Sub(j.last) < heartbeat {
			return nil
		}
		cs = append(cs, Chunk{Node: j.o.Node, Kind: ChunkDelta, At: at})
	}
	if err := j.o.Journal.AppendChunks(ctx, cs); err != nil {
		if !full {
			// The words stay changed only in the filter: write them all
			// at the next compaction.
			j.forceFull()
		}
		return err
	}
	j.last = now
	j.warmed = false
	n := 0
	for _, c := range cs {
		n += len(c.Words) / 12
	}
	j.o.Metrics.chunks.Add(float64(len(cs)))
	j.o.Metrics.words.Add(float64(n))
	if full {
		// This node's full chunks hold every id it read too: the chunks
		// of nodes gone (stopped, or silent for an hour: a pod replaced
		// under another name) go with its own older ones.
		for _, node := range append(j.gone(now.UnixNano()), j.o.Node) {
			if _, err := j.o.Journal.DropChunks(ctx, node, cs[0].Seq, now); err != nil {
				j.o.Metrics.errors.WithLabelValues(opCompact).Inc()
				j.log.Warn("old receipt id chunks not dropped", zap.Error(err))
				break
			}
		}
	}
	return nil
}

// goneAfter: a node silent this long is taken for gone for good.
const goneAfter = time.Hour

// gone returns (and forgets) the other nodes that stopped or went silent
// for goneAfter.
func (j *journal) gone(now int64) []string {
	sh := j.s.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var out []string
	for name, n := range sh.nodes {
		if n.stopped || now-n.seen > int64(goneAfter) {
			out = append(out, name)
			delete(sh.nodes, name)
		}
	}
	return out
}

// forceFull forgets the journal's copy: the next write has every word.
func (j *journal) forceFull() {
	for _, f := range j.s.allFilters() {
		for i := range f.shadowEpoch {
			f.shadowEpoch[i] = -1
		}
	}
}

// read merges the other nodes' new chunks.
func (j *journal) read(ctx context.Context) error {
	if err := j.pages(ctx, func(c Chunk) { j.take(c, false) }); err != nil {
		return err
	}
	sh := j.s.shared
	now := j.o.Now().UnixNano()
	sh.mu.Lock()
	h := sh.horizon(now)
	sh.mu.Unlock()
	lag := 0.0
	if h != noHorizon {
		lag = max(time.Duration(now-h).Seconds(), 0)
	}
	j.o.Metrics.lag.Set(lag)
	return nil
}

// WarmUp says the ids accepted before t may be unknown (a start without
// them): for the policy's warm-up from t, receipts of unknown ids are not
// judged.
func (s *State) WarmUp(t time.Time) { s.warmUpFrom(t.UnixNano()) }

// warmUpFrom moves the warm-up's start to from if that is later.
func (s *State) warmUpFrom(from int64) {
	for {
		old := s.warmFrom.Load()
		if from <= old || s.warmFrom.CompareAndSwap(old, from) {
			return
		}
	}
}

// warming reports whether a receipt of an unknown id at now is not judged.
func (s *State) warming(now int64, warmup time.Duration) bool {
	from := s.warmFrom.Load()
	return from != 0 && now >= from && now < from+int64(warmup)
}
