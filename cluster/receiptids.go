package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/store"
)

// Receipt ids across nodes (see proxy/clusterids.go for the proxy's side).
// The proxy hands this node's mappings (the SMSC's id of a message smsfw
// answered itself -> the id its peer was given) to ShareReceiptID and
// counts its messages whose mappings are not shared yet with Flying; both
// only queue. One goroutine appends the queued mappings to the store's
// receipt_ids table in one transaction and then notifies the other nodes
// ("ids:" and this node's peers with messages in flight). Each node tails
// the table by seq when notified (else each poll_interval) into its
// proxy's map, and only then applies the notifier's in-flight peers: a
// receipt waiting for a mapping is let go unchanged only once the
// mappings shared before are learnt.
//
// A release sends its message to the SMSC only after the other nodes
// applied its announcement (Announce): a notification of a change to the
// in-flight peers carries a generation, each node that applied it answers
// with an acknowledgement in its next notification, and Announce waits
// for every live node's (a node is live while its notifications, at
// least a heartbeat each poll_interval, keep coming), at most its
// context. Otherwise the SMSC's receipt, sent a millisecond after its
// answer over another node's bind, could reach that node before the
// announcement did and go on under the SMSC's id.

// Rewriter is the proxy's side: it learns other nodes' mappings and is
// told which peers have messages in flight on other nodes.
type Rewriter interface {
	LearnReceiptID(upstream, ours string, expires time.Time)
	RemoteFlying(peer string, flying bool)
	ReceiptWaits() proxy.ReceiptWaits
}

const (
	// notifyIDs prefixes the payload of a receipt ids notification.
	notifyIDs = "ids:"
	// receiptIDsKeep is how many mappings the table keeps and a node
	// starting reads: the proxy's in-memory bound.
	receiptIDsKeep = 500_000
	// receiptIDTTL is how long a mapping is kept (the proxy's releasedTTL).
	receiptIDTTL = 72 * time.Hour
	// receiptIDsQueue bounds the mappings waiting to be written.
	receiptIDsQueue = 100_000
	// receiptIDsPage is the rows read per query while tailing.
	receiptIDsPage = 2000
	// maxPayload keeps a notification under PostgreSQL's 8000 bytes.
	maxPayload = 7900
)

// idsNote is the JSON of a receipt ids notification.
type idsNote struct {
	Node   string   `json:"node"`
	Flying []string `json:"flying,omitempty"` // peers with messages whose mappings are not shared yet
	IDs    bool     `json:"ids,omitempty"`    // mappings were written: tail them
	// Gen: the in-flight peers changed (generation); the nodes that apply
	// it acknowledge it.
	Gen uint64 `json:"gen,omitempty"`
	// Ack: the generation of each node's notification this node applied.
	Ack map[string]uint64 `json:"ack,omitempty"`
}

type heard struct {
	flying []string
	at     time.Time
}

// receiptIDs shares this node's mappings and learns the others'.
type receiptIDs struct {
	n  *Node
	rw Rewriter

	mu      sync.Mutex
	queue   []store.ReceiptID
	fly     map[string]int // peer -> messages in flight here
	dirty   bool           // fly changed since the last notification
	send    chan struct{}
	dropLog time.Time

	hmu    sync.Mutex
	heard  map[string]heard // node -> its last notification
	remote map[string]bool  // peers in flight elsewhere, as told to the proxy
	notes  chan struct{}
	wake   <-chan struct{}

	// Announce waits for the notification of its fly count.
	gen, sent uint64            // changes asked, changes published (under mu)
	published chan struct{}     // closed and replaced at each publication (under mu)
	acks      map[string]uint64 // to send: node -> its generation applied here (under mu)

	acked map[string]uint64 // node -> this node's generation it applied (under hmu)
	ackCh chan struct{}     // closed and replaced at each acknowledgement (under hmu)
}

func newReceiptIDs(n *Node, rw Rewriter) *receiptIDs {
	return &receiptIDs{n: n, rw: rw, fly: map[string]int{}, send: make(chan struct{}, 1), heard: map[string]heard{},
		notes: make(chan struct{}, 1), remote: map[string]bool{}, wake: n.Subscribe(), published: make(chan struct{}),
		acks: map[string]uint64{}, acked: map[string]uint64{}, ackCh: make(chan struct{})}
}

// ShareReceiptID queues a mapping for the other nodes (proxy.ClusterLink).
func (n *Node) ShareReceiptID(upstream, ours, peer string) {
	r := n.ids
	if r == nil {
		return
	}
	r.mu.Lock()
	if len(r.queue) >= receiptIDsQueue {
		logIt := time.Since(r.dropLog) > time.Minute
		if logIt {
			r.dropLog = time.Now()
		}
		r.mu.Unlock()
		n.m.receiptIDs.WithLabelValues(string(idsDropped)).Inc()
		if logIt {
			n.log.Warn("receipt ids not shared: the store is behind; their receipts arriving on other nodes keep the SMSC's id")
		}
		return
	}
	r.queue = append(r.queue, store.ReceiptID{Upstream: upstream, Ours: ours, Peer: peer, Node: n.cfg.Node,
		Expires: time.Now().Add(receiptIDTTL)})
	r.mu.Unlock()
	r.signal()
}

