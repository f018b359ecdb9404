package pdu

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func seedCorpus(f *testing.F) {
	f.Add(AppendSM(nil, SubmitSM, 1, submitFields()))
	f.Add(AppendSM(nil, DeliverSM, 2, &SMFields{Src: "1", Dst: "2", ESMClass: 4, ShortMessage: []byte("id:1 stat:DELIVRD"), TLVs: []byte{0, 0x1e, 0, 2, '1', 0}}))
	f.Add(AppendBind(nil, BindTransceiver, 3, BindFields{SystemID: "a", Password: "b"}))
	f.Add(AppendHeaderOnly(nil, EnquireLink, 0, 4))
	f.Add(AppendResp(nil, SubmitSM, 0, 5, "x"))
	b := NewBuilder(nil, SubmitMulti, 0, 6)
	b.CString("").Addr(0, 0, "1").Byte(2).Byte(1).Addr(1, 1, "2").Byte(2).CString("dl").
		Byte(0).Byte(0).Byte(0).CString("").CString("").Byte(0).Byte(0).Byte(0).Byte(0).SM(nil)
	f.Add(b.Done())
	f.Add(AppendSM(nil, SubmitSM, 7, &SMFields{Src: "1", Dst: "2", ESMClass: ESMUDHI, ShortMessage: []byte{5, 0, 3, 7, 2, 1, 'h'},
		TLVs: []byte{0x02, 0x0C, 0, 2, 0, 9, 0x02, 0x0E, 0, 1, 2, 0x02, 0x0F, 0, 1, 1}}))
}

// FuzzParse: no input panics any parser, every error carries a status, and
// a message ParseMessage accepts has no UDH/sar_* conflict.
func FuzzParse(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) < HeaderLen {
			return
		}
		binary.BigEndian.PutUint32(raw, uint32(len(raw)))
		p := PDU(raw)
		err := Validate(p)
		if err != nil && StatusOf(err) == StatusOK {
			t.Fatalf("error without status: %v", err)
		}
		var m Message
		if ParseMessage(p, &m) == nil {
			_ = m.Payload()
			m.SAR()
			if _, _, conflict := m.Concat(); conflict {
				t.Fatal("ParseMessage accepted a UDH/sar_* conflict")
			}
			it := m.Dests()
			for _, ok := it.Next(); ok; _, ok = it.Next() {
			}
			ti := m.TLVs.Iter()
			for _, _, ok := ti.Next(); ok; _, _, ok = ti.Next() {
			}
		}
		var r MessageResp
		_ = ParseMessageResp(p, &r)
		var q Query
		_ = ParseQuery(p, &q)
		var bd Bind
		_ = ParseBind(p, &bd)
	})
}

// FuzzReader: framing a hostile stream never panics nor returns a PDU
// whose length disagrees with its header.
func FuzzReader(f *testing.F) {
	seedCorpus(f)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream), 1024)
		for i := 0; i < 100; i++ {
			p, err := r.Next()
			if err != nil {
				return
			}
			if int(p.Len()) != len(p) || len(p) < HeaderLen || len(p) > 1024 {
				t.Fatalf("bad frame len %d header %d", len(p), p.Len())
			}
		}
	})
}
