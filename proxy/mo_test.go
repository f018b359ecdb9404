package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// fakeRouter routes MO to "80080" (durably, with smpp as set) and queues
// them in memory once release is closed, or fails with err.
type fakeRouter struct {
	smpp    bool
	err     error
	release chan struct{}
	mu      sync.Mutex
	queued  []string // text of the queued messages
	offered int
}

func (f *fakeRouter) MatchMO(mo *MO) MOMatch {
	f.mu.Lock()
	f.offered++
	f.mu.Unlock()
	return MOMatch{Queue: string(mo.Msg.Dst.Addr) == "80080", SMPP: f.smpp}
}

func (f *fakeRouter) QueueMO(_ MOMatch, mo *MO, done func(error)) {
	text := string(mo.Msg.Payload()) // copied now: the view dies with the call
	go func() {
		<-f.release
		if f.err == nil {
			f.mu.Lock()
			f.queued = append(f.queued, text)
			f.mu.Unlock()
		}
		done(f.err)
	}()
}

// An MO matching a durable route is answered to the SMSC only once queued:
// 0 when queued (to SMPP as well when the route says so: then the peer's
// answer), 0x58 when the queue fails; unrouted MO and receipts go on as
// before.
func TestMORoutedAnsweredOnceQueued(t *testing.T) {
	for _, tc := range []struct {
		name    string
		smpp    bool
		err     error
		peerSt  pdu.Status
		want    pdu.Status
		toPeer  bool
		inQueue bool
	}{
		{name: "queued only", want: pdu.StatusOK, inQueue: true},
		{name: "queued and smpp", smpp: true, peerSt: pdu.StatusXRAppn, want: pdu.StatusXRAppn, toPeer: true, inQueue: true},
		{name: "store fails", smpp: true, err: errors.New("disk full"), want: pdu.StatusThrottled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRouter{smpp: tc.smpp, err: tc.err, release: make(chan struct{})}
			e := start(t, sim.Config{}, nil, nil, func(o *Options) { o.MO = f })
			delivered := make(chan string, 4)
			e.dial(esme.Options{SystemID: "app", OnDeliver: func(p pdu.PDU) pdu.Status {
				var m pdu.Message
				_ = pdu.ParseMessage(p, &m)
				delivered <- string(m.Dst.Addr)
				if string(m.Dst.Addr) == "80080" {
					return tc.peerSt
				}
				return 0
			}})
			// Not routed: straight to the peer, as before.
			st, err := e.sim.InjectMO(ctx5s(t), sim.MO{From: "491", To: "12345", Text: "hello"})
			if err != nil || st != 0 || <-delivered != "12345" {
				t.Fatalf("unrouted MO: %v %v", st, err)
			}
			res := make(chan pdu.Status, 1)
			go func() {
				st, err := e.sim.InjectMO(context.Background(), sim.MO{From: "491", To: "80080", Text: "VOTE A"})
				if err != nil {
					t.Error(err)
				}
				res <- st
			}()
			select {
			case st := <-res:
				t.Fatalf("SMSC answered %v before the MO was queued", st)
			case d := <-delivered:
				t.Fatalf("delivered to %s before the MO was queued", d)
			case <-time.After(100 * time.Millisecond):
			}
			close(f.release)
			if st := <-res; st != tc.want {
				t.Fatalf("SMSC got %v, want %v", st, tc.want)
			}
			if tc.toPeer {
				if d := <-delivered; d != "80080" {
					t.Fatalf("delivered %s", d)
				}
			}
			select {
			case d := <-delivered:
				t.Fatalf("delivered %s to the peer", d)
			default:
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if tc.inQueue != (len(f.queued) == 1 && f.queued[0] != "") {
				t.Fatalf("queued %q", f.queued)
			}
		})
	}
}

// Receipts never go to MO routes.
func TestMORouterSkipsReceipts(t *testing.T) {
	f := &fakeRouter{release: make(chan struct{})}
	close(f.release)
	e := start(t, sim.Config{}, nil, nil, func(o *Options) { o.MO = f })
	e.dial(esme.Options{SystemID: "app"})
	st, err := e.sim.InjectReceipt(ctx5s(t), "", "80080", "491", "abc")
	if err != nil || st != 0 {
		t.Fatalf("receipt: %v %v", st, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.offered != 0 {
		t.Fatalf("receipt offered to the router %d times", f.offered)
	}
}

// Receipts are counted apart from MO in smsfw_proxy_verdicts_total.
func TestVerdictsCountReceiptsApart(t *testing.T) {
	e := start(t, sim.Config{}, nil, filter.AllowAll{})
	e.dial(esme.Options{SystemID: "app"})
	if st, err := e.sim.InjectMO(ctx5s(t), sim.MO{From: "491", To: "12345", Text: "hello"}); err != nil || st != 0 {
		t.Fatalf("mo: %v %v", st, err)
	}
	if st, err := e.sim.InjectReceipt(ctx5s(t), "", "80080", "491", "abc"); err != nil || st != 0 {
		t.Fatalf("receipt: %v %v", st, err)
	}
	count := func(kind int) float64 { e.m.fold(); return promtest.ToFloat64(e.m.verdicts[kind][filter.Allow]) }
	testutil.Eventually(t, 5*time.Second, "one MO and one receipt counted", func() bool {
		return count(int(filter.MO)) == 1 && count(verdictReceipt) == 1
	})
}

// smsfw_proxy_responses_total starts with the ok series of the requests
// each leg answers, not every leg x command x status (320 series).
func TestResponseSeriesAtStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	if n := promtest.CollectAndCount(reg, "smsfw_proxy_responses_total"); n != 15 {
		t.Fatalf("%d series at start, want 15", n)
	}
}

// Beyond maxPeerLabels peers (pass-through system_ids), the rest share
// the "other" series: the label stays bounded.
func TestPeerLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for i := 0; i < maxPeerLabels+50; i++ {
		m.peerVerdict(fmt.Sprintf("sys%d", i), int(filter.MT), filter.Allow)
	}
	series := promtest.CollectAndCount(reg, "smsfw_proxy_peer_verdicts_total")
	if want := (maxPeerLabels + 1) * numVerdictKinds * filter.NumActions; series != want {
		t.Fatalf("%d series, want %d", series, want)
	}
	if n := promtest.ToFloat64(m.peerVerdicts.WithLabelValues("other", "mt", "allow")); n != 50 {
		t.Fatalf("other: %v", n)
	}
}
