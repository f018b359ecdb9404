package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	fpdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

func submitFields() *SMFields {
	return &SMFields{
		ServiceType: "CMT", SrcTON: 5, SrcNPI: 0, Src: "MyBank",
		DstTON: 1, DstNPI: 1, Dst: "4915112345678",
		ESMClass: 0, RegisteredDelivery: 1, DataCoding: 0,
		ShortMessage: []byte("Your code is 123456"),
	}
}

func TestParseSubmitSM(t *testing.T) {
	// vendor TLV, sar TLVs and a zero-length TLV must all survive.
	var tl Builder
	tl.b = nil
	tl.TLV(0x1401, []byte{1, 2, 3}).TLV(TagSARMsgRefNum, []byte{0x12, 0x34}).
		TLV(TagSARTotalSegments, []byte{3}).TLV(TagSARSegmentSeqnum, []byte{2}).TLV(0x3FFF, nil)
	f := submitFields()
	f.TLVs = tl.b
	raw := AppendSM(nil, SubmitSM, 7, f)
	p := PDU(raw)
	if p.Len() != uint32(len(raw)) || p.ID() != SubmitSM || p.Seq() != 7 {
		t.Fatalf("header: %d %v %d", p.Len(), p.ID(), p.Seq())
	}
	var m Message
	if err := ParseMessage(p, &m); err != nil {
		t.Fatal(err)
	}
	if string(m.ServiceType) != "CMT" || string(m.Src.Addr) != "MyBank" || m.Src.TON != 5 ||
		string(m.Dst.Addr) != "4915112345678" || m.Dst.TON != 1 || m.Dst.NPI != 1 ||
		m.RegisteredDelivery != 1 || string(m.Payload()) != "Your code is 123456" {
		t.Fatalf("fields: %+v", m)
	}
	if !bytes.Equal(m.TLVs, tl.b) {
		t.Fatalf("TLVs not byte-exact")
	}
	ref, total, seq, ok := m.SAR()
	if !ok || ref != 0x1234 || total != 3 || seq != 2 {
		t.Fatalf("SAR = %x %d %d %v", ref, total, seq, ok)
	}
	var tags []uint16
	it := m.TLVs.Iter()
	for tag, _, ok := it.Next(); ok; tag, _, ok = it.Next() {
		tags = append(tags, tag)
	}
	want := []uint16{0x1401, TagSARMsgRefNum, TagSARTotalSegments, TagSARSegmentSeqnum, 0x3FFF}
	if len(tags) != len(want) {
		t.Fatalf("tags %x", tags)
	}
	for i := range want {
		if tags[i] != want[i] {
			t.Fatalf("tag order %x", tags)
		}
	}
	if err := Validate(p); err != nil {
		t.Fatal(err)
	}
}

// fiorix/go-smpp is an independent encoder: what it builds we must parse.
func TestParseFiorixSubmit(t *testing.T) {
	b := fpdu.NewSubmitSM(nil)
	f := b.Fields()
	f.Set(pdufield.SourceAddr, "12345")
	f.Set(pdufield.DestinationAddr, "4917612345678")
	f.Set(pdufield.DataCoding, 8)
	f.Set(pdufield.ShortMessage, []byte{0, 'H', 0, 'i'})
	f.Set(pdufield.RegisteredDelivery, 1)
	b.Header().Seq = 42
	var buf bytes.Buffer
	if err := b.SerializeTo(&buf); err != nil {
		t.Fatal(err)
	}
	var m Message
	p := PDU(buf.Bytes())
	if err := ParseMessage(p, &m); err != nil {
		t.Fatal(err)
	}
	if p.Seq() != 42 || string(m.Src.Addr) != "12345" || string(m.Dst.Addr) != "4917612345678" ||
		m.DataCoding != 8 || !bytes.Equal(m.ShortMessage, []byte{0, 'H', 0, 'i'}) || m.RegisteredDelivery != 1 {
		t.Fatalf("%+v", m)
	}
}

