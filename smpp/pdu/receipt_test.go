package pdu

import (
	"strings"
	"testing"
	"time"
)

func TestRewriteReceiptID(t *testing.T) {
	r := &Receipt{MessageID: "UP123", Src: "4915112345678", Dst: "Shop", State: StateDelivered,
		Submitted: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Done: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)}
	raw := AppendReceipt(nil, 7, r)
	var m Message
	if err := ParseMessage(raw, &m); err != nil {
		t.Fatal(err)
	}
	out, ok := RewriteReceiptID(raw, &m, "UP123", "fw-000042")
	if !ok {
		t.Fatal("not rewritten")
	}
	var m2 Message
	if err := ParseMessage(out, &m2); err != nil {
		t.Fatalf("rewritten PDU does not parse: %v", err)
	}
	if out.Seq() != 7 || !m2.IsReceipt() || string(m2.Src.Addr) != "4915112345678" {
		t.Fatalf("header or fields changed: seq %d %+v", out.Seq(), m2)
	}
	if txt := string(m2.ShortMessage); !strings.HasPrefix(txt, "id:fw-000042 ") || strings.Contains(txt, "UP123") {
		t.Fatalf("text %q", txt)
	}
	if v, _ := m2.TLVs.Get(TagReceiptedMessageID); string(v) != "fw-000042\x00" {
		t.Fatalf("receipted_message_id %q", v)
	}
	// Other ids, MO messages and prefixes of ids are left alone.
	if _, ok := RewriteReceiptID(raw, &m, "UP12", "x"); ok {
		t.Fatal("a prefix of the id was rewritten")
	}
	mo := AppendSM(nil, DeliverSM, 1, &SMFields{Src: "1", Dst: "2", ShortMessage: []byte("id:UP123 hi")})
	var mm Message
	if err := ParseMessage(mo, &mm); err != nil {
		t.Fatal(err)
	}
	if _, ok := RewriteReceiptID(mo, &mm, "UP123", "x"); ok {
		t.Fatal("an MO was rewritten")
	}
}
