package proxy

import (
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Leg label values.
const (
	legDownstream = "downstream"
	legUpstream   = "upstream"
)

// Direction label values for PDU counts.
const (
	dirIn  = "in"
	dirOut = "out"
)

// Bind result label values.
const (
	bindOK            = "ok"
	bindBadSystemID   = "invalid_system_id"
	bindBadPassword   = "invalid_password"
	bindNotAllowed    = "source_not_allowed"
	bindTooMany       = "session_limit"
	bindAlreadyBound  = "already_bound"
	bindUpstreamError = "upstream_failed"
	bindRejected      = "upstream_rejected"
	bindTimeout       = "timeout"
	bindUnbound       = "unbound"
	bindLost          = "lost"
	bindLockedOut     = "locked_out"
	bindAuthBusy      = "auth_busy"
)

// Verdict kinds (the direction label of smsfw_proxy_verdicts_total):
// filter.MT and filter.MO index the first two; receipts are counted apart
// from the MO they travel with.
const (
	verdictReceipt  = 2
	numVerdictKinds = 3
)

var verdictKindNames = [numVerdictKinds]string{filter.MT.String(), filter.MO.String(), "receipt"}

// verdictKind is the kind a request's verdict is counted under.
func verdictKind(r *filter.Request) int {
	if r.Direction == filter.MO && r.Msg != nil && r.Msg.IsReceipt() {
		return verdictReceipt
	}
	return int(r.Direction)
}

// Reasons for malformed / dropped PDUs.
const (
	badFrame      = "frame"
	badBody       = "body"
	badCommand    = "unknown_command"
	badState      = "wrong_state"
	badUnexpected = "unexpected_response"
)

// Connection limits (label values).
const (
	refusedTotal     = "total"
	refusedPerSource = "per_source"
	refusedBanned    = "banned"
)

// Segment events.
// Quarantine outcomes (label values).
const (
	quarHeld          = "held"
	quarStoreFailed   = "store_failed"
	quarReleased      = "released"
	quarReleaseFailed = "release_failed"
	quarRejected      = "rejected"
)

const (
	segHeld      = "held"
	segTimeout   = "timeout"
	segDuplicate = "duplicate"
	segOverflow  = "overflow"
)

// Status classes: bounded label values for command_status.
var statusClasses = [...]string{"ok", "throttled", "queue_full", "system_error", "temporary_app_error",
	"submit_failed", "permanent_app_error", "invalid_address", "protocol_error", "other"}

// statusClass maps a status to an index into statusClasses.
func statusClass(s pdu.Status) int {
	switch s {
	case pdu.StatusOK:
		return 0
	case pdu.StatusThrottled:
		return 1
	case pdu.StatusMsgQFul:
		return 2
	case pdu.StatusSysErr:
		return 3
	case pdu.StatusXTAppn:
		return 4
	case pdu.StatusSubmitFail:
		return 5
	case pdu.StatusXPAppn, pdu.StatusXRAppn:
		return 6
	case pdu.StatusInvSrcAdr, pdu.StatusInvDstAdr:
		return 7
	case pdu.StatusInvCmdID, pdu.StatusInvCmdLen, pdu.StatusInvBndSts:
		return 8
	}
	return len(statusClasses) - 1
}

// Metrics are the proxy's Prometheus collectors. Per-PDU counters are
// resolved once into arrays so the hot path does no label lookups.
type Metrics struct {
	pdus      *prometheus.CounterVec
	pduIn     [2][pdu.NumCommands]prometheus.Counter // [leg][cmd]
	pduOut    [2][pdu.NumCommands]prometheus.Counter
	responses *prometheus.CounterVec
	// respByCls: the series of smsfw_proxy_responses_total, made on first
	// use (most of the 320 leg x command x status combinations never
	// happen and would only be exported zeros); the ok series of the
	// requests each leg answers exist from the start.
	respByCls  [2][pdu.NumCommands][len(statusClasses)]atomic.Pointer[prometheus.Counter]
	inflightUp shardedCount
	inflightDn shardedCount
	sessions   *prometheus.GaugeVec
	binds      *prometheus.CounterVec
	latency    *latencyHist
	late       *prometheus.CounterVec
	timeouts   *prometheus.CounterVec
	failed     *prometheus.CounterVec
	malformed  *prometheus.CounterVec
	verdicts   [numVerdictKinds][filter.NumActions]prometheus.Counter
	filterErrs prometheus.Counter
	upstreamUp *prometheus.GaugeVec
	segments   *prometheus.CounterVec
	reconnects *prometheus.CounterVec
	quarantine *prometheus.CounterVec
	// authentication (hardening)
	lockouts     *prometheus.CounterVec
	lockedBinds  *prometheus.CounterVec
	connsRefused *prometheus.CounterVec
	connsOpen    func() float64 // set by the server that owns these metrics
	// inline without harm
	deliveries     *prometheus.CounterVec // deliveries toward peers that waited or were refused, by peer and event
	heldRelays     *prometheus.CounterVec // long messages answered by smsfw and relayed after their verdict
	receiptsParked prometheus.Counter     // receipts read before their held parts' answers
	ownReceipts    *prometheus.CounterVec // receipts smsfw sends itself
	moRouted       *prometheus.CounterVec // MO queued for routes beyond SMPP (MORouter)
	panics         prometheus.Counter
	// localThrottled counts messages answered 0x58 before inspection
	// because their session's budget of locally answered messages was spent.
	localThrottled *prometheus.CounterVec
	heldSegs       func() float64
	queuedDlv      atomic.Int64

	lockUntracked prometheus.Counter // binds from sources the lockout table had no room for

	// Verdicts by peer: the peer label is bounded by the configuration
	// (config mode) or by maxPeerLabels (pass-through system_ids; the rest
	// count as "other").
	peerVerdicts *prometheus.CounterVec
	peerMu       sync.RWMutex
	peerCtr      map[string]*peerCounters
	peerOther    *peerCounters

	nextShard atomic.Uint32 // round robin of the read loops over the shards
	counts    [metricShards]countShard
}

// metricShards is how many shards the counts that every read loop changes
// (requests in flight, relay latency) are split into: each loop writes its
// own shard, a cache line no other loop writes (unless there are more
// loops than shards), and a scrape sums them. One shared counter would be
// a cache line bounced between the cores for every message.
const metricShards = 64

// shard returns the shard of a new read loop.
func (m *Metrics) shard() uint8 { return uint8(m.nextShard.Add(1) % metricShards) }

// shardedCount is a count changed by many goroutines: each adds on a shard
// of its own (a request may be counted in on one shard and out on
// another: only the sum means anything).
type shardedCount struct {
	s [metricShards]struct {
		n atomic.Int64
		_ [56]byte // one cache line per shard
	}
}

func (c *shardedCount) Add(shard uint8, n int64) { c.s[shard%metricShards].n.Add(n) }

// Load returns the sum of the shards.
func (c *shardedCount) Load() int64 {
	var n int64
	for i := range c.s {
		n += c.s[i].n.Load()
	}
	return n
}

type peerCounters [numVerdictKinds][filter.NumActions]prometheus.Counter

// maxPeerLabels bounds the peer label values of the per-peer metrics.
const maxPeerLabels = 1000

// peerVerdict counts one message's verdict for its peer.
func (m *Metrics) peerVerdict(peer string, kind int, a filter.Action) {
	m.countersOf(peer)[kind][a].Inc()
}

// countersOf returns the verdict counters of peer.
func (m *Metrics) countersOf(peer string) *peerCounters {
	m.peerMu.RLock()
	c := m.peerCtr[peer]
	m.peerMu.RUnlock()
	if c == nil {
		c = m.peerCounters(peer)
	}
	return c
}

func (m *Metrics) peerCounters(peer string) *peerCounters {
	m.peerMu.Lock()
	defer m.peerMu.Unlock()
	if c := m.peerCtr[peer]; c != nil {
		return c
	}
	label := peer
	if len(m.peerCtr) >= maxPeerLabels {
		if m.peerOther != nil {
			return m.peerOther
		}
		label = "other"
	}
	c := new(peerCounters)
	for k, name := range verdictKindNames {
		for a := 0; a < filter.NumActions; a++ {
			c[k][a] = m.peerVerdicts.WithLabelValues(label, name, filter.Action(a).String())
		}
	}
	// The peer's other series from its first message (a configured peer:
	// from the start), so their rates are defined before the first event.
	for _, ev := range []string{dlvQueued, dlvQueueFull, dlvExpired, dlvNoReceiver, dlvSessionEnd} {
		m.deliveries.WithLabelValues(label, ev)
	}
	m.localThrottled.WithLabelValues(label)
	if label == "other" {
		m.peerOther = c
	} else {
		m.peerCtr[strings.Clone(peer)] = c
	}
	return c
}

// Delivery events (label values of smsfw_proxy_deliveries_total besides the refusal reasons).
const dlvQueued = "queued"

// Held relay results (label values).
const (
	relayOK      = "relayed"
	relayRetried = "retried"
	relayFailed  = "failed"
	relayLost    = "lost"
)

// Own receipt results (label values).
const (
	rcptSent       = "sent"
	rcptOverBudget = "over_budget"
	rcptNoReceiver = "no_receiver"
	rcptQueueFull  = "queue_full"
)

// NewMetrics registers the proxy's collectors on reg (which may be nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		pdus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_pdus_total", Help: "PDUs read (in) and written (out) per leg and command.",
		}, []string{"leg", "direction", "command"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_responses_total", Help: "Responses smsfw sent to peers or the SMSC, by leg, command and status class.",
		}, []string{"leg", "command", "status"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "smsfw_proxy_sessions", Help: "Bound sessions per leg.",
		}, []string{"leg"}),
		binds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_bind_events_total", Help: "Bind attempts and session ends, by leg and result.",
		}, []string{"leg", "result"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_late_responses_total", Help: "Responses that arrived after their request was answered (timeout, leg loss) and were dropped.",
		}, []string{"leg"}),
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_response_timeouts_total", Help: "Requests answered with a temporary error because no response came in time.",
		}, []string{"leg"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_failed_inflight_total", Help: "In-flight requests answered with a temporary error because a leg was lost.",
		}, []string{"leg"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_malformed_pdus_total", Help: "PDUs refused as malformed, unknown or not allowed in the session state.",
		}, []string{"leg", "reason"}),
		filterErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsfw_proxy_filter_errors_total", Help: "Inspector faults; the message got the configured fail mode.",
		}),
		upstreamUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "smsfw_proxy_upstream_sessions_bound", Help: "Bound upstream sessions per configured upstream.",
		}, []string{"upstream"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsfw_proxy_upstream_reconnects_total", Help: "Upstream connection attempts after a loss, per upstream.",
		}, []string{"upstream"}),
	}
	m.lockouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_lockouts_total", Help: "Bind lockouts begun after repeated failed binds, by scope (source, system_id).",
	}, []string{"scope"})
	m.lockedBinds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_locked_out_binds_total", Help: "Binds refused with 0x0D without a password check because the source or system_id was locked out.",
	}, []string{"scope"})
	m.lockUntracked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "smsfw_proxy_lockout_untracked_total",
		Help: "Binds from a source the lockout table had no room for (auth.max_tracked sources all locked out); their guesses are bounded only by the system_id lockout and the bcrypt bound.",
	})
	m.connsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_connections_refused_total",
		Help: "Peer connections closed at accept, by the limit reached: total (max_connections) or per_source (max_connections_per_source).",
	}, []string{"limit"})
	for _, r := range []string{refusedTotal, refusedPerSource, refusedBanned} {
		m.connsRefused.WithLabelValues(r)
	}
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_deliveries_total",
		Help: "Deliveries (MO, receipts) toward a peer whose window was full: queued, or refused to the SMSC (queue_full, expired, session_ended, no_receiver).",
	}, []string{"peer", "event"})
	m.moRouted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_mo_routed_total",
		Help: "MO messages of a route with a durable target (mo_routes): queued (the SMSC answered 0), queued_smpp (on to the peer's receiver, whose answer the SMSC gets), queue_failed (the SMSC answered 0x58).",
	}, []string{"result"})
	for _, r := range []string{moQueued, moQueuedSMPP, moQueueFailed} {
		m.moRouted.WithLabelValues(r)
	}
	m.heldRelays = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_held_relays_total",
		Help: "Segments of long messages answered by smsfw and relayed after the verdict: relayed, retried (temporary SMSC error), failed (permanent error or retries exhausted), lost (shutdown).",
	}, []string{"result"})
	for _, r := range []string{relayOK, relayRetried, relayFailed, relayLost} {
		m.heldRelays.WithLabelValues(r)
	}
	m.receiptsParked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "smsfw_proxy_receipts_parked_total",
		Help: "Receipts the SMSC sent before answering a held long-message part in flight: they waited for the answers, to reach the peer under the id it knows.",
	})
	m.ownReceipts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_own_receipts_total",
		Help: "Receipts smsfw sends itself (dropped, rejected or failed messages): sent, or not sent (over_budget, no_receiver, queue_full).",
	}, []string{"result"})
	for _, r := range []string{rcptSent, rcptOverBudget, rcptNoReceiver, rcptQueueFull} {
		m.ownReceipts.WithLabelValues(r)
	}
	m.localThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_local_answer_throttled_total",
		Help: "Messages answered 0x58 before inspection: their session had local_answer_rate messages refused, dropped or held already.",
	}, []string{"peer"})
	m.panics = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "smsfw_proxy_inspector_panics_total", Help: "Panics recovered in inspection; the message got the on_filter_error fail mode.",
	})
	for _, sc := range []string{scopeSource, scopeSystemID} {
		m.lockouts.WithLabelValues(sc)
		m.lockedBinds.WithLabelValues(sc)
	}
	m.segments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_segments_total",
		Help: "Segments of concatenated MT messages: held for reassembly, decided on timeout, duplicated, or not held (overflow).",
	}, []string{"event"})
	m.quarantine = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_quarantine_total",
		Help: "Quarantined messages: held (stored, sender answered), store_failed (sender asked to retry), released, release_failed, rejected.",
	}, []string{"result"})
	for _, r := range []string{quarHeld, quarStoreFailed, quarReleased, quarReleaseFailed, quarRejected} {
		m.quarantine.WithLabelValues(r)
	}
	m.peerVerdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_peer_verdicts_total",
		Help: "Messages by peer (the configured name, or the pass-through system_id; beyond 1000 of them \"other\"), direction (mt, mo, receipt) and action.",
	}, []string{"peer", "direction", "action"})
	m.peerCtr = map[string]*peerCounters{}
	m.latency = newLatencyHist(&m.counts)
	verdicts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsfw_proxy_verdicts_total", Help: "Verdicts carried out, by direction (mt, mo, or receipt: delivery receipts apart from MO) and action.",
	}, []string{"direction", "action"})
	for li, leg := range []string{legDownstream, legUpstream} {
		for c := 0; c < pdu.NumCommands; c++ {
			m.pduIn[li][c] = m.pdus.WithLabelValues(leg, dirIn, pdu.CommandName(c))
			m.pduOut[li][c] = m.pdus.WithLabelValues(leg, dirOut, pdu.CommandName(c))
		}
	}
	for li, reqs := range [2][]pdu.CommandID{
		{pdu.BindTransmitter, pdu.BindReceiver, pdu.BindTransceiver, pdu.SubmitSM, pdu.SubmitMulti, pdu.DataSM,
			pdu.QuerySM, pdu.CancelSM, pdu.ReplaceSM, pdu.EnquireLink, pdu.Unbind}, // what peers send smsfw
		{pdu.DeliverSM, pdu.DataSM, pdu.EnquireLink, pdu.Unbind}, // what the SMSC sends smsfw
	} {
		for _, c := range reqs {
			m.respCounter(li, c.Index(), 0)
		}
	}
	// Every error and event series exists from the start, at zero:
	// dashboards and alerts see a rate of 0, not a gap.
	for _, leg := range []string{legDownstream, legUpstream} {
		m.sessions.WithLabelValues(leg)
		m.late.WithLabelValues(leg)
		m.timeouts.WithLabelValues(leg)
		m.failed.WithLabelValues(leg)
		for _, r := range []string{badFrame, badBody, badCommand, badState, badUnexpected} {
			m.malformed.WithLabelValues(leg, r)
		}
		for _, r := range []string{bindOK, bindBadSystemID, bindBadPassword, bindNotAllowed, bindTooMany, bindAlreadyBound,
			bindUpstreamError, bindRejected, bindTimeout, bindUnbound, bindLost, bindLockedOut, bindAuthBusy} {
			m.binds.WithLabelValues(leg, r)
		}
	}
	for _, sc := range []string{scopeSource, scopeSystemID} {
		m.lockouts.WithLabelValues(sc)
		m.lockedBinds.WithLabelValues(sc)
	}
	for k, name := range verdictKindNames {
		for a := 0; a < filter.NumActions; a++ {
			m.verdicts[k][a] = verdicts.WithLabelValues(name, filter.Action(a).String())
		}
	}
	inflight := func(leg string, v *shardedCount) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "smsfw_proxy_inflight_requests", Help: "Relayed requests awaiting a response, by the leg they were sent on.",
			ConstLabels: prometheus.Labels{"leg": leg},
		}, func() float64 { return float64(v.Load()) })
	}
	if reg != nil {
		reg.MustRegister(inflight(legUpstream, &m.inflightUp), inflight(legDownstream, &m.inflightDn))
		reg.MustRegister(foldingCollector{fold: m.fold, cs: []prometheus.Collector{m.pdus, m.responses, verdicts, m.peerVerdicts}},
			m.sessions, m.binds, m.latency, m.late,
			m.timeouts, m.failed, m.malformed, m.filterErrs, m.upstreamUp, m.reconnects, m.segments, m.quarantine,
			m.lockouts, m.lockedBinds, m.lockUntracked, m.connsRefused,
			m.deliveries, m.heldRelays, m.receiptsParked, m.ownReceipts, m.moRouted, m.panics, m.localThrottled,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "smsfw_proxy_held_segments", Help: "Segments of long messages held for reassembly or awaiting relay.",
			}, func() float64 {
				if f := m.heldSegs; f != nil {
					return f()
				}
				return 0
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "smsfw_proxy_queued_deliveries", Help: "Deliveries waiting for a slot in a peer's window.",
			}, func() float64 { return float64(m.queuedDlv.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "smsfw_proxy_connections", Help: "Open peer connections, bound or not.",
			}, func() float64 {
				if f := m.connsOpen; f != nil {
					return f()
				}
				return 0
			}))
	}
	return m
}