func TestParseDataSM(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 1000)
	b := NewBuilder(nil, DataSM, 0, 3)
	b.CString("").Addr(1, 1, "4915112345678").Addr(1, 1, "12345").Byte(0).Byte(1).Byte(0xF4).
		TLV(TagMessagePayload, payload).TLV(0x2000, []byte{9})
	var m Message
	if err := ParseMessage(PDU(b.Done()), &m); err != nil {
		t.Fatal(err)
	}
	if !m.HasMessagePayload() || !bytes.Equal(m.Payload(), payload) || m.DataCoding != 0xF4 || m.RegisteredDelivery != 1 {
		t.Fatalf("%+v", m)
	}
}

func TestParseSubmitMulti(t *testing.T) {
	b := NewBuilder(nil, SubmitMulti, 0, 9)
	b.CString("").Addr(5, 0, "Shop").Byte(3).
		Byte(1).Addr(1, 1, "111").Byte(2).CString("vips").Byte(1).Addr(1, 1, "333").
		Byte(0).Byte(0).Byte(0).CString("").CString("").Byte(0).Byte(0).Byte(0).Byte(0).SM([]byte("sale"))
	var m Message
	if err := ParseMessage(PDU(b.Done()), &m); err != nil {
		t.Fatal(err)
	}
	if m.NumDests != 3 || string(m.Dst.Addr) != "111" || string(m.Payload()) != "sale" {
		t.Fatalf("%+v", m)
	}
	var got []string
	it := m.Dests()
	for d, ok := it.Next(); ok; d, ok = it.Next() {
		if d.Flag == 1 {
			got = append(got, string(d.Addr.Addr))
		} else {
			got = append(got, "dl:"+string(d.DLName))
		}
	}
	if len(got) != 3 || got[0] != "111" || got[1] != "dl:vips" || got[2] != "333" {
		t.Fatalf("dests %q", got)
	}
}

func TestParseBindAndResp(t *testing.T) {
	raw := AppendBind(nil, BindTransceiver, 1, BindFields{SystemID: "kannel", Password: "secret", SystemType: "VMA", AddrTON: 1})
	var b Bind
	if err := ParseBind(PDU(raw), &b); err != nil {
		t.Fatal(err)
	}
	if string(b.SystemID) != "kannel" || string(b.Password) != "secret" || string(b.SystemType) != "VMA" || b.InterfaceVersion != 0x34 || b.AddrTON != 1 {
		t.Fatalf("%+v", b)
	}
	resp := NewBuilder(nil, BindTransceiverResp, 0, 1)
	resp.CString("SMSC").TLV(TagSCInterfaceVersion, []byte{0x34})
	var r BindResp
	if err := ParseBindResp(PDU(resp.Done()), &r); err != nil || string(r.SystemID) != "SMSC" {
		t.Fatalf("%v %+v", err, r)
	}
	if v, ok := r.TLVs.Get(TagSCInterfaceVersion); !ok || v[0] != 0x34 {
		t.Fatal("sc_interface_version")
	}
}

