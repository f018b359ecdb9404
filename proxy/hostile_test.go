package proxy

// Hostile input at a live proxy: thousands of malformed, truncated,
// wrong-state and unknown PDUs from several connections, while a good
// session keeps flowing. Each bad PDU must get the status
// ../shared/SMPP-NOTES.md asks for (or the connection is closed where the
// notes say so), and the process must stay up.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// expect is what a hostile PDU must get back.
type expect struct {
	none   bool          // no answer at all (responses, alert_notification)
	id     pdu.CommandID // response command id
	status pdu.Status
	anySt  bool // relayed: the SMSC's answer, whatever its status
}

type hostilePDU struct {
	name string
	raw  []byte // sequence number patched when sent
	want expect
}

// rawPDU builds a PDU from a header and a body, command_length set.
func rawPDU(id pdu.CommandID, body []byte) []byte {
	b := make([]byte, 16, 16+len(body))
	binary.BigEndian.PutUint32(b[4:], uint32(id))
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)))
	return b
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// smBody is a valid submit_sm body from source_addr onwards; pieces can be
// replaced to break one field.
func smBody(service, src, dst []byte, tail []byte) []byte {
	return cat(service, []byte{5, 0}, src, []byte{1, 1}, dst, tail)
}

// smTail: esm_class .. sm_default_msg_id, then sm_length and short_message.
func smTail(text string, tlvs []byte) []byte {
	return cat([]byte{0, 0, 0}, cstr(""), cstr(""), []byte{0, 0, 0, 0, byte(len(text))}, []byte(text), tlvs)
}

func respTo(id pdu.CommandID, st pdu.Status) expect { return expect{id: id.Resp(), status: st} }

func nack(st pdu.Status) expect { return expect{id: pdu.GenericNack, status: st} }

