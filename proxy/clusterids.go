package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Several nodes sharing one store (package cluster). A message smsfw
// answered itself (released from quarantine, a long-message part accepted
// while held) is known to its peer by smsfw's id; its receipt carries the
// SMSC's id and may arrive on a bind of any node. The node that learns
// the SMSC's id shares the mapping (ShareReceiptID), the others learn it
// (LearnReceiptID) into their released map, so the receipt is rewritten
// wherever it arrives. The receipt path never asks the database.
//
// Between the SMSC's answer on node A and the mapping reaching node B
// there is a propagation delay. A counts, per peer, its messages whose
// SMSC ids are not shared yet (Flying) and tells the other nodes; on B a
// receipt of that peer whose id is unknown waits while another node has
// such messages in flight (RemoteFlying), at most the cluster's receipt
// wait: it goes on rewritten as soon as its id is learnt, unchanged once
// no node has that peer's messages in flight, or unchanged at the end of
// the wait. Meanwhile the SMSC's deliver_sm stays unanswered. Without a
// cluster link nothing here runs.

// ClusterLink is this node's link to the other nodes of a cluster.
// Its methods run on the message path: they queue and never wait.
type ClusterLink interface {
	// ShareReceiptID tells the other nodes that the SMSC's message id
	// upstream is ours for peer.
	ShareReceiptID(upstream, ours, peer string)
	// Flying counts this node's messages to the SMSC for peer whose SMSC
	// ids the other nodes will learn: +1 when one is sent, -1 once its id
	// is shared (after ShareReceiptID) or it failed.
	Flying(peer string, delta int)
	// Announce waits until the other nodes were told of the messages in
	// flight counted so far (or ctx ends); for a release and for held
	// long-message parts, sent off the message path, which may wait.
	Announce(ctx context.Context)
}

// ReceiptWaits count receipts that waited for another node's mapping.
type ReceiptWaits struct {
	Parked    uint64 // waited
	Rewritten uint64 // their id was learnt: sent under the peer's id
	Passed    uint64 // no node had the peer's messages in flight any more: sent as they came
	Expired   uint64 // the wait ended: sent as they came
}

// JoinCluster links the server to the other nodes (before Serve): it
// shares its mappings through l and lets receipts with unknown ids wait
// up to wait while other nodes' mappings may be in transit.
func (s *Server) JoinCluster(l ClusterLink, wait time.Duration) {
	s.link = l
	s.remote.mu.Lock()
	s.remote.wait = wait
	s.remote.mu.Unlock()
}

// LearnReceiptID records a mapping shared by another node (it expires
// at expires) and sends on the receipts that waited for it.
func (s *Server) LearnReceiptID(upstream, ours string, expires time.Time) {
	s.released.addAt(upstream, ours, expires.Add(-releasedTTL).UnixNano())
	if s.remote.n.Load() == 0 {
		return
	}
	for _, p := range s.remote.take(upstream) {
		s.remote.rewritten.Add(1)
		go s.resumeReceipt(p)
	}
}

// RemoteFlying says whether other nodes have messages of peer in flight
// whose mappings this node has not learnt; when none has any more, the
// receipts waiting for them go on.
func (s *Server) RemoteFlying(peer string, flying bool) {
	for _, p := range s.remote.setFlying(peer, flying) {
		s.remote.passed.Add(1)
		go s.resumeReceipt(p)
	}
}

// ReceiptWaits returns the counts of receipts that waited for other nodes.
func (s *Server) ReceiptWaits() ReceiptWaits {
	r := &s.remote
	return ReceiptWaits{Parked: r.parked.Load(), Rewritten: r.rewritten.Load(), Passed: r.passed.Load(), Expired: r.expired.Load()}
}

// noteReleased records a mapping of a message this node answered itself,
// and shares it with the other nodes when share (its receipt may come on
// another node).
func (s *Server) noteReleased(up, ours, peer string, share bool) {
	s.released.add(up, ours)
	if share && s.link != nil && up != "" && ours != "" {
		s.link.ShareReceiptID(up, ours, peer)
	}
}