// Flying counts this node's messages of peer whose mappings are not
// shared yet (proxy.ClusterLink).
func (n *Node) Flying(peer string, delta int) {
	r := n.ids
	if r == nil {
		return
	}
	r.mu.Lock()
	c := r.fly[peer] + delta
	if c <= 0 {
		delete(r.fly, peer)
	} else {
		r.fly[peer] = c
	}
	r.dirty = true
	r.gen++
	r.mu.Unlock()
	r.signal()
}

// Announce waits until the other live nodes applied this node's messages
// in flight as they are now (proxy.ClusterLink), at most until ctx ends: a
// release, unlike the message path, can wait for it.
func (n *Node) Announce(ctx context.Context) {
	r := n.ids
	if r == nil {
		return
	}
	r.mu.Lock()
	target := r.gen
	r.mu.Unlock()
	for {
		r.mu.Lock()
		done, ch := r.sent >= target, r.published
		r.mu.Unlock()
		if done {
			break
		}
		r.signal()
		select {
		case <-ctx.Done():
			n.m.announce.WithLabelValues(string(announceTimedOut)).Inc()
			return
		case <-ch:
		}
	}
	for {
		r.hmu.Lock()
		waiting, ch := false, r.ackCh
		since := r.liveSince()
		for node, h := range r.heard {
			if !h.at.Before(since) && r.acked[node] < target {
				waiting = true
				break
			}
		}
		r.hmu.Unlock()
		if !waiting {
			n.m.announce.WithLabelValues(string(announceAcked)).Inc()
			return
		}
		select {
		case <-ctx.Done():
			n.m.announce.WithLabelValues(string(announceTimedOut)).Inc()
			return
		case <-ch:
		}
	}
}

func (r *receiptIDs) signal() {
	select {
	case r.send <- struct{}{}:
	default:
	}
}

// share writes the queued mappings and notifies the other nodes, at once
// when there is something to say (mappings queued while a write is under
// way go in the next one) and each poll_interval while messages are in
// flight (the others forget a node's in-flight peers after three).
func (r *receiptIDs) share(ctx context.Context) {
	n := r.n
	t := time.NewTicker(n.cfg.PollInterval)
	defer t.Stop()
	for {
		beat := false
		select {
		case <-ctx.Done():
			return
		case <-r.send:
		case <-t.C:
			beat = true
		}
		r.mu.Lock()
		batch := r.queue
		r.queue = nil
		flying := make([]string, 0, len(r.fly))
		for p := range r.fly {
			flying = append(flying, p)
		}
		dirty, gen := r.dirty, r.gen
		r.dirty = false
		var acks map[string]uint64
		if len(r.acks) > 0 {
			acks, r.acks = r.acks, map[string]uint64{}
		}
		r.mu.Unlock()
		if len(batch) > 0 {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := n.st.PutReceiptIDs(wctx, batch)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				n.m.errors.WithLabelValues(string(partReceiptIDs)).Inc()
				n.log.Warn("receipt ids not written; retried in a second", zap.Int("ids", len(batch)), zap.Error(err))
				r.requeue(batch)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
			n.m.receiptIDs.WithLabelValues(string(idsShared)).Add(float64(len(batch)))
		}
		if len(batch) > 0 || dirty || len(acks) > 0 || beat { // beat: a heartbeat at least, so the others know this node is live
			note := idsNote{Node: n.cfg.Node, Flying: flying, IDs: len(batch) > 0, Ack: acks}
			if dirty {
				note.Gen = gen
			}
			n.notify(ctx, notePayload(note))
		}
		r.mu.Lock()
		r.sent = gen
		close(r.published)
		r.published = make(chan struct{})
		r.mu.Unlock()
	}
}

// requeue puts a batch that was not written back in front, within the
// queue's bound, and marks the in-flight peers to be sent again.
func (r *receiptIDs) requeue(batch []store.ReceiptID) {
	r.mu.Lock()
	room := max(receiptIDsQueue-len(r.queue), 0)
	lost := max(len(batch)-room, 0)
	r.queue = append(batch[lost:], r.queue...)
	r.dirty = true
	r.mu.Unlock()
	if lost > 0 {
		r.n.m.receiptIDs.WithLabelValues(string(idsDropped)).Add(float64(lost))
	}
}

func notePayload(note idsNote) string {
	for {
		b, _ := json.Marshal(note)
		if len(b)+len(notifyIDs) <= maxPayload || len(note.Flying) == 0 {
			return notifyIDs + string(b)
		}
		note.Flying = note.Flying[:len(note.Flying)/2] // the peers left out wait for nothing: their receipts are not held back
	}
}

