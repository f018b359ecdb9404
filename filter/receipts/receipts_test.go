package receipts_test

import (
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/receipts"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

func receipt(peer, id string) *filter.Facts {
	return &filter.Facts{Direction: "mo", Peer: peer, PeerClass: "a2p", Class: filter.ClassReceipt, Receipt: true,
		ReceiptID: id, Sender: "4915112345678", SenderKind: filter.KindNumber, Dest: "MyBank",
		Text: "id:" + id + " sub:001 dlvrd:001 stat:DELIVRD err:000", Segments: 1}
}

func fake(d *receipts.Detector, peer, id string, now int64) bool {
	var det filter.Detections
	d.Detect(receipt(peer, id), &det, now)
	if det != filter.Found("fake_receipt", det.Has(receipts.Fake)) {
		panic("other findings set")
	}
	return det.Has(receipts.Fake)
}

func TestReadings(t *testing.T) {
	for _, tc := range []struct {
		name              string
		accepted, receipt string
		fake              bool
	}{
		{"same decimal id", "123456789", "123456789", false},
		{"same text id", "msg-abc-1", "msg-abc-1", false},
		{"hex accepted, decimal receipt", "1A2B", "6699", false},
		{"decimal accepted, hex receipt", "6699", "1A2B", false},
		{"hex, case differs", "1a2b", "1A2B", false},
		{"leading zeros", "0000006699", "6699", false},
		{"long hex", "5F3C9A1B2D4E6F70", "6862529373720702832", false},
		{"uuid-like, exact", "550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440000", false},
		{"uuid-like, other", "550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440001", true},
		{"unknown decimal", "123456789", "123456790", true},
		{"unknown hex", "1A2B", "1A2C", true},
		{"text id, case differs", "msg-abc-1", "MSG-ABC-1", true},
		{"too long for 64 bits, exact", "FFFFFFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFFFFFF", false},
		{"too long for 64 bits, other", "FFFFFFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFFFFFE", true},
		// Both readings are tried on both sides: "10" read as hex is 16.
		{"ambiguous readings match", "10", "16", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := receipts.New(receipts.NewState(1000), 0)
			d.Observe("acme", []byte(tc.accepted), t0)
			if got := fake(d, "acme", tc.receipt, t0+int64(time.Minute)); got != tc.fake {
				t.Fatalf("accepted %q, receipt %q: fake=%v", tc.accepted, tc.receipt, got)
			}
		})
	}
}

func TestPeers(t *testing.T) {
	d := receipts.New(receipts.NewState(1000), time.Hour)
	d.Observe("acme", []byte("1A2B"), t0)
	if fake(d, "acme", "1A2B", t0) {
		t.Fatal("own id flagged")
	}
	for _, id := range []string{"1A2B", "6699", "1a2b"} {
		if !fake(d, "other", id, t0) {
			t.Fatalf("another peer's id %q accepted", id)
		}
	}
	if !fake(d, "", "1A2B", t0) {
		t.Fatal("empty peer accepted")
	}
}

// Accepted ids are remembered for the remember period (default 72h): the
// store is generational, so an id is certainly known for half of it and
// certainly forgotten once it is over.
func TestExpiry(t *testing.T) {
	for _, remember := range []time.Duration{0, time.Minute, 72 * time.Hour} {
		span := remember
		if span == 0 {
			span = 72 * time.Hour // the default
		}
		d := receipts.New(receipts.NewState(1000), remember)
		d.Observe("acme", []byte("1A2B"), t0)
		if fake(d, "acme", "6699", t0+int64(span)/2) {
			t.Fatalf("remember %v: forgotten by half the period", span)
		}
		if !fake(d, "acme", "6699", t0+int64(span)+1) {
			t.Fatalf("remember %v: remembered past the period", span)
		}
		if !fake(d, "acme", "1A2B", t0+2*int64(span)) {
			t.Fatalf("remember %v: remembered past twice the period", span)
		}
	}
	// Observing an id again keeps it known.
	d := receipts.New(receipts.NewState(1000), time.Hour)
	d.Observe("acme", []byte("43"), t0)
	d.Observe("acme", []byte("43"), t0+int64(30*time.Minute))
	if fake(d, "acme", "43", t0+int64(time.Hour)+1) {
		t.Fatal("id observed again forgotten")
	}
	// A long silence forgets everything.
	if !fake(d, "acme", "43", t0+int64(1000*time.Hour)) {
		t.Fatal("remembered after a long silence")
	}
}

