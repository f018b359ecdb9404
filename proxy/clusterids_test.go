package proxy

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// A receipt whose id is unknown waits while another node has messages of
// its peer in flight, and goes on: under the id learnt from that node,
// unchanged when no node has the peer in flight any more, unchanged when
// the wait ends. Receipts of a peer nobody has in flight never wait.
func TestReceiptWaitsForOtherNodes(t *testing.T) {
	e := start(t, sim.Config{ReceiptDelay: time.Millisecond}, nil, nil)
	e.srv.JoinCluster(nil, 2*time.Second)
	receipts := make(chan string, 8)
	cl := e.dial(esme.Options{OnDeliver: func(p pdu.PDU) pdu.Status {
		var m pdu.Message
		if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() {
			receipts <- string(m.ReceiptID())
		}
		return 0
	}})
	var key string
	testutil.Eventually(t, 5*time.Second, "the peer bound", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		for k := range e.srv.byPeer {
			key = k
		}
		return len(e.srv.byPeer) == 1
	})
	send := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		r, err := cl.Do(ctx, pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 1, Src: "4917600000001", DstTON: 1,
			Dst: "4915112345678", ShortMessage: []byte("hello"), RegisteredDelivery: 1}))
		if err != nil || r.Status != 0 || r.MessageID == "" {
			t.Fatalf("submit: %v %+v", err, r)
		}
		return r.MessageID
	}
	next := func(what string) string {
		t.Helper()
		select {
		case id := <-receipts:
			return id
		case <-time.After(5 * time.Second):
			t.Fatalf("no receipt: %s", what)
			return ""
		}
	}
	parked := func(n uint64) {
		t.Helper()
		testutil.Eventually(t, 5*time.Second, "receipt waiting", func() bool { return e.srv.ReceiptWaits().Parked == n })
	}

	// Nobody in flight: the receipt goes on at once.
	id := send()
	if got := next("no flight"); got != id {
		t.Fatalf("receipt under %q, want %q", got, id)
	}
	e.srv.RemoteFlying(key, true)
	e.srv.RemoteFlying("other-peer", true)
	// Learnt: rewritten.
	id = send()
	parked(1)
	e.srv.LearnReceiptID(id, "ours-1", time.Now().Add(time.Hour))
	if got := next("learnt"); got != "ours-1" {
		t.Fatalf("receipt under %q, want ours-1", got)
	}
	// The wait ends: unchanged.
	id = send()
	parked(2)
	if got := next("wait over"); got != id {
		t.Fatalf("receipt under %q, want %q", got, id)
	}
	// The other node has nothing in flight any more: unchanged, at once.
	id = send()
	parked(3)
	e.srv.RemoteFlying(key, false)
	if got := next("passed"); got != id {
		t.Fatalf("receipt under %q, want %q", got, id)
	}
	if w := e.srv.ReceiptWaits(); w != (ReceiptWaits{Parked: 3, Rewritten: 1, Passed: 1, Expired: 1}) {
		t.Fatalf("waits %+v", w)
	}
	// Only another peer in flight: no wait.
	id = send()
	if got := next("other peer"); got != id || e.srv.ReceiptWaits().Parked != 3 {
		t.Fatalf("receipt under %q (want %q), waits %+v", got, id, e.srv.ReceiptWaits())
	}
}

// announceLink is a ClusterLink whose Announce waits until the test lets
// it go; it records what the node told the others.
type announceLink struct {
	mu      sync.Mutex
	fly     map[string]int
	flyAt   []int // the peer's count at each Announce
	shared  map[string]string
	release chan struct{}
}

func (l *announceLink) ShareReceiptID(upstream, ours, _ string) {
	l.mu.Lock()
	l.shared[ours] = upstream
	l.mu.Unlock()
}

func (l *announceLink) Flying(peer string, delta int) {
	l.mu.Lock()
	l.fly[peer] += delta
	l.mu.Unlock()
}

func (l *announceLink) Announce(ctx context.Context) {
	l.mu.Lock()
	n := 0
	for _, c := range l.fly {
		n += c
	}
	l.flyAt = append(l.flyAt, n)
	l.mu.Unlock()
	select {
	case <-l.release:
	case <-ctx.Done():
	}
}

// In a cluster, the parts of a long message smsfw answered while it held
// them go to the SMSC only once the other nodes know the peer has messages
// in flight (their receipts may come over another node at once), and the
// wait does not hold up the peer's session: its next message is relayed
// meanwhile.
func TestHeldPartsWaitForAnnouncement(t *testing.T) {
	var rec recorder
	e := start(t, sim.Config{OnPDU: rec.onPDU}, nil, nil)
	link := &announceLink{fly: map[string]int{}, shared: map[string]string{}, release: make(chan struct{})}
	e.srv.JoinCluster(link, 10*time.Second)
	cl := e.dial(esme.Options{})
	do := func(raw []byte) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := cl.Do(ctx, raw)
		if err != nil || r.Status != 0 || r.MessageID == "" {
			t.Fatalf("submit: %v %+v", err, r)
		}
		return r.MessageID
	}
	do(rdSegment(7, 2, 1, "first part "))
	last := do(rdSegment(7, 2, 2, "second part, with a receipt"))
	testutil.Eventually(t, 5*time.Second, "the parts announced", func() bool {
		link.mu.Lock()
		defer link.mu.Unlock()
		return len(link.flyAt) == 1
	})
	// The session goes on while the parts wait.
	do(pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 1, Src: "4917600000001", DstTON: 1, Dst: "4915112345678",
		ShortMessage: []byte("meanwhile")}))
	if n := rec.n(); n != 1 {
		t.Fatalf("the SMSC got %d submits before the announcement was acknowledged, want only the plain one", n)
	}
	link.mu.Lock()
	if link.flyAt[0] != 1 {
		t.Errorf("announced %d messages in flight, want the part that asked for a receipt", link.flyAt[0])
	}
	link.mu.Unlock()
	close(link.release)
	testutil.Eventually(t, 5*time.Second, "the parts at the SMSC", func() bool { return rec.n() == 3 })
	testutil.Eventually(t, 5*time.Second, "the part's mapping shared, nothing left in flight", func() bool {
		link.mu.Lock()
		defer link.mu.Unlock()
		n := 0
		for _, c := range link.fly {
			n += c
		}
		return link.shared[last] != "" && n == 0
	})
}