func (m *Metrics) in(leg int, id pdu.CommandID) { m.pduIn[leg][id.Index()].Inc() }

// response counts a response sent on leg (0 downstream, 1 upstream) to a request id.
func (m *Metrics) response(leg int, req pdu.CommandID, st pdu.Status) {
	m.respCounter(leg, req.Index(), statusClass(st)).Inc()
}

var legNames = [2]string{legDownstream, legUpstream}

// respCounter returns the responses series of (leg, command, class),
// making it on first use.
func (m *Metrics) respCounter(leg, c, k int) prometheus.Counter {
	p := &m.respByCls[leg][c][k]
	if ctr := p.Load(); ctr != nil {
		return *ctr
	}
	ctr := m.responses.WithLabelValues(legNames[leg], pdu.CommandName(c), statusClasses[k]) // the same child for every caller
	p.Store(&ctr)
	return ctr
}
func (m *Metrics) out(leg int, id pdu.CommandID) { m.pduOut[leg][id.Index()].Inc() }

// Relay latency: smsfw_proxy_relay_latency_seconds by command.
const (
	latSubmit = iota
	latDeliver
	latOther
	numLatKinds
)

var latKindNames = [numLatKinds]string{"submit_sm", "deliver_sm", "other"}

// latBounds are the upper bounds of the latency buckets, in seconds and in
// nanoseconds (what the read loops compare).
var (
	latBounds   = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1, 5, 30}
	latBoundsNS = func() (ns [numLatBounds]int64) {
		for i, b := range latBounds {
			ns[i] = int64(b * 1e9)
		}
		return ns
	}()
)