// hostileCatalogue is the fixed list of broken PDUs for a bound
// transceiver session.
func hostileCatalogue() []hostilePDU {
	long := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = '7'
		}
		return append(b, 0)
	}
	okTail := smTail("hi", nil)
	return []hostilePDU{
		{"source_addr without NUL", rawPDU(pdu.SubmitSM, cat(cstr(""), []byte{5, 0}, []byte("12345"))), respTo(pdu.SubmitSM, pdu.StatusInvSrcAdr)},
		{"source_addr overlong", rawPDU(pdu.SubmitSM, smBody(cstr(""), long(30), cstr("4915112345678"), okTail)), respTo(pdu.SubmitSM, pdu.StatusInvSrcAdr)},
		{"destination_addr overlong", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), long(40), okTail)), respTo(pdu.SubmitSM, pdu.StatusInvDstAdr)},
		{"destination_addr without NUL", rawPDU(pdu.SubmitSM, cat(cstr(""), []byte{5, 0}, cstr("Shop"), []byte{1, 1}, []byte("49151"))), respTo(pdu.SubmitSM, pdu.StatusInvDstAdr)},
		{"service_type overlong", rawPDU(pdu.SubmitSM, smBody(cstr("WAYTOOLONG"), cstr("Shop"), cstr("49151"), okTail)), respTo(pdu.SubmitSM, pdu.StatusInvSerTyp)},
		{"schedule_delivery_time overlong", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"),
			cat([]byte{0, 0, 0}, long(20), cstr(""), []byte{0, 0, 0, 0, 0}))), respTo(pdu.SubmitSM, pdu.StatusInvSched)},
		{"body ends before esm_class", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"), nil)), respTo(pdu.SubmitSM, pdu.StatusInvCmdLen)},
		{"sm_length beyond the body", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"),
			cat([]byte{0, 0, 0}, cstr(""), cstr(""), []byte{0, 0, 0, 0, 200}, []byte("short")))), respTo(pdu.SubmitSM, pdu.StatusInvMsgLen)},
		{"TLV length beyond the body", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"), smTail("hi", []byte{0x14, 0x01, 0x00, 0x40, 'x'}))), respTo(pdu.SubmitSM, pdu.StatusInvOptParStream)},
		{"TLV header cut short", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"), smTail("hi", []byte{0x02, 0x04, 0x00}))), respTo(pdu.SubmitSM, pdu.StatusInvOptParStream)},
		{"message_payload beside short_message", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"), smTail("hi", pdu.AppendTLV(nil, 0x0424, []byte("payload"))))), respTo(pdu.SubmitSM, pdu.StatusInvOptParamVal)},
		{"message_payload twice", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"), smTail("", cat(pdu.AppendTLV(nil, 0x0424, []byte("hello")), pdu.AppendTLV(nil, 0x0424, []byte("JACKPOT")))))), respTo(pdu.SubmitSM, pdu.StatusInvOptParamVal)},
		{"sar_segment_seqnum twice", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"), smTail("hi", cat(pdu.AppendTLV(nil, 0x020C, []byte{0, 1}), pdu.AppendTLV(nil, 0x020E, []byte{2}), pdu.AppendTLV(nil, 0x020F, []byte{1}), pdu.AppendTLV(nil, 0x020F, []byte{2}))))), respTo(pdu.SubmitSM, pdu.StatusInvOptParamVal)},
		{"UDH concatenation and sar_* TLVs", rawPDU(pdu.SubmitSM, smBody(cstr(""), cstr("Shop"), cstr("49151"), cat([]byte{0x40, 0, 0}, cstr(""), cstr(""), []byte{0, 0, 0, 0, 8}, []byte{5, 0, 3, 7, 2, 1, 'h', 'i'},
			pdu.AppendTLV(nil, 0x020C, []byte{0, 9}), pdu.AppendTLV(nil, 0x020E, []byte{2}), pdu.AppendTLV(nil, 0x020F, []byte{1})))), respTo(pdu.SubmitSM, pdu.StatusInvOptParamVal)},
		{"submit_multi without destinations", rawPDU(pdu.SubmitMulti, cat(cstr(""), []byte{5, 0}, cstr("Shop"), []byte{0}, okTail)), respTo(pdu.SubmitMulti, pdu.StatusInvNumDests)},
		{"submit_multi bad dest_flag", rawPDU(pdu.SubmitMulti, cat(cstr(""), []byte{5, 0}, cstr("Shop"), []byte{1, 3}, cstr("x"), okTail)), respTo(pdu.SubmitMulti, pdu.StatusInvDestFlag)},
		{"submit_multi dl_name overlong", rawPDU(pdu.SubmitMulti, cat(cstr(""), []byte{5, 0}, cstr("Shop"), []byte{1, 2}, long(30), okTail)), respTo(pdu.SubmitMulti, pdu.StatusInvDstAdr)},
		{"data_sm bad TLV", rawPDU(pdu.DataSM, cat(cstr(""), []byte{5, 0}, cstr("Shop"), []byte{1, 1}, cstr("49151"), []byte{0, 0, 0}, []byte{0x04, 0x24, 0xff, 0xff})), respTo(pdu.DataSM, pdu.StatusInvOptParStream)},
		{"data_sm truncated", rawPDU(pdu.DataSM, cat(cstr(""), []byte{5, 0}, cstr("Shop"))), respTo(pdu.DataSM, pdu.StatusInvCmdLen)},
		{"query_sm message_id without NUL", rawPDU(pdu.QuerySM, []byte("abcdef")), respTo(pdu.QuerySM, pdu.StatusInvMsgID)},
		{"query_sm trailing bytes", rawPDU(pdu.QuerySM, cat(cstr("1"), []byte{1, 1}, cstr("Shop"), []byte{9, 9})), respTo(pdu.QuerySM, pdu.StatusInvCmdLen)},
		{"cancel_sm truncated", rawPDU(pdu.CancelSM, cstr("")), respTo(pdu.CancelSM, pdu.StatusInvMsgID)},
		{"replace_sm message_id overlong", rawPDU(pdu.ReplaceSM, long(80)), respTo(pdu.ReplaceSM, pdu.StatusInvMsgID)},
		{"empty submit_sm body", rawPDU(pdu.SubmitSM, nil), respTo(pdu.SubmitSM, pdu.StatusInvSerTyp)},
		{"deliver_sm from a peer", pdu.AppendSM(nil, pdu.DeliverSM, 0, &pdu.SMFields{Src: "1", Dst: "2"}), respTo(pdu.DeliverSM, pdu.StatusInvBndSts)},
		{"bind on a bound session", pdu.AppendBind(nil, pdu.BindTransceiver, 0, pdu.BindFields{SystemID: "bad", Password: "pw"}), respTo(pdu.BindTransceiver, pdu.StatusAlyBnd)},
		{"unknown command id", rawPDU(0x00000777, nil), nack(pdu.StatusInvCmdID)},
		{"vendor command id", rawPDU(0x00010200, []byte("vendor body")), nack(pdu.StatusInvCmdID)},
		{"reserved command id", rawPDU(0x0000000A, nil), nack(pdu.StatusInvCmdID)},
		// outbind and alert_notification have no response PDU: refused and counted, never answered.
		{"outbind from a peer", rawPDU(pdu.Outbind, cat(cstr("x"), cstr("y"))), expect{none: true}},
		{"alert_notification from a peer", rawPDU(pdu.AlertNotification, cat([]byte{1, 1}, cstr("1"), []byte{1, 1}, cstr("2"))), expect{none: true}},
		{"generic_nack from a peer", pdu.AppendGenericNack(nil, pdu.StatusInvCmdID, 0), expect{none: true}},
		{"submit_sm_resp to nothing", pdu.AppendResp(nil, pdu.SubmitSM, 0, 0, "x"), expect{none: true}},
		{"deliver_sm_resp to nothing", pdu.AppendResp(nil, pdu.DeliverSM, 0, 0, ""), expect{none: true}},
		{"unknown response id", rawPDU(0x80000777, []byte{1, 2, 3}), expect{none: true}},
		{"enquire_link", pdu.AppendHeaderOnly(nil, pdu.EnquireLink, 0, 0), respTo(pdu.EnquireLink, pdu.StatusOK)},
		{"valid submit_sm", submit("good"), expect{id: pdu.SubmitSMResp, anySt: true}},
	}
}

// mutated is a valid submit_sm cut at a random point (command_length kept
// consistent), or with a random byte changed: the parser is the oracle for
// the status; what parses is relayed and gets the SMSC's answer.
func mutated(r *rand.Rand) hostilePDU {
	full := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{ServiceType: "CMT", SrcTON: 5, Src: "Shop", DstTON: 1, DstNPI: 1,
		Dst: "4915112345678", ShortMessage: []byte("mutation"), TLVs: pdu.AppendTLV(nil, 0x1401, []byte("vendor"))})
	var raw []byte
	if r.IntN(2) == 0 {
		raw = append([]byte(nil), full[:16+r.IntN(len(full)-16)]...)
	} else {
		raw = append([]byte(nil), full...)
		raw[16+r.IntN(len(raw)-16)] = byte(r.IntN(256))
	}
	fixLen(raw)
	var m pdu.Message
	if err := pdu.ParseMessage(raw, &m); err != nil {
		return hostilePDU{"mutated submit_sm", raw, respTo(pdu.SubmitSM, pdu.StatusOf(err))}
	}
	return hostilePDU{"mutated submit_sm (parses)", raw, expect{id: pdu.SubmitSMResp, anySt: true}}
}

// answer is one PDU read back on a hostile connection.
type answer struct {
	id  pdu.CommandID
	st  pdu.Status
	seq uint32
}

// reader collects every PDU the proxy sends on nc until it ends.
func readAll(nc net.Conn) (<-chan answer, <-chan error) {
	ch := make(chan answer, 4096)
	errc := make(chan error, 1)
	go func() {
		rd := pdu.NewReader(nc, 0)
		for {
			p, err := rd.Next()
			if err != nil {
				close(ch)
				errc <- err
				return
			}
			ch <- answer{p.ID(), p.Status(), p.Seq()}
		}
	}()
	return ch, errc
}

func TestHostileInput(t *testing.T) {
	checkHeap := heapGuard(t)
	cfg := &Config{MaxPDUSize: 4096, Upstreams: map[string]*Upstream{"smsc": {Window: 200}},
		Auth: AuthConfig{SourceLockout: LockoutConfig{Disabled: true}, SystemIDLockout: LockoutConfig{Disabled: true}},
		Peers: []*Peer{{SystemID: "good", Password: "pw"}, {SystemID: "bad", Password: "pw", Window: 20},
			{SystemID: "framer", Password: "pw"}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{Keep: -1}, cfg, nil)
	e.waitReady()

	// The good session submits and checks every answer until the flood ends.
	good := e.dial(esme.Options{SystemID: "good", Password: "pw"})
	floodDone := make(chan struct{})
	var goodOK atomic.Int64
	goodErr := make(chan error, 1)
	goodCtx, cancelGood := context.WithTimeout(context.Background(), time.Minute)
	defer cancelGood()
	go func() { // one context for the loop: ctx5s would keep a timer per call until the test ends
		for {
			select {
			case <-floodDone:
				goodErr <- nil
				return
			default:
			}
			r, err := good.Do(goodCtx, submit("legit"))
			if err != nil || r.Status != 0 {
				goodErr <- fmt.Errorf("good session: %v %+v", err, r)
				return
			}
			goodOK.Add(1)
		}
	}()

	var wg sync.WaitGroup
	run := func(name string, f func(t *testing.T)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, f) // subtests run in parallel goroutines of the parent
		}()
	}
	const conns, perConn = 4, 1000
	for i := 0; i < conns; i++ {
		seed := uint64(i)
		run(fmt.Sprintf("bound-%d", i), func(t *testing.T) { hostileSession(t, e.addr, seed, perConn) })
	}
	run("unbound", func(t *testing.T) { unboundSession(t, e.addr) })
	run("framing", func(t *testing.T) { framingAttacks(t, e.addr, 4096) })
	wg.Wait()
	// The good session kept flowing while all that happened.
	mid := goodOK.Load()
	close(floodDone)
	if err := <-goodErr; err != nil {
		t.Fatal(err)
	}
	if mid == 0 {
		t.Fatal("the good session completed nothing during the flood")
	}
	if r, err := good.Do(ctx5s(t), submit("after the flood")); err != nil || r.Status != 0 {
		t.Fatalf("after the flood: %v %+v", err, r)
	}
	t.Logf("good session: %d submits answered during the flood", mid)
	checkHeap(64 << 20)
}

// hostileSession binds as "bad" and sends perConn broken PDUs (the
// catalogue in a random order, and mutations), checking each answer.
func hostileSession(t *testing.T, addr string, seed uint64, perConn int) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	answers, _ := readAll(nc)
	if _, err := nc.Write(pdu.AppendBind(nil, pdu.BindTransceiver, 1, pdu.BindFields{SystemID: "bad", Password: "pw"})); err != nil {
		t.Fatal(err)
	}
	if a := <-answers; a.id != pdu.BindTransceiverResp || a.st != 0 {
		t.Fatalf("bind: %+v", a)
	}
	r := rand.New(rand.NewPCG(seed, 42))
	cat := hostileCatalogue()
	sent := make(map[uint32]hostilePDU, perConn)
	var expected int
	var stream []byte
	for i := 0; i < perConn; i++ {
		var h hostilePDU
		if i%3 == 2 {
			h = mutated(r)
		} else {
			h = cat[r.IntN(len(cat))]
		}
		seq := uint32(i + 2)
		raw := append([]byte(nil), h.raw...)
		pdu.PDU(raw).SetSeq(seq)
		sent[seq] = h
		if !h.want.none {
			expected++
		}
		stream = append(stream, raw...)
	}
	var wmu sync.Mutex // the stream writer and deliver_sm answers share nc
	write := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := nc.Write(b)
		return err
	}
	writeErr := make(chan error, 1)
	go func() {
		for len(stream) > 0 {
			n := min(len(stream), 2048)
			if err := write(stream[:n]); err != nil {
				writeErr <- err
				return
			}
			stream = stream[n:]
		}
		writeErr <- nil
	}()
	defer func() {
		if err := <-writeErr; err != nil {
			t.Error(err)
		}
	}()
	got := map[uint32]answer{}
	timeout := time.After(20 * time.Second)
	for len(got) < expected {
		select {
		case a, ok := <-answers:
			if !ok {
				t.Fatalf("connection closed after %d of %d answers", len(got), expected)
			}
			if a.id == pdu.DeliverSM { // receipts of mutated messages that asked for one
				if err := write(pdu.AppendResp(nil, pdu.DeliverSM, 0, a.seq, "")); err != nil {
					t.Fatal(err)
				}
				continue
			}
			h, known := sent[a.seq]
			switch {
			case !known:
				t.Fatalf("answer %+v to a sequence number never sent", a)
			case h.want.none:
				t.Fatalf("%s got an answer %+v; it must get none", h.name, a)
			}
			if _, dup := got[a.seq]; dup {
				t.Fatalf("%s answered twice", h.name)
			}
			got[a.seq] = a
			if a.id != h.want.id || !h.want.anySt && a.st != h.want.status {
				t.Fatalf("%s (seq %d): got %v %v, want %v %v", h.name, a.seq, a.id, a.st, h.want.id, h.want.status)
			}
		case <-timeout:
			missing := map[string]int{}
			for seq, h := range sent {
				if _, ok := got[seq]; !ok && !h.want.none {
					missing[h.name]++
				}
			}
			t.Fatalf("%d of %d answers; missing: %v", len(got), expected, missing)
		}
	}
	// Everything unanswered was meant to be: a final enquire_link is
	// answered after all of them were read.
	if err := write(pdu.AppendHeaderOnly(nil, pdu.EnquireLink, 0, 0xFFFF)); err != nil {
		t.Fatal(err)
	}
	for a := range answers {
		switch {
		case a.id == pdu.EnquireLinkResp && a.seq == 0xFFFF:
			return
		case a.id == pdu.DeliverSM:
			_ = write(pdu.AppendResp(nil, pdu.DeliverSM, 0, a.seq, ""))
		default:
			t.Fatalf("late answer %+v (%s)", a, sent[a.seq].name)
		}
	}
	t.Fatal("connection closed before the final enquire_link_resp")
}