// announceFlying counts n messages of peer in flight and waits until the
// other nodes acknowledged it, at most the cluster's receipt wait (or until
// ctx ends): for a release and held parts, which may wait. The caller
// takes the count back with flying(peer, -n). Cluster only (s.link set).
func (s *Server) announceFlying(ctx context.Context, peer string, n int) {
	s.flying(peer, n)
	actx, cancel := context.WithTimeout(ctx, s.remote.wait)
	defer cancel()
	s.link.Announce(actx)
}

// flying counts a message in flight whose mapping is shared (cluster only).
func (s *Server) flying(peer string, delta int) {
	if s.link != nil {
		s.link.Flying(peer, delta)
	}
}

// remotePark holds receipts waiting for other nodes' mappings.
type remotePark struct {
	wait   time.Duration
	n      atomic.Int32 // peers with messages in flight elsewhere: 0 skips the lock
	mu     sync.Mutex
	peers  map[string]struct{}
	byID   map[string][]*parkedReceipt // the receipt's (SMSC's) id -> waiting
	parked atomic.Uint64
	// outcomes
	rewritten, passed, expired atomic.Uint64
}

// parkRemote parks receipt p of leg l when its id is unknown and another
// node has messages of the leg's peer in flight; true when parked (p's
// bytes are copied).
func (l *upLeg) parkRemote(p pdu.PDU, m *pdu.Message, start int64, ev *filter.Event) bool {
	s := l.s
	id := m.ReceiptID()
	if len(id) == 0 || s.released.has(id) || !s.remote.flyingFor(l.key) {
		return false
	}
	pr := &parkedReceipt{leg: l, raw: append([]byte(nil), p...), id: string(id), start: start, ev: ev}
	l.owedDn.Add(1)
	s.holding.Add(1)
	if !s.remote.park(s, pr) { // no longer in flight: undo
		l.owedDn.Add(-1)
		s.holding.Add(-1)
		return false
	}
	return true
}

func (r *remotePark) flyingFor(key string) bool {
	if r.n.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.peers[key]
	return ok
}

// park adds pr (its owed and holding counts taken) while its leg's peer
// is in flight elsewhere; false when it is not.
func (r *remotePark) park(s *Server, pr *parkedReceipt) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.peers[pr.leg.key]; !ok {
		return false
	}
	pr.remote = true
	r.byID[pr.id] = append(r.byID[pr.id], pr)
	r.parked.Add(1)
	pr.timer = time.AfterFunc(r.wait, func() {
		if r.unpark(pr) {
			r.expired.Add(1)
			s.resumeReceipt(pr)
		}
	})
	return true
}

// repark parks a receipt the local park let go when its id is still
// unknown and another node has its peer's messages in flight.
func (s *Server) repark(p *parkedReceipt) bool {
	if p.remote || s.remote.n.Load() == 0 || s.released.has([]byte(p.id)) {
		return false
	}
	return s.remote.park(s, p)
}

// take removes and returns the receipts waiting for id.
func (r *remotePark) take(id string) []*parkedReceipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.byID[id]
	delete(r.byID, id)
	for _, p := range ps {
		p.timer.Stop()
	}
	return ps
}

// unpark removes p if it still waits; false when it went on already.
func (r *remotePark) unpark(p *parkedReceipt) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(takeParked(r.byID, p.id, func(x *parkedReceipt) bool { return x == p })) > 0
}

// setFlying records whether peer has messages in flight elsewhere and,
// when it has none any more, returns the receipts that waited for it.
func (r *remotePark) setFlying(peer string, flying bool) []*parkedReceipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers == nil {
		r.peers = map[string]struct{}{}
		r.byID = map[string][]*parkedReceipt{}
	}
	if flying {
		r.peers[peer] = struct{}{}
		r.n.Store(int32(len(r.peers)))
		return nil
	}
	if _, ok := r.peers[peer]; !ok {
		return nil
	}
	delete(r.peers, peer)
	r.n.Store(int32(len(r.peers)))
	var out []*parkedReceipt
	for id := range r.byID {
		out = append(out, takeParked(r.byID, id, func(p *parkedReceipt) bool { return p.leg.key == peer })...)
	}
	for _, p := range out {
		p.timer.Stop()
	}
	return out
}