// heardNote takes another node's notification (from the LISTEN loop).
func (r *receiptIDs) heardNote(payload string) {
	var note idsNote
	if json.Unmarshal([]byte(strings.TrimPrefix(payload, notifyIDs)), &note) != nil || note.Node == r.n.cfg.Node {
		return
	}
	r.hmu.Lock()
	r.heard[note.Node] = heard{flying: note.Flying, at: time.Now()}
	for _, p := range note.Flying { // at once: a receipt may be on its way; an end waits for the tail
		if !r.remote[p] {
			r.remote[p] = true
			r.rw.RemoteFlying(p, true)
		}
	}
	if g, ok := note.Ack[r.n.cfg.Node]; ok && g > r.acked[note.Node] {
		r.acked[note.Node] = g
		close(r.ackCh)
		r.ackCh = make(chan struct{})
	}
	r.hmu.Unlock()
	if note.Gen > 0 { // applied above: acknowledge it
		r.mu.Lock()
		r.acks[note.Node] = max(r.acks[note.Node], note.Gen)
		r.mu.Unlock()
		r.signal()
	}
	if note.IDs || note.Gen > 0 || len(note.Flying) > 0 { // not a bare heartbeat or acknowledgement
		select {
		case r.notes <- struct{}{}:
		default:
		}
	}
}

// learn tails the table into the proxy: at start from the newest
// receiptIDsKeep, then on each notification, wake-up and poll; after each
// tail it applies the in-flight peers heard before it.
func (r *receiptIDs) learn(ctx context.Context) {
	n := r.n
	t := time.NewTicker(n.cfg.PollInterval)
	defer t.Stop()
	cursor, started := int64(0), false
	var lastExpiry time.Time
	for {
		r.hmu.Lock()
		notes := make(map[string]heard, len(r.heard))
		for k, v := range r.heard {
			notes[k] = v
		}
		r.hmu.Unlock()
		if !started {
			c, err := n.st.ReceiptIDsStart(ctx, receiptIDsKeep)
			if err == nil {
				cursor, started = c, true
			} else if ctx.Err() == nil {
				n.m.errors.WithLabelValues(string(partReceiptIDs)).Inc()
				n.log.Warn("receipt ids not read; retried at the next poll", zap.Error(err))
			}
		}
		if started {
			var err error
			if cursor, err = r.tail(ctx, cursor); err != nil && ctx.Err() == nil {
				n.m.errors.WithLabelValues(string(partReceiptIDs)).Inc()
				n.log.Warn("receipt ids not read; retried at the next poll", zap.Error(err))
			}
			r.apply(notes)
		}
		if now := time.Now(); now.Sub(lastExpiry) > time.Minute {
			lastExpiry = now
			if _, err := n.st.ExpireReceiptIDs(ctx, now, receiptIDsKeep); err != nil && ctx.Err() == nil {
				n.m.errors.WithLabelValues(string(partReceiptIDs)).Inc()
				n.log.Warn("expired receipt ids not deleted; retried in a minute", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-r.notes:
		case <-r.wake:
		case <-t.C:
		}
	}
}

// tail reads the mappings after cursor into the proxy and returns the new cursor.
func (r *receiptIDs) tail(ctx context.Context, cursor int64) (int64, error) {
	n := r.n
	for {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ids, last, more, err := n.st.ReceiptIDsAfter(qctx, cursor, n.cfg.Node, time.Now(), receiptIDsPage)
		cancel()
		if err != nil {
			return cursor, err
		}
		for _, id := range ids {
			r.rw.LearnReceiptID(id.Upstream, id.Ours, id.Expires)
		}
		n.m.receiptIDs.WithLabelValues(string(idsLearned)).Add(float64(len(ids)))
		cursor = last
		if !more {
			return cursor, nil
		}
	}
}

// liveSince is how recent a node's last notification must be for it to
// count as live: it notifies each poll_interval, so three missed ones
// mean it is gone (its peers in flight end, releases stop waiting for it).
func (r *receiptIDs) liveSince() time.Time { return time.Now().Add(-3 * r.n.cfg.PollInterval) }

// apply tells the proxy which peers have messages in flight on other
// nodes. A peer ends only when neither the notifications heard before the
// last tail (notes: their mappings are learnt) nor those heard since have
// it; a node silent for three poll intervals has none (it repeats them).
func (r *receiptIDs) apply(notes map[string]heard) {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	since := r.liveSince()
	now := map[string]bool{}
	for _, m := range []map[string]heard{notes, r.heard} {
		for _, h := range m {
			if h.at.Before(since) {
				continue
			}
			for _, p := range h.flying {
				now[p] = true
			}
		}
	}
	for p := range r.remote {
		if !now[p] {
			delete(r.remote, p)
			r.rw.RemoteFlying(p, false)
		}
	}
	for p := range now {
		if !r.remote[p] {
			r.remote[p] = true
			r.rw.RemoteFlying(p, true)
		}
	}
}