const numLatBounds = 15 // len(latBounds)

func latKind(id pdu.CommandID) int {
	switch id.Request() {
	case pdu.SubmitSM:
		return latSubmit
	case pdu.DeliverSM:
		return latDeliver
	}
	return latOther
}

// latencyHist is the relay latency histogram. Read loops count their
// observations locally (loopStats) and add them to their shard of
// Metrics.counts once per batch: no cache line is shared per message,
// which a prometheus.Histogram (one set of atomics for every session)
// would be. A scrape sums the shards.
type latencyHist struct {
	desc   *prometheus.Desc
	shards *[metricShards]countShard
}

func newLatencyHist(shards *[metricShards]countShard) *latencyHist {
	return &latencyHist{shards: shards, desc: prometheus.NewDesc("smsfw_proxy_relay_latency_seconds",
		"Time from reading a request to writing its response back, for relayed requests.", []string{"command"}, nil)}
}

func (h *latencyHist) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *latencyHist) Collect(ch chan<- prometheus.Metric) {
	var counts [numLatKinds][numLatBounds + 1]uint64
	var sums [numLatKinds]int64
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		for k := range counts {
			for b, n := range sh.lat[k] {
				counts[k][b] += n
			}
			sums[k] += sh.latSum[k]
		}
		sh.mu.Unlock()
	}
	for k, name := range latKindNames {
		buckets := make(map[float64]uint64, numLatBounds)
		var cum uint64
		for b, le := range latBounds {
			cum += counts[k][b]
			buckets[le] = cum
		}
		ch <- prometheus.MustNewConstHistogram(h.desc, cum+counts[k][numLatBounds], float64(sums[k])/1e9, buckets, name)
	}
}

