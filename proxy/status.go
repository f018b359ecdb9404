package proxy

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// PeerStatus is one peer as the admin API shows it: its bound sessions
// and, in config mode, its upstream pool. A live view for operators
// (Kannel's status page, but per peer and per session).
type PeerStatus struct {
	Name       string `json:"name"`
	SystemID   string `json:"system_id,omitempty"`
	Class      string `json:"class,omitempty"`
	Configured bool   `json:"configured"` // a peer of the configuration (false: a pass-through system_id)
	// MaxSessions is the peer's session limit (0: none).
	MaxSessions int             `json:"max_sessions,omitempty"`
	Sessions    []SessionStatus `json:"sessions"`
	Upstream    *PoolStatus     `json:"upstream,omitempty"` // config mode
	// Messages are the peer's messages since smsfw started, whatever their
	// verdict; Rates the same a second, over the last minute.
	Messages PeerCounts `json:"messages"`
	Rates    PeerRates  `json:"rates"`
	// LastError is the peer's last refused bind (config mode), nil when
	// none was refused since smsfw started.
	LastError *LastError `json:"last_error,omitempty"`
}

// PeerCounts are a peer's messages by kind.
type PeerCounts struct {
	MT       uint64 `json:"mt"`
	MO       uint64 `json:"mo"`
	Receipts uint64 `json:"receipts"`
}

// PeerRates are a peer's messages a second by kind, over Window seconds
// (the last minute; less just after the start).
type PeerRates struct {
	MT       float64 `json:"mt"`
	MO       float64 `json:"mo"`
	Receipts float64 `json:"receipts"`
	Window   float64 `json:"window_seconds"`
}

// LastError is the last failure of a peer (a refused bind) or of an
// upstream pool (a failed or refused upstream bind, a lost session).
type LastError struct {
	Time   time.Time `json:"time"`
	What   string    `json:"what"`   // bind_refused, upstream_bind_failed, upstream_bind_refused, upstream_lost
	Detail string    `json:"detail"` // the bind result, the SMSC's status or the error
	Remote string    `json:"remote,omitempty"`
}

// What a LastError was.
const (
	errBindRefused   = "bind_refused"
	errUpBindFailed  = "upstream_bind_failed"
	errUpBindRefused = "upstream_bind_refused"
	errUpLost        = "upstream_lost"
)

// lastError keeps a LastError; the zero value holds none.
type lastError struct{ p atomic.Pointer[LastError] }

func (l *lastError) set(what, detail, remote string) {
	l.p.Store(&LastError{Time: time.Now().UTC(), What: what, Detail: detail, Remote: remote})
}

func (l *lastError) get() *LastError { return l.p.Load() }

// SessionStatus is one bound peer session.
type SessionStatus struct {
	Remote string `json:"remote"` // the peer's address
	Bind   string `json:"bind"`   // transmitter, receiver, transceiver
	// InFlight: the session's requests relayed upstream and not answered;
	// Deliveries: deliver_sm in flight toward the peer (of Window), Queued:
	// waiting for a slot.
	InFlight   int64 `json:"in_flight"`
	Deliveries int   `json:"deliveries_in_flight"`
	Window     int   `json:"window"`
	Queued     int   `json:"deliveries_queued"`
	Ending     bool  `json:"ending,omitempty"` // unbinding or half-closed
}

// PoolStatus is a peer's upstream pool (config mode).
type PoolStatus struct {
	Upstream string `json:"upstream"`
	Address  string `json:"address"`
	Sessions int    `json:"sessions"` // configured binds
	Bound    int    `json:"bound"`    // bound now
	Window   int    `json:"window"`   // per bind
	InFlight int    `json:"in_flight"`
	// LastError is the pool's last failed or refused upstream bind or
	// lost session, nil when none since the pool started.
	LastError *LastError `json:"last_error,omitempty"`
}

var bindNames = [...]string{unbound: "unbound", transmitter: "transmitter", receiver: "receiver", transceiver: "transceiver"}