// unboundSession sends requests before binding: 0x04 each, except
// enquire_link; then unbind closes it.
func unboundSession(t *testing.T, addr string) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	answers, _ := readAll(nc)
	reqs := []struct {
		raw  []byte
		want expect
	}{
		{submit("early"), respTo(pdu.SubmitSM, pdu.StatusInvBndSts)},
		{rawPDU(pdu.QuerySM, cat(cstr("1"), []byte{1, 1}, cstr("x"))), respTo(pdu.QuerySM, pdu.StatusInvBndSts)},
		{rawPDU(pdu.DataSM, nil), respTo(pdu.DataSM, pdu.StatusInvBndSts)},
		{pdu.AppendSM(nil, pdu.DeliverSM, 0, &pdu.SMFields{Src: "1", Dst: "2"}), respTo(pdu.DeliverSM, pdu.StatusInvBndSts)},
		{rawPDU(0x00000777, nil), nack(pdu.StatusInvCmdID)},
		{pdu.AppendHeaderOnly(nil, pdu.EnquireLink, 0, 0), respTo(pdu.EnquireLink, 0)},
		{rawPDU(pdu.BindTransceiver, cat([]byte("overlong-system-id-x"), []byte{0})), respTo(pdu.BindTransceiver, pdu.StatusInvSysID)},
		{pdu.AppendHeaderOnly(nil, pdu.Unbind, 0, 0), respTo(pdu.Unbind, 0)},
	}
	for i := 0; i < 50; i++ { // repeated, then unbind
		for j, rq := range reqs[:len(reqs)-1] {
			raw := append([]byte(nil), rq.raw...)
			seq := uint32(i*100 + j + 1)
			pdu.PDU(raw).SetSeq(seq)
			if _, err := nc.Write(raw); err != nil {
				t.Fatal(err)
			}
			a := <-answers
			if a.seq != seq || a.id != rq.want.id || a.st != rq.want.status {
				t.Fatalf("unbound request %d: %+v, want %v %v", j, a, rq.want.id, rq.want.status)
			}
		}
	}
	unbind := pdu.AppendHeaderOnly(nil, pdu.Unbind, 0, 9999)
	if _, err := nc.Write(unbind); err != nil {
		t.Fatal(err)
	}
	if a := <-answers; a.id != pdu.UnbindResp || a.seq != 9999 {
		t.Fatalf("unbind: %+v", a)
	}
	if a, ok := <-answers; ok {
		t.Fatalf("after unbind: %+v; want the connection closed", a)
	}
}