// Row masks have a bit per command index.
var _ [32 - pdu.NumCommands]struct{} // pdu.NumCommands <= 32

// loopStats counts what one read loop reads and writes, and its verdicts
// and relay latencies, without atomics; the loop publishes the counts to
// its shard of Metrics.counts once per batch (when its socket has nothing
// more buffered), which keeps shared counters off the per-PDU path. The
// masks mark the rows touched since the last publish: batches are often a
// message or two, and publish visits only those rows.
type loopStats struct {
	in         [pdu.NumCommands]uint32
	out        [2][pdu.NumCommands]uint32
	resps      [2][pdu.NumCommands][len(statusClasses)]uint32
	verdicts   [numVerdictKinds][filter.NumActions]uint32
	lat        [numLatKinds][numLatBounds + 1]uint32
	latSum     [numLatKinds]int64
	peerCounts [numVerdictKinds][filter.NumActions]uint32

	inMask      uint32
	outMask     [2]uint32
	respMask    [2]uint32
	verdictMask uint8
	latMask     uint8
	peerMask    uint8
	peer        string        // the peer whose verdicts the loop counts (a read loop serves one)
	peerCtr     *peerCounters // its counters
	shard       uint8         // the loop's shard (0 for the short-lived loopStats of background work)
}

// countIn counts a PDU read.
func (s *loopStats) countIn(id pdu.CommandID) {
	c := id.Index()
	s.in[c]++
	s.inMask |= 1 << c
}