// Peers returns every configured peer (bound or not) and every other peer
// with a bound session, by name. Cheap: it copies counters under the
// locks the relay takes briefly anyway.
func (s *Server) Peers() []PeerStatus {
	s.mu.Lock()
	byKey := make(map[string][]*downstream, len(s.byPeer))
	for k, list := range s.byPeer {
		byKey[k] = append([]*downstream(nil), list...)
	}
	live := make([]*livePeer, 0, len(s.live))
	for _, lp := range s.live {
		live = append(live, lp)
	}
	s.mu.Unlock()
	now := time.Now()
	totals := s.m.peerTotals()
	base, ok := s.rates.base(now)
	out := map[string]*PeerStatus{}
	for _, lp := range live {
		p := lp.cfg.Load()
		ps := &PeerStatus{Name: p.Name, SystemID: p.SystemID, Class: p.Class, Configured: true, MaxSessions: p.MaxSessions,
			Sessions: []SessionStatus{}, Upstream: lp.pool.Load().status(), LastError: lp.lastErr.get()}
		out[p.Name] = ps
	}
	for key, list := range byKey {
		ps := out[key]
		if ps == nil {
			ps = &PeerStatus{Name: key, SystemID: key, Sessions: []SessionStatus{}}
			out[key] = ps
		}
		for _, d := range list {
			ps.Sessions = append(ps.Sessions, d.status())
			if ps.Class == "" {
				ps.Class = d.class()
			}
		}
	}
	list := make([]PeerStatus, 0, len(out))
	for name, ps := range out {
		c := totals[name]
		ps.Messages = PeerCounts{MT: c[0], MO: c[1], Receipts: c[2]}
		if ok {
			w := now.Sub(base.at).Seconds()
			b := base.counts[name]
			ps.Rates = PeerRates{MT: float64(c[0]-b[0]) / w, MO: float64(c[1]-b[1]) / w, Receipts: float64(c[2]-b[2]) / w, Window: w}
		}
		sort.Slice(ps.Sessions, func(i, j int) bool { return ps.Sessions[i].Remote < ps.Sessions[j].Remote })
		list = append(list, *ps)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

func (d *downstream) status() SessionStatus {
	d.qmu.Lock()
	queued := len(d.queue) - d.qhead
	d.qmu.Unlock()
	st := SessionStatus{Remote: d.remote.String(), InFlight: d.inflightMT.Load(), Queued: queued, Ending: d.ending.Load()}
	if int(d.bind) < len(bindNames) {
		st.Bind = bindNames[d.bind]
	}
	if d.window != nil {
		st.Deliveries, st.Window = len(d.window), cap(d.window)
	}
	return st
}

func (p *pool) status() *PoolStatus {
	ps := &PoolStatus{Upstream: p.name, Address: p.up.Address, Sessions: max(p.up.Sessions, 1), Window: p.window, LastError: p.lastErr.get()}
	for _, l := range p.boundLegs() {
		ps.Bound++
		ps.InFlight += len(l.window)
	}
	return ps
}

// Rates are measured against snapshots of the peers' message counts taken
// every rateEvery, kept for rateWindow.
const (
	rateEvery  = 5 * time.Second
	rateWindow = time.Minute
)

type rateSample struct {
	at     time.Time
	counts map[string][numVerdictKinds]uint64
}

// peerRates are the snapshots, oldest first.
type peerRates struct {
	mu      sync.Mutex
	samples []rateSample
}

func (r *peerRates) add(s rateSample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
	for len(r.samples) > 1 && s.at.Sub(r.samples[1].at) >= rateWindow {
		r.samples = r.samples[1:]
	}
}

// base is the oldest snapshot of the last minute at least a second old.
func (r *peerRates) base(now time.Time) (rateSample, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.samples {
		if d := now.Sub(s.at); d <= rateWindow+rateEvery && d >= time.Second {
			return s, true
		}
	}
	return rateSample{}, false
}

// sampleRates snapshots the peers' counts every rateEvery until the
// server closes.
func (s *Server) sampleRates() {
	s.rates.add(rateSample{at: time.Now(), counts: s.m.peerTotals()})
	t := time.NewTicker(rateEvery)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case now := <-t.C:
			s.rates.add(rateSample{at: now, counts: s.m.peerTotals()})
		}
	}
}

// peerTotals are the messages counted for each peer label (verdicts of
// every action) by kind: MT, MO, receipts.
func (m *Metrics) peerTotals() map[string][numVerdictKinds]uint64 {
	m.fold()
	m.peerMu.RLock()
	defer m.peerMu.RUnlock()
	out := make(map[string][numVerdictKinds]uint64, len(m.peerCtr))
	var dm dto.Metric
	for peer, c := range m.peerCtr {
		var t [numVerdictKinds]uint64
		for k := range c {
			for _, ctr := range c[k] {
				if ctr.Write(&dm) == nil {
					t[k] += uint64(dm.GetCounter().GetValue())
				}
			}
		}
		out[peer] = t
	}
	return out
}
