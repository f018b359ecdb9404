package pipeline_test

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// FuzzInspect: any message the PDU parser accepts (MT or MO, receipts
// included) is inspected by the shipped policy without a panic or an
// error, and the verdict's action is one the proxy knows.
func FuzzInspect(f *testing.F) {
	policy, err := filepath.Abs("../../deploy/rules/default.yaml")
	if err != nil {
		f.Fatal(err)
	}
	engine, err := rules.NewEngine(policy, zap.NewNop(), nil)
	if err != nil {
		f.Fatal(err)
	}
	chain, err := pipeline.New(pipeline.Options{Engine: engine, Logger: zap.NewNop()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(chain.Close)
	f.Add(pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{SrcTON: 5, Src: "PAYPA1", DstTON: 1, Dst: "4915112345678",
		ShortMessage: []byte("Your account is locked, verify at http://paypa1.example/login")}), false)
	f.Add(pdu.AppendSM(nil, pdu.DeliverSM, 2, &pdu.SMFields{Src: "4915112345678", Dst: "12345", ESMClass: 4,
		ShortMessage: []byte("id:abc sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000 text:")}), true)
	f.Add(pdu.AppendSM(nil, pdu.DeliverSM, 3, &pdu.SMFields{Src: "1", Dst: "2", ESMClass: 4,
		TLVs: pdu.AppendTLV(nil, pdu.TagReceiptedMessageID, []byte("id\x00"))}), true)
	f.Add(pdu.AppendSM(nil, pdu.SubmitSM, 4, &pdu.SMFields{Src: "Shop", Dst: "900123", ESMClass: 0x40, DataCoding: 8,
		ShortMessage: []byte{5, 0, 3, 7, 2, 1, 0xd8, 0x3d, 0xde, 0x00}}), false)
	f.Fuzz(func(t *testing.T, raw []byte, mo bool) {
		if len(raw) < pdu.HeaderLen {
			return
		}
		binary.BigEndian.PutUint32(raw, uint32(len(raw)))
		var m pdu.Message
		if pdu.ParseMessage(pdu.PDU(raw), &m) != nil {
			return
		}
		r := filter.Request{Direction: filter.MT, Peer: "fuzz", PeerClass: "a2p", SystemID: "fuzz", Msg: &m}
		if mo {
			r.Direction = filter.MO
		}
		v, err := chain.Inspect(&r)
		if err != nil {
			t.Fatalf("inspect: %v", err)
		}
		if int(v.Action) >= filter.NumActions {
			t.Fatalf("unknown action %d", v.Action)
		}
	})
}