// countOut counts a PDU written on leg (0 downstream, 1 upstream).
func (s *loopStats) countOut(leg int, id pdu.CommandID) {
	c := id.Index()
	s.out[leg][c]++
	s.outMask[leg] |= 1 << c
}

// resp counts a response sent on leg to a request req.
func (s *loopStats) resp(leg int, req pdu.CommandID, st pdu.Status) {
	c := req.Index()
	s.resps[leg][c][statusClass(st)]++
	s.respMask[leg] |= 1 << c
}

// verdict counts n verdicts (segments) of a kind.
func (s *loopStats) verdict(kind int, a filter.Action, n uint32) {
	s.verdicts[kind][a] += n
	s.verdictMask |= 1 << kind
}

// observe counts the relay latency of a response to a request id.
func (s *loopStats) observe(id pdu.CommandID, ns int64) {
	k := latKind(id)
	b := 0
	for b < numLatBounds && ns > latBoundsNS[b] {
		b++
	}
	s.lat[k][b]++
	s.latSum[k] += ns
	s.latMask |= 1 << k
}

// peerVerdict counts a verdict for peer.
func (s *loopStats) peerVerdict(m *Metrics, peer string, kind int, a filter.Action) {
	if s.peerCtr == nil || peer != s.peer {
		if s.peerMask != 0 {
			sh := &m.counts[s.shard%metricShards]
			sh.mu.Lock()
			s.movePeer(sh)
			sh.mu.Unlock()
		}
		s.peer, s.peerCtr = peer, m.countersOf(peer)
	}
	s.peerCounts[kind][a]++
	s.peerMask |= 1 << kind
}