// The state is shared by the detectors built on each reload: ids accepted
// before a reload stay known, also when the reload changes the period, and
// ids accepted after it use the new period.
func TestStateAcrossReload(t *testing.T) {
	st := receipts.NewState(1000)
	old := receipts.New(st, time.Hour)
	old.Observe("acme", []byte("776"), t0)
	same := receipts.New(st, time.Hour)
	if fake(same, "acme", "776", t0+int64(10*time.Minute)) {
		t.Fatal("id lost across a reload with the same period")
	}
	same.Observe("acme", []byte("777"), t0)
	cur := receipts.New(st, 10*time.Minute)
	if fake(cur, "acme", "777", t0+int64(20*time.Minute)) {
		t.Fatal("id lost across a reload that changed the period")
	}
	cur.Observe("acme", []byte("778"), t0+int64(20*time.Minute))
	if fake(cur, "acme", "778", t0+int64(21*time.Minute)) {
		t.Fatal("id observed after the reload unknown")
	}
	if !fake(cur, "acme", "778", t0+int64(30*time.Minute)+1) {
		t.Fatal("new remember period not used")
	}
}

func TestNotReceipts(t *testing.T) {
	d := receipts.New(receipts.NewState(100), 0)
	d.Observe("acme", nil, t0) // ignored
	d.Observe("acme", []byte{}, t0)
	var det filter.Detections
	// Not a receipt.
	f := receipt("acme", "999")
	f.Receipt, f.Class = false, filter.ClassMO
	d.Detect(f, &det, t0)
	// A receipt without an id is not judged.
	d.Detect(receipt("acme", ""), &det, t0)
	// MT message.
	f = receipt("acme", "999")
	f.Direction, f.Receipt, f.Class = "mt", false, filter.ClassA2P
	d.Detect(f, &det, t0)
	if det != (filter.Detections{}) {
		t.Fatalf("%+v", det)
	}
}

func TestName(t *testing.T) {
	if n := receipts.New(receipts.NewState(1), 0).Name(); n != "receipts" {
		t.Fatalf("Name() = %q", n)
	}
}

func TestConcurrent(t *testing.T) {
	d := receipts.New(receipts.NewState(10000), 0)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ids := []string{"1", "22", "333", "4444"}
			for i := 0; i < 500; i++ {
				d.Observe("acme", []byte(ids[i%4]), t0)
				var det filter.Detections
				d.Detect(receipt("acme", ids[i%4]), &det, t0)
				if det.Has(receipts.Fake) {
					done <- false
					return
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Fatal("own id flagged")
		}
	}
}

// A receipt for an unknown id while the peer has messages awaiting the
// SMSC's answer may have overtaken its submit_sm_resp: it is "early", not
// fake (the shipped policy refuses it temporarily); once nothing is in
// flight, the same receipt is fake.
func TestReceiptBeforeResponse(t *testing.T) {
	d := receipts.New(receipts.NewState(1000), time.Hour)
	f := receipt("acme", "777")
	f.AwaitingAnswers = true
	var det filter.Detections
	d.Detect(f, &det, t0)
	if det.Has(receipts.Fake) || !det.Has(receipts.Early) {
		t.Fatalf("early receipt: %+v", det)
	}
	d.Observe("acme", []byte("777"), t0)
	det = filter.Detections{}
	d.Detect(f, &det, t0)
	if det.Has(receipts.Fake) || det.Has(receipts.Early) {
		t.Fatalf("known id: %+v", det)
	}
	if !fake(d, "acme", "778", t0) {
		t.Fatal("unknown id with nothing in flight not fake")
	}
}
