package proxy

import (
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// segment builds part `part` of `total` with an 8-bit reference UDH.
func segment(ref byte, total, part byte, text string) []byte {
	ud := append([]byte{5, 0, 3, ref, total, part}, text...)
	return pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 1, Src: "4917600000001", DstTON: 1, Dst: "4915112345678",
		ESMClass: pdu.ESMUDHI, DataCoding: 4, ShortMessage: ud})
}

// sarSegment builds a part with sar_* TLVs instead of a UDH.
func sarSegment(ref uint16, total, part byte, text string) []byte {
	tlv := pdu.AppendTLV(nil, pdu.TagSARMsgRefNum, []byte{byte(ref >> 8), byte(ref)})
	tlv = pdu.AppendTLV(tlv, pdu.TagSARTotalSegments, []byte{total})
	tlv = pdu.AppendTLV(tlv, pdu.TagSARSegmentSeqnum, []byte{part})
	return pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 1, Src: "4917600000001", DstTON: 1, Dst: "4915112345678",
		DataCoding: 4, ShortMessage: []byte(text), TLVs: tlv})
}

type seen struct {
	mu   sync.Mutex
	reqs []string // the text of every inspected request, parts joined
	inc  []bool
	mt   int // inspected MT requests (the others are receipts and MO)
}

func (s *seen) inspector(block string) filter.Inspector {
	return filter.Func(func(r *filter.Request) (filter.Verdict, error) {
		text := ""
		parts := r.Parts
		if parts == nil {
			parts = []*pdu.Message{r.Msg}
		}
		for _, m := range parts {
			ud := m.Payload()
			if m.UDHI() {
				ud = ud[1+int(ud[0]):]
			}
			text += string(ud)
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, text)
		s.inc = append(s.inc, r.Incomplete)
		if r.Direction == filter.MT {
			s.mt++
		}
		s.mu.Unlock()
		if block != "" && text == block {
			return filter.Verdict{Action: filter.Reject, Status: pdu.StatusXPAppn}, nil
		}
		return filter.AllowVerdict, nil
	})
}

func sendAll(t *testing.T, cl *esme.Client, raws ...[]byte) *collector {
	col := newCollector(len(raws))
	for _, raw := range raws {
		if _, err := cl.Send(raw, col.cb); err != nil {
			t.Fatal(err)
		}
	}
	return col
}

func TestSegmentsInspectedTogether(t *testing.T) {
	var sn seen
	e := start(t, sim.Config{}, nil, sn.inspector("Hello, this is spam!"))
	cl := e.dial(esme.Options{})
	// Out of order, interleaved with another message's parts.
	col := sendAll(t, cl, segment(7, 3, 2, ", this "), segment(9, 2, 1, "Fine "), segment(7, 3, 1, "Hello"),
		segment(9, 2, 2, "text"), segment(7, 3, 3, "is spam!"))
	rs := col.wait(t, 5, 3*time.Second)
	// Parts are answered as they come; the part that completes a message
	// carries its verdict (the spam's third part, sent last).
	rejected, ok := 0, 0
	for _, r := range rs {
		switch r.Status {
		case pdu.StatusXPAppn:
			rejected++
		case 0:
			ok++
		}
	}
	if rejected != 1 || ok != 4 {
		t.Fatalf("rejected %d ok %d: %+v", rejected, ok, rs)
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if len(sn.reqs) != 2 || sn.reqs[0] != "Fine text" || sn.reqs[1] != "Hello, this is spam!" {
		t.Fatalf("inspected %q", sn.reqs)
	}
	testutil.Eventually(t, 3*time.Second, "two messages at the SMSC", func() bool { return e.sim.Stats().Messages == 2 })
}

func TestSegmentTimeoutDecidesIncomplete(t *testing.T) {
	var sn seen
	e := start(t, sim.Config{}, &Config{SegmentTimeout: 100 * time.Millisecond}, sn.inspector(""))
	cl := e.dial(esme.Options{})
	col := sendAll(t, cl, sarSegment(300, 3, 1, "part one "), sarSegment(300, 3, 3, "part three"))
	rs := col.wait(t, 2, 3*time.Second)
	for _, r := range rs {
		if r.Status != 0 {
			t.Fatalf("%+v", r)
		}
	}
	testutil.Eventually(t, 3*time.Second, "one request at the SMSC", func() bool { sn.mu.Lock(); defer sn.mu.Unlock(); return len(sn.reqs) == 1 })
	testutil.Eventually(t, 3*time.Second, "two messages at the SMSC", func() bool { return e.sim.Stats().Messages == 2 })
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if len(sn.reqs) != 1 || sn.reqs[0] != "part one part three" || !sn.inc[0] {
		t.Fatalf("inspected %q incomplete %v", sn.reqs, sn.inc)
	}
}

func TestLongMessageBeyondWindow(t *testing.T) {
	var sn seen
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {}}, Peers: []*Peer{{SystemID: "acme", Window: 2}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{}, cfg, sn.inspector(""))
	e.waitReady()
	cl := e.dial(esme.Options{SystemID: "acme"})
	var raws [][]byte
	for i := byte(1); i <= 6; i++ {
		raws = append(raws, segment(1, 6, i, "x"))
	}
	rs := sendAll(t, cl, raws...).wait(t, 6, 3*time.Second)
	for _, r := range rs {
		if r.Status != 0 {
			t.Fatalf("%+v", r)
		}
	}
	if n := e.sim.Stats().Messages; n != 6 {
		t.Fatalf("SMSC got %d", n)
	}
}

func TestShutdownDecidesHeldSegments(t *testing.T) {
	var sn seen
	e := start(t, sim.Config{}, &Config{SegmentTimeout: time.Minute}, sn.inspector(""))
	cl := e.dial(esme.Options{})
	col := sendAll(t, cl, segment(3, 2, 1, "only the first"))
	testutil.Eventually(t, 2*time.Second, "one segment held", func() bool { e.srv.asm.mu.Lock(); defer e.srv.asm.mu.Unlock(); return e.srv.asm.held == 1 })
	go func() { _ = e.srv.Close() }()
	rs := col.wait(t, 1, 3*time.Second)
	if rs[0].Err == nil && rs[0].Status != 0 && rs[0].Status != pdu.StatusSysErr {
		t.Fatalf("%+v", rs[0])
	}
}