// movePeer adds the loop's verdicts by peer to sh (locked).
func (s *loopStats) movePeer(sh *countShard) {
	to := sh.peers[s.peerCtr]
	if to == nil {
		if sh.peers == nil {
			sh.peers = map[*peerCounters]*[numVerdictKinds][filter.NumActions]uint64{}
		}
		to = new([numVerdictKinds][filter.NumActions]uint64)
		sh.peers[s.peerCtr] = to
	}
	for mask := s.peerMask; mask != 0; mask &= mask - 1 {
		k := bits.TrailingZeros8(mask)
		for a, n := range s.peerCounts[k] {
			to[k][a] += uint64(n)
			s.peerCounts[k][a] = 0
		}
	}
	s.peerMask = 0
}

// countShard is one shard of the counts read loops publish: a loop adds
// each batch to its own shard (a lock no other loop takes, unless there
// are more loops than shards); a scrape folds every shard into the
// Prometheus counters (Metrics.fold) and sums the latencies. Shared
// counters would put a cache line written by every session on the path of
// every batch, which with many sessions and small windows is every message
// or two.
type countShard struct {
	mu       sync.Mutex
	dirty    bool // counts to fold
	in       [2][pdu.NumCommands]uint64
	out      [2][pdu.NumCommands]uint64
	resps    [2][pdu.NumCommands][len(statusClasses)]uint64
	verdicts [numVerdictKinds][filter.NumActions]uint64
	peers    map[*peerCounters]*[numVerdictKinds][filter.NumActions]uint64
	lat      [numLatKinds][numLatBounds + 1]uint64 // per bucket, not cumulative; the last is +Inf; never folded
	latSum   [numLatKinds]int64                    // nanoseconds
	_        [64]byte                              // the next shard's lock starts on another cache line
}

