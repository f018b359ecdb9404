package proxy

import "sort"

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
}

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
	out := map[string]*PeerStatus{}
	for _, lp := range live {
		p := lp.cfg.Load()
		ps := &PeerStatus{Name: p.Name, SystemID: p.SystemID, Class: p.Class, Configured: true, MaxSessions: p.MaxSessions,
			Sessions: []SessionStatus{}, Upstream: lp.pool.Load().status()}
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
	for _, ps := range out {
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
	ps := &PoolStatus{Upstream: p.name, Address: p.up.Address, Sessions: max(p.up.Sessions, 1), Window: p.window}
	for _, l := range p.boundLegs() {
		ps.Bound++
		ps.InFlight += len(l.window)
	}
	return ps
}
