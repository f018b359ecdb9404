package proxy

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// A batch whose first PDU has waited maxBatchWait is written before the
// read loop goes on; a younger one is kept for the rest of the read.
func TestBatchLate(t *testing.T) {
	var b batch
	recent := time.Now().UnixNano()
	for i := 0; i < 16; i++ {
		b.late(recent)
	}
	if b.n != 16 || b.start != recent {
		t.Fatalf("a young batch was flushed: n %d, start %d", b.n, b.start)
	}
	b = batch{}
	old := time.Now().Add(-time.Millisecond).UnixNano()
	for i := 0; i < 8; i++ {
		b.late(old)
	}
	if b.n != 0 || b.start <= old {
		t.Fatalf("an old batch was not flushed: n %d, start %d", b.n, b.start)
	}
}

// Under a costly policy, the first messages of a long read leave before
// the rest of it is inspected: the 150th inspection waits for the answer
// to an earlier message of the same write, which can only come if the
// read loop wrote the earlier ones on its way.
func TestLongBatchLeavesBeforeItsEnd(t *testing.T) {
	answered := make(chan struct{})
	var n atomic.Int32
	insp := filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		switch n.Add(1) {
		case 20:
			// A costly inspection: the batch grows old.
			for t0 := time.Now(); time.Since(t0) < 2*maxBatchWait; {
			}
		case 150:
			select {
			case <-answered:
			case <-time.After(5 * time.Second):
				t.Error("no answer while the read loop still held the batch's tail")
			}
		}
		return filter.AllowVerdict, nil
	})
	e := start(t, sim.Config{Keep: -1}, nil, insp)
	cl := e.dial(esme.Options{SkipMessageID: true})
	const total = 200
	col := newCollector(total)
	var first atomic.Bool
	cb := func(r esme.Resp) {
		if first.CompareAndSwap(false, true) {
			close(answered)
		}
		col.cb(r)
	}
	for i := 0; i < total; i++ { // one write: one read on the proxy's side, as far as loopback allows
		if _, err := cl.Queue(submit("batch"), cb); err != nil {
			t.Fatal(err)
		}
	}
	cl.Flush()
	for _, r := range col.wait(t, total, 10*time.Second) {
		if r.Err != nil || r.Status != pdu.StatusOK {
			t.Fatalf("response %+v", r)
		}
	}
}
