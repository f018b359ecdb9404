package proxy

import (
	"sync"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// delayedReceipts holds the receipts of silently dropped messages until
// drop_receipt_delay has passed. Every receipt waits the same delay, so one
// FIFO and one goroutine (running only while receipts wait) serve them all;
// each peer may have at most max_pending_receipts waiting, beyond which the
// receipt is not sent and counted (smsfw_proxy_own_receipts_total
// {result="over_budget"}). Nothing here waits on a peer's window: due
// receipts join the session's delivery queue.
type delayedReceipts struct {
	s       *Server
	mu      sync.Mutex
	q       []delayedReceipt
	head    int
	perKey  map[string]int
	running bool
	wake    chan struct{}
}

type delayedReceipt struct {
	due    int64
	key    string
	prefer *downstream
	r      *pdu.Receipt
}

func (dr *delayedReceipts) add(key string, prefer *downstream, r *pdu.Receipt) {
	s := dr.s
	dr.mu.Lock()
	if dr.perKey == nil {
		dr.perKey = map[string]int{}
		dr.wake = make(chan struct{}, 1)
	}
	if dr.perKey[key] >= s.cfg.MaxPendingReceipts {
		dr.mu.Unlock()
		s.m.ownReceipts.WithLabelValues(rcptOverBudget).Inc()
		return
	}
	dr.perKey[key]++
	dr.q = append(dr.q, delayedReceipt{due: time.Now().Add(s.cfg.DropReceiptDelay).UnixNano(), key: key, prefer: prefer, r: r})
	start := !dr.running
	dr.running = true
	dr.mu.Unlock()
	if start {
		s.wg.Add(1)
		go dr.run()
	}
}

// run sends receipts as they fall due and ends when none wait, or at shutdown.
func (dr *delayedReceipts) run() {
	s := dr.s
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		dr.mu.Lock()
		if dr.head == len(dr.q) {
			dr.q, dr.head, dr.running = dr.q[:0], 0, false
			dr.mu.Unlock()
			return
		}
		next := dr.q[dr.head]
		now := time.Now().UnixNano()
		if next.due <= now {
			dr.q[dr.head] = delayedReceipt{}
			dr.head++
			if dr.head > 4096 && dr.head*2 > len(dr.q) {
				n := copy(dr.q, dr.q[dr.head:])
				clear(dr.q[n:])
				dr.q, dr.head = dr.q[:n], 0
			}
			if dr.perKey[next.key]--; dr.perKey[next.key] <= 0 {
				delete(dr.perKey, next.key)
			}
			dr.mu.Unlock()
			s.sendReceipt(next.key, next.prefer, next.r)
			continue
		}
		dr.mu.Unlock()
		t.Reset(time.Duration(next.due - now))
		select {
		case <-t.C:
		case <-s.closed:
			dr.mu.Lock()
			dr.q, dr.head, dr.running, dr.perKey = nil, 0, false, nil
			dr.mu.Unlock()
			return
		}
	}
}

// scheduleReceipt sends the receipt of a dropped message after a delay.
func (d *downstream) scheduleReceipt(msgID string, m *pdu.Message, mode filter.ReceiptMode) {
	state := pdu.StateDelivered
	if mode == filter.ReceiptFailed {
		state = pdu.StateUndeliverable
	}
	d.s.receipts.add(d.key, d, receiptFor(m, msgID, state, time.Now()))
}

// receiptFor is a receipt in the given state for message m, which its
// sender knows as msgID (error 1 unless delivered).
func receiptFor(m *pdu.Message, msgID string, state byte, submitted time.Time) *pdu.Receipt {
	r := &pdu.Receipt{MessageID: msgID, SrcTON: m.Dst.TON, SrcNPI: m.Dst.NPI, Src: string(m.Dst.Addr),
		DstTON: m.Src.TON, DstNPI: m.Src.NPI, Dst: string(m.Src.Addr), State: state, Submitted: submitted}
	if state != pdu.StateDelivered {
		r.Err = 1
	}
	return r
}

// sendReceipt delivers a receipt of smsfw's own to a receiver session of
// peer key (prefer, when it can receive): now when its window has room,
// else through its delivery queue. Never waits.
func (s *Server) sendReceipt(key string, prefer *downstream, r *pdu.Receipt) {
	target := s.receiverFor(key, prefer)
	if target == nil {
		s.m.ownReceipts.WithLabelValues(rcptNoReceiver).Inc()
		return
	}
	r.Done = time.Now()
	r.MessageID = s.ids.inReceipt(r.MessageID)
	if !target.queueLocal(pdu.DeliverSM, pdu.AppendReceipt(nil, 0, r)) {
		s.m.ownReceipts.WithLabelValues(rcptQueueFull).Inc()
		return
	}
	s.m.ownReceipts.WithLabelValues(rcptSent).Inc()
}