func TestMalformed(t *testing.T) {
	long := string(bytes.Repeat([]byte("1"), 21))
	cases := []struct {
		name   string
		raw    []byte
		status Status
		err    error
	}{
		{"source too long", AppendSM(nil, SubmitSM, 1, &SMFields{Src: long, Dst: "1"}), StatusInvSrcAdr, ErrTooLong},
		{"dest too long", AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: long}), StatusInvDstAdr, ErrTooLong},
		{"missing NUL", func() []byte { b := NewBuilder(nil, SubmitSM, 0, 1); b.Raw([]byte("CMT")); return b.Done() }(), StatusInvSerTyp, ErrMissingNUL},
		{"service_type too long", AppendSM(nil, SubmitSM, 1, &SMFields{ServiceType: "TOOLONG", Src: "1", Dst: "2"}), StatusInvSerTyp, ErrTooLong},
		{"cancel_sm service_type too long", func() []byte { b := NewBuilder(nil, CancelSM, 0, 1); b.CString("TOOLONG"); return b.Done() }(), StatusInvSerTyp, ErrTooLong},
		{"message_payload twice", AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2", TLVs: tlvs(TagMessagePayload, "a", TagMessagePayload, "b")}), StatusInvOptParamVal, ErrDuplicateTLV},
		{"data_sm message_payload twice", func() []byte {
			b := NewBuilder(nil, DataSM, 0, 1)
			b.CString("").Addr(1, 1, "1").Addr(1, 1, "2").Byte(0).Byte(0).Byte(0).TLV(TagMessagePayload, []byte("a")).TLV(0x1400, nil).TLV(TagMessagePayload, nil)
			return b.Done()
		}(), StatusInvOptParamVal, ErrDuplicateTLV},
		{"sar_msg_ref_num twice", AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2", TLVs: tlvs(TagSARMsgRefNum, "\x00\x01", TagSARMsgRefNum, "\x00\x02")}), StatusInvOptParamVal, ErrDuplicateTLV},
		{"sar_total_segments twice", AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2", TLVs: tlvs(TagSARTotalSegments, "\x02", TagSARTotalSegments, "\x03")}), StatusInvOptParamVal, ErrDuplicateTLV},
		{"sar_segment_seqnum twice", AppendSM(nil, DeliverSM, 1, &SMFields{Src: "1", Dst: "2", TLVs: tlvs(TagSARSegmentSeqnum, "\x01", TagSARSegmentSeqnum, "\x02")}), StatusInvOptParamVal, ErrDuplicateTLV},
		{"UDH concatenation and sar_*", AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2", ESMClass: ESMUDHI,
			ShortMessage: []byte{5, 0, 3, 7, 2, 1, 'h', 'i'}, TLVs: sarTLVs(9, 2, 1)}), StatusInvOptParamVal, ErrConcatConflict},
		{"UDH 16-bit concatenation and sar_* (deliver_sm)", AppendSM(nil, DeliverSM, 1, &SMFields{Src: "1", Dst: "2", ESMClass: ESMUDHI,
			ShortMessage: []byte{6, 8, 4, 0, 7, 2, 2, 'h', 'i'}, TLVs: sarTLVs(9, 2, 2)}), StatusInvOptParamVal, ErrConcatConflict},
		{"sm_length beyond body", func() []byte {
			raw := AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2", ShortMessage: []byte("abc")})
			raw[len(raw)-4] = 200
			return raw
		}(), StatusInvMsgLen, ErrTruncated},
		{"bad TLV length", func() []byte {
			b := NewBuilder(nil, SubmitSM, 0, 1)
			b.Raw(AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2"})[16:]).Raw([]byte{0x14, 0x01, 0x00, 0x09, 1})
			return b.Done()
		}(), StatusInvOptParStream, ErrBadTLV},
		{"payload and short_message", AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2", ShortMessage: []byte("a"), TLVs: []byte{0x04, 0x24, 0, 1, 'b'}}), StatusInvOptParamVal, ErrBadValue},
		{"zero dests", func() []byte {
			b := NewBuilder(nil, SubmitMulti, 0, 1)
			b.CString("").Addr(0, 0, "1").Byte(0)
			return b.Done()
		}(), StatusInvNumDests, ErrBadValue},
		{"bad dest flag", func() []byte {
			b := NewBuilder(nil, SubmitMulti, 0, 1)
			b.CString("").Addr(0, 0, "1").Byte(1).Byte(7)
			return b.Done()
		}(), StatusInvDestFlag, ErrBadValue},
		{"truncated", AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2"})[:26], StatusInvCmdLen, ErrTruncated},
		{"enquire_link with body", append(AppendHeaderOnly(nil, EnquireLink, 0, 1), 0), StatusInvCmdLen, ErrBadValue},
		{"unknown command", AppendHeaderOnly(nil, 0x00010200, 0, 1), StatusInvCmdID, ErrBadValue},
		{"system_id too long", AppendBind(nil, BindTransmitter, 1, BindFields{SystemID: "abcdefghijklmnopq"}), StatusInvSysID, ErrTooLong},
		{"password too long", AppendBind(nil, BindTransmitter, 1, BindFields{SystemID: "a", Password: "0123456789"}), StatusInvPaswd, ErrTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Fix up command_length after truncation so only the body is short.
			binary.BigEndian.PutUint32(c.raw, uint32(len(c.raw)))
			err := Validate(PDU(c.raw))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if st := StatusOf(err); st != c.status {
				t.Fatalf("status %v, want %v (%v)", st, c.status, err)
			}
		})
	}
}

// tlvs builds a TLV stream from tag, value pairs.
func tlvs(kv ...any) []byte {
	var b []byte
	for i := 0; i < len(kv); i += 2 {
		var tag uint16
		switch v := kv[i].(type) {
		case uint16:
			tag = v
		case int:
			tag = uint16(v)
		}
		b = AppendTLV(b, tag, []byte(kv[i+1].(string)))
	}
	return b
}

func sarTLVs(ref uint16, total, seq byte) []byte {
	return tlvs(TagSARMsgRefNum, string([]byte{byte(ref >> 8), byte(ref)}), TagSARTotalSegments, string([]byte{total}), TagSARSegmentSeqnum, string([]byte{seq}))
}

// What the duplicate and conflict checks must let through: one of each
// TLV, sar_* beside a UDH without a concatenation IE (ports: the SMSC and
// smsfw both assemble by sar_*), a UDH concatenation beside an incomplete
// sar_* set, and duplicates of TLVs smsfw does not read.
func TestTLVChecksAccept(t *testing.T) {
	cases := []struct {
		name string
		f    SMFields
		cat  Concat
		ok   bool
	}{
		{"sar alone", SMFields{Src: "1", Dst: "2", ShortMessage: []byte("hi"), TLVs: sarTLVs(9, 3, 2)}, Concat{Ref: 9, Total: 3, Part: 2}, true},
		{"udh alone", SMFields{Src: "1", Dst: "2", ESMClass: ESMUDHI, ShortMessage: []byte{5, 0, 3, 7, 2, 1, 'h'}}, Concat{Ref: 7, Total: 2, Part: 1, FromUDH: true}, true},
		{"udh ports and sar", SMFields{Src: "1", Dst: "2", ESMClass: ESMUDHI, ShortMessage: []byte{6, 5, 4, 0x0B, 0x84, 0x23, 0xF0, 'h'}, TLVs: sarTLVs(9, 2, 1)},
			Concat{Ref: 9, Total: 2, Part: 1}, true},
		{"udh concat and one sar TLV", SMFields{Src: "1", Dst: "2", ESMClass: ESMUDHI, ShortMessage: []byte{5, 0, 3, 7, 2, 2, 'h'}, TLVs: tlvs(TagSARMsgRefNum, "\x00\x01")},
			Concat{Ref: 7, Total: 2, Part: 2, FromUDH: true}, true},
		{"sar TLVs without UDHI", SMFields{Src: "1", Dst: "2", ShortMessage: []byte{5, 0, 3, 7, 2, 2, 'h'}, TLVs: sarTLVs(9, 2, 2)}, Concat{Ref: 9, Total: 2, Part: 2}, true},
		{"vendor TLV twice", SMFields{Src: "1", Dst: "2", TLVs: tlvs(0x1401, "a", 0x1401, "b", TagMessagePayload, "text")}, Concat{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m Message
			if err := ParseMessage(PDU(AppendSM(nil, SubmitSM, 1, &c.f)), &m); err != nil {
				t.Fatal(err)
			}
			got, ok, conflict := m.Concat()
			if got != c.cat || ok != c.ok || conflict {
				t.Fatalf("Concat() = %+v %v %v, want %+v %v false", got, ok, conflict, c.cat, c.ok)
			}
		})
	}
	var m Message
	if err := ParseMessage(PDU(AppendSM(nil, SubmitSM, 1, &SMFields{Src: "1", Dst: "2", TLVs: tlvs(0x1401, "a", TagMessagePayload, "text")})), &m); err != nil ||
		!m.HasMessagePayload() || string(m.Payload()) != "text" {
		t.Fatalf("payload: %v %q", err, m.Payload())
	}
}

func TestReaderFraming(t *testing.T) {
	var stream []byte
	stream = AppendHeaderOnly(stream, EnquireLink, 0, 1)
	big := NewBuilder(nil, DataSM, 0, 2)
	big.CString("").Addr(1, 1, "1").Addr(1, 1, "2").Byte(0).Byte(0).Byte(0).TLV(TagMessagePayload, bytes.Repeat([]byte{'z'}, 40000))
	bigRaw := big.Done()
	stream = append(stream, bigRaw...)
	stream = AppendHeaderOnly(stream, UnbindResp, 0, 3)
	r := NewReader(bytes.NewReader(stream), 0)
	for i, want := range []uint32{1, 2, 3} {
		p, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if p.Seq() != want {
			t.Fatalf("pdu %d seq %d", i, p.Seq())
		}
		if want == 2 && !bytes.Equal(p, bigRaw) {
			t.Fatal("large PDU not byte-exact")
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestReaderRejectsBadLength(t *testing.T) {
	for _, n := range []uint32{0, 15, DefaultMaxLen + 1, 0xFFFFFFFF} {
		h := AppendHeaderOnly(nil, SubmitSM, 0, 77)
		binary.BigEndian.PutUint32(h, n)
		_, err := NewReader(bytes.NewReader(h), 0).Next()
		var fe *FrameError
		if !errors.As(err, &fe) || fe.Seq != 77 || fe.ID != SubmitSM || StatusOf(err) != StatusInvCmdLen {
			t.Fatalf("len %d: %v", n, err)
		}
	}
	// Truncated stream: header claims more than arrives.
	h := AppendSM(nil, SubmitSM, 1, submitFields())
	_, err := NewReader(bytes.NewReader(h[:30]), 0).Next()
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v", err)
	}
}

func TestSetSeqOnlyChangesSeq(t *testing.T) {
	raw := AppendSM(nil, SubmitSM, 5, submitFields())
	orig := append([]byte(nil), raw...)
	PDU(raw).SetSeq(0x7FFFFFFF)
	if !bytes.Equal(raw[:12], orig[:12]) || !bytes.Equal(raw[16:], orig[16:]) || PDU(raw).Seq() != 0x7FFFFFFF {
		t.Fatal("SetSeq changed more than the sequence number")
	}
}

func TestResponses(t *testing.T) {
	var r MessageResp
	ok := AppendResp(nil, SubmitSM, StatusOK, 9, "abc123")
	if err := ParseMessageResp(PDU(ok), &r); err != nil || string(r.MessageID) != "abc123" || PDU(ok).ID() != SubmitSMResp {
		t.Fatalf("%v %+v", err, r)
	}
	fail := AppendResp(nil, SubmitSM, StatusThrottled, 9, "ignored")
	if len(fail) != HeaderLen || PDU(fail).Status() != StatusThrottled {
		t.Fatal("error response must be header-only")
	}
	multi := AppendResp(nil, SubmitMulti, StatusOK, 1, "m1")
	if err := ParseMessageResp(PDU(multi), &r); err != nil || r.NumUnsuccess != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	if Status(0x58).String() != "0x00000058" || !StatusThrottled.Temporary() || StatusSubmitFail.Temporary() {
		t.Fatal("status helpers")
	}
	if SubmitSMResp.String() != "submit_sm_resp" || GenericNack.String() != "generic_nack" || CommandID(0x1234).String() != "0x1234" {
		t.Fatal("names")
	}
}

func TestParseSubmitZeroAllocs(t *testing.T) {
	raw := AppendSM(nil, SubmitSM, 1, submitFields())
	var m Message
	n := testing.AllocsPerRun(1000, func() {
		if err := ParseMessage(PDU(raw), &m); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("ParseMessage allocates %.1f times", n)
	}
	stream := bytes.Repeat(raw, 1000)
	br := bytes.NewReader(stream)
	r := NewReader(br, 0)
	n = testing.AllocsPerRun(500, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("Reader.Next allocates %.1f times", n)
	}
}

func BenchmarkParseSubmitSM(b *testing.B) {
	raw := AppendSM(nil, SubmitSM, 1, submitFields())
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := ParseMessage(PDU(raw), &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReaderNext(b *testing.B) {
	raw := AppendSM(nil, SubmitSM, 1, submitFields())
	stream := bytes.Repeat(raw, 4096)
	br := bytes.NewReader(stream)
	r := NewReader(br, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := r.Next(); err != nil {
			br.Reset(stream)
			r = NewReader(br, 0)
		}
	}
}