// framingAttacks: a command_length below 16 or above the cap gets
// generic_nack 0x02 with the header's sequence number, then the
// connection is closed; a PDU cut off by the peer's close gets nothing.
func framingAttacks(t *testing.T, addr string, maxPDU int) {
	header := func(length uint32, id pdu.CommandID, seq uint32) []byte {
		b := make([]byte, 16)
		binary.BigEndian.PutUint32(b[0:], length)
		binary.BigEndian.PutUint32(b[4:], uint32(id))
		binary.BigEndian.PutUint32(b[12:], seq)
		return b
	}
	// A peer of its own: the bad sessions' receipts go to any session of
	// theirs, and one could come before the nack.
	bound := pdu.AppendBind(nil, pdu.BindTransceiver, 1, pdu.BindFields{SystemID: "framer", Password: "pw"})
	for i := 0; i < 25; i++ {
		for _, c := range []struct {
			name  string
			bind  bool
			bytes []byte
		}{
			{"length 0", false, header(0, pdu.SubmitSM, 7)},
			{"length 15", true, header(15, pdu.SubmitSM, 7)},
			{"length cap+1", true, header(uint32(maxPDU+1), pdu.SubmitSM, 7)},
			{"length 0xFFFFFFFF", false, header(0xFFFFFFFF, pdu.BindTransceiver, 7)},
		} {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			answers, errc := readAll(nc)
			if c.bind {
				_, _ = nc.Write(bound)
				if a := <-answers; a.id != pdu.BindTransceiverResp || a.st != 0 {
					t.Fatalf("%s: bind %+v", c.name, a)
				}
			}
			_, _ = nc.Write(c.bytes)
			a, ok := <-answers
			if !ok || a.id != pdu.GenericNack || a.st != pdu.StatusInvCmdLen || a.seq != 7 {
				t.Fatalf("%s: %+v (open %v), want generic_nack 0x02 seq 7", c.name, a, ok)
			}
			if a, ok := <-answers; ok {
				t.Fatalf("%s: %+v after the nack; want the connection closed", c.name, a)
			}
			if err := <-errc; err != nil && !errors.Is(err, io.EOF) && !isNetErr(err) {
				t.Fatalf("%s: %v", c.name, err)
			}
			nc.Close()
		}
		// Cut off mid-PDU: the peer closes; nothing to answer, nothing breaks.
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		raw := submit("cut off")
		_, _ = nc.Write(raw[:len(raw)/2])
		nc.Close()
	}
}

func isNetErr(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}