// publish moves the loop's counts to its shard; readLeg is the leg the
// loop reads from.
func (s *loopStats) publish(m *Metrics, readLeg int) {
	if s.inMask|s.outMask[0]|s.outMask[1]|s.respMask[0]|s.respMask[1]|uint32(s.verdictMask|s.latMask|s.peerMask) == 0 {
		return
	}
	sh := &m.counts[s.shard%metricShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.dirty = true
	for mask := s.inMask; mask != 0; mask &= mask - 1 {
		c := bits.TrailingZeros32(mask)
		sh.in[readLeg][c] += uint64(s.in[c])
		s.in[c] = 0
	}
	s.inMask = 0
	for leg := range s.outMask {
		for mask := s.outMask[leg]; mask != 0; mask &= mask - 1 {
			c := bits.TrailingZeros32(mask)
			sh.out[leg][c] += uint64(s.out[leg][c])
			s.out[leg][c] = 0
		}
		s.outMask[leg] = 0
		for mask := s.respMask[leg]; mask != 0; mask &= mask - 1 {
			c := bits.TrailingZeros32(mask)
			for k, n := range s.resps[leg][c] {
				sh.resps[leg][c][k] += uint64(n)
				s.resps[leg][c][k] = 0
			}
		}
		s.respMask[leg] = 0
	}
	for mask := s.verdictMask; mask != 0; mask &= mask - 1 {
		k := bits.TrailingZeros8(mask)
		for a, n := range s.verdicts[k] {
			sh.verdicts[k][a] += uint64(n)
			s.verdicts[k][a] = 0
		}
	}
	s.verdictMask = 0
	for mask := s.latMask; mask != 0; mask &= mask - 1 {
		k := bits.TrailingZeros8(mask)
		for b, n := range s.lat[k] {
			sh.lat[k][b] += uint64(n)
			s.lat[k][b] = 0
		}
		sh.latSum[k] += s.latSum[k]
		s.latSum[k] = 0
	}
	s.latMask = 0
	if s.peerMask != 0 {
		s.movePeer(sh)
	}
}

// fold adds what the read loops published to the Prometheus counters.
// Scrapes call it first (foldingCollector); tests that read the counters
// directly call it too.
func (m *Metrics) fold() {
	for i := range m.counts {
		sh := &m.counts[i]
		sh.mu.Lock()
		if !sh.dirty {
			sh.mu.Unlock()
			continue
		}
		sh.dirty = false
		for leg := range sh.in {
			for c := range sh.in[leg] {
				if n := sh.in[leg][c]; n > 0 {
					m.pduIn[leg][c].Add(float64(n))
					sh.in[leg][c] = 0
				}
				if n := sh.out[leg][c]; n > 0 {
					m.pduOut[leg][c].Add(float64(n))
					sh.out[leg][c] = 0
				}
				for k, n := range sh.resps[leg][c] {
					if n > 0 {
						m.respCounter(leg, c, k).Add(float64(n))
						sh.resps[leg][c][k] = 0
					}
				}
			}
		}
		for d := range sh.verdicts {
			for a, n := range sh.verdicts[d] {
				if n > 0 {
					m.verdicts[d][a].Add(float64(n))
					sh.verdicts[d][a] = 0
				}
			}
		}
		for pc, counts := range sh.peers {
			for k := range counts {
				for a, n := range counts[k] {
					if n > 0 {
						pc[k][a].Add(float64(n))
						counts[k][a] = 0
					}
				}
			}
		}
		sh.mu.Unlock()
	}
}

// foldingCollector is collectors whose counts read loops publish in
// shards: a scrape folds the shards in first.
type foldingCollector struct {
	fold func()
	cs   []prometheus.Collector
}

func (f foldingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range f.cs {
		c.Describe(ch)
	}
}

func (f foldingCollector) Collect(ch chan<- prometheus.Metric) {
	f.fold()
	for _, c := range f.cs {
		c.Collect(ch)
	}
}
